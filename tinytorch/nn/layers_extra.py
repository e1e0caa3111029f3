"""More everyday layers: Embedding, LayerNorm, Bilinear, CosineSimilarity, PairwiseDistance.

Takes: Tensors whose shapes are given in each forward's docstring.
Produces: lazy Tensors (functions of nn.functional); parameters, their names, their initialization
and the modules' repr follow PyTorch, so a PyTorch state_dict loads into them and they print alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import TensorValueError
from ..tensor import Tensor
from . import functional_extra as FX
from . import init
from .module import Module, Parameter

__all__ = ["Embedding", "LayerNorm", "Bilinear", "CosineSimilarity", "PairwiseDistance"]


class Embedding(Module):
    """A lookup table: int indices (...) -> rows (..., embedding_dim) of weight (num_embeddings, embedding_dim)
    ~ N(0, 1); the row at padding_idx starts at 0 and is never trained."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False,
                 device: str | None = None, dtype: Any = None):
        super().__init__()
        if num_embeddings < 0 or embedding_dim < 0:
            raise TensorValueError(f"Embedding: num_embeddings and embedding_dim must be >= 0, got "
                                   f"{num_embeddings}, {embedding_dim}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            w = Tensor.normal(num_embeddings, embedding_dim, mean=0.0, std=1.0, dtype=dtype, device=device)
            if padding_idx is not None:
                rows = (Tensor.arange(num_embeddings, device=w.device) == padding_idx).reshape(num_embeddings, 1)
                w = rows._where(0, w).realize()
            self.weight = Parameter(w, requires_grad=not _freeze)
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise TensorValueError(f"Embedding: _weight of shape {_weight.shape} must be "
                                       f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding holding the given (num_embeddings, embedding_dim) table (frozen unless freeze=False)."""
        if embeddings.ndim != 2:
            raise TensorValueError(f"Embeddings parameter is expected to be 2-dimensional, got shape "
                                   f"{embeddings.shape}")
        n, d = embeddings.shape
        return cls(n, d, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)

    def reset_parameters(self) -> None:
        """Redraw weight from N(0, 1) and zero the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            n = self.num_embeddings
            rows = (Tensor.arange(n, device=self.weight.device) == self.padding_idx).reshape(n, 1)
            init._fill_(self.weight, rows._where(0, self.weight.detach()), "reset_parameters")

    def forward(self, input: Tensor) -> Tensor:
        """(...) int indices -> (..., embedding_dim)"""
        return FX.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                            self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        """'num_embeddings, embedding_dim' and the settings that differ from the defaults."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s


class _AffineNorm(Module):
    """Base of the normalization layers: an optional per-element scale (weight, 1) and shift (bias, 0)."""

    def _affine_parameters(self, shape: tuple[int, ...] | None, bias: bool, dtype: Any, device: str | None) -> None:
        """weight (ones) and, when bias, bias (zeros) of `shape`; None registers neither."""
        if shape is not None:
            self.weight = Parameter(Tensor.ones(*shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
        if shape is not None and bias:
            self.bias = Parameter(Tensor.zeros(*shape, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)


class LayerNorm(_AffineNorm):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing normalized_shape dims (weight 1, bias 0)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: str | None = None, dtype: Any = None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape: tuple[int, ...] = shape
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self._affine_parameters(shape if elementwise_affine else None, bias, dtype, device)

    def forward(self, input: Tensor) -> Tensor:
        """(..., *normalized_shape) -> same shape"""
        return FX.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """'(shape), eps=..., elementwise_affine=..., bias=...' as PyTorch prints."""
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None if self.elementwise_affine else False}")


class Bilinear(Module):
    """y = x1^T A x2 + b with A (out, in1, in2) and b (out,) ~ U(-1/sqrt(in1), 1/sqrt(in1)), PyTorch's init."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: str | None = None, dtype: Any = None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        bound = 1 / math.sqrt(in1_features) if in1_features > 0 else 0.0
        self.weight = Parameter(init.uniform_value((out_features, in1_features, in2_features), -bound, bound, dtype,
                                                   device))
        if bias:
            self.bias = Parameter(init.uniform_value((out_features,), -bound, bound, dtype, device))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Redraw weight and bias from U(-1/sqrt(in1), 1/sqrt(in1))."""
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        """(..., in1), (..., in2) -> (..., out)"""
        return FX.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        """in1_features, in2_features, out_features and bias as PyTorch prints them."""
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class CosineSimilarity(Module):
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along dim."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """Inputs broadcast to one shape; dim is reduced."""
        return FX.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """(..., D), (..., D) -> (...) (or (..., 1) with keepdim)"""
        return FX.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
