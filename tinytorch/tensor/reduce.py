"""Reductions over dims: sum, prod, amax/amin, max/min (values and indices), mean, var, std, argmax, any, all,
nan-ignoring and counting reductions, and the running (cumulative) ones.

Takes: a tensor and dims (an int, a tuple, or None/() for all), keepdim, dtype.
Produces: lazy REDUCE_AXIS nodes. `max(dim)`/`min(dim)`/`cummax`/`cummin` return a named tuple
(tinytorch.return_types) of values and int64 indices; the values are picked out of the input with a one-hot
mask of the indices, so their gradient flows to the selected positions as PyTorch's does. The running
reductions reduce over a lower-triangular window (n x n compares for a dim of length n).
"""

from __future__ import annotations

import builtins
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import return_types
from ..dtype import dtypes, to_dtype
from ..errors import DTypeError
from ..ops.uop import Ops, UOp
from .common import _norm_axis

if TYPE_CHECKING:
    from .core import Tensor


def _dim(dim: Any, axis: Any) -> Any:
    return dim if dim is not None else axis


def dim_aliases(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Take PyTorch's NumPy-style keyword aliases: axis= for dim=, keepdims= for keepdim=."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for alias, name in (("axis", "dim"), ("keepdims", "keepdim")):
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}(): got both {name}= and its alias {alias}=")
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    return wrapper


def _axes(self: Tensor, op: str, axis: Any) -> tuple[builtins.int, ...]:
    if axis is None or (isinstance(axis, (tuple, list)) and len(axis) == 0):  # dim=() reduces all, like torch
        return tuple(range(self.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(sorted({_norm_axis(op, int(a), self.ndim) for a in axes}))
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


def _acc_dtype(self: Tensor, dtype: Any) -> Any:
    return to_dtype(dtype) if dtype is not None else (
        dtypes.int64 if self.dtype.is_int or self.dtype.is_bool else self.dtype)


@dim_aliases
def sum(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, dtype: Any = None, axis: Any = None) -> Tensor:
    """sum_i x_i over dim (all dims for None or ()); integers and bools accumulate in int64."""
    axis = _dim(dim, axis)
    acc = _acc_dtype(self, dtype)
    x = self.cast(acc)
    if acc in (dtypes.float16, dtypes.bfloat16):  # accumulate half precision in float32
        return x.float()._reduce(Ops.ADD, axis, keepdim, "sum").cast(acc)
    return x._reduce(Ops.ADD, axis, keepdim, "sum")


@dim_aliases
def prod(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, dtype: Any = None, axis: Any = None) -> Tensor:
    """prod_i x_i over dim; integers and bools accumulate in int64."""
    return self.cast(_acc_dtype(self, dtype))._reduce(Ops.MUL, _dim(dim, axis), keepdim, "prod")


@dim_aliases
def amax(self: Tensor, dim: Any = (), keepdim: builtins.bool = False, axis: Any = None) -> Tensor:
    """max_i x_i over dim (all for ()); NaN propagates; the gradient is shared evenly between tied maxima."""
    return self._reduce(Ops.MAX, _dim(dim, axis), keepdim, "amax")


@dim_aliases
def amin(self: Tensor, dim: Any = (), keepdim: builtins.bool = False, axis: Any = None) -> Tensor:
    """min_i x_i over dim (all for ()); NaN propagates; the gradient is shared evenly between tied minima."""
    axis = _dim(dim, axis)
    if self.dtype.is_float:
        return -((-self)._reduce(Ops.MAX, axis, keepdim, "amin"))
    if self.dtype.is_bool:
        return self.logical_not()._reduce(Ops.MAX, axis, keepdim, "amin").logical_not()
    return self.bitwise_not()._reduce(Ops.MAX, axis, keepdim, "amin").bitwise_not()  # ~x reverses integer order


def _take_along(self: Tensor, idx: Tensor, d: builtins.int) -> Tensor:
    """x[..., idx, ...] along dim d for an index of x's shape with size 1 at d (keepdim): sum_i x_i [i == idx]."""
    n = self.shape[d]
    pos = Tensor.arange(n, dtype=dtypes.int64, device=self.device).reshape(
        *[n if i == d else 1 for i in range(self.ndim)])
    hit = pos == idx
    if self.dtype.is_bool:
        return (hit & self).any(d, keepdim=True)
    return hit._where(self, 0).sum(d, keepdim=True, dtype=self.dtype)


def _values_indices(self: Tensor, dim: Any, keepdim: builtins.bool, name: str) -> tuple[Tensor, Tensor]:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, builtins.bool):
        raise TypeError(f"{name}(): dim must be an int, got {dim!r} (for several dims use a{name}(dim=...), which "
                        f"returns the values only)")
    d = _norm_axis(name, int(dim), self.ndim)
    if self.ndim == 0:
        return self, Tensor.zeros((), dtype=dtypes.int64, device=self.device)
    if self.shape[d] == 0:
        raise IndexError(f"{name}(): expected reduction dim {d} to have non-zero size (shape {self.shape})")
    idx = (self.argmax if name == "max" else self.argmin)(d, keepdim=True)
    values = self._take_along(idx, d)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values, idx


@dim_aliases
def max(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, axis: Any = None) -> Any:
    """max() -> max_i x_i; max(dim, keepdim) -> (values, indices) of the first maximum; max(other) -> maximum."""
    if isinstance(dim, Tensor):
        return self.maximum(dim)
    dim = _dim(dim, axis)
    if dim is None:
        return self._reduce(Ops.MAX, None, keepdim, "max")
    return return_types.max(*self._values_indices(dim, keepdim, "max"))


@dim_aliases
def min(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, axis: Any = None) -> Any:
    """min() -> min_i x_i; min(dim, keepdim) -> (values, indices) of the first minimum; min(other) -> minimum."""
    if isinstance(dim, Tensor):
        return self.minimum(dim)
    dim = _dim(dim, axis)
    if dim is None:
        return self.amin(None, keepdim)
    return return_types.min(*self._values_indices(dim, keepdim, "min"))


@dim_aliases
def aminmax(self: Tensor, *, dim: Any = None, keepdim: builtins.bool = False) -> Any:
    """(amin(x, dim), amax(x, dim)) as a named tuple (min, max)."""
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"aminmax(): dim must be an int or None, got {dim!r}")
    return return_types.aminmax(self.amin(dim, keepdim), self.amax(dim, keepdim))


