"""Data types and the promotion table.

Takes: Python scalars, numpy dtypes, dtype names.
Produces: `DType` objects (scalar, vector and pointer forms used by codegen) and
`promote(a, b)`, the result type of a binary op.

Promotion follows PyTorch's categories: bool < integers < floats. Within integers the
wider type wins, and uint8 with int8 -> int16; within floats the wider wins, and float16 with
bfloat16 -> float32. A Python scalar does not widen a
tensor of the same category: `int8_tensor + 1` stays int8, `half_tensor * 2.0` stays half,
`int_tensor * 0.5` becomes the default float (float32). A 0-d tensor follows the same rule
against a tensor with dims (`promote_operands`): float32[2] + float64[] stays float32, and
one of a higher category decides with its own dtype: int32[2] + float64[] -> float64.
uint16, uint32 and uint64 are storage types as in PyTorch: they promote only with themselves
and with floats; with another integer or bool type promotion raises DTypeError.

| a \\ b    | bool  | uint8 | int8  | int16 | int32 | int64 | f16  | bf16 | f32 | f64 |
|----------|-------|-------|-------|-------|-------|-------|------|------|-----|-----|
| bool     | bool  | uint8 | int8  | int16 | int32 | int64 | f16  | bf16 | f32 | f64 |
| uint8    |       | uint8 | int16 | int16 | int32 | int64 | f16  | bf16 | f32 | f64 |
| int8     |       |       | int8  | int16 | int32 | int64 | f16  | bf16 | f32 | f64 |
| int16    |       |       |       | int16 | int32 | int64 | f16  | bf16 | f32 | f64 |
| int32    |       |       |       |       | int32 | int64 | f16  | bf16 | f32 | f64 |
| int64    |       |       |       |       |       | int64 | f16  | bf16 | f32 | f64 |
| float16  |       |       |       |       |       |       | f16  | f32  | f32 | f64 |
| bfloat16 |       |       |       |       |       |       |      | bf16 | f32 | f64 |
| float32  |       |       |       |       |       |       |      |      | f32 | f64 |
| float64  |       |       |       |       |       |       |      |      |     | f64 |

`finfo`, `iinfo`, `promote_types`, `result_type`, `get_default_dtype` and `set_default_dtype`
answer as their PyTorch namesakes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DTypeError

_INTERNED: dict[tuple, DType] = {}
_F32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True, eq=True)
class DType:
    """An element type (tinytorch.float32, ...). There is one object per type (building one with equal fields
    returns it), so a DType hashes by identity: every graph node built hashes its dtype."""

    name: str  # "float32"
    itemsize: int  # bytes of one scalar
    kind: str  # "b" bool, "u" unsigned, "i" signed, "f" float
    priority: int  # order inside the promotion lattice
    count: int = 1  # >1 for a vector type (codegen only)
    is_ptr: bool = False  # pointer to `scalar` (codegen only)

    def __new__(cls, name: str, itemsize: int, kind: str, priority: int, count: int = 1,
                is_ptr: bool = False) -> DType:
        key = (name, itemsize, kind, priority, count, is_ptr)
        d = _INTERNED.get(key)
        if d is None:
            d = _INTERNED[key] = object.__new__(cls)
        return d

    def __reduce__(self) -> Any:  # copies and pickles come back as the interned object
        return (DType, (self.name, self.itemsize, self.kind, self.priority, self.count, self.is_ptr))

    def __repr__(self) -> str:
        """`tinytorch.float32`: PyTorch's spelling with our module name."""
        base = f"tinytorch.{self.name}"
        if self.count > 1:
            base += f"x{self.count}"
        return base + ("*" if self.is_ptr else "")

    @property
    def scalar(self) -> DType:
        return SCALARS[self.name]

    def vec(self, n: int) -> DType:
        return self if n == 1 else DType(self.name, self.itemsize, self.kind, self.priority, n)

    def ptr(self) -> DType:
        return DType(self.name, self.itemsize, self.kind, self.priority, 1, True)

    @property
    def is_float(self) -> bool:
        """A floating-point type."""
        return self.kind == "f"

    @property
    def is_floating_point(self) -> bool:
        """A floating-point type (PyTorch's name)."""
        return self.kind == "f"

    @property
    def is_signed(self) -> bool:
        """Holds negative values (PyTorch's name)."""
        return self.kind in "if"

    @property
    def is_complex(self) -> bool:
        """Always False: there are no complex types here."""
        return False

    @property
    def bits(self) -> int:
        """Bits of one scalar."""
        return self.itemsize * 8

    @property
    def is_int(self) -> bool:
        return self.kind in "ui"

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

    @property
    def np(self) -> np.dtype:
        # numpy has no bfloat16: we store it as the upper 16 bits, i.e. in a uint16 array
        return np.dtype("uint16") if self.name == "bfloat16" else np.dtype(self.name)

    @property
    def min(self) -> float | int | bool:
        if self.is_bool:
            return False
        if self.is_int:
            return int(np.iinfo(self.np).min)
        return -math.inf

    @property
    def max(self) -> float | int | bool:
        if self.is_bool:
            return True
        if self.is_int:
            return int(np.iinfo(self.np).max)
        return math.inf


