"""The op table: one entry per Tensor op, driving forward (and, later, gradient) tests.

Each `OpSpec` names the op, gives our Tensor lambda and a numpy reference, the input shapes,
the sampling domain of each input, and flags:
- `grad`: differentiable (the gradient tests of the autograd issue iterate over these);
- `ints` / `bools`: also valid on integer / bool tensors (results compared exactly);
- `lowp`: also run in float16, bfloat16 and float64;
- `out`: the rule for the result dtype (PyTorch's): "same", "bool", "float" (ints -> float32),
  "index" (int64), "sum" (ints and bool -> int64), or a DType;
- `atol_eps`: an absolute floor of atol_eps * eps(dtype) * max(1, |input|) for ops that
  cancel near zero (sin near pi, tanh near 0, a - floor(a/b)*b, ...); `atol`: a fixed floor
  for approximations with a documented absolute error (erf: 1.5e-7);
- `rtol_mult` / `lowp_mult`: headroom for ops composed of several rounded steps.

A new op gets one line here and is covered on every device and dtype at once.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special

import tinytorch as tt
from tinytorch import Tensor, dtypes
from tinytorch.dtype import DType

FLOATS = (dtypes.float32, dtypes.float16, dtypes.bfloat16, dtypes.float64)
INTS = (dtypes.int8, dtypes.uint8, dtypes.int32, dtypes.int64)
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, np.inf, -np.inf, np.nan, 1e-30, -1e30, 100.0, -100.0])


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable[..., Any]  # our op, on Tensors
    ref: Callable[..., Any] | None = None  # numpy reference on float64 (or int) arrays; None: fn works on numpy too
    shapes: tuple[tuple[int, ...], ...] = ((4, 7),)
    domain: str | tuple[str, ...] = "real"
    grad: bool = True
    ints: bool = False
    bools: bool = False
    floats: bool = True
    lowp: bool = True
    out: Any = "same"
    atol_eps: float = 0.0
    atol: float = 0.0
    rtol_mult: float = 1.0
    lowp_mult: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)
    kind: str = "math"  # math | reduce | move | linalg (set by the table's sections)
    xfail: dict[str, str] = field(default_factory=dict)  # "DEVICE/dtype" glob -> known bug
    crash: dict[str, str] = field(default_factory=dict)  # same, for bugs that kill the process: not run

    def domains(self) -> tuple[str, ...]:
        d = self.domain
        return d if isinstance(d, tuple) else (d,) * len(self.shapes)

    def reference(self) -> Callable[..., Any]:
        return self.ref if self.ref is not None else self.fn

    def dtypes(self) -> list[DType]:
        """The dtypes this entry runs on. float32 always; to keep the suite fast the others
        rotate: ONE of float64 / float16 / bfloat16, int32 (not for pure data movement) and ONE
        of int8 / uint8 / int64, chosen by a stable hash of the name, so that across the table
        every dtype meets every kind of op. TT_ALL_DTYPES=1 runs every valid dtype."""
        if os.environ.get("TT_ALL_DTYPES"):
            return self.all_dtypes()
        h = zlib.crc32(self.name.encode())
        out: list[DType] = []
        if self.floats:
            out.append(dtypes.float32)
            out.append((dtypes.float64, dtypes.float16, dtypes.bfloat16)[h % 3] if self.lowp else dtypes.float64)
        if self.ints:
            if self.kind != "move" or not self.floats:
                out.append(dtypes.int32)
            out.append((dtypes.int8, dtypes.uint8, dtypes.int64)[(h >> 2) % 3])
        if self.bools:
            out.append(dtypes.bool)
        return out

    def all_dtypes(self) -> list[DType]:
        """Every dtype the entry is valid for (HYPOTHESIS_PROFILE=dev / TT_ALL_DTYPES=1 runs them all)."""
        out: list[DType] = []
        if self.floats:
            out += list(FLOATS) if self.lowp else [dtypes.float32, dtypes.float64]
        if self.ints:
            out += list(INTS)
        if self.bools:
            out.append(dtypes.bool)
        return out

    def primary_dtype(self) -> DType:
        return self.dtypes()[0] if not self.floats else dtypes.float32

    def out_dtype(self, dt: DType) -> DType:
        o = self.out
        if isinstance(o, DType):
            return o
        if o == "same":
            return dt
        if o == "bool":
            return dtypes.bool
        if o == "float":
            return dt if dt.is_float else dtypes.float32
        if o == "index":
            return dtypes.int64
        if o == "sum":
            return dtypes.int64 if (dt.is_int or dt.is_bool) else dt
        raise ValueError(o)


# sampling --------------------------------------------------------------------------------------
def bf16_round(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    bits = np.ascontiguousarray(a, np.float32).view(np.uint32).astype(np.uint64)
    r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).reshape(np.shape(a))


def round_to(a: np.ndarray, dt: DType) -> np.ndarray:
    """The values a tensor of dtype dt stores for a (as a numpy array of dt, or float32 for bf16)."""
    if dt == dtypes.bfloat16:
        return bf16_round(np.asarray(a, np.float32))
    return np.asarray(a).astype(dt.np)


_INT_RANGES = {"real": (-5, 5), "pos": (1, 5), "nonzero": (1, 5), "unit": (-1, 1), "grid": (-3, 3),
               "halves": (-3, 3), "small": (1, 2), "wide": (-20, 20), "special": (-5, 5), "bool": (0, 1)}


def sample(domain: str, shape: tuple[int, ...], dt: DType, rng: np.random.Generator) -> np.ndarray:
    if dt.is_bool or domain == "bool":
        a = rng.random(shape) < 0.5
        return a if dt.is_bool else a.astype(dt.np if dt != dtypes.bfloat16 else np.float32)
    if dt.is_int:
        lo, hi = _INT_RANGES[domain]
        if dt.kind == "u":
            lo, hi = max(lo, 0), max(hi, 1) if domain not in ("real", "wide") else hi - lo
        a = rng.integers(lo, hi + 1, shape)
        if domain == "nonzero" and dt.kind == "i":
            a = a * rng.choice([-1, 1], shape)
        return a.astype(dt.np)
    if domain == "real":
        a = rng.uniform(-3, 3, shape)
    elif domain == "pos":
        a = rng.uniform(0.1, 4, shape)
    elif domain == "nonzero":
        a = rng.uniform(0.3, 3, shape) * rng.choice([-1, 1], shape)
    elif domain == "unit":
        a = rng.uniform(-0.9, 0.9, shape)
    elif domain == "grid":
        a = rng.integers(-3, 4, shape).astype(np.float64)
    elif domain == "halves":
        a = rng.integers(-8, 9, shape) * 0.5
    elif domain == "small":
        a = rng.uniform(0.5, 1.5, shape)
    elif domain == "wide":
        a = rng.uniform(-20, 20, shape)
    elif domain == "special":
        a = rng.choice(SPECIAL, shape)
    else:
        raise ValueError(domain)
    return round_to(np.asarray(a), dt)


def seed_for(*parts: Any) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


# helpers used by entries -----------------------------------------------------------------------
def idx(x: Any, data: Any) -> Any:
    """An integer index tensor on x's device (numpy array when x is numpy)."""
    return Tensor(np.asarray(data), device=x.device) if isinstance(x, Tensor) else np.asarray(data)


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def np_gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + scipy.special.erf(x / np.sqrt(2)))


