"""Convolution modules: Conv1d/2d/3d, ConvTranspose1d/2d/3d, Unfold, Fold.

Takes: (N, C_in, *spatial) or unbatched (C_in, *spatial) inputs; constructor arguments with PyTorch's
names, order and defaults (padding as int / tuple / 'same' / 'valid', padding_mode 'zeros' /
'reflect' / 'replicate' / 'circular').
Produces: lazy Tensors from nn.functional's conv / conv_transpose / unfold / fold. The parameters
are named, shaped and initialised as PyTorch's — weight (C_out, C_in/groups, *kernel) for a conv,
(C_in, C_out/groups, *kernel) for a transposed conv, ~ U(-b, b) with b = 1/sqrt(fan_in) (which is
kaiming_uniform_(a=sqrt(5))), the bias likewise — so a PyTorch state_dict loads and gives the same
outputs, and the modules print as PyTorch prints them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import TensorValueError
from ..tensor import Tensor
from . import functional_conv as FC
from . import init
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Unfold", "Fold"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(v: Any, n: int, name: str, cls: str) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,) * n
    t = tuple(int(e) for e in v)
    if len(t) != n:
        raise TensorValueError(f"{cls}: {name} must be an int or a tuple of {n} ints, got {tuple(v)}")
    return t


class _ConvNd(Module):
    """Shared state of the conv modules: the geometry, the weight and the optional bias."""

    _n = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, groups: int, bias: bool, padding_mode: str, output_padding: Any = 0,
                 device: str | None = None, dtype: Any = None):
        super().__init__()
        cls, n = type(self).__name__, self._n
        if not isinstance(groups, int) or groups <= 0:
            raise TensorValueError(f"{cls}: groups must be a positive integer (got groups={groups})")
        if in_channels % groups:
            raise TensorValueError(f"{cls}: in_channels must be divisible by groups (got in_channels={in_channels}, "
                                   f"groups={groups})")
        if out_channels % groups:
            raise TensorValueError(f"{cls}: out_channels must be divisible by groups (got out_channels="
                                   f"{out_channels}, groups={groups})")
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", cls)
        self.stride = _tuple(stride, n, "stride", cls)
        self.dilation = _tuple(dilation, n, "dilation", cls)
        self.output_padding = _tuple(output_padding, n, "output_padding", cls)
        self.padding: str | tuple[int, ...]
        if isinstance(padding, str):
            if self._transposed or padding not in ("same", "valid"):
                raise TensorValueError(f"{cls}: Invalid padding string {padding!r}, should be one of "
                                       f"{'an int or a tuple of ints' if self._transposed else ('valid', 'same')}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise TensorValueError(f"{cls}: padding='same' is not supported for strided convolutions "
                                       f"(got stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n, "padding", cls)
        if padding_mode not in _PADDING_MODES:
            raise TensorValueError(f"{cls}: padding_mode must be one of {list(_PADDING_MODES)}, but got "
                                   f"padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise TensorValueError(f"{cls}: Only \"zeros\" padding mode is supported for {cls}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.transposed, self.padding_mode = self._transposed, padding_mode
        # F.pad's argument for a non-zeros padding_mode: (last_left, last_right, prev_left, ...)
        if self.padding == "same":
            pairs = list(FC._same_pads(self.kernel_size, self.dilation))
        elif isinstance(self.padding, tuple):
            pairs = [(p, p) for p in self.padding]
        else:  # 'valid'
            pairs = [(0, 0)] * n
        self._reversed_padding_repeated_twice = [v for a, b in reversed(pairs) for v in (a, b)]
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        # kaiming_uniform_(a=sqrt(5)) gives bound = 1/sqrt(fan_in); drawn directly, so no kernel runs here
        wb = init.kaiming_uniform_bound(shape, a=math.sqrt(5))
        self.weight = Parameter(init.uniform_value(shape, -wb, wb, dtype, device))  # shape as above
        if bias:
            self.bias = Parameter(init.uniform_value((out_channels,), -self._bias_bound(), self._bias_bound(),
                                                     dtype, device))  # (C_out,)
        else:
            self.register_parameter("bias", None)

    def _bias_bound(self) -> float:
        fan_in = init._calculate_fan_in_and_fan_out(tuple(self.weight.shape), "reset_parameters")[0]
        return 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0

    def reset_parameters(self) -> None:
        """Draw the weight with kaiming_uniform_(a=sqrt(5)) and the bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            b = self._bias_bound()
            init.uniform_(self.bias, -b, b)

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: str | None = None, dtype: Any = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        fn = (FC.conv1d, FC.conv2d, FC.conv3d)[self._n - 1]
        if self.padding_mode != "zeros":
            x = FC.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.weight, self.bias)  # (N, C_in, *S) -> (N, C_out, *S')


