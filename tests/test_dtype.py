"""Dtypes: the promotion table against PyTorch's rules, scalar (weak) promotion, to_dtype and its
errors, and the table in tinytorch/dtype.py's docstring staying true."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, dtypes
from tinytorch import dtype as D
from tinytorch.dtype import cast_scalar, promote, to_dtype

from .conftest import assert_close, assert_equal

PUBLIC = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]

# torch.promote_types, written out (torch is not a dependency).
_TORCH: dict[frozenset[str], str] = {}
for _a, _b in itertools.combinations_with_replacement(PUBLIC, 2):
    ia, ib = PUBLIC.index(_a), PUBLIC.index(_b)
    lo, hi = (_a, _b) if ia <= ib else (_b, _a)
    if lo == hi:
        r = lo
    elif lo == "bool":
        r = hi
    elif {lo, hi} == {"uint8", "int8"}:
        r = "int16"
    elif {lo, hi} == {"float16", "bfloat16"}:
        r = "float32"
    else:
        r = hi  # wider integer; any float beats any integer; wider float
    _TORCH[frozenset((_a, _b))] = r
# spot checks of the rule above against values quoted from torch's documentation
assert _TORCH[frozenset(("int64", "float16"))] == "float16"
assert _TORCH[frozenset(("uint8", "int32"))] == "int32"
assert _TORCH[frozenset(("bfloat16", "float32"))] == "float32"

PAIRS = list(itertools.product(PUBLIC, PUBLIC))


@pytest.mark.parametrize("a,b", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_promote_matches_torch(a: str, b: str) -> None:
    want = _TORCH[frozenset((a, b))]
    got = promote(to_dtype(a), to_dtype(b))
    assert got.name == want, f"promote({a}, {b}) = {got.name}, torch gives {want}"
    assert promote(to_dtype(b), to_dtype(a)) == got, "promotion must be symmetric"


def test_promotion_table_in_docstring_is_true() -> None:
    """The table in dtype.py's docstring is what promote() does (docs and code cannot drift)."""
    short = {"bool": "bool", "uint8": "uint8", "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
             "f16": "float16",
             "bf16": "bfloat16", "f32": "float32", "f64": "float64"}
    rows = [line for line in (D.__doc__ or "").splitlines() if line.startswith("|") and "---" not in line]
    header = [c.strip() for c in rows[0].strip("|").split("|")][1:]
    cols = [short[h] for h in header]
    checked = 0
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        a = cells[0]
        for b, cell in zip(cols, cells[1:]):
            if cell:
                assert promote(to_dtype(a), to_dtype(b)).name == short[cell], f"docstring says {a}+{b} -> {cell}"
                checked += 1
    assert checked == 55, f"the docstring table should have 55 filled cells, found {checked}"


def test_tensor_binary_ops_promote(device: str) -> None:
    for a, b in PAIRS:
        x = Tensor([1, 0], dtype=a, device=device)
        y = Tensor([1, 1], dtype=b, device=device)
        want = _TORCH[frozenset((a, b))]
        for name, out in [("add", x + y), ("mul", x * y), ("maximum", x.maximum(y)), ("where", tt.where(x > 0, x, y))]:
            assert out.dtype.name == want, f"{name}({a}, {b}) -> {out.dtype.name}, torch gives {want}"
        assert (x < y).dtype == dtypes.bool and (x == y).dtype == dtypes.bool


def test_mixed_dtype_values(device: str) -> None:
    i8 = Tensor(np.array([-3, 100, -128], np.int8), device=device)
    u8 = Tensor(np.array([200, 100, 255], np.uint8), device=device)
    s = i8 + u8
    assert s.dtype == dtypes.int16
    assert_equal(s, np.array([197, 200, 127], np.int16), "int8 + uint8", (3,), device)
    h = Tensor(np.array([1.5, 2049.0], np.float16), device=device)
    bf = Tensor(np.array([1.0078125, 3.0], np.float32), dtype=tt.bfloat16, device=device)
    m = h + bf
    assert m.dtype == dtypes.float32
    assert_close(m, np.array([2.5078125, 2048.0 + 3.0], np.float32), "f16 + bf16", (2,), device, rtol=0)
    big = Tensor(np.array([2 ** 40], np.int64), device=device) + Tensor(np.array([0.5], np.float32), device=device)
    assert big.dtype == dtypes.float32
    assert_close(big, np.array([2.0 ** 40], np.float32), "int64 + float32", (1,), device)


@pytest.mark.parametrize("tensor_dt,scalar,want", [
    ("int8", 1, "int8"), ("int8", 1.5, "float32"), ("uint8", 3, "uint8"), ("int32", True, "int32"),
    ("float16", 2.0, "float16"), ("float16", 2, "float16"), ("bfloat16", 0.5, "bfloat16"),
    ("float64", 1, "float64"), ("bool", 1, "int64"), ("bool", 1.5, "float32"), ("bool", True, "bool"),
    ("int64", 2.5, "float32"),
])
def test_python_scalars_are_weak(tensor_dt: str, scalar, want: str) -> None:
    """A Python scalar does not widen a tensor of the same category (torch's rule)."""
    x = Tensor([1, 0, 1], dtype=tensor_dt)
    for name, out in [("x+s", x + scalar), ("s+x", scalar + x), ("x*s", x * scalar), ("s*x", scalar * x),
                      ("maximum", x.maximum(scalar)), ("where", tt.where(x > 0, x, scalar)),
                      ("where_l", tt.where(x > 0, scalar, x))]:
        assert out.dtype.name == want, f"{tensor_dt} {name} {scalar!r}: {out.dtype.name}, torch gives {want}"


