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
        new = rebuild(order, {h: t.uop for h, t in zip(holders, tensors)})
        return tensors[0]._new(new.get(out, out), *tensors)

    return wrapper


_TENSOR: list[type[Tensor]] = []  # (tinytorch.Tensor, imported on first use: core imports this module)


def _tensor_type() -> type[Tensor]:
    if not _TENSOR:
        from .core import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


def placeholder(dtype: Any, shape: tuple[int, ...] | None, device: str) -> UOp:
    """A node of this dtype and shape over an unallocated buffer (never read): it stands for an input of a kept
    graph until a substitution puts the real input there."""
    assert shape is not None
    return UOp(Ops.BUFFER, dtype, (), (Buffer(device, max(1, prod(shape)), dtype), 0)).reshape_to(shape)


def above(outputs: list[UOp], inputs: Any, accept: Callable[[UOp], bool] | None = None) -> list[UOp] | None:
    """The nodes under outputs that depend on one of inputs, sources first: what a substitution rebuilds. None
    when accept(node) is false for a node visited on the way."""
    dep = set(inputs)
    order = []
    for n in toposort(outputs, stop=lambda n: n in dep):
        if accept is not None and not accept(n):
            return None
        if n not in dep and any(s in dep for s in n.src):
            dep.add(n)
            order.append(n)
    return order


def rebuild(order: list[UOp], mapping: dict[UOp, UOp]) -> dict[UOp, UOp]:
    """mapping extended by every node of order rebuilt over the mapped nodes (order as `above` gives it)."""
    new = dict(mapping)
    for n in order:
        new[n] = UOp(n.op, n.dtype, tuple([new.get(s, s) for s in n.src]), n.arg)
    return new


def _build(fn: Callable[..., Tensor], args: tuple) -> tuple[list[UOp], list[UOp], UOp] | None:
    """fn over placeholders of its tensors' dtypes, shapes and devices, or None when its graph cannot be reused
    (a custom gradient, a realized node, a placeholder's buffer read other than through its node, a result
    that does not depend on the inputs or is one of them)."""
    T = _tensor_type()
    holders = [placeholder(a.uop.dtype, a.uop.shape, a.device.name) for a in args if isinstance(a, T)]
    bases = {h.base for h in holders} - set(holders)
    it = iter(holders)
    out = fn(*[T._from(next(it), a.device) if isinstance(a, T) else a for a in args]).uop
    order = above([out], holders, lambda n: n not in CUSTOM_GRADIENTS and n._realized is None and n not in bases)
    return (holders, order, out) if order and order[-1] is out else None