DType.__hash__ = object.__hash__  # type: ignore[method-assign]  # interned: identity is equality


class dtypes:
    """The dtypes by name (dtypes.float32, ...), PyTorch's aliases, and the defaults new tensors take."""

    void = DType("void", 0, "v", -1)  # type of statements (STORE, SINK) in kernels
    bool = DType("bool", 1, "b", 0)
    uint8 = DType("uint8", 1, "u", 1)
    int8 = DType("int8", 1, "i", 2)
    int16 = DType("int16", 2, "i", 3)
    uint16 = DType("uint16", 2, "u", 4)  # uint16/32/64: storage types (PyTorch's limited support)
    int32 = DType("int32", 4, "i", 5)
    uint32 = DType("uint32", 4, "u", 6)
    int64 = DType("int64", 8, "i", 7)
    uint64 = DType("uint64", 8, "u", 8)
    float16 = DType("float16", 2, "f", 9)
    bfloat16 = DType("bfloat16", 2, "f", 10)
    float32 = DType("float32", 4, "f", 11)
    float64 = DType("float64", 8, "f", 12)
    # aliases with PyTorch's names
    half, float, double, int, long, short = float16, float32, float64, int32, int64, int16
    default_float = float32
    default_int = int64  # like torch: Tensor([1, 2]) is int64
    index = int64  # type of index arithmetic in kernels


SCALARS: dict[str, DType] = {
    d.name: d
    for d in (dtypes.void, dtypes.bool, dtypes.uint8, dtypes.int8, dtypes.int16, dtypes.uint16, dtypes.int32,
              dtypes.uint32, dtypes.int64, dtypes.uint64, dtypes.float16, dtypes.bfloat16, dtypes.float32,
              dtypes.float64)
}
PUBLIC = [n for n in SCALARS if n != "void"]
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32", "long": "int64",
            "short": "int16"}
_STORAGE_ONLY = ("uint16", "uint32", "uint64")  # promote only with themselves and floats, like PyTorch


# numpy dtypes and scalar types met so far (np.dtype.name runs Python code: ~10 us a lookup)
_FROM_NUMPY: dict[Any, DType] = {}


def to_dtype(x: Any) -> DType:
    """Accept a DType, a name ('float32'), a numpy dtype or a Python type."""
    if isinstance(x, DType):
        return x.scalar if x.count > 1 or x.is_ptr else x
    if isinstance(x, (np.dtype, type)) and (known := _FROM_NUMPY.get(x)) is not None:
        return known
    if x is None:
        raise TypeError(f"expected a dtype, got None; one of {PUBLIC}")
    if isinstance(x, str) and x.startswith(("tinytorch.", "torch.")):
        x = x.split(".", 1)[1]
    if x is bool:
        return dtypes.bool
    if x is int:
        return dtypes.default_int
    if x is float:
        return dtypes.default_float
    if isinstance(x, str):
        name = _ALIASES.get(x, x)
        if name in PUBLIC:
            return SCALARS[name]
        raise TypeError(f"unknown dtype {x!r}; expected one of {PUBLIC}")
    try:
        nd = np.dtype(x)
    except TypeError:
        raise TypeError(f"unknown dtype {x!r}; expected one of {PUBLIC}") from None
    if nd.name in PUBLIC:
        if isinstance(x, (np.dtype, type)):
            _FROM_NUMPY[x] = SCALARS[nd.name]
        return SCALARS[nd.name]
    raise TypeError(f"numpy dtype {nd} is not supported; expected one of {PUBLIC}")


