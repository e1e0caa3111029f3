"""nn-functional compositions on a Tensor: activations, softmax and log_softmax, logsumexp, linear."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

from ..dtype import dtypes
from ..errors import TensorValueError
from ..ops.uop import Ops, UOp
from .common import _const_uop, _norm_axis, no_grad
from .composite import composite
from .elementwise import _log1p, _with_slope

if TYPE_CHECKING:
    from .core import Tensor


def relu(self: Tensor) -> Tensor:
    """x > 0 ? x : 0, NaN stays NaN; the gradient at 0 is 0, as in PyTorch"""
    u = self.uop
    if u.dtype.kind == "f":  # built as UOps: the graph of the composition below, without its six tensors
        zero = _const_uop(0.0, u.dtype, u.shape)  # type: ignore[arg-type]
        nan = UOp(Ops.CMPNE, dtypes.bool, (u, u))
        return self._new(UOp(Ops.WHERE, u.dtype, (UOp(Ops.CMPLT, dtypes.bool, (zero, u)), u,
                                                   UOp(Ops.WHERE, u.dtype, (nan, u, zero)))), self)
    return (self > 0)._where(self, (self != self)._where(self, 0))


@composite
def sigmoid(self: Tensor) -> Tensor:
    """1 / (1 + e^-x), as 1/(1+e) for x >= 0 and e/(1+e) for x < 0 with e = e^-|x| (never inf,
    so no NaN reaches the gradient from the branch not taken)"""
    x = self if self.dtype.is_float else self.float()
    pos = x >= 0
    e = pos._where(-x, x).exp()
    r = (1 + e).reciprocal()
    return pos._where(r, e * r)


def leaky_relu(self: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x > 0 ? x : negative_slope * x (the slope at 0 is negative_slope, as PyTorch's)"""
    return (self > 0)._where(self, self * negative_slope)


def elu(self: Tensor, alpha: float = 1.0) -> Tensor:
    """x > 0 ? x : alpha (e^x - 1) (expm1, fed only x <= 0, so no e^x overflow reaches the gradient)"""
    x = self if self.dtype.is_float else self.float()
    pos = x > 0
    return pos._where(x, alpha * pos._where(0.0, x).expm1())


def selu(self: Tensor) -> Tensor:
    """scale * elu(x, alpha) with scale = 1.0507009873554805, alpha = 1.6732632423543772"""
    return self.elu(1.6732632423543772) * 1.0507009873554805


def celu(self: Tensor, alpha: float = 1.0) -> Tensor:
    """x > 0 ? x : alpha (e^(x/alpha) - 1)"""
    if alpha == 0:
        raise TensorValueError("celu: ZeroDivisionError (alpha must not be 0)")
    x = self if self.dtype.is_float else self.float()
    pos = x > 0
    return pos._where(x, alpha * (pos._where(0.0, x) * (1 / alpha)).expm1())


