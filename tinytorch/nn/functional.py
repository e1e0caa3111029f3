"""`tinytorch.nn.functional`: activations, dropout, linear and the losses, as functions of Tensors.

Takes: Tensors (inputs, class-index or probability targets, optional per-class weights).
Produces: lazy Tensors built only from Tensor ops, so every function here differentiates and fuses
like any other expression. The losses follow PyTorch's documented formulas, including
`reduction` ('none' | 'mean' | 'sum'), `ignore_index`, `label_smoothing`, `weight`, `pos_weight`.
Bad shapes and dtypes raise at the call with the op's name, the shapes and what would have fit.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..dtype import dtypes
from ..errors import DTypeError, TensorValueError
from ..tensor import Tensor
from ..tensor.composite import composite

__all__ = ["relu", "gelu", "sigmoid", "tanh", "silu", "softmax", "log_softmax", "leaky_relu", "dropout", "linear",
           "mse_loss", "l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "one_hot", "softplus", "elu", "logsigmoid", "relu6", "hardtanh",
           "hardsigmoid", "hardswish", "selu", "celu", "mish", "softsign", "softmin", "tanhshrink", "softshrink",
           "hardshrink", "threshold", "glu", "prelu", "rrelu"]


# activations ------------------------------------------------------------------------------------
def _result(x: Tensor, out: Tensor, inplace: bool, op: str) -> Tensor:
    """inplace=True writes the result into x and returns x, as PyTorch (raising for a leaf that requires grad)."""
    if not inplace:
        return out
    write = getattr(x, "_inplace", None)
    return write(out, op) if write is not None else x.assign(out.cast(x.dtype))


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)"""
    return _result(x, x.relu(), inplace, "relu_")


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)"""
    return _result(x, x.relu6(), inplace, "relu6_")


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val) (slope 1 strictly inside, 0 elsewhere)"""
    return _result(x, x.hardtanh(min_val, max_val), inplace, "hardtanh_")


def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6"""
    return _result(x, x.hardsigmoid(), inplace, "hardsigmoid_")


def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6"""
    return _result(x, x.hardswish(), inplace, "hardswish_")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (approximate='tanh': 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))))"""
    return x.gelu(approximate)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x)"""
    return x.sigmoid()


def hardshrink(x: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0"""
    return x.hardshrink(lambd)


def softshrink(x: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd*sign(x) where |x| > lambd, else 0"""
    return x.softshrink(lambd)


def tanhshrink(x: Tensor) -> Tensor:
    """x - tanh(x)"""
    return x.tanhshrink()


def tanh(x: Tensor) -> Tensor:
    """(e^x - e^-x) / (e^x + e^-x)"""
    return x.tanh()


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)"""
    return _result(x, x.silu(), inplace, "silu_")


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))"""
    return _result(x, x.mish(), inplace, "mish_")


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (e^x - 1)"""
    return _result(x, x.elu(alpha), inplace, "elu_")


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    """1.0507009873554805 * (x if x > 0 else 1.6732632423543772 * (e^x - 1))"""
    return _result(x, x.selu(), inplace, "selu_")


def celu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (e^(x/alpha) - 1)"""
    return _result(x, x.celu(alpha), inplace, "celu_")


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta (x where beta x > threshold)"""
    return x.softplus(beta, threshold)


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)"""
    return x.softsign()


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|)"""
    return x.logsigmoid()


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x"""
    return _result(x, x.leaky_relu(negative_slope), inplace, "leaky_relu_")


