"""Searching, counting and sampling: nonzero/argwhere, unique, bincount, histc, bucketize/searchsorted,
triu_indices/tril_indices, multinomial, bernoulli.

Takes: tensors (values, sorted boundaries, probabilities).
Produces: bucketize/searchsorted/histc/bincount are lazy compare-and-sum expressions; nonzero and
unique have a result shape that depends on the data (as in PyTorch), so they compute their input,
read it on the host and return a new tensor; triu/tril_indices depend only on their arguments.
multinomial reads the probabilities on the host and samples with `generator=`'s stream, or the global one
seeded by tinytorch.manual_seed.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes, to_dtype
from ..errors import DTypeError, TensorValueError
from .common import _check_device
from .creation import _host_rng

if TYPE_CHECKING:
    from .core import Tensor


def nonzero(self: Tensor, *, as_tuple: builtins.bool = False) -> Any:
    """Indices of the non-zero elements: int64 (count, ndim), or a tuple of ndim 1-D tensors (as_tuple)."""
    v = self.numpy()
    if as_tuple:
        v1 = v.reshape(1) if v.ndim == 0 else v
        return tuple(Tensor(c.astype(np.int64), dtype=dtypes.int64, device=self.device) for c in np.nonzero(v1))
    return Tensor(np.argwhere(v).astype(np.int64), dtype=dtypes.int64, device=self.device)


def argwhere(self: Tensor) -> Tensor:
    """nonzero(): int64 indices (count, ndim) of the non-zero elements."""
    return self.nonzero()


def unique(self: Tensor, sorted: builtins.bool = True, return_inverse: builtins.bool = False,
           return_counts: builtins.bool = False, dim: builtins.int | None = None) -> Any:
    """The distinct values (sorted), optionally with the inverse indices (input shape) and the counts."""
    v = self.numpy()
    if dim is None:
        vals, inv, cnt = np.unique(v.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(v.shape)
    else:
        from .common import _norm_axis

        d = _norm_axis("unique", dim, self.ndim)
        vals, inv, cnt = np.unique(v, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    out: list[Tensor] = [Tensor(vals, dtype=self.dtype, device=self.device)]
    if return_inverse:
        out.append(Tensor(inv.astype(np.int64), dtype=dtypes.int64, device=self.device))
    if return_counts:
        out.append(Tensor(cnt.astype(np.int64), dtype=dtypes.int64, device=self.device))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(self: Tensor, weights: Tensor | None = None, minlength: builtins.int = 0) -> Tensor:
    """out[b] = number of elements equal to b (or the sum of their weights), for b < max(max(x) + 1, minlength)."""
    if self.ndim != 1 or not (self.dtype.is_int or self.dtype.is_bool):
        raise TensorValueError(f"bincount only supports 1-d non-negative integral inputs, got shape {self.shape} "
                               f"of dtype {self.dtype!r}")
    if minlength < 0:
        raise TensorValueError(f"bincount: minlength should be >= 0, got {minlength}")
    if weights is not None and weights.shape != self.shape:
        raise TensorValueError(f"bincount: weights should be 1-d and have the same length as input: "
                               f"input {self.shape}, weights {weights.shape}")
    v = self.numpy()  # the length of the result depends on the largest value
    if v.size and v.min() < 0:
        raise TensorValueError(f"bincount only supports 1-d non-negative integral inputs, got value {int(v.min())}")
    n = builtins.max(int(v.max()) + 1 if v.size else 0, minlength)
    wdt = dtypes.int64 if weights is None else weights.dtype if weights.dtype == dtypes.float32 else dtypes.float64
    if n == 0 or v.size == 0:
        return Tensor.zeros(n, dtype=wdt, device=self.device)
    hit = self.cast(dtypes.int64).unsqueeze(-1) == Tensor.arange(n, device=self.device)  # (len, n)
    if weights is None:
        return hit.sum(0)
    return hit._where(weights.cast(wdt).unsqueeze(-1), 0).sum(0)


def histc(self: Tensor, bins: builtins.int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts of the elements in bins equal-width bins over [min, max] (the data's range when min == max)."""
    if not self.dtype.is_float:
        raise DTypeError(f"histc: input must be a floating point tensor, got {self.dtype!r}")
    if bins <= 0:
        raise TensorValueError(f"histc: bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo == hi and self.numel():
        v = self.numpy()
        lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise TensorValueError(f"histc: max must be larger than min, got min {min} and max {max}")
    x = self.reshape(-1).cast(dtypes.float64)
    b = ((x - lo) * (bins / (hi - lo))).floor().cast(dtypes.int64)
    b = (b == bins)._where(bins - 1, b)  # the right edge belongs to the last bin
    inside = (x >= lo) & (x <= hi)
    hit = inside.unsqueeze(-1) & (b.unsqueeze(-1) == Tensor.arange(bins, device=self.device))
    return hit.sum(0).cast(self.dtype)


def searchsorted(sorted_sequence: Tensor, values: Any, *, out_int32: builtins.bool = False,
                 right: builtins.bool = False, side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """For each value, the index where it would be inserted into the sorted last dim of sorted_sequence
    (left: count of s < v; right: count of s <= v)."""
    if side is not None:
        if side not in ("left", "right"):
            raise TensorValueError(f"searchsorted: side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise TensorValueError("searchsorted: side and right can't be set to opposites, got side of left while "
                                   "right was True")
        right = side == "right"
    seq = sorted_sequence
    if sorter is not None:
        seq = seq.gather(-1, sorter)
    scalar = not isinstance(values, Tensor)
    vals = Tensor(values, dtype=seq.dtype, device=seq.device) if scalar else values
    if seq.ndim > 1 and seq.shape[:-1] != vals.shape[:-1]:
        raise TensorValueError(f"searchsorted: boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                               f"boundaries tensor and input value tensor must match, but we got boundaries tensor "
                               f"{seq.shape} and input value tensor {vals.shape}")
    odt = dtypes.int32 if out_int32 else dtypes.int64
    s = seq.reshape(-1) if seq.ndim <= 1 else seq.unsqueeze(-2)  # (M,) or (..., 1, M)
    v = vals.unsqueeze(-1)  # (..., K, 1)
    cmp = (s <= v) if right else (s < v)
    if s.dtype.is_float or v.dtype.is_float:  # NaN sorts after everything, as in PyTorch's sort
        cmp = cmp | (v.isnan() & s.isnan().logical_not()) if not right else cmp | v.isnan()
    return cmp.sum(-1).cast(odt)


def bucketize(self: Tensor, boundaries: Tensor, *, out_int32: builtins.bool = False,
              right: builtins.bool = False) -> Tensor:
    """Bucket index of each element for the sorted 1-D boundaries: count of b < x (right: b <= x)."""
    if boundaries.ndim != 1:
        raise TensorValueError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, self, out_int32=out_int32, right=right)


def _tri_indices(row: int, col: int, offset: int, upper: bool, dtype: Any, device: str | None) -> Tensor:
    r, c = np.indices((row, col)).reshape(2, -1)
    keep = (c - r >= offset) if upper else (c - r <= offset)
    dt = to_dtype(dtype) if dtype is not None else dtypes.int64
    return Tensor(np.stack([r[keep], c[keep]]).astype(dt.np), dtype=dt, device=_check_device(device))


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: str | None = None) -> Tensor:
    """(2, N) row and column indices of the upper triangle (j - i >= offset) of a row x col matrix."""
    return _tri_indices(row, col, offset, True, dtype, device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: str | None = None) -> Tensor:
    """(2, N) row and column indices of the lower triangle (j - i <= offset) of a row x col matrix."""
    return _tri_indices(row, col, offset, False, dtype, device)


