"""Attention and the other nn pieces of a transformer against PyTorch: F.scaled_dot_product_attention
(bool/float masks, is_causal with L != S, scale, Ev != E, broadcast batch dims, GQA, dropout, fully
masked rows), F.rms_norm / nn.RMSNorm, nn.MultiheadAttention (PyTorch's state_dict, masks, kdim/vdim,
bias_kv, zero_attn, batch_first, unbatched inputs; outputs, weights and every gradient), the errors
of bad inputs; embedding index checks (also inside tinytorch.jit), masked_fill with a 0-d tensor
value, multinomial/bernoulli with a seeded Generator.

Takes: small random inputs built here, on C, LLVM and INTERP (`device` fixture). Produces: pass/fail
naming the mismatching value.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _t(a, device, grad=True):  # type: ignore[no-untyped-def]
    return tt.Tensor(a.detach().numpy(), requires_grad=grad, device=device)


def _close(got, want, what, rtol=1e-4, atol=1e-5):  # type: ignore[no-untyped-def]
    g = got.numpy() if isinstance(got, tt.Tensor) else np.asarray(got)
    w = want.detach().numpy()
    assert g.shape == w.shape, (what, g.shape, w.shape)
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


# scaled_dot_product_attention -----------------------------------------------------------------------------
def _bool_mask_with_empty_row():  # type: ignore[no-untyped-def]
    m = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.bool)  # row 1: nothing allowed
    return {"attn_mask": m}


def _float_mask():  # type: ignore[no-untyped-def]
    m = torch.randn(2, 1, 3, 4)  # broadcast over heads
    m[1, 0, 2] = float("-inf")  # a row that is entirely -inf
    m[0, 0, 0, 1] = float("-inf")
    return {"attn_mask": m}


SDPA_CASES = {
    # name: (query shape, key shape, value shape, keyword arguments (a callable builds tensors))
    "causal_L<S": ((2, 2, 3, 4), (2, 2, 4, 4), (2, 2, 4, 3), lambda: {"is_causal": True}),
    "causal_L>S": ((2, 2, 4, 4), (2, 2, 3, 4), (2, 2, 3, 4), lambda: {"is_causal": True}),
    "bool_mask": ((2, 2, 3, 4), (2, 2, 4, 4), (2, 2, 4, 3), _bool_mask_with_empty_row),
    "float_mask": ((2, 2, 3, 4), (2, 2, 4, 4), (2, 2, 4, 3), _float_mask),
    "scale_3d": ((2, 3, 4), (2, 4, 4), (2, 4, 3), lambda: {"scale": 0.3}),
    "2d": ((3, 4), (4, 4), (4, 2), lambda: {}),
    "batch_bcast": ((2, 1, 3, 4), (1, 2, 4, 4), (1, 2, 4, 3), lambda: {}),
    "gqa": ((1, 4, 3, 4), (1, 2, 4, 4), (1, 2, 4, 3), lambda: {"enable_gqa": True}),
}
LLVM_SDPA = ("causal_L<S", "bool_mask", "float_mask")  # LLVM compiles slowly: its share of the cases


@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(device: str, case: str) -> None:
    if device == "LLVM" and case not in LLVM_SDPA:
        pytest.skip("covered on C and INTERP (LLVM runs the mask cases)")
    qs, ks, vs, kw = SDPA_CASES[case]
    torch.manual_seed(0)
    tq, tk, tv = (torch.randn(s, requires_grad=True) for s in (qs, ks, vs))
    tkw = kw()
    okw = {k: tt.Tensor(v.numpy(), device=device) if isinstance(v, torch.Tensor) else v for k, v in tkw.items()}
    oq, ok, ov = (_t(a, device) for a in (tq, tk, tv))
    ty = TF.scaled_dot_product_attention(tq, tk, tv, **tkw)
    oy = F.scaled_dot_product_attention(oq, ok, ov, **okw)
    _close(oy, ty, f"{case} forward")
    gw = torch.randn(ty.shape)
    (ty * gw).sum().backward()
    (oy * tt.Tensor(gw.numpy(), device=device)).sum().backward()
    for name, o, t in (("query", oq, tq), ("key", ok, tk), ("value", ov, tv)):
        _close(o.grad, t.grad, f"{case} gradient of {name}")


def test_sdpa_fully_masked_row_is_zero_with_zero_gradient() -> None:
    # PyTorch 2.13 gives 0 (not NaN) for a query that may attend nothing, for bool and -inf float masks
    q, k, v = tt.randn(1, 2, 4, requires_grad=True), tt.randn(1, 3, 4), tt.randn(1, 3, 5)
    mask = tt.Tensor([[True, False, True], [False, False, False]])
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    y.sum().backward()
    assert np.isfinite(y.numpy()).all() and (y.numpy()[0, 1] == 0).all()
    assert (q.grad.numpy()[0, 1] == 0).all() and np.isfinite(q.grad.numpy()).all()
    fm = mask._where(0.0, float("-inf"))
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, attn_mask=fm).numpy(), y.numpy())


def test_sdpa_dropout_drops_attention_weights() -> None:
    # value = identity: the output rows are the (dropped, rescaled) attention weights themselves
    q, k = tt.randn(2, 3, 8, 4), tt.randn(2, 3, 8, 4)
    v = tt.eye(8).reshape(1, 1, 8, 8)
    w = F.scaled_dot_product_attention(q, k, v).numpy()
    tt.manual_seed(0)
    d = F.scaled_dot_product_attention(q, k, v, dropout_p=0.25).numpy()
    kept = d != 0
    assert 0.15 < 1 - kept.mean() < 0.35  # 384 draws with p = 0.25
    np.testing.assert_allclose(d[kept] * 0.75, w[kept], rtol=1e-5)
    assert (F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0).all()
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = tt.randn(5, 2, 8)
    _, wt = m(x, x, x, average_attn_weights=False)  # training: the returned weights are the dropped ones
    assert 0.3 < (wt.numpy() == 0).mean() < 0.7
    m.eval()
    _, we = m(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(we.numpy().sum(-1), 1, rtol=1e-5)


def test_sdpa_errors() -> None:
    q, k, v = tt.randn(2, 3, 4), tt.randn(2, 5, 4), tt.randn(2, 5, 6)
    tq, tk, tv = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    cases = [
        ({"attn_mask": tt.ones(3, 5, dtype=tt.bool), "is_causal": True},
         {"attn_mask": torch.ones(3, 5, dtype=torch.bool), "is_causal": True}, "should not be set"),
        ({"attn_mask": tt.ones(3, 5, dtype=tt.int64)}, {"attn_mask": torch.ones(3, 5, dtype=torch.int64)},
         "attn_mask dtype"),
        ({"attn_mask": tt.ones(3, 5, dtype=tt.float64)}, {"attn_mask": torch.ones(3, 5, dtype=torch.float64)},
         "attn_mask dtype"),
        ({"attn_mask": tt.ones(3, 4)}, {"attn_mask": torch.ones(3, 4)}, "attn_mask"),
        ({"attn_mask": tt.ones(7, 2, 3, 5)}, {"attn_mask": torch.ones(7, 2, 3, 5)}, "attn_mask"),
        ({"dropout_p": 1.5}, {"dropout_p": 1.5}, "dropout probability"),
    ]
    for okw, tkw, msg in cases:
        with pytest.raises(RuntimeError):
            TF.scaled_dot_product_attention(tq, tk, tv, **tkw)
        with pytest.raises(RuntimeError, match=msg):
            F.scaled_dot_product_attention(q, k, v, **okw)
    with pytest.raises(RuntimeError, match="do not fit"):
        F.scaled_dot_product_attention(q, tt.randn(2, 5, 3), v)  # key's E differs
    with pytest.raises(RuntimeError, match="do not fit"):
        F.scaled_dot_product_attention(q, k, tt.randn(2, 4, 6))  # value's S differs
    with pytest.raises(RuntimeError, match="do not broadcast"):
        F.scaled_dot_product_attention(q, k, tt.randn(3, 5, 6))
    with pytest.raises(RuntimeError, match="at least 2 dimensional"):
        F.scaled_dot_product_attention(q[0, 0], k[0, 0], v[0, 0])
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(TypeError):
        F.scaled_dot_product_attention(q.long(), k.long(), v.long())
    with pytest.raises(RuntimeError, match="divide the number of heads"):
        F.scaled_dot_product_attention(tt.randn(1, 4, 3, 8), tt.randn(1, 3, 5, 8), tt.randn(1, 3, 5, 8),
                                       enable_gqa=True)
    with pytest.raises(RuntimeError):  # without enable_gqa different head counts do not broadcast
        F.scaled_dot_product_attention(tt.randn(1, 4, 3, 8), tt.randn(1, 2, 5, 8), tt.randn(1, 2, 5, 8))


# rms_norm ----------------------------------------------------------------------------------------------------
def test_rms_norm_matches_torch(device: str) -> None:
    torch.manual_seed(1)
    for shape, ns, affine, eps in (((2, 3, 4), (4,), True, None), ((2, 3, 4), (3, 4), False, 1e-3)):
        tm = torch.nn.RMSNorm(ns, eps=eps, elementwise_affine=affine)
        om = nn.RMSNorm(ns, eps=eps, elementwise_affine=affine, device=device)
        assert repr(om) == repr(tm)
        if affine:
            with torch.no_grad():
                tm.weight.copy_(torch.randn(ns))
            om.load_state_dict(tm.state_dict())
        x = (torch.randn(shape) * 3).requires_grad_()
        ox = _t(x, device)
        ty, oy = tm(x), om(ox)
        _close(oy, ty, f"RMSNorm {ns} forward")
        g = torch.randn(shape)
        (ty * g).sum().backward()
        (oy * tt.Tensor(g.numpy(), device=device)).sum().backward()
        _close(ox.grad, x.grad, f"RMSNorm {ns} input gradient")
        if affine:
            _close(om.weight.grad, tm.weight.grad, f"RMSNorm {ns} weight gradient")
    # eps=None is finfo(dtype).eps: visible for inputs near 0
    x = torch.full((2, 4), 1e-4, dtype=torch.float64)
    _close(F.rms_norm(tt.Tensor(x.numpy(), device=device), [4]), TF.rms_norm(x, [4]), "rms_norm float64 eps")
    x = torch.full((2, 4), 1e-4)
    _close(F.rms_norm(tt.Tensor(x.numpy(), device=device), 4), TF.rms_norm(x, [4]), "rms_norm float32 eps")


def test_rms_norm_errors() -> None:
    x, tx = tt.randn(2, 4), torch.randn(2, 4)
    with pytest.raises(RuntimeError):
        TF.rms_norm(tx, [3])
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.rms_norm(x, [3])
    with pytest.raises(RuntimeError, match="weight"):
        F.rms_norm(x, [4], weight=tt.ones(3))
    with pytest.raises(TypeError):
        F.rms_norm(x.long(), [4])


# MultiheadAttention ------------------------------------------------------------------------------------------
def _kpm():  # type: ignore[no-untyped-def]
    return torch.tensor([[False, False, True, False], [False, False, False, False]])


MHA_CASES = {
    # name: (constructor kwargs, input layout, forward kwargs builder, L, S)
    "masks_weights": ({}, "seq", lambda: {"key_padding_mask": _kpm(), "attn_mask": torch.rand(3, 4) > 0.7}, 3, 4),
    "batch_first_no_weights": ({"batch_first": True}, "batch",
                               lambda: {"key_padding_mask": _kpm(), "need_weights": False}, 3, 4),
    "kdim_vdim_bias_kv_zero_attn": ({"kdim": 6, "vdim": 3, "add_bias_kv": True, "add_zero_attn": True}, "seq",
                                    lambda: {"key_padding_mask": _kpm()}, 3, 4),
    "unbatched_3d_float_mask": ({}, "unbatched", lambda: {"attn_mask": torch.randn(2, 3, 4)}, 3, 4),
    "per_head_3d_mask_float_kpm": ({"bias": False}, "seq", lambda: {
        "attn_mask": torch.rand(4, 3, 4) > 0.8, "key_padding_mask": torch.randn(2, 4),
        "average_attn_weights": False}, 3, 4),
    "causal_hint": ({"batch_first": True}, "batch", lambda: {
        "attn_mask": torch.ones(4, 4, dtype=torch.bool).triu(1), "is_causal": True, "need_weights": False}, 4, 4),
}
LLVM_MHA = ("masks_weights", "batch_first_no_weights")


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(device: str, case: str) -> None:
    if device == "LLVM" and case not in LLVM_MHA:
        pytest.skip("covered on C and INTERP")
    ctor, layout, fw, L, S = MHA_CASES[case]
    E, N, H = 8, 2, 2
    torch.manual_seed(2)
    tm = torch.nn.MultiheadAttention(E, H, **ctor)
    om = nn.MultiheadAttention(E, H, **ctor, device=device)
    assert list(om.state_dict()) == list(tm.state_dict())
    om.load_state_dict(tm.state_dict())
    kd, vd = ctor.get("kdim", E), ctor.get("vdim", E)
    shapes = {"seq": [(L, N, E), (S, N, kd), (S, N, vd)], "batch": [(N, L, E), (N, S, kd), (N, S, vd)],
              "unbatched": [(L, E), (S, kd), (S, vd)]}[layout]
    tin = [torch.randn(s, requires_grad=True) for s in shapes]
    oin = [_t(a, device) for a in tin]
    tkw = fw()
    okw = {k: tt.Tensor(v.numpy(), device=device) if isinstance(v, torch.Tensor) else v for k, v in tkw.items()}
    ty, tw = tm(*tin, **tkw)
    oy, ow = om(*oin, **okw)
    _close(oy, ty, f"{case} attn_output")
    if tw is None:
        assert ow is None
    else:
        _close(ow, tw, f"{case} attn_output_weights")
    g = torch.randn(ty.shape)
    (ty * g).sum().backward()
    (oy * tt.Tensor(g.numpy(), device=device)).sum().backward()
    for i, name in enumerate(("query", "key", "value")):
        _close(oin[i].grad, tin[i].grad, f"{case} gradient of {name}")
    tp = dict(tm.named_parameters())
    for name, p in om.named_parameters():
        _close(p.grad, tp[name].grad, f"{case} gradient of {name}")


def test_multihead_attention_fully_masked_rows_like_torch() -> None:
    # torch: NaN where the explicit softmax runs (need_weights=True), 0 through scaled_dot_product_attention
    torch.manual_seed(3)
    tm, om = torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2)
    om.load_state_dict(tm.state_dict())
    x = torch.randn(3, 2, 8)
    kpm = torch.tensor([[False, False, False], [True, True, True]])
    ox, okpm = tt.Tensor(x.numpy()), tt.Tensor(kpm.numpy())
    for nw in (True, False):
        ty, tw = tm(x, x, x, key_padding_mask=kpm, need_weights=nw)
        oy, ow = om(ox, ox, ox, key_padding_mask=okpm, need_weights=nw)
        assert np.isnan(ty.detach().numpy()).any() == nw
        _close(oy, ty, f"need_weights={nw} output")
        if nw:
            _close(ow, tw, "weights")


def test_multihead_attention_init_and_repr() -> None:
    m, tm = nn.MultiheadAttention(16, 4), torch.nn.MultiheadAttention(16, 4)
    assert repr(m) == repr(tm)
    assert m.in_proj_weight.shape == (48, 16) and m.head_dim == 4 and m.batch_first is False
    a = np.sqrt(6 / (48 + 16))  # xavier_uniform_ bound of the (3E, E) in_proj_weight
    w = m.in_proj_weight.numpy()
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.8 * a
    assert (m.in_proj_bias.numpy() == 0).all() and (m.out_proj.bias.numpy() == 0).all()
    assert np.abs(m.out_proj.weight.numpy()).max() <= 1 / 4  # Linear's init, U(-1/sqrt(16), 1/sqrt(16))
    s = nn.MultiheadAttention(8, 2, kdim=4, vdim=6, add_bias_kv=True, bias=False)
    ts = torch.nn.MultiheadAttention(8, 2, kdim=4, vdim=6, add_bias_kv=True, bias=False)
    assert {k: tuple(v.shape) for k, v in s.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ts.state_dict().items()}
    assert s.in_proj_weight is None and s.out_proj.bias is None


def test_multihead_attention_errors() -> None:
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError):
        nn.MultiheadAttention(0, 2)
    m = nn.MultiheadAttention(8, 2)
    x = tt.randn(3, 2, 8)
    with pytest.raises(AssertionError, match="embedding dimension of 8"):
        m(tt.randn(3, 2, 6), tt.randn(3, 2, 6), tt.randn(3, 2, 6))
    with pytest.raises(AssertionError, match="key shape"):
        m(x, tt.randn(4, 2, 8), tt.randn(5, 2, 8))
    with pytest.raises(AssertionError, match="3-D"):
        m(x, x[0], x)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        m(x, x, x, attn_mask=tt.ones(3, 4, dtype=tt.bool))
    with pytest.raises(RuntimeError, match="3D attn_mask"):
        m(x, x, x, attn_mask=tt.zeros(2, 3, 3))
    with pytest.raises(AssertionError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=tt.zeros(2, 4, dtype=tt.bool))
    with pytest.raises(TypeError, match="bool and floating"):
        m(x, x, x, attn_mask=tt.zeros(3, 3, dtype=tt.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)
    tmod, tx = torch.nn.MultiheadAttention(8, 2), torch.randn(3, 2, 8)  # the same inputs fail in torch too
    with pytest.raises(AssertionError):
        tmod(torch.randn(3, 2, 6), torch.randn(3, 2, 6), torch.randn(3, 2, 6))
    with pytest.raises(RuntimeError):
        tmod(tx, tx, tx, is_causal=True)


# embedding indices -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("idx", [[5], [-1], [[0, 7]], [-6]])
def test_embedding_index_out_of_range(idx: list) -> None:
    with pytest.raises(IndexError):
        TF.embedding(torch.tensor(idx), torch.randn(5, 3))
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(tt.Tensor(idx), tt.randn(5, 3))
    with pytest.raises(IndexError, match="out of range"):
        nn.Embedding(5, 3)(tt.Tensor(idx))
    with pytest.raises(IndexError, match="out of range"):  # a lazy index is computed and checked first
        nn.Embedding(5, 3)(tt.Tensor(idx) * 1)


def test_embedding_in_jit_follows_new_indices() -> None:
    # a frozen table large enough that weight[idx] would gather on the host: the jitted replay must still
    # read each call's indices (the gather is one lazy kernel)
    emb = nn.Embedding.from_pretrained(tt.randn(600, 32))
    small = nn.Embedding(10, 4)

    @tt.jit
    def f(idx: tt.Tensor) -> tuple[tt.Tensor, tt.Tensor]:
        return emb(idx) * 2, small(idx % 10).sum(-1)

    rng = np.random.default_rng(0)
    for _ in range(4):
        idx = rng.integers(0, 600, size=(1, 900))
        a, b = f(tt.Tensor(idx))
        np.testing.assert_allclose(a.numpy(), emb.weight.numpy()[idx] * 2, rtol=1e-6)
        np.testing.assert_allclose(b.numpy(), small.weight.numpy()[idx % 10].sum(-1), rtol=1e-5)


# masked_fill, multinomial, bernoulli -----------------------------------------------------------------------
def test_masked_fill_broadcast_mask_and_0d_tensor_value(device: str) -> None:
    x = torch.randn(2, 3, 4, requires_grad=True)
    val = torch.tensor(1.5, requires_grad=True)
    mask = torch.rand(3, 4) > 0.5
    ox, ov = _t(x, device), _t(val, device)
    ty = x.masked_fill(mask, val)
    oy = ox.masked_fill(tt.Tensor(mask.numpy(), device=device), ov)
    _close(oy, ty, "masked_fill forward")
    g = torch.randn(2, 3, 4)
    (ty * g).sum().backward()
    (oy * tt.Tensor(g.numpy(), device=device)).sum().backward()
    _close(ox.grad, x.grad, "masked_fill input gradient")
    _close(ov.grad, val.grad, "masked_fill value gradient")


def test_multinomial_and_bernoulli_follow_a_seeded_generator() -> None:
    p = tt.Tensor([[0.1, 0.2, 0.7, 0.0], [0.5, 0.5, 0.0, 0.0]])
    a = p.multinomial(4000, replacement=True, generator=tt.Generator().manual_seed(3)).numpy()
    b = p.multinomial(4000, replacement=True, generator=tt.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 4000) and a.dtype == np.int64
    np.testing.assert_allclose(np.bincount(a[0], minlength=4) / 4000, [0.1, 0.2, 0.7, 0.0], atol=0.03)
    assert set(np.unique(a[1])) <= {0, 1}
    c = p.multinomial(2, generator=tt.Generator().manual_seed(5)).numpy()
    assert all(len(set(r)) == 2 for r in c.tolist())  # without replacement: distinct categories per row
    h = tt.full((50,), 0.5)
    np.testing.assert_array_equal(h.bernoulli(generator=tt.Generator().manual_seed(1)).numpy(),
                                  h.bernoulli(generator=tt.Generator().manual_seed(1)).numpy())
    with pytest.raises(TypeError):
        p.multinomial(1, generator=3)
