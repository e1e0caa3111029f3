"""Pooling, normalization, resampling and channel dropout of `tinytorch.nn.functional`.

Takes: tensors laid out as PyTorch's (N, C, *spatial) (or (C, *spatial) without a batch for the
pools), PyTorch's argument order, defaults and keyword settings.
Produces: lazy Tensors built from Tensor ops, so they differentiate and fuse like any other
expression:
- max/avg pools are `spatial.windows` (a pure view of the padded input) feeding one reduce over the
  window axes. A max pool's gradient goes to ONE element per window, the first maximum in window
  order (the last NaN when there are NaNs), as PyTorch's; `return_indices` gives that element's flat
  index in its (unpadded) input plane.
- adaptive pools with sizes that divide are plain pools; otherwise every output bin reduces over a
  mask of its input rows/cols (bin i spans [floor(i*In/Out), ceil((i+1)*In/Out))).
- batch_norm in eval mode is elementwise math with per-channel constants (fuses into the producer's
  kernel); in training it is two reduces (mean, then mean of squared deviations) and updates the
  running statistics in place (unbiased variance), as PyTorch does.
- interpolate resamples one spatial dim at a time with a (Out, In) weight matrix computed on the host
  from the sizes (PyTorch's float32 source-index arithmetic); an integer nearest upscale is a view.
Bad arguments raise when the op is built, naming the op, the input's shape and what would fit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dtype import dtypes
from ..engine.realize import defer, run_pending
from ..errors import DTypeError, TensorValueError
from ..ops.uop import Ops
from ..tensor import Tensor, no_grad
from .spatial import windows

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool3d", "batch_norm", "group_norm", "instance_norm",
           "interpolate", "upsample", "dropout1d", "dropout2d", "dropout3d"]


# argument checks ---------------------------------------------------------------------------------
def _tuple(v: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    try:
        t = tuple(int(x) for x in v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(t) == 1:
        return t * n
    if len(t) != n:
        raise TensorValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {tuple(v)}")
    return t


def _batched(x: Any, n: int, op: str) -> tuple[Tensor, bool]:
    """(N, C, *S) as is, (C, *S) with a batch dim of 1 added; the flag says whether one was added."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim == n + 2:
        return x, False
    if x.ndim == n + 1:
        return x.unsqueeze(0), True
    raise TensorValueError(f"{op}: expected a {n + 1}-D (C, *spatial) or {n + 2}-D (N, C, *spatial) input, got "
                           f"shape {tuple(x.shape)}")


