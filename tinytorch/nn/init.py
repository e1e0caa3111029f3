"""`tinytorch.nn.init`: fill a tensor in place with values drawn like torch.nn.init does.

Takes: a Tensor (usually a Parameter) and the distribution's settings.
Produces: the same Tensor, overwritten eagerly (`tensor.assign(new).realize()` under no_grad),
so it keeps its identity (optimizers and modules holding it see the new values). Random values
come from tinytorch's generator (`tinytorch.manual_seed`). Gains and fans follow
torch.nn.init.calculate_gain and _calculate_fan_in_and_fan_out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..helpers import prod
from ..tensor import Tensor, _rng, no_grad

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_", "eye_"]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain: 1 (linear/conv/sigmoid), 5/3 (tanh), sqrt(2) (relu),
    sqrt(2 / (1 + slope^2)) (leaky_relu), 3/4 (selu)."""
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(shape: tuple[int, ...], op: str) -> tuple[int, int]:
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field"""
    if len(shape) < 2:
        raise ValueError(f"{op}: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
                         f"(got shape {shape})")
    receptive = prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: tuple[int, ...], mode: str, op: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape, op)
    return fan_in if mode == "fan_in" else fan_out


def _fill_(tensor: Tensor, value: Tensor, op: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    with no_grad():
        tensor.assign(value).realize()
    return tensor


def _float_check(tensor: Tensor, op: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.dtype.is_float:
        raise TypeError(f"{op}: expected a floating point tensor, got {tensor.dtype!r}")


# values without a target (Linear etc. build their parameters from these: no kernel runs) -----------------
def uniform_value(shape: tuple[int, ...], a: float, b: float, dtype: Any = None, device: str | None = None) -> Tensor:
    """U(a, b) of the given shape"""
    return Tensor.uniform(*shape, low=a, high=b, dtype=dtype, device=device)


def kaiming_uniform_bound(shape: tuple[int, ...], a: float = 0.0, mode: str = "fan_in",
                          nonlinearity: str = "leaky_relu") -> float:
    """sqrt(3) * gain / sqrt(fan)"""
    fan = _fan(shape, mode, "kaiming_uniform_")
    if fan == 0:
        return 0.0
    return math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)


# in-place initialisers ---------------------------------------------------------------------------------
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """x ~ U(a, b)"""
    _float_check(tensor, "uniform_")
    return _fill_(tensor, uniform_value(tensor.shape, a, b, tensor.dtype, tensor.device), "uniform_")


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """x ~ N(mean, std^2)"""
    _float_check(tensor, "normal_")
    return _fill_(tensor, Tensor.normal(*tensor.shape, mean=mean, std=std, dtype=tensor.dtype, device=tensor.device),
                  "normal_")


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Tensor:
    """x ~ N(mean, std^2) conditioned on a <= x <= b (rejection sampling; values still outside after
    64 rounds, possible only for a window far in a tail, are clipped)"""
    _float_check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    rng = _rng[0]
    vals = rng.normal(mean, std, tensor.shape)
    for _ in range(64):
        bad = (vals < a) | (vals > b)
        if not bad.any():
            break
        vals[bad] = rng.normal(mean, std, int(bad.sum()))
    vals = np.clip(vals, a, b)
    return _fill_(tensor, Tensor(vals, dtype=tensor.dtype, device=tensor.device), "trunc_normal_")


def constant_(tensor: Tensor, val: float) -> Tensor:
    """x = val"""
    return _fill_(tensor, Tensor.full(tensor.shape, val, dtype=tensor.dtype, device=tensor.device), "constant_")


def zeros_(tensor: Tensor) -> Tensor:
    """x = 0"""
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """x = 1"""
    return constant_(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """x = I (2-D tensors only)"""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape {tensor.shape}")
    n, m = tensor.shape
    return _fill_(tensor, Tensor.eye(n, m, dtype=tensor.dtype, device=tensor.device), "eye_")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """x ~ U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))"""
    _float_check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor.shape, "xavier_uniform_")
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """x ~ N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))"""
    _float_check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor.shape, "xavier_normal_")
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """x ~ U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)"""
    _float_check(tensor, "kaiming_uniform_")
    bound = kaiming_uniform_bound(tensor.shape, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """x ~ N(0, std^2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)"""
    _float_check(tensor, "kaiming_normal_")
    fan = _fan(tensor.shape, mode, "kaiming_normal_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0
    return normal_(tensor, 0.0, std)
