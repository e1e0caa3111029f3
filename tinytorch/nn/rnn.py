"""Recurrent layers with PyTorch's parameter names and gate layout: RNN, LSTM, GRU and their cells.

Takes: a sequence (L, N, H_in) (or (N, L, H_in) with batch_first, or unbatched (L, H_in)) and an
optional initial state h0 (num_layers * num_directions, N, H_out) (and c0 for LSTM); a cell takes
one step (N, H_in) or (H_in,) and its state.
Produces: (output, h_n) for RNN and GRU, (output, (h_n, c_n)) for LSTM, shaped exactly as PyTorch's;
a cell returns h' (or (h', c') for LSTMCell).

Parameters are `weight_ih_l{k}` (G*H, H_in), `weight_hh_l{k}` (G*H, H), `bias_ih_l{k}`,
`bias_hh_l{k}` (G*H,), `weight_hr_l{k}` (P, H) with proj_size P, and the `_reverse` copies of a
bidirectional layer, all drawn from U(-1/sqrt(H), 1/sqrt(H)); G = 1 (RNN), 4 (LSTM: gates i, f, g, o),
3 (GRU: gates r, z, n). So a PyTorch state_dict loads into these modules and gives the same outputs.

The time loop runs in Python: the input projection x W_ih^T + b_ih of every step is one matmul, then
each step adds h W_hh^T + b_hh and applies the gates, all lazily, so a whole sequence (and its
backward) is one graph that realizes as one schedule.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..errors import TensorValueError
from ..tensor import Tensor, cat, stack
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_step(mode: str, gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' = act(gi + h W_hh^T + b_hh) for RNN_TANH / RNN_RELU, with gi = x W_ih^T + b_ih."""
    pre = gi + h.linear(w_hh, b_hh)
    return pre.tanh() if mode == "RNN_TANH" else pre.relu()


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None,
               w_hr: Tensor | None) -> tuple[Tensor, Tensor]:
    """i, f, g, o = chunks of gi + h W_hh^T + b_hh; c' = sig(f) c + sig(i) tanh(g); h' = sig(o) tanh(c') (W_hr^T)."""
    gates = gi + h.linear(w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h2 = o.sigmoid() * c2.tanh()
    if w_hr is not None:
        h2 = h2.linear(w_hr)
    return h2, c2


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """r = sig(gi_r + gh_r), z = sig(gi_z + gh_z), n = tanh(gi_n + r gh_n), h' = (1 - z) n + z h,
    with gh = h W_hh^T + b_hh."""
    gh = h.linear(w_hh, b_hh)
    ir, iz, in_ = gi.chunk(3, -1)
    hr, hz, hn = gh.chunk(3, -1)
    r = (ir + hr).sigmoid()
    z = (iz + hz).sigmoid()
    n = (in_ + r * hn).tanh()
    return n + z * (h - n)


def _uniform_param(shape: tuple[int, ...], bound: float, dtype: Any, device: str | None) -> Parameter:
    return Parameter(init.uniform_value(shape, -bound, bound, dtype, device))


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters per layer and direction, shape checks, the time loop."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: str | None = None, dtype: Any = None):
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be an integer greater than zero, got {hidden_size!r}")
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be an integer greater than zero, got {num_layers!r}")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout!r}")
        if proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable projections, "
                             f"got {proj_size}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size {proj_size} has to be smaller than hidden_size {hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=3)
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        num_dir = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        real_h = proj_size if proj_size > 0 else hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            for d in range(num_dir):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                in_size = input_size if layer == 0 else real_h * num_dir
                shapes: list[tuple[str, tuple[int, ...]]] = [("weight_ih", (gate, in_size)),
                                                             ("weight_hh", (gate, real_h))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for pname, shape in shapes:
                    setattr(self, pname + sfx, _uniform_param(shape, bound, dtype, device))
                    self._flat_weights_names.append(pname + sfx)

    def reset_parameters(self) -> None:
        """Redraw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op (PyTorch packs weights for cuDNN here; nothing to pack on these devices)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction, in PyTorch's order."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        ws = [getattr(self, n) for n in self._flat_weights_names]
        return [ws[i:i + per] for i in range(0, len(ws), per)]

    def extra_repr(self) -> str:
        """'input_size, hidden_size' plus every setting that differs from its default, as PyTorch prints."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # shapes ---------------------------------------------------------------------------------------
    def _name(self) -> str:
        return type(self).__name__

    def _check_input(self, x: Any) -> bool:
        """Validate the input; returns whether it is batched (3-D)."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._name()}: input must be a Tensor, got {type(x).__name__}"
                            + (" (packed sequences are not supported)" if type(x).__name__ == "PackedSequence" else ""))
        if x.ndim not in (2, 3):
            raise TensorValueError(f"{self._name()}: Expected input to be 2D or 3D, got {x.ndim}D tensor instead "
                                   f"(shape {x.shape}; (L, H_in), (L, N, H_in) or batch_first (N, L, H_in))")
        if not x.dtype.is_float:
            raise TensorValueError(f"{self._name()}: input must be a floating point tensor, got {x.dtype!r}")
        if x.shape[-1] != self.input_size:
            raise TensorValueError(f"{self._name()}: input.size(-1) must be equal to input_size. Expected "
                                   f"{self.input_size}, got {x.shape[-1]}")
        return x.ndim == 3

    def _check_hidden(self, h: Any, expected: tuple[int, ...], batched: bool, what: str = "hidden") -> Tensor:
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._name()}: {what} state must be a Tensor, got {type(h).__name__}")
        if batched and h.ndim != 3:
            raise TensorValueError(f"{self._name()}: For batched 3-D input, hx should also be 3-D but got "
                                   f"{h.ndim}-D tensor")
        if not batched and h.ndim != 2:
            raise TensorValueError(f"{self._name()}: For unbatched 2-D input, hx should also be 2-D but got "
                                   f"{h.ndim}-D tensor")
        shape = h.shape if batched else (h.shape[0], 1, h.shape[1])
        if shape != expected:
            want = expected if batched else (expected[0], expected[2])
            raise TensorValueError(f"{self._name()}: Expected {what} size {want}, got {tuple(h.shape)}")
        return h if batched else h.unsqueeze(1)

    # the loop ---------------------------------------------------------------------------------------
    def _run(self, x: Tensor, hx: Any) -> tuple[Tensor, Tensor, Tensor | None, bool]:
        """(output (L, N, D*H_out), h_n, c_n or None, batched) for input x and initial state hx."""
        batched = self._check_input(x)
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        seq_len, n = x.shape[0], x.shape[1]
        num_dir = 2 if self.bidirectional else 1
        real_h = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * num_dir, n, real_h)
        c_shape = (self.num_layers * num_dir, n, self.hidden_size)
        is_lstm = self.mode == "LSTM"
        h0: Tensor | None = None
        c0: Tensor | None = None
        if hx is not None:
            if is_lstm:
                if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                    raise TypeError(f"{self._name()}: hx must be a tuple (h_0, c_0) of Tensors, got "
                                    f"{type(hx).__name__}")
                h0 = self._check_hidden(hx[0], h_shape, batched)
                c0 = self._check_hidden(hx[1], c_shape, batched, "cell")
            else:
                if isinstance(hx, (tuple, list)):
                    raise TypeError(f"{self._name()}: hx must be a Tensor, got a {type(hx).__name__}")
                h0 = self._check_hidden(hx, h_shape, batched)
        if h0 is None:
            h0 = Tensor.zeros(*h_shape, dtype=x.dtype, device=x.device)
        if is_lstm and c0 is None:
            c0 = Tensor.zeros(*c_shape, dtype=x.dtype, device=x.device)
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        layer_in = x
        for layer in range(self.num_layers):
            outs: list[Tensor] = []
            for d in range(num_dir):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                w_hr = getattr(self, "weight_hr" + sfx) if self.proj_size > 0 else None
                gi_all = layer_in.linear(w_ih, b_ih)  # (L, N, G*H): the input projection of every step at once
                k = layer * num_dir + d
                h = h0[k]
                c = c0[k] if c0 is not None else None
                steps = range(seq_len - 1, -1, -1) if d == 1 else range(seq_len)
                ys: list[Tensor] = [h] * seq_len
                for t in steps:
                    gi = gi_all[t]
                    if is_lstm:
                        assert c is not None
                        h, c = _lstm_step(gi, h, c, w_hh, b_hh, w_hr)
                    elif self.mode == "GRU":
                        h = _gru_step(gi, h, w_hh, b_hh)
                    else:
                        h = _rnn_step(self.mode, gi, h, w_hh, b_hh)
                    ys[t] = h
                outs.append(stack(ys, 0) if seq_len else Tensor.zeros(0, n, real_h, dtype=x.dtype, device=x.device))
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            layer_in = outs[0] if num_dir == 1 else cat(outs, -1)  # (L, N, D*H_out)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        out = layer_in
        hn = stack(h_n, 0)
        cn = stack(c_n, 0) if is_lstm else None
        if not batched:
            out, hn = out.squeeze(1), hn.squeeze(1)
            cn = cn.squeeze(1) if cn is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, hn, cn, batched


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu; returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str | None = None, dtype: Any = None, proj_size: int = 0):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, proj_size, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(output (L, N, D*H), h_n (num_layers*D, N, H)) for input (L, N, H_in); unbatched drops N."""
        out, hn, _, _ = self._run(input, hx)
        return out, hn


class LSTM(RNNBase):
    """LSTM with gates i, f, g, o: c_t = f c_{t-1} + i g, h_t = o tanh(c_t) (projected by W_hr when proj_size > 0)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: str | None = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(output (L, N, D*H_out), (h_n (num_layers*D, N, H_out), c_n (num_layers*D, N, H))); unbatched drops N."""
        out, hn, cn, _ = self._run(input, hx)
        assert cn is not None
        return out, (hn, cn)


class GRU(RNNBase):
    """GRU with gates r, z, n: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str | None = None, dtype: Any = None, proj_size: int = 0):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(output (L, N, D*H), h_n (num_layers*D, N, H)) for input (L, N, H_in); unbatched drops N."""
        out, hn, _, _ = self._run(input, hx)
        return out, hn


# cells -----------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Shared parameters and checks of RNNCell, LSTMCell and GRUCell (weight_ih, weight_hh, bias_ih, bias_hh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: str | None = None,
                 dtype: Any = None):
        super().__init__()
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: hidden_size must be an integer greater than zero, "
                             f"got {hidden_size!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        bound = 1.0 / math.sqrt(hidden_size)
        g = num_chunks * hidden_size
        self.weight_ih = _uniform_param((g, input_size), bound, dtype, device)
        self.weight_hh = _uniform_param((g, hidden_size), bound, dtype, device)
        if bias:
            self.bias_ih = _uniform_param((g,), bound, dtype, device)
            self.bias_hh = _uniform_param((g,), bound, dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        """Redraw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        """'input_size, hidden_size' plus bias / nonlinearity when not the default, as PyTorch prints."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _prep(self, x: Any, hx: Any, what: str = "hx") -> tuple[Tensor, bool]:
        """Validate input (N, H_in) or (H_in,); returns (x as 2-D, batched)."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim not in (1, 2):
            raise TensorValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead (shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise TensorValueError(f"{name}: input has inconsistent input_size: got {x.shape[-1]} expected "
                                   f"{self.input_size}")
        batched = x.ndim == 2
        return (x if batched else x.unsqueeze(0)), batched

    def _state(self, h: Any, x: Tensor, batched: bool, what: str = "hx") -> Tensor:
        name = type(self).__name__
        if h is None:
            return Tensor.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        if not isinstance(h, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(h).__name__}")
        if h.ndim != (2 if batched else 1):
            raise TensorValueError(f"{name}: Expected {what} to be {2 if batched else 1}D, got {h.ndim}D instead")
        h2 = h if batched else h.unsqueeze(0)
        if h2.shape != (x.shape[0], self.hidden_size):
            raise TensorValueError(f"{name}: Expected {what} of shape {(x.shape[0], self.hidden_size)[2 - h.ndim:]}, "
                                   f"got {h.shape}")
        return h2


class RNNCell(RNNCellBase):
    """One Elman step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: str | None = None, dtype: Any = None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """h' (N, H) for input (N, H_in) and h (N, H); unbatched drops N."""
        x, batched = self._prep(input, hx)
        h = self._state(hx, x, batched)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        out = _rnn_step(mode, x.linear(self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step with gates i, f, g, o: c' = f c + i g, h' = o tanh(c'); returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: str | None = None,
                 dtype: Any = None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """(h', c') each (N, H) for input (N, H_in) and (h, c); unbatched drops N."""
        x, batched = self._prep(input, hx)
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c) of Tensors, got {type(hx).__name__}")
        h = self._state(hx[0] if hx is not None else None, x, batched, "hx[0]")
        c = self._state(hx[1] if hx is not None else None, x, batched, "hx[1]")
        h2, c2 = _lstm_step(x.linear(self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh, None)
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step with gates r, z, n: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: str | None = None,
                 dtype: Any = None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """h' (N, H) for input (N, H_in) and h (N, H); unbatched drops N."""
        x, batched = self._prep(input, hx)
        h = self._state(hx, x, batched)
        out = _gru_step(x.linear(self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return out if batched else out.squeeze(0)
