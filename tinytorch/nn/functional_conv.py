"""Convolutions, transposed convolutions, padding modes and im2col (unfold / fold) as functions of Tensors.

Takes: tensors laid out as PyTorch's — input (N, C, *spatial) or unbatched (C, *spatial), conv weight
(C_out, C_in/groups, *kernel), transposed-conv weight (C_in, C_out/groups, *kernel) — and PyTorch's
arguments, names, order and defaults (stride, padding as int / tuple / "same" / "valid", dilation,
groups, output_padding).
Produces: lazy Tensors. A convolution is `spatial.conv`: windows of the padded input (a view) feeding
one reduce. A transposed convolution is that same conv of the stride-dilated, padded input with the
flipped, group-transposed weight. `pad`'s reflect / replicate / circular modes are shrink, flip,
expand and cat views; `unfold` is a window view and `fold`, its adjoint, a sum of one padded view per
kernel tap. Every function checks its arguments when it is called and raises naming the op, the
shapes and what would fit, so no kernel ever reads outside its buffers.
"""

from __future__ import annotations

import builtins
import itertools
import operator
from collections.abc import Sequence
from typing import Any

from ..dtype import dtypes
from ..errors import DTypeError, TensorValueError
from ..tensor import Tensor
from ..tensor.movement import cat
from . import spatial

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "pad",
           "unfold", "fold"]

_Size = int | Sequence[int]


def _ntuple(v: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    """An int or a sequence of 1 or n ints -> n ints (PyTorch's rule for stride, padding, dilation, ...)."""
    if isinstance(v, builtins.bool) or isinstance(v, str) or not (hasattr(v, "__index__") or isinstance(v, Sequence)):
        raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of {n} ints, not {type(v).__name__}")
    if hasattr(v, "__index__"):
        return (operator.index(v),) * n
    t = []
    for e in v:
        if isinstance(e, builtins.bool) or not hasattr(e, "__index__"):
            raise TypeError(f"{op}(): argument '{name}' must be a tuple of ints, but found element of type "
                            f"{type(e).__name__}")
        t.append(operator.index(e))
    if len(t) == 1:
        return tuple(t) * n
    if len(t) != n:
        raise TensorValueError(f"{op}: expected {name} to be a single integer value or a list of {n} values to "
                               f"match the convolution dimensions, but got {name}={t}")
    return tuple(t)


def _fmt(t: Sequence[int]) -> str:
    return "(" + " x ".join(str(v) for v in t) + ")"


def _check_tensors(op: str, input: Any, weight: Any, bias: Any, n: int, transposed: bool) -> None:
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be a Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}(): argument 'bias' must be a Tensor or None, not {type(bias).__name__}")
    dt = input.dtype
    if dt == dtypes.bool or (transposed and dt.is_int and dt != dtypes.int64):
        # PyTorch's CPU kernels: no bool convolution; transposed ones only for floats and int64
        raise NotImplementedError(f"\"{op}\" not implemented for '{dt.name}' (input of shape {input.shape})")
    if weight.dtype != dt:
        raise DTypeError(f"{op}: Input type ({dt.name}) and weight type ({weight.dtype.name}) should be the same "
                         f"(input {input.shape}, weight {weight.shape}); cast one with .to()")
    if bias is not None and bias.dtype != dt:
        raise DTypeError(f"{op}: Input type ({dt.name}) and bias type ({bias.dtype.name}) should be the same")
    what = "(C_in, C_out/groups" if transposed else "(C_out, C_in/groups"
    sp = ", ".join(f"k{i}" for i in range(n)) if n > 1 else "k"
    if input.ndim not in (n + 1, n + 2):
        raise TensorValueError(f"{op}: Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {op}, but got "
                               f"input of size: {list(input.shape)} (weight {weight.shape})")
    if weight.ndim != n + 2:
        raise TensorValueError(f"{op}: weight must be {n + 2}-D {what}, {sp}), got weight of shape {weight.shape} "
                               f"(input {input.shape})")


def _check_geometry(op: str, stride: tuple[int, ...], dilation: tuple[int, ...], groups: int) -> None:
    if isinstance(groups, builtins.bool) or not isinstance(groups, int):
        raise TypeError(f"{op}(): argument 'groups' must be int, not {type(groups).__name__}")
    if groups <= 0:
        raise TensorValueError(f"{op}: non-positive groups is not supported (got groups={groups})")
    if any(s <= 0 for s in stride):
        raise TensorValueError(f"{op}: non-positive stride is not supported (got stride={stride})")
    if any(d <= 0 for d in dilation):
        raise TensorValueError(f"{op}: non-positive dilation is not supported (got dilation={dilation})")


