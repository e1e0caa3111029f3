"""Compositions built once: a function made of several Tensor ops (log2's care for subnormals, sigmoid, tanh, the
negative log-likelihood's one-hot pick) is built with those ops once per dtype, shape and device of its tensor
arguments and per value of the others, over placeholders, and later calls substitute their tensors into the kept
graph.

Takes: a function of tensors (and hashable settings) made of Tensor ops that depend on nothing but those (no
custom gradients, nothing read from the host, no randomness), decorated with `@composite`.
Produces: the very UOps the function would build (UOps are interned), at about one constructor call per node
instead of the Python of every Tensor op. The general path runs instead for a tensor that requires grad under
no_grad (its intermediates are detached one by one), for keyword or unhashable arguments, and for a composition
whose graph registers a custom gradient or reads a realized value (checked when it is first built).
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

# (function, per argument: (dtype, shape, device) or its value) -> (placeholders, nodes above them sources first,
# output), or None when not reusable
_KEPT: LRU[tuple, tuple[list[UOp], list[UOp], UOp] | None] = LRU(512)


def composite(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """fn built once per dtype, shape and device of its tensor arguments (and value of the others), then by
    substituting its tensors into the kept graph."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Tensor:
        T = _tensor_type()
        tensors = [a for a in args if isinstance(a, T)]
        if kwargs or not tensors or any(t._rg for t in tensors) and not no_grad.enabled:
            return fn(*args, **kwargs)
        key = (fn, *[(a.uop.dtype, a.uop.shape, a.device.name) if isinstance(a, T) else a for a in args])
        try:
            kept = _KEPT.get(key)
        except TypeError:  # (an unhashable argument)
            return fn(*args)
        if kept is None:
            if key in _KEPT:
                return fn(*args)
            kept = _build(fn, args)
            _KEPT[key] = kept
            if kept is None:
                return fn(*args)
        holders, order, out = kept
        new: dict[UOp, UOp] = {h: t.uop for h, t in zip(holders, tensors)}
        for n in order:
            new[n] = UOp(n.op, n.dtype, tuple([new.get(s, s) for s in n.src]), n.arg)
        return tensors[0]._new(new.get(out, out), *tensors)

    return wrapper


_TENSOR: list[type[Tensor]] = []  # (tinytorch.Tensor, imported on first use: core imports this module)


def _tensor_type() -> type[Tensor]:
    if not _TENSOR:
        from .core import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


def _build(fn: Callable[..., Tensor], args: tuple) -> tuple[list[UOp], list[UOp], UOp] | None:
    """fn over placeholders of its tensors' dtypes, shapes and devices (unallocated buffers), or None when its
    graph cannot be reused (a custom gradient, a realized node, a placeholder's buffer read other than through
    its node, a result that is one of the inputs)."""
    T = _tensor_type()
    holders: list[UOp] = []
    bases: set[UOp] = set()
    call_args = []
    for a in args:
        if isinstance(a, T):
            u = a.uop
            assert u.shape is not None
            base = UOp(Ops.BUFFER, u.dtype, (), (Buffer(a.device.name, max(1, prod(u.shape)), u.dtype), 0))
            holder = base.reshape_to(u.shape)
            holders.append(holder)
            if base is not holder:
                bases.add(base)
            call_args.append(T._from(holder, a.device))
        else:
            call_args.append(a)
    out = fn(*call_args).uop
    dep = set(holders)
    order = []
    for n in toposort([out], stop=lambda n: n in dep):
        if n in CUSTOM_GRADIENTS or n._realized is not None or n in bases:
            return None
        if n not in dep and any(s in dep for s in n.src):
            dep.add(n)
            order.append(n)
    return (holders, order, out) if out in dep and out not in holders else None
