"""Tests of tinytorch.nn: Module registration and traversal, repr, modes, devices; layers, activations,
init statistics and every loss against numpy transcriptions of PyTorch's documented formulas (and
against torch itself when it is installed).

Takes: modules and random inputs built here (seeded per test). Produces: pass/fail with the op, shapes,
device and worst element on a mismatch (conftest.assert_close).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn
from tinytorch.nn import functional as F
from tinytorch.nn import init

from .conftest import assert_close


def T(a, device=None, dtype=None):
    return Tensor(np.asarray(a), dtype=dtype or tt.dtype.to_dtype(np.asarray(a).dtype), device=device)


# module registration ------------------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.gain = nn.Parameter(Tensor.ones(4))
        self.register_buffer("running", Tensor.zeros(4))
        self.register_buffer("tmp", Tensor.zeros(1), persistent=False)
        self.plain = Tensor([1.0])  # a plain tensor attribute is not registered

    def forward(self, x):
        return self.lin(x) * self.gain + self.running  # (N, 3) -> (N, 4)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(4, 2, bias=False))
        self.shared = self.head[1]  # the same module twice

    def forward(self, x):
        for b in self.blocks:
            x = b(x[:, :3]) if x.shape[1] == 3 else b(x[:, :3])
        return self.head(x)


def test_registration_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["blocks.0.gain", "blocks.0.lin.weight", "blocks.0.lin.bias", "blocks.1.gain",
                     "blocks.1.lin.weight", "blocks.1.lin.bias", "head.1.weight"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_buffers()] == ["blocks.0.running", "blocks.0.tmp", "blocks.1.running",
                                                   "blocks.1.tmp"]
    assert [n for n, _ in net.named_children()] == ["blocks", "head", "shared"]
    assert len(list(net.modules())) == 1 + 1 + 2 * 2 + 1 + 2
    sd = net.state_dict()
    assert "shared.weight" in sd and "head.1.weight" in sd  # shared parameters appear under each name
    assert "blocks.0.tmp" not in sd and "blocks.0.running" in sd
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert "plain" not in dict(net.named_parameters()) and "plain" not in dict(net.named_buffers())
    b = net.blocks[0]
    assert b.gain is b._parameters["gain"] and b.running is b._buffers["running"]


def test_named_parameters_match_torch():
    torch = pytest.importorskip("torch")

    class TBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 4)
            self.gain = torch.nn.Parameter(torch.ones(4))
            self.register_buffer("running", torch.zeros(4))
            self.register_buffer("tmp", torch.zeros(1), persistent=False)

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([TBlock(), TBlock()])
            self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2, bias=False))
            self.shared = self.head[1]

    ours, theirs = Net(), TNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__.replace("T", "", 1)
                                                         if type(m).__name__ in ("TNet", "TBlock")
                                                         else type(m).__name__ for m in theirs.modules()]


def test_setattr_rules():
    m = Block()
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'gain'"):
        m.gain = Tensor.ones(4)
    m.gain = None
    assert "gain" not in dict(m.named_parameters())
    m.gain = nn.Parameter(Tensor.ones(4))
    assert "gain" in dict(m.named_parameters())
    m.running = Tensor.ones(4)  # buffers may be replaced by plain tensors
    assert m._buffers["running"] is m.running
    m.lin = nn.Identity()
    assert [n for n, _ in m.named_parameters()] == ["gain"]
    del m.lin
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'lin'"):
        _ = m.lin

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(Tensor.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(KeyError, match="must not contain a dot"):
        m.register_buffer("a.b", Tensor.ones(1))


def test_train_eval_requires_grad_zero_grad():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    for p in net.parameters():
        p.grad = p.ones_like()
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and (p.grad.numpy() == 0).all() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_module_grads_flow_to_parameters():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    net(x).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    assert np.abs(net[0].weight.grad.numpy()).sum() > 0


def test_apply_order_children_first():
    seen = []
    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_repr_like_pytorch():
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                        nn.ModuleList([nn.LeakyReLU(0.1), nn.Softmax(dim=-1)]), nn.Linear(512, 10, bias=False),
                        nn.GELU(), nn.SiLU(), nn.Sigmoid(), nn.Tanh(), nn.LogSoftmax(dim=1), nn.Identity())
    expected = """Sequential(
  (0): Flatten(start_dim=1, end_dim=-1)
  (1): Linear(in_features=784, out_features=512, bias=True)
  (2): ReLU()
  (3): Dropout(p=0.2, inplace=False)
  (4): ModuleList(
    (0): LeakyReLU(negative_slope=0.1)
    (1): Softmax(dim=-1)
  )
  (5): Linear(in_features=512, out_features=10, bias=False)
  (6): GELU(approximate='none')
  (7): SiLU()
  (8): Sigmoid()
  (9): Tanh()
  (10): LogSoftmax(dim=1)
  (11): Identity()
)"""
    assert repr(net) == expected
    torch = pytest.importorskip("torch")
    tn = torch.nn
    theirs = tn.Sequential(tn.Flatten(), tn.Linear(784, 512), tn.ReLU(), tn.Dropout(0.2),
                           tn.ModuleList([tn.LeakyReLU(0.1), tn.Softmax(dim=-1)]), tn.Linear(512, 10, bias=False),
                           tn.GELU(), tn.SiLU(), tn.Sigmoid(), tn.Tanh(), tn.LogSoftmax(dim=1), tn.Identity())
    assert repr(net) == repr(theirs)


def test_repr_of_custom_module_and_losses():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 2))
            self.loss = nn.CrossEntropyLoss(label_smoothing=0.1)

    assert repr(Custom()) == ("Custom(\n  (body): Sequential(\n    (0): Linear(in_features=2, out_features=2, "
                              "bias=True)\n  )\n  (loss): CrossEntropyLoss()\n)")  # PyTorch's losses print no settings
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.L1Loss(reduction="sum")) == "L1Loss()"


def test_deep_model_no_recursion_limit():
    """Traversal, state_dict, apply and repr walk the tree iteratively: they work on a tree deeper than
    the (lowered) recursion limit."""
    import inspect
    import sys

    inner = nn.Sequential(nn.Linear(1, 1), nn.Identity())
    for _ in range(400):
        inner = nn.Sequential(inner)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 100)
    try:
        n_modules = len(list(inner.modules()))
        keys = list(inner.state_dict())
        n_params = len(list(inner.parameters()))
        seen: list[str] = []
        inner.apply(lambda m: seen.append(type(m).__name__))
        text = repr(inner)
    finally:
        sys.setrecursionlimit(old)
    assert n_modules == 401 + 2 and n_params == 2 and len(seen) == 403 and seen[:2] == ["Linear", "Identity"]
    assert keys == ["0." * 400 + "0.weight", "0." * 400 + "0.bias"]
    assert text.count("Identity()") == 1 and text.count("Sequential(") == 401


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1:], nn.Sequential)
    assert [type(m).__name__ for m in seq[1:]] == ["ReLU", "Linear"]
    del seq[1]
    assert [k for k, _ in seq.named_children()] == ["0", "1"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 3
    with pytest.raises(IndexError, match="out of range"):
        seq[5]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.act is named[1]
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Linear(1, 1))
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "ReLU", "Linear", "Tanh"]
    assert [n for n, _ in ml.named_parameters()] == ["2.weight", "2.bias"]
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2


def test_sequential_forward_matches_numpy(rng):
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    w1, b1 = net[1].weight.numpy(), net[1].bias.numpy()
    w2, b2 = net[3].weight.numpy(), net[3].bias.numpy()
    ref = np.maximum(x.reshape(5, 6) @ w1.T + b1, 0) @ w2.T + b2
    assert_close(net(Tensor(x)), ref, op="Sequential(Flatten, Linear, ReLU, Linear)", shapes=[x.shape], rtol=1e-5,
                 atol=1e-6)


def test_to_device_keeps_identity(device):
    net = nn.Sequential(nn.Linear(3, 2))
    net.register_buffer("b", Tensor([1.0, 2.0]))
    w = net[0].weight
    before = w.numpy().copy()
    assert net.to(device) is net
    assert net[0].weight is w and w.device == device and net.b.device == device
    np.testing.assert_array_equal(w.numpy(), before)
    x = Tensor(np.ones((1, 3), np.float32), device=device)
    assert_close(net(x), before.sum(1)[None] + net[0].bias.numpy(), op="Linear after to()", device=device,
                 rtol=1e-6)
    with pytest.raises(ValueError, match="neither a device"):
        net.to("GPU9")


def test_to_dtype():
    net = nn.Linear(3, 2)
    net.register_buffer("count", Tensor([3]))  # integer buffers are not cast
    w = net.weight
    net.double()
    assert net.weight is w and w.dtype == tt.float64 and net.bias.dtype == tt.float64 and net.count.dtype == tt.int64
    with pytest.raises(TypeError, match="floating point"):
        net.to("int32")


# layers ---------------------------------------------------------------------------------------------------------
def test_linear_shapes_and_errors(rng):
    lin = nn.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    ref = x @ lin.weight.numpy().T + lin.bias.numpy()
    assert_close(lin(Tensor(x)), ref, op="Linear", shapes=[x.shape], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) does not fit weight of shape \(3, 4\)"):
        lin(Tensor.ones(2, 5))
    assert nn.Linear(4, 3, bias=False).bias is None


def test_linear_init_statistics():
    tt.manual_seed(0)
    fan_in, fan_out = 400, 300
    lin = nn.Linear(fan_in, fan_out)
    w, b = lin.weight.numpy().copy(), lin.bias.numpy().copy()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): gain sqrt(2/6), bound gain*sqrt(3/fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 4 * bound / math.sqrt(3) / math.sqrt(w.size)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound and abs(b.std() - bound / math.sqrt(3)) < 0.1 * bound
    lin2 = nn.Linear(fan_in, fan_out)
    assert not np.array_equal(lin2.weight.numpy(), w), "two layers draw different weights"
    tt.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(fan_in, fan_out).weight.numpy(), w)  # manual_seed reproduces
    old = lin.weight
    lin.reset_parameters()
    assert lin.weight is old and not np.array_equal(old.numpy(), w)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_dropout(p):
    x = Tensor.ones(200, 500) * 2.0
    d = nn.Dropout(p)
    y = d(x).numpy()
    if p == 1.0:
        assert (y == 0).all()
    else:
        kept = y != 0
        np.testing.assert_allclose(y[kept], 2.0 / (1 - p), rtol=1e-6)
        frac_zero = 1 - kept.mean()
        assert abs(frac_zero - p) < 4 * math.sqrt(p * (1 - p) / y.size) + 1e-9
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_flatten_identity_unflatten():
    x = Tensor(np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    assert nn.Identity(54, unused="x")(x) is x
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_erf(x):
    import scipy.special

    return scipy.special.erf(x)


ACTIVATIONS = {
    "relu": (nn.ReLU(), F.relu, lambda x: np.maximum(x, 0)),
    "gelu": (nn.GELU(), F.gelu, lambda x: 0.5 * x * (1 + _np_erf(x / math.sqrt(2)))),
    "gelu_tanh": (nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    "sigmoid": (nn.Sigmoid(), F.sigmoid, _np_sigmoid),
    "tanh": (nn.Tanh(), F.tanh, np.tanh),
    "silu": (nn.SiLU(), F.silu, lambda x: x * _np_sigmoid(x)),
    "leaky_relu": (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "softmax": (nn.Softmax(dim=1), lambda x: F.softmax(x, dim=1),
                lambda x: np.exp(x - x.max(1, keepdims=True))
                / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)),
    "log_softmax": (nn.LogSoftmax(dim=-1), lambda x: F.log_softmax(x, dim=-1),
                    lambda x: x - x.max(-1, keepdims=True)
                    - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True))),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations(name, device, rng):
    mod, fn, ref = ACTIVATIONS[name]
    x = (rng.standard_normal((4, 6, 3)) * 4).astype(np.float32)
    x[0, 0, 0] = 0.0
    expected = ref(x.astype(np.float64))
    xt = Tensor(x, device=device)
    assert_close(mod(xt), expected, op=f"nn.{type(mod).__name__}", shapes=[x.shape], device=device, rtol=2e-6,
                 atol=1e-6)
    assert_close(fn(xt), expected, op=f"F.{name}", shapes=[x.shape], device=device, rtol=2e-6, atol=1e-6)


def test_softmax_implicit_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(Tensor.ones(2, 3))
    np.testing.assert_allclose(y.numpy(), np.full((2, 3), 1 / 3), rtol=1e-6)


# init -------------------------------------------------------------------------------------------------------------
def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    torch = pytest.importorskip("torch")
    for nl, prm in [("linear", None), ("conv2d", None), ("tanh", None), ("relu", None), ("leaky_relu", 0.2),
                    ("selu", None)]:
        assert init.calculate_gain(nl, prm) == pytest.approx(torch.nn.init.calculate_gain(nl, prm))


INITS = {
    # name: (call, expected std, bound or None, expected mean)  for a (fan_out=300, fan_in=200) tensor
    "uniform_": (lambda t: init.uniform_(t, -0.5, 1.5), 2 / math.sqrt(12), (-0.5, 1.5), 0.5),
    "normal_": (lambda t: init.normal_(t, 0.3, 0.2), 0.2, None, 0.3),
    "xavier_uniform_": (lambda t: init.xavier_uniform_(t, gain=2.0), 2.0 * math.sqrt(2 / 500),
                        (-2.0 * math.sqrt(6 / 500), 2.0 * math.sqrt(6 / 500)), 0.0),
    "xavier_normal_": (lambda t: init.xavier_normal_(t), math.sqrt(2 / 500), None, 0.0),
    "kaiming_uniform_": (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 200),
                         (-math.sqrt(6 / 200), math.sqrt(6 / 200)), 0.0),
    "kaiming_uniform_fan_out": (lambda t: init.kaiming_uniform_(t, a=0.1, mode="fan_out"),
                                math.sqrt(2 / 1.01 / 300), None, 0.0),
    "kaiming_normal_": (lambda t: init.kaiming_normal_(t, mode="fan_in", nonlinearity="relu"), math.sqrt(2 / 200),
                        None, 0.0),
    "trunc_normal_": (lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04), 0.02 * 0.8796, (-0.04, 0.04), 0.0),
}


@pytest.mark.parametrize("name", list(INITS))
def test_init_statistics(name):
    call, std, bound, mean = INITS[name]
    tt.manual_seed(3)
    t = nn.Parameter(Tensor.empty(300, 200))
    assert call(t) is t
    v = t.numpy().astype(np.float64)
    n = v.size
    assert abs(v.mean() - mean) < 5 * std / math.sqrt(n), f"{name}: mean {v.mean()} vs {mean}"
    assert abs(v.std() - std) < 0.02 * std, f"{name}: std {v.std()} vs {std}"
    if bound is not None:
        lo, hi = bound
        assert v.min() >= lo and v.max() <= hi and v.min() < lo + 0.01 * (hi - lo) and v.max() > hi - 0.01 * (hi - lo)


def test_constant_inits_and_fan_errors():
    t = Tensor.empty(3, 4, 5)
    np.testing.assert_array_equal(init.constant_(t, 2.5).numpy(), np.full((3, 4, 5), 2.5, np.float32))
    np.testing.assert_array_equal(init.zeros_(t).numpy(), 0)
    np.testing.assert_array_equal(init.ones_(t).numpy(), 1)
    np.testing.assert_array_equal(init.eye_(Tensor.empty(2, 3)).numpy(), np.eye(2, 3))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(Tensor.empty(5))
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_normal_(Tensor.empty(5, 5), mode="fan_avg")
    with pytest.raises(TypeError, match="floating point"):
        init.normal_(Tensor.zeros(3, 3, dtype="int32"))
    # the receptive field multiplies the fans of conv-shaped tensors: (out=8, in=4, 3, 3) -> fan_in 36
    tt.manual_seed(0)
    w = init.kaiming_normal_(Tensor.empty(8, 4, 3, 3), nonlinearity="relu")
    assert w.shape == (8, 4, 3, 3)
    big = init.kaiming_uniform_(Tensor.empty(64, 16, 5, 5), nonlinearity="linear").numpy()
    assert np.abs(big).max() <= math.sqrt(3 / 400)


# losses: numpy transcriptions of the formulas in PyTorch's documentation -----------------------------------------
def np_log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def np_reduce(v, reduction):
    return {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]


def np_nll(logp, y, w=None, ignore_index=-100, reduction="mean"):
    """l_n = -w_{y_n} x_{n, y_n} (0 where y_n == ignore_index); mean = sum l_n / sum w_{y_n}."""
    c = logp.shape[1]
    lp = np.moveaxis(logp, 1, -1)  # (N, d..., C)
    w = np.ones(c) if w is None else w
    keep = y != ignore_index
    ys = np.where(keep, y, 0)
    picked = np.take_along_axis(lp, ys[..., None], -1)[..., 0]
    wy = w[ys] * keep
    loss = -picked * wy
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / wy.sum()


def np_cross_entropy(x, y, w=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """(1 - e) nll + e/C * sum_c -w_c log p_c, masked by ignore_index, 'mean' over sum of w_{y_n}."""
    c = x.shape[1]
    logp = np_log_softmax(x, 1)
    nll = np_nll(logp, y, w, ignore_index, reduction)
    wv = np.ones(c) if w is None else w
    keep = y != ignore_index
    smooth = -(np.moveaxis(logp, 1, -1) * wv).sum(-1) * keep
    if reduction == "none":
        s = smooth
    elif reduction == "sum":
        s = smooth.sum()
    else:
        s = smooth.sum() / (wv[np.where(keep, y, 0)] * keep).sum()
    return (1 - label_smoothing) * nll + label_smoothing / c * s


CE_CASES = {
    "2d": dict(shape=(6, 5)),
    "2d-weight": dict(shape=(6, 5), weight=True),
    "2d-ignore": dict(shape=(8, 4), ignore_index=-100, n_ignored=3),
    "2d-ignore-class0": dict(shape=(8, 4), ignore_index=0),
    "2d-smooth": dict(shape=(6, 5), label_smoothing=0.2),
    "2d-smooth-ignore": dict(shape=(8, 4), label_smoothing=0.2, n_ignored=3),
    "2d-smooth-ignore-weight": dict(shape=(9, 5), label_smoothing=0.1, ignore_index=2, weight=True),
    "4d": dict(shape=(2, 3, 4, 5)),
    "4d-smooth-ignore-weight": dict(shape=(2, 3, 4, 5), label_smoothing=0.3, ignore_index=-1, n_ignored=7,
                                    weight=True),
    "3d": dict(shape=(3, 4, 6), label_smoothing=0.05),
}


def _ce_inputs(case, rng):
    spec = CE_CASES[case]
    shape = spec["shape"]
    c = shape[1]
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    tshape = (shape[0], *shape[2:])
    y = rng.integers(0, c, size=tshape).astype(np.int64)
    ignore = spec.get("ignore_index", -100)
    if spec.get("n_ignored"):
        flat = y.reshape(-1)
        flat[rng.choice(flat.size, spec["n_ignored"], replace=False)] = ignore
    w = (rng.random(c) + 0.5).astype(np.float32) if spec.get("weight") else None
    return x, y, w, ignore, spec.get("label_smoothing", 0.0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", list(CE_CASES))
def test_cross_entropy_vs_numpy(case, reduction, rng, device):
    x, y, w, ignore, ls = _ce_inputs(case, rng)
    expected = np_cross_entropy(x.astype(np.float64), y, None if w is None else w.astype(np.float64), ignore,
                                reduction, ls)
    wt = None if w is None else Tensor(w, device=device)
    got = F.cross_entropy(Tensor(x, device=device), Tensor(y, device=device), wt, ignore, reduction, ls)
    assert_close(got, expected, op=f"cross_entropy[{case}]", shapes=[x.shape, y.shape], device=device, rtol=2e-5,
                 atol=1e-6)
    mod = nn.CrossEntropyLoss(weight=wt, ignore_index=ignore, reduction=reduction, label_smoothing=ls)
    assert_close(mod(Tensor(x, device=device), Tensor(y, device=device)), expected, op="CrossEntropyLoss",
                 shapes=[x.shape], device=device, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", ["2d", "2d-weight", "2d-ignore", "2d-ignore-class0", "4d-smooth-ignore-weight"])
def test_nll_loss_vs_numpy(case, reduction, rng):
    x, y, w, ignore, _ = _ce_inputs(case, rng)
    logp = np_log_softmax(x.astype(np.float64), 1)
    expected = np_nll(logp, y, None if w is None else w.astype(np.float64), ignore, reduction)
    wt = None if w is None else Tensor(w)
    got = nn.NLLLoss(weight=wt, ignore_index=ignore, reduction=reduction)(Tensor(logp.astype(np.float32)), Tensor(y))
    assert_close(got, expected, op=f"nll_loss[{case}]", shapes=[x.shape, y.shape], rtol=2e-5, atol=1e-6)


def test_cross_entropy_float64_tight(rng):
    x, y, w, ignore, ls = _ce_inputs("2d-smooth-ignore-weight", rng)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    got = F.cross_entropy(T(x64), T(y), T(w64), ignore, "mean", ls)
    assert got.dtype == tt.float64
    assert_close(got, np_cross_entropy(x64, y, w64, ignore, "mean", ls), op="cross_entropy f64", rtol=1e-12)


def test_cross_entropy_extreme_logits_and_unbatched():
    x = np.array([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]], np.float32)
    y = np.array([2, 0])
    got = F.cross_entropy(Tensor(x), Tensor(y), reduction="none").numpy()
    assert got[0] == pytest.approx(2000.0) and got[1] == np.inf
    # unbatched (C,) input with a 0-d target
    xv = np.array([0.5, -1.0, 2.0], np.float32)
    expected = -np_log_softmax(xv[None].astype(np.float64), 1)[0, 2]
    assert F.cross_entropy(Tensor(xv), Tensor(np.array(2))).item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_probability_targets(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    p = rng.random((5, 4))
    p /= p.sum(1, keepdims=True)
    w = rng.random(4) + 0.5
    ls = 0.1
    tp = p * (1 - ls) + ls / 4
    ref = -(np_log_softmax(x.astype(np.float64), 1) * tp * w).sum(1)
    got = F.cross_entropy(Tensor(x), Tensor(p.astype(np.float32)), weight=Tensor(w.astype(np.float32)),
                          label_smoothing=ls)
    assert_close(got, ref.mean(), op="cross_entropy(prob targets)", rtol=2e-5)
    assert_close(F.cross_entropy(Tensor(x), Tensor(p.astype(np.float32)), reduction="none"),
                 -(np_log_softmax(x.astype(np.float64), 1) * p).sum(1), op="cross_entropy(prob, none)", rtol=2e-5)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    got = F.cross_entropy(Tensor.ones(3, 2), Tensor([-100, -100, -100])).item()
    assert math.isnan(got)
    assert F.cross_entropy(Tensor.ones(3, 2), Tensor([-100, -100, -100]), reduction="sum").item() == 0.0


def test_cross_entropy_errors():
    x = Tensor.ones(4, 3)
    with pytest.raises(ValueError, match=r"cross_entropy: target of shape \(5,\) does not fit input of shape \(4, 3\)"):
        F.cross_entropy(x, Tensor([0, 1, 2, 0, 1]))
    with pytest.raises(TypeError, match="cross_entropy: expected class indices in an integer tensor"):
        F.cross_entropy(x, Tensor([True, False, True, True]))
    with pytest.raises(ValueError, match=r"float target holds class probabilities .* \(4, 3\), got \(4,\)"):
        F.cross_entropy(x, Tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, Tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"weight must be a Tensor of shape \(3,\)"):
        F.cross_entropy(x, Tensor([0, 1, 2, 0]), weight=Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F.cross_entropy(x, Tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(TypeError, match="nll_loss: input must be a floating point"):
        F.nll_loss(Tensor([[1, 2]]), Tensor([0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_l1_vs_numpy(reduction, rng, device):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.standard_normal((4, 5)).astype(np.float32)
    d = x.astype(np.float64) - y
    xt, yt = Tensor(x, device=device), Tensor(y, device=device)
    assert_close(nn.MSELoss(reduction=reduction)(xt, yt), np_reduce(d * d, reduction), op="MSELoss", device=device,
                 rtol=2e-6)
    assert_close(nn.L1Loss(reduction=reduction)(xt, yt), np_reduce(np.abs(d), reduction), op="L1Loss", device=device,
                 rtol=2e-6)
    assert_close(F.mse_loss(xt, yt, reduction), np_reduce(d * d, reduction), op="mse_loss", device=device, rtol=2e-6)


def test_mse_shape_checks():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(Tensor.ones(3, 1), Tensor.ones(3))
    with pytest.raises(ValueError, match=r"mse_loss: target of shape \(4,\) does not match input of shape \(3,\)"):
        F.mse_loss(Tensor.ones(3), Tensor.ones(4))
    with pytest.raises(TypeError, match="l1_loss: input must be a floating point tensor"):
        F.l1_loss(Tensor([1, 2]), Tensor([1, 2]))


def np_bce(p, y, w=None):
    """-w (y max(log p, -100) + (1 - y) max(log(1 - p), -100))"""
    with np.errstate(divide="ignore"):
        loss = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))
    return loss if w is None else loss * w


def np_bce_logits(x, y, w=None, pw=None):
    """-w (pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), computed with log1p for accuracy"""
    log_sig = -np.logaddexp(0, -x)  # log sigmoid(x)
    log_1m = -np.logaddexp(0, x)  # log(1 - sigmoid(x))
    pw = 1.0 if pw is None else pw
    loss = -(pw * y * log_sig + (1 - y) * log_1m)
    return loss if w is None else loss * w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_vs_numpy(reduction, weighted, rng, device):
    p = rng.random((6, 3)).astype(np.float32)
    p[0, :] = [0.0, 1.0, 0.5]  # the -100 clamp
    y = (rng.random((6, 3)) < 0.5).astype(np.float32)
    y[0, :] = [1.0, 0.0, 0.3]
    w = (rng.random(3) + 0.5).astype(np.float32) if weighted else None
    expected = np_reduce(np_bce(p.astype(np.float64), y, w), reduction)
    got = nn.BCELoss(weight=None if w is None else Tensor(w, device=device), reduction=reduction)(
        Tensor(p, device=device), Tensor(y, device=device))
    assert_close(got, expected, op="BCELoss", shapes=[p.shape], device=device, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("variant", ["plain", "pos_weight", "both"])
def test_bce_with_logits_vs_numpy(reduction, variant, rng, device):
    x = (rng.standard_normal((5, 4)) * 5).astype(np.float32)
    x[0, :] = [80.0, -80.0, 30.0, -30.0]  # far tails: the stable form neither overflows nor loses the small side
    y = (rng.random((5, 4)) < 0.5).astype(np.float32)
    y[0, :] = [0.0, 1.0, 1.0, 0.0]
    pw = (rng.random(4) * 3).astype(np.float32) if variant != "plain" else None
    w = (rng.random((5, 1)) + 0.5).astype(np.float32) if variant == "both" else None
    expected = np_reduce(np_bce_logits(x.astype(np.float64), y, w, pw), reduction)
    mod = nn.BCEWithLogitsLoss(weight=None if w is None else Tensor(w, device=device), reduction=reduction,
                               pos_weight=None if pw is None else Tensor(pw, device=device))
    got = mod(Tensor(x, device=device), Tensor(y, device=device))
    assert_close(got, expected, op=f"BCEWithLogitsLoss[{variant}]", shapes=[x.shape], device=device, rtol=2e-5,
                 atol=1e-7)


def test_bce_with_logits_tiny_losses_keep_relative_accuracy():
    x = np.array([-20.0, -40.0, 20.0], np.float32)
    y = np.array([0.0, 0.0, 1.0], np.float32)
    got = F.binary_cross_entropy_with_logits(Tensor(x), Tensor(y), reduction="none")
    assert_close(got, np.log1p(np.exp(-np.abs(x.astype(np.float64)))), op="bce_with_logits tails", rtol=1e-5)


def test_bce_shape_errors():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target of shape \(3, 1\) must have"):
        F.binary_cross_entropy(Tensor.ones(3) * 0.5, Tensor.ones(3, 1))
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(Tensor.ones(3, 2), Tensor.ones(3, 2), pos_weight=Tensor.ones(3))


# against torch, when it is installed (values and gradients) ----------------------------------------------------------
def _torch_loss(torch, name, x, y, **kw):
    tf = torch.nn.functional
    fn = {"cross_entropy": tf.cross_entropy, "nll_loss": tf.nll_loss, "bce": tf.binary_cross_entropy,
          "bce_logits": tf.binary_cross_entropy_with_logits, "mse": tf.mse_loss, "l1": tf.l1_loss}[name]
    return fn(x, y, **kw)


TORCH_CASES = [
    ("cross_entropy", "4d-smooth-ignore-weight", "mean"),
    ("cross_entropy", "2d-smooth-ignore-weight", "sum"),
    ("cross_entropy", "2d-ignore-class0", "none"),
    ("cross_entropy", "3d", "mean"),
    ("nll_loss", "2d-weight", "mean"),
]


@pytest.mark.parametrize("name,case,reduction", TORCH_CASES, ids=["-".join(c) for c in TORCH_CASES])
def test_class_losses_match_torch(name, case, reduction, rng):
    torch = pytest.importorskip("torch")
    x, y, w, ignore, ls = _ce_inputs(case, rng)
    kw = dict(ignore_index=ignore, reduction=reduction)
    if name == "cross_entropy":
        kw["label_smoothing"] = ls
    tx = torch.tensor(x, requires_grad=True)
    tw = None if w is None else torch.tensor(w)
    ref = _torch_loss(torch, name, tx, torch.tensor(y), weight=tw, **kw)
    cot = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    (ref * torch.tensor(cot)).sum().backward()
    ox = Tensor(x, requires_grad=True)
    fn = F.cross_entropy if name == "cross_entropy" else F.nll_loss
    got = fn(ox, Tensor(y), None if w is None else Tensor(w), **kw)
    (got * Tensor(cot)).sum().backward()  # before realizing `got` (see the note in the report of issue 3)
    assert_close(got, ref.detach().numpy(), op=f"{name} vs torch", shapes=[x.shape], rtol=2e-5, atol=1e-6)
    assert_close(ox.grad, tx.grad.numpy(), op=f"{name} grad vs torch", shapes=[x.shape], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["bce", "bce_logits", "mse", "l1"])
def test_elementwise_losses_match_torch(name, rng):
    torch = pytest.importorskip("torch")
    if name == "bce":
        x = rng.uniform(0.02, 0.98, (4, 3)).astype(np.float32)
    else:
        x = (rng.standard_normal((4, 3)) * 3).astype(np.float32)
        x[0, :2] = 0.0  # zero logits (a zero-initialised head): the gradient there must be the smooth one
    y = (rng.random((4, 3)) < 0.5).astype(np.float32) if name.startswith("bce") else \
        rng.standard_normal((4, 3)).astype(np.float32)
    kw = {}
    if name == "bce_logits":
        kw["pos_weight"] = torch.tensor([0.5, 2.0, 3.0])
    if name.startswith("bce"):
        kw["weight"] = torch.tensor([[1.0], [0.5], [2.0], [1.5]])
    tx = torch.tensor(x, requires_grad=True)
    ref = _torch_loss(torch, name, tx, torch.tensor(y), **kw)
    ref.backward()
    ours_kw = {k: Tensor(v.numpy()) for k, v in kw.items()}
    ox = Tensor(x, requires_grad=True)
    fn = {"bce": F.binary_cross_entropy, "bce_logits": F.binary_cross_entropy_with_logits, "mse": F.mse_loss,
          "l1": F.l1_loss}[name]
    got = fn(ox, Tensor(y), **ours_kw)
    got.backward()
    assert_close(got, ref.detach().numpy(), op=f"{name} vs torch", rtol=2e-5)
    assert_close(ox.grad, tx.grad.numpy(), op=f"{name} grad vs torch", rtol=1e-4, atol=1e-7)


def test_linear_and_mlp_match_torch(rng):
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Linear(8, 3), nn.LogSoftmax(dim=-1))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.GELU(), torch.nn.Linear(8, 3),
                                 torch.nn.LogSoftmax(dim=-1))
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((7, 5)).astype(np.float32)
    assert_close(ours(Tensor(x)), theirs(torch.tensor(x)).detach().numpy(), op="MLP vs torch", rtol=1e-5, atol=1e-6)


def test_one_hot():
    got = F.one_hot(Tensor([[0, 2], [1, 1]]), 3)
    assert got.dtype == tt.int64 and got.shape == (2, 2, 3)
    np.testing.assert_array_equal(got.numpy(), np.eye(3, dtype=np.int64)[[[0, 2], [1, 1]]])
    assert F.one_hot(Tensor([3, 0])).shape == (2, 4)  # num_classes inferred as max + 1
    with pytest.raises(TypeError, match="one_hot: expected an integer tensor"):
        F.one_hot(Tensor([1.0]))