def _pool_geometry(x: Tensor, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
                   op: str) -> tuple[tuple[int, ...], ...]:
    """Checked (kernel, stride, padding, dilation, output size) of an n-d pool (PyTorch's output size rule)."""
    k = _tuple(kernel_size, n, "kernel_size", op)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _tuple(stride, n, "stride", op)
    p = _tuple(padding, n, "padding", op)
    d = _tuple(dilation, n, "dilation", op)
    S = tuple(x.shape[2:])
    if any(v <= 0 for v in k):
        raise TensorValueError(f"{op}: kernel_size must be greater than zero, but got {k} (input shape "
                               f"{tuple(x.shape)})")
    if any(v <= 0 for v in s):
        raise TensorValueError(f"{op}: stride should not be zero (or negative), got {s}")
    if any(v <= 0 for v in d):
        raise TensorValueError(f"{op}: dilation should be greater than zero, got {d}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or pp > kk // 2:
            raise TensorValueError(f"{op}: pad should be at most half of effective kernel size, but got pad={pp}, "
                                   f"kernel_size={kk} and dilation={dd} (input shape {tuple(x.shape)})")
    out = []
    for i, kk, ss, pp, dd in zip(S, k, s, p, d):
        span = i + 2 * pp - dd * (kk - 1) - 1
        o = (span + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (o - 1) * ss >= i + pp:  # the last window must start inside the input or the left pad
            o -= 1
        out.append(o)
    if any(o <= 0 for o in out):
        raise TensorValueError(f"{op}: Given input size: {tuple(x.shape[1:])}. Calculated output size: "
                               f"{(x.shape[1], *out)}. Output size is too small (kernel_size={k}, stride={s}, "
                               f"padding={p}, dilation={d}: the padded input must hold one dilated kernel)")
    return k, s, p, d, tuple(out)


def _padded_windows(x: Tensor, k: Sequence[int], s: Sequence[int], p: Sequence[int], d: Sequence[int],
                    out: Sequence[int], value: Any) -> Tensor:
    """(N, C, *S) -> (N, C, *out, *k): the windows of x padded by p on the left and, on the right, to exactly
    the length `out` windows need (ceil_mode windows may run past the right pad)."""
    pairs = tuple((pp, (o - 1) * ss + dd * (kk - 1) + 1 - i - pp)
                  for i, kk, ss, pp, dd, o in zip(x.shape[2:], k, s, p, d, out))
    xp = x._pad(((0, 0), (0, 0)) + pairs, value) if any(pr != (0, 0) for pr in pairs) else x
    return windows(xp, k, s, d)  # (non-overlapping windows come back as a reshape: their gradient is a view)


def _lowest(x: Tensor) -> Any:
    """The pad value a max ignores: -inf for floats, the smallest value of an integer dtype."""
    if x.dtype.is_float:
        return -math.inf
    if x.dtype.is_bool:
        return False
    return int(np.iinfo(x.dtype.np).min)


# max with PyTorch's gradient routing -----------------------------------------------------------------
def _tap_index(w: Tensor, m: Tensor, n: int) -> Tensor:
    """Flat index (over the last n axes of w, row-major) of the element a max picks: the first maximum,
    or the last NaN when there is one (PyTorch's scan order). m: the max, keepdim shape."""
    K = tuple(w.shape[-n:])
    kn = math.prod(K)
    axes = tuple(range(w.ndim - n, w.ndim))
    flat = Tensor.arange(kn, dtype=dtypes.int32, device=w.device).reshape(*K)
    score = (w == m)._where(kn - flat, 0)  # the first maximum scores highest
    if w.dtype.is_float:
        score = (w != w)._where(2 * kn + flat, score)  # any NaN beats every maximum, the last NaN first
    best = score.amax(axes, keepdim=True)
    return (best >= 2 * kn)._where(best - 2 * kn, kn - best) if w.dtype.is_float else kn - best


def _max_first(w: Tensor, n: int, spread: Any = None) -> Tensor:
    """max over the last n axes of w (those axes dropped), whose gradient goes to the one element _tap_index
    picks: into w (and on through its view), or, given `spread` = (x, kernel, stride, padding, dilation) of
    overlapping windows, straight into x by _spread_taps."""
    from ..ops.gradient import CUSTOM_GRADIENTS

    axes = tuple(range(w.ndim - n, w.ndim))
    m = w._reduce(Ops.MAX, axes, True, "max_pool")  # one REDUCE node, the keepdim shape
    out = m.reshape(*m.shape[:w.ndim - n])
    if not m.requires_grad:
        return out
    w_uop, dev, K, keep, out_uop = w.uop, w.device, tuple(w.shape[-n:]), tuple(m.shape), out.uop
    x_uop = spread[0].uop if spread is not None else None

    def grads(node, ctx):  # type: ignore[no-untyped-def]
        # the max read through the output's node: a forward result realized before is reused, not recomputed
        wt, mt = Tensor._from(w_uop, dev), Tensor._from(out_uop, dev).reshape(*keep)
        tap = _tap_index(wt, mt, n)
        g = Tensor._from(ctx, dev)
        if spread is not None:
            _, k, s, p, d = spread
            # the taps stored once (contiguous), so each spread view below reads them instead of a reduce
            taps, gg = tap.reshape(*out.shape).contiguous(), g.reshape(*out.shape)
            return [(x_uop, _spread_taps(lambda t: (taps == t)._where(gg, 0.0), k, s, p, d,
                                         tuple(spread[0].shape[2:])).uop)]
        flat = Tensor.arange(math.prod(K), dtype=dtypes.int32, device=dev).reshape(*K)
        return [(w_uop, (flat == tap)._where(g, 0.0).uop)]

    CUSTOM_GRADIENTS[m.uop] = grads
    return out


def _spread_taps(per_tap: Any, k: Sequence[int], s: Sequence[int], p: Sequence[int], d: Sequence[int],
                 S: Sequence[int]) -> Tensor:
    """(N, C, *S) gradient of overlapping windows: for each flat kernel tap t, per_tap(t) (N, C, *out) (the
    output gradient that reaches tap t of each window) spread by the stride (s - 1 zeros between elements) and
    shifted to input position o*s - p + t*d; the sum of these padded views is one elementwise kernel (the
    gradient of `windows` as a view is a sum over its repeated copies instead, with index arithmetic per
    element)."""
    n = len(k)
    total = None
    for t, taps in enumerate(itertools.product(*[range(kk) for kk in k])):
        y = per_tap(t)  # (N, C, *out)
        for j in range(n):
            ax = 2 + j
            if s[j] > 1:  # o -> (o, s) with zeros after each element -> o*s
                y = y.unsqueeze(ax + 1)
                y = y._pad(tuple((0, s[j] - 1) if a == ax + 1 else (0, 0) for a in range(y.ndim))).flatten(ax, ax + 1)
            off = taps[j] * d[j] - p[j]
            y = y._pad(tuple((off, S[j] - off - y.shape[ax]) if a == ax else (0, 0) for a in range(y.ndim)))
        total = y if total is None else total + y
    assert total is not None
    return total


def _plane_index(tap: Tensor, k: Sequence[int], s: Sequence[int], p: Sequence[int], d: Sequence[int],
                 S: Sequence[int]) -> Tensor:
    """(N, C, *out) flat window taps -> int64 flat indices h*W + w of the picked elements in their input plane."""
    n = len(k)
    idx = None
    for j in range(n):
        kj = (tap // math.prod(k[j + 1:])) % k[j]  # the tap's position along dim j
        o = Tensor.arange(tap.shape[2 + j], dtype=dtypes.int32, device=tap.device).reshape(
            *[tap.shape[2 + j] if i == j else 1 for i in range(n)])
        pos = o * s[j] - p[j] + kj * d[j]
        term = pos.cast(dtypes.int64) * math.prod(S[j + 1:])
        idx = term if idx is None else idx + term
    assert idx is not None
    return idx.detach()


def _max_pool(x: Any, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
              return_indices: bool, op: str) -> Any:
    x, unbatched = _batched(x, n, op)
    k, s, p, d, out = _pool_geometry(x, n, kernel_size, stride, padding, dilation, ceil_mode, op)
    w = _padded_windows(x, k, s, p, d, out, _lowest(x))  # (N, C, *out, *k)
    tiled = all(ss == kk for ss, kk in zip(s, k)) and all(dd == 1 for dd in d)
    vals = _max_first(w, n, None if tiled else (x, k, s, p, d))  # (N, C, *out)
    if not return_indices:
        return vals.squeeze(0) if unbatched else vals
    tap = _tap_index(w.detach(), vals.detach().reshape(*vals.shape, *(1,) * n), n).reshape(*vals.shape)
    if unbatched:
        vals = vals.squeeze(0)
    idx = _plane_index(tap, k, s, p, d, tuple(x.shape[2:]))
    return vals, (idx.squeeze(0) if unbatched else idx)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """y[n, c, o] = max_k x[n, c, o*s - p + k*d] (padding is -inf); with return_indices also the int64 position
    (in the unpadded row) of the first maximum"""
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool1d")


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """y[n, c, i, j] = max over the (kh, kw) window at (i*sh - ph, j*sw - pw) (dilated, -inf padding); with
    return_indices also the int64 flat index h*W + w of the window's first maximum in its input plane"""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool2d")


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """max over (kd, kh, kw) windows of (N, C, D, H, W); indices are flat d*H*W + h*W + w"""
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool3d")


def _window_sum(w: Tensor, n: int, spread: Any) -> Tensor:
    """sum over the last n axes of w (dropped); given `spread` = (x, kernel, stride, padding, dilation) of
    overlapping windows, the gradient goes straight into x by _spread_taps."""
    from ..ops.gradient import CUSTOM_GRADIENTS

    m = w._reduce(Ops.ADD, tuple(range(w.ndim - n, w.ndim)), True, "avg_pool")
    out = m.reshape(*m.shape[:w.ndim - n])
    if spread is None or not m.requires_grad:
        return out
    x, k, s, p, d = spread
    x_uop, dev, shape, S = x.uop, x.device, tuple(out.shape), tuple(x.shape[2:])

    def grads(node, ctx):  # type: ignore[no-untyped-def]
        g = Tensor._from(ctx, dev).reshape(*shape)
        return [(x_uop, _spread_taps(lambda t: g, k, s, p, d, S).uop)]

    CUSTOM_GRADIENTS[m.uop] = grads
    return out


def _window_counts(S: Sequence[int], k: Sequence[int], s: Sequence[int], p: Sequence[int], out: Sequence[int],
                   include_pad: bool) -> np.ndarray:
    """(*out) number of elements PyTorch divides each window's sum by: the window cut to the padded input
    (include_pad) or to the input itself."""
    counts = np.ones((), np.float64)
    for i, kk, ss, pp, o in zip(S, k, s, p, out):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, i + pp)
        c = end - start if include_pad else np.minimum(end, i) - np.maximum(start, 0)
        counts = np.multiply.outer(counts, c.astype(np.float64))
    return counts


def _avg_pool(x: Any, n: int, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, count_include_pad: bool,
              divisor_override: Any, op: str) -> Tensor:
    x, unbatched = _batched(x, n, op)
    if not x.dtype.is_float:
        raise DTypeError(f"{op}: expected a floating point input, got {x.dtype!r}")
    k, s, p, d, out = _pool_geometry(x, n, kernel_size, stride, padding, 1, ceil_mode, op)
    w = _padded_windows(x, k, s, p, d, out, 0.0)
    total = _window_sum(w, n, None if all(ss == kk for ss, kk in zip(s, k)) else (x, k, s, p, d))  # (N, C, *out)
    if divisor_override is not None:
        if int(divisor_override) == 0:
            raise TensorValueError(f"{op}: divisor must be not zero")
        y = total / float(divisor_override)
    else:
        counts = _window_counts(tuple(x.shape[2:]), k, s, p, out, count_include_pad)
        if np.all(counts == counts.flat[0]):
            y = total / float(counts.flat[0])
        else:
            y = total / Tensor(counts.astype(x.dtype.np), dtype=x.dtype, device=x.device)
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """y[n, c, o] = sum_k x[n, c, o*s - p + k] / count (count: k, or the non-pad elements if not count_include_pad)"""
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """y = sum of the (kh, kw) window (zero padding) / (divisor_override, or kh*kw cut to the padded input,
    or the number of non-pad elements if not count_include_pad)"""
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "avg_pool2d")


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """avg_pool2d's rule over (kd, kh, kw) windows of (N, C, D, H, W)"""
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "avg_pool3d")


