"""Module-level functions (tinytorch.sin, tinytorch.atan2, tinytorch.clamp, tinytorch.relu, ...) for the
elementwise math, comparisons and activations.

Takes: the input first, then the method's arguments (torch.atan2(y, x) == y.atan2(x)); a Python number as
the input becomes a tensor on the device of the first tensor argument (torch.pow(2, x)).
Produces: the same lazy tensors as the Tensor methods; each function is generated from the table METHODS
and calls the method of that name. allclose and equal return Python bools, as PyTorch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import Tensor

# Tensor methods also offered as tinytorch.<name>(input, *args, **kwargs)
METHODS = ("abs absolute neg negative positive reciprocal sqrt rsqrt square exp exp2 expm1 log log2 log10 log1p "
           "sin cos tan asin acos atan arcsin arccos arctan sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh "
           "atan2 arctan2 hypot sigmoid logit erf erfc sign sgn signbit copysign trunc fix floor ceil round frac "
           "deg2rad rad2deg sinc xlogy pow float_power add sub subtract mul multiply div divide true_divide "
           "floor_divide fmod remainder maximum minimum fmax fmin clamp clip clamp_min clamp_max lerp addcmul addcdiv "
           "nan_to_num isclose allclose equal isnan isinf isfinite isposinf isneginf isreal heaviside logical_and "
           "logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift "
           "bitwise_right_shift eq ne lt le gt ge greater greater_equal less less_equal not_equal relu selu celu "
           "rrelu prelu hardshrink threshold softmax log_softmax").split()


def _method_function(name: str) -> Callable[..., Any]:
    method = getattr(Tensor, name)

    def fn(input: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(input, Tensor):
            like = next((a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)), None)
            if like is None or not isinstance(input, (bool, int, float)):
                raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
            input = Tensor(input, device=like.device)
        return method(input, *args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = method.__doc__
    return fn


FUNCTIONS: dict[str, Callable[..., Any]] = {name: _method_function(name) for name in METHODS if hasattr(Tensor, name)}
