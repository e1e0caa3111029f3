"""Elementwise math: binary ops with PyTorch's type promotion and broadcasting, unary math, comparisons, casts."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes, to_dtype
from ..errors import DTypeError, IntegerDivisionByZero, TensorValueError
from ..ops.uop import GroupOp, Ops, UOp
from .common import (
    _as_tensor,
    _broadcast_operand,
    _broadcast_pair,
    _broadcast_shapes,
    _const_uop,
    _same_operand,
    _scalar_operand,
    no_grad,
)
from .composite import composite

if TYPE_CHECKING:
    from .core import Tensor


def _binop(self: Tensor, op: Ops, other: Any, reverse: builtins.bool = False, name: str = "") -> Tensor:
    # the common cases first (an operand of the same dtype and shape, a Python number with a float tensor):
    # the same graph _broadcast_pair builds, without its intermediate tensors
    u = self.uop
    if _same_operand(self, other):
        srcs = (other.uop, u) if reverse else (u, other.uop)
        return self._new(UOp(op, dtypes.bool if op in GroupOp.Comparison else u.dtype, srcs), self, other)
    c = _scalar_operand(self, other)
    if c is not None:
        return self._new(UOp(op, dtypes.bool if op in GroupOp.Comparison else u.dtype, (c, u) if reverse else (u, c)),
                         self)
    pair = _broadcast_operand(self, other)
    if pair is not None:
        srcs = (pair[1], pair[0]) if reverse else pair
        return self._new(UOp(op, dtypes.bool if op in GroupOp.Comparison else u.dtype, srcs), self, other)
    a, b = _broadcast_pair(self, other, name or op.name.lower(), reverse)
    return a._new(UOp(op, dtypes.bool if op in GroupOp.Comparison else a.dtype, (a.uop, b.uop)), a, b)


def add(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """a + alpha*b"""
    return self._binop(Ops.ADD, other if alpha == 1 else other * alpha, name="add")


def sub(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """a - alpha*b = a + (-alpha*b)"""
    if alpha == 1 and self.uop.dtype.kind == "f":
        if _same_operand(self, other):  # (the general rule's nodes, without the NEG's tensor)
            if no_grad.enabled or not (self._rg or other._rg):
                u = self.uop
                return self._new(UOp(Ops.ADD, u.dtype, (u, UOp(Ops.NEG, u.dtype, (other.uop,)))), self, other)
            return self._binop(Ops.ADD, other.neg())
        if type(other) is float:  # (-x is exact: the constant -x is what NEG of the constant x computes)
            return self._binop(Ops.ADD, -other)
        pair = _broadcast_operand(self, other)  # (x - mean: the general rule's nodes, without its tensors)
        if pair is not None:
            return self._new(UOp(Ops.ADD, pair[0].dtype, (pair[0], UOp(Ops.NEG, pair[1].dtype, (pair[1],)))),
                             self, other)
    a, b = _broadcast_pair(self, other if alpha == 1 else other * alpha, "sub")
    if a.dtype.is_bool:
        raise DTypeError("sub: subtraction of bool tensors is not supported; use logical_xor")
    return a._binop(Ops.ADD, -b)


def mul(self: Tensor, other: Any) -> Tensor:
    """a * b"""
    return self._binop(Ops.MUL, other, name="mul")


def _host_zero(t: Tensor) -> builtins.bool:
    """True when t's values are known on the host without running a kernel (a constant, or a realized
    buffer viewed by reshapes) and one of them is 0."""
    u = t.uop
    while u.op in (Ops.RESHAPE, Ops.EXPAND, Ops.CAST):
        u = u.src[0]
    if u.op is Ops.CONST:
        return builtins.bool(u.arg == 0) and 0 not in t.shape
    if (u.op is Ops.BUFFER or u._realized is not None) and t.numel():
        return builtins.bool((t.numpy() == 0).any())
    return False


def _check_int_divisor(b: Tensor, op: str) -> None:
    """Integer division by a divisor the host knows to hold 0 raises, as PyTorch's "ZeroDivisionError"."""
    if not b.dtype.is_float and _host_zero(b):
        raise IntegerDivisionByZero(f"{op}: ZeroDivisionError (integer division by zero; the divisor holds 0)")


def _zero_grad(val: Tensor, *srcs: Tensor, detach: builtins.bool = True) -> Tensor:
    """val (detached unless detach=False), with a gradient of 0 to each of srcs (PyTorch's rule for rounding
    ops) and requires_grad kept."""
    srcs_rg = [s for s in srcs if s.requires_grad and s.dtype.is_float]
    if not srcs_rg or not no_grad.enabled:
        return val
    keep = Tensor.full(val.shape, True, dtypes.bool, val.device)
    out = val.detach() if detach else val
    for s in srcs_rg:
        out = keep._where(out, (s * 0).cast(out.dtype)._broadcast_to(val.shape, "grad"))
    return out


