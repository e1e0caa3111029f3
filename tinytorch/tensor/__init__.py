"""The user-facing Tensor, split by topic: core.py (the class), creation.py, movement.py,
indexing.py, elementwise.py, reduce.py, linalg.py, functional.py, autograd.py, inplace.py,
realization.py; common.py holds their shared helpers."""

from __future__ import annotations

from typing import Any

from .common import _rng, manual_seed, no_grad
from .core import Tensor
from .creation import from_numpy
from .movement import cat, stack


def where(cond: Tensor, x: Any, y: Any) -> Tensor:
    """x where cond is true, else y (broadcast together)."""
    return cond._where(x, y)


__all__ = ["Tensor", "cat", "stack", "where", "from_numpy", "manual_seed", "no_grad", "_rng"]