def _same_pads(kernel: Sequence[int], dilation: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """padding='same': d*(k-1) in total per dim, the odd one extra on the right (as PyTorch)."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))


def _conv(op: str, n: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: _Size, padding: Any,
          dilation: _Size, groups: int) -> Tensor:
    """Checked N-d convolution: PyTorch's argument rules, unbatched input, 'same' / 'valid' padding."""
    _check_tensors(op, input, weight, bias, n, transposed=False)
    st, dl = _ntuple(stride, n, "stride", op), _ntuple(dilation, n, "dilation", op)
    _check_geometry(op, st, dl, groups)
    K = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * n
        elif padding == "same":
            if any(s != 1 for s in st):
                raise TensorValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                       f"(got stride={st})")
            pads = _same_pads(K, dl)
        else:
            raise TensorValueError(f"{op}: Invalid padding string: {padding!r} (expected 'same', 'valid', an int "
                                   f"or a tuple of {n} ints)")
    else:
        p = _ntuple(padding, n, "padding", op)
        if any(v < 0 for v in p):
            raise TensorValueError(f"{op}: negative padding is not supported (got padding={p})")
        pads = tuple((v, v) for v in p)
    unbatched = input.ndim == n + 1
    x = input.unsqueeze(0) if unbatched else input
    N, C, S = x.shape[0], x.shape[1], tuple(x.shape[2:])
    Co, Cg = weight.shape[0], weight.shape[1]
    shapes = f"input {input.shape}, weight {weight.shape}"
    if Co == 0:
        raise TensorValueError(f"{op}: Given groups={groups}, expected weight to be at least 1 at dimension 0, but "
                               f"got weight of size {list(weight.shape)} instead")
    if Co % groups:
        raise TensorValueError(f"{op}: Given groups={groups}, expected weight to be divisible by {groups} at dimension "
                               f"0, but got weight of size {list(weight.shape)} instead (out_channels={Co} must be a "
                               f"multiple of groups)")
    if C != Cg * groups:
        raise TensorValueError(f"{op}: Given groups={groups}, weight of size {list(weight.shape)}, expected "
                               f"input{list(x.shape)} to have {Cg * groups} channels, but got {C} channels instead "
                               f"({shapes}; the input's dim {0 if unbatched else 1} must be weight.shape[1] * groups "
                               f"= {Cg} * {groups})")
    if C == 0:  # (PyTorch returns an oddly shaped (N, 0, *Out) here; the sum over no channels is the bias)
        raise TensorValueError(f"{op}: the input has no channels ({shapes}); a convolution needs C_in >= 1")
    if bias is not None and tuple(bias.shape) != (Co,):
        raise TensorValueError(f"{op}: Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional "
                               f"with {Co} elements, but got bias of size {list(bias.shape)} instead")
    padded = tuple(s + a + b for s, (a, b) in zip(S, pads))
    span = tuple(d * (k - 1) + 1 for k, d in zip(K, dl))
    if any(p < e for p, e in zip(padded, span)):
        raise TensorValueError(f"{op}: Calculated padded input size per channel: {_fmt(padded)}. Kernel size: "
                               f"{_fmt(span)}. Kernel size can't be greater than actual input size ({shapes}, "
                               f"padding {pads}, dilation {dl}: each padded spatial size must be >= "
                               f"dilation*(kernel-1)+1)")
    Out = tuple(spatial.out_size(i, e, s, 1) for i, e, s in zip(padded, span, st))
    if N == 0 or any(k == 0 for k in K):
        # nothing to compute: zeros (plus the bias), still connected to input and weight for autograd
        out = (x.sum() * 0 + weight.sum() * 0).reshape(*(1,) * (n + 2)).expand(N, Co, *Out)
        if bias is not None:
            out = out + bias.reshape(1, Co, *(1,) * n)
    else:
        out = spatial.conv(x, weight, bias, st, pads, dl, groups)
        if out.dtype != input.dtype:  # integer sums come back as int64: keep the input's dtype (as PyTorch)
            out = out.cast(input.dtype)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1, padding: Any = 0,
           dilation: _Size = 1, groups: int = 1) -> Tensor:
    """out[n, o, l] = b[o] + sum_{c, k} w[o, c, k] x[n, g*Cg + c, l*s + k*d - p]: (N, C, L) -> (N, C_out, L')"""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1, padding: Any = 0,
           dilation: _Size = 1, groups: int = 1) -> Tensor:
    """out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g*Cg + c, i*s + u*d - p, j*s + v*d - p]"""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1, padding: Any = 0,
           dilation: _Size = 1, groups: int = 1) -> Tensor:
    """3-d conv2d: (N, C, D, H, W) x (C_out, C_in/groups, kD, kH, kW) -> (N, C_out, D', H', W')"""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# transposed convolution ------------------------------------------------------------------------------
