"""Gathers and scatters along a dim: gather, scatter(_add/_reduce), index_select/add/copy/fill, take,
take_along_dim, masked_fill and masked_select.

Takes: a tensor, a dim and an integer index tensor (or a bool mask).
Produces: lazy tensors built from compare, where and reductions: the index becomes a one-hot
`index[..., None] == arange(n)` over the indexed dim only, so a gather is a masked sum and a
scatter a masked reduction over the index's entries; both fuse and differentiate like any other
expression. Index values are checked on the host (a lazy index is computed first): an index out
of range raises IndexError/RuntimeError as in PyTorch instead of reading nothing. masked_select's
output length depends on the mask, so the mask is read on the host.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes
from ..errors import DTypeError, TensorValueError
from ..ops.uop import Ops
from .common import _broadcast_shapes, _norm_axis

if TYPE_CHECKING:
    from .core import Tensor


def _as_index(index: Any, like: Tensor, op: str) -> Tensor:
    """index as an integer tensor on like's device (lists and arrays are converted)."""
    if not isinstance(index, Tensor):
        arr = np.asarray(index)
        if arr.dtype.kind not in "iu":
            raise DTypeError(f"{op}(): Expected dtype int64 for index, got {arr.dtype}")
        index = Tensor(arr.astype(np.int64), device=like.device)
    if not index.dtype.is_int:
        raise DTypeError(f"{op}(): Expected dtype int32 or int64 for index, got {index.dtype!r}")
    return index


def _check_range(index: Tensor, n: builtins.int, dim: builtins.int, op: str, negative: builtins.bool = False,
                 exc: type[Exception] = RuntimeError) -> None:
    """Raise when an index value falls outside [0, n) ([-n, n) when negative indices wrap); read on the host."""
    if index.numel() == 0:
        return
    v = index.numpy()
    lo = -n if negative else 0
    bad = (v < lo) | (v >= n)
    if bad.any():
        raise exc(f"{op}: index {int(v[bad].flat[0])} is out of bounds for dimension {dim} with size {n}")


def _rmax(x: Tensor, axis: builtins.int, keepdim: builtins.bool = False) -> Tensor:
    return x._reduce(Ops.MAX, axis, keepdim, "amax")


def _rmin(x: Tensor, axis: builtins.int, keepdim: builtins.bool = False) -> Tensor:
    if x.dtype.is_float:
        return -_rmax(-x, axis, keepdim)
    if x.dtype.is_bool:
        return _rmax(x.logical_not(), axis, keepdim).logical_not()
    return _rmax(x.bitwise_not(), axis, keepdim).bitwise_not()


def _pick(onehot: Tensor, vals: Tensor, axis: builtins.int) -> Tensor:
    """sum over axis of vals where onehot (at most one hit per output), in vals' dtype."""
    if vals.dtype.is_bool:
        return (onehot & vals).any(axis)
    return onehot._where(vals, 0).sum(axis, dtype=vals.dtype)


def _grad_to_every(picked: Tensor, onehot: Tensor, vals: Tensor, axis: builtins.int) -> Tensor:
    """picked (one of the vals landing on each position) in the forward pass, with the gradient of every val
    that lands there (PyTorch's rule for scatter, index_copy and index_put with repeated indices)."""
    if not (vals.requires_grad and vals.dtype.is_float):
        return picked
    delta = vals - vals.detach()  # 0 in value, the identity for gradients
    delta = delta.isfinite()._where(delta, 0)
    return picked.detach() + onehot._where(delta, 0).sum(axis, dtype=picked.dtype)


def _onehot(index: Tensor, n: builtins.int) -> Tensor:
    """(*index.shape, n) bool: index[..., None] == arange(n) (negative indices wrap)."""
    idx = index.cast(dtypes.int64) if index.dtype != dtypes.int64 else index
    idx = (idx < 0)._where(idx + n, idx)
    return idx.unsqueeze(-1) == Tensor.arange(n, device=index.device)


