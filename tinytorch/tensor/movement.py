"""Movement ops: reshape, permute, expand, pad, shrink, flip and what is built from them.

Takes: a tensor and shapes, dims, sizes or offsets (PyTorch's names and argument orders).
Produces: lazy views (reshape, permute, expand, shrink, pad, flip of the same buffer) and
compositions of them: cat/stack/split/tensor_split, roll (a window of two copies), repeat,
repeat_interleave, tile, rot90, movedim, narrow/select/unbind, meshgrid, and the triangle and
diagonal ops (tril/triu are a where() over index compares, diagonal a strided window of the
flattened matrix, diag_embed a where() over the diagonal). All differentiate and fuse.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes, promote
from ..errors import TensorValueError
from ..helpers import all_same, prod
from ..ops.uop import Ops, UOp
from .common import _check_numel, _const_uop, _expand_to, _norm_axis, _shape_arg

if TYPE_CHECKING:
    from .core import Tensor


def reshape(self: Tensor, *shape: Any) -> Tensor:
    """self with a new shape of the same number of elements (one dim may be -1)."""
    return self._reshape(_shape_arg(shape), "reshape")


def view(self: Tensor, *shape: Any) -> Tensor:
    """reshape(): the same elements in a new shape (lazy views never copy)."""
    return self._reshape(_shape_arg(shape), "view")


def _reshape(self: Tensor, new: tuple[int, ...], op: str) -> Tensor:
    if new.count(-1) > 1:
        raise TensorValueError(f"{op}: only one dimension can be -1, got {new}")
    if -1 in new:
        known = prod(s for s in new if s != -1)
        if known == 0 or self.numel() % known:
            raise TensorValueError(
                f"{op}: shape {new} is invalid for input of size {self.numel()} (shape {self.shape})")
        new = tuple(self.numel() // known if s == -1 else s for s in new)
    if any(s < 0 for s in new) or prod(new) != self.numel():
        raise TensorValueError(f"{op}: shape {new} is invalid for input of size {self.numel()} (shape {self.shape})")
    return self if new == self.shape else self._new(self.uop.reshape_to(new), self)


def flatten(self: Tensor, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
    """Dims start_dim..end_dim merged into one (a 0-d tensor becomes shape (1,))."""
    if self.ndim == 0:
        return self.reshape(1)
    s, e = _norm_axis("flatten", start_dim, self.ndim), _norm_axis("flatten", end_dim, self.ndim)
    if s > e:
        raise TensorValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return self.reshape(*self.shape[:s], prod(self.shape[s:e + 1]), *self.shape[e + 1:])


def unflatten(self: Tensor, dim: builtins.int, sizes: Sequence[int]) -> Tensor:
    """Dim dim split into sizes (one may be -1)."""
    d = _norm_axis("unflatten", dim, self.ndim)
    sizes = list(sizes)
    if -1 in sizes:
        known = prod(s for s in sizes if s != -1)
        sizes = [self.shape[d] // known if s == -1 else s for s in sizes]
    if prod(sizes) != self.shape[d]:
        raise TensorValueError(f"unflatten: sizes {tuple(sizes)} do not multiply to dim {dim} of size {self.shape[d]}")
    return self.reshape(*self.shape[:d], *sizes, *self.shape[d + 1:])


def squeeze(self: Tensor, dim: builtins.int | Sequence[int] | None = None) -> Tensor:
    """Size-1 dims removed (all, or those among dim: an int or a tuple)."""
    if dim is None:
        return self.reshape(*[s for s in self.shape if s != 1])
    dims = {_norm_axis("squeeze", d, self.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
    return self.reshape(*[s for i, s in enumerate(self.shape) if i not in dims or s != 1])


def unsqueeze(self: Tensor, dim: builtins.int) -> Tensor:
    """A size-1 dim inserted at dim."""
    d = _norm_axis("unsqueeze", dim, self.ndim + 1)
    return self.reshape(*self.shape[:d], 1, *self.shape[d:])


def permute(self: Tensor, *order: Any) -> Tensor:
    """Dims reordered: out.shape[i] = self.shape[order[i]]."""
    order = tuple(_norm_axis("permute", o, self.ndim) for o in _shape_arg(order))
    if sorted(order) != list(range(self.ndim)):
        raise TensorValueError(f"permute: {order} is not a permutation of the {self.ndim} dims of shape {self.shape}")
    if order == tuple(range(self.ndim)):
        return self
    return self._new(UOp(Ops.PERMUTE, self.dtype, (self.uop,), order), self)


def transpose(self: Tensor, dim0: builtins.int = -2, dim1: builtins.int = -1) -> Tensor:
    """Dims dim0 and dim1 swapped."""
    a, b = _norm_axis("transpose", dim0, self.ndim), _norm_axis("transpose", dim1, self.ndim)
    order = list(range(self.ndim))
    order[a], order[b] = order[b], order[a]
    return self.permute(*order)


def expand(self: Tensor, *sizes: Any) -> Tensor:
    """Size-1 dims repeated to sizes (-1 keeps a dim; new leading dims may be added), without copying."""
    sizes = _shape_arg(sizes)
    if len(sizes) < self.ndim:
        raise TensorValueError(
            f"expand: the number of sizes {sizes} must be at least the number of dims of {self.shape}")
    shape = (1,) * (len(sizes) - self.ndim) + self.shape
    new = tuple(s if n == -1 else n for s, n in zip(shape, sizes))
    for s, n in zip(shape, new):
        if s != n and s != 1:
            raise TensorValueError(f"expand: shape {self.shape} cannot be expanded to {sizes} "
                             f"(only size-1 dims can grow)")
    return self._broadcast_to(new, "expand")


def broadcast_to(self: Tensor, *shape: Any) -> Tensor:
    """self broadcast to shape (numpy's rules)."""
    return self._broadcast_to(_shape_arg(shape), "broadcast_to")


def expand_as(self: Tensor, other: Tensor) -> Tensor:
    """expand() to other's shape."""
    return self.expand(*other.shape)


def _broadcast_to(self: Tensor, shape: tuple[int, ...], op: str) -> Tensor:
    if self.shape == shape:
        return self
    if len(shape) < self.ndim:
        raise TensorValueError(f"{op}: cannot broadcast shape {self.shape} to {shape}")
    padded = (1,) * (len(shape) - self.ndim) + self.shape
    if any(s != n and s != 1 for s, n in zip(padded, shape)):
        raise TensorValueError(f"{op}: cannot broadcast shape {self.shape} to {shape}")
    _check_numel(shape, op)
    return self._new(_expand_to(self.uop, shape), self)


def flip(self: Tensor, *dims: Any) -> Tensor:
    """Order reversed along each of dims."""
    axes = {_norm_axis("flip", d, self.ndim) for d in _shape_arg(dims)}
    if not axes:
        return self
    return self._new(UOp(Ops.FLIP, self.dtype, (self.uop,), tuple(i in axes for i in range(self.ndim))), self)


def repeat(self: Tensor, *sizes: Any) -> Tensor:
    """self tiled sizes[i] times along dim i (leading dims added when sizes is longer)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < self.ndim:
        raise TensorValueError(f"repeat: number of repeat dims {len(sizes)} can not be smaller than the number of "
                         f"tensor dims {self.ndim}")
    base = self.reshape(*((1,) * (len(sizes) - self.ndim) + self.shape))
    s = base.shape
    x = base.reshape(*[v for d in s for v in (1, d)])
    x = x.expand(*[v for r, d in zip(sizes, s) for v in (r, d)])
    return x.reshape(*[r * d for r, d in zip(sizes, s)])


def pad(self: Tensor, padding: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding with PyTorch's order: (last_left, last_right, prev_left, ...)."""
    if len(padding) % 2 or len(padding) // 2 > self.ndim:
        raise TensorValueError(f"pad: padding {tuple(padding)} must have an even length of at most 2*{self.ndim}")
    pairs = [(0, 0)] * self.ndim
    for i in range(len(padding) // 2):
        pairs[self.ndim - 1 - i] = (int(padding[2 * i]), int(padding[2 * i + 1]))
    return self._pad(tuple(pairs), value)


def _pad(self: Tensor, pairs: tuple[tuple[int, int], ...], value: Any = 0.0) -> Tensor:
    if all(p == (0, 0) for p in pairs):
        return self
    x = self
    if any(b < 0 or e < 0 for b, e in pairs):  # negative padding crops
        x = x._shrink(tuple((max(0, -b), d - max(0, -e)) for (b, e), d in zip(pairs, self.shape)))
        pairs = tuple((max(0, b), max(0, e)) for b, e in pairs)
    _check_numel(tuple(d + b + e for d, (b, e) in zip(x.shape, pairs)), "pad")
    padded = x._new(UOp(Ops.PAD, x.dtype, (x.uop,), pairs), x)
    if value == 0:
        return padded
    mask = Tensor._from(UOp(Ops.PAD, dtypes.bool, (_const_uop(True, dtypes.bool, x.shape),), pairs), x.device)
    return mask._where(padded, value)


def _shrink(self: Tensor, arg: tuple[tuple[int, int], ...]) -> Tensor:
    if all(b == 0 and e == d for (b, e), d in zip(arg, self.shape)):
        return self
    return self._new(UOp(Ops.SHRINK, self.dtype, (self.uop,), tuple(arg)), self)


def split(self: Tensor, split_size: builtins.int | Sequence[int], dim: builtins.int = 0) -> tuple[Tensor, ...]:
    """Views along dim of split_size each (the last may be smaller), or of the sizes in a list."""
    d = _norm_axis("split", dim, self.ndim)
    n = self.shape[d]
    if isinstance(split_size, int):
        if split_size <= 0:
            raise TensorValueError(f"split: split_size must be positive, got {split_size}")
        sizes = [min(split_size, n - i) for i in range(0, n, split_size)]
    else:
        sizes = list(split_size)
        if sum(sizes) != n:
            raise TensorValueError(f"split: sizes {tuple(sizes)} do not sum to dim {dim} of size {n}")
    out, start = [], 0
    for s in sizes:
        arg = tuple((start, start + s) if i == d else (0, e) for i, e in enumerate(self.shape))
        out.append(self._shrink(arg))
        start += s
    return tuple(out)


def chunk(self: Tensor, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
    """At most chunks views along dim, each of size ceil(n / chunks) (the last may be smaller)."""
    if chunks <= 0:
        raise TensorValueError(f"chunk: chunks must be positive, got {chunks}")
    n = self.shape[_norm_axis("chunk", dim, self.ndim)]
    return self.split(max(1, math.ceil(n / chunks)), dim)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along dim: each input is zero-padded into place and the pads are summed."""
    if not tensors:
        raise TensorValueError("cat: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):  # (a 0-d tensor has no dim to join along; like PyTorch)
        if t.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    ref = tensors[0]
    d = _norm_axis("cat", dim, ref.ndim)
    for t in tensors[1:]:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != d):
            raise TensorValueError(
                f"cat: shapes {tuple(tuple(t.shape) for t in tensors)} must match in every dim except {dim}")
    dt = ref.dtype
    for t in tensors[1:]:
        dt = promote(dt, t.dtype)
    total = sum(t.shape[d] for t in tensors)
    out: Tensor | None = None
    start = 0
    for t in tensors:
        pads = tuple((start, total - start - t.shape[d]) if i == d else (0, 0) for i in range(ref.ndim))
        p = t.cast(dt)._pad(pads)
        out = p if out is None else out + p if not dt.is_bool else out | p
        start += t.shape[d]
    assert out is not None
    return out


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Tensors of one shape joined along a new dim."""
    if not tensors:
        raise TensorValueError("stack: expected a non-empty list of tensors")
    if not all_same([t.shape for t in tensors]):
        raise TensorValueError(f"stack: all tensors must have the same shape, got {[tuple(t.shape) for t in tensors]}")
    d = _norm_axis("stack", dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


# views and rearrangements with PyTorch's names ------------------------------------------------------
def view_as(self: Tensor, other: Tensor) -> Tensor:
    """self viewed with other's shape."""
    return self.view(*other.shape)


def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """self reshaped to other's shape."""
    return self.reshape(*other.shape)


def swapaxes(self: Tensor, axis0: builtins.int, axis1: builtins.int) -> Tensor:
    """transpose(axis0, axis1)."""
    return self.transpose(axis0, axis1)


def movedim(self: Tensor, source: builtins.int | Sequence[int], destination: builtins.int | Sequence[int]) -> Tensor:
    """Move the dims in source to the positions in destination; the others keep their order."""
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise TensorValueError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain the "
                               f"same number of dims as destination ({dst} dims)")
    src = [_norm_axis("movedim", s, self.ndim) for s in src]
    dst = [_norm_axis("movedim", d, self.ndim) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise TensorValueError(f"movedim: repeated dim in source {src} or destination {dst}")
    order: list[int | None] = [None] * self.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(self.ndim) if i not in src)
    return self.permute(*[o if o is not None else next(rest) for o in order])


def narrow(self: Tensor, dim: builtins.int, start: Any, length: builtins.int) -> Tensor:
    """The view self[..., start:start+length, ...] along dim (start may be negative or a 0-d tensor)."""
    d = _norm_axis("narrow", dim, self.ndim)
    n = self.shape[d]
    start = builtins.int(start.item()) if isinstance(start, Tensor) else builtins.int(start)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start ({start}) out of range for dimension {dim} of size {n} "
                         f"(expected {-n} <= start <= {n})")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise TensorValueError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of dim {dim}")
    return self._shrink(tuple((start, start + length) if i == d else (0, s) for i, s in enumerate(self.shape)))


def select(self: Tensor, dim: builtins.int, index: builtins.int) -> Tensor:
    """self[..., index, ...] along dim (that dim is removed)."""
    d = _norm_axis("select", dim, self.ndim)
    if self.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    n = self.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {self.shape} at dimension {dim}")
    return self.narrow(d, index % n, 1).squeeze(d)


def unbind(self: Tensor, dim: builtins.int = 0) -> tuple[Tensor, ...]:
    """The slices along dim, as a tuple (dim removed)."""
    d = _norm_axis("unbind", dim, self.ndim)
    return tuple(self.select(d, i) for i in range(self.shape[d]))


def tile(self: Tensor, *dims: Any) -> Tensor:
    """repeat(), with dims padded with leading 1s when fewer than self.ndim."""
    reps = _shape_arg(dims)
    return self.repeat(*((1,) * (self.ndim - len(reps)) + reps))


def fliplr(self: Tensor) -> Tensor:
    """flip(1) of a tensor with at least 2 dims."""
    if self.ndim < 2:
        raise TensorValueError(f"fliplr: Input must be >= 2-d, got shape {self.shape}")
    return self.flip(1)


def flipud(self: Tensor) -> Tensor:
    """flip(0) of a tensor with at least 1 dim."""
    if self.ndim < 1:
        raise TensorValueError("flipud: Input must be >= 1-d, got a 0-d tensor")
    return self.flip(0)


def rot90(self: Tensor, k: builtins.int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by k * 90 degrees in the plane of dims, from dims[0] towards dims[1]."""
    if len(dims) != 2:
        raise TensorValueError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if self.ndim < 2:
        raise TensorValueError(f"rot90: expected total dims >= 2, but got total dims = {self.ndim}")
    a, b = _norm_axis("rot90", dims[0], self.ndim), _norm_axis("rot90", dims[1], self.ndim)
    if a == b:
        raise TensorValueError(f"rot90: expected rotation dims to be different, but got dim0 = {a} and dim1 = {b}")
    k %= 4
    if k == 1:
        return self.flip(b).transpose(a, b)
    if k == 2:
        return self.flip(a, b)
    if k == 3:
        return self.flip(a).transpose(a, b)
    return self


def roll(self: Tensor, shifts: builtins.int | Sequence[int],
         dims: builtins.int | Sequence[int] | None = None) -> Tensor:
    """out[i] = self[(i - shift) mod n] along each dim (the flattened tensor when dims is None)."""
    sh = [shifts] if isinstance(shifts, int) else list(shifts)
    if dims is None:
        if len(sh) != 1:
            raise TensorValueError(f"roll: shifts {tuple(sh)} must be one int when dims is None")
        return self.flatten().roll(sh[0], 0).reshape(*self.shape)
    ds = [dims] if isinstance(dims, int) else list(dims)
    if len(sh) != len(ds):
        raise TensorValueError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: {len(ds)}")
    x = self
    for s, dim in zip(sh, ds):
        d = _norm_axis("roll", dim, x.ndim)
        n = x.shape[d]
        if n == 0 or s % n == 0:
            continue
        s %= n
        # two copies side by side along d, then the window that starts n - s in
        doubled = x.repeat(*[2 if i == d else 1 for i in range(x.ndim)])
        x = doubled._shrink(tuple((n - s, 2 * n - s) if i == d else (0, e) for i, e in enumerate(x.shape)))
    return x


def repeat_interleave(self: Tensor, repeats: Any = None, dim: builtins.int | None = None, *,
                      output_size: builtins.int | None = None) -> Tensor:
    """Repeat each element repeats times (an int, or a tensor with one count per element) along dim;
    without repeats, self holds the counts and the result repeats their indices."""
    if repeats is None:
        if self.ndim > 1 or not self.dtype.is_int:
            raise TensorValueError(f"repeat_interleave: repeats must be a 0-D or 1-D integer tensor, got shape "
                                   f"{self.shape} of dtype {self.dtype}")
        return Tensor.arange(self.numel(), device=self.device).repeat_interleave(self.reshape(-1), 0)
    x = self.flatten() if dim is None else self
    d = 0 if dim is None else _norm_axis("repeat_interleave", dim, x.ndim)
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = builtins.int(repeats.item())
    if isinstance(repeats, int):
        if repeats < 0:
            raise TensorValueError(f"repeat_interleave: repeats can not be negative, got {repeats}")
        if x.ndim == 0:
            x, d = x.reshape(1), 0
        shape = x.shape
        y = x.unsqueeze(d + 1).expand(*shape[:d + 1], repeats, *shape[d + 1:])
        return y.reshape(*shape[:d], shape[d] * repeats, *shape[d + 1:])
    reps = repeats.numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
    if reps.ndim != 1 or reps.dtype.kind not in "iu":
        raise TensorValueError(f"repeat_interleave: repeats must be an int or a 1-D integer tensor, got shape "
                               f"{reps.shape} of dtype {reps.dtype}")
    n = x.shape[d] if x.ndim else 1
    if len(reps) != n:
        raise TensorValueError(f"repeat_interleave: repeats must have the same size as input along dim {d}: "
                               f"got {len(reps)} repeats for size {n}")
    if (reps < 0).any():
        raise TensorValueError("repeat_interleave: repeats can not be negative")
    # the output length depends on the counts: they are read on the host, then one index_select
    idx = np.repeat(np.arange(n), reps)
    return x.index_select(d, Tensor(idx.astype(np.int64), device=self.device))


def _atleast(t: Tensor, n: builtins.int) -> Tensor:
    if t.ndim >= n:
        return t
    if n == 3 and t.ndim == 2:
        return t.unsqueeze(-1)
    if n == 3 and t.ndim == 1:
        return t.reshape(1, t.shape[0], 1)
    return t.reshape(*((1,) * (n - t.ndim) + t.shape))


def atleast_1d(self: Tensor) -> Tensor:
    """self with at least 1 dim (a 0-d tensor becomes shape (1,))."""
    return _atleast(self, 1)


def atleast_2d(self: Tensor) -> Tensor:
    """self with at least 2 dims (leading 1s added)."""
    return _atleast(self, 2)


def atleast_3d(self: Tensor) -> Tensor:
    """self with at least 3 dims ((n,) -> (1, n, 1), (a, b) -> (a, b, 1))."""
    return _atleast(self, 3)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along dim 1 (dim 0 for 1-D tensors)."""
    ts = [_atleast(t, 1) for t in tensors]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along dim 0 of the tensors made at least 2-D."""
    return cat([_atleast(t, 2) for t in tensors], 0)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along dim 2 of the tensors made at least 3-D."""
    return cat([_atleast(t, 3) for t in tensors], 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along dim 1, with 0-d and 1-D tensors as columns (n, 1)."""
    return cat([t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in tensors], 1)


def tensor_split(self: Tensor, indices_or_sections: Any, dim: builtins.int = 0) -> tuple[Tensor, ...]:
    """Split along dim into n near-equal parts (an int) or at the given indices (a list or 1-D tensor)."""
    d = _norm_axis("tensor_split", dim, self.ndim)
    n = self.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.ndim > 1 or not ios.dtype.is_int:
            raise TensorValueError(f"tensor_split: indices_or_sections must be a 0-D or 1-D integer tensor, got "
                                   f"shape {ios.shape} of dtype {ios.dtype}")
        ios = builtins.int(ios.item()) if ios.ndim == 0 else [builtins.int(v) for v in ios.tolist()]
    if isinstance(ios, int):
        if ios <= 0:
            raise TensorValueError(f"tensor_split: number of sections must be larger than 0, got {ios}")
        q, r = divmod(n, ios)
        bounds = [0]
        for i in range(ios):
            bounds.append(bounds[-1] + q + (1 if i < r else 0))
    else:
        bounds = [0] + [builtins.min(builtins.max(i + n if i < 0 else i, 0), n) for i in ios] + [n]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        hi = builtins.max(lo, hi)
        out.append(self._shrink(tuple((lo, hi) if i == d else (0, e) for i, e in enumerate(self.shape))))
    return tuple(out)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids of 1-D tensors: 'ij' gives shape (len(t0), len(t1), ...), 'xy' swaps the first two."""
    ts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    if indexing not in ("ij", "xy"):
        raise TensorValueError(f"meshgrid: indexing must be one of 'xy' or 'ij', got {indexing!r}")
    if not ts:
        raise TensorValueError("meshgrid: expects a non-empty TensorList")
    for t in ts:
        if t.ndim > 1:
            raise TensorValueError(f"meshgrid: expects 0D or 1D tensors, got shape {t.shape}")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = [t.reshape(*[-1 if i == k else 1 for i in range(len(ts))]).expand(*shape) for k, t in enumerate(ts)]
    if swap:  # the grids of the swapped inputs, handed back in the input order
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """All combinations of the elements of 1-D tensors, one per row: shape (prod of lengths, k)."""
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


# triangles and diagonals --------------------------------------------------------------------------
def _tri_mask(self: Tensor, diagonal: builtins.int, lower: builtins.bool, op: str) -> Tensor:
    if self.ndim < 2:
        raise TensorValueError(f"{op}: input tensor must have at least 2 dimensions, got shape {self.shape}")
    r, c = self.shape[-2], self.shape[-1]
    # a constant: made on the host as bools (a kernel then reads one byte per element, no index math)
    below = np.tri(r, c, diagonal if lower else diagonal - 1, dtype=np.bool_)
    return Tensor(below if lower else ~below, device=self.device)


def tril(self: Tensor, diagonal: builtins.int = 0) -> Tensor:
    """Lower triangle of the last two dims: x[i, j] where j - i <= diagonal, else 0."""
    return self._tri_mask(diagonal, True, "tril")._where(self, 0).cast(self.dtype)


def triu(self: Tensor, diagonal: builtins.int = 0) -> Tensor:
    """Upper triangle of the last two dims: x[i, j] where j - i >= diagonal, else 0."""
    return self._tri_mask(diagonal, False, "triu")._where(self, 0).cast(self.dtype)


def diagonal(self: Tensor, offset: builtins.int = 0, dim1: builtins.int = 0, dim2: builtins.int = 1) -> Tensor:
    """The view of x[..., i, i + offset] over dims (dim1, dim2), appended as the last dim."""
    if self.ndim < 2:
        raise TensorValueError(f"diagonal: expected a tensor with at least 2 dims, got shape {self.shape}")
    a, b = _norm_axis("diagonal", dim1, self.ndim), _norm_axis("diagonal", dim2, self.ndim)
    if a == b:
        raise TensorValueError(f"diagonal: dimensions cannot be identical {dim1}, {dim2}")
    x = self.movedim((a, b), (-2, -1))
    p, q = x.shape[-2], x.shape[-1]
    lead = x.shape[:-2]
    if offset >= 0:
        x = x._shrink(tuple((0, e) for e in lead) + ((0, p), (builtins.min(offset, q), q)))
    else:
        x = x._shrink(tuple((0, e) for e in lead) + ((builtins.min(-offset, p), p), (0, q)))
    p, q = x.shape[-2], x.shape[-1]
    n = builtins.min(p, q)
    if n == 0:
        return x.reshape(*lead, p * q)._shrink(tuple((0, e) for e in lead) + ((0, 0),))
    # element i of the diagonal sits at i * (q + 1) of the flattened (n, q) block
    flat = x._shrink(tuple((0, e) for e in lead) + ((0, n), (0, q))).reshape(*lead, n * q)
    flat = flat._pad(tuple((0, 0) for _ in lead) + ((0, n),))
    return flat.reshape(*lead, n, q + 1)._shrink(tuple((0, e) for e in lead) + ((0, n), (0, 1))).reshape(*lead, n)


def diag_embed(self: Tensor, offset: builtins.int = 0, dim1: builtins.int = -2, dim2: builtins.int = -1) -> Tensor:
    """Matrices (in dims dim1, dim2 of the result) with the last dim of self on their offset diagonal."""
    if self.ndim == 0:
        raise TensorValueError("diag_embed: expected a tensor with at least 1 dim, got a 0-d tensor")
    n = self.shape[-1]
    m = n + builtins.abs(offset)
    lead = self.shape[:-1]
    # the value of row i (offset >= 0) or of column j (offset < 0) is self[..., i] resp. self[..., j]
    v = self._pad(tuple((0, 0) for _ in lead) + ((0, m - n),))
    rows = Tensor.arange(m, device=self.device).reshape(m, 1)
    cols = Tensor.arange(m, device=self.device).reshape(1, m)
    vals = v.unsqueeze(-1) if offset >= 0 else v.unsqueeze(-2)
    out = (cols - rows == offset)._where(vals, 0).cast(self.dtype)  # (..., m, m)
    nd = out.ndim
    a, b = _norm_axis("diag_embed", dim1, nd), _norm_axis("diag_embed", dim2, nd)
    if a == b:
        raise TensorValueError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return out.movedim((nd - 2, nd - 1), (a, b))


def diag(self: Tensor, diagonal: builtins.int = 0) -> Tensor:
    """1-D input: the square matrix with self on the given diagonal; 2-D input: that diagonal as 1-D."""
    if self.ndim == 1:
        return self.diag_embed(diagonal)
    if self.ndim == 2:
        return self.diagonal(diagonal)
    raise TensorValueError(f"diag: matrix or a vector expected, got a tensor of shape {self.shape}")


def t(self: Tensor) -> Tensor:
    """transpose(0, 1) of a 2-D tensor; a 0-d or 1-D tensor as it is."""
    if self.ndim > 2:
        raise TensorValueError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    return self if self.ndim < 2 else self.transpose(0, 1)

