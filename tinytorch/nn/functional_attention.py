"""Attention and RMS normalization as functions: rms_norm, scaled_dot_product_attention and
multi_head_attention_forward (PyTorch's names, arguments, mask conventions and errors).

Takes: float Tensors — query (..., L, E), key (..., S, E), value (..., S, Ev) for
scaled_dot_product_attention; sequence-first (L, N, E) or unbatched (L, E) inputs and the projection
weights for multi_head_attention_forward; masks as bool (scaled_dot_product_attention: True = may
attend; multi_head_attention_forward: True = masked out) or float (added to the scores).
Produces: lazy Tensors built from matmul, where, exp/sum and movement ops only, so the scheduler fuses
them and autograd differentiates them. Attention keeps one (..., L, S) score tensor: q k^T -> masked
softmax -> @ v. Everything here is re-exported by `tinytorch.nn.functional`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..dtype import dtypes, finfo
from ..errors import DTypeError, TensorValueError
from ..tensor import Tensor, cat
from . import functional as F

__all__ = ["rms_norm", "scaled_dot_product_attention", "multi_head_attention_forward"]

_LOW_PRECISION = (dtypes.float16, dtypes.bfloat16)


class AttentionShapeError(TensorValueError, AssertionError):
    """A shape multi-head attention cannot take; PyTorch raises AssertionError for these, so both
    `except AssertionError` and `except (ValueError, RuntimeError)` catch it."""


def _float_tensor(x: Any, op: str, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if not x.dtype.is_float:
        raise DTypeError(f"{op}: {name} must be a floating point tensor, got {x.dtype!r}")
    return x


def _broadcast_shape(shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The common shape of shapes under broadcasting, or None when they do not broadcast."""
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for i, n in enumerate((1,) * (nd - len(s)) + tuple(s)):
            if n != out[i] and 1 not in (n, out[i]):
                return None
            out[i] = n if out[i] == 1 else out[i]
    return tuple(out)


