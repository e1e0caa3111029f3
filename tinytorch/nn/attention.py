"""Transformer layers: RMSNorm and MultiheadAttention, with PyTorch's arguments, parameters and init.

Takes: float Tensors — (..., *normalized_shape) for RMSNorm; for MultiheadAttention query (L, N, E),
key (S, N, kdim), value (S, N, vdim), or (N, L, E) ... with batch_first=True, or unbatched (L, E).
Produces: lazy Tensors (functions of nn.functional_attention). Parameter names, shapes and
initialization follow PyTorch (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`;
`q/k/v_proj_weight` when kdim or vdim differ from embed_dim; `bias_k`, `bias_v`), so a PyTorch
state_dict loads into them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..tensor import Tensor
from . import functional_attention as FA
from . import init
from .layers import Linear
from .module import Module, Parameter

__all__ = ["RMSNorm", "MultiheadAttention"]


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing normalized_shape dims (weight 1; eps None:
    finfo(dtype).eps)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: str | None = None, dtype: Any = None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape: tuple[int, ...] = shape
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(Tensor.ones(*shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """weight = 1."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        """(..., *normalized_shape) -> same shape"""
        return FA.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        """'(shape), eps=..., elementwise_affine=...' as PyTorch prints."""
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class NonDynamicallyQuantizableLinear(Linear):
    """The output projection of MultiheadAttention: a Linear under PyTorch's class name (so it prints alike)."""


class MultiheadAttention(Module):
    """concat_h(softmax(q_h k_h^T / sqrt(head_dim) + mask) v_h) W_o^T + b_o over num_heads heads of
    embed_dim // num_heads; in_proj ~ xavier_uniform, in_proj_bias = out_proj.bias = 0 (PyTorch's init)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: str | None = None, dtype: Any = None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise FA.AttentionShapeError(f"MultiheadAttention: embed_dim must be divisible by num_heads (embed_dim "
                                         f"{embed_dim}, num_heads {num_heads})")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(_xavier_uniform((3 * E, E), dtype, device))  # (3E, E): q, k, v rows
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(_xavier_uniform((E, E), dtype, device))  # (E, E)
            self.k_proj_weight = Parameter(_xavier_uniform((E, self.kdim), dtype, device))  # (E, kdim)
            self.v_proj_weight = Parameter(_xavier_uniform((E, self.vdim), dtype, device))  # (E, vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(Tensor.zeros(3 * E, dtype=dtype, device=device))  # (3E,)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, device=device, dtype=dtype)
        if bias:
            assert self.out_proj.bias is not None
            self.out_proj.bias = Parameter(Tensor.zeros(E, dtype=dtype, device=device))
        if add_bias_kv:
            std = math.sqrt(2.0 / (2 * E))  # xavier_normal_ of a (1, 1, E) tensor: fan_in = fan_out = E
            self.bias_k = Parameter(Tensor.normal(1, 1, E, mean=0.0, std=std, dtype=dtype, device=device))
            self.bias_v = Parameter(Tensor.normal(1, 1, E, mean=0.0, std=std, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.add_zero_attn = add_zero_attn

    def _reset_parameters(self) -> None:
        """Redraw the projections (xavier_uniform), zero the biases, redraw bias_k/bias_v (xavier_normal)."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(L, N, E), (S, N, kdim), (S, N, vdim) (batch first: (N, L, E), ...; unbatched: (L, E), ...)
        -> (attn_output like query, attn_output_weights (N, L, S) — (N, num_heads, L, S) when not
        average_attn_weights — or None when not need_weights)"""
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        separate = not self._qkv_same_embed_dim
        out, weights = FA.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(0, 1)  # (N, L, E)
        return out, weights


def _xavier_uniform(shape: tuple[int, int], dtype: Any, device: str | None) -> Tensor:
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out)), drawn directly (no kernel runs)"""
    a = math.sqrt(6.0 / (shape[0] + shape[1]))
    return init.uniform_value(shape, -a, a, dtype, device)
