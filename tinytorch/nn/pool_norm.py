"""Pooling, normalization, resampling and channel-dropout layers with PyTorch's names.

Takes: tensors laid out as (N, C, *spatial) (shapes in each forward's docstring).
Produces: lazy Tensors (functions of nn.functional_pool). Constructor arguments, attribute names,
parameters and buffers (BatchNorm's running_mean, running_var, num_batches_tracked), their
initialization, train()/eval() behaviour and the repr follow PyTorch, so a PyTorch state_dict loads
into them and they print alike.
"""

from __future__ import annotations

from typing import Any

from ..dtype import dtypes
from ..engine.realize import run_pending
from ..errors import TensorValueError
from ..tensor import Tensor, no_grad
from . import functional_pool as FP
from .layers_extra import _AffineNorm
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "Dropout1d", "Dropout2d",
           "Dropout3d"]


def _single(v: Any) -> tuple[Any, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


# pools --------------------------------------------------------------------------------------------------
class _MaxPoolNd(Module):
    _fn: Any = None

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        """(N, C, *S) or (C, *S) -> pooled (and the int64 indices if return_indices)"""
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                              self.return_indices)

    def extra_repr(self) -> str:
        """kernel_size, stride, padding, dilation and ceil_mode as PyTorch prints them."""
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L): F.max_pool1d with the stored settings."""

    _fn = staticmethod(FP.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max over sliding (kh, kw) windows of (N, C, H, W): F.max_pool2d with the stored settings."""

    _fn = staticmethod(FP.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Max over sliding (kd, kh, kw) windows of (N, C, D, H, W): F.max_pool3d with the stored settings."""

    _fn = staticmethod(FP.max_pool3d)


class AvgPool1d(Module):
    """Mean over sliding windows of (N, C, L): F.avg_pool1d with the stored settings."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        """(N, C, L) or (C, L) -> (N, C, out) or (C, out)"""
        return FP.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad)

    def extra_repr(self) -> str:
        """kernel_size, stride and padding as PyTorch prints them."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    _fn: Any = None

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        """(N, C, *S) or (C, *S) -> pooled"""
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        """kernel_size, stride and padding as PyTorch prints them."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding (kh, kw) windows of (N, C, H, W): F.avg_pool2d with the stored settings."""

    _fn = staticmethod(FP.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """Mean over sliding (kd, kh, kw) windows of (N, C, D, H, W): F.avg_pool3d with the stored settings."""

    _fn = staticmethod(FP.avg_pool3d)


class _AdaptivePool(Module):
    _fn: Any = None

    def __init__(self, output_size: Any):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Any:
        """(N, C, *S) or (C, *S) -> (N, C, *output_size) (None keeps that dim)"""
        return type(self)._fn(input, self.output_size)

    def extra_repr(self) -> str:
        """output_size as PyTorch prints it."""
        return f"output_size={self.output_size}"


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        """(N, C, *S) or (C, *S) -> (N, C, *output_size) (and the int64 indices if return_indices)"""
        return type(self)._fn(input, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptivePool):
    """Mean over output_size adaptive bins of (N, C, L): F.adaptive_avg_pool1d."""

    _fn = staticmethod(FP.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Mean over output_size adaptive bins of (N, C, H, W): F.adaptive_avg_pool2d."""

    _fn = staticmethod(FP.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Mean over output_size adaptive bins of (N, C, D, H, W): F.adaptive_avg_pool3d."""

    _fn = staticmethod(FP.adaptive_avg_pool3d)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Max over output_size adaptive bins of (N, C, L): F.adaptive_max_pool1d."""

    _fn = staticmethod(FP.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Max over output_size adaptive bins of (N, C, H, W): F.adaptive_max_pool2d."""

    _fn = staticmethod(FP.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """Max over output_size adaptive bins of (N, C, D, H, W): F.adaptive_max_pool3d."""

    _fn = staticmethod(FP.adaptive_max_pool3d)


# normalization ------------------------------------------------------------------------------------------
class _NormBase(_AffineNorm):
    """Per-channel affine parameters (weight 1, bias 0) and running statistics (buffers running_mean 0,
    running_var 1, num_batches_tracked 0 as int64), as PyTorch's batch and instance norms hold them."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: str | None = None, dtype: Any = None, *,
                 bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self._affine_parameters((num_features,) if affine else None, bias, dtype, device)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor.zeros(num_features, dtype=dtype, device=device).realize())
            self.register_buffer("running_var", Tensor.ones(num_features, dtype=dtype, device=device).realize())
            self.register_buffer("num_batches_tracked",
                                 Tensor.zeros((), dtype=dtypes.int64, device=device).realize())
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.assign(0.0)
                self.running_var.assign(1.0)
                self.num_batches_tracked.assign(0)
                Tensor.realize(self.running_mean, self.running_var, self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """Reset the running statistics; weight = 1, bias = 0."""
        self.reset_running_stats()
        super().reset_parameters()

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        """num_features, eps, momentum, affine, bias and track_running_stats as PyTorch prints them."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _dims: tuple[int, ...] = ()

    def _check_input_dim(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise TensorValueError(f"{type(self).__name__}: expected {want} input (got {input.ndim}D input of shape "
                                   f"{tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise TensorValueError(f"{type(self).__name__}({self.num_features}): input of shape {tuple(input.shape)} "
                                   f"has {input.shape[1]} channels in dim 1, expected {self.num_features}")

    def forward(self, input: Tensor) -> Tensor:
        """(N, C, *spatial) -> same shape; training: batch statistics (and running ones updated); eval: running"""
        self._check_input_dim(input)
        factor: Any = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            nbt = self.num_batches_tracked
            run_pending(nbt)  # the last step's count, if nothing realized it since: at most one update waits
            with no_grad():
                nbt.assign(nbt + 1)
            if self.momentum is None:  # a cumulative average: 1 / batches seen (kept on the device)
                factor = 1.0 / self.num_batches_tracked.cast(dtypes.float32)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        counter = self.num_batches_tracked if self.training and self.track_running_stats else None
        return FP._batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                              self.weight, self.bias, use_batch, factor, self.eps, counter)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) per channel, with running statistics for eval."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) per channel, with running statistics for eval."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) per channel, with running statistics for eval."""

    _dims = (5,)


class _InstanceNorm(_NormBase):
    _n: int = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: str | None = None, dtype: Any = None, *,
                 bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        """(N, C, *spatial) or (C, *spatial) -> same shape, normalized over each (sample, channel)'s spatial dims"""
        n = self._n
        if not isinstance(input, Tensor) or input.ndim not in (n + 1, n + 2):
            raise TensorValueError(f"{type(self).__name__}: expected {n + 1}D or {n + 2}D input (got "
                                   f"{getattr(input, 'shape', type(input).__name__)})")
        x = input.unsqueeze(0) if input.ndim == n + 1 else input
        if x.shape[1] != self.num_features and self.affine:
            raise TensorValueError(f"{type(self).__name__}: expected input's size at dim=1 to match num_features "
                                   f"({self.num_features}), but got: {x.shape[1]} (input shape {tuple(input.shape)})")
        y = FP.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             self.training or not self.track_running_stats,
                             self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if input.ndim == n + 1 else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L): each (sample, channel) over L."""

    _n = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W): each (sample, channel) over H, W."""

    _n = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W): each (sample, channel) over D, H, W."""

    _n = 3


class GroupNorm(_AffineNorm):
    """(x - mean) / sqrt(var + eps) over groups of num_channels/num_groups channels per sample, * weight + bias."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: str | None = None, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise TensorValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self._affine_parameters((num_channels,) if affine else None, bias, dtype, device)

    def forward(self, input: Tensor) -> Tensor:
        """(N, C, *) -> same shape"""
        if isinstance(input, Tensor) and input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise TensorValueError(f"GroupNorm({self.num_groups}, {self.num_channels}): input of shape "
                                   f"{tuple(input.shape)} has {input.shape[1]} channels, expected {self.num_channels}")
        return FP.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """num_groups, num_channels, eps, affine and bias as PyTorch prints them."""
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