@dim_aliases
def mean(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, dtype: Any = None, axis: Any = None) -> Tensor:
    """sum_i x_i / n over dim."""
    axis = _dim(dim, axis)
    x = self.cast(dtype) if dtype is not None else self if self.dtype.is_float else self.float()
    if x.dtype in (dtypes.float16, dtypes.bfloat16):  # summed and divided in float32, rounded once (a half sum of
        return x.float().mean(axis, keepdim).cast(x.dtype)  # 1000 squares of 30 overflows before the division)
    n = math.prod(self.shape[a] for a in self._axes("mean", axis))
    return x.sum(axis, keepdim) * (1 / n if n else math.nan)


def _correction(correction: Any, unbiased: Any) -> Any:
    if unbiased is not None and correction is not None:
        raise TypeError("var/std: give correction or unbiased, not both")
    return int(unbiased) if unbiased is not None else 1 if correction is None else correction


@dim_aliases
def var(self: Tensor, dim: Any = None, unbiased: builtins.bool | None = None, keepdim: builtins.bool = False, *,
        correction: Any = None, axis: Any = None) -> Tensor:
    """sum_i (x_i - mean)^2 / (n - correction) over dim; unbiased=True is correction=1 (the default)."""
    axis = _dim(dim, axis)
    if isinstance(axis, builtins.bool):  # var(True): the old positional unbiased
        axis, unbiased = None, axis
    c = _correction(correction, unbiased)
    x = self if self.dtype.is_float else self.float()
    if x.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return x.float().var(axis, keepdim=keepdim, correction=c).cast(x.dtype)
    n = math.prod(self.shape[a] for a in self._axes("var", axis))
    d = x - x.mean(axis, keepdim=True)
    return (d * d).sum(axis, keepdim) * (1 / (n - c) if n - c > 0 else math.inf)


@dim_aliases
def std(self: Tensor, dim: Any = None, unbiased: builtins.bool | None = None, keepdim: builtins.bool = False, *,
        correction: Any = None, axis: Any = None) -> Tensor:
    """sqrt(var(x, dim, correction)); the gradient is 0 where the std is 0 (like PyTorch)."""
    if self.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
        return self.float().std(_dim(dim, axis), unbiased, keepdim, correction=correction).cast(self.dtype)
    v = self.var(_dim(dim, axis), unbiased, keepdim, correction=correction)
    zero = v == 0  # sqrt's slope is infinite at 0: PyTorch's std gives a zero gradient there
    return zero._where(0.0, zero._where(1.0, v).sqrt())


