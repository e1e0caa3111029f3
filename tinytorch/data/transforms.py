"""Image transforms with torchvision's names, for one image or a whole batch at once.

Takes: an image or a batch of images, as a numpy array or a Tensor:
  - a numpy array (or a PIL image) is channels-last: (H, W, C) or (H, W); a batch is (N, H, W, C);
  - a Tensor is channels-first as in torchvision: (C, H, W) or (H, W); a batch is (N, C, H, W).
Produces: the transformed image(s), of the same kind as the input (ToTensor turns a channels-last numpy
image into a channels-first float Tensor, as torchvision's ToTensor does).

    T = transforms
    aug = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                     T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
    aug(img)             # (32, 32, 3) uint8 numpy -> (3, 32, 32) float32 Tensor
    aug(batch)           # (N, 32, 32, 3) uint8 numpy -> (N, 3, 32, 32) float32 Tensor
    aug.numpy(batch)     # the same as a numpy array: what DataLoader workers run (no Tensor is made)

A 4-D input is a batch and is transformed with whole-array numpy operations (fancy indexing for the
per-image crop offsets, masks for flips), never a Python loop per image (except a user function, Lambda
or a plain callable in Compose, which is called image by image). Random transforms draw their
parameters per image, as if each image had gone through the transform alone (torchvision's tensor
transforms draw once per call and apply the same crop/flip to every image of a batched tensor).

Random numbers come from, in order: the transform's own `generator` (an int seed, a
`numpy.random.Generator` or a `tinytorch.Generator`); the stream a DataLoader sets for each batch it
prepares (`generator_scope`, so a seeded loader repeats its augmentations in any thread); tinytorch's
global generator (`tinytorch.manual_seed`). The numbers differ from torchvision's for the same seed.
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..tensor import Tensor, _rng

__all__ = ["Transform", "Compose", "ToTensor", "Normalize", "RandomCrop", "CenterCrop", "Pad",
           "RandomHorizontalFlip", "RandomVerticalFlip", "ColorJitter", "Lambda", "generator_scope"]

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
_local = threading.local()


@contextmanager
def generator_scope(rng: np.random.Generator | None) -> Iterator[None]:
    """Within the block (in this thread), transforms without their own generator draw from rng."""
    prev = getattr(_local, "rng", None)
    _local.rng = rng
    try:
        yield
    finally:
        _local.rng = prev


def _as_generator(generator: Any) -> np.random.Generator | None:
    """None, an int seed, a numpy Generator or a tinytorch.Generator -> a numpy Generator (or None)."""
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    if isinstance(getattr(generator, "_np", None), np.random.Generator):
        return generator  # a tinytorch.Generator: its stream is read at each draw (manual_seed resets it)
    raise TypeError(f"generator should be None, an int seed, a numpy.random.Generator or a tinytorch.Generator, "
                    f"got {type(generator).__name__}")


# Internal form: a 4-D numpy batch, (N, H, W, C) when channels_last else (N, C, H, W).
class _Batch:
    """A 4-D batch plus what is needed to give it back in the caller's shape."""

    __slots__ = ("x", "channels_last", "single", "no_channel", "changed_layout", "owned")

    def __init__(self, x: np.ndarray, channels_last: bool, single: bool, no_channel: bool):
        self.x, self.channels_last, self.single, self.no_channel = x, channels_last, single, no_channel
        self.changed_layout = False
        self.owned = False  # x is a fresh array made by a transform (may be written), not the caller's memory

    def set(self, x: np.ndarray) -> None:
        """Replace the images by x, a fresh array (views of the input are assigned to .x directly)."""
        if x is not self.x:
            self.x, self.owned = x, True

    @property
    def hw(self) -> tuple[int, int]:
        """(H, W) of the images."""
        s = self.x.shape
        return (s[1], s[2]) if self.channels_last else (s[2], s[3])

    @property
    def channels(self) -> int:
        """C, the number of channels."""
        return int(self.x.shape[3] if self.channels_last else self.x.shape[1])

    @property
    def axes_hw(self) -> tuple[int, int]:
        """The axes of H and W in the 4-D array."""
        return (1, 2) if self.channels_last else (2, 3)

    @property
    def axis_c(self) -> int:
        """The axis of C in the 4-D array."""
        return 3 if self.channels_last else 1