def _conv_transpose(op: str, n: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: _Size,
                    padding: _Size, output_padding: _Size, groups: int, dilation: _Size) -> Tensor:
    """The adjoint of conv (checked arguments, unbatched input), computed phase by phase (see _polyphase_transpose)."""
    _check_tensors(op, input, weight, bias, n, transposed=True)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str (a transposed convolution has "
                        f"no 'same' / 'valid' padding)")
    st, dl = _ntuple(stride, n, "stride", op), _ntuple(dilation, n, "dilation", op)
    p, op_ = _ntuple(padding, n, "padding", op), _ntuple(output_padding, n, "output_padding", op)
    _check_geometry(op, st, dl, groups)
    if any(v < 0 for v in p):
        raise TensorValueError(f"{op}: negative padding is not supported (got padding={p})")
    if any(v < 0 for v in op_):
        raise TensorValueError(f"{op}: negative output_padding is not supported (got output_padding={op_})")
    if any(o >= s and o >= d for o, s, d in zip(op_, st, dl)):
        raise TensorValueError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={op_}, stride={st}, dilation={dl}")
    unbatched = input.ndim == n + 1
    x = input.unsqueeze(0) if unbatched else input
    N, C, S = x.shape[0], x.shape[1], tuple(x.shape[2:])
    Cin, Og, K = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    G = groups
    Co = Og * G
    shapes = f"input {input.shape}, weight {weight.shape}"
    if Cin % G:
        raise TensorValueError(f"{op}: Given groups={G}, expected weight to be divisible by {G} at dimension 0, but "
                               f"got weight of size {list(weight.shape)} instead (in_channels={Cin} must be a "
                               f"multiple of groups)")
    if C != Cin:
        raise TensorValueError(f"{op}: Given transposed=1, weight of size {list(weight.shape)}, expected "
                               f"input{list(x.shape)} to have {Cin} channels, but got {C} channels instead "
                               f"({shapes}; the weight's dim 0 is in_channels)")
    if Og == 0 or C == 0:
        raise TensorValueError(f"{op}: non-empty {n + 2}D weight tensor expected, but got: {list(weight.shape)} "
                               f"({shapes})")
    if bias is not None and tuple(bias.shape) != (Co,):
        raise TensorValueError(f"{op}: Given transposed=1, weight of size {list(weight.shape)}, expected bias to be "
                               f"1-dimensional with {Co} elements, but got bias of size {list(bias.shape)} instead")
    Out = tuple((i - 1) * s - 2 * pp + d * (k - 1) + o + 1 for i, s, pp, d, k, o in zip(S, st, p, dl, K, op_))
    if any(v <= 0 for v in Out) or any(i == 0 for i in S):
        raise TensorValueError(f"{op}: output size {Out} is too small ({shapes}, stride {st}, padding {p}, "
                               f"output_padding {op_}, dilation {dl}: each output size (i-1)*stride - 2*padding + "
                               f"dilation*(k-1) + output_padding + 1 must be >= 1)")
    if N == 0 or any(k == 0 for k in K):
        out = (x.sum() * 0 + weight.sum() * 0).reshape(*(1,) * (n + 2)).expand(N, Co, *Out)
        if bias is not None:
            out = out + bias.reshape(1, Co, *(1,) * n)
        return out.squeeze(0) if unbatched else out
    out = _polyphase_transpose(x, weight, st, p, dl, G, Out)
    if bias is not None:
        out = out + bias.reshape(1, Co, *(1,) * n)
    if out.dtype != input.dtype:  # integer sums come back as int64
        out = out.cast(input.dtype)
    return out.squeeze(0) if unbatched else out


