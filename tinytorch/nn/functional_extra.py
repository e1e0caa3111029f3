"""More of `tinytorch.nn.functional`: embedding, layer_norm, bilinear, normalize, distances and losses.

Takes: Tensors (inputs, targets, weights) and PyTorch's keyword settings.
Produces: lazy Tensors built only from Tensor ops (so they differentiate and fuse like any other
expression), with PyTorch's formulas, `reduction` ('none' | 'mean' | 'sum') and errors. Everything
here is re-exported by `tinytorch.nn.functional`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..dtype import dtypes
from ..errors import DTypeError, TensorValueError
from ..jit import check_on_replay
from ..tensor import Tensor

__all__ = ["embedding", "layer_norm", "bilinear", "normalize", "cosine_similarity", "pairwise_distance",
           "smooth_l1_loss", "huber_loss", "kl_div", "cosine_embedding_loss", "margin_ranking_loss",
           "soft_margin_loss", "hinge_embedding_loss", "poisson_nll_loss", "gaussian_nll_loss",
           "triplet_margin_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise TensorValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected one of "
                               f"{_REDUCTIONS})")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def _tensor(x: Any, op: str, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _float(x: Any, op: str, name: str = "input") -> Tensor:
    x = _tensor(x, op, name)
    if not x.dtype.is_float:
        raise DTypeError(f"{op}: {name} must be a floating point tensor, got {x.dtype!r}")
    return x


def _dim(dim: int, ndim: int, op: str) -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
                         f"{max(ndim, 1) - 1}], but got {dim})")
    return dim % max(ndim, 1)


def _pair(a: Tensor, b: Tensor, op: str) -> tuple[Tensor, Tensor]:
    """a and b broadcast to one shape (PyTorch's rule), or a TensorValueError naming both shapes."""
    if a.shape == b.shape:
        return a, b
    try:
        return _broadcast(a, b)
    except (ValueError, RuntimeError):
        raise TensorValueError(f"{op}: the shapes {a.shape} and {b.shape} do not broadcast") from None


def _broadcast(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    nd = max(a.ndim, b.ndim)
    sa, sb = (1,) * (nd - a.ndim) + a.shape, (1,) * (nd - b.ndim) + b.shape
    out = []
    for x, y in zip(sa, sb):
        if x != y and 1 not in (x, y):
            raise ValueError("shapes do not broadcast")
        out.append(y if x == 1 else x)
    return a.reshape(*sa).expand(*out), b.reshape(*sb).expand(*out)


def _safe_sqrt(s: Tensor) -> Tensor:
    """sqrt(s) for s >= 0 whose gradient at s = 0 is 0 (PyTorch's norm subgradient), not inf * 0 = nan."""
    pos = s > 0
    return pos._where(pos._where(s, 1).sqrt(), 0)


def _vector_norm(x: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    """(sum_i |x_i|^p)^(1/p) over dim; p = inf is max |x_i|, p = 0 counts the non-zeros."""
    if p == 2:
        return _safe_sqrt((x * x).sum(dim, keepdim=keepdim))
    if p == 1:
        return x.abs().sum(dim, keepdim=keepdim)
    if p == math.inf or p == -math.inf:
        a = x.abs() if p > 0 else -x.abs()
        m = a.max(dim=dim, keepdim=keepdim)
        m = m[0] if isinstance(m, tuple) else m
        return m if p > 0 else -m
    if p == 0:
        return (x != 0).cast(x.dtype).sum(dim, keepdim=keepdim)
    s = (x.abs() ** p).sum(dim, keepdim=keepdim)
    pos = s > 0
    return pos._where(pos._where(s, 1) ** (1.0 / p), 0)


# layers as functions --------------------------------------------------------------------------------
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """weight[input]: rows of the (num_embeddings, dim) table for int indices (...) -> (..., dim);
    the row at padding_idx gets no gradient"""
    op = "embedding"
    input, weight = _tensor(input, op), _tensor(weight, op, "weight")
    if not input.dtype.is_int:
        raise DTypeError(f"{op}: Expected tensor for argument #1 'indices' to have an integer dtype (Long or Int), "
                         f"but got {input.dtype!r}")
    if weight.ndim != 2:
        raise TensorValueError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    if max_norm is not None:
        raise NotImplementedError(f"{op}: max_norm (renormalizing rows in place) is not supported")
    if scale_grad_by_freq:
        raise NotImplementedError(f"{op}: scale_grad_by_freq is not supported")
    n = weight.shape[0]
    if input.numel():  # checked on the host, like every tensor index: a bad one never reads outside the table
        def check(v: Any) -> None:
            if v.min() < 0 or v.max() >= n:
                bad = int(v.min()) if v.min() < 0 else int(v.max())
                raise IndexError(f"{op}: index {bad} is out of range for a table of {n} embeddings "
                                 f"(expected 0 <= index < {n})")
        check(input.numpy())
        check_on_replay(input, check)  # a jitted step checks each new batch of indices too
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise TensorValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings {n}")
        padding_idx %= n
        is_pad = (Tensor.arange(n, device=weight.device) == padding_idx).reshape(n, 1)
        weight = is_pad._where(weight.detach(), weight)  # the padding row is read but never trained
    # a one-hot gather, always lazy (weight[input] copies a big gather of a frozen table on the host, which
    # a jitted step would replay as a constant): out[..., d] = sum_k (input[...] == k) * weight[k, d],
    # laid out (index, k, d) so that the table's gradient is a (k, d) reduce over the indices: the shape
    # of a matmul, vectorized along d
    idx = input.cast(dtypes.int32) if n < 2**31 else input
    d = weight.shape[1]
    onehot = idx.reshape(-1, 1, 1) == Tensor.arange(n, dtype=idx.dtype, device=weight.device).reshape(1, n, 1)
    out = onehot._where(weight.reshape(1, n, d), 0).sum(1, dtype=weight.dtype)  # (N, n, 1) x (1, n, d) -> (N, d)
    return out.reshape(*input.shape, d)


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims (biased var)"""
    op = "layer_norm"
    x = _float(input, op)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise TensorValueError(f"{op}: Given normalized_shape={list(shape)}, expected input with shape "
                               f"[*, {', '.join(map(str, shape))}], but got input of size {list(x.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise TensorValueError(f"{op}: {name} of shape {p.shape} must have normalized_shape {shape}")
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axes, keepdim=True)
    d = x - mean
    var = (d * d).mean(axes, keepdim=True)
    y = d * (var + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T A_k x2 + b_k with x1 (..., in1), x2 (..., in2), A (out, in1, in2) -> (..., out)"""
    op = "bilinear"
    x1, x2, w = _float(input1, op, "input1"), _float(input2, op, "input2"), _float(weight, op, "weight")
    if w.ndim != 3:
        raise TensorValueError(f"{op}: weight must be 3-D (out, in1, in2), got shape {w.shape}")
    out, in1, in2 = w.shape
    if x1.ndim == 0 or x1.shape[-1] != in1 or x2.ndim == 0 or x2.shape[-1] != in2 or x1.shape[:-1] != x2.shape[:-1]:
        raise TensorValueError(f"{op}: inputs of shapes {x1.shape} and {x2.shape} do not fit weight {w.shape} "
                               f"(expected (..., {in1}) and (..., {in2}) with the same leading dims)")
    if bias is not None and tuple(bias.shape) != (out,):
        raise TensorValueError(f"{op}: bias of shape {bias.shape} must be ({out},)")
    t = x1.matmul(w.permute(1, 0, 2).reshape(in1, out * in2)).reshape(*x1.shape[:-1], out, in2)  # x1 A_k
    y = (t * x2.unsqueeze(-2)).sum(-1)  # (..., out)
    return y + bias if bias is not None else y


# norms and distances ------------------------------------------------------------------------------
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """x / max(||x||_p, eps) along dim"""
    op = "normalize"
    if out is not None:
        raise NotImplementedError(f"{op}: out= is not supported; use the returned tensor")
    x = _float(input, op)
    d = _dim(dim, x.ndim, op)
    if x.ndim == 0:
        return x / _vector_norm(x.reshape(1), p, 0, False).maximum(eps)
    return x / _vector_norm(x, p, d, True).maximum(eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along dim (inputs broadcast)"""
    op = "cosine_similarity"
    a, b = _pair(_float(x1, op, "x1"), _float(x2, op, "x2"), op)
    d = _dim(dim, a.ndim, op)
    n1 = _vector_norm(a, 2, d, True).maximum(eps)
    n2 = _vector_norm(b, 2, d, True).maximum(eps)
    return ((a / n1) * (b / n2)).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim"""
    op = "pairwise_distance"
    a, b = _pair(_float(x1, op, "x1"), _float(x2, op, "x2"), op)
    if a.ndim == 0:
        raise TensorValueError(f"{op}: inputs must have at least 1 dim, got 0-d tensors")
    return _vector_norm(a - b + eps, p, a.ndim - 1, keepdim)


# losses ------------------------------------------------------------------------------------------
def _loss_pair(input: Any, target: Any, op: str) -> tuple[Tensor, Tensor]:
    x = _float(input, op)
    t = target if isinstance(target, Tensor) else Tensor(target, dtype=x.dtype, device=x.device)
    if not t.dtype.is_float:
        t = t.cast(x.dtype)
    if t.shape != x.shape:
        x, t = _pair(x, t, op)
    return x, t


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, with d = x - y (beta = 0 gives |d|)"""
    op = "smooth_l1_loss"
    _check_reduction(reduction, op)
    if beta < 0:
        raise TensorValueError(f"{op}: smooth_l1_loss does not support negative values for beta, got {beta}")
    x, t = _loss_pair(input, target, op)
    d = (x - t).abs()
    loss = d if beta == 0 else (d < beta)._where(0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta), with d = x - y"""
    op = "huber_loss"
    _check_reduction(reduction, op)
    if delta <= 0:
        raise TensorValueError(f"{op}: huber_loss does not support non-positive values for delta, got {delta}")
    x, t = _loss_pair(input, target, op)
    d = (x - t).abs()
    loss = (d <= delta)._where(0.5 * d * d, delta * (d - 0.5 * delta))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """y (log y - x) for log-probabilities x (0 where y = 0), or e^y (y - x) with log_target;
    'batchmean' divides the sum by the batch size"""
    op = "kl_div"
    if reduction not in (*_REDUCTIONS, "batchmean"):
        raise TensorValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected one of "
                               f"{(*_REDUCTIONS, 'batchmean')})")
    x, t = _loss_pair(input, target, op)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        zero = t == 0
        loss = zero._where(0, t * zero._where(1, t).log()) - t * x  # y log y: 0 at y = 0, NaN below as PyTorch
    if reduction == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (cos along the last dim)"""
    op = "cosine_embedding_loss"
    _check_reduction(reduction, op)
    a, b = _float(input1, op, "input1"), _float(input2, op, "input2")
    y = _tensor(target, op, "target")
    if a.shape != b.shape or a.ndim not in (1, 2) or y.shape != a.shape[:-1]:
        raise TensorValueError(f"{op}: expected input1 and input2 of one shape (N, D) or (D,) and target (N,) or (), "
                               f"got {a.shape}, {b.shape} and {y.shape}")
    eps = 1e-12
    dot = (a * b).sum(-1)
    mag = ((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps)
    cos = dot / mag.sqrt()
    loss = (y == 1)._where(1 - cos, 0) + (y == -1)._where((cos - margin).maximum(0), 0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin)"""
    op = "margin_ranking_loss"
    _check_reduction(reduction, op)
    a, b = _float(input1, op, "input1"), _float(input2, op, "input2")
    y = _tensor(target, op, "target")
    if not (a.ndim == b.ndim == y.ndim):
        raise TensorValueError(f"{op}: All input tensors should have same dimension but got sizes: input1: "
                               f"{a.shape}, input2: {b.shape}, target: {y.shape}")
    return _reduce((-y * (a - b) + margin).maximum(0), reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + e^(-y x))"""
    op = "soft_margin_loss"
    _check_reduction(reduction, op)
    x, t = _loss_pair(input, target, op)
    return _reduce((-t * x).softplus(), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1 (the sum of both for other y, as PyTorch)"""
    op = "hinge_embedding_loss"
    _check_reduction(reduction, op)
    x, t = _loss_pair(input, target, op)
    # PyTorch's form, which also defines targets other than +-1: both terms apply to them
    loss = (t != -1)._where(x, 0) + (t != 1)._where((margin - x).maximum(0), 0)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Any = None, eps: float = 1e-8, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """e^x - y x (log_input) or x - y log(x + eps); full adds Stirling's y log y - y + 0.5 log(2 pi y) for y > 1"""
    op = "poisson_nll_loss"
    _check_reduction(reduction, op)
    x, t = _loss_pair(input, target, op)
    loss = x.exp() - t * x if log_input else x - t * (x + eps).log()
    if full:
        big = t > 1
        ts = big._where(t, 2)
        loss = loss + big._where(ts * ts.log() - ts + 0.5 * (2 * math.pi * ts).log(), 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log(max(var, eps)) + (x - y)^2 / max(var, eps)) (+ 0.5 log(2 pi) when full)"""
    op = "gaussian_nll_loss"
    _check_reduction(reduction, op)
    x, t = _loss_pair(input, target, op)
    v = var if isinstance(var, Tensor) else Tensor.full(x.shape, float(var), dtype=x.dtype, device=x.device)
    if v.shape != x.shape:
        if v.shape == x.shape[:-1] or (v.ndim == x.ndim and v.shape[-1] == 1 and v.shape[:-1] == x.shape[:-1]):
            v = v.reshape(*x.shape[:-1], 1) if v.ndim == x.ndim - 1 else v
        else:
            raise TensorValueError(f"{op}: var of shape {v.shape} does not fit input of shape {x.shape}")
    if (v.numpy() < 0).any():
        raise TensorValueError(f"{op}: var has negative entry/entries")
    v = v.detach().maximum(eps) - v.detach() + v  # clamped like PyTorch's no-grad clamp: the gradient passes
    loss = 0.5 * (v.log() + (x - t) * (x - t) / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d = pairwise_distance (swap: d(a, n) -> min(d(a, n), d(p, n)))"""
    op = "triplet_margin_loss"
    _check_reduction(reduction, op)
    a, pos, neg = _float(anchor, op, "anchor"), _float(positive, op, "positive"), _float(negative, op, "negative")
    if not (a.ndim == pos.ndim == neg.ndim) or a.ndim not in (1, 2):
        raise TensorValueError(f"{op}: anchor, positive and negative must all be 1-D or all 2-D, got {a.shape}, "
                               f"{pos.shape} and {neg.shape}")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(pos, neg, p, eps))
    return _reduce((d_pos - d_neg + margin).maximum(0), reduction)
