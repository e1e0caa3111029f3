"""In-place writes: assign (lazy, or now when a view shares the memory) and the write-target checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import TensorValueError
from ..ops.uop import Ops, UOp

if TYPE_CHECKING:
    from .core import Tensor


def assign(self: Tensor, x: Any) -> Tensor:
    """Overwrite this tensor's memory with x: lazily, or now when another tensor views the same memory
    (so that view sees the write, as in PyTorch). Readers built before see the old value."""
    x = x if isinstance(x, Tensor) else Tensor.full(self.shape, x, self.dtype, self.device)
    if x.shape != self.shape:
        try:
            x = x._broadcast_to(self.shape, "assign")
        except ValueError:
            raise TensorValueError(f"assign: value of shape {x.shape} does not fit a tensor of shape "
                             f"{self.shape}") from None
    if x.dtype != self.dtype:
        x = x.cast(self.dtype)
    target = self._write_target("assign")
    self.uop = UOp(Ops.ASSIGN, self.dtype, (target, x.uop))
    from ..engine.realize import shares_buffer

    if shares_buffer(self):  # another tensor views this memory: write now, so it sees the write (as in PyTorch)
        self.realize()
    return self


def _write_target(self: Tensor, op: str) -> UOp:
    """The view of a buffer that an in-place write through this tensor changes (a lazy tensor is
    computed into a buffer first). Raises when two elements share memory or some have none."""
    from ..engine.realize import resolve_views, view_of

    target = self.uop
    while target.op is Ops.ASSIGN:
        target = target.src[0]
    if target.base.op is not Ops.BUFFER:
        self.realize()
        target = resolve_views(self.uop)
    why = view_of(target)[1].write_conflict()
    if why == "overlap":
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers "
                           f"to a single memory location (it is an expanded view). Please clone() the tensor "
                           f"before performing the operation.")
    if why == "padding":
        raise RuntimeError(f"{op}: unsupported operation: some elements of the written-to tensor are padding "
                           f"with no memory behind them (it is a padded view). Please clone() the tensor before "
                           f"performing the operation.")
    return target
