"""Reductions over axes: sum, prod, max, min, mean, var, std, argmax, any, all, cumsum."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes, to_dtype
from ..ops.uop import Ops, UOp
from .common import _norm_axis

if TYPE_CHECKING:
    from .core import Tensor


def _axes(self: Tensor, op: str, axis: Any) -> tuple[builtins.int, ...]:
    if axis is None:
        return tuple(range(self.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = tuple(sorted({_norm_axis(op, a, self.ndim) for a in axes}))
    return out if self.ndim else ()


def _reduce(self: Tensor, op: Ops, axis: Any, keepdim: builtins.bool, name: str) -> Tensor:
    axes = self._axes(name, axis)
    if self.ndim == 0:
        return self
    if op is Ops.MAX and builtins.any(self.shape[a] == 0 for a in axes):
        raise RuntimeError(f"{name}: cannot reduce over a zero-size dim of shape {self.shape} "
                           f"(the operation has no identity)")
    out = self._new(UOp(Ops.REDUCE_AXIS, self.dtype, (self.uop,), (op, axes)), self) if axes else self
    if not keepdim:
        out = out.reshape(*[s for i, s in enumerate(self.shape) if i not in axes])
    return out


def sum(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dtype: Any = None, dim: Any = None) -> Tensor:
    axis = dim if dim is not None else axis
    acc = to_dtype(dtype) if dtype is not None else (
        dtypes.int64 if self.dtype.is_int or self.dtype.is_bool else self.dtype)
    x = self.cast(acc)
    if acc in (dtypes.float16, dtypes.bfloat16):  # accumulate half precision in float32
        return x.float()._reduce(Ops.ADD, axis, keepdim, "sum").cast(acc)
    return x._reduce(Ops.ADD, axis, keepdim, "sum")


def prod(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dtype: Any = None, dim: Any = None) -> Tensor:
    axis = dim if dim is not None else axis
    acc = to_dtype(dtype) if dtype is not None else (
        dtypes.int64 if self.dtype.is_int or self.dtype.is_bool else self.dtype)
    return self.cast(acc)._reduce(Ops.MUL, axis, keepdim, "prod")


def max(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
    return self._reduce(Ops.MAX, dim if dim is not None else axis, keepdim, "max")


def min(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
    axis = dim if dim is not None else axis
    if self.dtype.is_float:
        return -((-self).max(axis, keepdim))
    if self.dtype.is_bool:
        return self.logical_not().max(axis, keepdim).logical_not()
    return self.bitwise_not().max(axis, keepdim).bitwise_not()  # ~x reverses integer order


def mean(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
    axis = dim if dim is not None else axis
    x = self if self.dtype.is_float else self.float()
    n = math.prod(self.shape[a] for a in self._axes("mean", axis))
    return x.sum(axis, keepdim) * (1 / n if n else math.nan)


def var(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, correction: builtins.int = 1, dim: Any = None,
        unbiased: builtins.bool | None = None) -> Tensor:
    axis = dim if dim is not None else axis
    if unbiased is not None:
        correction = int(unbiased)
    n = math.prod(self.shape[a] for a in self._axes("var", axis))
    d = self - self.mean(axis, keepdim=True)
    return (d * d).sum(axis, keepdim) * (1 / builtins.max(0, n - correction) if n - correction > 0 else math.inf)


def std(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, correction: builtins.int = 1, dim: Any = None,
        unbiased: builtins.bool | None = None) -> Tensor:
    v = self.var(axis, keepdim, correction, dim, unbiased)
    zero = v == 0  # sqrt's slope is infinite at 0: PyTorch's std gives a zero gradient there
    return zero.where(0.0, zero.where(1.0, v).sqrt())


def argmax(self: Tensor, axis: builtins.int | None = None, keepdim: builtins.bool = False,
           dim: builtins.int | None = None) -> Tensor:
    """Index of the first maximum (NaN counts as the maximum, like PyTorch)."""
    axis = dim if dim is not None else axis
    if axis is None:
        return self.flatten().argmax(0)
    a = _norm_axis("argmax", axis, self.ndim)
    n = self.shape[a]
    # a half tensor computed in the comparison kernel holds float32 values; the max is stored in half:
    # round x to half on both sides, or no element equals the max
    x = self._new(UOp(Ops.CAST, self.dtype, (self.uop,)), self) if self.dtype in (
        dtypes.float16, dtypes.bfloat16) else self
    m = x.max(a, keepdim=True)
    hit = (x == m) | (x != x)
    rev = Tensor.arange(n, 0, -1, dtype=dtypes.int64, device=self.device).reshape(
        *[n if i == a else 1 for i in range(self.ndim)])
    return n - (hit.where(rev, 0)).max(a, keepdim)


def argmin(self: Tensor, axis: builtins.int | None = None, keepdim: builtins.bool = False,
           dim: builtins.int | None = None) -> Tensor:
    axis = dim if dim is not None else axis
    x = -self if self.dtype.is_float else self.bitwise_not() if not self.dtype.is_bool else self.logical_not()
    return x.argmax(axis, keepdim)


def any(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
    axis = dim if dim is not None else axis
    axes = self._axes("any", axis)
    if builtins.any(self.shape[a] == 0 for a in axes):  # max has no identity, but any() of nothing is False
        shape = tuple(1 if i in axes else s for i, s in enumerate(self.shape) if keepdim or i not in axes)
        return Tensor.full(shape, False, dtypes.bool, self.device)
    return self.bool().max(axis, keepdim)


def all(self: Tensor, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
    return self.logical_not().any(axis, keepdim, dim).logical_not()


def cumsum(self: Tensor, dim: builtins.int = 0) -> Tensor:
    """Running sum along dim (a reduce over a lower-triangular window)."""
    d = _norm_axis("cumsum", dim, self.ndim)
    if self.ndim == 0:  # integers and bools accumulate in int64 for every shape, like PyTorch
        return self if self.dtype.is_float else self.cast(dtypes.int64)
    n = self.shape[d]
    x = self.transpose(d, -1)
    tri = Tensor(np.tril(np.ones((n, n), dtype=bool)), device=self.device)  # tri[i, j] = j <= i
    out = tri.where(x.unsqueeze(-2), 0).sum(-1, dtype=self.dtype if self.dtype.is_float else None)
    return out.transpose(d, -1)
