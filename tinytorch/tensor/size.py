"""`tinytorch.Size`: the shape of a tensor, a tuple of ints that prints as PyTorch's torch.Size.

Takes: an iterable of ints. Produces: a tuple subclass (so `shape == (2, 3)`, unpacking, indexing and
`len` work as on a tuple) with `numel()` and the text `tinytorch.Size([2, 3])` from str() and repr();
an f-string shows the plain tuple `(2, 3)`, the form our error messages use.
"""

from __future__ import annotations

from typing import Any


class Size(tuple):  # type: ignore[type-arg]
    """A tensor's shape: a tuple of ints, as torch.Size."""

    def __new__(cls, sizes: Any = ()) -> Size:
        """Size([2, 3]) from any iterable of ints."""
        return tuple.__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (the product of the sizes)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index: Any) -> Any:
        """An int for an int index, a Size for a slice (as torch.Size)."""
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other: Any) -> Size:
        """Concatenation, still a Size."""
        return Size(tuple.__add__(self, tuple(other)))

    def __repr__(self) -> str:
        """`tinytorch.Size([2, 3])`."""
        return f"tinytorch.Size({list(self)})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """f-strings (our error messages) show the tuple, `(2, 3)`; str() and repr() show `tinytorch.Size([2, 3])`."""
        return format(tuple.__repr__(self), spec)


SIZES: dict[tuple[int, ...], Size] = {}  # one shared Size per recent shape: `tensor.shape` is read very often


def as_size(shape: tuple[int, ...]) -> Size:
    """The Size of a shape tuple, from SIZES (emptied when it holds 4096: shapes vary without end)."""
    s = SIZES.get(shape)
    if s is None:
        if len(SIZES) >= 4096:
            SIZES.clear()
        s = SIZES[shape] = tuple.__new__(Size, shape)
    return s