def _span_to(x: Tensor, dim: int, lo: int, length: int) -> Tensor:
    """x along dim re-windowed to [lo, lo + length) of its index range, zeros outside (pad, then crop)."""
    n = x.shape[dim]
    pairs = [(0, 0)] * x.ndim
    pairs[dim] = (max(0, -lo), max(0, lo + length - n))
    x = x._pad(tuple(pairs))
    a = max(0, lo)
    return _slice(x, dim, a, a + length)


def _polyphase_transpose(x: Tensor, weight: Tensor, st: tuple[int, ...], p: tuple[int, ...], dl: tuple[int, ...],
                         G: int, Out: tuple[int, ...]) -> Tensor:
    """Transposed conv without the stride's zeros: out[y] = sum_k x[(y + p - k*d) / s] w[k] over the taps where
    the division is exact. Output positions y = q*s + r of one phase r (per dim) see the taps k with
    (r + p - k*d) % s == 0 — every s/gcd(s, d)-th tap — at input offsets q + (r + p - k*d)/s: a stride-1
    conv of the shifted input with that sub-kernel, flipped and group-transposed, at dilation d/gcd(s, d).
    The s^n phases are interleaved back by padding each into its slot of a (q, s) axis pair and summing."""
    n = len(st)
    N, Cin = x.shape[0], x.shape[1]
    Og, K = weight.shape[1], tuple(weight.shape[2:])
    Co, Cg = Og * G, Cin // G
    Qmax = [-(-o // s) for o, s in zip(Out, st)]
    total: Tensor | None = None
    for phase in itertools.product(*[range(s) for s in st]):
        taps = [[k for k in range(kk) if (r + pp - k * d) % s == 0] for r, pp, d, s, kk in zip(phase, p, dl, st, K)]
        if any(not t for t in taps) or any(r >= o for r, o in zip(phase, Out)):
            continue  # no tap lands on this phase: it stays zero
        Q = Qmax  # every phase as long as the longest (the few extra values are cut): one kernel shape
        step = [t[1] - t[0] if len(t) > 1 else 1 for t in taps]  # in kernel taps
        dil = [sp * d // s if len(t) > 1 else 1 for t, sp, d, s in zip(taps, step, dl, st)]  # in input elements
        xs = x
        for i in range(n):  # conv output q reads xs[q + j*dil], j = 0..J-1, i.e. x[q + lowest offset + j*dil]
            J, r, pp, d, s = len(taps[i]), phase[i], p[i], dl[i], st[i]
            lowest = (r + pp - taps[i][-1] * d) // s
            xs = _span_to(xs, 2 + i, lowest, Q[i] + (J - 1) * dil[i])
        idx = (slice(None), slice(None)) + tuple(slice(t[0], t[-1] + 1, sp) for t, sp in zip(taps, step))
        w = weight[idx]  # (Cin, Og, *J): the taps of this phase
        J_ = tuple(len(t) for t in taps)
        w = w.reshape(G, Cg, Og, *J_).transpose(1, 2).reshape(Co, Cg, *J_).flip(*range(2, 2 + n))
        part = spatial.conv(xs, w, None, (1,) * n, ((0, 0),) * n, tuple(dil), G)  # (N, Co, *Q)
        # into slot r of (Qmax, s) per dim
        part = part.reshape(N, Co, *[v for qm in Qmax for v in (qm, 1)])
        part = part._pad(((0, 0), (0, 0)) + tuple(pr for r, s in zip(phase, st) for pr in ((0, 0), (r, s - 1 - r))))
        total = part if total is None else total + part
    if total is None:  # (every phase empty cannot happen for a valid geometry; kept total for the type checker)
        return (x.sum() * 0 + weight.sum() * 0).reshape(*(1,) * (n + 2)).expand(N, Co, *Out)
    total = total.reshape(N, Co, *[qm * s for qm, s in zip(Qmax, st)])
    return total._shrink(((0, N), (0, Co)) + tuple((0, o) for o in Out))


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1,
                     padding: _Size = 0, output_padding: _Size = 0, groups: int = 1, dilation: _Size = 1) -> Tensor:
    """The adjoint of conv1d: (N, C_in, L) x (C_in, C_out/groups, k) -> (N, C_out, (L-1)s - 2p + d(k-1) + op + 1)"""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1,
                     padding: _Size = 0, output_padding: _Size = 0, groups: int = 1, dilation: _Size = 1) -> Tensor:
    """The adjoint of conv2d: (N, C_in, H, W) x (C_in, C_out/groups, kH, kW) -> (N, C_out, H', W'),
    H' = (H-1)s - 2p + d(k-1) + output_padding + 1"""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _Size = 1,
                     padding: _Size = 0, output_padding: _Size = 0, groups: int = 1, dilation: _Size = 1) -> Tensor:
    """The adjoint of conv3d: (N, C_in, D, H, W) x (C_in, C_out/groups, kD, kH, kW) -> (N, C_out, D', H', W')"""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


