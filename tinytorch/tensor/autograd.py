"""Autograd entry points on a Tensor: requires_grad_, backward, and copies that keep or drop the graph."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from ..errors import TensorValueError
from ..ops.uop import Ops, UOp
from .common import _device_names

if TYPE_CHECKING:
    from .core import Tensor


def requires_grad_(self: Tensor, requires_grad: builtins.bool = True) -> Tensor:
    if requires_grad and not (self.dtype.is_float):
        raise RuntimeError(f"requires_grad_: only floating point tensors can require gradients, got {self.dtype}")
    self.requires_grad = requires_grad
    return self


def backward(self: Tensor, gradient: Tensor | None = None, retain_graph: builtins.bool | None = None) -> None:
    """Accumulate d(self)/d(leaf) into `.grad` of every leaf tensor that requires grad.
    The gradients are lazy: they fuse with whatever realizes them (usually optimizer.step())."""
    from ..ops.gradient import compute_gradients

    if not self.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad (no input of its graph has "
                           "requires_grad=True, or it was built under no_grad())")
    if gradient is None:
        if self.numel() != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, "
                               f"got shape {self.shape}; pass gradient=")
        gradient = Tensor.full(self.shape, 1.0, self.dtype, self.device)
    if gradient.shape != self.shape:
        raise TensorValueError(f"backward: gradient of shape {gradient.shape} does not match the tensor's shape "
                         f"{self.shape}")
    leaves = [t for t in list(Tensor.live.values()) if t.requires_grad and t.is_leaf]
    by_uop: dict[UOp, list[Tensor]] = {}
    for t in leaves:
        by_uop.setdefault(t.uop, []).append(t)
    grads = compute_gradients(self.uop, gradient.cast(self.dtype).uop, set(by_uop))
    for u, ts in by_uop.items():
        g = grads.get(u)
        if g is None:
            continue
        for t in ts:
            gt = Tensor._from(g if g.dtype == t.dtype else UOp(Ops.CAST, t.dtype, (g,)), t.device)
            t.grad = gt if t.grad is None else t.grad + gt


def clone(self: Tensor) -> Tensor:
    return self.contiguous()


def to(self: Tensor, device_or_dtype: Any) -> Tensor:
    if isinstance(device_or_dtype, str) and device_or_dtype.upper() in _device_names():
        t = Tensor._from(self.uop, device_or_dtype.upper(), self.requires_grad)
        return t
    return self.cast(device_or_dtype)
