"""The module-level functions: `tinytorch.sin(x)`, `tinytorch.max(x, 1)`, `tinytorch.cat([a, b])`, ...

Takes: PyTorch's call forms. A function in METHODS takes the tensor first, then the method's arguments
(`tinytorch.atan2(y, x) == y.atan2(x)`, `tinytorch.sum(input=x, dim=0)`); a Python number as that
tensor becomes one on the device of the first tensor argument (`tinytorch.pow(2, x)`).
Produces: for each name in the one table METHODS, a function that calls the Tensor method of that name
and carries its docstring (so the two cannot differ); the functions of several tensors that are not
methods (cat, stack, einsum, where, ...) come from their topic files. tinytorch/__init__.py exports
FUNCTIONS. A name whose method does not exist yet raises AttributeError when called (never at import);
tests/test_api_namespace.py fails while any table name lacks its method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .tensor import Tensor

# Tensor methods also offered as tinytorch.<name>(input, *args, **kwargs), by topic file
METHODS: tuple[str, ...] = tuple("""
    abs absolute neg negative positive reciprocal sqrt rsqrt square exp exp2 expm1 log log2 log10 log1p
    sin cos tan asin acos atan arcsin arccos arctan sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh
    atan2 arctan2 hypot sigmoid logit erf erfc sign sgn signbit copysign trunc fix floor ceil round frac
    deg2rad rad2deg sinc xlogy pow float_power add sub subtract mul multiply div divide true_divide
    floor_divide fmod remainder maximum minimum fmax fmin clamp clip clamp_min clamp_max lerp addcmul addcdiv
    nan_to_num isclose allclose equal isnan isinf isfinite isposinf isneginf isreal heaviside
    logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not
    bitwise_left_shift bitwise_right_shift eq ne lt le gt ge greater greater_equal less less_equal not_equal
    relu selu celu rrelu prelu hardshrink threshold softmax log_softmax logsumexp
    gather scatter scatter_add scatter_reduce index_select index_add index_copy index_fill take take_along_dim
    masked_fill masked_select nonzero argwhere tril triu diag diagonal diag_embed roll repeat_interleave tile
    flip fliplr flipud rot90 movedim moveaxis swapaxes swapdims narrow select unbind unflatten flatten
    reshape permute transpose squeeze unsqueeze split tensor_split chunk broadcast_to
    bucketize unique bincount histc multinomial bernoulli atleast_1d atleast_2d atleast_3d
    sum prod mean nanmean nansum var std var_mean std_mean max min amax amin aminmax argmax argmin all any
    count_nonzero cumsum cumprod cummax cummin logcumsumexp
    sort argsort msort topk kthvalue median nanmedian mode quantile nanquantile
    matmul dot norm outer mm bmm mv vdot inner addmm addmv baddbmm addbmm addr tensordot dist diff trace cross
    numel is_floating_point clone detach zeros_like ones_like full_like empty_like rand_like randn_like
    t is_complex is_nonzero is_same_size is_signed get_device
""".split())


def _method_function(name: str) -> Callable[..., Any]:
    def fn(input: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(input, Tensor):
            like = next((a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)), None)
            if like is None or not isinstance(input, (bool, int, float)):
                raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
            input = Tensor(input, device=like.device)
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "tinytorch"
    fn.__doc__ = getattr(getattr(Tensor, name, None), "__doc__", None)
    return fn


def where(condition: Tensor, input: Any = None, other: Any = None) -> Any:
    """where(condition, input, other): input where condition is true, else other (broadcast together);
    where(condition): the indices of the true elements, one tensor per dim (nonzero(as_tuple=True))."""
    from .tensor import elementwise

    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(): expected where(condition) or where(condition, input, other)")
    cond = condition if isinstance(condition, Tensor) else Tensor(condition)
    return elementwise.where(cond, input, other)


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """True where an element of `elements` equals some element of `test_elements`:
    any_j(elements[..., None] == test_elements.flatten()[j]) (its negation with invert=True)."""
    like = elements if isinstance(elements, Tensor) else test_elements if isinstance(test_elements, Tensor) else None
    if like is None:
        raise TypeError("isin(): expected a Tensor as elements or test_elements")
    e = elements if isinstance(elements, Tensor) else Tensor(elements, device=like.device)
    t = test_elements if isinstance(test_elements, Tensor) else Tensor([test_elements], device=like.device)
    if t.numel() == 0:
        out = e.zeros_like(dtype="bool")
    else:
        out = (e.unsqueeze(-1) == t.reshape(-1)).any(-1)
    return out.logical_not() if invert else out


def compile_model(model: Any = None, **options: Any) -> Any:
    """tinytorch.compile(model): the model itself. Every tinytorch op is already compiled (kernels are
    fused and compiled when values are needed; tinytorch.jit also replays a whole step), so torch.compile's
    options have nothing to change; as a decorator without a model it returns the function unchanged."""
    return (lambda m: m) if model is None else model


def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-d as 1x1, 1-D as one row, 2-D as is) placed along the diagonal of one zero matrix:
    each is zero-padded to the full width at its column offset and the rows are concatenated."""
    from .dtype import promote
    from .tensor import movement

    if not tensors:
        return Tensor.zeros(1, 0)
    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    if any(m.ndim != 2 for m in mats):
        bad = next(t for t in tensors if t.ndim > 2)
        raise ValueError(f"block_diag: input tensors must have 2 or fewer dimensions, got one with {bad.ndim}")
    dt = mats[0].dtype
    for m in mats[1:]:
        dt = promote(dt, m.dtype)
    width = sum(m.shape[1] for m in mats)
    rows, col = [], 0
    for m in mats:
        rows.append(m.cast(dt).pad((col, width - col - m.shape[1])))
        col += m.shape[1]
    return movement.cat(rows, 0)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-r combinations of the elements of a 1-D tensor, one per row, in itertools' order
    (the index table depends only on len(input), so it is built on the host; the values are gathered)."""
    import itertools

    import numpy as np

    if input.ndim != 1:
        raise ValueError(f"combinations: expected a 1-D tensor, got shape {tuple(input.shape)}")
    if r == 0:
        return Tensor.empty(0, dtype=input.dtype, device=input.device)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    if idx.size == 0:
        return Tensor.empty(0, r, dtype=input.dtype, device=input.device)
    return input[Tensor(idx, device=input.device)]


def broadcast_shapes(*shapes: Any) -> Any:
    """The shape that tensors of these shapes broadcast to (a tinytorch.Size); raises if they do not."""
    from .tensor.common import _broadcast_shapes
    from .tensor.size import Size

    return Size(_broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes],
                                  op="broadcast_shapes"))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape (views, no copies)."""
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(*shape) for t in tensors)