def _to_batch(x: np.ndarray, channels_last: bool, batched: bool | None, who: str) -> _Batch:
    """An image (2-D/3-D) or a batch (4-D; 3-D when batched=True: single-channel images) -> _Batch."""
    if batched is None:
        batched = x.ndim == 4
    if batched and x.ndim == 3:  # (N, H, W) single-channel images
        return _Batch(x[..., None] if channels_last else x[:, None], channels_last, False, True)
    if batched and x.ndim == 4:
        return _Batch(x, channels_last, False, False)
    if not batched and x.ndim == 2:
        return _Batch(x[None, ..., None] if channels_last else x[None, None], channels_last, True, True)
    if not batched and x.ndim == 3:
        return _Batch(x[None], channels_last, True, False)
    layout = "(N, H, W, C)" if channels_last else "(N, C, H, W)"
    single = "(H, W, C)" if channels_last else "(C, H, W)"
    raise ValueError(f"{who}: expected an image (H, W) or {single}, or a batch {layout}; got an array of shape "
                     f"{tuple(x.shape)}{' (batched=True)' if batched else ''}")


def _from_batch(b: _Batch) -> np.ndarray:
    """The _Batch back in the caller's shape (a grayscale image keeps no channel axis unless ToTensor ran)."""
    x = b.x
    if b.no_channel and not b.changed_layout:
        x = x[..., 0] if b.channels_last else x[:, 0]
    return x[0] if b.single else x


def _pair(size: Any, name: str) -> tuple[int, int]:
    """An int or a sequence of 1 or 2 ints -> (h, w)."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) in (1, 2) and all(isinstance(s, numbers.Integral) for s in size):
        return (int(size[0]), int(size[0])) if len(size) == 1 else (int(size[0]), int(size[1]))
    raise ValueError(f"{name}: size should be an int or a sequence of 1 or 2 ints (h, w), got {size!r}")


def _padding4(padding: Any, name: str) -> tuple[int, int, int, int]:
    """torchvision's padding argument (int; (lr, tb); (left, top, right, bottom)) -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        p = int(padding)
        out = (p, p, p, p)
    elif isinstance(padding, Sequence) and len(padding) in (1, 2, 4) and \
            all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in padding):
        v = [int(a) for a in padding]
        out = (v[0],) * 4 if len(v) == 1 else (v[0], v[1], v[0], v[1]) if len(v) == 2 else (v[0], v[1], v[2], v[3])
    else:
        raise ValueError(f"{name}: padding should be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    if min(out) < 0:
        raise ValueError(f"{name}: padding should be non-negative, got {padding!r}")
    return out


def _pad(b: _Batch, pad: tuple[int, int, int, int], fill: Any, mode: str, who: str) -> np.ndarray:
    """The batch's images padded by (left, top, right, bottom) with numpy.pad's mode (fill for "constant")."""
    left, top, right, bottom = pad
    if not any(pad):
        return b.x
    h, w = b.hw
    if mode == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
        raise ValueError(f"{who}: reflect padding {pad} (left, top, right, bottom) must be smaller than the image "
                         f"size (h, w) = {(h, w)}")
    widths = [(0, 0)] * 4
    ah, aw = b.axes_hw
    widths[ah], widths[aw] = (top, bottom), (left, right)
    if mode != "constant":
        return np.pad(b.x, widths, mode=mode)  # type: ignore[call-overload]
    fills = np.asarray(fill, dtype=np.float64).reshape(-1)
    if fills.size == 1:
        return np.pad(b.x, widths, mode="constant", constant_values=fills[0].astype(b.x.dtype))
    if fills.size != b.channels:
        raise ValueError(f"{who}: fill has {fills.size} values but the images have {b.channels} channels")
    out = np.empty([s + lo + hi for s, (lo, hi) in zip(b.x.shape, widths)], dtype=b.x.dtype)
    shape = [1, 1, 1, 1]
    shape[b.axis_c] = b.channels
    out[...] = fills.astype(b.x.dtype).reshape(shape)
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(b.x.shape, widths))
    out[inner] = b.x
    return out