@dim_aliases
def var_mean(self: Tensor, dim: Any = None, unbiased: builtins.bool | None = None, keepdim: builtins.bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """(var(x, dim, correction), mean(x, dim))."""
    return self.var(dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim)


@dim_aliases
def std_mean(self: Tensor, dim: Any = None, unbiased: builtins.bool | None = None, keepdim: builtins.bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """(std(x, dim, correction), mean(x, dim))."""
    return self.std(dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim)


@dim_aliases
def nansum(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, dtype: Any = None) -> Tensor:
    """sum_i x_i over dim, counting NaNs as 0."""
    x = self.isnan()._where(0, self) if self.dtype.is_float else self
    return x.sum(dim, keepdim, dtype)


@dim_aliases
def nanmean(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, dtype: Any = None) -> Tensor:
    """sum of the non-NaN x_i / their count over dim (NaN where all are NaN)."""
    if not self.dtype.is_float:
        raise DTypeError(f"nanmean(): expected a floating point input, got {self.dtype}")
    x = self.cast(dtype) if dtype is not None else self
    return x.nansum(dim, keepdim) / x.isnan().logical_not().sum(dim, keepdim)


@dim_aliases
def count_nonzero(self: Tensor, dim: Any = None) -> Tensor:
    """#{i: x_i != 0} over dim, as int64."""
    return (self != 0).sum(dim).detach()


def _rounded(self: Tensor) -> Tensor:
    """x itself; for half precision an explicit rounding to its dtype. A half value computed inside a kernel is
    held in float32 while a reduced one is stored in half: comparing x with its max needs both rounded."""
    if self.dtype in (dtypes.float16, dtypes.bfloat16):
        return self._new(UOp(Ops.CAST, self.dtype, (self.uop,)), self)
    return self


@dim_aliases
def argmax(self: Tensor, dim: builtins.int | None = None, keepdim: builtins.bool = False,
           axis: builtins.int | None = None) -> Tensor:
    """Index of the first maximum along dim (of the flattened tensor for None); NaN counts as the maximum."""
    dim = _dim(dim, axis)
    if dim is None:
        out = self.flatten().argmax(0)
        return out.reshape(*[1] * self.ndim) if keepdim else out
    a = _norm_axis("argmax", dim, self.ndim)
    if self.ndim == 0:
        return Tensor.zeros((), dtype=dtypes.int64, device=self.device)
    n = self.shape[a]
    if n == 0:
        raise IndexError(f"argmax(): expected reduction dim {a} to have non-zero size (shape {self.shape})")
    x = self._rounded()
    m = x.amax(a, keepdim=True)
    hit = (x == m) | (x != x)
    rev = Tensor.arange(n, 0, -1, dtype=dtypes.int64, device=self.device).reshape(
        *[n if i == a else 1 for i in range(self.ndim)])
    return (n - (hit._where(rev, 0)).amax(a, keepdim)).detach()  # an index has no gradient


@dim_aliases
def argmin(self: Tensor, dim: builtins.int | None = None, keepdim: builtins.bool = False,
           axis: builtins.int | None = None) -> Tensor:
    """Index of the first minimum along dim (of the flattened tensor for None); NaN counts as the minimum."""
    x = -self if self.dtype.is_float else self.bitwise_not() if not self.dtype.is_bool else self.logical_not()
    return x.argmax(dim, keepdim, axis)


@dim_aliases
def any(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, axis: Any = None) -> Tensor:
    """True where some x_i != 0 over dim."""
    axis = _dim(dim, axis)
    axes = self._axes("any", axis)
    if builtins.any(self.shape[a] == 0 for a in axes):  # max has no identity, but any() of nothing is False
        shape = tuple(1 if i in axes else s for i, s in enumerate(self.shape) if keepdim or i not in axes)
        return Tensor.full(shape, False, dtypes.bool, self.device)
    return self.bool()._reduce(Ops.MAX, axis, keepdim, "any")


@dim_aliases
def all(self: Tensor, dim: Any = None, keepdim: builtins.bool = False, axis: Any = None) -> Tensor:
    """True where every x_i != 0 over dim."""
    return self.logical_not().any(dim, keepdim, axis).logical_not()


def _window(self: Tensor, dim: builtins.int, op: str, fill: Any) -> tuple[Tensor, builtins.int]:
    """x with dim moved last and a new axis before it: w[..., i, j] = x_j for j <= i, else fill."""
    d = _norm_axis(op, dim, self.ndim)
    n = self.shape[d]
    x = self.transpose(d, -1)
    tri = Tensor(np.tril(np.ones((n, n), dtype=bool)), device=self.device)  # tri[i, j] = j <= i
    return tri._where(x.unsqueeze(-2), fill), d


@dim_aliases
def cumsum(self: Tensor, dim: builtins.int = 0, dtype: Any = None) -> Tensor:
    """y_i = sum_{j <= i} x_j along dim; integers and bools accumulate in int64."""
    x = self.cast(dtype) if dtype is not None else self
    if x.ndim == 0:
        _norm_axis("cumsum", dim, 0)
        return x if x.dtype.is_float else x.cast(dtypes.int64)
    w, d = x._window(dim, "cumsum", 0)
    return w.sum(-1, dtype=x.dtype if x.dtype.is_float else None).transpose(d, -1)


@dim_aliases
def cumprod(self: Tensor, dim: builtins.int = 0, dtype: Any = None) -> Tensor:
    """y_i = prod_{j <= i} x_j along dim; the gradient is right through zeros (the product of the others)."""
    x = self.cast(dtype) if dtype is not None else self
    if x.ndim == 0:
        _norm_axis("cumprod", dim, 0)
        return x if x.dtype.is_float else x.cast(dtypes.int64)
    w, d = x._window(dim, "cumprod", 1)
    return w.prod(-1, dtype=x.dtype if x.dtype.is_float else None).transpose(d, -1)


def _cumulative_extreme(self: Tensor, dim: builtins.int, name: str) -> tuple[Tensor, Tensor]:
    d = _norm_axis(name, dim, self.ndim)
    if self.ndim == 0:
        return self, Tensor.zeros((), dtype=dtypes.int64, device=self.device)
    n = self.shape[d]
    x = self if name == "cummax" else -self if self.dtype.is_float else (
        self.logical_not() if self.dtype.is_bool else self.bitwise_not())  # ~x reverses integer order
    xl = x._rounded().transpose(d, -1)  # (..., n)
    tri = Tensor(np.tril(np.ones((n, n), dtype=bool)), device=self.device)  # tri[i, j] = j <= i
    m = tri._where(xl.unsqueeze(-2), x.dtype.min).amax(-1, keepdim=True)  # running max (..., n, 1); NaN propagates
    xj = xl.unsqueeze(-2)
    hit = tri & ((xj == m) | (xj != xj))
    pos = Tensor.arange(n, dtype=dtypes.int64, device=self.device)
    idx = hit._where(pos, -1).amax(-1).detach()  # the last position holding the running max (or the last NaN)
    values = self.transpose(d, -1).unsqueeze(-2)._take_along(idx.unsqueeze(-1), self.ndim).squeeze(-1)
    return values.transpose(d, -1), idx.transpose(d, -1)


@dim_aliases
def cummax(self: Tensor, dim: builtins.int) -> Any:
    """(y_i = max_{j <= i} x_j, the last j where it is reached) along dim; NaN propagates."""
    return return_types.cummax(*self._cumulative_extreme(dim, "cummax"))


@dim_aliases
def cummin(self: Tensor, dim: builtins.int) -> Any:
    """(y_i = min_{j <= i} x_j, the last j where it is reached) along dim; NaN propagates."""
    return return_types.cummin(*self._cumulative_extreme(dim, "cummin"))


@dim_aliases
def logcumsumexp(self: Tensor, dim: builtins.int) -> Tensor:
    """y_i = log sum_{j <= i} e^{x_j} along dim, computed as m + log sum e^{x_j - m} (m the window max)."""
    if not self.dtype.is_float:
        raise DTypeError(f"logcumsumexp(): expected a floating point input, got {self.dtype}")
    if self.ndim == 0:
        _norm_axis("logcumsumexp", dim, 0)
        return self
    w, d = self._window(dim, "logcumsumexp", -math.inf)
    return w.logsumexp(-1).transpose(d, -1)
