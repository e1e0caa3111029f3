"""Named tuples returned by reductions that give two tensors, like torch.return_types.

Takes: the two result tensors of max/min/sort/topk/kthvalue/mode/median/nanmedian/cummax/cummin (values,
indices) or aminmax (min, max).
Produces: a tuple subclass per op, so `vals, idx = x.max(1)` unpacks and `r.values` / `r.indices` read the
fields; the repr names the op as PyTorch's does:

    tinytorch.return_types.max(
    values=tensor([5., 2.]),
    indices=tensor([1, 0]))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .tensor import Tensor


def _repr(self: tuple[Any, ...]) -> str:
    fields = ",\n".join(f"{name}={value!r}" for name, value in zip(self._fields, self))  # type: ignore[attr-defined]
    return f"tinytorch.return_types.{type(self).__name__}(\n{fields})"


class _ValuesIndices(NamedTuple):
    values: Tensor
    indices: Tensor


class _MinMax(NamedTuple):
    min: Tensor
    max: Tensor


def _named(name: str, base: type) -> Any:
    return type(name, (base,), {"__slots__": (), "__repr__": _repr, "__module__": __name__, "__qualname__": name})


max = _named("max", _ValuesIndices)  # noqa: A001
min = _named("min", _ValuesIndices)  # noqa: A001
sort = _named("sort", _ValuesIndices)
topk = _named("topk", _ValuesIndices)
kthvalue = _named("kthvalue", _ValuesIndices)
mode = _named("mode", _ValuesIndices)
median = _named("median", _ValuesIndices)
nanmedian = _named("nanmedian", _ValuesIndices)
cummax = _named("cummax", _ValuesIndices)
cummin = _named("cummin", _ValuesIndices)
aminmax = _named("aminmax", _MinMax)

__all__ = ["max", "min", "sort", "topk", "kthvalue", "mode", "median", "nanmedian", "cummax", "cummin", "aminmax"]
