"""Strided views: how a chain of movement ops becomes one index expression.

Takes: a buffer's shape and the movement ops applied to it (reshape, permute, expand, pad,
shrink, flip).
Produces: a `ViewStack` — usually one `View` (shape, strides, offset, mask) — and, for
codegen, the buffer index and validity expressions for given loop indices.

A `View` maps an index tuple i to `offset + sum(i[d] * strides[d])`, valid where every
i[d] lies in mask[d] (a PAD makes the rest read as zero). Movement ops only edit these
numbers, so they cost O(ndim) and launch nothing. When a reshape cannot be expressed on
the current view (e.g. merging a transposed pair of axes), a new view is stacked on top:
its linear index is unravelled into the view below with div/mod.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..helpers import prod

if TYPE_CHECKING:
    from .uop import UOp

Shape = tuple[int, ...]


def strides_for(shape: Shape) -> tuple[int, ...]:
    """Row-major strides; size-1 axes get stride 0 (so equal views compare equal)."""
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc if d != 1 else 0)
        acc *= d
    return tuple(reversed(out))


@dataclass(frozen=True)
class View:
    shape: Shape
    strides: tuple[int, ...]
    offset: int = 0
    mask: tuple[tuple[int, int], ...] | None = None

    @staticmethod
    @functools.lru_cache(maxsize=1 << 16)  # bounded: shapes vary without end in a long process
    def create(shape: Shape, strides: tuple[int, ...] | None = None, offset: int = 0,
               mask: tuple[tuple[int, int], ...] | None = None) -> View:
        strides = strides_for(shape) if strides is None else tuple(0 if d == 1 else s for d, s in zip(shape, strides))
        if mask is not None:
            if any(lo >= hi for lo, hi in mask):  # nothing valid: canonical empty mask
                mask = tuple((0, 0) for _ in shape)
                strides, offset = tuple(0 for _ in shape), 0
            elif all(lo == 0 and hi == d for (lo, hi), d in zip(mask, shape)):
                mask = None
        return View(tuple(shape), strides, offset, mask)

    @property
    def contiguous(self) -> bool:
        return self.offset == 0 and self.mask is None and self.strides == strides_for(self.shape)

    @property
    def size(self) -> int:
        return prod(self.shape)

    # movement ops ----------------------------------------------------------------
    def permute(self, order: tuple[int, ...]) -> View:
        return View.create(tuple(self.shape[i] for i in order), tuple(self.strides[i] for i in order), self.offset,
                           None if self.mask is None else tuple(self.mask[i] for i in order))

    def expand(self, new_shape: Shape) -> View:
        strides = tuple(s if d == n else 0 for d, n, s in zip(self.shape, new_shape, self.strides))
        mask = None if self.mask is None else tuple(
            m if d == n else ((0, n) if m != (0, 0) else (0, 0)) for m, d, n in zip(self.mask, self.shape, new_shape))
        return View.create(new_shape, strides, self.offset, mask)

    def shrink(self, arg: tuple[tuple[int, int], ...]) -> View:
        offset = self.offset + sum(b * s for (b, _), s in zip(arg, self.strides))
        mask = None
        if self.mask is not None:
            mask = tuple((max(0, lo - b), max(0, min(hi - b, e - b))) for (lo, hi), (b, e) in zip(self.mask, arg))
        return View.create(tuple(e - b for b, e in arg), self.strides, offset, mask)

    def pad(self, arg: tuple[tuple[int, int], ...]) -> View:
        if all(b == 0 and e == 0 for b, e in arg):
            return self
        old_mask = self.mask or tuple((0, d) for d in self.shape)
        mask = tuple((lo + b, hi + b) for (lo, hi), (b, _) in zip(old_mask, arg))
        offset = self.offset - sum(b * s for (b, _), s in zip(arg, self.strides))
        return View.create(tuple(d + b + e for d, (b, e) in zip(self.shape, arg)), self.strides, offset, mask)

    def flip(self, axes: tuple[bool, ...]) -> View:
        offset = self.offset + sum((d - 1) * s for d, s, f in zip(self.shape, self.strides, axes) if f and d > 0)
        strides = tuple(-s if f else s for s, f in zip(self.strides, axes))
        mask = None if self.mask is None else tuple(
            (d - hi, d - lo) if f else (lo, hi) for (lo, hi), d, f in zip(self.mask, self.shape, axes))
        return View.create(self.shape, strides, offset, mask)

    def reshape(self, new_shape: Shape) -> View | None:
        """The same elements in a new shape as one view, or None if that needs a second view."""
        if self.shape == new_shape:
            return self
        if 0 in self.shape or self.contiguous:
            return View.create(new_shape)
        # drop size-1 axes of the old view (a fully masked size-1 axis cannot be dropped)
        old = [(d, s, m) for d, s, m in zip(self.shape, self.strides, self.mask or [None] * len(self.shape)) if d != 1]
        if self.mask is not None and any(m == (0, 0) for d, m in zip(self.shape, self.mask) if d == 1):
            return None
        new_strides: list[int] = [0] * len(new_shape)
        new_mask: list[tuple[int, int]] = [(0, d) for d in new_shape]
        new_idx = [i for i, d in enumerate(new_shape) if d != 1]
        i = j = 0
        while i < len(old) or j < len(new_idx):
            # grow a group old[i0:i] and new[j0:j] until both hold the same number of elements
            if i >= len(old) or j >= len(new_idx):
                return None
            i0, j0 = i, j
            po, pn = old[i][0], new_shape[new_idx[j]]
            i, j = i + 1, j + 1
            while po != pn:
                if po < pn:
                    if i >= len(old):
                        return None
                    po, i = po * old[i][0], i + 1
                else:
                    if j >= len(new_idx):
                        return None
                    pn, j = pn * new_shape[new_idx[j]], j + 1
            group, targets = old[i0:i], new_idx[j0:j]
            # old axes must be mergeable: each stride equals the next one times its size
            if any(group[k][1] != group[k + 1][1] * group[k + 1][0] for k in range(len(group) - 1)):
                return None
            if len(group) == 1 and len(targets) == 1:
                new_mask[targets[0]] = group[0][2] or (0, group[0][0])
            elif any(m is not None and m != (0, d) for d, _, m in group):
                return None
            stride = group[-1][1]
            for t in reversed(targets):
                new_strides[t] = stride
                stride *= new_shape[t]
        has_mask = self.mask is not None
        return View.create(new_shape, tuple(new_strides), self.offset, tuple(new_mask) if has_mask else None)

    # codegen -----------------------------------------------------------------------
    def expr(self, idxs: list[UOp]) -> tuple[UOp, UOp | None]:
        from . import sym

        terms = [sym.mul(i, s) for i, s, d in zip(idxs, self.strides, self.shape) if s != 0 and d != 1]
        index = sym.add_all([sym.const(self.offset), *terms])
        valid = None
        if self.mask is not None:
            for i, (lo, hi), d in zip(idxs, self.mask, self.shape):
                if lo > 0:
                    valid = sym.and_(valid, sym.lt(sym.const(lo - 1), i))
                if hi < d:
                    valid = sym.and_(valid, sym.lt(i, sym.const(hi)))
                if hi <= lo:
                    valid = sym.const(False)
        return index, valid


@dataclass(frozen=True)
class ViewStack:
    """Views applied one over another; views[-1] is what the reader sees."""

    views: tuple[View, ...]

    @staticmethod
    @functools.lru_cache(maxsize=1 << 12)
    def contiguous(shape: Shape) -> ViewStack:
        return ViewStack((View.create(tuple(shape)),))

    @property
    def shape(self) -> Shape:
        return self.views[-1].shape

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def view(self) -> View:
        return self.views[-1]

    @property
    def is_contiguous(self) -> bool:
        return len(self.views) == 1 and self.views[0].contiguous

    def _with(self, v: View) -> ViewStack:
        return ViewStack((*self.views[:-1], v))

    def permute(self, order: tuple[int, ...]) -> ViewStack:
        return self._with(self.view.permute(order))

    def expand(self, shape: Shape) -> ViewStack:
        return self._with(self.view.expand(shape))

    def shrink(self, arg: tuple[tuple[int, int], ...]) -> ViewStack:
        return self._with(self.view.shrink(arg))

    def pad(self, arg: tuple[tuple[int, int], ...]) -> ViewStack:
        return self._with(self.view.pad(arg))

    def flip(self, axes: tuple[bool, ...]) -> ViewStack:
        return self._with(self.view.flip(axes))

    def reshape(self, shape: Shape) -> ViewStack:
        v = self.view.reshape(tuple(shape))
        if v is not None:
            return self._with(v)
        return ViewStack((*self.views, View.create(tuple(shape))))

    def simplify(self) -> ViewStack:
        """Merge the top view into the one below when the top is a plain reshape of it."""
        views = list(self.views)
        while len(views) >= 2 and views[-1].contiguous:
            below = views[-2].reshape(views[-1].shape)
            if below is None:
                break
            views[-2:] = [below]
        return ViewStack(tuple(views))

    def expr(self, idxs: list[UOp]) -> tuple[UOp, UOp | None]:
        """Buffer index and validity (None = always valid) for loop indices `idxs`."""
        from . import sym

        index, valid = self.views[-1].expr(idxs)
        for v in reversed(self.views[:-1]):
            sub = sym.unravel(index, v.shape)
            index, valid2 = v.expr(sub)
            valid = sym.and_(valid, valid2)
        return index, valid

    def real_strides(self) -> tuple[int | None, ...]:
        """Per-axis stride when the stack is one unmasked-in-that-axis view, else None."""
        if len(self.views) > 1:
            return tuple(None for _ in self.shape)
        v = self.view
        if v.mask is None:
            return v.strides
        return tuple(s if (lo, hi) == (0, d) else None for s, (lo, hi), d in zip(v.strides, v.mask, v.shape))

    @functools.lru_cache(maxsize=1 << 12)  # noqa: B019 (views are immutable and interned by value)
    def index_strides(self) -> tuple[int | None, ...]:
        """Per-axis step of the buffer index, mask aside: the stride of each axis in which the index is
        affine over the whole shape (a stack of views often is: sliding windows collapse to base +
        (oh+kh)*W + ow + kw), else None. Codegen reads lanes along a stride-1 axis as one vector load,
        masked lane by lane where the view has a mask."""
        if len(self.views) == 1:
            return self.view.strides
        from . import sym
        from .uop import Ops, UOp

        vars_ = [UOp(Ops.DEFINE_VAR, sym.IDX, (), (f"i{d}", 0, max(s - 1, 0))) for d, s in enumerate(self.shape)]
        index, _ = self.expr(vars_)
        terms, _ = sym.linear_terms(sym.simplify(index))
        coef: dict[UOp, int] = {}
        for t, c in terms:
            coef[t] = coef.get(t, 0) + c
        known = set(vars_)
        out: list[int | None] = [coef.get(v, 0) for v in vars_]
        for t in coef:  # a term that is not one axis variable (div, mod, ...) spoils every axis under it
            if t not in known:
                from .uop import toposort
                for n in toposort([t]):
                    if n in known:
                        out[vars_.index(n)] = None
        return tuple(o if d > 1 else 0 for o, d in zip(out, self.shape))

    @property
    def masked(self) -> bool:
        return any(v.mask is not None for v in self.views)

    def apply(self, op_name: str, arg: object) -> ViewStack:
        return getattr(self, op_name)(arg)

    def index_arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Flat buffer index and validity (None = all valid) of every element, as numpy arrays."""
        shape = self.shape
        grids = [np.arange(s, dtype=np.int64).reshape([-1 if i == d else 1 for i in range(len(shape))])
                 for d, s in enumerate(shape)]
        idx: np.ndarray = np.zeros(shape, dtype=np.int64)
        valid: np.ndarray | None = None
        coords: list[np.ndarray] = [np.broadcast_to(g, shape) for g in grids]
        for k, v in enumerate(reversed(self.views)):
            if k:  # unravel the linear index of the view above into this view's shape
                coords, acc = [], 1
                for s in reversed(v.shape):
                    coords.append((idx // acc) % s if s else np.zeros_like(idx))
                    acc *= s
                coords.reverse()
            idx = np.full(shape, v.offset, dtype=np.int64)
            for c, st in zip(coords, v.strides):
                idx = idx + c * st
            if v.mask is not None:
                ok = np.ones(shape, dtype=bool)
                for c, (lo, hi) in zip(coords, v.mask):
                    ok &= (c >= lo) & (c < hi)
                valid = ok if valid is None else valid & ok
        return idx, valid

    def write_conflict(self) -> str | None:
        """Why a write through this view is ill-defined, else None: "overlap" when two of its
        elements are one memory cell (an expand), "padding" when an element has no memory cell
        (it lies in a pad). Movement ops other than expand keep distinct elements distinct, so one
        view is judged by its strides and mask; a stack of views element by element."""
        vs = self.simplify()
        if len(vs.views) == 1:
            v = vs.view
            if 0 in v.shape:
                return None
            if v.mask is not None:
                return "padding"
            return "overlap" if any(st == 0 and d > 1 for st, d in zip(v.strides, v.shape)) else None
        idx, valid = vs.index_arrays()
        if valid is not None and not valid.all():
            return "padding"
        return "overlap" if np.unique(idx).size != idx.size else None
