"""Gradient clipping and flattening parameters on lazy gradients.

Takes: parameters whose `.grad` came from backward().
Produces: the total norm (a Tensor) and scaled / clamped, still-lazy gradients; a flat vector of
the parameters, or parameters overwritten from one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..tensor import Tensor, cat, no_grad, stack


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(t: Tensor, p: float) -> Tensor:
    """||t||_p of all elements: max |x| (inf), min |x| (-inf), the count of nonzeros (0), (sum |x|^p)^(1/p)."""
    if p == math.inf:
        return t.abs().max().float()
    if p == -math.inf:
        return t.abs().min().float()
    if p == 0:
        return (t != 0).float().sum()
    if p == 1:
        return t.abs().float().sum()
    if p == 2:
        return (t.float() * t.float()).sum().sqrt()
    return (t.abs().float() ** p).sum() ** (1.0 / p)


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """||(||t_1||_p, ..., ||t_n||_p)||_p, PyTorch's total norm (p = inf: max |x|, -inf: min |x|, 0: the number
    of tensors with a nonzero element)."""
    ts = _as_list(tensors)
    if not ts:
        return Tensor(0.0)
    p = float(norm_type)
    with no_grad():
        norms = [_vector_norm(t.detach(), p) for t in ts]
        total = norms[0] if len(norms) == 1 and p not in (0.0,) else _vector_norm(stack(norms), p)
    if error_if_nonfinite and not math.isfinite(float(total.item())):
        raise RuntimeError(f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """g *= min(1, max_norm / (total_norm + 1e-6)) for every gradient."""
    grads = [p for p in _as_list(parameters) if p.grad is not None]
    with no_grad():
        coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for p in grads:
            p.grad = p.grad * coef.cast(p.grad.dtype)  # type: ignore[union-attr,operator]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """g *= min(1, max_norm / (||g|| + 1e-6)), ||g|| the norm_type-norm over all gradients together;
    returns that total norm."""
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)  # type: ignore[arg-type]
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """g = clamp(g, -clip_value, clip_value) for every gradient."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad = p.grad.clamp(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor."""
    ps = list(parameters)
    if not ps:
        raise RuntimeError("parameters_to_vector: expected a non-empty list of Tensors")
    return cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Overwrite each parameter with its slice of the 1-D `vec` (the inverse of parameters_to_vector)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    ps = list(parameters)
    need = sum(p.numel() for p in ps)
    if vec.ndim != 1 or vec.shape[0] != need:
        raise RuntimeError(f"vector_to_parameters: vec has shape {vec.shape}, the parameters need ({need},)")
    with no_grad():
        start = 0
        for p in ps:
            n = p.numel()
            p.assign(vec[start:start + n].reshape(p.shape).detach())
            start += n
        Tensor.realize(*ps)