def div(self: Tensor, other: Any, rounding_mode: str | None = None) -> Tensor:
    """a / b = a * (1/b); integer inputs give a float result, like PyTorch (x/0 is inf or nan).
    rounding_mode='trunc': trunc(a/b); 'floor': floor(a/b) (both keep integer dtypes; their gradient is 0).
    An integer divisor known on the host to hold 0 raises IntegerDivisionByZero; a lazily computed
    integer divisor that is 0 gives 0 there (no trap, nothing read out of bounds)."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise TensorValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                               f"{rounding_mode!r}")
    if rounding_mode is None and self.uop.dtype.kind == "f":
        if _same_operand(self, other):  # (the general rule's nodes, without the RECIPROCAL's tensor)
            if no_grad.enabled or not (self._rg or other._rg):
                u = self.uop
                return self._new(UOp(Ops.MUL, u.dtype, (u, UOp(Ops.RECIPROCAL, u.dtype, (other.uop,)))), self, other)
            return self._binop(Ops.MUL, other.reciprocal())
        c = _scalar_operand(self, other)
        if c is not None:
            return self._new(UOp(Ops.MUL, c.dtype, (self.uop, UOp(Ops.RECIPROCAL, c.dtype, (c,)))), self)
        pair = _broadcast_operand(self, other)
        if pair is not None:
            return self._new(UOp(Ops.MUL, pair[0].dtype, (pair[0], UOp(Ops.RECIPROCAL, pair[1].dtype, (pair[1],)))),
                             self, other)
    a, b = _broadcast_pair(self, other, "div")
    if rounding_mode == "floor":
        return a.floor_divide(b)
    if rounding_mode == "trunc":
        if a.dtype in (dtypes.float16, dtypes.bfloat16):
            return a.float().div(b.float(), rounding_mode="trunc").cast(a.dtype)
        if a.dtype.is_float:
            return _zero_grad(_div_trunc_float(a, b), a, b)
        _check_int_divisor(b, "div")
        return a._binop(Ops.IDIV, b)
    if not a.dtype.is_float:
        a, b = a.float(), b.float()
    return a * b.reciprocal()


def _div_trunc_float(a: Tensor, b: Tensor) -> Tensor:
    """trunc(a / b) of the correctly rounded quotient: with r = fmod(a, b) and n = (a - r)/b (an integer),
    a/b = n + r/b rounds up to n + 1 exactly when |b| - |r| <= |b| * (the spacing of floats below n + 1) / 2."""
    it = dtypes.int64 if a.dtype == dtypes.float64 else dtypes.int32
    r = _fmod_float(a, b)
    q = (a - r) / b
    n = q.trunc()
    n = ((q - n).abs() > 0.5)._where(n + q.sign(), n)
    m = n.abs() + 1
    below = m - (m.bitcast(it) - 1).bitcast(a.dtype)
    up = (b.abs() - r.abs()) <= b.abs() * below * 0.5
    t = up._where(n + (a.signbit() != b.signbit())._where(-1.0, 1.0), n)
    huge = q.abs() >= 2.0 ** (52 if a.dtype == dtypes.float64 else 23)
    t = huge._where((a / b).trunc(), t)
    return ((b == 0) | a.isinf() | b.isinf())._where(a / b, (t == 0)._where((a / b) * 0, t))


def _div_rounded(a: Tensor, b: Any) -> Tensor:
    """a / b correctly rounded (where a * (1/b) can be an ulp off): q + (a - q*b)/b, the product exact."""
    bt = _as_tensor(b, a).cast(a.dtype)
    q = a * bt.reciprocal()
    r = _sub_prod(a, q, bt._broadcast_to(q.shape, "div") if bt.shape != q.shape else bt)
    return (q.isfinite() & (r.abs() != math.inf))._where(q + r * bt.reciprocal(), q)


def true_divide(self: Tensor, other: Any) -> Tensor:
    """a / b (floats; integers are promoted)"""
    return self.div(other)


def floor_divide(self: Tensor, other: Any) -> Tensor:
    """floor(a / b): for floats (a - fmod(a, b)) / b rounded down, as PyTorch; an integer divisor known to
    hold 0 raises IntegerDivisionByZero, a lazily computed one gives 0 there."""
    a, b = _broadcast_pair(self, other, "floor_divide")
    if a.dtype.is_float:
        if a.dtype in (dtypes.float16, dtypes.bfloat16):
            return a.float().floor_divide(b.float()).cast(a.dtype)
        mod = _fmod_float(a, b)
        d = (a - mod) / b
        d = ((mod != 0) & ((b < 0) != (mod < 0)))._where(d - 1, d)
        fl = d.floor()
        fl = ((d - fl) > 0.5)._where(fl + 1, fl)
        fl = (d == 0)._where((a / b) * 0, fl)  # a zero keeps the sign of a/b
        return _zero_grad((b == 0)._where(a / b, fl), a, b)
    _check_int_divisor(b, "floor_divide")
    q = a._binop(Ops.IDIV, b)  # truncates toward zero
    fix = ((a._binop(Ops.MOD, b) != 0) & ((a < 0) != (b < 0)))
    return fix._where(q - 1, q)


def _split(x: Tensor) -> tuple[Tensor, Tensor]:
    """x = hi + lo with hi holding the upper half of the significand (bits masked off, so no rounding and no
    FMA contraction can disturb it): products of halves are exact."""
    it, keep = (dtypes.int64, -(1 << 27)) if x.dtype == dtypes.float64 else (dtypes.int32, -(1 << 12))
    hi = (x.bitcast(it) & keep).bitcast(x.dtype)
    return hi, x - hi


def _sub_prod(a: Tensor, q: Tensor, b: Tensor) -> Tensor:
    """a - q*b with q*b taken exactly (as four products of significand halves)."""
    qh, ql = _split(q)
    bh, bl = _split(b)
    return a - qh * bh - qh * bl - ql * bh - ql * bl


def _fmod_float(a: Tensor, b: Tensor) -> Tensor:
    """a - trunc(a/b)*b with the sign of a and |r| < |b|: the product subtracted exactly, in passes (each
    takes what the rounded quotient of a huge a/b left; up to |a/b| ~ 2^144 for float32, 2^212 for
    float64), then one b of correction where a/b rounded
    across an integer; a for an infinite b and finite a; NaN for b = 0 or infinite a."""
    binf = (b.abs() == math.inf) & (a.abs() != math.inf)
    bs = binf._where(1.0, b).cast(a.dtype)
    fin = (a.abs() != math.inf) & (bs != 0) & bs.isfinite()
    asafe, bsafe = fin._where(a, 0.0), fin._where(bs, 1.0)
    r = asafe
    for _ in range(4 if a.dtype == dtypes.float64 else 6):  # each pass: |r| shrinks by ~2^53 / 2^24
        r = _sub_prod(r, (r / bsafe).trunc(), bsafe)
    ab = bsafe.abs()
    r = ((r != 0) & ((r < 0) != (a < 0)))._where((a < 0)._where(r - ab, r + ab), r)
    r = (r.abs() >= ab)._where((a < 0)._where(r + ab, r - ab), r)
    r = (r == 0)._where(a * 0, r)  # a zero keeps a's sign
    return binf._where(a, fin._where(r, math.nan))


def fmod(self: Tensor, other: Any) -> Tensor:
    """a - trunc(a/b)*b: the sign follows a, like C's fmod. An integer divisor known to hold 0 raises
    IntegerDivisionByZero; a lazily computed one gives 0 there."""
    a, b = _broadcast_pair(self, other, "fmod")
    if a.dtype.is_float:
        if a.dtype in (dtypes.float16, dtypes.bfloat16):
            return a.float().fmod(b.float()).cast(a.dtype)
        with no_grad():
            q = a.div(b, rounding_mode="trunc")
        return _with_slope(_fmod_float(a, b), a, a.ones_like(), b, -q)
    _check_int_divisor(b, "fmod")
    return a._binop(Ops.MOD, b)


def remainder(self: Tensor, other: Any) -> Tensor:
    """a - floor(a/b)*b: the sign follows b, like Python and PyTorch. An integer divisor known to hold 0
    raises IntegerDivisionByZero; a lazily computed one gives 0 there."""
    a, b = _broadcast_pair(self, other, "remainder")
    if a.dtype.is_float:
        if a.dtype in (dtypes.float16, dtypes.bfloat16):
            return a.float().remainder(b.float()).cast(a.dtype)
        r = _fmod_float(a, b)
        with no_grad():
            q = a.div(b, rounding_mode="floor")
        return _with_slope(((r != 0) & ((r < 0) != (b < 0)))._where(r + b, r), a, a.ones_like(), b, -q)
    _check_int_divisor(b, "remainder")
    r = a._binop(Ops.MOD, b)  # sign follows a
    return ((r != 0) & ((r < 0) != (b < 0)))._where(r + b, r)


def maximum(self: Tensor, other: Any) -> Tensor:
    """max(a, b) elementwise; NaN if either is NaN; a tie splits the gradient"""
    return self._binop(Ops.MAX, other, name="maximum")


def minimum(self: Tensor, other: Any) -> Tensor:
    """min(a, b) elementwise; NaN if either is NaN; a tie splits the gradient"""
    a, b = _broadcast_pair(self, other, "minimum")
    if a.dtype.is_float:
        return -((-a).maximum(-b))
    return (a < b)._where(a, b)


def fmax(self: Tensor, other: Any) -> Tensor:
    """max(a, b) ignoring NaN: the other operand where one is NaN (NaN only if both are)"""
    a, b = _broadcast_pair(self, other, "fmax")
    if not a.dtype.is_float:
        return a.maximum(b)
    return ((a >= b) | b.isnan())._where(a, b)


def fmin(self: Tensor, other: Any) -> Tensor:
    """min(a, b) ignoring NaN: the other operand where one is NaN (NaN only if both are)"""
    a, b = _broadcast_pair(self, other, "fmin")
    if not a.dtype.is_float:
        return a.minimum(b)
    return ((a <= b) | b.isnan())._where(a, b)


def pow(self: Tensor, exponent: Any) -> Tensor:
    """x ** y (exact repeated multiplication for small integer y); gradients as PyTorch at every value:
    d/dx = y x^(y-1) (0 where y == 0), d/dy = x^y ln x (0 where x == 0 and y >= 0)."""
    from ..ops.gradient import CUSTOM_GRADIENTS

    b: Any
    if isinstance(exponent, int) and not isinstance(exponent, bool) and exponent < 0 and \
            not self.dtype.is_float and self.dtype != dtypes.bool:
        raise TensorValueError("pow: Integers to negative integer powers are not allowed.")
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and float(exponent).is_integer() \
            and builtins.abs(exponent) <= 8:
        n = int(exponent)
        x = self if self.dtype.is_float or n >= 0 else self.float()
        if n == 0:  # 1 everywhere (NaN and inf too), still in x's graph: its gradient is 0, as in PyTorch
            return Tensor.full(x.shape, True, dtypes.bool, x.device)._where(x.ones_like(), x)
        acc, base, k = None, x, builtins.abs(n)
        while k:
            if k & 1:
                acc = base if acc is None else acc * base
            base, k = base * base, k >> 1
        assert acc is not None
        out = acc.reciprocal() if n < 0 else acc
        if n == 1 or not out.requires_grad:
            return out
        a, b = x, n  # b: the exponent, a Python number or a Tensor
    elif isinstance(exponent, float) and builtins.abs(exponent) == 0.5:  # sqrt, as PyTorch: (-0)^0.5 = -0
        x = self if self.dtype.is_float else self.float()
        out = x.sqrt() if exponent > 0 else x.sqrt().reciprocal()
        if not out.requires_grad:
            return out
        a, b = x, exponent
    else:
        a, bt = _broadcast_pair(self, exponent, "pow")
        if not a.dtype.is_float and a.dtype != dtypes.bool:  # integers stay integers, as in PyTorch
            return a.double().pow(bt.double()).round().cast(a.dtype)  # (exact while the power is below 2^53)
        if not a.dtype.is_float:
            a, bt = a.float(), bt.float()
        # |x|^y = 2^(y log2|x|), then C's pow rules: 0^y = 0 (y > 0), inf (y < 0), nan (y nan); 1^y = 1 and
        # (-1)^(+-inf) = 1; x^0 = 1; a negative x (-0 and -inf too) gives -|x|^y for an odd integer y, and NaN
        # for a finite x < 0 and a non-integer y
        zero, ax = a == 0, a.abs()
        mag = (bt * zero._where(1.0, ax).log2()).exp2()
        mag = zero._where((bt > 0)._where(0.0, (bt < 0)._where(math.inf, math.nan)).cast(mag.dtype), mag)
        mag = (ax == 1)._where(1.0, mag)
        is_int = bt == bt.trunc()
        odd = is_int & ((bt.abs() % 2) == 1)
        neg = (a < 0) | (zero & (a.reciprocal() < 0))
        out = (neg & odd)._where(-mag, mag)
        out = ((a < 0) & is_int.logical_not() & a.isfinite())._where(math.nan, out)
        out = ((bt == 0) | (a == 1))._where(1.0, out)
        if not out.requires_grad:
            return out
        # a Python exponent stays one in the gradient: y x^(y-1) takes the paths above (x^0.5 is sqrt), as PyTorch
        b = exponent if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) else bt
    a_uop, a_rg, dev = a.uop, a.requires_grad, a.device
    b_uop, b_rg = (b.uop, b.requires_grad) if isinstance(b, Tensor) else (None, False)

    def grads(node: UOp, ctx: UOp) -> list[tuple[UOp, UOp | None]]:
        g, x = Tensor._from(ctx, dev), Tensor._from(a_uop, dev, a_rg)
        res: list[tuple[UOp, UOp | None]] = []
        y = b if b_uop is None else Tensor._from(b_uop, dev, b_rg)
        if a_rg:
            dx = g * (y * x ** (y - 1)) if b_uop is None else (y == 0)._where(0.0, g * (y * x ** (y - 1)))
            res.append((a_uop, dx.uop))
        if b_rg and b_uop is not None:
            res.append((b_uop, ((x == 0) & (y >= 0))._where(0.0, g * (Tensor._from(node, dev, True) * x.log())).uop))
        return res
    CUSTOM_GRADIENTS[out.uop] = grads
    return out


def lt(self: Tensor, o: Any) -> Tensor:
    """a < b (bool)"""
    return self < o


def gt(self: Tensor, o: Any) -> Tensor:
    """a > b (bool)"""
    return self > o


def le(self: Tensor, o: Any) -> Tensor:
    """a <= b (bool)"""
    return self <= o


def ge(self: Tensor, o: Any) -> Tensor:
    """a >= b (bool)"""
    return self >= o


def eq(self: Tensor, o: Any) -> Tensor:
    """a == b (bool)"""
    return self == o


def ne(self: Tensor, o: Any) -> Tensor:
    """a != b (bool)"""
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
    """not x (nonzero is True; NaN is True)"""
    return self.bool()._binop(Ops.CMPNE, True)


def logical_and(self: Tensor, o: Any) -> Tensor:
    """bool(a) and bool(b)"""
    return self.bool() & _as_tensor(o, self).bool()


def logical_or(self: Tensor, o: Any) -> Tensor:
    """bool(a) or bool(b)"""
    return self.bool() | _as_tensor(o, self).bool()


def logical_xor(self: Tensor, o: Any) -> Tensor:
    """bool(a) != bool(b)"""
    return self.bool() ^ _as_tensor(o, self).bool()


def bitwise_not(self: Tensor) -> Tensor:
    """~x (not for bools)"""
    if self.dtype.is_bool:
        return self.logical_not()
    if self.dtype.is_float:
        raise DTypeError(f"bitwise_not: not defined for floating dtype {self.dtype.name}")
    return self._binop(Ops.XOR, -1 if self.dtype.kind == "i" else self.dtype.max)


def where_method(self: Tensor, condition: Any, y: Any) -> Tensor:
    """x.where(condition, y): x where condition is true, else y (PyTorch's order: self is the value, as in
    torch.where(condition, x, y)); condition must be a bool tensor, as PyTorch requires."""
    if not isinstance(condition, Tensor) or not condition.dtype.is_bool:
        got = condition.dtype if isinstance(condition, Tensor) else type(condition).__name__
        raise DTypeError(f"where: expected condition to be a bool tensor (x.where(condition, y) keeps x where "
                         f"condition is true), got {got}")
    return condition._where(self, y)


def where(self: Tensor, x: Any, y: Any) -> Tensor:
    """self ? x : y, broadcast over all three (Tensor._where, condition first; Tensor.where is PyTorch's
    x.where(condition, y))."""
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
    """-x"""
    if self.dtype.is_bool:
        raise DTypeError("neg: negation of a bool tensor is not supported; use logical_not")
    return self._unop(Ops.NEG, float_only=False)


def reciprocal(self: Tensor) -> Tensor:
    """1 / x"""
    return self._unop(Ops.RECIPROCAL)


def sqrt(self: Tensor) -> Tensor:
    """x^(1/2) (NaN below 0)"""
    return self._unop(Ops.SQRT)


def rsqrt(self: Tensor) -> Tensor:
    """1 / sqrt(x)"""
    return self.sqrt().reciprocal()


def exp2(self: Tensor) -> Tensor:
    """2^x"""
    return self._unop(Ops.EXP2)


@composite
def log2(self: Tensor) -> Tensor:
    """log_2 x (-inf at 0, NaN below); a subnormal x is scaled by 2^64 first (log2(x 2^64) - 64), so it is not
    taken for 0"""
    x = self.float() if not self.dtype.is_float else self
    if x.dtype not in (dtypes.float32, dtypes.float64):
        return x._unop(Ops.LOG2)
    tiny = x.abs() < float(np.finfo(x.dtype.np).tiny)
    return tiny._where(x * 2.0 ** 64, x)._unop(Ops.LOG2) - tiny._where(64.0, 0.0).cast(x.dtype)


def exp(self: Tensor) -> Tensor:
    """e^x = 2^(x*log2(e))"""
    u = self.uop
    if u.dtype.kind == "f" and (no_grad.enabled or not self._rg):  # (the nodes below, without the MUL's tensor)
        c = _const_uop(1 / math.log(2), u.dtype, u.shape)  # type: ignore[arg-type]
        return self._new(UOp(Ops.EXP2, u.dtype, (UOp(Ops.MUL, u.dtype, (u, c)),)), self)
    return (self.float() if not self.dtype.is_float else self).mul(1 / math.log(2)).exp2()


def log(self: Tensor) -> Tensor:
    """ln x = log2(x)*ln(2)"""
    return self.log2().mul(math.log(2))


def sin(self: Tensor) -> Tensor:
    """sin x"""
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
    s = small._where(math.pi / 2 - ax, huge._where(x * 0.5, x * 2)).sin()
    big = s / small._where(1.0, 2 * x.sin())
    val = small._where(s, huge._where(1 - 2 * s * s, big))
    if not (self.requires_grad and no_grad.enabled):
        return val
    return val.detach() + (x - x.detach()) * (-x.sin()).detach()  # the value of val, the slope -sin x


def tan(self: Tensor) -> Tensor:
    """tan x = sin x / cos x"""
    return self.sin() / self.cos()


def abs(self: Tensor) -> Tensor:
    """|x| (its slope is 0 at 0)"""
    if self.dtype.is_bool or self.dtype.kind == "u":
        return self
    return self.maximum(-self)


def sign(self: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of x (0 for NaN, as PyTorch); its gradient is 0"""
    if self.dtype.is_bool:
        return self
    s = (self > 0).cast(self.dtype) - (self < 0).cast(self.dtype)
    return _zero_grad(s, self)


