"""Elementwise math: binary ops with PyTorch's type promotion and broadcasting, unary math, comparisons, casts."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes, to_dtype
from ..errors import DTypeError, TensorValueError
from ..ops.uop import GroupOp, Ops, UOp
from .common import _as_tensor, _broadcast_pair, _broadcast_shapes, no_grad

if TYPE_CHECKING:
    from .core import Tensor


def _binop(self: Tensor, op: Ops, other: Any, reverse: builtins.bool = False, name: str = "") -> Tensor:
    a, b = _broadcast_pair(self, other, name or op.name.lower(), reverse)
    return a._new(UOp(op, dtypes.bool if op in GroupOp.Comparison else a.dtype, (a.uop, b.uop)), a, b)


def add(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """a + alpha*b"""
    return self._binop(Ops.ADD, other if alpha == 1 else other * alpha, name="add")


def sub(self: Tensor, other: Any) -> Tensor:
    """a - b = a + (-b)"""
    a, b = _broadcast_pair(self, other, "sub")
    if a.dtype.is_bool:
        raise DTypeError("sub: subtraction of bool tensors is not supported; use logical_xor")
    return a._binop(Ops.ADD, -b)


def mul(self: Tensor, other: Any) -> Tensor:
    return self._binop(Ops.MUL, other, name="mul")


def div(self: Tensor, other: Any, rounding_mode: str | None = None) -> Tensor:
    """a / b = a * (1/b); integer inputs give a float result, like PyTorch."""
    a, b = _broadcast_pair(self, other, "div")
    if rounding_mode == "floor":
        return a.floor_divide(b)
    if rounding_mode == "trunc":
        return (a / b).trunc().cast(a.dtype) if a.dtype.is_int else (a / b).trunc()
    if not a.dtype.is_float:
        a, b = a.float(), b.float()
    return a * b.reciprocal()


def floor_divide(self: Tensor, other: Any) -> Tensor:
    """floor(a / b)"""
    a, b = _broadcast_pair(self, other, "floor_divide")
    if a.dtype.is_float:
        return (a / b).floor()
    q = a._binop(Ops.IDIV, b)  # truncates toward zero
    fix = ((a._binop(Ops.MOD, b) != 0) & ((a < 0) != (b < 0)))
    return fix.where(q - 1, q)


def remainder(self: Tensor, other: Any) -> Tensor:
    """a - floor(a/b)*b: the sign follows b, like Python and PyTorch."""
    a, b = _broadcast_pair(self, other, "remainder")
    if a.dtype.is_float:
        return a - (a / b).floor() * b
    r = a._binop(Ops.MOD, b)  # sign follows a
    return ((r != 0) & ((r < 0) != (b < 0))).where(r + b, r)


def maximum(self: Tensor, other: Any) -> Tensor:
    return self._binop(Ops.MAX, other, name="maximum")


def minimum(self: Tensor, other: Any) -> Tensor:
    a, b = _broadcast_pair(self, other, "minimum")
    if a.dtype.is_float:
        return -((-a).maximum(-b))
    return (a < b).where(a, b)


def pow(self: Tensor, exponent: Any) -> Tensor:
    """x ** y; exact repeated multiplication for small integer y."""
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and float(exponent).is_integer() \
            and builtins.abs(exponent) <= 8:
        n = int(exponent)
        x = self if self.dtype.is_float or n >= 0 else self.float()
        if n == 0:  # 1 everywhere (NaN and inf too), still in x's graph: its gradient is 0, as in PyTorch
            return Tensor.full(x.shape, True, dtypes.bool, x.device).where(x.ones_like(), x)
        acc, base, k = None, x, builtins.abs(n)
        while k:
            if k & 1:
                acc = base if acc is None else acc * base
            base, k = base * base, k >> 1
        assert acc is not None
        return acc.reciprocal() if n < 0 else acc
    a, b = _broadcast_pair(self, exponent, "pow")
    if not a.dtype.is_float:
        a, b = a.float(), b.float()
    zero = a == 0  # 0^b = 0 for b > 0 (inf for b < 0) without log2(0) = -inf reaching the gradient
    mag = (b * zero.where(1.0, a).abs().log2()).exp2()
    mag = zero.where((b > 0).where(0.0, math.inf).cast(mag.dtype), mag)
    is_int = b == b.trunc()
    odd = is_int & ((b.abs() % 2) == 1)
    neg = a < 0
    out = neg.where(is_int.where(odd.where(-mag, mag), math.nan), mag)
    return (b == 0).where(1.0, out)


def lt(self: Tensor, o: Any) -> Tensor: return self < o


def gt(self: Tensor, o: Any) -> Tensor: return self > o


def le(self: Tensor, o: Any) -> Tensor: return self <= o


def ge(self: Tensor, o: Any) -> Tensor: return self >= o


def eq(self: Tensor, o: Any) -> Tensor: return self == o


def ne(self: Tensor, o: Any) -> Tensor:
    return self._binop(Ops.CMPNE, o, name="ne")


def _cmp_or_eq(self: Tensor, o: Any, reverse: builtins.bool, name: str) -> Tensor:
    """a <= b as (a < b) | (a == b), not !(a > b): comparisons with NaN are False, like IEEE and torch."""
    lt = self._binop(Ops.CMPLT, o, reverse, name=name)
    return lt | self._binop(Ops.CMPNE, o, name=name).logical_not()


def _bitop(self: Tensor, op: Ops, o: Any, name: str) -> Tensor:
    a, b = _broadcast_pair(self, o, name)
    if a.dtype.is_float:
        raise DTypeError(f"{name}: not defined for floating dtype {a.dtype.name}; use integer or bool tensors")
    if op in (Ops.SHL, Ops.SHR) and a.dtype.is_bool:
        raise DTypeError(f"{name}: not defined for bool tensors")
    return a._binop(op, b)


def logical_not(self: Tensor) -> Tensor:
    return self.bool()._binop(Ops.CMPNE, True)


def logical_and(self: Tensor, o: Any) -> Tensor:
    return self.bool() & _as_tensor(o, self).bool()


def logical_or(self: Tensor, o: Any) -> Tensor:
    return self.bool() | _as_tensor(o, self).bool()


def logical_xor(self: Tensor, o: Any) -> Tensor:
    return self.bool() ^ _as_tensor(o, self).bool()


def bitwise_not(self: Tensor) -> Tensor:
    if self.dtype.is_bool:
        return self.logical_not()
    if self.dtype.is_float:
        raise DTypeError(f"bitwise_not: not defined for floating dtype {self.dtype.name}")
    return self._binop(Ops.XOR, -1 if self.dtype.kind == "i" else self.dtype.max)


def where(self: Tensor, x: Any, y: Any) -> Tensor:
    """self ? x : y, broadcast over all three."""
    cond = self if self.dtype.is_bool else self.bool()
    if isinstance(y, Tensor) and not isinstance(x, Tensor):  # a Python scalar does not widen y's dtype
        yt, xt = _broadcast_pair(y, x, "where")
    else:
        xt, yt = _broadcast_pair(_as_tensor(x, cond, True), y, "where")
    shape = _broadcast_shapes(cond.shape, xt.shape, op="where")
    c = cond._broadcast_to(shape, "where")
    xt, yt = xt._broadcast_to(shape, "where"), yt._broadcast_to(shape, "where")
    return xt._new(UOp(Ops.WHERE, xt.dtype, (c.uop, xt.uop, yt.uop)), c, xt, yt)


def _unop(self: Tensor, op: Ops, float_only: builtins.bool = True) -> Tensor:
    x = self.float() if float_only and not self.dtype.is_float else self
    return x._new(UOp(op, x.dtype, (x.uop,)), x)


def neg(self: Tensor) -> Tensor:
    if self.dtype.is_bool:
        raise DTypeError("neg: negation of a bool tensor is not supported; use logical_not")
    return self._unop(Ops.NEG, float_only=False)


def reciprocal(self: Tensor) -> Tensor:
    """1 / x"""
    return self._unop(Ops.RECIPROCAL)


def sqrt(self: Tensor) -> Tensor:
    return self._unop(Ops.SQRT)


def rsqrt(self: Tensor) -> Tensor:
    """1 / sqrt(x)"""
    return self.sqrt().reciprocal()


def exp2(self: Tensor) -> Tensor:
    return self._unop(Ops.EXP2)


def log2(self: Tensor) -> Tensor:
    return self._unop(Ops.LOG2)


def exp(self: Tensor) -> Tensor:
    """e^x = 2^(x*log2(e))"""
    return (self.float() if not self.dtype.is_float else self).mul(1 / math.log(2)).exp2()


def log(self: Tensor) -> Tensor:
    """ln x = log2(x)*ln(2)"""
    return self.log2().mul(math.log(2))


def sin(self: Tensor) -> Tensor:
    return self._unop(Ops.SIN)


def cos(self: Tensor) -> Tensor:
    """cos x = sin(pi/2 - |x|) for |x| <= 1; beyond, sin(2x) / (2 sin x), since 2x is exact where
    pi/2 - x would round away x's low bits (cos(1e10) had the wrong sign); past max/2, where 2x
    overflows, 1 - 2 sin^2(x/2). The gradient is -sin x."""
    if self.dtype in (dtypes.float16, dtypes.bfloat16):
        return self.float().cos().cast(self.dtype)
    x = self.float() if not self.dtype.is_float else self
    ax = x.abs()
    small, huge = ax <= 1, ax > float(np.finfo(x.dtype.np).max) / 2  # (both False for NaN)
    s = small.where(math.pi / 2 - ax, huge.where(x * 0.5, x * 2)).sin()
    big = s / small.where(1.0, 2 * x.sin())
    val = small.where(s, huge.where(1 - 2 * s * s, big))
    if not (self.requires_grad and no_grad.enabled):
        return val
    return val.detach() + (x - x.detach()) * (-x.sin()).detach()  # the value of val, the slope -sin x


def tan(self: Tensor) -> Tensor:
    return self.sin() / self.cos()


def abs(self: Tensor) -> Tensor:
    if self.dtype.is_bool or self.dtype.kind == "u":
        return self
    return self.maximum(-self)


def sign(self: Tensor) -> Tensor:
    if self.dtype.is_bool:
        return self
    return (self > 0).cast(self.dtype) - (self < 0).cast(self.dtype)


def trunc(self: Tensor) -> Tensor:
    """Round toward zero through an integer cast for |x| below the dtype's first all-integer
    power of two (2^52 for float64 through int64; 2^23 for 32-bit and narrower floats through
    int32, whose SIMD conversions every x86 vector unit has); larger values, inf and NaN are
    already integral and pass through. A zero result keeps x's sign (x * 0), like PyTorch's -0.0."""
    if not self.dtype.is_float:
        return self
    wide = self.dtype.itemsize > 4
    small = self.abs() < 2.0 ** (52 if wide else 23)  # False for NaN
    # (no NaN or inf reaches the cast)
    t = small.where(self, 0).cast(dtypes.int64 if wide else dtypes.int32).cast(self.dtype)
    return small.where((t == 0).where(self * 0, t), self)


def floor(self: Tensor) -> Tensor:
    t = self.trunc()
    return (t > self).where(t - 1, t)


def ceil(self: Tensor) -> Tensor:
    t = self.trunc()
    return (t < self).where(t + 1, t)


def round(self: Tensor) -> Tensor:
    """Round half to even, like PyTorch."""
    f = self.floor()
    diff = self - f
    half = f * 0.5
    even = half.floor() == half
    r = (diff > 0.5).where(f + 1, (diff < 0.5).where(f, even.where(f, f + 1)))
    return (r == 0).where(self * 0, r)  # -0.4 rounds to -0.0, like PyTorch


def isnan(self: Tensor) -> Tensor:
    return self != self


def isinf(self: Tensor) -> Tensor:
    return self.abs() == math.inf


def isfinite(self: Tensor) -> Tensor:
    return (self.isnan() | self.isinf()).logical_not()


def tanh(self: Tensor) -> Tensor:
    """2*sigmoid(2x) - 1; near 0, where that cancels, x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835"""
    x = self if self.dtype.is_float else self.float()
    x2 = x * x
    small = x * (1 + x2 * (-1 / 3 + x2 * (2 / 15 + x2 * (-17 / 315 + x2 * (62 / 2835)))))
    cut = 0.01 if x.dtype == dtypes.float64 else 0.25  # series truncation error < eps of the dtype
    return (x.abs() < cut).where(small, 2.0 * (2.0 * x).sigmoid() - 1.0)


def erf(self: Tensor) -> Tensor:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)."""
    x = self.float() if not self.dtype.is_float else self
    s = (x < 0).where(-1.0, 1.0).cast(x.dtype)  # (1 at 0, so the gradient at 0 is the slope there, 2/sqrt(pi))
    a = x * s
    t = (1 + 0.3275911 * a).reciprocal()
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return s * (1 - poly * (-a * a).exp())


def clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    if min is None and max is None:
        raise TensorValueError("clamp: at least one of min or max must be given")
    x = self  # selects, not max/min: the gradient is 1 at the bounds (as in PyTorch), NaN stays NaN
    if min is not None:
        x = (x < min).where(min, x) if not isinstance(min, Tensor) else (x < min).where(min, x)
    if max is not None:
        x = (x > max).where(max, x)
    return x


def clip(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    return self.clamp(min, max)


def cast(self: Tensor, dtype: Any) -> Tensor:
    dt = to_dtype(dtype)
    return self if dt == self.dtype else self._new(UOp(Ops.CAST, dt, (self.uop,)), self)


def bitcast(self: Tensor, dtype: Any) -> Tensor:
    dt = to_dtype(dtype)
    if dt.itemsize != self.dtype.itemsize:
        raise DTypeError(f"bitcast: {self.dtype.name} and {dt.name} differ in size")
    return self if dt == self.dtype else self._new(UOp(Ops.BITCAST, dt, (self.uop,)), self)


def _log1p(y: Tensor) -> Tensor:
    """log(1 + y), accurate for tiny y: log(u) * y / (u - 1) with u = 1 + y (Goldberg's trick)."""
    u = 1 + y
    exact = u == 1
    return exact.where(y, u.log() * y / exact.where(1, u - 1))  # (no 0/0 in the branch not taken)