def _empty(self: Tensor, shape: tuple[builtins.int, ...]) -> Tensor:
    """A zero-size tensor of the given shape that stays in self's graph (so backward reaches self)."""
    return self.reshape(-1)._shrink(((0, 0),)).reshape(*shape)


def _fit(t: Tensor, shape: tuple[builtins.int, ...]) -> Tensor:
    """The leading block of t with the given shape (t is at least as big in every dim)."""
    return t._shrink(tuple((0, s) for s in shape))


# gather ------------------------------------------------------------------------------------------------
def gather(self: Tensor, dim: builtins.int, index: Any, *, sparse_grad: builtins.bool = False) -> Tensor:
    """out[i][j][k] = self[i][index[i][j][k]][k] (for dim=1): values at index along dim."""
    index = _as_index(index, self, "gather")
    d = _norm_axis("gather", dim, self.ndim)
    if index.ndim != self.ndim and not (self.ndim <= 1 and index.ndim <= 1):
        raise TensorValueError(f"gather: Index tensor must have the same number of dimensions as input tensor: "
                               f"index shape {list(index.shape)}, input shape {list(self.shape)}")
    x, idx = (self.reshape(-1), index.reshape(-1)) if self.ndim == 0 or index.ndim == 0 else (self, index)
    for i, (a, b) in enumerate(zip(idx.shape, x.shape)):
        if i != d and a > b:
            raise TensorValueError(f"gather: Size does not match at dimension {i} expected index "
                                   f"{list(index.shape)} to be no larger than self {list(self.shape)} apart from "
                                   f"dimension {d}")
    n = x.shape[d]
    _check_range(idx, n, d, "gather")
    if idx.numel() == 0:
        return _empty(self, index.shape)
    xs = _fit(x, tuple(n if i == d else s for i, s in enumerate(idx.shape)))
    out = _pick(_onehot(idx, n), xs.movedim(d, -1).unsqueeze(d), -1)
    return out.reshape(*index.shape)


def take_along_dim(self: Tensor, indices: Any, dim: builtins.int | None = None) -> Tensor:
    """Values of self at indices along dim (broadcast with self apart from dim); flattened when dim is None."""
    indices = _as_index(indices, self, "take_along_dim")
    if dim is None:
        return self.reshape(-1).take_along_dim(indices.reshape(-1), 0)
    d = _norm_axis("take_along_dim", dim, self.ndim)
    if indices.ndim != self.ndim:
        raise TensorValueError(f"torch.take_along_dim(): input and indices should have the same number of "
                               f"dimensions, but input has {self.ndim} dimensions and indices has {indices.ndim}")
    bs = _broadcast_shapes(tuple(1 if i == d else s for i, s in enumerate(self.shape)),
                           tuple(1 if i == d else s for i, s in enumerate(indices.shape)), op="take_along_dim")
    x = self.expand(*[self.shape[d] if i == d else s for i, s in enumerate(bs)])
    idx = indices.expand(*[indices.shape[d] if i == d else s for i, s in enumerate(bs)])
    n = self.shape[d]
    _check_range(idx, n, d, "take_along_dim", negative=True)
    return x.gather(d, (idx < 0)._where(idx + n, idx))


def take(self: Tensor, index: Any) -> Tensor:
    """self.flatten()[index]: values at flat positions (negative ones count from the end); shape of index."""
    index = _as_index(index, self, "take")
    n = self.numel()
    _check_range(index, n, 0, "take", negative=True, exc=IndexError)
    if index.numel() == 0 or n == 0:
        return _empty(self, index.shape)
    return _pick(_onehot(index, n), self.reshape(-1), -1)


def index_select(self: Tensor, dim: builtins.int, index: Any) -> Tensor:
    """Slices of self along dim at the positions in the 1-D index (in that order)."""
    index = _as_index(index, self, "index_select")
    if index.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got shape {list(index.shape)}")
    d = _norm_axis("index_select", dim, self.ndim)
    x = self.reshape(1) if self.ndim == 0 else self
    n = x.shape[d]
    _check_range(index, n, d, "index_select", exc=IndexError)
    idx = index.reshape(-1)
    k = idx.shape[0]
    if k == 0 or n == 0:
        out = _empty(x, tuple(k if i == d else s for i, s in enumerate(x.shape)))
    else:
        out = _pick(_onehot(idx, n), x.movedim(d, -1).unsqueeze(-2), -1).movedim(-1, d)  # (..., k) -> dim d
    return out.reshape(()) if self.ndim == 0 else out