def trunc(self: Tensor) -> Tensor:
    """Round toward zero through an integer cast for |x| below the dtype's first all-integer
    power of two (2^52 for float64 through int64; 2^23 for 32-bit and narrower floats through
    int32, whose SIMD conversions every x86 vector unit has); larger values, inf and NaN are
    already integral and pass through. A zero result keeps x's sign (x * 0), like PyTorch's -0.0.
    The gradient is 0 (as for floor, ceil, round)."""
    if not self.dtype.is_float:
        return self
    wide = self.dtype.itemsize > 4
    small = self.abs() < 2.0 ** (52 if wide else 23)  # False for NaN
    # (no NaN or inf reaches the cast)
    t = small._where(self, 0).cast(dtypes.int64 if wide else dtypes.int32).cast(self.dtype)
    return _zero_grad(small._where((t == 0)._where(self * 0, t), self), self)


def floor(self: Tensor) -> Tensor:
    """the largest integer <= x (slope 0)"""
    t = self.trunc()
    return (t > self)._where(t - 1, t)


def ceil(self: Tensor) -> Tensor:
    """the smallest integer >= x (slope 0)"""
    t = self.trunc()
    return (t < self)._where(t + 1, t)


def round(self: Tensor, decimals: builtins.int = 0) -> Tensor:
    """Round half to even, like PyTorch; decimals=d rounds x * 10^d and divides back (as PyTorch)."""
    if decimals:
        if not self.dtype.is_float:
            raise DTypeError(f"round: decimals={decimals} is not supported for integer dtype {self.dtype.name}")
        if self.dtype in (dtypes.float16, dtypes.bfloat16):
            return self.float().round(decimals).cast(self.dtype)
        p = 10.0 ** builtins.abs(decimals)
        return _div_rounded((self * p).round(), p) if decimals > 0 else _div_rounded(self, p).round() * p
    f = self.floor()
    diff = self - f
    half = f * 0.5
    even = half.floor() == half
    r = (diff > 0.5)._where(f + 1, (diff < 0.5)._where(f, even._where(f, f + 1)))
    return (r == 0)._where(self * 0, r)  # -0.4 rounds to -0.0, like PyTorch


