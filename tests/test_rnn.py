"""Tests of nn.RNN / LSTM / GRU and their cells against PyTorch: the torch module's state_dict is loaded into
ours, then outputs, final states and the gradients of the input, the initial state and every parameter are
compared (float32, rtol 1e-4) on every device; plus parameter names/counts, init range, shapes and errors.

Takes: small random sequences built here. Produces: pass/fail with the mismatching tensor named.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5
PAIRS = {"RNN": (torch.nn.RNN, nn.RNN), "LSTM": (torch.nn.LSTM, nn.LSTM), "GRU": (torch.nn.GRU, nn.GRU)}


def _ours(tm, ocls, args, kw, device):
    om = ocls(*args, **kw, device=device)
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return om


def _t(a, device):
    return tt.Tensor(a.detach().numpy(), requires_grad=True, device=device)


def _close(got, want, what):
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what)


def _compare(name, kw, device, batched=True, with_h0=True, L=4, N=2, Hin=3, H=5):
    tcls, ocls = PAIRS[name]
    torch.manual_seed(0)
    tm = tcls(Hin, H, **kw)
    om = _ours(tm, ocls, (Hin, H), kw, device)
    D = 2 if kw.get("bidirectional") else 1
    layers, hout = kw.get("num_layers", 1), kw.get("proj_size", 0) or H
    shape = ((N, L, Hin) if kw.get("batch_first") else (L, N, Hin)) if batched else (L, Hin)
    x = torch.randn(*shape, requires_grad=True)
    ox = _t(x, device)
    targs, oargs, states = [], [], []
    if with_h0:
        hs = (layers * D, N, hout) if batched else (layers * D, hout)
        h0 = torch.randn(*hs, requires_grad=True)
        if name == "LSTM":
            c0 = torch.randn(*hs[:-1], H, requires_grad=True)
            targs, oargs, states = [(h0, c0)], [(_t(h0, device), _t(c0, device))], [h0, c0]
        else:
            targs, oargs, states = [h0], [_t(h0, device)], [h0]
    tout, oout = tm(x, *targs), om(ox, *oargs)
    tflat = [tout[0], *tout[1]] if name == "LSTM" else list(tout)
    oflat = [oout[0], *oout[1]] if name == "LSTM" else list(oout)
    for i, (a, b) in enumerate(zip(tflat, oflat)):
        assert b.shape == tuple(a.shape), (i, b.shape, a.shape)
        _close(b, a, f"{name} {kw} output {i}")
    ws = [torch.randn(a.shape) for a in tflat]
    sum((a * w).sum() for a, w in zip(tflat, ws)).backward()
    sum((b * tt.Tensor(w.numpy(), device=device)).sum() for b, w in zip(oflat, ws)).backward()
    _close(ox.grad, x.grad, "d input")
    ostates = [s for a in oargs for s in (a if isinstance(a, tuple) else (a,))]
    for s, os_ in zip(states, ostates):
        _close(os_.grad, s.grad, "d initial state")
    tnamed, onamed = dict(tm.named_parameters()), dict(om.named_parameters())
    assert list(tnamed) == list(onamed)
    for k in tnamed:
        _close(onamed[k].grad, tnamed[k].grad, f"d {k}")


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_single_layer_with_h0(name, device):
    _compare(name, {}, device)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_two_layers_bidirectional_batch_first(name):
    _compare(name, {"num_layers": 2, "bidirectional": True, "batch_first": True}, None, L=3)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_no_bias_no_h0(name):
    _compare(name, {"bias": False}, None, batched=False, with_h0=False)


def test_relu_rnn_and_lstm_projection():
    _compare("RNN", {"nonlinearity": "relu", "num_layers": 2}, None)
    _compare("LSTM", {"proj_size": 2, "bidirectional": True}, None, L=3)


def test_eval_with_dropout_matches_and_train_dropout_changes_output():
    torch.manual_seed(0)
    tm = torch.nn.GRU(3, 4, num_layers=2, dropout=0.5).eval()
    om = _ours(tm, nn.GRU, (3, 4), {"num_layers": 2, "dropout": 0.5}, None).eval()
    x = torch.randn(5, 2, 3)
    _close(om(tt.Tensor(x.numpy()))[0], tm(x)[0], "eval output")
    om.train()
    a = om(tt.Tensor(x.numpy()))[0].numpy()
    assert not np.allclose(a, tm(x)[0].detach().numpy())  # dropout between the layers is active in training


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_cells_match_torch(name, device):
    tcls, ocls = {"RNN": (torch.nn.RNNCell, nn.RNNCell), "LSTM": (torch.nn.LSTMCell, nn.LSTMCell),
                  "GRU": (torch.nn.GRUCell, nn.GRUCell)}[name]
    torch.manual_seed(1)
    tm = tcls(3, 4)
    om = ocls(3, 4, device=device)
    om.load_state_dict(tm.state_dict())  # torch tensors load directly
    x = torch.randn(2, 3, requires_grad=True)
    h = torch.randn(2, 4, requires_grad=True)
    ox, oh = _t(x, device), _t(h, device)
    if name == "LSTM":
        c = torch.randn(2, 4, requires_grad=True)
        oc = _t(c, device)
        th, tc = tm(x, (h, c))
        o_h, o_c = om(ox, (oh, oc))
        _close(o_h, th, "h'")
        _close(o_c, tc, "c'")
        (th.sum() + 2 * tc.sum()).backward()
        (o_h.sum() + 2 * o_c.sum()).backward()
        _close(oc.grad, c.grad, "d c")
    else:
        to, oo = tm(x, h), om(ox, oh)
        _close(oo, to, "h'")
        (to * to).sum().backward()
        (oo * oo).sum().backward()
    _close(ox.grad, x.grad, "d x")
    _close(oh.grad, h.grad, "d h")
    for k, p in tm.named_parameters():
        _close(dict(om.named_parameters())[k].grad, p.grad, f"d {k}")
    # unbatched and no state
    xu = torch.randn(3)
    tu, ou = tm(xu), om(tt.Tensor(xu.numpy(), device=device))
    for a, b in zip(tu if isinstance(tu, tuple) else (tu,), ou if isinstance(ou, tuple) else (ou,)):
        assert b.shape == tuple(a.shape)
        _close(b, a, "unbatched")


def test_parameter_names_counts_init_and_repr():
    for kw in ({}, {"num_layers": 3, "bidirectional": True}, {"bias": False, "num_layers": 2},
               {"proj_size": 2, "num_layers": 2, "bidirectional": True}):
        for name, (tcls, ocls) in PAIRS.items():
            if "proj_size" in kw and name != "LSTM":
                continue
            tm, om = tcls(3, 5, **kw), ocls(3, 5, **kw)
            assert [(k, tuple(v.shape)) for k, v in tm.named_parameters()] == \
                [(k, v.shape) for k, v in om.named_parameters()]
            assert len(list(om.parameters())) == len(list(tm.parameters()))
            assert repr(om) == repr(tm)
            # U(-1/sqrt(H), 1/sqrt(H)): every value in range; the spread judged over all of them
            # together (a 5-element bias alone can have a small std by chance)
            v = np.concatenate([p.numpy().ravel() for p in om.parameters()])
            assert np.abs(v).max() <= 1 / np.sqrt(5) and v.std() > 0.2, v.std()  # std of U(-a,a) = a/sqrt(3) = 0.258
    assert repr(nn.RNN(2, 3, nonlinearity="relu", batch_first=True, dropout=0.25, num_layers=2)) == \
        repr(torch.nn.RNN(2, 3, nonlinearity="relu", batch_first=True, dropout=0.25, num_layers=2))
    for cell in ("RNNCell", "LSTMCell", "GRUCell"):
        assert repr(getattr(nn, cell)(2, 3, bias=False)) == repr(getattr(torch.nn, cell)(2, 3, bias=False))
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == repr(torch.nn.RNNCell(2, 3, nonlinearity="relu"))


def test_errors():
    m = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match="input_size"):
        m(tt.Tensor.zeros(2, 1, 5))
    with pytest.raises(ValueError, match="2D or 3D"):
        m(tt.Tensor.zeros(2, 1, 1, 3))
    with pytest.raises(RuntimeError, match="hidden size"):
        m(tt.Tensor.zeros(2, 1, 3), (tt.Tensor.zeros(2, 1, 4), tt.Tensor.zeros(1, 1, 4)))
    with pytest.raises(TypeError, match="tuple"):
        m(tt.Tensor.zeros(2, 1, 3), tt.Tensor.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(RuntimeError, match="input_size"):
        nn.GRUCell(3, 4)(tt.Tensor.zeros(2, 5))