def _crop(x: np.ndarray, channels_last: bool, top: np.ndarray, left: np.ndarray, th: int, tw: int) -> np.ndarray:
    """Image n cropped to rows top[n]:top[n]+th, columns left[n]:left[n]+tw, for every n at once."""
    n = np.arange(x.shape[0])[:, None, None]
    rows = (top[:, None] + np.arange(th))[:, :, None]  # (N, th, 1)
    cols = (left[:, None] + np.arange(tw))[:, None, :]  # (N, 1, tw)
    if channels_last:
        return x[n, rows, cols]  # (N, th, tw, C)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)[n, rows, cols].transpose(0, 3, 1, 2))  # (N, C, th, tw)


class Transform:
    """Base class of the transforms here: `t(img)`, `t.numpy(x)`, and the batch method subclasses define."""

    generator: Any = None

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        """Transform b.x (a 4-D batch) in place of the _Batch; rng() gives the generator to draw from."""
        raise NotImplementedError(f"{type(self).__name__} must define _apply")

    def _generator(self) -> np.random.Generator:
        """The generator to draw from: the transform's own, else the DataLoader's stream, else tinytorch's."""
        g = self.generator
        if g is not None:
            return g if isinstance(g, np.random.Generator) else g._np
        scoped = getattr(_local, "rng", None)
        return scoped if scoped is not None else _rng[0]

    def _run(self, x: np.ndarray, channels_last: bool, batched: bool | None) -> _Batch:
        b = _to_batch(np.asarray(x), channels_last, batched, type(self).__name__)
        self._apply(b, self._generator)
        return b

    def numpy(self, x: Any, batched: bool | None = None, channels_last: bool = True) -> np.ndarray:
        """The transform of numpy x as a numpy array (ToTensor gives the float CHW array); makes no Tensor.

        x is channels-last unless channels_last=False (a Tensor is channels-first); a 4-D x is a batch
        (batched=True also makes a 3-D x a batch of single-channel images)."""
        if isinstance(x, Tensor):
            x, channels_last = x.numpy(), False
        return _from_batch(self._run(x, channels_last, batched))

    def __call__(self, img: Any) -> Any:
        """The transformed image or batch: a Tensor for Tensor input or after ToTensor, else a numpy array."""
        if isinstance(img, Tensor):
            return Tensor(_from_batch(self._run(img.numpy(), False, None)), device=img.device)
        b = self._run(img, True, None)
        return Tensor(_from_batch(b)) if b.changed_layout else _from_batch(b)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose(Transform):
    """Apply the transforms one after the other: Compose([t1, t2])(x) == t2(t1(x))."""

    def __init__(self, transforms: Sequence[Any]):
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")
        self.transforms = list(transforms)
        # a plain callable sees the images as they are at its step, as it would outside Compose
        self._steps = [t if isinstance(t, Transform) else Lambda(t) for t in self.transforms]

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        for t in self._steps:
            t._apply(b, t._generator)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor(Transform):
    """Channels-last numpy image(s) -> channels-first: (H, W, C) -> (C, H, W), (N, H, W, C) -> (N, C, H, W);
    uint8 is scaled to float32 in [0, 1] (x / 255), other dtypes keep their values and dtype (as torchvision)."""

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        if not b.channels_last:
            raise TypeError("ToTensor: pic should be a channels-last numpy image (H, W, C) or a batch (N, H, W, C); "
                            "got a channels-first Tensor/array (it is already a tensor image)")
        x = b.x.transpose(0, 3, 1, 2)
        if x.dtype == np.uint8:
            out = np.empty(x.shape, np.float32)
            np.multiply(x, np.float32(1 / 255), out=out)
            b.set(out)
        else:
            b.set(np.array(x, order="C"))
        b.channels_last, b.changed_layout = False, True

    def __call__(self, img: Any) -> Tensor:
        """The image(s) as a channels-first Tensor, float32 in [0, 1] for uint8 input."""
        if isinstance(img, Tensor) or not (isinstance(img, np.ndarray) or hasattr(img, "__array_interface__")):
            raise TypeError(f"ToTensor: pic should be a numpy array (H, W, C) or (N, H, W, C) or a PIL image, got "
                            f"{type(img).__name__}" + (" (a Tensor is already a tensor image)"
                                                       if isinstance(img, Tensor) else ""))
        return Tensor(self.numpy(np.asarray(img)))