def test_division_and_other_dtype_rules(device: str) -> None:
    i = Tensor([7, -7], dtype="int32", device=device)
    assert (i / 2).dtype == dtypes.float32 and (i / i).dtype == dtypes.float32
    assert (i // 2).dtype == dtypes.int32 and (i % 3).dtype == dtypes.int32
    assert (Tensor([1.0], dtype="float16") / 3).dtype == dtypes.float16
    assert i.sum().dtype == dtypes.int64 and Tensor([True]).sum().dtype == dtypes.int64
    assert i.mean().dtype == dtypes.float32
    assert i.argmax().dtype == dtypes.int64
    assert i.float().exp().dtype == dtypes.float32 and i.exp().dtype == dtypes.float32
    assert Tensor([1.0], dtype="float16").sum().dtype == dtypes.float16
    assert Tensor([1], dtype="int8").cumsum(0).dtype == dtypes.int64
    assert (Tensor([1.0], dtype="float64") @ Tensor([2.0], dtype="float32")).dtype == dtypes.float64
    assert_close(i / 2, np.array([3.5, -3.5], np.float32), "int / int", (2,), device)


def test_defaults() -> None:
    assert dtypes.default_float == dtypes.float32 and dtypes.default_int == dtypes.int64
    assert Tensor([1, 2]).dtype == dtypes.int64
    assert Tensor([1.0]).dtype == dtypes.float32
    assert Tensor(np.array([1.0])).dtype == dtypes.float64  # an array keeps its dtype, like torch.from_numpy
    assert tt.from_numpy(np.zeros(2, np.float16)).dtype == dtypes.float16


@pytest.mark.parametrize("spec,want", [
    ("float32", "float32"), ("float", "float32"), ("double", "float64"), ("half", "float16"), ("long", "int64"),
    ("int", "int32"), ("bfloat16", "bfloat16"), ("bool", "bool"), (np.float16, "float16"), (np.dtype("uint8"), "uint8"),
    (np.int64, "int64"), (np.bool_, "bool"), (float, "float32"), (int, "int64"), (bool, "bool"),
    (dtypes.int8, "int8"), (tt.float64, "float64"), (dtypes.float32.vec(4), "float32"), (dtypes.int32.ptr(), "int32"),
])
def test_to_dtype_accepts(spec, want: str) -> None:
    assert to_dtype(spec).name == want


@pytest.mark.parametrize("spec,fragment", [
    ("float128", "unknown dtype 'float128'"), ("complex64", "unknown dtype"), ("int4", "unknown dtype 'int4'"),
    (np.float128, "float128"), (np.complex64, "complex64"), (object, "object"),
    ("", "unknown dtype"),
])
def test_to_dtype_rejects_with_clear_message(spec, fragment: str) -> None:
    with pytest.raises(TypeError) as info:
        to_dtype(spec)
    msg = str(info.value)
    assert fragment in msg, msg
    assert "float32" in msg, "the message lists the dtypes that would fit"


def test_to_dtype_rejects_none() -> None:
    with pytest.raises(TypeError):
        to_dtype(None)


@pytest.mark.parametrize("value,dt,want", [
    (300, "int8", 44), (-129, "int8", 127), (256, "uint8", 0), (-1, "uint8", 255), (2 ** 31, "int32", -2 ** 31),
    (1.9, "int32", 1), (-1.9, "int32", -1), (float("nan"), "int32", 0), (float("inf"), "int64", 0),
    (0.5, "bool", True), (0, "bool", False), (3, "float16", 3.0), (True, "int32", 1),
])
def test_cast_scalar(value, dt: str, want) -> None:
    got = cast_scalar(value, to_dtype(dt))
    assert got == want and type(got) is type(want)


def test_dtype_properties() -> None:
    assert [to_dtype(n).itemsize for n in PUBLIC] == [1, 1, 1, 2, 4, 8, 2, 2, 4, 8]
    assert dtypes.bfloat16.np == np.dtype("uint16")  # bf16 is stored as its upper 16 bits
    assert dtypes.int8.min == -128 and dtypes.int8.max == 127 and dtypes.uint8.max == 255
    assert dtypes.float32.min == -np.inf and dtypes.bool.max is True
    assert dtypes.float16.is_float and dtypes.int32.is_int and dtypes.bool.is_bool and not dtypes.bool.is_int
    assert repr(dtypes.float32) == "tinytorch.float32" and repr(dtypes.float32.vec(4)) == "tinytorch.float32x4"
    assert dtypes.float32.vec(4).scalar == dtypes.float32 and dtypes.float32.ptr().scalar == dtypes.float32
    assert tt.float32 is dtypes.float32 and tt.half is dtypes.float16 and tt.long is dtypes.int64
    # every public name in the module matches PUBLIC
    assert sorted(D.PUBLIC) == sorted(PUBLIC + ["uint16", "uint32", "uint64"])
    assert all(re.fullmatch(r"[a-z0-9]+", n) for n in D.PUBLIC)