def promote(a: DType, b: DType) -> DType:
    """Result dtype of a binary op between tensors of dtypes a and b (see the table above)."""
    if a == b:
        return a
    if a.priority > b.priority:
        a, b = b, a
    if (a.name in _STORAGE_ONLY or b.name in _STORAGE_ONLY) and not b.is_float:
        raise DTypeError(f"Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                         f"{a.name} and {b.name}; cast one of them first (.to(dtype))")
    if a.is_bool:
        return b
    if a.is_int and b.is_int:
        return dtypes.int16 if {a, b} == {dtypes.uint8, dtypes.int8} else b
    if a.is_float and b.is_float and {a, b} == {dtypes.float16, dtypes.bfloat16}:
        return dtypes.float32
    return b


def _category(d: DType) -> int:
    return 0 if d.is_bool else 1 if d.is_int else 2


def promote_operands(a: DType, a_0d: bool, b: DType, b_0d: bool) -> DType:
    """Result dtype of a binary op between tensors, given which of them are 0-d (PyTorch's rule):
    a 0-d tensor does not widen a tensor with dims of the same or a higher category; one of a
    higher category gives the result its category (promote(a, b), i.e. its own dtype)."""
    if a_0d == b_0d:
        return promote(a, b)
    dim, zero = (b, a) if a_0d else (a, b)
    return promote(dim, zero) if _category(zero) > _category(dim) else dim


def scalar_dtype(x: Any, other: DType) -> DType:
    """dtype a Python scalar takes when combined with a tensor of dtype `other`."""
    if isinstance(x, bool):
        return other
    if isinstance(x, int):
        return other if not other.is_bool else dtypes.default_int
    if isinstance(x, float):
        return other if other.is_float else dtypes.default_float
    raise TypeError(f"expected a Python number, got {type(x).__name__}")


def check_fits(x: Any, dt: DType) -> None:
    """PyTorch's check when a Python number is written into dtype dt (full, Tensor(data, dtype=...)):
    an integer dtype takes [min, max], an unsigned one also -max..-1 from an int (they wrap), never
    inf or NaN; float32/float64 take any value up to their largest finite magnitude, inf and NaN."""
    if dt.is_bool or isinstance(x, bool):
        return
    if type(x) is float and dt.kind == "f" and -_F32_MAX <= x <= _F32_MAX:  # (the common case, quickly)
        return
    if dt.is_int:
        lo = -int(dt.max) if dt.kind == "u" and isinstance(x, int) else dt.min
        ok = not (isinstance(x, float) and not math.isfinite(x)) and lo <= x <= dt.max
    else:
        ok = dt.name not in ("float32", "float64") or not math.isfinite(x) or abs(x) <= float(np.finfo(dt.np).max)
    if not ok:
        raise RuntimeError(f"value cannot be converted to type {dt.name} without overflow (got {x!r})")


def cast_scalar(x: Any, dt: DType) -> Any:
    """Python value of constant x stored in dtype dt."""
    if dt.is_bool:
        return bool(x)
    if dt.is_int:
        if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
            return 0
        v = int(x)
        bits = dt.itemsize * 8
        v &= (1 << bits) - 1
        if dt.kind == "i" and v >= 1 << (bits - 1):
            v -= 1 << bits
        return v
    return float(x)


def get_default_dtype() -> DType:
    """The dtype of float tensors made from Python floats (float32 unless set_default_dtype changed it)."""
    return dtypes.default_float


def set_default_dtype(d: Any) -> None:
    """Make `d` (float32 or float64, also float16/bfloat16) the dtype of new float tensors, like torch."""
    dt = to_dtype(d)
    if not dt.is_float:
        raise DTypeError(f"set_default_dtype: only floating-point types are supported as the default type, got {dt}")
    dtypes.default_float = dt


def promote_types(type1: Any, type2: Any) -> DType:
    """The smallest dtype both type1 and type2 convert to without losing their category (PyTorch's table)."""
    return promote(to_dtype(type1), to_dtype(type2))


def result_type(tensor1: Any, tensor2: Any) -> DType:
    """dtype of an arithmetic op between two tensors or numbers (Python numbers and 0-d tensors weaker)."""
    from .tensor import Tensor

    def info(x: Any) -> tuple[DType, int]:  # (dtype, strength: 2 a tensor with dims, 1 a 0-d tensor, 0 a number)
        if isinstance(x, Tensor):
            return x.dtype, 2 if x.ndim else 1
        if isinstance(x, (bool, int, float)):
            return (dtypes.bool if isinstance(x, bool) else dtypes.default_int if isinstance(x, int)
                    else dtypes.default_float), 0
        raise TypeError(f"result_type: expected a Tensor or a number, got {type(x).__name__}")
    (a, sa), (b, sb) = info(tensor1), info(tensor2)
    if sa == sb:
        return promote(a, b)
    strong, weak = ((a, b) if sa > sb else (b, a))
    return promote(strong, weak) if _category(weak) > _category(strong) else strong


class finfo:
    """Limits of a float dtype: bits, eps, max, min, tiny (smallest normal), smallest_normal, resolution."""

    def __init__(self, type: Any = None):  # noqa: A002  (PyTorch's argument name)
        dt = dtypes.default_float if type is None else to_dtype(type)
        if not dt.is_float:
            raise DTypeError(f"finfo: expected a floating-point dtype, got {dt}")
        self.dtype = dt
        self.bits = dt.itemsize * 8
        if dt == dtypes.bfloat16:  # 8 exponent bits, 7 mantissa bits
            self.eps, self.max, self.tiny, self.resolution = 2.0**-7, float.fromhex("0x1.fep127"), 2.0**-126, 0.01
        else:
            fi = np.finfo(dt.np)
            self.eps, self.max, self.tiny = float(fi.eps), float(fi.max), float(fi.tiny)
            self.resolution = 10.0 ** -int(fi.precision)
        self.min, self.smallest_normal = -self.max, self.tiny

    def __repr__(self) -> str:
        """The limits, in PyTorch's layout."""
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype.name})")


class iinfo:
    """Limits of an integer (or bool) dtype: bits, min, max."""

    def __init__(self, type: Any):  # noqa: A002  (PyTorch's argument name)
        dt = to_dtype(type)
        if dt.is_float:
            raise DTypeError(f"iinfo: expected an integer dtype, got {dt}; use finfo for floats")
        self.dtype, self.bits = dt, dt.itemsize * 8
        self.min, self.max = int(dt.min), int(dt.max)

    def __repr__(self) -> str:
        """The limits, in PyTorch's layout."""
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype.name})"