class Normalize(Transform):
    """out[c] = (x[c] - mean[c]) / std[c] per channel, on float images (as torchvision's Normalize)."""

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float, inplace: bool = False):
        self.mean = [float(m) for m in np.atleast_1d(np.asarray(mean, dtype=np.float64))]
        self.std = [float(s) for s in np.atleast_1d(np.asarray(std, dtype=np.float64))]
        self.inplace = inplace

    def _stats(self, dtype: np.dtype, channels: int) -> tuple[np.ndarray, np.ndarray]:
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"Normalize: input should be a float image, got {dtype} (apply ToTensor first)")
        mean, std = np.asarray(self.mean, dtype), np.asarray(self.std, dtype)
        for name, v in (("mean", mean), ("std", std)):
            if v.size not in (1, channels):
                raise ValueError(f"Normalize: {name} has {v.size} values but the image has {channels} channels")
        if (std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero after conversion to {dtype}, "
                             "leading to division by zero.")
        return mean, std

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        mean, std = self._stats(b.x.dtype, b.channels)
        shape = [1, 1, 1, 1]
        shape[b.axis_c] = -1
        m, s = mean.reshape(shape), std.reshape(shape)
        if not ((self.inplace or b.owned) and b.x.flags.writeable):
            out = np.subtract(b.x, m)
            b.set(out)
        else:
            np.subtract(b.x, m, out=b.x)
        np.divide(b.x, s, out=b.x)

    def __call__(self, img: Any) -> Any:
        """Normalized image(s); a Tensor (C, H, W) / (N, C, H, W) stays lazy and differentiable."""
        if not isinstance(img, Tensor):
            return self.numpy(img)
        if img.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor image of size (..., C, H, W), got {tuple(img.shape)}")
        mean, std = self._stats(img.dtype.np, int(img.shape[-3]))
        m = Tensor(mean.reshape(-1, 1, 1), dtype=img.dtype, device=img.device)
        s = Tensor(std.reshape(-1, 1, 1), dtype=img.dtype, device=img.device)
        return (img - m) / s

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Pad(Transform):
    """Pad the images' borders by padding (int; (left/right, top/bottom); (left, top, right, bottom))."""

    def __init__(self, padding: Any, fill: Any = 0, padding_mode: str = "constant"):
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Pad: padding_mode should be one of {PADDING_MODES}, got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = _padding4(padding, "Pad"), fill, padding_mode

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        b.set(_pad(b, self.padding, self.fill, self.padding_mode, "Pad"))

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode!r})"


