"""Indexing: basic slicing as views, integer-tensor (advanced) indexing as one-hot gathers."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes
from ..helpers import prod
from ..ops.uop import Ops, UOp
from .common import _broadcast_shapes

if TYPE_CHECKING:
    from .core import Tensor


def _index(self: Tensor, index: Any) -> Tensor:
    idx = index if isinstance(index, tuple) else (index,)
    tensor_pos = [i for i, v in enumerate(idx) if isinstance(v, (Tensor, list, np.ndarray))]
    if not tensor_pos:
        return self._index_view(idx)
    # basic indexing first, with tensor positions kept as full slices
    basic = tuple(slice(None) if i in tensor_pos else v for i, v in enumerate(idx))
    x = self._index_view(basic)
    # dims of x that the tensor indices select
    dim_of, d = {}, 0
    for i, v in enumerate(idx):
        if v is None:
            d += 1
        elif v is Ellipsis:
            d += x.ndim - sum(1 for w in idx if w is not None and w is not Ellipsis and not isinstance(w, int))
            d -= sum(1 for w in idx if w is None)
        elif isinstance(v, int):
            pass
        else:
            if i in tensor_pos:
                dim_of[i] = d
            d += 1
    tens = [v if isinstance(v, Tensor) else Tensor(np.asarray(v), device=self.device) for v in
            (idx[i] for i in tensor_pos)]
    return x._gather_dims([dim_of[i] for i in tensor_pos], tens)


def _gather_dims(self: Tensor, dims: list[int], idxs: list[Tensor]) -> Tensor:
    for t in idxs:
        if not (t.dtype.is_int or t.dtype.is_bool):
            raise IndexError(f"tensors used as indices must be integer, got {t.dtype}")
        if t.dtype.is_bool:
            raise IndexError("boolean mask indexing is not supported (its result shape depends on the data)")
    bshape = _broadcast_shapes(*[t.shape for t in idxs], op="index")
    sizes = [self.shape[d] for d in dims]
    for t, n, d in zip(idxs, sizes, dims):  # every index is checked on the host (a lazy one is computed first)
        if t.numel() > 0:
            v = t.numpy()
            if v.min() < -n or v.max() >= n:
                raise IndexError(f"index {int(v.max()) if v.max() >= n else int(v.min())} is out of bounds "
                                 f"for dimension {d} with size {n}")
    # positions in the flattened indexed dims; int32 while they fit (a checked index then fits too)
    idt = dtypes.int32 if prod(sizes) < 2**31 else dtypes.int64
    lin: Tensor | None = None
    stride = 1
    for t, n in reversed(list(zip(idxs, sizes))):
        ti = t.cast(idt)
        ti = (ti < 0).where(ti + n, ti)._broadcast_to(bshape, "index")
        lin = ti * stride if lin is None else lin + ti * stride
        stride *= n
    assert lin is not None
    rest = [d for d in range(self.ndim) if d not in dims]
    xp = self.permute(*rest, *dims).reshape(*[self.shape[d] for d in rest], stride)
    nb, nr = len(bshape), len(rest)
    onehot = lin.reshape(*bshape, *(1,) * nr, 1) == Tensor.arange(stride, dtype=idt, device=self.device)
    out = onehot.where(xp.reshape(*(1,) * nb, *xp.shape), 0).sum(-1, dtype=self.dtype)  # (*bshape, *rest)
    adjacent = sorted(dims) == list(range(min(dims), min(dims) + len(dims)))
    if adjacent and min(dims) > 0:  # like numpy: the indexed block stays where it was
        k = min(dims)
        order = list(range(nb, nb + k)) + list(range(nb)) + list(range(nb + k, nb + nr))
        out = out.permute(*order)
    return out


def _index_view(self: Tensor, idx: Any, for_write: builtins.bool = False) -> Tensor:
    idx = idx if isinstance(idx, tuple) else (idx,)
    if sum(1 for v in idx if v is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    for v in idx:
        if isinstance(v, (Tensor, list, np.ndarray)):
            raise IndexError("__setitem__ supports ints, slices, None and ... (not tensor indices)")
        if not (v is None or v is Ellipsis or isinstance(v, (int, slice, np.integer))):
            raise IndexError(f"invalid index {v!r} of type {type(v).__name__}")
    n_real = sum(1 for v in idx if v is not None and v is not Ellipsis)
    if n_real > self.ndim:
        raise IndexError(f"too many indices for tensor of dimension {self.ndim} (got {n_real})")
    if Ellipsis in idx:
        e = idx.index(Ellipsis)
        idx = idx[:e] + (slice(None),) * (self.ndim - n_real) + idx[e + 1:]
    else:
        idx = idx + (slice(None),) * (self.ndim - n_real)
    x, d = self, 0
    shrink, flips, steps, out_shape = [], [], [], []
    for v in idx:
        if v is None:
            out_shape.append(("new", 1))
            continue
        n = self.shape[d]
        if isinstance(v, (int, np.integer)):
            v = int(v)
            if not -n <= v < n:
                raise IndexError(f"index {v} is out of bounds for dimension {d} with size {n}")
            v %= n
            shrink.append((v, v + 1))
            flips.append(False)
            steps.append(1)
            out_shape.append(("drop", d))
        else:
            start, stop, step = v.indices(n)
            if step > 0:
                cnt = max(0, math.ceil((stop - start) / step))
                lo, hi = start, start + max(0, (cnt - 1) * step + 1) if cnt else start
                shrink.append((lo, hi) if cnt else (0, 0))
                flips.append(False)
            else:
                cnt = max(0, math.ceil((start - stop) / -step))
                hi, lo = start + 1, start + 1 - ((cnt - 1) * -step + 1) if cnt else start + 1
                shrink.append((lo, hi) if cnt else (0, 0))
                flips.append(cnt > 0)
            steps.append(abs(step))
            out_shape.append(("keep", cnt))
        d += 1
    x = x._shrink(tuple(shrink))
    if any(flips):
        x = x.flip(*[i for i, f in enumerate(flips) if f])
    if any(s > 1 for s in steps):
        # take every s-th element: pad to a multiple of s, split the axis in (n/s, s), keep column 0
        pads = tuple((0, (-dim) % s) for dim, s in zip(x.shape, steps))
        x = x._new(UOp(Ops.PAD, x.dtype, (x.uop,), pads), x) if any(p != (0, 0) for p in pads) else x
        split = [v for dim, s in zip(x.shape, steps) for v in (dim // s, s)]
        x = x.reshape(*split)
        x = x._shrink(tuple((0, v) if i % 2 == 0 else (0, 1) for i, v in enumerate(split)))
        x = x.reshape(*x.shape[::2])
    final = [c for kind, c in out_shape if kind != "drop"]
    return x.reshape(*final)
