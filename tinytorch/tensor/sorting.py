"""Sorting and order statistics: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, quantile.

Takes: a tensor and a dim.
Produces: lazy graphs (named tuples of values and int64 indices where PyTorch returns them). There is no sort
primitive: the position of x_i in the stable order along a dim of length n is its rank

    rank_i = #{j: x_j before x_i} + #{j < i: x_j == x_i}

(NaN sorts after every number, like PyTorch; descending reverses the order but keeps ties in index order),
an n x n compare and sum. The value at sorted position p is then picked with a one-hot mask,
sum_i x_i [rank_i == p], so the gradient of the values flows to the positions they came from. Cost: O(n^2)
compares per sorted row, fine for the sizes learners sort; a dim longer than HOST_SORT_MIN whose result needs
no gradient is sorted on the host (numpy's stable argsort) instead.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import return_types
from ..dtype import dtypes
from ..errors import DTypeError, TensorValueError
from .common import _norm_axis, no_grad
from .reduce import dim_aliases

if TYPE_CHECKING:
    from .core import Tensor

HOST_SORT_MIN = 4096  # longer dims sort on the host when no gradient is needed (the lazy sort is O(n^2))


def _before(a: Tensor, b: Tensor, descending: builtins.bool) -> Tensor:
    """a comes strictly before b in the order (NaN last ascending, first descending)."""
    if not a.dtype.is_float:
        return a > b if descending else a < b
    if descending:
        return (a > b) | ((a != a) & (b == b))
    return (a < b) | ((b != b) & (a == a))


def _same(a: Tensor, b: Tensor) -> Tensor:
    """a == b, with NaN equal to NaN."""
    return (a == b) | ((a != a) & (b != b)) if a.dtype.is_float else a == b


def _ranks(xl: Tensor, descending: builtins.bool) -> Tensor:
    """Stable rank of each x_i along the last dim: #{j: x_j before x_i} + #{j < i: x_j == x_i} (int64)."""
    n = xl.shape[-1]
    if xl.dtype.is_bool:  # ordered as 0 and 1 (the C backend's vectorized bool compare orders its -1/0 masks)
        xl = xl.cast(dtypes.uint8)
    xi, xj = xl.unsqueeze(-1), xl.unsqueeze(-2)  # (..., n, 1), (..., 1, n)
    earlier = Tensor(np.tril(np.ones((n, n), dtype=bool), -1), device=xl.device)  # earlier[i, j] = j < i
    return (_before(xj, xi, descending) | (_same(xj, xi) & earlier)).sum(-1)


