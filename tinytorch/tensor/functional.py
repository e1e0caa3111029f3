"""nn-functional compositions on a Tensor: activations, softmax and log_softmax, logsumexp, linear."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

from ..dtype import dtypes
from .common import _norm_axis
from .elementwise import _log1p

if TYPE_CHECKING:
    from .core import Tensor


def relu(self: Tensor) -> Tensor:
    """x > 0 ? x : 0, NaN stays NaN; the gradient at 0 is 0, as in PyTorch"""
    return (self > 0).where(self, (self != self).where(self, 0))


def sigmoid(self: Tensor) -> Tensor:
    """1 / (1 + e^-x), as 1/(1+e) for x >= 0 and e/(1+e) for x < 0 with e = e^-|x| (never inf,
    so no NaN reaches the gradient from the branch not taken)"""
    x = self if self.dtype.is_float else self.float()
    pos = x >= 0
    e = pos.where(-x, x).exp()
    r = (1 + e).reciprocal()
    return pos.where(r, e * r)


def leaky_relu(self: Tensor, negative_slope: float = 0.01) -> Tensor:
    return (self < 0).where(self * negative_slope, self)


def elu(self: Tensor, alpha: float = 1.0) -> Tensor:
    return (self > 0).where(self, alpha * (self.exp() - 1))


def gelu(self: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x); approximate='tanh' uses 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))."""
    if approximate == "tanh":
        return 0.5 * self * (1 + (math.sqrt(2 / math.pi) * (self + 0.044715 * self * self * self)).tanh())
    return 0.5 * self * (1 + (self * (1 / math.sqrt(2))).erf())


def silu(self: Tensor) -> Tensor:
    """x * sigmoid(x)"""
    return self * self.sigmoid()


def softplus(self: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta = (max(bx, 0) + log1p(e^-|bx|)) / beta, linear above threshold"""
    bx = self * beta
    pos = bx >= 0
    y = pos.where(-bx, bx).exp()  # e^-|bx| in (0, 1]: no overflow; log1p keeps tiny values
    return (bx > threshold).where(self, (pos.where(bx, 0) + _log1p(y)) * (1 / beta))


def logsumexp(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
    """m + log(sum(exp(x - m))), m = max(x)"""
    axis = dim if dim is not None else axis
    self._axes("logsumexp", axis)  # a bad dim is reported under this op's name
    if self.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return self.float().logsumexp(axis, keepdim).cast(self.dtype)
    m = self._shift(axis)
    m = (m.abs() == math.inf).where(0, m)
    out = (self - m).exp().sum(axis, keepdim=True).log() + m
    return out if keepdim else out.squeeze(self._axes("logsumexp", axis)) if self.ndim else out


def softmax(self: Tensor, dim: builtins.int = -1, dtype: Any = None) -> Tensor:
    """e^(x - max) / sum(e^(x - max))"""
    _norm_axis("softmax", dim, self.ndim)
    x = self.cast(dtype) if dtype is not None else (self if self.dtype.is_float else self.float())
    if x.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return x.float().softmax(dim).cast(x.dtype)
    e = (x - x._shift(dim)).exp()
    return e / e.sum(dim, keepdim=True)


def _shift(self: Tensor, axis: Any) -> Tensor:
    """What exp-normalizing ops (softmax, logsumexp) subtract before exp so that it cannot overflow: the
    max over axis (keepdim), or 0 when axis is empty (max has no value there; a sum of no exps is 0)."""
    axes = self._axes("max", axis)
    if any(self.shape[a] == 0 for a in axes):
        return Tensor.zeros(*[1 if i in axes else s for i, s in enumerate(self.shape)], dtype=self.dtype,
                            device=self.device)
    return self.max(axis, keepdim=True)


def log_softmax(self: Tensor, dim: builtins.int = -1, dtype: Any = None) -> Tensor:
    """(x - max) - log(sum(e^(x - max)))"""
    _norm_axis("log_softmax", dim, self.ndim)
    x = self.cast(dtype) if dtype is not None else (self if self.dtype.is_float else self.float())
    if x.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return x.float().log_softmax(dim).cast(x.dtype)
    s = x - x._shift(dim)
    return s - s.exp().sum(dim, keepdim=True).log()


def linear(self: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b"""
    out = self.matmul(weight.T)
    return out + bias if bias is not None else out
