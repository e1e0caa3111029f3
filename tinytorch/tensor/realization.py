"""Running the graph: schedule, realize, and reading values back (numpy, item, tolist); detach."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import TensorValueError
from ..ops.uop import Ops, UOp

if TYPE_CHECKING:
    from .core import Tensor


def schedule(self: Tensor, *others: Tensor) -> list[Any]:
    """The kernels `realize()` would run, without running them."""
    from ..engine.realize import schedule_tensors

    return schedule_tensors([self, *others])[0]


def realize(self: Tensor, *others: Tensor) -> Tensor:
    """Compute this tensor (and `others`) now; returns self."""
    from ..engine.realize import realize_tensors

    realize_tensors([self, *others])
    return self


def contiguous(self: Tensor) -> Tensor:
    return self._new(UOp(Ops.CONTIGUOUS, self.dtype, (self.uop,)), self)


def numpy(self: Tensor) -> np.ndarray:
    """The value as a numpy array (zero-copy when the memory is contiguous)."""
    from ..engine.realize import to_numpy

    return to_numpy(self)


def item(self: Tensor) -> Any:
    if self.numel() != 1:
        raise TensorValueError(
            f"item: only a tensor with one element can be converted, this one has shape {self.shape}")
    return self.numpy().reshape(()).item()


def tolist(self: Tensor) -> Any:
    return self.numpy().tolist()


def detach(self: Tensor) -> Tensor:
    """The same value, cut from the gradient graph."""
    return Tensor._from(UOp(Ops.DETACH, self.dtype, (self.uop,)), self.device, False)