class CenterCrop(Transform):
    """Crop the center (h, w) of each image (zero-padded first when the image is smaller, as torchvision)."""

    def __init__(self, size: Any):
        self.size = _pair(size, "CenterCrop")

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        th, tw = self.size
        h, w = b.hw
        if th > h or tw > w:
            pad = ((tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                   (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0)
            b.set(_pad(b, pad, 0, "constant", "CenterCrop"))
            h, w = b.hw
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        sl = [slice(None)] * 4
        ah, aw = b.axes_hw
        sl[ah], sl[aw] = slice(top, top + th), slice(left, left + tw)
        b.x = b.x[tuple(sl)]

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class RandomCrop(Transform):
    """Crop a random (h, w) window of each image, after padding its borders by `padding` (as torchvision's
    RandomCrop: offsets top ~ U{0..H-h}, left ~ U{0..W-w}; padding_mode constant (with fill), edge, reflect
    or symmetric; pad_if_needed pads an image smaller than size)."""

    def __init__(self, size: Any, padding: Any = None, pad_if_needed: bool = False, fill: Any = 0,
                 padding_mode: str = "constant", generator: Any = None):
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of {PADDING_MODES}, got {padding_mode!r}")
        self.size = _pair(size, "RandomCrop")
        self.padding = None if padding is None else _padding4(padding, "RandomCrop")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        self.generator = _as_generator(generator)

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        if self.padding is not None:
            b.set(_pad(b, self.padding, self.fill, self.padding_mode, "RandomCrop"))
        th, tw = self.size
        h, w = b.hw
        if self.pad_if_needed and (h < th or w < tw):
            dh, dw = max(th - h, 0), max(tw - w, 0)
            b.set(_pad(b, (dw, dh, dw, dh), self.fill, self.padding_mode, "RandomCrop"))
            h, w = b.hw
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the (padded) input image "
                             f"size {(h, w)}")
        n = b.x.shape[0]
        g = rng()
        top = np.asarray(g.integers(0, h - th + 1, size=n))
        left = np.asarray(g.integers(0, w - tw + 1, size=n))
        b.set(_crop(b.x, b.channels_last, top, left, th, tw))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class _RandomFlip(Transform):
    """Flip each image along one axis with probability p."""

    vertical = False

    def __init__(self, p: float = 0.5, generator: Any = None):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"{type(self).__name__}: p should be a probability in [0, 1], got {p}")
        self.p, self.generator = float(p), _as_generator(generator)

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        flip = np.asarray(rng().random(b.x.shape[0]) < self.p)
        if not flip.any():
            return
        axis = b.axes_hw[0 if self.vertical else 1]
        out = np.array(b.x)  # a copy: the input (maybe the dataset's read-only array) is never written
        out[flip] = np.flip(b.x[flip], axis=axis)
        b.set(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each image left-right (reverse W) with probability p."""


class RandomVerticalFlip(_RandomFlip):
    """Mirror each image top-bottom (reverse H) with probability p."""

    vertical = True


def _grayscale(x: np.ndarray, axis_c: int) -> np.ndarray:
    """ITU-R 601-2 luma, kept as one channel: 0.2989 R + 0.587 G + 0.114 B (in x's dtype, as torchvision)."""
    r, g, b_ = (np.take(x, i, axis=axis_c).astype(np.float32) for i in range(3))
    gray = 0.2989 * r + 0.587 * g + 0.114 * b_
    return np.expand_dims(gray.astype(x.dtype), axis_c)


def _blend(a: np.ndarray, b: np.ndarray, ratio: np.ndarray, bound: float, dtype: np.dtype) -> np.ndarray:
    """clamp(ratio * a + (1 - ratio) * b, 0, bound) in dtype (truncated to integers for uint8, as torchvision)."""
    out = np.clip(ratio * a.astype(np.float32) + (1 - ratio) * b, 0, bound)
    return out.astype(dtype)


def _rgb_to_hsv(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB in [0, 1] -> (hue in [0, 1), saturation, value)."""
    maxc, minc = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    delta = maxc - minc
    safe = np.where(delta == 0, 1, delta)
    s = np.where(maxc == 0, 0, delta / np.where(maxc == 0, 1, maxc))
    h = np.where(maxc == r, (g - b) / safe, np.where(maxc == g, 2 + (b - r) / safe, 4 + (r - g) / safe))
    h = np.where(delta == 0, 0, (h / 6.0) % 1.0)
    return h, s, maxc


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hue in [0, 1), saturation, value) -> RGB in [0, 1] (the sector formula)."""
    h6 = h * 6.0
    i = np.floor(h6)
    f = h6 - i
    i = i.astype(np.int64) % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return r, g, b


class ColorJitter(Transform):
    """Randomly change brightness, contrast, saturation and hue of each image, in a random order per image
    (as torchvision's ColorJitter). Each argument is a float f (factor drawn from [max(0, 1 - f), 1 + f];
    hue from [-f, f], f <= 0.5) or a (min, max) pair; 0 leaves that property alone. Supports float images in
    [0, 1] and uint8 images; saturation and hue need 3 channels (single-channel images are left as they are)."""

    def __init__(self, brightness: Any = 0, contrast: Any = 0, saturation: Any = 0, hue: Any = 0,
                 generator: Any = None):
        self.brightness = self._range(brightness, "brightness")
        self.contrast = self._range(contrast, "contrast")
        self.saturation = self._range(saturation, "saturation")
        self.hue = self._range(hue, "hue", center=0.0, bound=(-0.5, 0.5))
        self.generator = _as_generator(generator)

    @staticmethod
    def _range(value: Any, name: str, center: float = 1.0,
               bound: tuple[float, float] = (0.0, float("inf"))) -> tuple[float, float] | None:
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            v = float(value)  # type: ignore[arg-type]
            if v < 0:
                raise ValueError(f"ColorJitter: if {name} is a single number, it must be non negative, got {v}")
            lo, hi = center - v, center + v
            if center == 1.0:
                lo = max(lo, 0.0)
        elif isinstance(value, Sequence) and len(value) == 2:
            lo, hi = float(value[0]), float(value[1])
        else:
            raise TypeError(f"ColorJitter: {name} should be a single number or a list/tuple of length 2, got {value!r}")
        if not bound[0] <= lo <= hi <= bound[1]:
            raise ValueError(f"ColorJitter: {name} values should be between {bound}, got {(lo, hi)}")
        return None if lo == hi == center else (lo, hi)

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        ranges = [self.brightness, self.contrast, self.saturation, self.hue]
        if all(r is None for r in ranges):
            return
        x = b.x
        if not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
            raise TypeError(f"ColorJitter: images should be uint8 or float, got {x.dtype}")
        n, g = x.shape[0], rng()
        order = np.argsort(g.random((n, 4)), axis=1)  # a random permutation of the 4 adjustments per image
        factors: list[np.ndarray | None] = [None if r is None else np.asarray(g.uniform(r[0], r[1], size=n))
                                            for r in ranges]
        x = np.array(x)
        for pos in range(4):
            for k in range(4):
                f = factors[k]
                if f is None:
                    continue
                sel = order[:, pos] == k
                if sel.any():
                    x[sel] = self._adjust(k, x[sel], f[sel], b.axis_c)
        b.set(x)

    @staticmethod
    def _adjust(k: int, x: np.ndarray, f: np.ndarray, axis_c: int) -> np.ndarray:
        """Adjustment k (0 brightness, 1 contrast, 2 saturation, 3 hue) of images x by per-image factors f."""
        bound = 255.0 if x.dtype == np.uint8 else 1.0
        c = x.shape[axis_c]
        fb = f.reshape(-1, 1, 1, 1).astype(np.float32)
        if k == 0:  # brightness: f * x
            return _blend(x, np.zeros((), np.float32), fb, bound, x.dtype)
        if k == 1:  # contrast: blend with the mean grey level of the image
            gray = _grayscale(x, axis_c) if c == 3 else x
            mean = gray.astype(np.float32).mean(axis=(1, 2, 3), keepdims=True)
            return _blend(x, mean, fb, bound, x.dtype)
        if c != 3:  # saturation and hue are left alone on non-RGB images, as torchvision does
            return x
        if k == 2:  # saturation: blend with the grayscale image
            return _blend(x, _grayscale(x, axis_c).astype(np.float32), fb, bound, x.dtype)
        xf = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x
        r, g, bl = (np.take(xf, i, axis=axis_c) for i in range(3))
        h, s, v = _rgb_to_hsv(r, g, bl)
        h = (h + f.reshape(-1, 1, 1).astype(h.dtype)) % 1.0
        out = np.stack(_hsv_to_rgb(h, s, v), axis=axis_c)
        # back to uint8 as torchvision's convert_image_dtype: x * (255 + 1 - 1e-3), truncated
        return (out * np.float32(255.999)).astype(np.uint8) if x.dtype == np.uint8 else out.astype(x.dtype)

    def __repr__(self) -> str:
        return (f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, "
                f"hue={self.hue})")


class Lambda(Transform):
    """Apply a user function to each image as it is at this point of the pipeline (in a batch, image by image:
    a function written for one image keeps its meaning; it is the one step here that loops per image)."""

    def __init__(self, lambd: Callable[[Any], Any]):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def _apply(self, b: _Batch, rng: Callable[[], np.random.Generator]) -> None:
        x = _from_batch(b)
        images = [x] if b.single else list(x)
        outs = [self.lambd(im) for im in images]
        y = np.stack([np.asarray(o.numpy() if isinstance(o, Tensor) else o) for o in outs])
        nb = _to_batch(y, b.channels_last, True, "Lambda")
        b.x, b.no_channel, b.owned = nb.x, nb.no_channel, False  # the result may be the caller's memory
        if nb.no_channel:
            b.changed_layout = False

    def __call__(self, img: Any) -> Any:
        """lambd(img)."""
        return self.lambd(img)