def multinomial(self: Tensor, num_samples: builtins.int, replacement: builtins.bool = False, *,
                generator: Any = None) -> Tensor:
    """num_samples category indices per row drawn with probability proportional to the row's weights
    (without replacement: each category at most once)."""
    if self.ndim not in (1, 2):
        raise TensorValueError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {self.shape}")
    if not self.dtype.is_float:
        raise DTypeError(f"multinomial only supports floating-point dtypes for input, got: {self.dtype!r}")
    if num_samples <= 0:
        raise TensorValueError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    p = self.numpy().astype(np.float64).reshape(-1, self.shape[-1])
    n_cat = p.shape[1]
    if n_cat == 0:
        raise TensorValueError("multinomial: number of categories cannot be zero")
    if not replacement and num_samples > n_cat:
        raise TensorValueError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                               f"replacement (n_sample {num_samples}, {n_cat} categories)")
    if not np.isfinite(p).all() or (p < 0).any():
        raise TensorValueError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    if (p.sum(1) <= 0).any():
        raise TensorValueError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and ((p > 0).sum(1) < num_samples).any():
        raise TensorValueError("multinomial: invalid multinomial distribution (with replacement=False, not enough "
                               "non-negative category to sample)")
    rng = _host_rng(generator, "multinomial")  # generator's own stream, or the global one
    out = np.empty((p.shape[0], num_samples), np.int64)
    for i, row in enumerate(p):
        w = row / row.sum()
        if replacement:
            out[i] = rng.choice(n_cat, size=num_samples, replace=True, p=w)
        else:  # successive draws without replacement: the top num_samples of log(w) + Gumbel noise
            keys = np.where(w > 0, np.log(np.where(w > 0, w, 1)) + rng.gumbel(size=n_cat), -np.inf)
            out[i] = np.argsort(-keys, kind="stable")[:num_samples]
    shape = (num_samples,) if self.ndim == 1 else (self.shape[0], num_samples)
    return Tensor(out.reshape(shape), dtype=dtypes.int64, device=self.device)


def bernoulli(self: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """1 with probability p (self's values when p is None), else 0; in self's dtype."""
    prob = self if p is None else p
    if isinstance(prob, Tensor):
        if not prob.dtype.is_float:
            raise DTypeError(f"bernoulli: probabilities must be a floating point tensor, got {prob.dtype!r}")
        v = prob.numpy()
        if v.size and (np.isnan(v).any() or v.min() < 0 or v.max() > 1):
            raise TensorValueError("bernoulli: all probabilities must satisfy 0 <= p <= 1")
    elif not 0 <= prob <= 1:
        raise TensorValueError(f"bernoulli: p must be in [0, 1], got {prob}")
    draw = Tensor.rand(*self.shape, generator=generator, device=self.device) < prob
    return draw.cast(self.dtype if self.dtype.is_float else dtypes.float32)
