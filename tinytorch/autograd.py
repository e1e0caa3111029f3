"""tinytorch.autograd: PyTorch's functional autograd API and the switches of gradient tracking.

Takes: output tensors, the tensors to differentiate with respect to, and optional output gradients.
Produces: `grad(...)` returns the gradients as a tuple (differentiable with create_graph=True, for higher-order
derivatives); `backward(...)` accumulates them into `.grad`. `no_grad`, `enable_grad`, `set_grad_enabled` and
`is_grad_enabled` switch gradient tracking for the tensors built inside.
"""

from __future__ import annotations

from typing import Any

from .tensor.autograd import autograd_backward as backward
from .tensor.autograd import grad
from .tensor.common import no_grad

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]


def is_grad_enabled() -> bool:
    """Whether tensors built now track gradients (False inside no_grad)."""
    return no_grad.enabled


class set_grad_enabled:
    """Turn gradient tracking on or off: at once when called, undone at the end of a `with` block or decorated call."""

    def __init__(self, mode: bool):
        self.prev = no_grad.enabled
        self.mode = bool(mode)
        no_grad.enabled = self.mode

    def __enter__(self) -> None:
        no_grad.enabled = self.mode

    def __exit__(self, *args: Any) -> None:
        no_grad.enabled = self.prev

    def __call__(self, fn: Any) -> Any:
        no_grad.enabled = self.prev  # as a decorator it applies only inside the call

        def wrapper(*a: Any, **k: Any) -> Any:
            with set_grad_enabled(self.mode):
                return fn(*a, **k)
        return wrapper


class enable_grad:
    """Context manager and decorator: tensors built inside track gradients again (inside no_grad too)."""

    def __enter__(self) -> None:
        self.prev = no_grad.enabled
        no_grad.enabled = True

    def __exit__(self, *args: Any) -> None:
        no_grad.enabled = self.prev

    def __call__(self, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            with enable_grad():
                return fn(*a, **k)
        return wrapper


class inference_mode(no_grad):
    """Like no_grad (PyTorch's faster variant; here the same): `inference_mode(False)` changes nothing."""

    def __init__(self, mode: bool = True):
        self.mode = mode

    def __enter__(self) -> None:
        self.prev = no_grad.enabled
        if self.mode:
            no_grad.enabled = False