# RMS normalization ----------------------------------------------------------------------------------
def rms_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims (eps=None: finfo(dtype).eps)"""
    op = "rms_norm"
    x = _float_tensor(input, op, "input")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise TensorValueError(f"{op}: Given normalized_shape={list(shape)}, expected input with shape "
                               f"[*, {', '.join(map(str, shape))}], but got input of size {list(x.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise TensorValueError(f"{op}: Expected weight to be of same shape as normalized_shape, but got weight of "
                               f"shape {list(weight.shape)} and normalized_shape = {list(shape)}")
    xc = x.float() if x.dtype in _LOW_PRECISION else x  # half precision is computed in float32, like PyTorch
    e = finfo(xc.dtype).eps if eps is None else eps
    axes = tuple(range(x.ndim - k, x.ndim))
    y = xc * ((xc * xc).mean(axes, keepdim=True) + e).rsqrt()
    if weight is not None:
        y = y * weight
    return y.cast(x.dtype) if y.dtype != x.dtype else y


# scaled dot-product attention -----------------------------------------------------------------------
def _masked_exp(s: Tensor) -> tuple[Tensor, Tensor]:
    """(e^(s - max), its row sums) over the last dim; softmax = e / sums. A row whose scores are all -inf
    (nothing may be attended) has e = 0 and sum 1, so it gives 0 as PyTorch's scaled_dot_product_attention
    does, not 0/0."""
    m = s._shift(-1)  # row max, detached: the result does not depend on it
    m = (m == -math.inf)._where(0, m)
    e = (s - m).exp()
    d = e.sum(-1, keepdim=True)
    return e, (d == 0)._where(1, d)


def _check_attn_mask(mask: Any, q: Tensor, out_shape: tuple[int, ...], op: str) -> Tensor:
    """mask is a bool or query-dtype float tensor that broadcasts to the score shape (..., L, S)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: attn_mask must be a Tensor, got {type(mask).__name__}")
    if mask.dtype != dtypes.bool and mask.dtype != q.dtype:
        raise DTypeError(f"{op}: Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                         f"attn_mask.dtype: {mask.dtype!r} and query.dtype: {q.dtype!r} instead.")
    if _broadcast_shape([tuple(mask.shape), out_shape]) != out_shape:
        raise TensorValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} does not broadcast to the attention "
                               f"scores' shape {out_shape} (batch..., L, S)")
    return mask


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v, scale = 1/sqrt(E): q (..., L, E), k (..., S, E), v (..., S, Ev)
    -> (..., L, Ev); a bool mask is True where attention is allowed, a float mask is added, is_causal
    allows key j for query i when j <= i; a row with nothing allowed gives 0"""
    op = "scaled_dot_product_attention"
    q, k, v = (_float_tensor(t, op, n) for t, n in ((query, "query"), (key, "key"), (value, "value")))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise TensorValueError(f"{op}: Expected query, key, and value to all be at least 2 dimensional, but got "
                               f"query.dim: {q.ndim} key.dim: {k.ndim} and value.dim: {v.ndim} instead.")
    if not q.dtype == k.dtype == v.dtype:
        raise DTypeError(f"{op}: Expected query, key, and value to have the same dtype, but got query.dtype: "
                         f"{q.dtype!r} key.dtype: {k.dtype!r} and value.dtype: {v.dtype!r} instead.")
    L, E, S = q.shape[-2], q.shape[-1], k.shape[-2]
    if k.shape[-1] != E or v.shape[-2] != S:
        raise TensorValueError(f"{op}: query {tuple(q.shape)}, key {tuple(k.shape)} and value {tuple(v.shape)} do "
                               f"not fit: expected key (..., S, {E}) and value (..., S, Ev) with the same S")
    if attn_mask is not None and is_causal:
        raise TensorValueError(f"{op}: Explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise TensorValueError(f"{op}: dropout probability has to be between 0 and 1, but got {dropout_p}")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and v.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if v.shape[-3] != hk or hq % hk:
            raise TensorValueError(f"{op}: Number of heads in key and value must divide the number of heads in "
                                   f"query (query {hq}, key {hk}, value {v.shape[-3]} heads)")
        g = hq // hk  # each key/value head serves g consecutive query heads (repeat_interleave)
        k = k.unsqueeze(-3).expand(*k.shape[:-2], g, S, E).reshape(*k.shape[:-3], hq, S, E)
        v = v.unsqueeze(-3).expand(*v.shape[:-2], g, *v.shape[-2:]).reshape(*v.shape[:-3], hq, *v.shape[-2:])
    batch = _broadcast_shape([tuple(q.shape[:-2]), tuple(k.shape[:-2]), tuple(v.shape[:-2])])
    if batch is None:
        raise TensorValueError(f"{op}: the batch dims of query {tuple(q.shape)}, key {tuple(k.shape)} and value "
                               f"{tuple(v.shape)} do not broadcast")
    if attn_mask is not None:
        _check_attn_mask(attn_mask, q, (*batch, L, S), op)
    sc = 1.0 / math.sqrt(E) if scale is None else float(scale)
    s = (q * sc).matmul(k.transpose(-2, -1))  # (..., L, S)
    if s.dtype in _LOW_PRECISION:
        s = s.float()
    if is_causal:  # top-left aligned lower triangle, also for L != S
        s = Tensor.ones(L, S, dtype=dtypes.bool, device=q.device).tril()._where(s, -math.inf)
    elif attn_mask is not None:
        s = attn_mask._where(s, -math.inf) if attn_mask.dtype == dtypes.bool else s + attn_mask
    e, d = _masked_exp(s)  # (..., L, S), (..., L, 1)
    if dropout_p > 0:  # the functional form drops whatever the module's training flag (as PyTorch)
        e = F.dropout(e, dropout_p, training=True)
    # softmax(s) @ v = (e @ v) / d: the division acts on the (..., L, Ev) output, the weights are never stored
    return e.cast(q.dtype).matmul(v) / d.cast(q.dtype)  # (..., L, Ev)


# multi-head attention -------------------------------------------------------------------------------
def _as_float_mask(mask: Tensor | None, name: str, dtype: Any, op: str) -> Tensor | None:
    """A bool mask (True = masked out) as 0 / -inf in dtype; a float mask as it is."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype == dtypes.bool:
        return mask._where(-math.inf, 0.0).cast(dtype)
    if not mask.dtype.is_float:
        raise DTypeError(f"{op}: only bool and floating types of {name} are supported, got {mask.dtype!r}")
    return mask


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int,
                                 num_heads: int, in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None, add_zero_attn: bool,
                                 dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                                 training: bool = True, key_padding_mask: Tensor | None = None,
                                 need_weights: bool = True, attn_mask: Tensor | None = None,
                                 use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
                                 k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None,
                                 static_k: Tensor | None = None, static_v: Tensor | None = None,
                                 average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """concat_h(softmax(q_h k_h^T / sqrt(d) + mask) v_h) W_o^T + b_o with q, k, v = the input projections:
    query (L, N, E), key (S, N, kdim), value (S, N, vdim) or unbatched (L, E) -> ((L, N, E), weights
    (N, L, S) averaged over heads or (N, num_heads, L, S), or None when need_weights=False)"""
    op = "multi_head_attention_forward"
    q_in, k_in, v_in = (_float_tensor(t, op, n) for t, n in ((query, "query"), (key, "key"), (value, "value")))
    batched = _mha_shape_check(q_in, k_in, v_in, key_padding_mask, attn_mask, num_heads, op)
    if not batched:
        q_in, k_in, v_in = q_in.unsqueeze(1), k_in.unsqueeze(1), v_in.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = q_in.shape
    S = k_in.shape[0]
    kpm = _as_float_mask(key_padding_mask, "key_padding_mask", q_in.dtype, op)
    if is_causal and attn_mask is None:
        raise TensorValueError(f"{op}: Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                               f"module method `generate_square_subsequent_mask` to create this mask.")
    causal_only = is_causal and kpm is None and not need_weights  # then the mask is the causal one: no tensor
    mask = None if causal_only else _as_float_mask(attn_mask, "attn_mask", q_in.dtype, op)
    if E != embed_dim_to_check:
        raise AttentionShapeError(f"{op}: was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    if num_heads <= 0 or E % num_heads:
        raise AttentionShapeError(f"{op}: embed_dim {E} not divisible by num_heads {num_heads}")
    D = E // num_heads
    if use_separate_proj_weight:
        if k_in.shape[:2] != v_in.shape[:2]:
            raise AttentionShapeError(f"{op}: key's sequence and batch dims {tuple(k_in.shape[:2])} do not match "
                                      f"value's {tuple(v_in.shape[:2])}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AttentionShapeError(f"{op}: use_separate_proj_weight=True needs q_proj_weight, k_proj_weight and "
                                      f"v_proj_weight")
        bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q = F.linear(q_in, q_proj_weight, bq)  # (L, N, E)
        k = F.linear(k_in, k_proj_weight, bk)  # (S, N, E)
        v = F.linear(v_in, v_proj_weight, bv)  # (S, N, E)
    else:
        if k_in.shape != v_in.shape:
            raise AttentionShapeError(f"{op}: key shape {tuple(k_in.shape)} does not match value shape "
                                      f"{tuple(v_in.shape)}")
        if in_proj_weight is None:
            raise AttentionShapeError(f"{op}: use_separate_proj_weight is False but in_proj_weight is None")
        wq, wk, wv = in_proj_weight.chunk(3)
        bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = F.linear(q_in, wq, bq), F.linear(k_in, wk, bk), F.linear(v_in, wv, bv)  # (L|S, N, E)
    if mask is not None:
        if mask.ndim == 2:
            if tuple(mask.shape) != (L, S):
                raise TensorValueError(f"{op}: The shape of the 2D attn_mask is {tuple(mask.shape)}, but should be "
                                       f"{(L, S)}.")
            mask = mask.reshape(1, 1, L, S)
        elif mask.ndim == 3:
            if tuple(mask.shape) != (N * num_heads, L, S):
                raise TensorValueError(f"{op}: The shape of the 3D attn_mask is {tuple(mask.shape)}, but should be "
                                       f"{(N * num_heads, L, S)}.")
            mask = mask.reshape(N, num_heads, L, S)
        else:
            raise TensorValueError(f"{op}: attn_mask's dimension {mask.ndim} is not supported")
    if bias_k is not None or bias_v is not None:
        if bias_k is None or bias_v is None:
            raise AttentionShapeError(f"{op}: bias_k and bias_v must be given together")
        if static_k is not None or static_v is not None:
            raise AttentionShapeError(f"{op}: bias cannot be added to static key or value.")
        k = cat([k, bias_k.reshape(1, 1, E).expand(1, N, E)], dim=0)  # (S + 1, N, E)
        v = cat([v, bias_v.reshape(1, 1, E).expand(1, N, E)], dim=0)
        mask = None if mask is None else mask._pad(((0, 0), (0, 0), (0, 0), (0, 1)), 0.0)
        kpm = None if kpm is None else kpm._pad(((0, 0), (0, 1)), 0.0)
    q = q.reshape(L, N, num_heads, D).permute(1, 2, 0, 3)  # (N, H, L, D)
    k = _heads(k, static_k, N, num_heads, D, "static_k", op)  # (N, H, S', D)
    v = _heads(v, static_v, N, num_heads, D, "static_v", op)  # (N, H, S', D)
    if add_zero_attn:  # one more key and value of zeros that every query may attend
        k = k._pad(((0, 0), (0, 0), (0, 1), (0, 0)), 0.0)
        v = v._pad(((0, 0), (0, 0), (0, 1), (0, 0)), 0.0)
        mask = None if mask is None else mask._pad(((0, 0), (0, 0), (0, 0), (0, 1)), 0.0)
        kpm = None if kpm is None else kpm._pad(((0, 0), (0, 1)), 0.0)
    s_len = k.shape[2]
    if kpm is not None:
        if tuple(kpm.shape) != (N, s_len):
            raise AttentionShapeError(f"{op}: Expected key_padding_mask of shape {(N, s_len)}, but got "
                                      f"{tuple(kpm.shape)}")
        pad = kpm.reshape(N, 1, 1, s_len)
        mask = pad if mask is None else mask + pad  # (N | 1, H | 1, L | 1, S')
    p_drop = dropout_p if training else 0.0
    if need_weights:
        w = ((q * (1.0 / math.sqrt(D))).matmul(k.transpose(-2, -1)))  # (N, H, L, S')
        w = (w if mask is None else w + mask).softmax(-1)  # a fully masked row is NaN, as PyTorch's weights
        if p_drop > 0:
            w = F.dropout(w, p_drop, training=True)
        o = w.matmul(v)  # (N, H, L, D)
        weights: Tensor | None = w.mean(1) if average_attn_weights else w
    else:
        o = scaled_dot_product_attention(q, k, v, mask, p_drop, causal_only)  # (N, H, L, D)
        weights = None
    out = F.linear(o.permute(2, 0, 1, 3).reshape(L, N, E), out_proj_weight, out_proj_bias)  # (L, N, E)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def _heads(x: Tensor, static: Tensor | None, n: int, h: int, d: int, name: str, op: str) -> Tensor:
    """(S, N, E) projections -> (N, H, S, D); a given static (N * H, S, D) tensor replaces them."""
    if static is None:
        return x.reshape(x.shape[0], n, h, d).permute(1, 2, 0, 3)
    if static.ndim != 3 or static.shape[0] != n * h or static.shape[2] != d:
        raise AttentionShapeError(f"{op}: expecting {name} of shape ({n * h}, S, {d}), but got {tuple(static.shape)}")
    return static.reshape(n, h, static.shape[1], d)


def _mha_shape_check(q: Tensor, k: Tensor, v: Tensor, kpm: Tensor | None, mask: Tensor | None, num_heads: int,
                     op: str) -> bool:
    """Whether the inputs are batched (3-D) or unbatched (2-D), checking the masks' ranks against that."""
    if q.ndim not in (2, 3):
        raise AttentionShapeError(f"{op}: query should be unbatched 2D or batched 3D tensor but received {q.ndim}-D "
                                  f"query tensor")
    batched = q.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if k.ndim != q.ndim or v.ndim != q.ndim:
        raise AttentionShapeError(f"{op}: For {kind} `query`, expected `key` and `value` to be {q.ndim}-D but "
                                  f"found {k.ndim}-D and {v.ndim}-D tensors respectively")
    if kpm is not None and kpm.ndim != q.ndim - 1:
        raise AttentionShapeError(f"{op}: For {kind} `query`, expected `key_padding_mask` to be `None` "
                                  f"or {q.ndim - 1}-D but found {kpm.ndim}-D tensor instead")
    if mask is not None and mask.ndim not in (2, 3):
        raise AttentionShapeError(f"{op}: For {kind} `query`, expected `attn_mask` to be `None`, 2-D or "
                                  f"3-D but found {mask.ndim}-D tensor instead")
    if not batched and mask is not None and mask.ndim == 3 and \
            tuple(mask.shape) != (num_heads, q.shape[0], k.shape[0]):
        raise AttentionShapeError(f"{op}: Expected `attn_mask` shape to be "
                                  f"{(num_heads, q.shape[0], k.shape[0])} but got {tuple(mask.shape)}")
    return batched