# padding modes ---------------------------------------------------------------------------------------------
_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _slice(x: Tensor, dim: int, a: int, b: int) -> Tensor:
    return x._shrink(tuple((a, b) if i == dim else (0, s) for i, s in enumerate(x.shape)))


def _pad_dim(x: Tensor, dim: int, left: int, right: int, mode: str) -> Tensor:
    """One dim padded by left / right elements (negative crops) in a non-constant mode."""
    n = x.shape[dim]
    if mode == "circular":  # crop first, then wrap around what is left (as PyTorch)
        x = _slice(x, dim, max(0, -left), n - max(0, -right))
        n = x.shape[dim]
        parts = [_slice(x, dim, n - left, n)] if left > 0 else []
        parts.append(x)
        if right > 0:
            parts.append(_slice(x, dim, 0, right))
        return cat(parts, dim) if len(parts) > 1 else x
    parts = []
    if left > 0:
        if mode == "reflect":
            parts.append(_slice(x, dim, 1, left + 1).flip(dim))
        else:
            edge = _slice(x, dim, 0, 1)
            parts.append(edge.expand(*[left if i == dim else s for i, s in enumerate(edge.shape)]))
    parts.append(x)
    if right > 0:
        if mode == "reflect":
            parts.append(_slice(x, dim, n - 1 - right, n - 1).flip(dim))
        else:
            edge = _slice(x, dim, n - 1, n)
            parts.append(edge.expand(*[right if i == dim else s for i, s in enumerate(edge.shape)]))
    y = cat(parts, dim) if len(parts) > 1 else x
    m = y.shape[dim]  # then crop (reflect / replicate index the padded result, as PyTorch)
    return _slice(y, dim, max(0, -left), m - max(0, -right))


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)//2 dims, pairs from the last dim back: (last_left, last_right, prev_left, ...);
    mode 'constant' (value, negative pads crop), 'reflect' (mirror without the edge), 'replicate'
    (repeat the edge) or 'circular' (wrap around)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if not isinstance(pad, Sequence) or isinstance(pad, str):
        raise TypeError(f"pad(): argument 'pad' must be tuple of ints, not {type(pad).__name__}")
    for i, v in enumerate(pad):
        if isinstance(v, builtins.bool) or not isinstance(v, int):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {i}")
    pads = [int(v) for v in pad]
    if len(pads) % 2:
        raise TensorValueError(f"pad: Padding length must be divisible by 2 (got pad={tuple(pads)})")
    if len(pads) // 2 > input.ndim:
        raise TensorValueError(f"pad: Padding length should be less than or equal to two times the input dimension "
                               f"but got padding length {len(pads)} and input of dimension {input.ndim}")
    nd = len(pads) // 2
    dims = [input.ndim - 1 - i for i in range(nd)]  # pads[2i], pads[2i+1] belong to dims[i]
    if mode == "constant":
        for i, d in enumerate(dims):
            s = input.shape[d]
            if s + pads[2 * i] + pads[2 * i + 1] < 0:
                raise TensorValueError(f"pad: The input size {s}, plus negative padding {pads[2 * i]} and "
                                       f"{pads[2 * i + 1]} resulted in a negative output size, which is invalid. "
                                       f"Check dimension {d} of your input (shape {input.shape}).")
        pairs = [(0, 0)] * input.ndim
        for i, d in enumerate(dims):
            pairs[d] = (pads[2 * i], pads[2 * i + 1])
        return input._pad(tuple(pairs), 0.0 if value is None else value)
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: Unrecognised padding mode {mode} (expected one of {_PAD_MODES})")
    if value is not None and value != 0:
        raise TensorValueError(f"pad: Padding mode \"{mode}\" doesn't take in value argument (got value={value})")
    if not ((nd == 1 and input.ndim in (2, 3)) or (nd == 2 and input.ndim in (3, 4))
            or (nd == 3 and input.ndim in (4, 5))):
        raise NotImplementedError(
            f"pad: Padding size {len(pads)} is not supported for {input.ndim}D input tensor (shape {input.shape}). "
            "Supported combinations for non-constant padding: 2D or 3D input: padding size = 2 (pads last "
            "dimension); 3D or 4D input: padding size = 4 (pads last 2 dimensions); 4D or 5D input: padding size "
            "= 6 (pads last 3 dimensions)")
    if mode != "circular":
        if input.dtype == dtypes.bool:
            raise NotImplementedError(f"pad: \"{mode}\" padding not implemented for 'Bool'")
        if any(s == 0 for s in input.shape[1:]):
            raise TensorValueError(f"pad: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 batch "
                                   f"size and other non-zero dimensions for input, but got: {list(input.shape)}")
    for i, d in enumerate(dims):
        s, a, b = input.shape[d], pads[2 * i], pads[2 * i + 1]
        if mode == "reflect" and (a >= s or b >= s):
            raise TensorValueError(f"pad: Padding size should be less than the corresponding input dimension, but "
                                   f"got: padding ({a}, {b}) at dimension {d} of input {list(input.shape)} "
                                   f"(reflect padding must be < {s})")
        if mode == "circular":
            kept = s - builtins.max(0, -a) - builtins.max(0, -b)
            if kept < 0:
                raise TensorValueError(f"pad: Negative padding value is resulting in an empty dimension (padding "
                                       f"({a}, {b}) at dimension {d} of input {list(input.shape)})")
            if a > kept or b > kept:
                raise TensorValueError(f"pad: Padding value causes wrapping around more than once (padding ({a}, "
                                       f"{b}) at dimension {d} of input {list(input.shape)}: circular padding must "
                                       f"be <= {kept})")
        elif s + a + b < 1:
            raise TensorValueError(f"pad: input (size {s} at dimension {d}) is too small for padding ({a}, {b}). "
                                   f"Calculated output size: {s + a + b}")
    x = input
    for i, d in enumerate(dims):
        if pads[2 * i] or pads[2 * i + 1]:
            x = _pad_dim(x, d, pads[2 * i], pads[2 * i + 1], mode)
    return x


