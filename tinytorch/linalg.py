"""tinytorch.linalg: the norms, products and cross product of torch.linalg that need no factorization.

Takes: tensors, as torch.linalg's functions of the same names.
Produces: the same lazy tensors as the Tensor methods (tinytorch/tensor/linalg.py). Factorizations (svd, qr,
eig, inv, det, solve) are not here; the matrix norms that need them (ord=2/-2/'nuc') raise NotImplementedError.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import TensorValueError
from .tensor import Tensor
from .tensor.linalg import _float_input, _vector_norm


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """(sum_i |x_i|^ord)^(1/ord) over dim (all elements for None); inf: max |x_i|, -inf: min, 0: non-zero count."""
    return _vector_norm(_float_input(x, "linalg.vector_norm", dtype), ord, dim, keepdim)


def matrix_norm(A: Tensor, ord: Any = "fro", dim: tuple[int, int] = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """Matrix norm over the two dims: 'fro' sqrt(sum a_ij^2); 1 / -1 max / min column sum of |a_ij|;
    inf / -inf max / min row sum."""
    x = _float_input(A, "linalg.matrix_norm", dtype)
    if x.ndim < 2:
        raise TensorValueError(f"linalg.matrix_norm: expected a tensor with 2 or more dims, got shape {x.shape}")
    r, c = (d % x.ndim for d in dim)
    if ord == "fro":
        return _vector_norm(x, 2, (r, c), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)  # 1: sum down columns, then over columns
        s = x.abs().sum(inner, keepdim=True)
        out = s.amax(outer, keepdim=True) if ord > 0 else s.amin(outer, keepdim=True)
        return out if keepdim else out.reshape(*[n for i, n in enumerate(x.shape) if i not in (r, c)])
    raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values (an SVD), which tinytorch "
                              f"does not have")


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """vector_norm for a 1-D dim (or ord None over everything), matrix_norm for a 2-D dim or a matrix with ord."""
    if dim is None and ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    dims = None if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    if (dims is not None and len(dims) == 2) or (dims is None and A.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, dims or (-2, -1), keepdim, dtype=dtype)
    if dims is None and A.ndim != 1:
        raise TensorValueError(f"linalg.norm: with ord={ord!r} and no dim, the input must be 1-D or 2-D, got "
                               f"shape {A.shape}")
    return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """Cross product of 3-vectors along dim (default the last), broadcasting the other dims."""
    return input.cross(other, dim)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """sum_i x_i y_i along dim, broadcasting the other dims."""
    return (x * y).sum(dim)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """input @ other."""
    return input.matmul(other)

