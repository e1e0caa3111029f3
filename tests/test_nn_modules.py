"""Tests of the everyday nn modules against PyTorch: Embedding, LayerNorm, Bilinear, cosine similarity and
pairwise distance, normalize, the losses of nn/functional_extra.py (forward and input gradients), containers
(Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict), hooks, repr and state_dict keys.

Takes: small random inputs built here. Produces: pass/fail naming the mismatching value.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _t(a, device=None, grad=True):
    return tt.Tensor(a.detach().numpy(), requires_grad=grad, device=device)


def _close(got, want, what, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


def _check_fn(tfn, ofn, tensors, device=None, what="", grads=None):
    """Compare forward and the gradients of every float input (or those whose flag in grads is True)."""
    flags = [a.dtype.is_floating_point and (grads is None or grads[i]) for i, a in enumerate(tensors)]
    ts = [a.clone().requires_grad_(f) for a, f in zip(tensors, flags)]
    os_ = [_t(a, device, f) for a, f in zip(tensors, flags)]
    tout, oout = tfn(*ts), ofn(*os_)
    assert oout.shape == tuple(tout.shape), (what, oout.shape, tout.shape)
    _close(oout, tout, what + " forward")
    w = torch.randn(tout.shape)
    (tout * w).sum().backward()
    (oout * tt.Tensor(w.numpy(), device=device)).sum().backward()
    for a, b in zip(ts, os_):
        if a.grad is not None:
            _close(b.grad, a.grad, what + " gradient")


def test_layers_match_torch(device):
    torch.manual_seed(0)
    # Bilinear
    tb = torch.nn.Bilinear(3, 4, 2)
    ob = nn.Bilinear(3, 4, 2, device=device)
    ob.load_state_dict(tb.state_dict())
    x1, x2 = torch.randn(5, 3), torch.randn(5, 4)
    _check_fn(tb, ob, [x1, x2], device, "Bilinear")
    # LayerNorm over the last two dims, with and without affine
    for kw in ({}, {"elementwise_affine": False}, {"bias": False}):
        tl = torch.nn.LayerNorm([3, 4], **kw)
        ol = nn.LayerNorm([3, 4], **kw, device=device)
        with torch.no_grad():
            for p in tl.parameters():
                p.uniform_(0.5, 1.5)
        ol.load_state_dict(tl.state_dict())
        _check_fn(tl, ol, [torch.randn(2, 3, 4) * 3 + 1], device, f"LayerNorm {kw}")
    # Embedding with padding_idx: the padding row gets no gradient
    te = torch.nn.Embedding(6, 3, padding_idx=2)
    oe = nn.Embedding(6, 3, padding_idx=2, device=device)
    assert np.all(oe.weight.numpy()[2] == 0)
    oe.load_state_dict(te.state_dict())
    idx = torch.tensor([[0, 2, 5], [2, 1, 1]])
    tout, oout = te(idx), oe(tt.Tensor(idx.numpy(), device=device))
    _close(oout, tout, "Embedding")
    w = torch.randn(tout.shape)
    (tout * w).sum().backward()
    (oout * tt.Tensor(w.numpy(), device=device)).sum().backward()
    _close(oe.weight.grad, te.weight.grad, "Embedding weight gradient")


def test_embedding_errors_and_from_pretrained():
    e = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="out of range"):
        e(tt.Tensor([0, 4]))
    with pytest.raises(IndexError, match="out of range"):
        e(tt.Tensor([-1]))
    with pytest.raises(TypeError):
        e(tt.Tensor([0.0, 1.0]))
    w = torch.randn(3, 2)
    pe = nn.Embedding.from_pretrained(tt.Tensor(w.numpy()))
    assert not pe.weight.requires_grad
    _close(pe(tt.Tensor([2, 0])), torch.nn.Embedding.from_pretrained(w)(torch.tensor([2, 0])), "from_pretrained")


def test_distances_and_normalize():
    torch.manual_seed(1)
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    zero = torch.zeros(2, 5)
    _check_fn(lambda x, y: TF.cosine_similarity(x, y), lambda x, y: F.cosine_similarity(x, y), [a, b], what="cos")
    _check_fn(lambda x, y: TF.cosine_similarity(x, y, dim=0), lambda x, y: F.cosine_similarity(x, y, dim=0),
              [a, b[:1]], what="cos broadcast")
    _check_fn(lambda x, y: TF.cosine_similarity(x, y), lambda x, y: F.cosine_similarity(x, y),
              [zero, b[:2]], what="cos of a zero vector")
    for p in (2.0, 1.0, 3.0):
        _check_fn(lambda x, y, p=p: TF.pairwise_distance(x, y, p=p), lambda x, y, p=p: F.pairwise_distance(x, y, p=p),
                  [a, b], what=f"pairwise p={p}")
        _check_fn(lambda x, p=p: TF.normalize(x, p=p), lambda x, p=p: F.normalize(x, p=p), [a], what=f"normalize {p}")
    _check_fn(lambda x: TF.normalize(x, dim=-1), lambda x: F.normalize(x, dim=-1), [torch.cat([a, zero])],
              what="normalize with a zero row")
    _check_fn(torch.nn.CosineSimilarity(dim=1), nn.CosineSimilarity(dim=1), [a, b], what="CosineSimilarity")
    _check_fn(torch.nn.PairwiseDistance(keepdim=True), nn.PairwiseDistance(keepdim=True), [a, b],
              what="PairwiseDistance")


def _pm1(*shape):
    return torch.randint(0, 2, shape) * 2 - 1


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction):
    torch.manual_seed(2)
    x, y = torch.randn(6, 3) * 2, torch.randn(6, 3) * 2
    r = {"reduction": reduction}
    cases = [
        (lambda a, b: TF.smooth_l1_loss(a, b, **r, beta=0.5), lambda a, b: F.smooth_l1_loss(a, b, **r, beta=0.5),
         [x, y], "smooth_l1"),
        (lambda a, b: TF.smooth_l1_loss(a, b, **r, beta=0.0), lambda a, b: F.smooth_l1_loss(a, b, **r, beta=0.0),
         [x, y], "smooth_l1 beta 0"),
        (lambda a, b: TF.huber_loss(a, b, **r, delta=1.5), lambda a, b: F.huber_loss(a, b, **r, delta=1.5),
         [x, y], "huber"),
        (lambda a, b: TF.kl_div(a, b, **r), lambda a, b: F.kl_div(a, b, **r),
         [TF.log_softmax(x, 1), torch.cat([TF.softmax(y, 1)[:5], torch.tensor([[0.0, 0.5, 0.5]])])], "kl_div"),
        (lambda a, b: TF.kl_div(a, b, **r, log_target=True), lambda a, b: F.kl_div(a, b, **r, log_target=True),
         [TF.log_softmax(x, 1), TF.log_softmax(y, 1)], "kl_div log_target"),
        (lambda a, b, t: TF.cosine_embedding_loss(a, b, t, margin=0.2, **r),
         lambda a, b, t: F.cosine_embedding_loss(a, b, t, margin=0.2, **r), [x, y, _pm1(6)], "cosine_embedding"),
        (lambda a, b, t: TF.margin_ranking_loss(a, b, t, margin=0.3, **r),
         lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=0.3, **r),
         [x[:, 0], y[:, 0], _pm1(6).float()], "margin_ranking"),
        (lambda a, b: TF.soft_margin_loss(a, b, **r), lambda a, b: F.soft_margin_loss(a, b, **r),
         [x, _pm1(6, 3).float()], "soft_margin"),
        (lambda a, b: TF.hinge_embedding_loss(a, b, margin=0.5, **r),
         lambda a, b: F.hinge_embedding_loss(a, b, margin=0.5, **r), [x, _pm1(6, 3).float()], "hinge_embedding"),
        (lambda a, b: TF.poisson_nll_loss(a, b, **r), lambda a, b: F.poisson_nll_loss(a, b, **r),
         [x, torch.randint(0, 5, (6, 3)).float()], "poisson_nll"),
        (lambda a, b: TF.poisson_nll_loss(a, b, log_input=False, full=True, **r),
         lambda a, b: F.poisson_nll_loss(a, b, log_input=False, full=True, **r),
         [x.abs() + 0.1, torch.randint(0, 5, (6, 3)).float()], "poisson_nll full"),
        (lambda a, b, v: TF.gaussian_nll_loss(a, b, v, **r), lambda a, b, v: F.gaussian_nll_loss(a, b, v, **r),
         [x, y, x.abs() + 0.1], "gaussian_nll"),
        (lambda a, p, n: TF.triplet_margin_loss(a, p, n, **r), lambda a, p, n: F.triplet_margin_loss(a, p, n, **r),
         [x, y, torch.randn(6, 3)], "triplet"),
    ]
    for tfn, ofn, ins, what in cases:
        # targets of 0 in kl_div and poisson_nll have infinite gradients (torch: nan); +-1 targets are labels
        labels = what.startswith(("kl_div", "soft_margin", "hinge", "margin", "cosine_emb", "poisson"))
        _check_fn(tfn, ofn, ins, what=what, grads=[True, *(not labels,) * (len(ins) - 1)])
    lp = TF.log_softmax(x, 1)
    _close(F.kl_div(_t(lp), _t(TF.softmax(y, 1)), reduction="batchmean"),
           TF.kl_div(lp, TF.softmax(y, 1), reduction="batchmean"), "kl_div batchmean")


def test_loss_modules_and_repr():
    torch.manual_seed(3)
    x, y = torch.randn(4, 3), torch.randn(4, 3)
    for name, kw in [("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {"delta": 2.0}), ("MSELoss", {}),
                     ("L1Loss", {"reduction": "sum"}), ("SoftMarginLoss", {}),
                     ("KLDivLoss", {"reduction": "batchmean"}), ("HingeEmbeddingLoss", {}), ("PoissonNLLLoss", {})]:
        tm, om = getattr(torch.nn, name)(**kw), getattr(nn, name)(**kw)
        assert repr(om) == repr(tm)
        _check_fn(tm, om, [x, y], what=name, grads=[True, False])
    for name in ("CrossEntropyLoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "TripletMarginLoss",
                 "GaussianNLLLoss", "MarginRankingLoss", "NLLLoss", "BCELoss"):
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
    assert nn.MSELoss(size_average=False).reduction == torch.nn.MSELoss(size_average=False).reduction


def test_containers_like_torch():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert repr(seq) == repr(tseq) and len(seq) == 3 and isinstance(seq[1], nn.ReLU)
    assert repr(seq[1:]) == repr(tseq[1:]) and repr(seq[-1]) == repr(tseq[-1])
    seq.append(nn.Tanh())
    seq.insert(0, nn.Identity())
    tseq.append(torch.nn.Tanh())
    tseq.insert(0, torch.nn.Identity())
    seq.extend([nn.Sigmoid()])
    tseq.extend([torch.nn.Sigmoid()])
    assert repr(seq) == repr(tseq)
    assert repr(seq.pop(1)) == repr(tseq.pop(1)) and repr(seq) == repr(tseq)
    ml = nn.ModuleList([nn.Linear(1, 1)])
    tml = torch.nn.ModuleList([torch.nn.Linear(1, 1)])
    ml.extend([nn.ReLU(), nn.Tanh()])
    tml.extend([torch.nn.ReLU(), torch.nn.Tanh()])
    ml.insert(1, nn.Identity())
    tml.insert(1, torch.nn.Identity())
    assert repr(ml) == repr(tml) and len(ml) == 4 and [type(m).__name__ for m in ml][:2] == ["Linear", "Identity"]
    md = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    tmd = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2), "b": torch.nn.ReLU()})
    assert repr(md) == repr(tmd) and list(md.keys()) == ["a", "b"] and "a" in md
    pl = nn.ParameterList([nn.Parameter(tt.Tensor.zeros(2, 3)), tt.Tensor.ones(2)])
    assert isinstance(pl[1], nn.Parameter) and len(pl) == 2
    pl.append(nn.Parameter(tt.Tensor.zeros(1)))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"w": nn.Parameter(tt.Tensor.zeros(2))})
    pd["b"] = tt.Tensor.ones(1)
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert sorted(n for n, _ in pd.named_parameters()) == ["b", "w"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = nn.ParameterList([nn.Parameter(tt.Tensor.zeros(2))])
            self.rnn = nn.LSTM(2, 3)

    assert list(Net().state_dict()) == ["ps.0", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                        "rnn.bias_hh_l0"]


def test_forward_hooks_and_handles():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    x = tt.Tensor([[1.0, 2.0]])
    out = lin(x)
    np.testing.assert_allclose(out.numpy(), lin.bias.numpy()[None] + 1, rtol=1e-6)
    assert calls == [(1, 2)]
    h1.remove()
    h2.remove()
    h2.remove()  # a second remove does nothing
    np.testing.assert_allclose(lin(x).numpy(), (x.numpy() @ lin.weight.numpy().T) + lin.bias.numpy(), rtol=1e-5)
    assert calls == [(1, 2)]
    with pytest.raises(NotImplementedError, match="backward hooks"):
        lin.register_full_backward_hook(lambda m, gi, go: None)


def test_module_api_parity():
    m = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.GRU(4, 2))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.GRU(4, 2))
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    assert len(list(m.parameters())) == len(list(tm.parameters()))
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.eval()
    assert not any(x.training for x in m.modules())
    m.double()
    assert all(p.dtype == tt.float64 for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "LayerNorm", "GRU", "Sequential"]
    res = m.load_state_dict(tm.state_dict(), strict=False)
    assert res.missing_keys == [] and res.unexpected_keys == []


def test_modulelist_repr_groups_repeats_like_torch():
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU(), nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU(),
                                  torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.ReLU()])
    assert repr(ours) == repr(theirs)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    nested = nn.Sequential(nn.ModuleList([nn.Sequential(nn.Linear(1, 1)), nn.Sequential(nn.Linear(1, 1))]))
    tnested = torch.nn.Sequential(torch.nn.ModuleList([torch.nn.Sequential(torch.nn.Linear(1, 1)),
                                                       torch.nn.Sequential(torch.nn.Linear(1, 1))]))
    assert repr(nested) == repr(tnested)