def threshold(x: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x if x > threshold else value"""
    return _result(x, x.threshold(threshold, value), inplace, "threshold_")


def rrelu(x: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """x if x >= 0 else a*x, a ~ U(lower, upper) in training, (lower + upper)/2 in eval"""
    return _result(x, x.rrelu(lower, upper, training), inplace, "rrelu_")


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else weight * x (weight: one value, or one per channel of dim 1)"""
    if weight.dtype != x.dtype:
        raise DTypeError(f"prelu: Type promoting not supported. Got {x.dtype!r} and {weight.dtype!r}")
    return x.prelu(weight)


def glu(x: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), a and b the two halves of x along dim"""
    return x.glu(dim)


def _softmax_dim(ndim: int, dim: int | None, op: str) -> int:
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1  # PyTorch's legacy rule


def softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """e^(x_i - max x) / sum_j e^(x_j - max x)"""
    return x.softmax(_softmax_dim(x.ndim, dim, "softmax"), dtype=dtype)


def softmin(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-x) along dim"""
    return x.softmin(_softmax_dim(x.ndim, dim, "softmin"), dtype=dtype)


def log_softmax(x: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """x_i - log(sum_j e^(x_j))"""
    return x.log_softmax(_softmax_dim(x.ndim, dim, "log_softmax"), dtype=dtype)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """x * m / (1 - p) with m ~ Bernoulli(1 - p) when training; x unchanged otherwise."""
    if not 0.0 <= p <= 1.0:
        raise TensorValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0
    # drawn by kernels from a device-side counter, so a step replayed by the JIT draws a new mask
    keep = Tensor.rand_graph(*x.shape, device=x.device) >= p  # P(rand < p) = p is the drop probability
    return keep._where(x * (1.0 / (1.0 - p)), 0)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b, with x (..., in), W (out, in), b (out,) -> (..., out)"""
    if weight.ndim != 2:
        raise TensorValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise TensorValueError(f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                         f"(the input's last dim must be in_features={weight.shape[1]})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise TensorValueError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape} "
                         f"(expected ({weight.shape[0]},))")
    return x.linear(weight, bias)


def one_hot(target: Tensor, num_classes: int = -1) -> Tensor:
    """(..., ) int64 class indices -> (..., num_classes) int64 with a 1 at each index"""
    if not target.dtype.is_int:
        raise DTypeError(f"one_hot: expected an integer tensor of class indices, got {target.dtype!r} (one_hot is "
                         f"only applicable to index tensor of type LongTensor.)")
    if target.dtype != dtypes.int64:  # PyTorch takes only int64 class indices here
        raise DTypeError(f"one_hot is only applicable to index tensor of type LongTensor. (got {target.dtype!r}; "
                         f"convert with .long())")
    # the classes are checked on the host, like PyTorch: a bad class would give a zero row otherwise
    v = target.numpy()
    if v.size == 0 and num_classes < 0:
        raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
    if v.size and int(v.min()) < 0:
        raise RuntimeError(f"one_hot: Class values must be non-negative. (got class {int(v.min())})")
    if num_classes < 0:
        num_classes = int(v.max()) + 1
    elif v.size and int(v.max()) >= num_classes:
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes. (got class {int(v.max())}, "
                           f"num_classes={num_classes})")
    return (target.unsqueeze(-1) == Tensor.arange(num_classes, device=target.device)).cast(dtypes.int64)


# losses -----------------------------------------------------------------------------------------------
_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise TensorValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected one of {_REDUCTIONS})")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise TensorValueError(
            f"{op}: {reduction!r} is not a valid value for reduction (expected one of {_REDUCTIONS})")


def _as_float_pair(input: Tensor, target: Any, op: str, same_shape: bool = False) -> tuple[Tensor, Tensor]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype, device=input.device)
    if not input.dtype.is_float:
        raise DTypeError(f"{op}: input must be a floating point tensor, got {input.dtype!r}")
    if same_shape and target.shape != input.shape:
        raise TensorValueError(f"{op}: target of shape {target.shape} must have the input's shape {input.shape}")
    if target.shape != input.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise TensorValueError(f"{op}: target of shape {target.shape} does not match input of shape {input.shape} "
                             "(they must have the same shape)") from None
        warnings.warn(f"{op}: using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)
    if not target.dtype.is_float:
        target = target.cast(input.dtype)
    return input, target


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """(x - y)^2, reduced"""
    _check_reduction(reduction, "mse_loss")
    input, target = _as_float_pair(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|x - y|, reduced"""
    _check_reduction(reduction, "l1_loss")
    input, target = _as_float_pair(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def _check_class_target(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                        op: str) -> tuple[int, int]:
    """Validate (N, C, d...) or (C,) input with (N, d...) or () integer target; returns (class dim, C)."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(input).__name__} and "
                        f"{type(target).__name__}")
    if not input.dtype.is_float:
        raise DTypeError(f"{op}: input must be a floating point tensor of shape (N, C) or (N, C, d1, ...), "
                        f"got {input.dtype!r}")
    if not target.dtype.is_int:
        raise DTypeError(f"{op}: expected class indices in an integer tensor (int64) as target, got {target.dtype!r} "
                        f"(for class probabilities pass a float target of the input's shape {input.shape})")
    if input.ndim == 0:
        raise TensorValueError(f"{op}: input must have at least 1 dim (C,) or (N, C, ...), got a 0-d tensor")
    cdim = 0 if input.ndim == 1 else 1
    expected = () if input.ndim == 1 else (input.shape[0], *input.shape[2:])
    if target.shape != expected:
        raise TensorValueError(f"{op}: target of shape {target.shape} does not fit input of shape {input.shape} "
                         f"(expected target shape {expected}: the input without its class dim {cdim})")
    n_classes = input.shape[cdim]
    if weight is not None and (not isinstance(weight, Tensor) or weight.shape != (n_classes,)):
        raise TensorValueError(f"{op}: weight must be a Tensor of shape ({n_classes},) (one per class), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    if target.numel():  # checked on the host, also when not yet computed (a bad class would read nothing)
        t = target.numpy()
        bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
        if bad.any():
            v = int(t[bad].flat[0])
            raise IndexError(f"{op}: Target {v} is out of bounds. (target {v} is out of bounds for {n_classes} "
                             f"classes: expected 0 <= target < {n_classes}, or ignore_index={ignore_index})")
    return cdim, n_classes


def _class_view(v: Tensor, ndim: int, cdim: int) -> Tensor:
    """(C,) -> shape broadcastable along the class dim of an ndim input: (1, C, 1, ...)"""
    return v.reshape(*[v.shape[0] if i == cdim else 1 for i in range(ndim)])


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-w_{y_n} x_{n, y_n}; 'mean' divides by sum_n w_{y_n} over non-ignored n"""
    _check_reduction(reduction, "nll_loss")
    cdim, n_classes = _check_class_target(input, target, weight, ignore_index, "nll_loss")
    return _nll(input, target, weight, ignore_index, reduction, cdim, n_classes)


@composite  # (built once per shapes and settings, then by substitution: a training loop's loss every step)
def _nll(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str, cdim: int,
         n_classes: int) -> Tensor:
    classes = _class_view(Tensor.arange(n_classes, device=logp.device), logp.ndim, cdim)  # (1, C, 1, ...)
    hit = target.unsqueeze(cdim) == classes  # (N, C, d...) one-hot of the target
    keep = target != ignore_index  # (N, d...)
    picked = hit._where(logp, 0).sum(cdim)  # (N, d...) x_{n, y_n}; where() keeps -inf of other classes out
    w = keep.cast(logp.dtype)
    if weight is not None:
        w = w * hit._where(_class_view(weight.cast(logp.dtype), logp.ndim, cdim), 0).sum(cdim)  # w_{y_n}
    loss = -(picked * w)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """(1-e) nll(log_softmax(x), y) + (e/C) * (-sum_c w_c log_softmax(x)_c), with e = label_smoothing

    For class-index targets the smoothing term is masked by ignore_index and, for 'mean', divided by
    the same denominator as the nll term (sum of w_{y_n}, or the count of non-ignored targets).
    A float target of the input's shape holds class probabilities: -sum_c w_c t'_c log p_c with
    t' = (1-e) t + e/C, and 'mean' divides by the number of samples.
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise TensorValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if isinstance(target, Tensor) and target.dtype.is_float:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    cdim, n_classes = _check_class_target(input, target, weight, ignore_index, op)
    logp = input.log_softmax(cdim)  # (N, C, d...)
    nll = _nll(logp, target, weight, ignore_index, reduction, cdim, n_classes)
    if label_smoothing == 0.0:
        return nll
    wl = logp * _class_view(weight.cast(logp.dtype), logp.ndim, cdim) if weight is not None else logp
    keep = target != ignore_index  # (N, d...)
    smooth = keep._where(-wl.sum(cdim), 0)  # (N, d...)
    if reduction == "none":
        ret = smooth
    elif reduction == "sum":
        ret = smooth.sum()
    elif weight is not None:
        classes = _class_view(Tensor.arange(n_classes, device=logp.device), logp.ndim, cdim)
        wy = (target.unsqueeze(cdim) == classes)._where(_class_view(weight.cast(logp.dtype), logp.ndim, cdim), 0)
        ret = smooth.sum() / keep._where(wy.sum(cdim), 0).sum()
    else:
        ret = smooth.sum() / keep.cast(logp.dtype).sum()
    return (1 - label_smoothing) * nll + ret * (label_smoothing / n_classes)


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                         label_smoothing: float) -> Tensor:
    op = "cross_entropy"
    if not input.dtype.is_float:
        raise DTypeError(f"{op}: input must be a floating point tensor, got {input.dtype!r}")
    if target.shape != input.shape:
        raise TensorValueError(f"{op}: a float target holds class probabilities and must have the input's shape "
                         f"{input.shape}, got {target.shape} (for class indices use an int64 target)")
    if input.ndim == 0:
        raise TensorValueError(f"{op}: input must have at least 1 dim (C,) or (N, C, ...), got a 0-d tensor")
    cdim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[cdim]
    if weight is not None and (not isinstance(weight, Tensor) or weight.shape != (n_classes,)):
        raise TensorValueError(f"{op}: weight must be a Tensor of shape ({n_classes},), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    logp = input.log_softmax(cdim)
    t = target.cast(logp.dtype)
    if label_smoothing > 0:
        t = t * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * t
    if weight is not None:
        prod = prod * _class_view(weight.cast(logp.dtype), logp.ndim, cdim)
    loss = -prod.sum(cdim)  # (N, d...)
    if reduction == "mean":
        return loss.sum() / (input.numel() // n_classes if input.numel() else 1)
    return _reduce(loss, reduction, op)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-w (y max(log x, -100) + (1 - y) max(log(1 - x), -100))"""
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    input, target = _as_float_pair(input, target, op, same_shape=True)
    log_x = input.log().maximum(-100.0)
    log_1mx = (1 - input).log().maximum(-100.0)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * _broadcast_weight(weight, input, op)
    return _reduce(loss, reduction, op)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """-w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) = w ((1 - y) x + (1 + (p - 1) y) softplus(-x))

    Evaluated per sign of x so that nothing cancels: x >= 0: (1 - y) x + l softplus(-x);
    x < 0: -p y x + l softplus(x), with l = 1 + (p - 1) y (both softplus terms are then log1p(e^-|x|)).
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    input, target = _as_float_pair(input, target, op, same_shape=True)
    x, y = input, target
    if pos_weight is not None:
        p = _broadcast_weight(pos_weight, input, op, "pos_weight")
        lw = 1 + (p - 1) * y
        loss = (x >= 0)._where((1 - y) * x + lw * (-x).softplus(), -(p * y) * x + lw * x.softplus())
    else:
        loss = (x >= 0)._where((1 - y) * x + (-x).softplus(), -y * x + x.softplus())
    if weight is not None:
        loss = loss * _broadcast_weight(weight, input, op)
    return _reduce(loss, reduction, op)


def _broadcast_weight(w: Any, input: Tensor, op: str, name: str = "weight") -> Tensor:
    if not isinstance(w, Tensor):
        w = Tensor(w, dtype=input.dtype, device=input.device)
    try:
        shape = tuple(np.broadcast_shapes(w.shape, input.shape))
    except ValueError:
        shape = None
    if shape != input.shape:
        raise TensorValueError(f"{op}: {name} of shape {w.shape} does not broadcast to the input's shape {input.shape}")
    return w.cast(input.dtype) if w.dtype != input.dtype else w


# embedding, layer_norm, bilinear, normalize, distances and more losses live in functional_extra.py
from .functional_extra import *  # noqa: E402, F403
from .functional_extra import __all__ as _extra_all  # noqa: E402

__all__ += _extra_all

# pooling, batch/group/instance norm, interpolate and channel dropout live in functional_pool.py
from .functional_pool import *  # noqa: E402, F403
from .functional_pool import __all__ as _pool_all  # noqa: E402

__all__ += _pool_all

# convolutions, transposed convolutions, pad (all modes), unfold and fold live in functional_conv.py
from .functional_conv import *  # noqa: E402, F403
from .functional_conv import __all__ as _conv_all  # noqa: E402

__all__ += _conv_all

# rms_norm, scaled_dot_product_attention and multi_head_attention_forward live in functional_attention.py
from .functional_attention import *  # noqa: E402, F403
from .functional_attention import __all__ as _attention_all  # noqa: E402

__all__ += _attention_all