# adaptive pools --------------------------------------------------------------------------------------
def _adaptive_sizes(x: Tensor, n: int, output_size: Any, op: str) -> tuple[int, ...]:
    S = tuple(x.shape[2:])
    if output_size is None or isinstance(output_size, (int, np.integer)):
        sizes: list[Any] = [output_size] * n
    else:
        sizes = list(output_size)
        if len(sizes) == 1:
            sizes = sizes * n
        if len(sizes) != n:
            raise TensorValueError(f"{op}: output_size must be an int or a tuple of {n} ints (or None), got "
                                   f"{output_size!r}")
    out = tuple(i if o is None else int(o) for o, i in zip(sizes, S))
    if any(o < 0 for o in out):
        raise TensorValueError(f"{op}: output_size must be >= 0, got {out} (input shape {tuple(x.shape)})")
    if any(i == 0 for i in S) and math.prod(out) > 0:
        raise TensorValueError(f"{op}: input of shape {tuple(x.shape)} has an empty spatial dim")
    return out


def _bins(i: int, o: int) -> tuple[np.ndarray, np.ndarray]:
    """(o,) start and end of PyTorch's adaptive bins over i elements: [floor(j*i/o), ceil((j+1)*i/o))."""
    j = np.arange(o)
    return (j * i) // o, -((-(j + 1) * i) // o)


