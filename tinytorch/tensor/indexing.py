"""Indexing: x[index] and x[index] = value with PyTorch's rules.

Takes: ints, slices, None, ..., integer tensors, lists and bool masks.
Produces: basic indexing as views (shrink, flip, reshape); advanced indexing (integer tensors, lists,
masks) as a one-hot gather over the indexed dims only, lazy and differentiable. Index values are
checked on the host (a lazy index tensor is computed first): out of range raises IndexError. A bool
mask's true positions are read on the host (the result's shape depends on them, as in PyTorch).
"""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes
from ..errors import TensorValueError
from ..helpers import prod
from ..ops.uop import Ops, UOp
from .common import _broadcast_shapes

if TYPE_CHECKING:
    from .core import Tensor


def _is_advanced(index: Any) -> builtins.bool:
    """Whether index has an entry that is a tensor, a list or an array (PyTorch's advanced indexing)."""
    return any(isinstance(v, (Tensor, list, np.ndarray)) for v in (index if isinstance(index, tuple) else (index,)))


def _expand_index(self: Tensor, index: Any) -> tuple[tuple[Any, ...], list[int]]:
    """The index as a tuple in which lists, arrays and bool masks have become integer tensors
    (a k-dim mask becomes k index tensors of its true positions, read on the host), and the
    positions of those tensors in it."""
    if isinstance(index, list) and len(index) < 32 and any(
            isinstance(v, (list, tuple, slice, Tensor)) or v is None or v is Ellipsis for v in index):
        index = tuple(index)  # PyTorch still reads x[[[0, 1]]] and x[[0, slice]] as a tuple (deprecated)
    idx = index if isinstance(index, tuple) else (index,)
    idx = tuple(v.cast(dtypes.bool) if isinstance(v, Tensor) and v.dtype == dtypes.uint8 else v for v in idx)
    out: list[Any] = []
    pos: list[int] = []
    n_real = sum(1 for v in idx if v is not None and v is not Ellipsis and not (
        isinstance(v, (Tensor, np.ndarray)) and v.dtype in (dtypes.bool, np.bool_)))
    masks_ndim = sum(v.ndim for v in idx if isinstance(v, (Tensor, np.ndarray)) and v.dtype in (dtypes.bool, np.bool_))
    d = 0  # the dim of self the next entry indexes
    for v in idx:
        if isinstance(v, (list, np.ndarray)) and not isinstance(v, Tensor):
            arr = np.asarray(v)
            if arr.size == 0 and arr.dtype.kind == "f":
                arr = arr.astype(np.int64)
            if arr.dtype.kind not in "iub":
                raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {arr.dtype}")
            v = Tensor(arr if arr.dtype == np.bool_ else arr.astype(np.int64), device=self.device)
        if isinstance(v, Tensor) and v.dtype.is_bool:
            if v.ndim == 0:
                raise IndexError("indexing with a 0-d bool tensor (x[True]) is not supported; use unsqueeze(0)")
            dims = self.shape[d:d + v.ndim]
            if tuple(v.shape) != tuple(dims):
                raise IndexError(f"The shape of the mask {list(v.shape)} at index {d} does not match the shape of "
                                 f"the indexed tensor {list(self.shape)} at index {d}")
            for c in np.nonzero(v.numpy()):  # data-dependent: the mask is read on the host
                pos.append(len(out))
                out.append(Tensor(c.astype(np.int64), device=self.device))
            d += v.ndim
            continue
        if isinstance(v, Tensor):
            if not v.dtype.is_int:
                raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {v.dtype}")
            pos.append(len(out))
        if v is Ellipsis:
            d += self.ndim - n_real - masks_ndim
        elif v is not None:
            d += 1
        out.append(v)
    return tuple(out), pos


def _advanced_dims(self: Tensor, idx: tuple[Any, ...], tensor_pos: list[int]) -> tuple[Tensor, list[int]]:
    """(the basic-indexed view with tensor positions kept whole, the dims of that view the tensors index)."""
    basic = tuple(slice(None) if i in tensor_pos else v for i, v in enumerate(idx))
    x = self._index_view(basic)
    n_real = sum(1 for v in idx if v is not None and v is not Ellipsis)
    dims, d = [], 0
    for i, v in enumerate(idx):
        if v is None:
            d += 1
        elif v is Ellipsis:
            d += self.ndim - n_real
        elif isinstance(v, (int, np.integer)):
            pass
        else:
            if i in tensor_pos:
                dims.append(d)
            d += 1
    return x, dims


def _index(self: Tensor, index: Any) -> Tensor:
    """self[index]: ints, slices, None and ... give views; integer tensors, lists and bool masks gather
    (PyTorch's advanced indexing, with its placement of the indexed block)."""
    idx, tensor_pos = self._expand_index(index)
    if not tensor_pos:
        return self._index_view(idx)
    x, dims = self._advanced_dims(idx, tensor_pos)
    return x._gather_dims(dims, [idx[i] for i in tensor_pos])