# resampling and channel dropout ----------------------------------------------------------------------------
class Upsample(Module):
    """Resample (N, C, *spatial) to size or by scale_factor: F.interpolate with the stored settings."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        """(N, C, *spatial) -> (N, C, *size)"""
        return FP.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                              recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        """scale_factor (or size) and mode as PyTorch prints them."""
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample(size, scale_factor, mode='nearest') of (N, C, H, W)."""

    def __init__(self, size: Any = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample(size, scale_factor, mode='bilinear', align_corners=True) of (N, C, H, W)."""

    def __init__(self, size: Any = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _DropoutNd(Module):
    _fn: Any = None

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise TensorValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        """same shape; whole channels zeroed with probability p in training, the rest scaled by 1/(1-p)"""
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        """p and inplace as PyTorch prints them."""
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Channel dropout of (N, C, L) / (C, L): F.dropout1d."""

    _fn = staticmethod(FP.dropout1d)


class Dropout2d(_DropoutNd):
    """Channel dropout of (N, C, H, W) / (C, H, W): F.dropout2d."""

    _fn = staticmethod(FP.dropout2d)


class Dropout3d(_DropoutNd):
    """Channel dropout of (N, C, D, H, W) / (C, D, H, W): F.dropout3d."""

    _fn = staticmethod(FP.dropout3d)