# scatter ------------------------------------------------------------------------------------------------
_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _scatter_parts(self: Tensor, d: builtins.int, index: Tensor, src: Tensor, how: str,
                   op: str) -> tuple[Tensor, Tensor, Tensor]:
    """(hit, reduced, count), each of self's shape: whether some entry of index lands on a position,
    the reduction ('sum'|'prod'|'amax'|'amin'|'last') of the src values that land there, and how many."""
    if index.ndim != self.ndim and not (self.ndim <= 1 and index.ndim <= 1):
        raise TensorValueError(f"{op}: Index tensor must have the same number of dimensions as self tensor: "
                               f"index shape {list(index.shape)}, self shape {list(self.shape)}")
    shape = self.shape if self.ndim else (1,)
    idx = index if index.ndim else index.reshape(1)
    s = src if src.ndim else src.reshape(1)
    if s.ndim != idx.ndim:
        raise TensorValueError(f"{op}: Index tensor must have the same number of dimensions as src tensor: "
                               f"index shape {list(index.shape)}, src shape {list(src.shape)}")
    for i, a in enumerate(idx.shape):
        if (i != d and a > shape[i]) or a > s.shape[i]:
            raise TensorValueError(f"{op}: Expected index {list(index.shape)} to be no larger than self "
                                   f"{list(self.shape)} apart from dimension {d} and to be no larger size than src "
                                   f"{list(src.shape)}")
    n = shape[d]
    _check_range(idx, n, d, op)
    if idx.numel() == 0:
        z = Tensor.zeros(*shape, dtype=self.dtype, device=self.device)
        return Tensor.zeros(*shape, dtype=dtypes.bool, device=self.device), z, z.cast(dtypes.int64)
    s = _fit(s, idx.shape).cast(self.dtype)
    oh = _onehot(idx, n)  # (*idx.shape, n)
    sv = s.unsqueeze(-1)
    if how == "sum":
        red = _pick(oh, sv, d) if self.dtype.is_bool else oh._where(sv, 0).sum(d, dtype=self.dtype)
    elif how == "prod":
        red = oh._where(sv, 1).prod(d, dtype=self.dtype)
    elif how == "amax":
        red = _rmax(oh._where(sv, self.dtype.min), d)
    elif how == "amin":
        red = _rmin(oh._where(sv, self.dtype.max), d)
    else:  # 'last': the entry with the highest position along d wins (as PyTorch's CPU loop leaves it)
        k = idx.shape[d]
        j = Tensor.arange(k, device=self.device).reshape(*[k if i == d else 1 for i in range(idx.ndim)], 1)
        last = _rmax(oh._where(j, -1), d, keepdim=True)
        red = _grad_to_every(_pick(oh & (j == last), sv, d), oh, sv, d)
    count = oh.sum(d)
    pads = tuple((0, shape[i] - (n if i == d else a)) for i, a in enumerate(idx.shape))
    red, count = red.movedim(-1, d)._pad(pads), count.movedim(-1, d)._pad(pads)
    hit = count > 0
    if not self.ndim:
        hit, red, count = hit.reshape(()), red.reshape(()), count.reshape(())
    return hit, red, count


def _src(src: Any, value: Any, index: Tensor, like: Tensor, op: str) -> Tensor:
    v = src if src is not None else value
    if v is None:
        raise TypeError(f"{op}() missing the src tensor or value argument")
    if isinstance(v, Tensor):
        return v
    if isinstance(v, (bool, int, float)):
        return Tensor.full(index.shape, v, like.dtype, like.device)
    return Tensor(v, device=like.device)