def _linear_index(self: Tensor, dims: list[int], idxs: list[Tensor]) -> tuple[Tensor, tuple[int, ...], int]:
    """(flat position within the indexed dims, broadcast to the indices' common shape; that shape; the
    number of positions). Indices are checked on the host (a lazy one is computed first)."""
    bshape = _broadcast_shapes(*[t.shape for t in idxs], op="index")
    sizes = [self.shape[d] for d in dims]
    for t, n, d in zip(idxs, sizes, dims):
        if t.numel() > 0:
            v = t.numpy()
            bad = (v < -n) | (v >= n)
            if bad.any():
                raise IndexError(f"index {int(v[bad].flat[0])} is out of bounds for dimension {d} with size {n}")
    # positions in the flattened indexed dims; int32 while they fit (a checked index then fits too)
    idt = dtypes.int32 if prod(sizes) < 2**31 else dtypes.int64
    lin: Tensor | None = None
    stride = 1
    for t, n in reversed(list(zip(idxs, sizes))):
        ti = t.cast(idt)
        ti = (ti < 0)._where(ti + n, ti)._broadcast_to(bshape, "index")
        lin = ti * stride if lin is None else lin + ti * stride
        stride *= n
    assert lin is not None
    return lin, bshape, stride


def _block_order(dims: list[int], nb: int, nr: int) -> list[int] | None:
    """The permutation from (*index shape, *other dims) to PyTorch's result layout (None: no move):
    adjacent indexed dims put the indexed block where those dims were; otherwise it goes first."""
    adjacent = sorted(dims) == list(range(min(dims), min(dims) + len(dims)))
    if adjacent and min(dims) > 0:
        k = min(dims)
        return list(range(nb, nb + k)) + list(range(nb)) + list(range(nb + k, nb + nr))
    return None


# above this many one-hot elements a gather that needs no gradient copies on the host instead
_HOST_GATHER = 1 << 24


def _gather_dims(self: Tensor, dims: list[int], idxs: list[Tensor]) -> Tensor:
    for t in idxs:
        if not t.dtype.is_int:
            raise IndexError(f"tensors used as indices must be integer, got {t.dtype}")
    lin, bshape, stride = self._linear_index(dims, idxs)
    rest = [d for d in range(self.ndim) if d not in dims]
    nb, nr = len(bshape), len(rest)
    order = _block_order(dims, nb, nr)
    from ..engine.realize import CAPTURE

    # (not while a jitted step is captured: a replay would return the rows picked on the host at capture)
    if not self.requires_grad and prod(bshape) * self.numel() > _HOST_GATHER and not CAPTURE:
        # a big one-hot and no gradient: copy the picked values on the host (numpy's rules are PyTorch's here)
        arrs = [np.broadcast_to(t.numpy().astype(np.int64), bshape) for t in idxs]
        sel = tuple(arrs[dims.index(d)] if d in dims else slice(None) for d in range(self.ndim))
        return Tensor(np.ascontiguousarray(self.numpy()[sel]), dtype=self.dtype, device=self.device)
    xp = self.permute(*rest, *dims).reshape(*[self.shape[d] for d in rest], stride)
    onehot = lin.reshape(*bshape, *(1,) * nr, 1) == Tensor.arange(stride, dtype=lin.dtype, device=self.device)
    vals = xp.reshape(*(1,) * nb, *xp.shape)
    if self.dtype.is_bool:
        out = (onehot & vals).any(-1)
    else:
        out = onehot._where(vals, 0).sum(-1, dtype=self.dtype)  # (*bshape, *rest)
    return out.permute(*order) if order is not None else out


def _mask_fill(self: Tensor, index: Any, value: Any) -> builtins.bool:
    """x[..., mask, ...] = scalar with one bool mask and no other tensor index: a lazy masked_fill of the
    view (the mask is not read on the host). False when the index is not of that form."""
    idx = index if isinstance(index, tuple) else (index,)
    masks = [i for i, v in enumerate(idx) if isinstance(v, Tensor) and v.dtype.is_bool and v.ndim > 0]
    others = [v for v in idx if isinstance(v, (list, np.ndarray)) or (isinstance(v, Tensor) and not v.dtype.is_bool)]
    if len(masks) != 1 or others or not (isinstance(value, (bool, int, float)) or (
            isinstance(value, Tensor) and value.numel() == 1)):
        return False
    i, m = masks[0], idx[masks[0]]
    basic = idx[:i] + (slice(None),) * m.ndim + idx[i + 1:]
    view = self._index_view(basic)
    n_real = sum(1 for v in basic if v is not None and v is not Ellipsis)
    d0 = 0
    for v in idx[:i]:
        d0 += 1 if v is None or isinstance(v, slice) else self.ndim - n_real if v is Ellipsis else 0
    if tuple(view.shape[d0:d0 + m.ndim]) != tuple(m.shape):
        raise IndexError(f"The shape of the mask {list(m.shape)} does not match the shape of the indexed tensor "
                         f"{list(self.shape)}")
    mask = m.reshape(*(1,) * d0, *m.shape, *(1,) * (view.ndim - d0 - m.ndim))
    val = value.reshape(()) if isinstance(value, Tensor) else value
    self[basic] = view.masked_fill(mask, val)
    return True


