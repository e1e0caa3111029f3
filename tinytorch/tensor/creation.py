"""Tensor factories: constants, ranges, identity, and random tensors drawn on the host or in the graph."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import check_fits, dtypes, to_dtype
from ..errors import TensorValueError
from ..helpers import prod
from ..ops.uop import Ops, UOp
from ..runtime.buffer import Buffer
from .common import _check_device, _check_numel, _const_uop, _default_device, _device_rng_state, _rng, _shape_arg

if TYPE_CHECKING:
    from .core import Tensor


def full(shape: Any, fill_value: Any, dtype: Any = None, device: str | None = None,
         requires_grad: builtins.bool = False) -> Tensor:
    shape = _shape_arg((shape,) if isinstance(shape, int) else tuple(shape))
    dt = to_dtype(dtype) if dtype is not None else (
        dtypes.bool if isinstance(fill_value, bool) else dtypes.default_int if isinstance(fill_value, int)
        else dtypes.default_float)
    if any(s < 0 for s in shape):
        raise TensorValueError(f"full: negative dimension in shape {shape}")
    check_fits(fill_value, dt)  # like torch.full: 300 in uint8 raises (it wrapped to 44)
    _check_numel(shape, "full")
    t = Tensor._from(_const_uop(fill_value, dt, shape), _check_device(device))
    if requires_grad:  # a leaf needs memory of its own (equal constants would be one graph node)
        t = t.contiguous().realize()
        t.requires_grad = True
    return t


def zeros(*shape: Any, dtype: Any = None, device: str | None = None,
          requires_grad: builtins.bool = False) -> Tensor:
    return Tensor.full(_shape_arg(shape), 0.0, dtype or dtypes.default_float, device, requires_grad)


def ones(*shape: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False) -> Tensor:
    return Tensor.full(_shape_arg(shape), 1.0, dtype or dtypes.default_float, device, requires_grad)


def empty(*shape: Any, dtype: Any = None, device: str | None = None) -> Tensor:
    dt = to_dtype(dtype or dtypes.default_float)
    shape = _shape_arg(shape)
    _check_numel(shape, "empty")
    buf = Buffer(_check_device(device), prod(shape), dt)
    return Tensor._from(UOp(Ops.BUFFER, dt, (), (buf, 0)).reshape_to(shape), buf.device)


def full_like(self: Tensor, fill_value: Any, dtype: Any = None) -> Tensor:
    return Tensor.full(self.shape, fill_value, dtype or self.dtype, self.device)


def zeros_like(self: Tensor, dtype: Any = None) -> Tensor:
    return self.full_like(0, dtype)


def ones_like(self: Tensor, dtype: Any = None) -> Tensor:
    return self.full_like(1, dtype)


def empty_like(self: Tensor, dtype: Any = None) -> Tensor:
    return Tensor.empty(*self.shape, dtype=dtype or self.dtype, device=self.device)


def rand_like(self: Tensor, dtype: Any = None) -> Tensor:
    return Tensor.rand(*self.shape, dtype=dtype or self.dtype, device=self.device)


def randn_like(self: Tensor, dtype: Any = None) -> Tensor:
    return Tensor.randn(*self.shape, dtype=dtype or self.dtype, device=self.device)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           device: str | None = None) -> Tensor:
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise TensorValueError("arange: step must be nonzero")
    n = max(0, math.ceil((stop - start) / step))
    is_int = all(isinstance(v, int) for v in (start, stop, step))
    dt = to_dtype(dtype) if dtype is not None else (dtypes.default_int if is_int else dtypes.default_float)
    # the values are written on the host: the IR has no iota op, and building one from ops
    # (a cumulative sum) would cost a kernel for what is a constant
    return Tensor(np.arange(n, dtype=np.float64) * step + start, dtype=dt, device=device)


def linspace(start: float, end: float, steps: builtins.int, dtype: Any = None, device: str | None = None) -> Tensor:
    if steps < 0:
        raise TensorValueError(f"linspace: number of steps must be non-negative, got {steps}")
    return Tensor(np.linspace(start, end, steps), dtype=dtype or dtypes.default_float, device=device)


def eye(n: builtins.int, m: builtins.int | None = None, dtype: Any = None, device: str | None = None) -> Tensor:
    m = n if m is None else m
    return Tensor(np.eye(n, m), dtype=dtype or dtypes.default_float, device=device)


def rand(*shape: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    t = Tensor(_rng[0].random(_shape_arg(shape), dtype=np.float32), dtype=dtype or dtypes.default_float,
               device=device)
    t.requires_grad = requires_grad
    return t


def randn(*shape: Any, dtype: Any = None, device: str | None = None,
          requires_grad: builtins.bool = False) -> Tensor:
    """Standard normal."""
    t = Tensor(_rng[0].standard_normal(_shape_arg(shape), dtype=np.float32), dtype=dtype or dtypes.default_float,
               device=device)
    t.requires_grad = requires_grad
    return t


def randint(low: builtins.int, high: builtins.int | None = None, size: Any = (), dtype: Any = None,
            device: str | None = None) -> Tensor:
    if high is None:
        low, high = 0, low
    if high <= low:
        raise TensorValueError(f"randint: expected low < high, got low={low}, high={high}")
    return Tensor(_rng[0].integers(low, high, size=_shape_arg(tuple(size) if not isinstance(size, int)
                                                              else (size,))),
                  dtype=dtype or dtypes.default_int, device=device)


def uniform(*shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = None, device: str | None = None,
            requires_grad: builtins.bool = False) -> Tensor:
    t = Tensor(_rng[0].uniform(low, high, _shape_arg(shape)).astype(np.float32),
               dtype=dtype or dtypes.default_float, device=device)
    t.requires_grad = requires_grad
    return t


def normal(*shape: Any, mean: float = 0.0, std: float = 1.0, dtype: Any = None, device: str | None = None,
           requires_grad: builtins.bool = False) -> Tensor:
    t = Tensor(_rng[0].normal(mean, std, _shape_arg(shape)).astype(np.float32),
               dtype=dtype or dtypes.default_float, device=device)
    t.requires_grad = requires_grad
    return t


def rand_graph(*shape: Any, device: str | None = None) -> Tensor:
    """Uniform [0, 1) float32 numbers computed by kernels from a counter in device memory
    (a splitmix64 hash of element index and counter). Every call advances the counter, also
    inside a step replayed by tinytorch.jit, so each replay draws new numbers (dropout)."""
    dev = (device or _default_device()).upper()
    shape = _shape_arg(shape)
    state = _device_rng_state.get(dev)
    if state is None:
        seed = int(_rng[0].integers(1 << 40))
        state = _device_rng_state[dev] = Tensor(np.array([seed << 20], np.int64), device=dev).realize()
    n = prod(shape)
    idx = Tensor.arange(n, dtype=dtypes.int64, device=dev)
    z = idx + state.expand(n) * -7046029254386353131  # (counter * 0x9E3779B97F4A7C15) mod 2^64

    def shr(v: Tensor, k: builtins.int) -> Tensor:  # logical shift right on int64
        return (v >> k) & ((1 << (64 - k)) - 1)
    z = (z ^ shr(z, 30)) * -4658895280553007687  # 0xBF58476D1CE4E5B9
    z = (z ^ shr(z, 27)) * -7723592293110705685  # 0x94D049BB133111EB
    z = z ^ shr(z, 31)
    out = (shr(z, 40).cast(dtypes.float32) * (1.0 / (1 << 24))).reshape(*shape)
    state.assign(state + 1).realize()  # `out` still reads the old counter: it is realized first
    return out


def from_numpy(arr: np.ndarray, device: str | None = None) -> Tensor:
    """A tensor with the array's dtype (float64 stays float64, unlike Tensor(list))."""
    return Tensor(arr, dtype=to_dtype(arr.dtype), device=device)
