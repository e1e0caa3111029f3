"""Linear algebra: matmul (a broadcast multiply feeding one reduce) and dot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..dtype import promote
from ..errors import TensorValueError
from .common import _broadcast_shapes

if TYPE_CHECKING:
    from .core import Tensor


def matmul(self: Tensor, other: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting: (..., n, k) @ (..., k, m)."""
    w = other if isinstance(other, Tensor) else Tensor(other, device=self.device)
    if self.ndim == 0 or w.ndim == 0:
        raise TensorValueError(f"matmul: both arguments need at least 1 dim, got shapes {self.shape} and {w.shape}")
    x = self.unsqueeze(0) if self.ndim == 1 else self
    y = w.unsqueeze(-1) if w.ndim == 1 else w
    if x.shape[-1] != y.shape[-2]:
        raise TensorValueError(f"matmul: shapes {self.shape} and {w.shape} cannot be multiplied "
                         f"({x.shape[-1]} != {y.shape[-2]}: the last dim of the first must equal "
                         f"the {'only' if w.ndim == 1 else 'second-to-last'} dim of the second)")
    dt = promote(x.dtype, y.dtype)
    x, y = x.cast(dt), y.cast(dt)
    try:
        batch = _broadcast_shapes(x.shape[:-2], y.shape[:-2], op="matmul")
    except ValueError:
        raise TensorValueError(f"matmul: shapes {self.shape} and {w.shape} cannot be multiplied (batch dims "
                         f"{x.shape[:-2]} and {y.shape[:-2]} are not broadcastable)") from None
    n, k, m = x.shape[-2], x.shape[-1], y.shape[-1]
    xb = x._broadcast_to((*batch, n, k), "matmul").reshape(*batch, n, 1, k)
    yb = y._broadcast_to((*batch, k, m), "matmul").transpose(-1, -2).reshape(*batch, 1, m, k)
    out = (xb * yb).sum(-1, dtype=dt)  # (*batch, n, m); like torch, int @ int stays in its dtype
    if self.ndim == 1:
        out = out.squeeze(-2)
    if w.ndim == 1:
        out = out.squeeze(-1)
    return out


def dot(self: Tensor, other: Tensor) -> Tensor:
    if self.ndim != 1 or other.ndim != 1:
        raise TensorValueError(f"dot: expected two 1-D tensors, got shapes {self.shape} and {other.shape}")
    return self.matmul(other)