def _setitem_advanced(self: Tensor, index: Any, value: Any) -> None:
    """self[index] = value with integer-tensor, list or bool-mask entries in index: the new content of the
    basic-indexed view is built lazily (a one-hot scatter over the indexed dims, the last of repeated
    positions winning) and written through the basic index: to memory, or as a graph node when gradients
    are tracked (a leaf that requires grad raises, as in PyTorch)."""
    from .common import no_grad

    tracking = no_grad.enabled and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    if tracking and self.requires_grad and self.is_leaf:
        from .inplace import LEAF_ERROR

        raise RuntimeError(LEAF_ERROR)
    if _mask_fill(self, index, value):
        return
    idx, tensor_pos = self._expand_index(index)
    x, dims = self._advanced_dims(idx, tensor_pos)
    basic = tuple(slice(None) if i in tensor_pos else v for i, v in enumerate(idx))
    v = value if isinstance(value, Tensor) else Tensor.full((), value, self.dtype, self.device)
    if not tracking and v.uop.base.op is not Ops.BUFFER and v.uop.base.op is not Ops.CONST:
        v = v.contiguous().realize()  # computed from self, maybe: read it before the write to memory
    v = v.cast(self.dtype) if v.dtype != self.dtype else v
    idxs = [idx[i] for i in tensor_pos]
    lin, bshape, n = x._linear_index(dims, idxs)
    rest = [d for d in range(x.ndim) if d not in dims]
    nb, nr = len(bshape), len(rest)
    rest_shape = tuple(x.shape[d] for d in rest)
    order = _block_order(dims, nb, nr)
    out_shape = (*bshape, *rest_shape)
    if order is not None:
        out_shape = tuple(out_shape[o] for o in order)
    try:
        v = v._broadcast_to(out_shape, "__setitem__")
    except ValueError:
        raise TensorValueError(f"__setitem__: shape mismatch: value tensor of shape {tuple(v.shape)} cannot be "
                               f"broadcast to indexing result of shape {out_shape}") from None
    if order is not None:
        v = v.permute(*[order.index(i) for i in range(len(order))])  # back to (*bshape, *rest)
    j_n = prod(bshape)
    if prod(out_shape) == 0:
        return
    from ..engine.realize import CAPTURE

    if not (x.requires_grad or v.requires_grad) and j_n * n * prod(rest_shape) > _HOST_GATHER and not CAPTURE:
        arr = x.numpy().copy()  # a big one-hot and no gradient: the new content is made on the host
        arrs = [np.broadcast_to(t.numpy().astype(np.int64), bshape) for t in idxs]
        sel = tuple(arrs[dims.index(d)] if d in dims else slice(None) for d in range(x.ndim))
        vv = v.numpy()
        arr[sel] = vv if order is None else vv.transpose(order)
        self[basic] = Tensor(arr, dtype=self.dtype, device=self.device)
        return
    lin2 = lin.reshape(j_n)
    onehot = lin2.unsqueeze(-1) == Tensor.arange(n, dtype=lin2.dtype, device=self.device)  # (J, N)
    j = Tensor.arange(j_n, device=self.device).reshape(j_n, 1)
    last = onehot._where(j, -1)._reduce(Ops.MAX, 0, True, "max")
    sel_oh = onehot & (j == last)  # (J, N): the last entry that lands on each position
    vm = v.reshape(j_n, *rest_shape).movedim(0, -1).unsqueeze(-1)  # (*rest, J, 1)
    if self.dtype.is_bool:
        new = (sel_oh & vm).any(-2)
    else:
        from .scatter import _grad_to_every

        new = _grad_to_every(sel_oh._where(vm, 0).sum(-2, dtype=self.dtype), onehot, vm, -2)  # (*rest, N)
    hit = onehot.any(0)
    xp = x.permute(*rest, *dims).reshape(*rest_shape, n)
    content = hit._where(new, xp).reshape(*rest_shape, *[x.shape[d] for d in dims])
    perm = rest + dims
    self[basic] = content.permute(*[perm.index(i) for i in range(x.ndim)])


def _index_view(self: Tensor, idx: Any, for_write: builtins.bool = False) -> Tensor:
    idx = idx if isinstance(idx, tuple) else (idx,)
    if sum(1 for v in idx if v is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    for v in idx:
        if isinstance(v, (Tensor, list, np.ndarray)):
            raise IndexError("tensor indices are gathered by _index, not viewed")
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