class Conv1d(_Conv):
    """1-d convolution: (N, C_in, L) -> (N, C_out, L'), weight (C_out, C_in/groups, k), bias (C_out,)."""

    _n = 1


class Conv2d(_Conv):
    """2-d convolution: (N, C_in, H, W) -> (N, C_out, H', W'), weight (C_out, C_in/groups, kH, kW), bias (C_out,);
    H' = floor((H + 2p - d(k-1) - 1) / s) + 1."""

    _n = 2


class Conv3d(_Conv):
    """3-d convolution: (N, C_in, D, H, W) -> (N, C_out, D', H', W'), weight (C_out, C_in/groups, kD, kH, kW)."""

    _n = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: str | None = None, dtype: Any = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def _output_padding(self, x: Tensor, output_size: Sequence[int] | None) -> tuple[int, ...]:
        """The output_padding that gives the requested output_size (which may include N and C)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        lead = 2 if x.ndim == n + 2 else 1
        size = [int(v) for v in output_size]
        if len(size) == lead + n:
            size = size[lead:]
        if len(size) != n:
            raise TensorValueError(f"ConvTranspose{n}D: for {x.ndim}D input, output_size must have {n} or "
                                   f"{lead + n} elements (got {len(size)})")
        assert isinstance(self.padding, tuple)
        lo = [(x.shape[lead + i] - 1) * self.stride[i] - 2 * self.padding[i]
              + self.dilation[i] * (self.kernel_size[i] - 1) + 1 for i in range(n)]
        hi = [v + s - 1 for v, s in zip(lo, self.stride)]
        if any(not a <= v <= b for v, a, b in zip(size, lo, hi)):
            raise TensorValueError(f"requested an output size of {size}, but valid sizes range from {lo} to {hi} "
                                   f"(for an input of {list(x.shape[lead:])})")
        return tuple(v - a for v, a in zip(size, lo))

    def forward(self, x: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        fn = (FC.conv_transpose1d, FC.conv_transpose2d, FC.conv_transpose3d)[self._n - 1]
        assert isinstance(self.padding, tuple)
        op = self._output_padding(x, output_size)
        # (N, C_in, *S) -> (N, C_out, *S'), S' = (S-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1
        return fn(x, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """The adjoint of Conv1d: (N, C_in, L) -> (N, C_out, L'), weight (C_in, C_out/groups, k), bias (C_out,)."""

    _n = 1


class ConvTranspose2d(_ConvTranspose):
    """The adjoint of Conv2d: (N, C_in, H, W) -> (N, C_out, H', W'), weight (C_in, C_out/groups, kH, kW);
    H' = (H-1)s - 2p + d(k-1) + output_padding + 1."""

    _n = 2


class ConvTranspose3d(_ConvTranspose):
    """The adjoint of Conv3d: (N, C_in, D, H, W) -> (N, C_out, D', H', W'), weight (C_in, C_out/groups, kD, kH, kW)."""

    _n = 3


class Unfold(Module):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), one column per sliding window."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return FC.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """col2im (the adjoint of Unfold): (N, C*kh*kw, L) -> (N, C, H, W), overlapping windows summed."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return FC.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
