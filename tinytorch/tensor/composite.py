"""Elementwise compositions built once: a unary function made of several Tensor ops (log2's care for subnormals,
sigmoid, tanh) is built with those ops once per input dtype, shape and device, over a placeholder, and later
calls substitute their input into the kept graph.

Takes: a function f(x) -> Tensor of one tensor made of elementwise Tensor ops (no custom gradients, nothing read
from the host, no randomness), decorated with `@composite`.
Produces: the very UOps f would build (UOps are interned), at about one constructor call per node instead of the
Python of every Tensor op. The general path runs instead for an input that requires grad under no_grad (its
intermediates are detached one by one), for extra arguments, and for a composition whose graph registers a
custom gradient (checked when it is first built).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..helpers import LRU, prod
from ..ops.gradient import CUSTOM_GRADIENTS
from ..ops.uop import Ops, UOp, toposort
from ..runtime.buffer import Buffer
from .common import no_grad

if TYPE_CHECKING:
    from .core import Tensor

# (function, dtype, shape, device) -> (placeholder, nodes above it sources first, output) or None (not reusable)
_KEPT: LRU[tuple, tuple[UOp, list[UOp], UOp] | None] = LRU(512)


def composite(fn: Callable[[Tensor], Tensor]) -> Callable[..., Tensor]:
    """f(x) built once per dtype, shape and device, then by substituting x into the kept graph."""

    @functools.wraps(fn)
    def wrapper(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        u = self.uop
        if args or kwargs or (self._rg and not no_grad.enabled):
            return fn(self, *args, **kwargs)
        key = (fn, u.dtype, u.shape, self.device.name)
        kept = _KEPT.get(key)
        if kept is None:
            if key in _KEPT:
                return fn(self)
            kept = _build(fn, self)
            _KEPT[key] = kept
            if kept is None:
                return fn(self)
        holder, order, out = kept
        new: dict[UOp, UOp] = {holder: u}
        for n in order:
            new[n] = UOp(n.op, n.dtype, tuple([new.get(s, s) for s in n.src]), n.arg)
        return self._new(new.get(out, out), self)

    return wrapper


def _build(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[UOp, list[UOp], UOp] | None:
    """fn over a placeholder of x's dtype, shape and device (an unallocated buffer), or None when its graph
    cannot be reused (a custom gradient, a realized node, not depending on x)."""
    u = x.uop
    assert u.shape is not None
    base = UOp(Ops.BUFFER, u.dtype, (), (Buffer(x.device.name, max(1, prod(u.shape)), u.dtype), 0))
    holder = base.reshape_to(u.shape)
    out = fn(type(x)._from(holder, x.device)).uop
    dep = {holder}
    order = []
    for n in toposort([out], stop=lambda n: n is holder):
        if n in CUSTOM_GRADIENTS or n._realized is not None or (n is base and base is not holder):
            return None  # (the placeholder's buffer read other than through x's node would stay in the graph)
        if n is not holder and any(s in dep for s in n.src):
            dep.add(n)
            order.append(n)
    return (holder, order, out) if out in dep and out is not holder else None