# im2col -------------------------------------------------------------------------------------------------
def _fold_args(op: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any
               ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    out = []
    for name, v in (("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding), ("stride", stride)):
        t = (v, v) if isinstance(v, int) and not isinstance(v, builtins.bool) else tuple(v)
        if len(t) != 2:
            raise TensorValueError(f"{op}: It is expected {name} equals to 2, but got size {len(t)}")
        out.append(tuple(int(e) for e in t))
    k, d, p, s = out
    if any(v <= 0 for v in k):
        raise TensorValueError(f"{op}: kernel size should be greater than zero, but got kernel_size={k}")
    if any(v <= 0 for v in d):
        raise TensorValueError(f"{op}: dilation should be greater than zero, but got dilation={d}")
    if any(v < 0 for v in p):
        raise TensorValueError(f"{op}: padding should be non-negative, but got padding={p}")
    if any(v <= 0 for v in s):
        raise TensorValueError(f"{op}: stride should be greater than zero, but got stride={s}")
    return k, d, p, s


def _im2col_dtype(op: str, x: Tensor) -> None:
    if x.dtype.is_int:  # PyTorch's im2col / col2im take floats and bool only
        raise NotImplementedError(f"\"{op}\" not implemented for '{x.dtype.name}' (input of shape {x.shape})")


def unfold(input: Tensor, kernel_size: _Size, dilation: _Size = 1, padding: _Size = 0, stride: _Size = 1) -> Tensor:
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), column l holding the window at output pixel l (row-major),
    rows ordered (c, i, j); a view of the padded input."""
    op = "unfold"
    if not isinstance(input, Tensor):
        raise TypeError(f"unfold(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.ndim not in (3, 4) or any(s == 0 for s in input.shape[input.ndim - 3:]):
        raise TensorValueError(f"{op}: Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other "
                               f"non-zero dimensions for input, but got: {list(input.shape)}")
    _im2col_dtype(op, input)
    k, d, p, s = _fold_args(op, kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    N, C, H, W = x.shape
    blocks = tuple(spatial.out_size(i, kk, ss, dd, 2 * pp) for i, kk, ss, dd, pp in zip((H, W), k, s, d, p))
    if any(b < 1 for b in blocks):
        raise TensorValueError(f"{op}: Given input with spatial size ({H}, {W}), kernel_size={k}, dilation={d}, "
                               f"padding={p}, calculated shape of the array of sliding blocks as {blocks}, but its "
                               f"components must be at least one.")
    xp = x._pad(((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    if N == 0:
        out = (x.sum() * 0).reshape(1, 1, 1).expand(0, C * k[0] * k[1], blocks[0] * blocks[1])
    else:
        win = spatial.windows(xp, k, s, d)  # (N, C, oh, ow, kh, kw)
        out = win.permute(0, 1, 4, 5, 2, 3).reshape(N, C * k[0] * k[1], blocks[0] * blocks[1])
    return out.squeeze(0) if unbatched else out


def fold(input: Tensor, output_size: _Size, kernel_size: _Size, dilation: _Size = 1, padding: _Size = 0,
         stride: _Size = 1) -> Tensor:
    """col2im, the adjoint of unfold: (N, C*kh*kw, L) -> (N, C, H, W), every column's window added back at
    its place (overlaps summed); a sum of one padded view per kernel tap."""
    op = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"fold(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.ndim not in (2, 3) or any(v == 0 for v in input.shape[input.ndim - 2:]):
        raise TensorValueError(f"{op}: Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size "
                               f"and non-zero dimensions for input, but got: {list(input.shape)}")
    _im2col_dtype(op, input)
    k, d, p, s = _fold_args(op, kernel_size, dilation, padding, stride)
    osz = (output_size, output_size) if isinstance(output_size, int) else tuple(int(v) for v in output_size)
    if len(osz) != 2:
        raise TensorValueError(f"{op}: It is expected output_size equals to 2, but got size {len(osz)}")
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    N, CK, L = x.shape
    kk = k[0] * k[1]
    if CK % kk:
        raise TensorValueError(f"{op}: Expected size of input's dimension 1 to be divisible by the product of "
                               f"kernel_size, but got input.size(1)={CK} and kernel_size={k}.")
    blocks = tuple(spatial.out_size(i, kv, sv, dv, 2 * pv) for i, kv, sv, dv, pv in zip(osz, k, s, d, p))
    if blocks[0] < 1 or blocks[1] < 1 or blocks[0] * blocks[1] != L:
        raise TensorValueError(f"{op}: Given output_size={osz}, kernel_size={k}, dilation={d}, padding={p}, "
                               f"stride={s}, expected size of input's dimension 2 to match the calculated number of "
                               f"sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                               f"input.size(2)={L}.")
    C = CK // kk
    oh, ow = blocks
    Hp, Wp = osz[0] + 2 * p[0], osz[1] + 2 * p[1]
    cols = x.reshape(N, C, k[0], k[1], oh, ow)
    if s != (1, 1):  # place the blocks stride apart: (.., o) -> (.., o, s) zero-padded -> (o-1)*s + 1
        cols = cols.reshape(N, C, k[0], k[1], oh, 1, ow, 1)._pad(((0, 0),) * 5 + ((0, s[0] - 1), (0, 0), (0, s[1] - 1)))
        cols = cols.reshape(N, C, k[0], k[1], oh * s[0], ow * s[1])
        cols = cols._shrink(((0, N), (0, C), (0, k[0]), (0, k[1]), (0, (oh - 1) * s[0] + 1), (0, (ow - 1) * s[1] + 1)))
    sh, sw = cols.shape[4], cols.shape[5]
    out: Tensor | None = None
    for i in range(k[0]):
        for j in range(k[1]):
            tap = cols._shrink(((0, N), (0, C), (i, i + 1), (j, j + 1), (0, sh), (0, sw))).reshape(N, C, sh, sw)
            tap = tap._pad(((0, 0), (0, 0), (i * d[0], Hp - i * d[0] - sh), (j * d[1], Wp - j * d[1] - sw)))
            out = tap if out is None else (out | tap if tap.dtype == dtypes.bool else out + tap)
    assert out is not None
    out = out._shrink(((0, N), (0, C), (p[0], p[0] + osz[0]), (p[1], p[1] + osz[1])))
    return out.squeeze(0) if unbatched else out
