"""Sliding windows and convolution as movement ops feeding one reduce.

Takes: tensors laid out as PyTorch's (N, C, *spatial) and the window geometry (kernel, stride,
dilation, padding).
Produces: lazy tensors. `windows` is a pure view (pad, expand, reshape, shrink, permute — no copy),
so a convolution is one REDUCE over (kernel window, input channels) of window * weight, and the
scheduler fuses a bias, an activation or an eval-mode BatchNorm into its epilogue. Its gradients
are reduce kernels too: the input gradient is a convolution of the (dilated, padded) output
gradient with the flipped, transposed weight; the weight gradient sums window * output gradient
over the batch and the output pixels.

How the windows are built (one spatial dim of size i, kernel k, stride s, dilation d, output o):
windows that do not overlap (s >= k, d = 1) are a cut to o*s viewed as (o, s) keeping the first k. Otherwise
repeat the dim e times so that k*(i+d) elements exist, cut k*(i+d), view them as (k, i+d): row j
now starts at j*(i+d), i.e. at j*d within its own copy of the dim — the j-th kernel tap shifted
by j*d; keep o*s of each row, view as (o, s) and keep the first of every s: (k, o) taps at
o*s + j*d. Index arithmetic folds the stacked views back into base + o*s + j*d.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import TensorValueError

if TYPE_CHECKING:
    from ..tensor import Tensor


# the part of the batch a weight-gradient kernel keeps in cache at once (bytes of input + output gradient)
_L2_BYTES = 256 * 1024


def _tuple(v: int | Sequence[int], n: int, name: str, op: str) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(x) for x in v)
    if len(t) == 1:
        return t * n
    if len(t) != n:
        raise TensorValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {tuple(v)}")
    return t


def out_size(i: int, k: int, s: int, d: int, pad: int = 0) -> int:
    """Output length of a window sweep: floor((i + pad - d*(k-1) - 1) / s) + 1 (pad = both sides' sum)."""
    return (i + pad - d * (k - 1) - 1) // s + 1


def windows(x: Tensor, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> Tensor:
    """(..., *spatial) -> (..., *out, *kernel): every window of the last len(kernel) dims, as a view."""
    n = len(kernel)
    lead, sp = tuple(x.shape[:-n]), tuple(x.shape[-n:])
    o = [out_size(i, k, s, d) for i, k, s, d in zip(sp, kernel, stride, dilation)]
    if any(v <= 0 for v in o):
        raise TensorValueError(f"windows: kernel {tuple(kernel)} with dilation {tuple(dilation)} does not fit the "
                               f"input's spatial size {sp}")
    keep = tuple((0, v) for v in lead)
    L = len(lead)
    if all(d == 1 and s >= k for k, s, d in zip(kernel, stride, dilation)):
        # windows that do not overlap (a 2x2 pool of stride 2): cut to o*s, view as (o, s), keep the first k
        # of each s — reshapes and shrinks only, so the gradient is a plain view back, not a sum over copies
        x = x._shrink(keep + tuple((0, ov * s) for ov, s in zip(o, stride)))
        x = x.reshape(*lead, *[v for ov, s in zip(o, stride) for v in (ov, s)])
        x = x._shrink(keep + tuple(p for ov, k in zip(o, kernel) for p in ((0, ov), (0, k))))
        return x.permute(*range(L), *[L + 2 * i for i in range(n)], *[L + 2 * i + 1 for i in range(n)])
    e = [-(-(k * (i + d)) // i) for k, i, d in zip(kernel, sp, dilation)]
    x = x.reshape(*lead, *[v for i in sp for v in (1, i)])
    x = x.expand(*lead, *[v for r, i in zip(e, sp) for v in (r, i)])
    x = x.reshape(*lead, *[r * i for r, i in zip(e, sp)])
    x = x._shrink(keep + tuple((0, k * (i + d)) for k, i, d in zip(kernel, sp, dilation)))
    x = x.reshape(*lead, *[v for k, i, d in zip(kernel, sp, dilation) for v in (k, i + d)])
    x = x._shrink(keep + tuple(p for k, ov, s in zip(kernel, o, stride) for p in ((0, k), (0, ov * s))))
    x = x.reshape(*lead, *[v for k, ov, s in zip(kernel, o, stride) for v in (k, ov, s)])
    x = x._shrink(keep + tuple(p for k, ov in zip(kernel, o) for p in ((0, k), (0, ov), (0, 1))))
    x = x.reshape(*lead, *[v for k, ov in zip(kernel, o) for v in (k, ov)])
    return x.permute(*range(L), *[L + 2 * i + 1 for i in range(n)], *[L + 2 * i for i in range(n)])


def conv(x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple[int, ...], padding: tuple[tuple[int, int], ...],
         dilation: tuple[int, ...], groups: int) -> Tensor:
    """N-d convolution (cross-correlation, as PyTorch) of checked arguments:
    x (N, G*Cg, *S), weight (G*Og, Cg, *K), padding as (before, after) per spatial dim."""
    from ..ops.gradient import CUSTOM_GRADIENTS

    n = len(stride)
    N, S = x.shape[0], tuple(x.shape[2:])
    Co, Cg, K = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    G, Og = groups, Co // groups
    xp = x._pad(((0, 0), (0, 0)) + tuple(padding)) if any(p != (0, 0) for p in padding) else x
    win = windows(xp, K, stride, dilation)  # (N, C, *Out, *K)
    Out = tuple(win.shape[2:2 + n])
    # loop space (N, G, Og, *Out, *K, Cg): the input channels innermost, where nothing about the
    # padding changes, so a masked load's lane mask is computed once per window tap
    sp = list(range(3, 3 + n))
    win = win.reshape(N, G, Cg, *Out, *K).permute(0, 1, *sp, *range(3 + n, 3 + 2 * n), 2)
    win = win.reshape(N, G, 1, *Out, *K, Cg)
    w = weight.reshape(G, Og, Cg, *K).permute(0, 1, *range(3, 3 + n), 2).reshape(1, G, Og, *(1,) * n, *K, Cg)
    prod = win * w
    out = prod.sum(tuple(range(3 + n, 4 + 2 * n)))  # (N, G, Og, *Out)
    x_uop, w_uop, x_rg, w_rg, dev = x.uop, weight.uop, x.requires_grad, weight.requires_grad, x.device

    def grads(node, ctx):  # type: ignore[no-untyped-def]
        from ..tensor import Tensor

        # the output gradient is read by two reduces, each many times over (Cin*K and N*Out/tile): stored
        # once, not recomputed from what produced it (a max-pool's routing, a BatchNorm backward) per read
        g = Tensor._from(ctx, dev).reshape(N, Co, *Out).contiguous()
        res = []
        if x_rg:
            res.append((x_uop, _input_grad(g, Tensor._from(w_uop, dev), S, stride, padding, dilation, G).uop))
        if w_rg:
            res.append((w_uop, _weight_grad(g, Tensor._from(x_uop, dev), K, stride, padding, dilation, G).uop))
        return res

    if x_rg or w_rg:
        CUSTOM_GRADIENTS[out.uop] = grads
    out = out.reshape(N, Co, *Out)
    if bias is not None:
        out = out + bias.reshape(1, Co, *(1,) * n)
    return out


def _input_grad(g: Tensor, weight: Tensor, S: tuple[int, ...], stride: Sequence[int],
                padding: Sequence[tuple[int, int]], dilation: Sequence[int], groups: int) -> Tensor:
    """dL/dx: the output gradient spread back over the windows — a transposed convolution: for stride 1
    a convolution of the gradient padded by d*(k-1) - pad with the weight flipped in space and its in/out
    channels swapped per group; for a larger stride the same phase by phase (nn/functional_conv.py)."""
    n = len(S)
    N, Co = g.shape[0], g.shape[1]
    Cg, K = weight.shape[1], tuple(weight.shape[2:])
    G, Og = groups, Co // groups
    if any(s > 1 for s in stride):  # a transposed conv phase by phase: no multiply-adds with the stride's zeros
        from .functional_conv import _polyphase_transpose

        return _polyphase_transpose(g, weight, tuple(stride), tuple(p[0] for p in padding), tuple(dilation), groups, S)
    pads = []
    for i in range(n):  # full-correlation pads, the right one cut so the result has the input's size
        span = dilation[i] * (K[i] - 1)
        lo = span - padding[i][0]
        pads.append((lo, S[i] + span - g.shape[2 + i] - lo))
    wt = weight.reshape(G, Og, Cg, *K).transpose(1, 2).reshape(G * Cg, Og, *K).flip(*range(2, 2 + n))
    neg = [(max(0, -a), max(0, -b)) for a, b in pads]
    if any(a or b for a, b in neg):
        g = g._shrink(((0, N), (0, Co)) + tuple((a, g.shape[2 + i] - b) for i, (a, b) in enumerate(neg)))
    pos = tuple((max(0, a), max(0, b)) for a, b in pads)
    return conv(g, wt, None, (1,) * n, pos, tuple(dilation), G)


def _weight_grad(g: Tensor, x: Tensor, K: tuple[int, ...], stride: Sequence[int],
                 padding: Sequence[tuple[int, int]], dilation: Sequence[int], groups: int) -> Tensor:
    """dL/dw[o, c, k] = sum over the batch and output pixels of window(x)[c, k] * g[o]: one reduce."""
    n = len(K)
    N, Co, Out = g.shape[0], g.shape[1], tuple(g.shape[2:])
    C = x.shape[1]
    G, Og, Cg = groups, Co // groups, C // groups
    # the zero border in memory (one copy of the input): the reduce then reads whole vectors with no lane
    # masks, whose per-lane bounds checks would cost more than the multiply-adds they guard here
    xp = x._pad(((0, 0), (0, 0)) + tuple(padding)).contiguous() if any(p != (0, 0) for p in padding) else x
    win = windows(xp, K, stride, dilation)  # (N, C, *Out', *K) with Out' >= Out
    win = win._shrink(((0, N), (0, C)) + tuple((0, o) for o in Out) + tuple((0, k) for k in K))
    # The batch is cut into P parts of a few images each, small enough to stay in the L2 cache while every
    # output tile sweeps them (one pass over the whole batch per tile would stream it from memory Co*C/tile
    # times); P partial sums, then their total. Loop space (P, G, Og, Cg, *K) x reduce (N/P, *Out).
    per_image = (Co + C) * math.prod(Out) * x.dtype.itemsize
    part = max(1, min(N, _L2_BYTES // max(per_image, 1)))
    while N % part:
        part -= 1
    P = N // part
    win = win.reshape(P, part, G, 1, Cg, *Out, *K)
    win = win.permute(0, 2, 3, 4, *range(5 + n, 5 + 2 * n), 1, *range(5, 5 + n))
    gg = g.reshape(P, part, G, Og, 1, *Out, *(1,) * n)
    gg = gg.permute(0, 2, 3, 4, *range(5 + n, 5 + 2 * n), 1, *range(5, 5 + n))
    dw = (win * gg).sum(tuple(range(4 + n, 5 + 2 * n)))  # (P, G, Og, Cg, *K)
    return (dw.sum(0) if P > 1 else dw.reshape(*dw.shape[1:])).reshape(Co, Cg, *K)