def scalar_tensor(s: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding s, of the default float dtype unless dtype is given."""
    from .dtype import dtypes
    from .tensor.creation import tensor

    return tensor(float(s), dtype=dtype or dtypes.default_float, device=device, requires_grad=requires_grad)


def can_cast(from_: Any, to: Any) -> bool:
    """Whether PyTorch's casting rules allow from_ -> to: never to a lower category (float -> int, number -> bool)."""
    from .dtype import to_dtype

    def category(d: Any) -> int:
        dt = to_dtype(d)
        return 0 if dt.is_bool else 1 if dt.is_int else 2

    return category(from_) <= category(to)


def typename(obj: Any) -> str:
    """'tinytorch.FloatTensor'-style name of a tensor's type, else the type's name (as torch.typename)."""
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


def get_default_device() -> Any:
    """The device new tensors go to (tinytorch.device('cpu') is this device)."""
    from .tensor.device import as_device

    return as_device(None)


def set_default_device(device: Any) -> None:
    """Make new tensors go to `device` ("cpu", "C", "LLVM", "INTERP"), as setting DEVICE does."""
    from .helpers import DEVICE
    from .tensor.device import canonical

    DEVICE.value = canonical(device)


_SETTINGS = {"deterministic": False, "matmul_precision": "highest"}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Accepted and recorded: tinytorch's kernels already give the same result on every run."""
    _SETTINGS["deterministic"] = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    """What use_deterministic_algorithms last set (results are deterministic either way)."""
    return bool(_SETTINGS["deterministic"])


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted and recorded ("highest", "high", "medium"): float32 matmuls here always run in float32."""
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}")
    _SETTINGS["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    """What set_float32_matmul_precision last set ("highest" by default)."""
    return str(_SETTINGS["matmul_precision"])


def get_num_threads() -> int:
    """The number of threads a large kernel is split over (THREADS, default: the CPU count)."""
    from .helpers import num_threads

    return num_threads()


def set_num_threads(n: int) -> None:
    """Split large kernels over n threads from now on (kernels already compiled keep their split)."""
    from .helpers import THREADS

    if int(n) < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    THREADS.value = int(n)


def is_tensor(obj: Any) -> bool:
    """obj is a tinytorch Tensor (or a Parameter)."""
    return isinstance(obj, Tensor)


def _free_functions() -> dict[str, Callable[..., Any]]:
    """Functions of several tensors (not methods), from their topic files."""
    from .tensor import creation, einsum, movement, search

    out: dict[str, Callable[..., Any]] = {"where": where, "is_tensor": is_tensor, "isin": isin, "einsum": einsum.einsum,
                                          "compile": compile_model, "get_num_threads": get_num_threads,
                                          "set_num_threads": set_num_threads, "block_diag": block_diag,
                                          "combinations": combinations,
                                          "from_numpy": creation.from_numpy}
    for name in ("cat", "stack", "hstack", "vstack", "dstack", "column_stack", "meshgrid", "cartesian_prod"):
        out[name] = getattr(movement, name)
    out["concat"] = out["concatenate"] = movement.cat
    for name in ("searchsorted", "triu_indices", "tril_indices"):
        out[name] = getattr(search, name)
    from .nn import functional as F
    from .tensor.creation import as_tensor

    for name in ("cosine_similarity", "pairwise_distance", "layer_norm", "pdist", "conv1d", "conv2d", "conv3d",
                 "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "pixel_shuffle", "group_norm",
                 "max_pool1d", "max_pool2d", "avg_pool1d", "adaptive_avg_pool1d"):  # same signature in torch and F
        if hasattr(F, name):
            out[name] = getattr(F, name)
    out.update(broadcast_shapes=broadcast_shapes, broadcast_tensors=broadcast_tensors, scalar_tensor=scalar_tensor,
               can_cast=can_cast, row_stack=movement.vstack, asarray=as_tensor, typename=typename,
               get_default_device=get_default_device, set_default_device=set_default_device,
               use_deterministic_algorithms=use_deterministic_algorithms,
               are_deterministic_algorithms_enabled=are_deterministic_algorithms_enabled,
               set_float32_matmul_precision=set_float32_matmul_precision,
               get_float32_matmul_precision=get_float32_matmul_precision)
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {name: _method_function(name) for name in METHODS}
FUNCTIONS.update(_free_functions())
