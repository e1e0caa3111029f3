"""Gradient clipping on lazy gradients.

Takes: parameters whose `.grad` came from backward().
Produces: the total norm (a Tensor) and scaled, still-lazy gradients.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..tensor import Tensor, no_grad


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0) -> Tensor:
    """g *= min(1, max_norm / (||g|| + 1e-6)), ||g|| over all gradients together."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    with no_grad():
        if norm_type == math.inf:
            norms = [p.grad.abs().max().float() for p in grads]  # type: ignore[union-attr]
            total = norms[0]
            for n in norms[1:]:
                total = total.maximum(n)
        else:
            acc = None
            for p in grads:
                s = (p.grad.abs().float() ** norm_type).sum()  # type: ignore[union-attr]
                acc = s if acc is None else acc + s
            assert acc is not None
            total = acc ** (1.0 / norm_type)
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for p in grads:
            p.grad = p.grad * coef.cast(p.grad.dtype)  # type: ignore[union-attr]
    return total