def scatter(self: Tensor, dim: builtins.int, index: Any, src: Any = None, value: Any = None, *,
            reduce: str | None = None) -> Tensor:
    """self with self[i][index[i][j]] = src[i][j] (for dim=1); src may be a number; reduce='add'|'multiply'."""
    index = _as_index(index, self, "scatter")
    d = _norm_axis("scatter", dim, self.ndim)
    s = _src(src, value, index, self, "scatter")
    if reduce is None:
        hit, red, _ = _scatter_parts(self, d, index, s, "last", "scatter")
        return hit._where(red, self).cast(self.dtype)
    if reduce == "add":
        return self.scatter_reduce(d, index, s.expand(*index.shape) if s.ndim == 0 else s, "sum")
    if reduce == "multiply":
        return self.scatter_reduce(d, index, s.expand(*index.shape) if s.ndim == 0 else s, "prod")
    raise TensorValueError(f"scatter: reduce argument must be either add or multiply, got {reduce!r}")


def scatter_add(self: Tensor, dim: builtins.int, index: Any, src: Tensor) -> Tensor:
    """self with src[i][j] added at self[i][index[i][j]] (for dim=1); repeated indices accumulate."""
    return self.scatter_reduce(dim, index, src, "sum")


def scatter_reduce(self: Tensor, dim: builtins.int, index: Any, src: Tensor, reduce: str, *,
                   include_self: builtins.bool = True) -> Tensor:
    """self with the src values landing on each position (index along dim) reduced by sum/prod/mean/amax/amin,
    together with self's value there when include_self."""
    if reduce not in _REDUCES:
        raise TensorValueError(f"scatter_reduce: reduce argument must be one of {_REDUCES}, got {reduce!r}")
    index = _as_index(index, self, "scatter_reduce")
    d = _norm_axis("scatter_reduce", dim, self.ndim)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not {type(src).__name__}")
    how = "sum" if reduce == "mean" else reduce
    hit, red, count = _scatter_parts(self, d, index, src, how, "scatter_reduce")
    if reduce == "sum":
        out = red + self if include_self else red
    elif reduce == "prod":
        out = red * self if include_self else red
    elif reduce == "amax":
        out = red.maximum(self) if include_self else red
    elif reduce == "amin":
        out = red.minimum(self) if include_self else red
    else:
        tot = red + self if include_self else red
        cnt = count + 1 if include_self else count
        out = tot / cnt if self.dtype.is_float else tot.floor_divide(cnt.maximum(1).cast(self.dtype))
    return hit._where(out, self).cast(self.dtype)





# index_* -----------------------------------------------------------------------------------------------
def _index_onehot(self: Tensor, dim: builtins.int, index: Any, op: str) -> tuple[builtins.int, Tensor, Tensor]:
    """(dim, index as 1-D, one-hot (k, n)) for the index_* family."""
    index = _as_index(index, self, op)
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape {list(index.shape)}")
    d = _norm_axis(op, dim, self.ndim)
    n = self.shape[d] if self.ndim else 1
    idx = index.reshape(-1)
    _check_range(idx, n, d, op, exc=IndexError)
    return d, idx, _onehot(idx, n)


def _check_source(self: Tensor, d: builtins.int, k: builtins.int, source: Tensor, op: str) -> Tensor:
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): argument 'source' must be Tensor, not {type(source).__name__}")
    want = tuple(k if i == d else s for i, s in enumerate(self.shape)) if self.ndim else (k,)
    got = tuple(source.shape) if source.ndim else (1,)
    if got != want:
        raise TensorValueError(f"{op}(): source of shape {list(source.shape)} does not fit self of shape "
                               f"{list(self.shape)} with {k} indices along dim {d} (expected source shape "
                               f"{list(want)})")
    return source.reshape(*want).cast(self.dtype)