def gelu(self: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) = x erfc(-x/sqrt 2) / 2 (no cancellation in the left tail); approximate='tanh':
    0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), which is x or -0 exactly beyond |x| = 10, where the
    cube would overflow (finite value and slope for every finite x)"""
    if approximate not in ("none", "tanh"):
        raise TensorValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = self if self.dtype.is_float else self.float()
    if x.dtype in (dtypes.float16, dtypes.bfloat16):
        return x.float().gelu(approximate).cast(x.dtype)
    if approximate == "tanh":
        big = x.abs() > 10
        xs = big._where(0.0, x)
        inner = math.sqrt(2 / math.pi) * (xs + 0.044715 * xs * xs * xs)
        out = big._where((x > 0)._where(x, x * 0), 0.5 * xs * (1 + inner.tanh()))
    else:
        out = 0.5 * x * (x * (-1 / math.sqrt(2))).erfc()
    if out.requires_grad:
        _gelu_gradient(x, out, approximate)
    return out


def _gelu_gradient(x: Tensor, out: Tensor, approximate: str) -> None:
    """The slope of gelu as one expression of x (tanh: 0.5(1 + t) + 0.5x(1 - t^2) sqrt(2/pi)(1 + 3c x^2);
    exact: Phi(x) + x phi(x)): the backward reads x alone, so the forward's intermediates are not kept."""
    from ..ops.gradient import CUSTOM_GRADIENTS

    x_uop, dev = x.uop, x.device

    def grads(node: Any, ctx: Any) -> list[Any]:
        g, v = type(x)._from(ctx, dev), type(x)._from(x_uop, dev)
        if approximate == "tanh":
            big = v.abs() > 10
            vs = big._where(0.0, v)
            t = (math.sqrt(2 / math.pi) * (vs + 0.044715 * vs * vs * vs)).tanh()
            slope = 0.5 * (1 + t) + 0.5 * vs * (1 - t * t) * (math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * vs * vs))
            slope = big._where((v > 0).cast(v.dtype), slope)
        else:
            slope = 0.5 * (v * (-1 / math.sqrt(2))).erfc() + v * (v * v * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
        return [(x_uop, (g * slope).uop)]
    CUSTOM_GRADIENTS[out.uop] = grads


def hardtanh(self: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clamp(x, min_val, max_val); the slope is 1 strictly inside, 0 at and beyond the bounds"""
    if min_val > max_val:
        raise TensorValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return (self <= min_val)._where(min_val, (self >= max_val)._where(max_val, self))


def relu6(self: Tensor) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6)"""
    return self.hardtanh(0.0, 6.0)


def hardsigmoid(self: Tensor) -> Tensor:
    """0 for x <= -3, 1 for x >= 3, x/6 + 1/2 between"""
    x = self if self.dtype.is_float else self.float()
    return (x <= -3)._where(0.0, (x >= 3)._where(1.0, x * (1 / 6) + 0.5))


def hardswish(self: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6: 0 for x <= -3, x for x >= 3, x (x + 3) / 6 between (slope x/3 + 1/2 there;
    0 at -3 and 1 at 3, as PyTorch's)"""
    x = self if self.dtype.is_float else self.float()
    return (x <= -3)._where(x * 0, (x < 3)._where(x * (x + 3) * (1 / 6), x))


def mish(self: Tensor) -> Tensor:
    """x * tanh(softplus(x))"""
    return self * self.softplus().tanh()


def softsign(self: Tensor) -> Tensor:
    """x / (1 + |x|)"""
    return self / (1 + self.abs())


def softmin(self: Tensor, dim: builtins.int = -1, dtype: Any = None) -> Tensor:
    """softmax(-x) along dim"""
    x = self.cast(dtype) if dtype is not None else self
    return (-x).softmax(dim)


def tanhshrink(self: Tensor) -> Tensor:
    """x - tanh(x)"""
    return self - self.tanh()


def softshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd for x > lambd, x + lambd for x < -lambd, 0 between (NaN stays NaN)"""
    if lambd < 0:
        raise TensorValueError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}.")
    return (self > lambd)._where(self - lambd, (self < -lambd)._where(self + lambd, self.isnan()._where(self, 0)))


def hardshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, 0 elsewhere (NaN stays NaN)"""
    return ((self >= -lambd) & (self <= lambd))._where(0, self)


def threshold(self: Tensor, threshold: float, value: float) -> Tensor:
    """x > threshold ? x : value (NaN stays NaN)"""
    return (self <= threshold)._where(value, self)


def logsigmoid(self: Tensor) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|)"""
    x = self if self.dtype.is_float else self.float()
    neg = x < 0
    return neg._where(x, 0.0) - _log1p(neg._where(x, -x).exp())


def glu(self: Tensor, dim: builtins.int = -1) -> Tensor:
    """a * sigmoid(b), with a and b the halves of x along dim"""
    if self.ndim == 0:
        raise TensorValueError("glu does not support scalars because halving size must be even")
    d = _norm_axis("glu", dim, self.ndim)
    if self.shape[d] % 2:
        raise TensorValueError(f"glu: Halving dimension must be even, but dimension {d} is size {self.shape[d]}")
    a, b = self.chunk(2, d)
    return a * b.sigmoid()


def prelu(self: Tensor, weight: Tensor) -> Tensor:
    """x > 0 ? x : weight * x, one weight per channel (dim 1) or a single weight"""
    n = weight.numel()
    if n != 1:
        ch = self.shape[1] if self.ndim >= 2 else None
        if ch != n:
            raise TensorValueError(f"prelu: Mismatch of parameter numbers and input channel size. Found parameter "
                                   f"numbers = {n} and channel size = {ch if ch is not None else 1}.")
        w = weight.reshape(n, *([1] * (self.ndim - 2)))
    else:
        w = weight.reshape(())
    return (self > 0)._where(self, w * self)


def rrelu(self: Tensor, lower: float = 1 / 8, upper: float = 1 / 3, training: builtins.bool = False) -> Tensor:
    """x >= 0 ? x : a x, a ~ U(lower, upper) per element in training, (lower + upper)/2 otherwise"""
    if not training:
        return self.leaky_relu((lower + upper) / 2)
    a = Tensor.uniform(*self.shape, low=lower, high=upper, dtype=self.dtype, device=self.device)
    return (self >= 0)._where(self, self * a)


def logit(self: Tensor, eps: float | None = None) -> Tensor:
    """log(z / (1 - z)) with z = clamp(x, eps, 1 - eps) when eps is given (slope 0 outside)"""
    x = self if self.dtype.is_float else self.float()
    z = x if eps is None else x.clamp(eps, 1 - eps)
    slope = (x * (1 - x)).reciprocal()
    out = ((x < 0) | (x > 1))._where(math.nan, slope) if eps is None else \
        ((x < eps) | (x > 1 - eps))._where(0.0, slope)
    return _with_slope((z / (1 - z)).log(), x, out)


def silu(self: Tensor) -> Tensor:
    """x * sigmoid(x)"""
    return self * self.sigmoid()


def softplus(self: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta = (max(bx, 0) + log1p(e^-|bx|)) / beta, linear above threshold"""
    bx = self * beta
    pos = bx >= 0
    y = pos._where(-bx, bx).exp()  # e^-|bx| in (0, 1]: no overflow; log1p keeps tiny values
    return (bx > threshold)._where(self, (pos._where(bx, 0) + _log1p(y)) * (1 / beta))


def logsumexp(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
    """m + log(sum(exp(x - m))), m = max(x)"""
    axis = dim if dim is not None else axis
    self._axes("logsumexp", axis)  # a bad dim is reported under this op's name
    if self.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return self.float().logsumexp(axis, keepdim).cast(self.dtype)
    m = self._shift(axis)
    m = (m.abs() == math.inf)._where(0, m)
    out = (self - m).exp().sum(axis, keepdim=True).log() + m
    return out if keepdim else out.squeeze(self._axes("logsumexp", axis)) if self.ndim else out


def softmax(self: Tensor, dim: builtins.int = -1, dtype: Any = None) -> Tensor:
    """e^(x - max) / sum(e^(x - max))"""
    _norm_axis("softmax", dim, self.ndim)
    x = self.cast(dtype) if dtype is not None else (self if self.dtype.is_float else self.float())
    if x.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return x.float().softmax(dim).cast(x.dtype)
    e = (x - x._shift(dim)).exp()
    out = e / e.sum(dim, keepdim=True)
    if out.requires_grad:  # dx = y (g - sum(g y)): one reduce, instead of the chain rule through exp and sum
        _softmax_gradient(x, out, dim, log=False)
    return out


def _softmax_gradient(x: Tensor, out: Tensor, dim: builtins.int, log: builtins.bool) -> None:
    """The gradient of softmax (dx = y (g - sum(g y))) or log_softmax (dx = g - e^y sum(g)) from its output y."""
    from ..ops.gradient import CUSTOM_GRADIENTS

    x_uop, dev, cls = x.uop, x.device, type(x)

    def grads(node: Any, ctx: Any) -> list[Any]:
        g, y = cls._from(ctx, dev), cls._from(node, dev)
        dx = g - y.exp() * g.sum(dim, keepdim=True) if log else y * (g - (g * y).sum(dim, keepdim=True))
        return [(x_uop, dx.uop)]
    CUSTOM_GRADIENTS[out.uop] = grads


def _shift(self: Tensor, axis: Any) -> Tensor:
    """What exp-normalizing ops (softmax, logsumexp) subtract before exp so that it cannot overflow: the
    max over axis (keepdim), or 0 when axis is empty (max has no value there; a sum of no exps is 0)."""
    axes = self._axes("max", axis)
    if any(self.shape[a] == 0 for a in axes):
        return Tensor.zeros(*[1 if i in axes else s for i, s in enumerate(self.shape)], dtype=self.dtype,
                            device=self.device)
    # the result does not depend on the shift, so its exact gradient is 0: no gradient flows through it
    # (through max it would be the rounding error of sum(softmax) - 1, piled on each row's argmax)
    m = self.amax(axis, keepdim=True)  # (a DETACH node: also for inputs that do not require grad themselves)
    return Tensor._from(UOp(Ops.DETACH, m.dtype, (m.uop,)), m.device)


def log_softmax(self: Tensor, dim: builtins.int = -1, dtype: Any = None) -> Tensor:
    """(x - max) - log(sum(e^(x - max)))"""
    _norm_axis("log_softmax", dim, self.ndim)
    x = self.cast(dtype) if dtype is not None else (self if self.dtype.is_float else self.float())
    if x.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return x.float().log_softmax(dim).cast(x.dtype)
    s = x - x._shift(dim)
    out = s - s.exp().sum(dim, keepdim=True).log()
    if out.requires_grad:
        _softmax_gradient(x, out, dim, log=True)
    return out


def linear(self: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b"""
    wu = getattr(weight, "uop", None)
    if type(wu) is UOp and wu.shape is not None and len(wu.shape) == 2 and self.uop.dtype is wu.dtype \
            and (no_grad.enabled or not weight._rg):
        # (W^T as the node weight.T makes, without its tensor's view bookkeeping: it never outlives this call)
        wt = type(self)._from(UOp(Ops.PERMUTE, wu.dtype, (wu,), (1, 0)), weight.device, weight._rg)
        out = self.matmul(wt)
    else:
        out = self.matmul(weight.T)
    return out + bias if bias is not None else out
