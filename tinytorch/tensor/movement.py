"""Movement ops: reshape, permute, expand, pad, shrink, flip and what is built from them (cat, stack, split)."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..dtype import dtypes, promote
from ..errors import TensorValueError
from ..helpers import all_same, prod
from ..ops.uop import Ops, UOp
from .common import _check_numel, _const_uop, _norm_axis, _shape_arg

if TYPE_CHECKING:
    from .core import Tensor


def reshape(self: Tensor, *shape: Any) -> Tensor:
    return self._reshape(_shape_arg(shape), "reshape")


def view(self: Tensor, *shape: Any) -> Tensor:
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
    if self.ndim == 0:
        return self.reshape(1)
    s, e = _norm_axis("flatten", start_dim, self.ndim), _norm_axis("flatten", end_dim, self.ndim)
    if s > e:
        raise TensorValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return self.reshape(*self.shape[:s], prod(self.shape[s:e + 1]), *self.shape[e + 1:])


def unflatten(self: Tensor, dim: builtins.int, sizes: Sequence[int]) -> Tensor:
    d = _norm_axis("unflatten", dim, self.ndim)
    sizes = list(sizes)
    if -1 in sizes:
        known = prod(s for s in sizes if s != -1)
        sizes = [self.shape[d] // known if s == -1 else s for s in sizes]
    if prod(sizes) != self.shape[d]:
        raise TensorValueError(f"unflatten: sizes {tuple(sizes)} do not multiply to dim {dim} of size {self.shape[d]}")
    return self.reshape(*self.shape[:d], *sizes, *self.shape[d + 1:])


def squeeze(self: Tensor, dim: builtins.int | Sequence[int] | None = None) -> Tensor:
    if dim is None:
        return self.reshape(*[s for s in self.shape if s != 1])
    dims = {_norm_axis("squeeze", d, self.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
    return self.reshape(*[s for i, s in enumerate(self.shape) if i not in dims or s != 1])


def unsqueeze(self: Tensor, dim: builtins.int) -> Tensor:
    d = _norm_axis("unsqueeze", dim, self.ndim + 1)
    return self.reshape(*self.shape[:d], 1, *self.shape[d:])


def permute(self: Tensor, *order: Any) -> Tensor:
    order = tuple(_norm_axis("permute", o, self.ndim) for o in _shape_arg(order))
    if sorted(order) != list(range(self.ndim)):
        raise TensorValueError(f"permute: {order} is not a permutation of the {self.ndim} dims of shape {self.shape}")
    if order == tuple(range(self.ndim)):
        return self
    return self._new(UOp(Ops.PERMUTE, self.dtype, (self.uop,), order), self)


def transpose(self: Tensor, dim0: builtins.int = -2, dim1: builtins.int = -1) -> Tensor:
    a, b = _norm_axis("transpose", dim0, self.ndim), _norm_axis("transpose", dim1, self.ndim)
    order = list(range(self.ndim))
    order[a], order[b] = order[b], order[a]
    return self.permute(*order)


def expand(self: Tensor, *sizes: Any) -> Tensor:
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
    return self._broadcast_to(_shape_arg(shape), "broadcast_to")


def expand_as(self: Tensor, other: Tensor) -> Tensor:
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
    u = self.uop.reshape_to(padded)
    if padded != shape:
        u = UOp(Ops.EXPAND, self.dtype, (u,), shape)
    return self._new(u, self)


def flip(self: Tensor, *dims: Any) -> Tensor:
    axes = {_norm_axis("flip", d, self.ndim) for d in _shape_arg(dims)}
    if not axes:
        return self
    return self._new(UOp(Ops.FLIP, self.dtype, (self.uop,), tuple(i in axes for i in range(self.ndim))), self)


def repeat(self: Tensor, *sizes: Any) -> Tensor:
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
    return mask.where(padded, value)


def _shrink(self: Tensor, arg: tuple[tuple[int, int], ...]) -> Tensor:
    if all(b == 0 and e == d for (b, e), d in zip(arg, self.shape)):
        return self
    return self._new(UOp(Ops.SHRINK, self.dtype, (self.uop,), tuple(arg)), self)


def split(self: Tensor, split_size: builtins.int | Sequence[int], dim: builtins.int = 0) -> tuple[Tensor, ...]:
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
                f"cat: shapes {tuple(t.shape for t in tensors)} must match in every dim except {dim}")
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
    if not tensors:
        raise TensorValueError("stack: expected a non-empty list of tensors")
    if not all_same([t.shape for t in tensors]):
        raise TensorValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    d = _norm_axis("stack", dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)