def np_gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def np_softplus(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def np_round(x: np.ndarray) -> np.ndarray:
    return np.round(x)  # numpy rounds half to even, like torch


def np_pad(x: np.ndarray, pads: tuple[int, ...], value: float = 0.0) -> np.ndarray:
    """torch.nn.functional.pad order: (last_left, last_right, prev_left, prev_right, ...)."""
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        pairs[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    crop = tuple(slice(max(0, -b), x.shape[d] - max(0, -e)) for d, (b, e) in enumerate(pairs))
    x = x[crop]
    return np.pad(x, [(max(0, b), max(0, e)) for b, e in pairs], constant_values=value)


def np_var(x: np.ndarray, axis: Any = None, keepdims: bool = False, ddof: int = 1) -> np.ndarray:
    return np.var(x, axis=axis, keepdims=keepdims, ddof=ddof)


def np_argmax(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    r = np.argmax(x, axis=axis)
    return np.expand_dims(r, axis) if keepdims and axis is not None else r


def np_argmin(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    r = np.argmin(x, axis=axis)
    return np.expand_dims(r, axis) if keepdims and axis is not None else r


def np_split(x: np.ndarray, size: int, axis: int) -> tuple[np.ndarray, ...]:
    n = x.shape[axis]
    return tuple(np.split(x, list(range(size, n, size)), axis=axis))


def np_sum(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    dt = np.int64 if x.dtype.kind in "biu" else None
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=dt)


def np_cumsum(x: np.ndarray, axis: int) -> np.ndarray:
    dt = np.int64 if x.dtype.kind in "biu" else None
    return np.cumsum(x, axis=axis, dtype=dt)


def np_prod(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    dt = np.int64 if x.dtype.kind in "biu" else None
    return np.prod(x, axis=axis, keepdims=keepdims, dtype=dt)


def np_mean(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.mean(x.astype(np.float64), axis=axis, keepdims=keepdims)


# known core bugs (codegen / runtime), reported with minimal repros; the cases xfail strictly
BUG_HALF_CAST = ("core: INTERP computes float16/bfloat16 values in float32 and its CAST to them does not round, "
                 "so x.half().float() == x on INTERP")

S3 = (3, 4, 5)
B2 = ((4, 7), (4, 7))

# the table -------------------------------------------------------------------------------------
OPS: list[OpSpec] = [
    # --- unary arithmetic -------------------------------------------------------------------
    OpSpec("neg", lambda x: -x, ints=True),
    OpSpec("neg_method", lambda x: x.neg(), lambda x: -x, ints=True),
    OpSpec("pos", lambda x: +x, ints=True),
    OpSpec("abs", lambda x: x.abs(), np.abs, ints=True, bools=True, domain="grid"),
    OpSpec("abs_builtin", lambda x: abs(x), np.abs, ints=True),
    OpSpec("sign", lambda x: x.sign(), np.sign, domain="grid", grad=False, ints=True),
    OpSpec("reciprocal", lambda x: x.reciprocal(), lambda x: 1 / x, domain="nonzero", ints=True, out="float"),
    OpSpec("sqrt", lambda x: x.sqrt(), np.sqrt, domain="pos", ints=True, out="float"),
    OpSpec("rsqrt", lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), domain="pos", out="float", rtol_mult=2),
    OpSpec("exp", lambda x: x.exp(), np.exp, ints=True, out="float", rtol_mult=2),
    OpSpec("exp_wide", lambda x: x.exp(), np.exp, domain="wide", rtol_mult=4, lowp=False),
    OpSpec("exp2", lambda x: x.exp2(), np.exp2, ints=True, out="float"),
    OpSpec("log", lambda x: x.log(), np.log, domain="pos", ints=True, out="float", atol_eps=4),
    OpSpec("log2", lambda x: x.log2(), np.log2, domain="pos", ints=True, out="float", atol_eps=4),
    OpSpec("sin", lambda x: x.sin(), np.sin, ints=True, out="float", atol_eps=4),
    OpSpec("cos", lambda x: x.cos(), np.cos, ints=True, out="float", atol_eps=4),
    OpSpec("tan", lambda x: x.tan(), np.tan, domain="unit", out="float", atol_eps=4, rtol_mult=3),
    OpSpec("tanh", lambda x: x.tanh(), np.tanh, out="float", atol_eps=8),
    OpSpec("tanh_wide", lambda x: x.tanh(), np.tanh, domain="wide", out="float", atol_eps=8, lowp=False),
    OpSpec("sigmoid", lambda x: x.sigmoid(), np_sigmoid, ints=True, out="float", rtol_mult=2),
    OpSpec("sigmoid_wide", lambda x: x.sigmoid(), np_sigmoid, domain="wide", rtol_mult=4, lowp=False),
    OpSpec("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), ints=True),
    OpSpec("leaky_relu", lambda x: x.leaky_relu(), lambda x: np.where(x < 0, 0.01 * x, x)),
    OpSpec("leaky_relu_slope", lambda x: x.leaky_relu(0.2), lambda x: np.where(x < 0, 0.2 * x, x)),
    OpSpec("elu", lambda x: x.elu(), lambda x: np.where(x > 0, x, np.expm1(x)), atol_eps=4, rtol_mult=2),
    OpSpec("elu_alpha", lambda x: x.elu(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), atol_eps=4,
           rtol_mult=2),
    OpSpec("gelu", lambda x: x.gelu(), np_gelu, atol=3e-7, atol_eps=4, rtol_mult=2),
    OpSpec("gelu_tanh", lambda x: x.gelu(approximate="tanh"), np_gelu_tanh, atol_eps=8, rtol_mult=2),
    OpSpec("silu", lambda x: x.silu(), lambda x: x * np_sigmoid(x), rtol_mult=2),
    OpSpec("softplus", lambda x: x.softplus(), np_softplus, rtol_mult=2, atol_eps=2),
    OpSpec("softplus_wide", lambda x: x.softplus(), np_softplus, domain="wide", rtol_mult=4, lowp=False),
    OpSpec("softplus_beta", lambda x: x.softplus(beta=2.0, threshold=5.0),
           lambda x: np_softplus(x, 2.0, 5.0), rtol_mult=2, atol_eps=2),
    OpSpec("erf", lambda x: x.erf(), scipy.special.erf, out="float", atol=1.5e-7, atol_eps=4),
    OpSpec("square", lambda x: x * x, ints=True),
    OpSpec("trunc", lambda x: x.trunc(), np.trunc, domain="halves", grad=False, ints=True),
    OpSpec("floor", lambda x: x.floor(), np.floor, domain="halves", grad=False, ints=True),
    OpSpec("ceil", lambda x: x.ceil(), np.ceil, domain="halves", grad=False, ints=True),
    OpSpec("round", lambda x: x.round(), np_round, domain="halves", grad=False),
    OpSpec("isnan", lambda x: x.isnan(), np.isnan, domain="special", grad=False, out="bool", lowp=False),
    OpSpec("isinf", lambda x: x.isinf(), np.isinf, domain="special", grad=False, out="bool", lowp=False),
    OpSpec("isfinite", lambda x: x.isfinite(), np.isfinite, domain="special", grad=False, out="bool", lowp=False),
    OpSpec("clamp", lambda x: x.clamp(-1, 1.5), lambda x: np.clip(x, -1, 1.5)),
    OpSpec("clamp_min", lambda x: x.clamp(min=0.5), lambda x: np.maximum(x, 0.5)),
    OpSpec("clamp_max", lambda x: x.clamp(max=-0.5), lambda x: np.minimum(x, -0.5)),
    OpSpec("clip", lambda x: x.clip(0, 2), lambda x: np.clip(x, 0, 2), ints=True),
    OpSpec("clamp_tensor", lambda x, lo, hi: x.clamp(lo, hi), lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
           shapes=((4, 7), (4, 1), (7,)), domain=("real", "real", "pos")),
    # --- casts ------------------------------------------------------------------------------
    OpSpec("cast_int32", lambda x: x.int(), lambda x: x.astype(np.int32), grad=False, out=dtypes.int32,
           ints=True, bools=True),
    OpSpec("cast_int64", lambda x: x.long(), lambda x: x.astype(np.int64), grad=False, out=dtypes.int64,
           ints=True, bools=True),
    OpSpec("cast_int8", lambda x: x.cast(tt.int8), lambda x: x.astype(np.int8), grad=False, out=dtypes.int8,
           ints=True, bools=True),
    OpSpec("cast_uint8", lambda x: x.cast("uint8"), lambda x: x.astype(np.uint8), domain="pos", grad=False,
           out=dtypes.uint8, ints=True, bools=True),
    OpSpec("cast_float", lambda x: x.float(), lambda x: x, out=dtypes.float32, ints=True, bools=True),
    OpSpec("cast_half", lambda x: x.half(), lambda x: x.astype(np.float16), out=dtypes.float16, ints=True,
           bools=True),
    OpSpec("cast_bfloat16", lambda x: x.cast(tt.bfloat16), lambda x: bf16_round(x.astype(np.float32)),
           out=dtypes.bfloat16, ints=True, bools=True),
    OpSpec("cast_double", lambda x: x.double(), lambda x: x, out=dtypes.float64, ints=True, bools=True),
    OpSpec("cast_bool", lambda x: x.bool(), lambda x: x != 0, domain="grid", grad=False, out="bool", ints=True,
           bools=True),
    OpSpec("cast_roundtrip", lambda x: x.half().float(), lambda x: x.astype(np.float16).astype(np.float32),
           out=dtypes.float32, lowp=False),
    OpSpec("cast_roundtrip_bf16", lambda x: x.cast(tt.bfloat16).float(), lambda x: bf16_round(x.astype(np.float32)),
           out=dtypes.float32, lowp=False),
    # --- binary arithmetic (same shapes, broadcasting, scalars, reflected) --------------------
    OpSpec("add", lambda x, y: x + y, shapes=B2, ints=True, bools=True),
    OpSpec("add_method_alpha", lambda x, y: x.add(y, alpha=2), lambda x, y: x + 2 * y, shapes=B2, ints=True),
    OpSpec("add_bcast", lambda x, y: x + y, shapes=((4, 1), (1, 7)), ints=True),
    OpSpec("add_bcast_rank", lambda x, y: x + y, shapes=((3, 1, 5), (4, 1)), ints=True),
    OpSpec("add_scalar_tensor", lambda x, y: x + y, shapes=((), (4, 7)), ints=True),
    OpSpec("sub", lambda x, y: x - y, shapes=B2, ints=True),
    OpSpec("sub_bcast", lambda x, y: x - y, shapes=((7,), (4, 7)), ints=True),
    OpSpec("mul", lambda x, y: x * y, shapes=B2, ints=True, bools=True),
    OpSpec("mul_bcast", lambda x, y: x * y, shapes=((2, 3, 1), (1, 5)), ints=True),
    OpSpec("div", lambda x, y: x / y, shapes=B2, domain=("real", "nonzero"), ints=True, out="float"),
    OpSpec("div_method", lambda x, y: x.div(y), lambda x, y: x / y, shapes=B2, domain=("real", "nonzero")),
    OpSpec("div_floor_mode", lambda x, y: x.div(y, rounding_mode="floor"), np.floor_divide, shapes=B2,
           domain=("real", "nonzero"), grad=False, ints=True, atol_eps=4),
    OpSpec("div_trunc_mode", lambda x, y: x.div(y, rounding_mode="trunc"), lambda x, y: np.trunc(x / y),
           shapes=B2, domain=("real", "nonzero"), grad=False, ints=True, atol_eps=4),
    OpSpec("floor_divide", lambda x, y: x // y, shapes=B2, domain=("real", "nonzero"), grad=False, ints=True,
           atol_eps=4),
    OpSpec("remainder", lambda x, y: x % y, np.mod, shapes=B2, domain=("real", "nonzero"), ints=True,
           atol_eps=8, lowp_mult=4),
    OpSpec("pow", lambda x, y: x ** y, np.power, shapes=B2, domain=("pos", "real"), rtol_mult=4),
    OpSpec("pow_method", lambda x, y: x.pow(y), np.power, shapes=B2, domain=("pos", "real"), rtol_mult=4),
    OpSpec("pow_neg_base_int_exp", lambda x, y: x ** y, np.power, shapes=B2, domain=("nonzero", "grid"),
           rtol_mult=4),
    OpSpec("pow_2", lambda x: x ** 2, ints=True),
    OpSpec("pow_3", lambda x: x ** 3, ints=True),
    OpSpec("pow_0", lambda x: x ** 0, lambda x: np.ones_like(x), ints=True),
    OpSpec("pow_neg2", lambda x: x ** -2, lambda x: x ** -2.0, domain="nonzero", rtol_mult=2),
    OpSpec("pow_half", lambda x: x ** 0.5, domain="pos", rtol_mult=4),
    OpSpec("pow_2_5", lambda x: x ** 2.5, domain="pos", rtol_mult=4),
    OpSpec("rpow", lambda x: 2 ** x, lambda x: 2.0 ** x, rtol_mult=2),
    OpSpec("maximum", lambda x, y: x.maximum(y), np.maximum, shapes=B2, domain="grid", ints=True, bools=True),
    OpSpec("minimum", lambda x, y: x.minimum(y), np.minimum, shapes=B2, domain="grid", ints=True, bools=True),
    OpSpec("maximum_bcast", lambda x, y: tt.Tensor.maximum(x, y), np.maximum, shapes=((4, 1), (7,)), ints=True),
    OpSpec("add_scalar", lambda x: x + 1.5, ints=False),
    OpSpec("add_int_scalar", lambda x: x + 2, ints=True),
    OpSpec("radd_scalar", lambda x: 1.5 + x),
    OpSpec("sub_scalar", lambda x: x - 0.5),
    OpSpec("rsub_scalar", lambda x: 2 - x, ints=True),
    OpSpec("mul_scalar", lambda x: x * -2, ints=True),
    OpSpec("rmul_scalar", lambda x: 3 * x, ints=True),
    OpSpec("mul_float_scalar", lambda x: x * 0.5, out="float", ints=True),
    OpSpec("div_scalar", lambda x: x / 4, out="float", ints=True),
    OpSpec("rdiv_scalar", lambda x: 3 / x, domain="nonzero", out="float", ints=True),
    OpSpec("rfloordiv_scalar", lambda x: 7 // x, domain="nonzero", grad=False, ints=True, atol_eps=4),
    OpSpec("rmod_scalar", lambda x: 5 % x, lambda x: np.mod(5, x), domain="nonzero", ints=True, atol_eps=8,
           lowp_mult=4),
    OpSpec("rsub_ndarray", lambda x: np.full((4, 7), 2.0, np.float32) - x, lowp=False, floats=True),
    OpSpec("chain_fma", lambda x, y, z: (x + y) * z - x / 2, shapes=((4, 7),) * 3, rtol_mult=2),
    # --- comparisons and logic --------------------------------------------------------------
    OpSpec("lt", lambda x, y: x < y, shapes=B2, domain="grid", grad=False, out="bool", ints=True),
    OpSpec("gt", lambda x, y: x > y, shapes=B2, domain="grid", grad=False, out="bool", ints=True),
    OpSpec("le", lambda x, y: x <= y, shapes=B2, domain="grid", grad=False, out="bool", ints=True),
    OpSpec("ge", lambda x, y: x >= y, shapes=B2, domain="grid", grad=False, out="bool", ints=True),
    OpSpec("eq", lambda x, y: x == y, shapes=B2, domain="grid", grad=False, out="bool", ints=True, bools=True),
    OpSpec("ne", lambda x, y: x != y, shapes=B2, domain="grid", grad=False, out="bool", ints=True, bools=True),
    OpSpec("eq_method", lambda x, y: x.eq(y), np.equal, shapes=B2, domain="grid", grad=False, out="bool",
           ints=True),
    OpSpec("lt_scalar", lambda x: x < 0.5, domain="grid", grad=False, out="bool"),
    OpSpec("ge_scalar_bcast", lambda x, y: x >= y, shapes=((4, 1), (7,)), domain="grid", grad=False, out="bool",
           ints=True),
    OpSpec("logical_not", lambda x: x.logical_not(), np.logical_not, domain="grid", grad=False, out="bool",
           ints=True, bools=True),
    OpSpec("logical_and", lambda x, y: x.logical_and(y), np.logical_and, shapes=B2, domain="grid", grad=False,
           out="bool", ints=True, bools=True),
    OpSpec("logical_or", lambda x, y: x.logical_or(y), np.logical_or, shapes=B2, domain="grid", grad=False,
           out="bool", ints=True, bools=True),
    OpSpec("logical_xor", lambda x, y: x.logical_xor(y), np.logical_xor, shapes=B2, domain="grid", grad=False,
           out="bool", ints=True, bools=True),
    OpSpec("bitwise_and", lambda x, y: x & y, shapes=B2, grad=False, floats=False, ints=True, bools=True),
    OpSpec("bitwise_or", lambda x, y: x | y, shapes=B2, grad=False, floats=False, ints=True, bools=True),
    OpSpec("bitwise_xor", lambda x, y: x ^ y, shapes=B2, grad=False, floats=False, ints=True, bools=True),
    OpSpec("bitwise_not", lambda x: ~x, grad=False, floats=False, ints=True, bools=True),
    OpSpec("shift_left", lambda x: x << 2, grad=False, floats=False, ints=True, domain="pos"),
    OpSpec("shift_right", lambda x: x >> 1, grad=False, floats=False, ints=True, domain="pos"),
    OpSpec("where", lambda c, x, y: tt.where(c, x, y), np.where, shapes=((4, 7), (4, 7), (4, 7)),
           domain=("bool", "real", "real"), ints=True),
    OpSpec("where_bcast", lambda c, x, y: c._where(x, y), np.where, shapes=((4, 1), (1, 7), (4, 7)),
           domain=("bool", "real", "real"), ints=True),
    OpSpec("where_scalars", lambda c, x: tt.where(c > 0, x, 0.0), lambda c, x: np.where(c > 0, x, 0.0),
           shapes=B2, domain=("real", "real")),
    OpSpec("where_cond_float", lambda c, x, y: tt.where(c, x, y), lambda c, x, y: np.where(c != 0, x, y),
           shapes=((4, 7),) * 3, domain=("grid", "real", "real"), lowp=False),
    # --- reductions -------------------------------------------------------------------------
    OpSpec("sum_all", lambda x: x.sum(), np_sum, shapes=(S3,), ints=True, bools=True, out="sum", rtol_mult=2),
    OpSpec("sum_0", lambda x: x.sum(0), lambda x: np_sum(x, 0), shapes=(S3,), ints=True, out="sum"),
    OpSpec("sum_1_keepdim", lambda x: x.sum(1, keepdim=True), lambda x: np_sum(x, 1, True), shapes=(S3,),
           ints=True, out="sum"),
    OpSpec("sum_02", lambda x: x.sum((0, 2)), lambda x: np_sum(x, (0, 2)), shapes=(S3,), ints=True, out="sum",
           rtol_mult=2),
    OpSpec("sum_neg_keepdim", lambda x: x.sum(dim=-1, keepdim=True), lambda x: np_sum(x, -1, True), shapes=(S3,),
           ints=True, out="sum"),
    OpSpec("sum_dtype", lambda x: x.sum(1, dtype=tt.float64), lambda x: np.sum(x, 1), shapes=(S3,),
           out=dtypes.float64, ints=True, lowp=False),
    OpSpec("mean_all", lambda x: x.mean(), np_mean, shapes=(S3,), out="float", rtol_mult=2),
    OpSpec("mean_1", lambda x: x.mean(1), lambda x: np_mean(x, 1), shapes=(S3,), out="float"),
    OpSpec("mean_02_keepdim", lambda x: x.mean((0, 2), keepdim=True), lambda x: np_mean(x, (0, 2), True),
           shapes=(S3,), out="float", rtol_mult=2),
    OpSpec("max_all", lambda x: x.max(), np.max, shapes=(S3,), ints=True, bools=True),
    OpSpec("max_1", lambda x: x.max(1).values, lambda x: np.max(x, 1), shapes=(S3,), ints=True, domain="grid"),
    OpSpec("max_02_keepdim", lambda x: x.amax((0, 2), keepdim=True), lambda x: np.max(x, (0, 2), keepdims=True),
           shapes=(S3,), ints=True),
    OpSpec("min_all", lambda x: x.min(), np.min, shapes=(S3,), ints=True, bools=True),
    OpSpec("min_0", lambda x: x.min(0).values, lambda x: np.min(x, 0), shapes=(S3,), ints=True, domain="grid",
           bools=True),
    OpSpec("min_neg_keepdim", lambda x: x.amin(-1, keepdim=True), lambda x: np.min(x, -1, keepdims=True),
           shapes=(S3,), ints=True),
    OpSpec("prod_all", lambda x: x.prod(), np_prod, shapes=((3, 5),), domain="small", out="sum", rtol_mult=4,
           lowp_mult=4),
    OpSpec("prod_1", lambda x: x.prod(1), lambda x: np_prod(x, 1), shapes=(S3,), domain="small", out="sum",
           ints=True, rtol_mult=2, lowp_mult=4),
    OpSpec("var_all", lambda x: x.var(), np_var, shapes=(S3,), rtol_mult=4, lowp_mult=4),
    OpSpec("var_1", lambda x: x.var(1), lambda x: np_var(x, 1), shapes=(S3,), rtol_mult=4, lowp_mult=4),
    OpSpec("var_02_keepdim_biased", lambda x: x.var((0, 2), keepdim=True, correction=0),
           lambda x: np_var(x, (0, 2), True, ddof=0), shapes=(S3,), rtol_mult=4, lowp_mult=4),
    OpSpec("var_unbiased_false", lambda x: x.var(-1, unbiased=False), lambda x: np_var(x, -1, ddof=0), shapes=(S3,),
           rtol_mult=4, lowp_mult=4),
    OpSpec("std_all", lambda x: x.std(), lambda x: np.std(x, ddof=1), shapes=(S3,), rtol_mult=4, lowp_mult=4),
    OpSpec("std_0_keepdim", lambda x: x.std(0, keepdim=True), lambda x: np.std(x, 0, keepdims=True, ddof=1),
           shapes=(S3,), rtol_mult=4, lowp_mult=4),
    OpSpec("argmax_all", lambda x: x.argmax(), np_argmax, shapes=(S3,), domain="grid", grad=False, out="index",
           ints=True),
    OpSpec("argmax_1", lambda x: x.argmax(1), lambda x: np_argmax(x, 1), shapes=(S3,), domain="grid", grad=False,
           out="index", ints=True, bools=True),
    OpSpec("argmax_neg_keepdim", lambda x: x.argmax(dim=-1, keepdim=True), lambda x: np_argmax(x, -1, True),
           shapes=(S3,), domain="grid", grad=False, out="index", ints=True),
    OpSpec("argmin_all", lambda x: x.argmin(), np_argmin, shapes=(S3,), domain="grid", grad=False, out="index",
           ints=True),
    OpSpec("argmin_0", lambda x: x.argmin(0), lambda x: np_argmin(x, 0), shapes=(S3,), domain="grid", grad=False,
           out="index", ints=True, bools=True),
    OpSpec("any_all", lambda x: x.any(), np.any, shapes=(S3,), domain="grid", grad=False, out="bool", ints=True,
           bools=True),
    OpSpec("any_1", lambda x: x.any(1), lambda x: np.any(x, 1), shapes=(S3,), domain="bool", grad=False,
           out="bool", ints=True, bools=True),
    OpSpec("all_all", lambda x: x.all(), np.all, shapes=(S3,), domain="grid", grad=False, out="bool", ints=True,
           bools=True),
    OpSpec("all_2_keepdim", lambda x: x.all(2, keepdim=True), lambda x: np.all(x, 2, keepdims=True), shapes=(S3,),
           domain="bool", grad=False, out="bool", ints=True, bools=True),
    OpSpec("logsumexp_all", lambda x: x.logsumexp(), scipy.special.logsumexp, shapes=(S3,), rtol_mult=4),
    OpSpec("logsumexp_1", lambda x: x.logsumexp(1), lambda x: scipy.special.logsumexp(x, 1), shapes=(S3,),
           rtol_mult=4, atol_eps=4),
    OpSpec("logsumexp_keepdim", lambda x: x.logsumexp(-1, keepdim=True),
           lambda x: scipy.special.logsumexp(x, -1, keepdims=True), shapes=(S3,), rtol_mult=4, atol_eps=4),
    OpSpec("softmax_last", lambda x: x.softmax(-1), lambda x: np_softmax(x, -1), shapes=(S3,), rtol_mult=4),
    OpSpec("softmax_0", lambda x: x.softmax(0), lambda x: np_softmax(x, 0), shapes=(S3,), rtol_mult=4),
    OpSpec("softmax_wide", lambda x: x.softmax(1), lambda x: np_softmax(x, 1), shapes=((3, 33),), domain="wide",
           rtol_mult=8, lowp=False),
    OpSpec("log_softmax", lambda x: x.log_softmax(-1), lambda x: x - scipy.special.logsumexp(x, -1, keepdims=True),
           shapes=(S3,), rtol_mult=4, atol_eps=8),
    OpSpec("log_softmax_1", lambda x: x.log_softmax(1),
           lambda x: x - scipy.special.logsumexp(x, 1, keepdims=True), shapes=(S3,), rtol_mult=4, atol_eps=8),
    OpSpec("cumsum_0", lambda x: x.cumsum(0), lambda x: np_cumsum(x, 0), shapes=(S3,), ints=True, out="sum",
           atol_eps=8),
    OpSpec("cumsum_last", lambda x: x.cumsum(-1), lambda x: np_cumsum(x, -1), shapes=(S3,), ints=True, out="sum",
           atol_eps=8),
    OpSpec("cumsum_1d", lambda x: x.cumsum(0), lambda x: np_cumsum(x, 0), shapes=((13,),), ints=True, out="sum",
           atol_eps=8),
    # --- movement ---------------------------------------------------------------------------
    OpSpec("reshape", lambda x: x.reshape(6, 10), shapes=((3, 4, 5),), ints=True, bools=True),
    OpSpec("reshape_tuple", lambda x: x.reshape((4, 15)), shapes=((3, 4, 5),), ints=True),
    OpSpec("reshape_infer", lambda x: x.reshape(-1, 5), shapes=((3, 4, 5),), ints=True),
    OpSpec("view", lambda x: x.view(12, 5), lambda x: x.reshape(12, 5), shapes=((3, 4, 5),), ints=True),
    OpSpec("flatten", lambda x: x.flatten(), shapes=((3, 4, 5),), ints=True, bools=True),
    OpSpec("flatten_1", lambda x: x.flatten(1), lambda x: x.reshape(3, 20), shapes=((3, 4, 5),), ints=True),
    OpSpec("flatten_01", lambda x: x.flatten(0, 1), lambda x: x.reshape(12, 5), shapes=((3, 4, 5),)),
    OpSpec("unflatten", lambda x: x.unflatten(1, (2, 2)), lambda x: x.reshape(3, 2, 2, 5), shapes=((3, 4, 5),)),
    OpSpec("unflatten_infer", lambda x: x.unflatten(-1, (-1, 5)), lambda x: x.reshape(3, 4, 1, 5), shapes=(S3,)),
    OpSpec("squeeze", lambda x: x.squeeze(), shapes=((2, 1, 3, 1),), ints=True, bools=True),
    OpSpec("squeeze_dim", lambda x: x.squeeze(1), lambda x: x.squeeze(1), shapes=((2, 1, 3, 1),)),
    OpSpec("squeeze_noop", lambda x: x.squeeze(0), lambda x: x, shapes=((2, 1, 3, 1),)),
    OpSpec("squeeze_dims", lambda x: x.squeeze((1, 3)), lambda x: x.squeeze((1, 3)), shapes=((2, 1, 3, 1),)),
    OpSpec("unsqueeze_0", lambda x: x.unsqueeze(0), lambda x: x[None], ints=True),
    OpSpec("unsqueeze_neg", lambda x: x.unsqueeze(-1), lambda x: x[..., None]),
    OpSpec("permute", lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), shapes=(S3,), ints=True,
           bools=True),
    OpSpec("permute_tuple", lambda x: x.permute((1, 2, 0)), lambda x: x.transpose(1, 2, 0), shapes=(S3,)),
    OpSpec("permute_neg", lambda x: x.permute(-1, -3, -2), lambda x: x.transpose(2, 0, 1), shapes=(S3,)),
    OpSpec("transpose", lambda x: x.transpose(0, 2), lambda x: x.swapaxes(0, 2), shapes=(S3,), ints=True),
    OpSpec("transpose_default", lambda x: x.transpose(), lambda x: x.swapaxes(-1, -2), shapes=(S3,)),
    OpSpec("T", lambda x: x.T, lambda x: x.T, shapes=((4, 7),), ints=True),
    OpSpec("T_3d", lambda x: x.T, lambda x: x.T, shapes=(S3,)),
    OpSpec("mT", lambda x: x.mT, lambda x: x.swapaxes(-1, -2), shapes=(S3,)),
    OpSpec("expand", lambda x: x.expand(3, 4, 5), lambda x: np.broadcast_to(x, (3, 4, 5)), shapes=((4, 1),),
           ints=True, bools=True),
    OpSpec("expand_minus1", lambda x: x.expand(2, -1, 6), lambda x: np.broadcast_to(x, (2, 4, 6)),
           shapes=((4, 1),)),
    OpSpec("broadcast_to", lambda x: x.broadcast_to((2, 3, 7)), lambda x: np.broadcast_to(x, (2, 3, 7)),
           shapes=((7,),), ints=True),
    OpSpec("expand_as", lambda x, y: x.expand_as(y), lambda x, y: np.broadcast_to(x, y.shape),
           shapes=((1, 7), (4, 7))),
    OpSpec("flip_0", lambda x: x.flip(0), lambda x: np.flip(x, 0), shapes=(S3,), ints=True, bools=True),
    OpSpec("flip_02", lambda x: x.flip(0, 2), lambda x: np.flip(x, (0, 2)), shapes=(S3,), ints=True),
    OpSpec("flip_neg_tuple", lambda x: x.flip((-1,)), lambda x: np.flip(x, -1), shapes=(S3,)),
    OpSpec("repeat", lambda x: x.repeat(2, 1, 3), lambda x: np.tile(x, (2, 1, 3)), shapes=((2, 3, 2),),
           ints=True, bools=True),
    OpSpec("repeat_newdims", lambda x: x.repeat(2, 2, 1), lambda x: np.tile(x, (2, 2, 1)), shapes=((3, 2),)),
    OpSpec("cat_0", lambda x, y: tt.cat([x, y]), lambda x, y: np.concatenate([x, y]), shapes=((2, 5), (3, 5)),
           ints=True, bools=True),
    OpSpec("cat_last", lambda x, y, z: tt.cat([x, y, z], dim=-1), lambda x, y, z: np.concatenate([x, y, z], -1),
           shapes=((2, 3, 1), (2, 3, 4), (2, 3, 2)), ints=True),
    OpSpec("cat_mixed_dtype", lambda x, y: tt.cat([x, y.cast(tt.float64)], 1),
           lambda x, y: np.concatenate([x, y], 1), shapes=((2, 3), (2, 2)), out=dtypes.float64, lowp=False),
    OpSpec("stack_0", lambda x, y: tt.stack([x, y]), lambda x, y: np.stack([x, y]), shapes=B2, ints=True,
           bools=True),
    OpSpec("stack_last", lambda x, y, z: tt.stack([x, y, z], -1), lambda x, y, z: np.stack([x, y, z], -1),
           shapes=((4, 7),) * 3),
    OpSpec("stack_middle", lambda x, y: tt.stack((x, y), dim=1), lambda x, y: np.stack([x, y], 1), shapes=B2),
    OpSpec("split_int", lambda x: x.split(2, dim=1), lambda x: np_split(x, 2, 1), shapes=((3, 7),), ints=True),
    OpSpec("split_sizes", lambda x: x.split([1, 4, 2], 1), lambda x: tuple(np.split(x, [1, 5], 1)),
           shapes=((3, 7),)),
    OpSpec("chunk", lambda x: x.chunk(3, dim=1), lambda x: np_split(x, 3, 1), shapes=((3, 7),), ints=True),
    OpSpec("chunk_0", lambda x: x.chunk(2), lambda x: np_split(x, 2, 0), shapes=((3, 7),)),
    OpSpec("pad_last", lambda x: x.pad((1, 2)), lambda x: np_pad(x, (1, 2)), shapes=(S3,), ints=True, bools=True),
    OpSpec("pad_two_dims_value", lambda x: x.pad((0, 1, 2, 0), value=1.5), lambda x: np_pad(x, (0, 1, 2, 0), 1.5),
           shapes=(S3,)),
    OpSpec("pad_negative", lambda x: x.pad((-1, 2, 1, -2)), lambda x: np_pad(x, (-1, 2, 1, -2)), shapes=(S3,)),
    OpSpec("pad_then_add", lambda x, y: x.pad((1, 1)) + y, lambda x, y: np_pad(x, (1, 1)) + y,
           shapes=((4, 5), (4, 7))),
    OpSpec("pad_then_exp", lambda x: x.pad((1, 1, 1, 1)).exp(), lambda x: np.exp(np_pad(x, (1, 1, 1, 1))),
           rtol_mult=2),
    # --- indexing ---------------------------------------------------------------------------
    OpSpec("getitem_int", lambda x: x[1], shapes=(S3,), ints=True, bools=True),
    OpSpec("getitem_neg_int", lambda x: x[-1], shapes=(S3,)),
    OpSpec("getitem_ints", lambda x: x[0, 2], shapes=(S3,), ints=True),
    OpSpec("getitem_scalar", lambda x: x[2, -1, 3], shapes=(S3,), ints=True),
    OpSpec("getitem_slice", lambda x: x[:, 1:3], shapes=(S3,), ints=True, bools=True),
    OpSpec("getitem_step", lambda x: x[::2], shapes=((7, 5),), ints=True),
    OpSpec("getitem_step3", lambda x: x[1::3, ::2], shapes=((11, 6),)),
    OpSpec("getitem_neg_step", lambda x: x[::-1], shapes=((7, 5),), ints=True),
    OpSpec("getitem_neg_step2", lambda x: x[:, ::-2], shapes=((4, 7),)),
    OpSpec("getitem_neg_range", lambda x: x[5:1:-2, -3:], shapes=((7, 5),)),
    OpSpec("getitem_neg_bounds", lambda x: x[-3:-1, -100:100], shapes=((7, 5),)),
    OpSpec("getitem_empty", lambda x: x[5:2], shapes=((7, 5),)),
    OpSpec("getitem_none", lambda x: x[None], shapes=((4, 7),)),
    OpSpec("getitem_none_mid", lambda x: x[:, None, 2:], shapes=((4, 7),)),
    OpSpec("getitem_ellipsis", lambda x: x[..., 1], shapes=(S3,)),
    OpSpec("getitem_mixed", lambda x: x[1:, None, ..., 2], shapes=(S3,)),
    OpSpec("getitem_ellipsis_none", lambda x: x[None, ..., None, 0], shapes=(S3,)),
    OpSpec("getitem_list", lambda x: x[[0, 2, -1]], shapes=(S3,), ints=True, bools=True),
    OpSpec("getitem_list_dim1", lambda x: x[:, [1, 0, 1, 3]], shapes=(S3,), ints=True),
    OpSpec("getitem_tensor", lambda x: x[idx(x, [2, 0, 1, 1])], shapes=((3, 5),), ints=True),
    OpSpec("getitem_tensor_2d", lambda x: x[idx(x, [[0, 1], [2, 2]])], shapes=((3, 5),)),
    OpSpec("getitem_tensor_pair", lambda x: x[idx(x, [0, 2, 1]), idx(x, [4, 0, 3])], shapes=((3, 5),), ints=True),
    OpSpec("getitem_tensor_bcast_pair", lambda x: x[idx(x, [[0], [2]]), idx(x, [1, 3, 0])], shapes=((3, 5),)),
    OpSpec("getitem_tensor_slice_mix", lambda x: x[1:, idx(x, [3, 0])], shapes=(S3,)),
    OpSpec("getitem_tensor_nonadjacent", lambda x: x[idx(x, [0, 2]), :, idx(x, [1, 4])], shapes=(S3,)),
    OpSpec("getitem_tensor_neg", lambda x: x[:, :, idx(x, [-1, -5, 2])], shapes=(S3,)),
    OpSpec("getitem_after_permute", lambda x: x.permute(1, 0, 2)[2, ::-1, 1:4],
           lambda x: x.transpose(1, 0, 2)[2, ::-1, 1:4], shapes=(S3,)),
    # --- linear algebra ---------------------------------------------------------------------
    OpSpec("matmul_1d_1d", lambda x, y: x @ y, shapes=((5,), (5,)), ints=True, rtol_mult=2),
    OpSpec("matmul_1d_2d", lambda x, y: x @ y, shapes=((5,), (5, 3)), ints=True, rtol_mult=2),
    OpSpec("matmul_2d_1d", lambda x, y: x @ y, shapes=((3, 5), (5,)), ints=True, rtol_mult=2),
    OpSpec("matmul_2d", lambda x, y: x @ y, shapes=((4, 5), (5, 3)), ints=True, rtol_mult=2),
    OpSpec("matmul_method", lambda x, y: x.matmul(y), np.matmul, shapes=((7, 13), (13, 9)), rtol_mult=4),
    OpSpec("matmul_batched", lambda x, y: x @ y, shapes=((2, 4, 3), (2, 3, 5)), ints=True, rtol_mult=2),
    OpSpec("matmul_bcast_batch", lambda x, y: x @ y, shapes=((2, 1, 4, 3), (5, 3, 2)), rtol_mult=2),
    OpSpec("matmul_batch_2d", lambda x, y: x @ y, shapes=((2, 4, 3), (3, 5)), rtol_mult=2),
    OpSpec("matmul_2d_batch", lambda x, y: x @ y, shapes=((4, 3), (2, 3, 5)), rtol_mult=2),
    OpSpec("matmul_1d_batch", lambda x, y: x @ y, shapes=((3,), (2, 3, 5)), rtol_mult=2),
    OpSpec("matmul_batch_1d", lambda x, y: x @ y, shapes=((2, 4, 3), (3,)), rtol_mult=2),
    OpSpec("matmul_transposed", lambda x, y: x @ y.T, lambda x, y: x @ y.T, shapes=((4, 6), (5, 6)),
           rtol_mult=2),
    OpSpec("rmatmul_ndarray", lambda x: np.ones((2, 4), np.float32) @ x, lambda x: np.ones((2, 4)) @ x, lowp=False),
    OpSpec("dot", lambda x, y: x.dot(y), np.dot, shapes=((9,), (9,)), ints=True, rtol_mult=2),
    OpSpec("linear", lambda x, w, b: x.linear(w, b), lambda x, w, b: x @ w.T + b, shapes=((4, 6), (3, 6), (3,)),
           rtol_mult=2),
    OpSpec("matmul_bias_relu", lambda x, w, b: (x @ w + b).relu(), lambda x, w, b: np.maximum(x @ w + b, 0),
           shapes=((4, 6), (6, 3), (3,)), rtol_mult=2, atol_eps=8),
]

def _assign_kinds(ops: list[OpSpec]) -> list[OpSpec]:
    """Tag each entry with its table section (used to pick its dtypes)."""
    import dataclasses

    starts = {"sum_all": "reduce", "reshape": "move", "matmul_1d_1d": "linalg"}
    kind, out = "math", []
    for o in ops:
        kind = starts.get(o.name, kind)
        out.append(dataclasses.replace(o, kind=kind))
    return out


OPS = _assign_kinds(OPS)
OPS_BY_NAME = {o.name: o for o in OPS}
assert len(OPS_BY_NAME) == len(OPS), "op names must be unique"
