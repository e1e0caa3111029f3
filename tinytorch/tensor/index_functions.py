"""Module-level functions (tinytorch.gather, tinytorch.einsum, ...) for the indexing and movement ops.

Takes: the tensor first, then the method's arguments (torch.gather(x, 1, idx) == x.gather(1, idx)).
Produces: the same lazy tensors as the Tensor methods: each function here is generated from the
table METHODS (it calls the method of that name), or is a function of several tensors (FREE).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import movement, search
from .core import Tensor
from .einsum import einsum

# Tensor methods also offered as tinytorch.<name>(input, *args, **kwargs)
METHODS = ("gather scatter scatter_add scatter_reduce index_select index_add index_copy index_fill take take_along_dim "
           "masked_fill masked_select nonzero argwhere tril triu diag diagonal diag_embed roll repeat_interleave tile "
           "flip fliplr flipud rot90 movedim moveaxis swapaxes swapdims narrow select unbind unflatten flatten "
           "reshape permute transpose squeeze unsqueeze split tensor_split chunk bucketize unique bincount histc "
           "multinomial bernoulli atleast_1d atleast_2d atleast_3d").split()


def _method_function(name: str) -> Callable[..., Any]:
    method = getattr(Tensor, name)

    def fn(input: Tensor, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        return method(input, *args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = method.__doc__
    return fn


FUNCTIONS: dict[str, Callable[..., Any]] = {name: _method_function(name) for name in METHODS}
FUNCTIONS.update(hstack=movement.hstack, vstack=movement.vstack, dstack=movement.dstack,
                 column_stack=movement.column_stack, meshgrid=movement.meshgrid,
                 cartesian_prod=movement.cartesian_prod, einsum=einsum, searchsorted=search.searchsorted,
                 triu_indices=search.triu_indices, tril_indices=search.tril_indices)