def _pick(xl: Tensor, rank: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
    """Values and indices at sorted positions pos (..., m) of rows xl (..., n) ranked by rank (..., n)."""
    n = xl.shape[-1]
    hit = rank.unsqueeze(-2) == pos.unsqueeze(-1)  # (..., m, n): element i sits at position p
    idx = hit._where(Tensor.arange(n, dtype=dtypes.int64, device=xl.device), 0).sum(-1).detach()
    if xl.dtype.is_bool:
        return (hit & xl.unsqueeze(-2)).any(-1), idx
    return hit._where(xl.unsqueeze(-2), 0).sum(-1, dtype=xl.dtype), idx


def _needs_grad(x: Tensor) -> builtins.bool:
    return x.requires_grad and no_grad.enabled


def _host_order(x: np.ndarray, descending: builtins.bool) -> np.ndarray:
    """Stable argsort along the last axis with NaN last (ascending) or first (descending), PyTorch's order."""
    if not descending:
        return np.argsort(x, axis=-1, kind="stable")
    # reversed ascending order of the reversed row: descending, NaN first, ties in index order
    n = x.shape[-1]
    return (n - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable"))[..., ::-1]


def _sorted_rows(self: Tensor, d: builtins.int, descending: builtins.bool,
                 k: builtins.int | None) -> tuple[Tensor, Tensor]:
    """The first k (all for None) values and indices of the rows along d in sorted order, with d moved last."""
    xl = self.transpose(d, -1)
    n = xl.shape[-1]
    m = n if k is None else k
    if n > HOST_SORT_MIN and not _needs_grad(self):
        a = xl.numpy()
        order = _host_order(a, descending)[..., :m]
        vals = np.take_along_axis(a, order, -1)
        return (Tensor(np.ascontiguousarray(vals), dtype=self.dtype, device=self.device),
                Tensor(np.ascontiguousarray(order.astype(np.int64)), device=self.device))
    x = xl._rounded()
    return _pick(x, _ranks(x, descending), Tensor.arange(m, dtype=dtypes.int64, device=self.device))


def _prepare(self: Tensor, dim: builtins.int, op: str) -> tuple[Tensor, builtins.int]:
    d = _norm_axis(op, dim, self.ndim)
    return (self.reshape(1), 0) if self.ndim == 0 else (self, d)


def _finish(self: Tensor, vals: Tensor, idx: Tensor, d: builtins.int) -> tuple[Tensor, Tensor]:
    if self.ndim == 0:
        return vals.reshape(), idx.reshape()
    return vals.transpose(d, -1), idx.transpose(d, -1)


@dim_aliases
def sort(self: Tensor, dim: builtins.int = -1, descending: builtins.bool = False, stable: builtins.bool = False) -> Any:
    """(values, indices) of x sorted along dim, ties in index order (always stable), NaN as the largest;
    O(n^2) compares per row (see the module docstring)."""
    if isinstance(dim, builtins.bool):  # sort(descending) positionally is torch.sort(input, dim): reject it
        raise TypeError("sort(): dim must be an int (give descending=... by keyword)")
    x, d = _prepare(self, dim, "sort")
    return return_types.sort(*_finish(self, *_sorted_rows(x, d, descending, None), d))


@dim_aliases
def argsort(self: Tensor, dim: builtins.int = -1, descending: builtins.bool = False,
            stable: builtins.bool = False) -> Tensor:
    """Indices that sort x along dim: sort(x, dim, descending).indices."""
    return self.sort(dim, descending, stable).indices


def msort(self: Tensor) -> Tensor:
    """x sorted along dim 0: sort(x, 0).values."""
    return self.sort(0).values


@dim_aliases
def topk(self: Tensor, k: builtins.int, dim: builtins.int = -1, largest: builtins.bool = True,
         sorted: builtins.bool = True) -> Any:
    """(values, indices) of the k largest (smallest for largest=False) x along dim, in sorted order."""
    x, d = _prepare(self, dim, "topk")
    n = x.shape[d]
    if not 0 <= k <= n:
        raise TensorValueError(f"topk(): selected index k={k} is out of range for a dim of size {n} "
                               f"(expected 0 <= k <= {n})")
    return return_types.topk(*_finish(self, *_sorted_rows(x, d, largest, k), d))


def _at_position(x: Tensor, d: builtins.int, pos: Tensor, keepdim: builtins.bool,
                 descending: builtins.bool = False) -> tuple[Tensor, Tensor]:
    """Values and indices of x at sorted position pos (x's shape with size 1 at d) along d."""
    xl = x.transpose(d, -1)._rounded()
    vals, idx = _pick(xl, _ranks(xl, descending), pos.transpose(d, -1))  # (..., 1), d last
    vals, idx = vals.transpose(d, -1), idx.transpose(d, -1)
    return (vals, idx) if keepdim else (vals.squeeze(d), idx.squeeze(d))


@dim_aliases
def kthvalue(self: Tensor, k: builtins.int, dim: builtins.int = -1, keepdim: builtins.bool = False) -> Any:
    """(values, indices) of the k-th smallest x along dim (k from 1), the element at sort position k - 1."""
    x, d = _prepare(self, dim, "kthvalue")
    n = x.shape[d]
    if not 1 <= k <= n:
        raise TensorValueError(f"kthvalue(): k={k} is out of range for a dim of size {n} (expected 1 <= k <= {n})")
    pos = Tensor.full(tuple(1 if i == d else s for i, s in enumerate(x.shape)), k - 1, dtypes.int64, self.device)
    vals, idx = _at_position(x, d, pos, keepdim or self.ndim == 0)
    return return_types.kthvalue(*(_scalar_back(self, vals, idx)))


def _scalar_back(self: Tensor, vals: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
    return (vals.reshape(), idx.reshape()) if self.ndim == 0 else (vals, idx)


def _median_dim(self: Tensor, dim: builtins.int, keepdim: builtins.bool, ignore_nan: builtins.bool,
                op: str) -> tuple[Tensor, Tensor]:
    x, d = _prepare(self, dim, op)
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{op}(): expected reduction dim {d} to have non-zero size (shape {self.shape})")
    valid = (x == x).sum(d, keepdim=True) if x.dtype.is_float else Tensor.full(
        tuple(1 if i == d else s for i, s in enumerate(x.shape)), n, dtypes.int64, self.device)
    if ignore_nan:  # the lower median of the non-NaN values; all NaN: the first NaN
        pos = (valid > 0)._where((valid - 1) // 2, 0)
    else:  # any NaN: the first NaN (sorted after every number, at position #non-NaN)
        pos = (valid < n)._where(valid, (n - 1) // 2)
    vals, idx = _at_position(x, d, pos, keepdim or self.ndim == 0)
    return _scalar_back(self, vals, idx)


def _median_all(self: Tensor, ignore_nan: builtins.bool, op: str) -> Tensor:
    """The lower median of all elements; its gradient is shared evenly between the elements equal to it."""
    flat = self.flatten()
    if flat.shape[0] == 0:
        return Tensor.full((), float("nan"), self.dtype, self.device)
    v = _median_dim(flat.detach(), 0, False, ignore_nan, op)[0]
    low = -float("inf") if self.dtype.is_float else self.dtype.min
    return _same(flat, v)._where(flat, low).amax()  # = v; max's gradient splits between ties


@dim_aliases
def median(self: Tensor, dim: builtins.int | None = None, keepdim: builtins.bool = False) -> Any:
    """median() -> the lower median x_((n-1)//2) (NaN if any); median(dim) -> (values, indices) along dim."""
    if dim is None:
        return _median_all(self, False, "median")
    return return_types.median(*_median_dim(self, dim, keepdim, False, "median"))


@dim_aliases
def nanmedian(self: Tensor, dim: builtins.int | None = None, keepdim: builtins.bool = False) -> Any:
    """median ignoring NaNs: nanmedian() -> a value, nanmedian(dim) -> (values, indices); all NaN gives NaN."""
    if dim is None:
        return _median_all(self, True, "nanmedian")
    return return_types.nanmedian(*_median_dim(self, dim, keepdim, True, "nanmedian"))


@dim_aliases
def mode(self: Tensor, dim: builtins.int = -1, keepdim: builtins.bool = False) -> Any:
    """(values, indices): the most frequent x along dim (the smallest among equally frequent ones) and the last
    index where it occurs; O(n^2) compares per row."""
    x, d = _prepare(self, dim, "mode")
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"mode(): expected reduction dim {d} to have non-zero size (shape {self.shape})")
    xl = x.transpose(d, -1)._rounded()  # (..., n)
    count = _same(xl.unsqueeze(-1), xl.unsqueeze(-2)).sum(-1)  # (..., n): how often x_i occurs
    best = count == count.amax(-1, keepdim=True)
    v = best._where(xl, x.dtype.max).amin(-1, keepdim=True)  # the smallest most frequent value
    pos = Tensor.arange(n, dtype=dtypes.int64, device=self.device)
    idx = _same(xl, v)._where(pos, -1).amax(-1, keepdim=True).detach()  # its last occurrence
    vals = x.transpose(d, -1)._take_along(idx, x.ndim - 1)
    vals, idx = vals.transpose(d, -1), idx.transpose(d, -1)
    if not keepdim or self.ndim == 0:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return return_types.mode(*_scalar_back(self, vals, idx))


def _lerp(a: Tensor, b: Tensor, w: Tensor) -> Tensor:
    """a + w (b - a), as b - (b - a)(1 - w) for w >= 0.5 (PyTorch's lerp: exact at both ends)."""
    diff = b - a
    return (w < 0.5)._where(a + w * diff, b - diff * (1 - w))


@dim_aliases
def quantile(self: Tensor, q: Any, dim: builtins.int | None = None, keepdim: builtins.bool = False, *,
             interpolation: str = "linear", _ignore_nan: builtins.bool = False) -> Tensor:
    """The q-th quantile along dim (all elements for None): sorted x at position q (n - 1), interpolated
    (linear: x_lo + (q (n - 1) - lo)(x_hi - x_lo)); NaN if the row has a NaN. A 1-D q adds a leading dim."""
    op = "nanquantile" if _ignore_nan else "quantile"
    if not self.dtype.is_float or self.dtype in (dtypes.float16, dtypes.bfloat16):
        raise DTypeError(f"{op}() input tensor must be either float or double dtype, got {self.dtype}")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise TensorValueError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                               f"Got {interpolation}")
    qt = q if isinstance(q, Tensor) else Tensor(q, dtype=self.dtype, device=self.device)
    if qt.ndim > 1:
        raise TensorValueError(f"{op}() q must be a scalar or 1D tensor, got shape {qt.shape}")
    qv = qt.numpy()
    if qv.size and (np.isnan(qv).any() or qv.min() < 0 or qv.max() > 1):
        raise TensorValueError(f"{op}() q values must be in the range [0, 1]")
    qt = qt.cast(self.dtype)
    x, d = (self.flatten(), 0) if dim is None else (self.reshape(1), 0) if self.ndim == 0 else (
        self, _norm_axis(op, dim, self.ndim))
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{op}() input tensor must be non-empty")
    xl = x.transpose(d, -1)._rounded()  # (..., n)
    rank = _ranks(xl, False)
    valid = (xl == xl).sum(-1, keepdim=True)  # (..., 1) non-NaN count
    has_nan = valid < n
    cnt = valid if _ignore_nan else Tensor.full(valid.shape, n, dtypes.int64, self.device)
    qs = qt.reshape(-1, *(1,) * xl.ndim)  # (Q, 1..., 1)
    posf = qs * (cnt - 1).maximum(0).cast(self.dtype)  # (Q, ..., 1)
    lo, hi = posf.floor(), posf.ceil()
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = posf.round()
    w = (posf - lo) if interpolation == "linear" else Tensor.full((), 0.5 if interpolation == "midpoint" else 0.0,
                                                                   self.dtype, self.device)
    below = _pick(xl, rank, lo.cast(dtypes.int64))[0]  # (Q, ..., 1)
    above = _pick(xl, rank, hi.cast(dtypes.int64))[0]
    out = _lerp(below, above, w)
    nan_rows = (valid == 0) if _ignore_nan else has_nan
    out = nan_rows._where(float("nan"), out).transpose(d + 1, -1)  # (Q, x's shape with size 1 at d)
    if dim is None:
        out = out.reshape(out.shape[0], *[1] * self.ndim) if keepdim else out.reshape(out.shape[0])
    elif not keepdim:
        out = out.squeeze(d + 1)
    if qt.ndim == 0:
        out = out.squeeze(0)
    return out


@dim_aliases
def nanquantile(self: Tensor, q: Any, dim: builtins.int | None = None, keepdim: builtins.bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """quantile over the non-NaN elements (NaN where all are NaN)."""
    return self.quantile(q, dim, keepdim, interpolation=interpolation, _ignore_nan=True)