def index_add(self: Tensor, dim: builtins.int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """self with alpha * source[..., j, ...] added at self[..., index[j], ...] along dim (repeats accumulate)."""
    d, idx, oh = _index_onehot(self, dim, index, "index_add")
    src = _check_source(self, d, idx.shape[0], source, "index_add")
    if idx.shape[0] == 0:
        return self
    x = self.reshape(1) if self.ndim == 0 else self
    add = oh._where(src.movedim(d, -1).unsqueeze(-1), 0).sum(-2, dtype=self.dtype).movedim(-1, d)  # (..., n) at d
    out = x + (add * alpha if alpha != 1 else add)
    return out.cast(self.dtype).reshape(*self.shape)


def index_copy(self: Tensor, dim: builtins.int, index: Any, source: Tensor) -> Tensor:
    """self with self[..., index[j], ...] = source[..., j, ...] along dim (the last repeat wins)."""
    d, idx, oh = _index_onehot(self, dim, index, "index_copy")
    src = _check_source(self, d, idx.shape[0], source, "index_copy")
    k = idx.shape[0]
    if k == 0:
        return self
    x = self.reshape(1) if self.ndim == 0 else self
    j = Tensor.arange(k, device=self.device).reshape(k, 1)
    sel = oh & (j == _rmax(oh._where(j, -1), 0, keepdim=True))  # (k, n): the last j landing on each position
    sm = src.movedim(d, -1).unsqueeze(-1)
    vals = _grad_to_every(_pick(sel, sm, -2), oh, sm, -2).movedim(-1, d)
    hit = oh.any(0).reshape(*[-1 if i == d else 1 for i in range(x.ndim)])
    return hit._where(vals, x).cast(self.dtype).reshape(*self.shape)


def index_fill(self: Tensor, dim: builtins.int, index: Any, value: Any) -> Tensor:
    """self with the slices at index along dim set to value (a number or a 0-d tensor)."""
    d, idx, oh = _index_onehot(self, dim, index, "index_fill")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise TensorValueError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
    if idx.shape[0] == 0:
        return self
    x = self.reshape(1) if self.ndim == 0 else self
    hit = oh.any(0).reshape(*[-1 if i == d else 1 for i in range(x.ndim)])
    return hit._where(value, x).cast(self.dtype).reshape(*self.shape)





# masks ---------------------------------------------------------------------------------------------------
def _check_mask(self: Tensor, mask: Any, op: str) -> Tensor:
    if not isinstance(mask, Tensor):
        mask = Tensor(np.asarray(mask), device=self.device)
    if not mask.dtype.is_bool:
        raise DTypeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype!r}")
    return mask


def masked_fill(self: Tensor, mask: Any, value: Any) -> Tensor:
    """self with value (a number or 0-d tensor) where mask (broadcast to self's shape) is true."""
    mask = _check_mask(self, mask, "masked_fill_")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise TensorValueError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
    try:
        shape = _broadcast_shapes(self.shape, mask.shape, op="masked_fill")
    except ValueError:
        raise TensorValueError(f"masked_fill: mask of shape {list(mask.shape)} cannot be broadcast to the tensor's "
                               f"shape {list(self.shape)}") from None
    return mask._broadcast_to(shape, "masked_fill")._where(value, self._broadcast_to(shape, "masked_fill")).cast(
        self.dtype)



def masked_select(self: Tensor, mask: Any) -> Tensor:
    """1-D tensor of the elements of self (broadcast with mask) where mask is true; the mask is read on the host."""
    mask = _check_mask(self, mask, "masked_select:")
    shape = _broadcast_shapes(self.shape, mask.shape, op="masked_select")
    x = self._broadcast_to(shape, "masked_select")
    pos = np.flatnonzero(np.broadcast_to(mask.numpy(), shape))
    return x.reshape(-1)._take_flat(pos)


def _take_flat(self: Tensor, pos: np.ndarray) -> Tensor:
    """self (1-D) at the host-known positions pos: one-hot over the positions when gradients flow,
    a host copy of the realized values otherwise (the one-hot costs len(pos) * numel)."""
    if len(pos) == 0:
        return self._shrink(((0, 0),))  # empty, still in the graph
    if not self.requires_grad:
        return Tensor(self.numpy()[pos], dtype=self.dtype, device=self.device)
    return self.take(Tensor(pos.astype(np.int64), device=self.device))