def isnan(self: Tensor) -> Tensor:
    """x != x (True for NaN)"""
    return self != self


def isinf(self: Tensor) -> Tensor:
    """|x| == inf"""
    return self.abs() == math.inf


def isfinite(self: Tensor) -> Tensor:
    """not NaN and not +-inf"""
    return (self.isnan() | self.isinf()).logical_not()


@composite
def tanh(self: Tensor) -> Tensor:
    """2*sigmoid(2x) - 1 (sigmoid never overflows: tanh(+-inf) = +-1, slope 0 there); near 0, where that
    cancels, x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 (fed 0 elsewhere, so no inf reaches the gradient)"""
    if self.dtype in (dtypes.float16, dtypes.bfloat16):
        return self.float().tanh().cast(self.dtype)
    x = self if self.dtype.is_float else self.float()
    cut = 0.01 if x.dtype == dtypes.float64 else 0.25  # series truncation error < eps of the dtype
    near0 = x.abs() < cut
    xs = near0._where(x, 0.0)
    x2 = xs * xs
    small = xs * (1 + x2 * (-1 / 3 + x2 * (2 / 15 + x2 * (-17 / 315 + x2 * (62 / 2835)))))
    return near0._where(small, 2.0 * (2.0 * x).sigmoid() - 1.0)