def _bin_mask(S: Sequence[int], out: Sequence[int], device: str) -> Tensor:
    """(*out, *S) bool: element (of S) belongs to the output bin (of out)."""
    n = len(S)
    mask = np.ones((1,) * (2 * n), bool)
    for j, (i, o) in enumerate(zip(S, out)):
        st, en = _bins(i, o)
        pos = np.arange(i)
        m = (pos[None, :] >= st[:, None]) & (pos[None, :] < en[:, None])  # (o, i)
        shape = [1] * (2 * n)
        shape[j], shape[n + j] = o, i
        mask = mask & m.reshape(shape)
    return Tensor(mask, device=device)


def _adaptive_pool(x: Any, n: int, output_size: Any, kind: str, return_indices: bool, op: str) -> Any:
    x, unbatched = _batched(x, n, op)
    out = _adaptive_sizes(x, n, output_size, op)
    S = tuple(x.shape[2:])
    N, C = x.shape[0], x.shape[1]
    fix = (lambda t: t.squeeze(0)) if unbatched else (lambda t: t)
    if math.prod(out) == 0 or N * C == 0:
        z = Tensor.zeros(N, C, *out, dtype=x.dtype, device=x.device)
        if kind == "avg" or not return_indices:
            return fix(z)
        return fix(z), fix(Tensor.zeros(N, C, *out, dtype=dtypes.int64, device=x.device))
    if all(i % o == 0 for i, o in zip(S, out)):  # equal bins: a plain pool with kernel = stride = In/Out
        k = tuple(i // o for i, o in zip(S, out))
        if kind == "avg":
            if not x.dtype.is_float:
                raise DTypeError(f"{op}: expected a floating point input, got {x.dtype!r}")
            w = windows(x, k, k, (1,) * n)
            return fix(w.mean(tuple(range(2 + n, 2 + 2 * n))))
        r = _max_pool(x, n, k, k, 0, 1, False, return_indices, op)
        return (fix(r[0]), fix(r[1])) if return_indices else fix(r)
    mask = _bin_mask(S, out, x.device)  # (*out, *S)
    xe = x.reshape(N, C, *(1,) * n, *S)  # (N, C, *out, *S) by broadcasting
    if kind == "avg":
        if not x.dtype.is_float:
            raise DTypeError(f"{op}: expected a floating point input, got {x.dtype!r}")
        counts = np.ones((), np.float64)
        for i, o in zip(S, out):
            st, en = _bins(i, o)
            counts = np.multiply.outer(counts, (en - st).astype(np.float64))
        total = mask._where(xe, 0.0).sum(tuple(range(2 + n, 2 + 2 * n)))
        return fix(total / Tensor(counts.astype(x.dtype.np), dtype=x.dtype, device=x.device))
    w = mask._where(xe, _lowest(x))  # (N, C, *out, *S): outside the bin never wins
    vals = _max_first(w, n)  # (N, C, *out)
    if not return_indices:
        return fix(vals)
    m = vals.detach().reshape(N, C, *out, *(1,) * n)
    idx = _tap_index(w.detach(), m, n).reshape(N, C, *out).cast(dtypes.int64).detach()
    return fix(vals), fix(idx)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """(N, C, L) -> (N, C, out): mean over bins [floor(i*L/out), ceil((i+1)*L/out))"""
    return _adaptive_pool(input, 1, output_size, "avg", False, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """(N, C, H, W) -> (N, C, oh, ow): mean over bins [floor(i*H/oh), ceil((i+1)*H/oh)) x (same for W);
    None in output_size keeps that dim"""
    return _adaptive_pool(input, 2, output_size, "avg", False, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """(N, C, D, H, W) -> (N, C, od, oh, ow): mean over PyTorch's adaptive bins"""
    return _adaptive_pool(input, 3, output_size, "avg", False, "adaptive_avg_pool3d")


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """(N, C, L) -> (N, C, out): max over bins [floor(i*L/out), ceil((i+1)*L/out)) (and the int64 index)"""
    return _adaptive_pool(input, 1, output_size, "max", return_indices, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """(N, C, H, W) -> (N, C, oh, ow): max over PyTorch's adaptive bins (and the int64 flat index h*W + w)"""
    return _adaptive_pool(input, 2, output_size, "max", return_indices, "adaptive_max_pool2d")


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """(N, C, D, H, W) -> (N, C, od, oh, ow): max over PyTorch's adaptive bins (and the flat index)"""
    return _adaptive_pool(input, 3, output_size, "max", return_indices, "adaptive_max_pool3d")


# normalization -----------------------------------------------------------------------------------------
def _per_channel(t: Any, C: int, name: str, x: Tensor, op: str) -> Tensor | None:
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    if t.numel() != C:
        raise TensorValueError(f"{op}: {name} should contain {C} elements not {t.numel()} (one per channel of the "
                               f"input of shape {tuple(x.shape)})")
    return t


def _update_running(running: Tensor | None, batch: Tensor, momentum: Any) -> None:
    """running <- (1 - momentum) * running + momentum * batch, in place and outside the autograd graph."""
    if running is None:
        return
    run_pending(running)  # the last step's update, if nothing realized it since: at most one ever waits
    with no_grad():
        b = batch.detach().reshape(*running.shape).cast(running.dtype)
        running.assign(running * (1 - momentum) + b * momentum)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1); training: batch statistics over
    (N, *spatial) (biased var), running_mean/var <- (1 - momentum) * running + momentum * batch (unbiased var),
    in place; eval: the running statistics"""
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, None)


def _batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None,
                bias: Tensor | None, training: bool, momentum: Any, eps: float, counter: Tensor | None) -> Tensor:
    """batch_norm; `counter` (a module's num_batches_tracked, updated lazily) is realized with the statistics."""
    op = "batch_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    x = input
    if x.ndim < 2:
        raise TensorValueError(f"{op}: expected an input of shape (N, C) or (N, C, *spatial), got {tuple(x.shape)}")
    if not x.dtype.is_float:
        raise DTypeError(f"{op}: expected a floating point input, got {x.dtype!r}")
    C = x.shape[1]
    rm = _per_channel(running_mean, C, "running_mean", x, op)
    rv = _per_channel(running_var, C, "running_var", x, op)
    w = _per_channel(weight, C, "weight", x, op)
    b = _per_channel(bias, C, "bias", x, op)
    shape = (1, C) + (1,) * (x.ndim - 2)
    if training:
        n = x.numel() // C if C else 0
        if n <= 1:
            raise TensorValueError(f"Expected more than 1 value per channel when training, got input size "
                                   f"{tuple(x.shape)}")
        axes = (0, *range(2, x.ndim))
        mean = x.mean(axes, keepdim=True)  # (1, C, 1, ...)
        d = x - mean
        var = (d * d).mean(axes, keepdim=True)  # biased, for the normalization
        _update_running(rm, mean, momentum)
        _update_running(rv, var * (n / (n - 1)), momentum)
        if rm is not None or rv is not None:
            defer(*[t for t in (rm, rv, counter) if t is not None])
        scale = (var + eps).rsqrt()
        y = d * (scale if w is None else scale * w.reshape(*shape).cast(x.dtype))
    else:
        if rm is None or rv is None:
            raise TensorValueError(f"{op}: running_mean and running_var must be defined in evaluation mode "
                                   f"(training=False)")
        run_pending(rm, rv)  # plain buffers here, so the normalization folds into the producer's kernel
        # per-channel constants broadcast over (N, *spatial): elementwise, fused into the producer's kernel (a
        # division by the broadcast sqrt, not a product with 1/sqrt: the scheduler stores a broadcast value that
        # costs more than a few ops in a kernel of its own)
        y = (x - rm.reshape(*shape).cast(x.dtype)) / (rv.reshape(*shape).cast(x.dtype) + eps).sqrt()
        if w is not None:
            y = y * w.reshape(*shape).cast(x.dtype)
    return y if b is None else y + b.reshape(*shape).cast(x.dtype)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) over each group of C/num_groups channels (and all spatial positions) of each
    sample, then * weight + bias per channel"""
    op = "group_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    x = input
    if x.ndim < 2:
        raise TensorValueError(f"{op}: expected an input of shape (N, C, *), got {tuple(x.shape)}")
    if not x.dtype.is_float:
        raise DTypeError(f"{op}: expected a floating point input, got {x.dtype!r}")
    N, C = x.shape[0], x.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise TensorValueError(f"{op}: Expected number of channels in input to be divisible by num_groups, but got "
                               f"input of shape {list(x.shape)} and num_groups={num_groups}")
    w = _per_channel(weight, C, "weight", x, op)
    b = _per_channel(bias, C, "bias", x, op)
    g = x.reshape(N, num_groups, -1)
    mean = g.mean(2, keepdim=True)
    d = g - mean
    var = (d * d).mean(2, keepdim=True)
    y = (d * (var + eps).rsqrt()).reshape(*x.shape)
    shape = (1, C) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(*shape).cast(x.dtype)
    return y if b is None else y + b.reshape(*shape).cast(x.dtype)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the spatial dims of each (sample, channel), * weight + bias per channel;
    running statistics (if given) move toward the batch average of the per-instance ones"""
    op = "instance_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    x = input
    if x.ndim < 3:
        raise TensorValueError(f"{op}: expected an input of shape (N, C, *spatial), got {tuple(x.shape)}")
    if not x.dtype.is_float:
        raise DTypeError(f"{op}: expected a floating point input, got {x.dtype!r}")
    C = x.shape[1]
    rm = _per_channel(running_mean, C, "running_mean", x, op)
    rv = _per_channel(running_var, C, "running_var", x, op)
    if not use_input_stats:
        return batch_norm(x, rm, rv, weight, bias, False, momentum, eps)
    w = _per_channel(weight, C, "weight", x, op)
    b = _per_channel(bias, C, "bias", x, op)
    n = math.prod(x.shape[2:])
    if n <= 1:
        raise TensorValueError(f"Expected more than 1 spatial element when training, got input size "
                               f"{tuple(x.shape)}")
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axes, keepdim=True)  # (N, C, 1, ...)
    d = x - mean
    var = (d * d).mean(axes, keepdim=True)
    _update_running(rm, mean.mean(0), momentum)
    _update_running(rv, (var * (n / (n - 1))).mean(0), momentum)
    if rm is not None or rv is not None:
        defer(*[t for t in (rm, rv) if t is not None])
    y = d * (var + eps).rsqrt()
    shape = (1, C) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(*shape).cast(x.dtype)
    return y if b is None else y + b.reshape(*shape).cast(x.dtype)


# resampling --------------------------------------------------------------------------------------------
_LINEAR = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _scale(i: int, o: int, align_corners: bool, scale: float | None) -> np.float32:
    """PyTorch's float32 ratio between source and destination coordinates of one dim."""
    if align_corners:
        return np.float32((i - 1) / (o - 1)) if o > 1 else np.float32(0)
    if scale is not None and scale > 0:
        return np.float32(1.0 / scale)
    return np.float32(np.float32(i) / np.float32(o))


def _cubic(t: np.ndarray) -> list[np.ndarray]:
    """Keys' cubic convolution weights (A = -0.75) of the four taps around a fractional position t."""
    A = np.float32(-0.75)

    def near(v: np.ndarray) -> np.ndarray:  # |v| <= 1
        return ((A + 2) * v - (A + 3)) * v * v + 1

    def far(v: np.ndarray) -> np.ndarray:  # 1 < |v| < 2
        return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A
    one = np.float32(1)
    return [far(t + one), near(t), near(one - t), far(one - t + one)]


def _resample_matrix(i: int, o: int, mode: str, align_corners: bool, scale: float | None) -> np.ndarray:
    """(o, i) float32 weights: output position j of one dim = sum_k A[j, k] * input k (PyTorch's index math)."""
    A = np.zeros((o, i), np.float32)
    j = np.arange(o)
    rows = np.arange(o)
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and o == i:
            src = j
        elif mode == "nearest" and o == 2 * i:
            src = j >> 1
        else:
            s = _scale(i, o, False, scale)
            off = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
            src = np.minimum(np.floor((j.astype(np.float32) + off) * s).astype(np.int64), i - 1)
        A[rows, src] = 1
        return A
    s = _scale(i, o, align_corners, scale)
    jf = j.astype(np.float32)
    cubic = mode == "bicubic"
    real = s * jf if align_corners else s * (jf + np.float32(0.5)) - np.float32(0.5)
    if not align_corners and not cubic:
        real = np.maximum(real, np.float32(0)).astype(np.float32)
    idx = np.minimum(np.floor(real).astype(np.int64), i - 1)
    lam = np.clip(real - idx.astype(np.float32), 0, 1).astype(np.float32)
    if not cubic:
        nxt = np.minimum(idx + 1, i - 1)
        np.add.at(A, (rows, idx), np.float32(1) - lam)
        np.add.at(A, (rows, nxt), lam)
        return A
    for tap, wt in enumerate(_cubic(lam)):
        np.add.at(A, (rows, np.clip(idx - 1 + tap, 0, i - 1)), wt.astype(np.float32))
    return A


def _resample_dim(x: Tensor, dim: int, A: np.ndarray, mode: str) -> Tensor:
    """Apply the (o, i) matrix A along dim of x: a view for an integer nearest upscale/downscale, else a reduce
    over the masked products (zero weights never multiply an inf or NaN)."""
    o, i = A.shape
    src = np.argmax(A, axis=1)
    if mode.startswith("nearest") and o % i == 0 and np.array_equal(src, np.arange(o) // (o // i)):
        f = o // i  # every input repeated f times: a broadcast view
        xs = x.unsqueeze(dim + 1)
        return xs.expand(*xs.shape[:dim + 1], f, *xs.shape[dim + 2:]).flatten(dim, dim + 1)
    if mode.startswith("nearest") and i % o == 0 and np.array_equal(src, np.arange(o) * (i // o)):
        f = i // o  # every f-th input: a strided view
        xs = x.unflatten(dim, (o, f))
        return xs._shrink(tuple((0, 1) if a == dim + 1 else (0, v) for a, v in enumerate(xs.shape))).squeeze(dim + 1)
    xt = x.transpose(dim, -1).unsqueeze(-2)  # (..., 1, i)
    w = Tensor(A.astype(x.dtype.np), dtype=x.dtype, device=x.device)
    nz = Tensor(A != 0, device=x.device)
    y = nz._where(xt * w, 0.0).sum(-1)  # (..., o)
    return y.transpose(dim, -1)


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dims of (N, C, *spatial) to `size` (or floor(size * scale_factor)): modes 'nearest'
    (src = floor(dst * in/out)), 'nearest-exact', 'linear'/'bilinear'/'trilinear' (align_corners: corner pixels
    map to corner pixels, else pixel centers), 'bicubic' (A = -0.75), 'area' (adaptive average)"""
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    x = input
    if mode not in _MODES:
        raise NotImplementedError(f"{op}: mode {mode!r} is not supported (expected one of {', '.join(_MODES)})")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise TensorValueError("align_corners option can only be set with the interpolating modes: "
                                   "linear | bilinear | bicubic | trilinear")
        align_corners = False
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    n = x.ndim - 2
    if n < 1:
        raise TensorValueError(f"{op}: expected an input of shape (N, C, *spatial) with 1 to 3 spatial dims, got "
                               f"{tuple(x.shape)}")
    need = _LINEAR.get(mode)
    if need is not None and n != need:
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs {need + 2}D input")
    if not x.dtype.is_float:
        raise DTypeError(f"{op}: expected a floating point input, got {x.dtype!r}")
    if size is not None and scale_factor is not None:
        raise TensorValueError("only one of size or scale_factor should be defined")
    S = tuple(x.shape[2:])
    scales: list[float | None]
    if size is not None:
        out = (int(size),) * n if isinstance(size, (int, np.integer)) else tuple(int(v) for v in size)
        if len(out) != n:
            raise TensorValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                   f"with spatial dimensions of {list(S)} and output size of {tuple(size)}. Please "
                                   f"provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                   f"(o1, o2, ...,oK) format.")
        scales = [None] * n
    elif scale_factor is not None:
        sf = [float(scale_factor)] * n if isinstance(scale_factor, (int, float)) else [float(v) for v in scale_factor]
        if len(sf) != n:
            raise TensorValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                   f"input with spatial dimensions of {list(S)} and scale_factor of shape "
                                   f"{tuple(scale_factor)}.")
        out = tuple(math.floor(float(i) * f) for i, f in zip(S, sf))
        scales = [None] * n if recompute_scale_factor else list(sf)
    else:
        raise TensorValueError("either size or scale_factor should be defined")
    if any(v <= 0 for v in out) or any(v <= 0 for v in S):
        raise TensorValueError(f"{op}: Input and output sizes should be greater than 0, but got input {S} output "
                               f"{out} (input shape {tuple(x.shape)})")
    if mode == "area":
        return _adaptive_pool(x, n, out, "avg", False, op)
    y = x
    for j in range(n):
        if out[j] == S[j] and (mode.startswith("nearest") or (scales[j] in (None, 1.0))):
            continue  # the identity
        y = _resample_dim(y, 2 + j, _resample_matrix(S[j], out[j], mode, bool(align_corners), scales[j]), mode)
    return y


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """interpolate(input, size, scale_factor, mode, align_corners) (PyTorch's deprecated name)"""
    return interpolate(input, size, scale_factor, mode, align_corners)


# channel dropout ---------------------------------------------------------------------------------------
def _channel_dropout(x: Any, p: float, training: bool, inplace: bool, n: int, op: str) -> Tensor:
    """Zero whole channels (every spatial element of an (N, C) pair) with probability p, scale the rest 1/(1-p)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if not 0.0 <= p <= 1.0:
        raise TensorValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if x.ndim not in (n + 1, n + 2):
        raise TensorValueError(f"{op}: Expected {n + 1}D or {n + 2}D input, but received a {x.ndim}D input of shape "
                               f"{tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    lead = tuple(x.shape[:x.ndim - n])  # (N, C) or (C,)
    if p == 1.0:
        out = x * 0
    else:
        keep = Tensor.rand_graph(*lead, device=x.device) >= p  # P(drop) = p, one draw per channel
        keep = keep.reshape(*lead, *(1,) * n)
        out = keep._where(x * (1.0 / (1.0 - p)), 0)
    if not inplace:
        return out
    write = getattr(x, "_inplace", None)
    return write(out, op + "_") if write is not None else x.assign(out.cast(x.dtype))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, L) / (C, L) with probability p (training), scaling the kept ones by 1/(1-p)"""
    return _channel_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, H, W) / (C, H, W) with probability p (training), scaling the kept ones by
    1/(1-p); a 3-D input is taken as (N, C, L) with a warning, as PyTorch does"""
    if isinstance(input, Tensor) and input.ndim == 3:
        import warnings
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This "
                      "behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
        return _channel_dropout(input, p, training, inplace, 1, "dropout2d")
    return _channel_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each channel of (N, C, D, H, W) / (C, D, H, W) with probability p (training), scaling by 1/(1-p)"""
    return _channel_dropout(input, p, training, inplace, 3, "dropout3d")