def _erf_series(x: Tensor) -> Tensor:
    """erf x = 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)) for |x| < 0.5 (to the dtype's precision)"""
    x2 = x * x
    n = 12 if x.dtype == dtypes.float64 else 6
    acc: Any = (-1) ** n / (math.factorial(n) * (2 * n + 1))
    for k in range(n - 1, -1, -1):
        acc = (-1) ** k / (math.factorial(k) * (2 * k + 1)) + x2 * acc
    return x * acc * (2 / math.sqrt(math.pi))


def _erfc_pos(z: Tensor) -> Tensor:
    """erfc z for z >= 0: t e^(-z^2 + P(t)), t = 1/(1 + z/2), P a Chebyshev fit (relative error < 1.2e-7 for
    every z >= 0, so the tails keep their digits)"""
    t = (1 + 0.5 * z).reciprocal()
    c = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
         1.00002368, -1.26551223)
    p: Any = c[0]
    for ci in c[1:]:
        p = ci + t * p
    return t * (p - z * z).exp()


def _erf_erfc(x: Tensor) -> tuple[Tensor, Tensor]:
    """(erf x, erfc x). float64: 2/sqrt(pi) e^(-x^2) sum (2x^2)^n x / (2n+1)!! (positive terms) for |x| < 2 and
    the continued fraction erfc z = e^(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))) beyond.
    float32: the alternating series for |x| < 0.5 and the Chebyshev fit beyond."""
    neg = x < 0
    ax = neg._where(-x, x)
    if x.dtype == dtypes.float64:
        small = ax < 2
        xs = small._where(x, 0.0)
        x2 = xs * xs
        acc: Any = 1.0
        for n in range(50, -1, -1):
            acc = 1 + x2 * (2 / (2 * n + 3)) * acc
        es = (-x2).exp() * xs * acc * (2 / math.sqrt(math.pi))
        z = small._where(2.0, ax)
        t: Any = z
        for k in range(50, 0, -1):
            t = z + (k / 2) / t
        ec = (-z * z).exp() * (1 / math.sqrt(math.pi)) / t
    else:
        small = ax < 0.5
        es = _erf_series(small._where(x, 0.0))
        ec = _erfc_pos(small._where(1.0, ax))
    return small._where(es, neg._where(ec - 1, 1 - ec)), small._where(1 - es, neg._where(2 - ec, ec))


def _erf_slope(x: Tensor) -> Tensor:
    return (-x * x).exp() * (2 / math.sqrt(math.pi))


def erf(self: Tensor) -> Tensor:
    """erf x = 2/sqrt(pi) int_0^x e^(-t^2) dt (series near 0, 1 - erfc beyond); slope 2/sqrt(pi) e^(-x^2)"""
    if (r := _lowp(self, "erf")) is not None:
        return r
    x = _floatish(self)
    return _with_slope(_erf_erfc(x)[0], x, _erf_slope(x))


def erfc(self: Tensor) -> Tensor:
    """erfc x = 1 - erf x, accurate in the right tail; slope -2/sqrt(pi) e^(-x^2)"""
    if (r := _lowp(self, "erfc")) is not None:
        return r
    x = _floatish(self)
    return _with_slope(_erf_erfc(x)[1], x, -_erf_slope(x))


def clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """min(max(x, min), max): scalars or tensors (broadcast, promoted as PyTorch); max wins where min > max;
    NaN stays NaN; the gradient reaches x where min <= x <= max and each bound where it is taken"""
    if min is None and max is None:
        raise TensorValueError("clamp: at least one of min or max must be given")
    x = self  # selects, not max/min: the gradient is 1 at the bounds (as in PyTorch), NaN stays NaN
    if min is not None:
        x, lo = _broadcast_pair(x, min, "clamp")
        x = ((x < lo) | lo.isnan())._where(lo, x)
    if max is not None:
        x, hi = _broadcast_pair(x, max, "clamp")
        x = ((x > hi) | hi.isnan())._where(hi, x)
    return x


def clip(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """clamp(x, min, max)"""
    return self.clamp(min, max)


def cast(self: Tensor, dtype: Any) -> Tensor:
    """x converted to dtype (the same tensor if it has it)"""
    dt = to_dtype(dtype)
    return self if dt == self.dtype else self._new(UOp(Ops.CAST, dt, (self.uop,)), self)


def bitcast(self: Tensor, dtype: Any) -> Tensor:
    """x's bits read as dtype (of the same size)"""
    dt = to_dtype(dtype)
    if dt.itemsize != self.dtype.itemsize:
        raise DTypeError(f"bitcast: {self.dtype.name} and {dt.name} differ in size")
    return self if dt == self.dtype else self._new(UOp(Ops.BITCAST, dt, (self.uop,)), self)


def _log1p(y: Tensor) -> Tensor:
    """log(1 + y), accurate for tiny y: log(u) * y / (u - 1) with u = 1 + y (Goldberg's trick)."""
    u = 1 + y
    exact, inf = u == 1, u == math.inf
    us = (exact | inf)._where(2, u)  # (no 0/0 or inf/inf in the branch not taken)
    return exact._where(y, inf._where(u, us.log() * y / (us - 1)))


# more unary math: each computed in float32 for half types (rounded once), ints promoted to float32 ---------
def _floatish(self: Tensor) -> Tensor:
    return self if self.dtype.is_float else self.float()


def _lowp(self: Tensor, name: str) -> Tensor | None:
    """float16/bfloat16: the op in float32, rounded once (None for other dtypes)."""
    if self.dtype in (dtypes.float16, dtypes.bfloat16):
        return getattr(self.float(), name)().cast(self.dtype)
    return None


def _fwd(val: Tensor, grad_src: Tensor) -> Tensor:
    """val's value with grad_src's gradient (grad_src's value is close to val's; used where the accurate
    formula's product rule would multiply an infinity by 0)."""
    return grad_src + (val - grad_src).detach()


def _with_slope(val: Tensor, x: Tensor, slope: Tensor, *more: Tensor) -> Tensor:
    """val's value with d/dx = slope, PyTorch's closed-form derivative, also where it is +-inf or NaN
    (outside the domain, at poles); 0 at infinite x. `more` gives further (input, slope) pairs.
    First order only: the slopes are constants to autograd."""
    pairs = [(x, slope), *zip(more[::2], more[1::2])]
    pairs = [(t, sl) for t, sl in pairs if t.requires_grad]
    if not pairs or not no_grad.enabled:
        return val
    out = val.detach()
    for t, sl in pairs:
        s = sl.detach()._broadcast_to(val.shape, "grad") if sl.shape != val.shape else sl.detach()
        keep = (t.abs() != math.inf) & (t.isnan().logical_not() | val.isnan())  # (a NaN x stays where val is NaN)
        xs = keep._where(t, 0.0)
        z = (xs - xs.detach())._broadcast_to(val.shape, "grad")  # value 0, slope 1
        fin_s, nan_s = s.isfinite(), s.isnan()
        lin = z * fin_s._where(s, 0.0)
        # where the slope is infinite, +-sqrt(0): value 0, slope +-inf; where it is NaN, sqrt(0) sqrt(-0): slope
        # NaN. Each takes z only where it is used, so the 0 * inf of the others never reaches x.
        zi, zn = (fin_s | nan_s)._where(0.0, z), nan_s._where(z, 0.0)
        ri = zi.sqrt()
        sing = nan_s._where(zn.sqrt() * (-zn).sqrt(), (s > 0)._where(ri, -ri))
        out = out + fin_s._where(lin, sing).cast(out.dtype)
    return out


def _atan_unit(y: Tensor) -> Tensor:
    """atan(y) for |y| <= 1: two half-angle steps t -> t / (1 + sqrt(1 + t^2)) bring |t| below tan(pi/16),
    then 4 * (t - t^3/3 + t^5/5 - ...) to the dtype's precision."""
    t = y
    for _ in range(2):
        t = t / (1 + (1 + t * t).sqrt())
    t2 = t * t
    n = 11 if y.dtype == dtypes.float64 else 5
    acc: Any = (-1) ** n / (2 * n + 1)
    for k in range(n - 1, -1, -1):
        acc = (-1) ** k / (2 * k + 1) + t2 * acc
    return 4 * t * acc


def atan(self: Tensor) -> Tensor:
    """atan x: the series on |x| <= 1, sign(x) pi/2 - atan(1/x) beyond"""
    if (r := _lowp(self, "atan")) is not None:
        return r
    x = _floatish(self)
    big = x.abs() > 1
    inv = big._where(x, 1.0).reciprocal()
    a = _atan_unit(big._where(inv, x))
    hp = Tensor.full(x.shape, math.pi / 2, x.dtype, x.device)
    return big._where((x < 0)._where(-hp, hp) - a, a)


def atan2(self: Tensor, other: Any) -> Tensor:
    """atan2(y, x): the angle of the point (x, y) in (-pi, pi], C's rules at zeros and infinities"""
    y, x = _broadcast_pair(self, other, "atan2")
    if y.dtype in (dtypes.float16, dtypes.bfloat16):
        return y.float().atan2(x.float()).cast(y.dtype)
    y, x = _floatish(y), _floatish(x)
    sy, sx = y.signbit(), x.signbit()
    ay, ax = sy._where(-y, y), sx._where(-x, x)
    swap = ay > ax
    num, den = swap._where(ax, ay), swap._where(ay, ax)
    both0, bothinf = (ax == 0) & (ay == 0), (ax == math.inf) & (ay == math.inf)
    t = both0._where(0.0, bothinf._where(1.0, num / (both0 | bothinf)._where(1.0, den)))
    a = _atan_unit(t)
    a = swap._where(math.pi / 2 - a, a)
    a = sx._where(math.pi - a, a)
    return sy._where(-a, a)


def arctan2(self: Tensor, other: Any) -> Tensor:
    """atan2(y, x)"""
    return self.atan2(other)


def _one_minus_sq(x: Tensor) -> Tensor:
    """1 - x^2 computed as (1 - x)(1 + x) (exact near |x| = 1), differentiated as 1 - x*x (whose slope -2x
    stays finite where a factor is 0)"""
    return _fwd((1 - x) * (1 + x), 1 - x * x)


def asin(self: Tensor) -> Tensor:
    """asin x = 2 atan(x / (1 + sqrt(1 - x^2))); NaN outside [-1, 1]; slope 1/sqrt(1 - x^2) (inf at +-1)"""
    if (r := _lowp(self, "asin")) is not None:
        return r
    x = _floatish(self)
    edge = x.abs() == 1
    xs = edge._where(0.0, x)
    mid = 2 * _atan_unit(xs / (1 + _one_minus_sq(xs).sqrt()))
    # at +-1: +-(pi/2 - sqrt(2(1 -+ x))), the same value with the infinite slope of PyTorch
    pos = x > 0
    end = pos._where(math.pi / 2 - (2 * (1 - x)).sqrt(), (2 * (1 + x)).sqrt() - math.pi / 2)
    return edge._where(end, mid)


def acos(self: Tensor) -> Tensor:
    """acos x = 2 atan(sqrt((1 - x) / (1 + x))); NaN outside [-1, 1]; slope -1/sqrt(1 - x^2)"""
    if (r := _lowp(self, "acos")) is not None:
        return r
    x = _floatish(self)
    edge = x.abs() == 1
    xs = edge._where(0.0, x)
    u = ((1 - xs) / (1 + xs)).sqrt()
    mid = 2 * (u > 1)._where(math.pi / 2 - _atan_unit((u > 1)._where(u, 1.0).reciprocal()), _atan_unit(
        (u > 1)._where(1.0, u)))
    end = (x > 0)._where((2 * (1 - x)).sqrt(), math.pi - (2 * (1 + x)).sqrt())
    return edge._where(end, mid)


def sinh(self: Tensor) -> Tensor:
    """sinh x = (e^x - e^-x)/2 as (m + m/(m+1))/2 with m = expm1(|x|) (no cancellation near 0), and as
    (e^(|x|/2)/2) e^(|x|/2) beyond |x| = 20 (finite up to the overflow of sinh itself); odd"""
    if (r := _lowp(self, "sinh")) is not None:
        return r
    x = _floatish(self)
    neg = x < 0
    ax = neg._where(-x, x)
    big = ax > 20
    m = big._where(0.0, ax).expm1()
    h = big._where(ax, 0.0).mul(0.5).exp()
    v = big._where(h * 0.5 * h, (m + m / (m + 1)) * 0.5)
    return neg._where(-v, v)


def cosh(self: Tensor) -> Tensor:
    """cosh x = (e^|x| + e^-|x|)/2, as (e^(|x|/2)/2) e^(|x|/2) beyond |x| = 20"""
    if (r := _lowp(self, "cosh")) is not None:
        return r
    x = _floatish(self)
    ax = (x < 0)._where(-x, x)
    big = ax > 20
    e = big._where(0.0, ax).exp()
    h = big._where(ax, 0.0).mul(0.5).exp()
    return big._where(h * 0.5 * h, (e + e.reciprocal()) * 0.5)


def asinh(self: Tensor) -> Tensor:
    """asinh x = sign(x) log1p(|x| + x^2/(1 + sqrt(1 + x^2))); ln 2 + log|x| beyond |x| = 1e8"""
    if (r := _lowp(self, "asinh")) is not None:
        return r
    x = _floatish(self)
    neg = x < 0
    ax = neg._where(-x, x)
    big = ax > 1e8
    s = big._where(0.0, ax)
    v = big._where(big._where(ax, 1.0).log() + math.log(2), (s + s * s / (1 + (1 + s * s).sqrt())).log1p())
    return neg._where(-v, v)


def acosh(self: Tensor) -> Tensor:
    """acosh x = log1p(t + sqrt(2t + t^2)), t = x - 1; ln 2 + log x beyond 1e8; NaN below 1 (slope inf at 1)"""
    if (r := _lowp(self, "acosh")) is not None:
        return r
    x = _floatish(self)
    big, edge = x > 1e8, x == 1
    t = (big | edge)._where(0.0, x - 1)
    mid = (t + (t * (2 + t)).sqrt()).log1p()
    v = big._where(big._where(x, 1.0).log() + math.log(2), mid)
    v = (x < 1)._where(math.nan, edge._where(0.0, v))
    return _with_slope(v, x, (x * x - 1).rsqrt())


def atanh(self: Tensor) -> Tensor:
    """atanh x = sign(x) log1p(2|x| / (1 - |x|)) / 2; +-inf at +-1, NaN beyond"""
    if (r := _lowp(self, "atanh")) is not None:
        return r
    x = _floatish(self)
    neg = x < 0
    ax = neg._where(-x, x)
    edge = ax == 1
    s = edge._where(0.0, ax)
    v = (2 * s / (1 - s)).log1p() * 0.5
    v = edge._where(math.inf, v)
    return _with_slope(neg._where(-v, v), x, (1 - x * x).reciprocal())


def arcsin(self: Tensor) -> Tensor:
    """asin x"""
    return self.asin()


def arccos(self: Tensor) -> Tensor:
    """acos x"""
    return self.acos()


def arctan(self: Tensor) -> Tensor:
    """atan x"""
    return self.atan()


def arcsinh(self: Tensor) -> Tensor:
    """asinh x"""
    return self.asinh()


def arccosh(self: Tensor) -> Tensor:
    """acosh x"""
    return self.acosh()


def arctanh(self: Tensor) -> Tensor:
    """atanh x"""
    return self.atanh()


def log10(self: Tensor) -> Tensor:
    """log10 x = log2(x) * log10(2)"""
    return self.log2().mul(math.log10(2))


def log1p(self: Tensor) -> Tensor:
    """log(1 + x), accurate for tiny x"""
    if (r := _lowp(self, "log1p")) is not None:
        return r
    x = _floatish(self)
    return _with_slope(_log1p(x), x, (1 + x).reciprocal())


def expm1(self: Tensor) -> Tensor:
    """e^x - 1, accurate for tiny x: (u - 1) x / log(u) with u = e^x (Kahan); -1 once e^x rounds to 0"""
    if (r := _lowp(self, "expm1")) is not None:
        return r
    x = _floatish(self)
    u = x.exp()
    um1 = u - 1
    one, big = um1 == 0, (u == math.inf) | (um1 == -1)
    safe = (one | big)._where(2.0, u)
    v = (safe - 1) * x / safe.log()
    return one._where(x, big._where(um1, v))


def square(self: Tensor) -> Tensor:
    """x * x"""
    return self * self


def frac(self: Tensor) -> Tensor:
    """x - trunc(x) (the sign of x)"""
    return self - self.trunc()


def fix(self: Tensor) -> Tensor:
    """trunc(x)"""
    return self.trunc()


def hypot(self: Tensor, other: Any) -> Tensor:
    """sqrt(a^2 + b^2) without overflow: m sqrt(1 + (n/m)^2), m = max(|a|, |b|), n = min; inf if either is"""
    a, b = _broadcast_pair(self, other, "hypot")
    if not a.dtype.is_float:
        raise DTypeError(f"hypot: not implemented for {a.dtype.name} (expects floating tensors)")
    if a.dtype in (dtypes.float16, dtypes.bfloat16):
        return a.float().hypot(b.float()).cast(a.dtype)
    aa, ab = (a < 0)._where(-a, a), (b < 0)._where(-b, b)
    swap = ab > aa
    m, n = swap._where(ab, aa), swap._where(aa, ab)
    ok = (m != 0) & (m != math.inf)
    ms = ok._where(m, 1.0)
    r = n / ms
    out = ok._where(ms * (1 + r * r).sqrt(), m + n)
    h = ((aa == math.inf) | (ab == math.inf))._where(math.inf, out)
    return _with_slope(h, a, a / h, b, b / h)


def deg2rad(self: Tensor) -> Tensor:
    """x * pi / 180"""
    return _floatish(self) * (math.pi / 180)


def rad2deg(self: Tensor) -> Tensor:
    """x * 180 / pi"""
    return _floatish(self) * (180 / math.pi)


def sinc(self: Tensor) -> Tensor:
    """sin(pi x) / (pi x); 1 - p^2/6 + p^4/120 - ... for |p| = |pi x| < 0.1 (1 at 0)"""
    if (r := _lowp(self, "sinc")) is not None:
        return r
    x = _floatish(self)
    near0 = x.abs() < 0.1 / math.pi
    p = near0._where(x, 0.0) * math.pi
    p2 = p * p
    series = 1 - p2 / 6 * (1 - p2 / 20 * (1 - p2 / 42 * (1 - p2 / 72)))
    px = near0._where(1.0, x) * math.pi
    return near0._where(series, px.sin() / px)


def xlogy(self: Tensor, other: Any) -> Tensor:
    """x * log(y), 0 where x == 0 (unless y is NaN)"""
    x, y = _broadcast_pair(self, other, "xlogy")
    x, y = _floatish(x), _floatish(y)
    z = (x == 0) & y.isnan().logical_not()
    return _with_slope(z._where(0.0, x * z._where(1.0, y).log()), x, ((x == 0) & (y <= 0))._where(0.0, y.log()), y,
                       x / y)


def signbit(self: Tensor) -> Tensor:
    """True where the sign bit is set (-0.0, negative numbers, negative NaN)"""
    if self.dtype.is_bool or self.dtype.kind == "u":
        return Tensor.full(self.shape, False, dtypes.bool, self.device)
    if not self.dtype.is_float:
        return self < 0
    x = self if self.dtype.itemsize >= 4 else self.float()
    if x.ndim == 0:  # (INTERP cannot store a bitcast 0-d value): the sign of x, of 1/x at zeros; NaN counts as +
        return (x < 0) | ((x == 0) & (x.reciprocal() < 0))
    return x.bitcast(dtypes.int64 if x.dtype.itemsize == 8 else dtypes.int32) < 0


def copysign(self: Tensor, other: Any) -> Tensor:
    """|a| with the sign (bit) of b; slope sign(a) sign(b) for a (0 at a = 0), none for b"""
    a, b = _broadcast_pair(self, other, "copysign")
    a, b = _floatish(a), _floatish(b)
    mag = a.maximum(-a)  # |a| (its slope is 0 at 0, as PyTorch's)
    return _zero_grad(b.signbit()._where(-mag, mag), b, detach=False)


def sgn(self: Tensor) -> Tensor:
    """sign(x) (for real tensors)"""
    return self.sign()


def float_power(self: Tensor, exponent: Any) -> Tensor:
    """x ** y in float64"""
    e = exponent.double() if isinstance(exponent, Tensor) else exponent
    return self.double().pow(e)


def lerp(self: Tensor, end: Any, weight: Any) -> Tensor:
    """a + w (b - a) for w < 0.5, b - (b - a)(1 - w) otherwise (exact at w = 0 and 1)"""
    a, b = _broadcast_pair(self, end, "lerp")
    w = weight if isinstance(weight, Tensor) else _as_tensor(weight, a)
    d = b - a
    return (w.abs() < 0.5)._where(a + w * d, b - d * (1 - w))


def addcmul(self: Tensor, tensor1: Tensor, tensor2: Tensor, value: Any = 1) -> Tensor:
    """self + value * t1 * t2"""
    return self + tensor1 * tensor2 * value if value != 1 else self + tensor1 * tensor2


def addcdiv(self: Tensor, tensor1: Tensor, tensor2: Tensor, value: Any = 1) -> Tensor:
    """self + value * t1 / t2 (integer t1 and t2 raise, as PyTorch)"""
    if not tensor1.dtype.is_float and not tensor2.dtype.is_float:
        raise DTypeError("addcdiv: integer division with addcdiv is no longer supported; divide floating tensors")
    return self + tensor1 / tensor2 * value if value != 1 else self + tensor1 / tensor2


def clamp_min(self: Tensor, min: Any) -> Tensor:
    """max(x, min) (NaN stays NaN)"""
    return self.clamp(min=min)


def clamp_max(self: Tensor, max: Any) -> Tensor:
    """min(x, max) (NaN stays NaN)"""
    return self.clamp(max=max)


def nan_to_num(self: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """NaN -> nan, +inf -> posinf (default: the dtype's max), -inf -> neginf (default: its lowest)"""
    if not self.dtype.is_float:
        return self
    fi = np.finfo(np.float32) if self.dtype == dtypes.bfloat16 else np.finfo(self.dtype.np)
    hi = float(fi.max) if self.dtype != dtypes.bfloat16 else 3.3895313892515355e38
    pi = hi if posinf is None else posinf
    ni = -hi if neginf is None else neginf
    x = self.isnan()._where(nan, self)
    return (x == math.inf)._where(pi, (x == -math.inf)._where(ni, x))


def isclose(self: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: builtins.bool = False) -> Tensor:
    """|a - b| <= atol + rtol |b| (or a == b, for infinities); NaNs equal only with equal_nan"""
    a, b = _broadcast_pair(self, other, "isclose")
    eq = a == b
    if not a.dtype.is_float:
        if rtol == 0 and atol == 0:
            return eq
        a, b = a.double(), b.double()
    close = eq | ((a - b).abs() <= atol + rtol * b.abs())
    close = close & (a.isinf() | b.isinf()).logical_not() | eq
    return close | (a.isnan() & b.isnan()) if equal_nan else close


def allclose(self: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: builtins.bool = False) -> builtins.bool:
    """all(isclose(a, b)) as a Python bool"""
    return builtins.bool(self.isclose(other, rtol, atol, equal_nan).all().item())


def equal(self: Tensor, other: Any) -> builtins.bool:
    """True when both have the same shape and the same values (NaN != NaN), as a Python bool"""
    o = other if isinstance(other, Tensor) else Tensor(other, device=self.device)
    if self.shape != o.shape:
        return False
    return builtins.bool((self == o).all().item())


def isposinf(self: Tensor) -> Tensor:
    """x == +inf"""
    return self == math.inf if self.dtype.is_float else Tensor.full(self.shape, False, dtypes.bool, self.device)


def isneginf(self: Tensor) -> Tensor:
    """x == -inf"""
    return self == -math.inf if self.dtype.is_float else Tensor.full(self.shape, False, dtypes.bool, self.device)


def isreal(self: Tensor) -> Tensor:
    """True everywhere (real tensors)"""
    return Tensor.full(self.shape, True, dtypes.bool, self.device)


def heaviside(self: Tensor, values: Any) -> Tensor:
    """0 for x < 0 (and NaN), values for x == 0, 1 for x > 0"""
    x, v = _broadcast_pair(self, values, "heaviside")
    return (x == 0)._where(v, (x > 0).cast(x.dtype))


def bitwise_and(self: Tensor, other: Any) -> Tensor:
    """a & b (integers and bools)"""
    return self._bitop(Ops.AND, other, "bitwise_and")


def bitwise_or(self: Tensor, other: Any) -> Tensor:
    """a | b (integers and bools)"""
    return self._bitop(Ops.OR, other, "bitwise_or")


def bitwise_xor(self: Tensor, other: Any) -> Tensor:
    """a ^ b (integers and bools)"""
    return self._bitop(Ops.XOR, other, "bitwise_xor")


def bitwise_left_shift(self: Tensor, other: Any) -> Tensor:
    """a << b (integers)"""
    return self._bitop(Ops.SHL, other, "bitwise_left_shift")


def bitwise_right_shift(self: Tensor, other: Any) -> Tensor:
    """a >> b (integers; arithmetic for signed)"""
    return self._bitop(Ops.SHR, other, "bitwise_right_shift")


def negative(self: Tensor) -> Tensor:
    """-x"""
    return self.neg()


def positive(self: Tensor) -> Tensor:
    """x"""
    return self


def multiply(self: Tensor, other: Any) -> Tensor:
    """a * b"""
    return self.mul(other)


def subtract(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """a - alpha * b"""
    return self.sub(other, alpha)


def divide(self: Tensor, other: Any, rounding_mode: str | None = None) -> Tensor:
    """a / b (see div)"""
    return self.div(other, rounding_mode=rounding_mode)


def absolute(self: Tensor) -> Tensor:
    """|x|"""
    return self.abs()


def greater(self: Tensor, other: Any) -> Tensor:
    """a > b"""
    return self > other


def greater_equal(self: Tensor, other: Any) -> Tensor:
    """a >= b"""
    return self >= other


def less(self: Tensor, other: Any) -> Tensor:
    """a < b"""
    return self < other


def less_equal(self: Tensor, other: Any) -> Tensor:
    """a <= b"""
    return self <= other


def not_equal(self: Tensor, other: Any) -> Tensor:
    """a != b"""
    return self != other
