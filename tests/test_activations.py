"""Activations against PyTorch: nn.functional forward and gradient at the edge values (the kinks at 0, +-3,
+-lambd and the bounds, +-inf, NaN, huge magnitudes) on C and INTERP; softmax/log_softmax/softmin with -inf
entries and whole -inf rows; glu, prelu (per-channel weight gradient), rrelu; the modules' repr against
torch's; inplace=True; the errors PyTorch raises.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn
from tinytorch.nn import functional as F

from .conftest import require_device

torch = pytest.importorskip("torch")
TF = torch.nn.functional

INF, NAN = math.inf, math.nan
EDGE = [-1e30, -100.0, -20.5, -10.0, -6.0, -3.0, -2.9, -2.0, -1.0, -0.5, -1e-6, -0.0, 0.0, 1e-6, 0.25, 0.5, 1.0, 2.0,
        2.9, 3.0, 6.0, 10.0, 20.5, 100.0, 1e30, INF, -INF, NAN]

ACTS: dict[str, tuple[Any, Any]] = {
    "relu": (TF.relu, F.relu),
    "relu6": (TF.relu6, F.relu6),
    "hardtanh": (lambda x: TF.hardtanh(x, -2.0, 3.0), lambda x: F.hardtanh(x, -2.0, 3.0)),
    "hardsigmoid": (TF.hardsigmoid, F.hardsigmoid),
    "hardswish": (TF.hardswish, F.hardswish),
    "elu": (lambda x: TF.elu(x, 0.7), lambda x: F.elu(x, 0.7)),
    "selu": (TF.selu, F.selu),
    "celu": (lambda x: TF.celu(x, 0.7), lambda x: F.celu(x, 0.7)),
    "mish": (TF.mish, F.mish),
    "softsign": (TF.softsign, F.softsign),
    "tanhshrink": (TF.tanhshrink, F.tanhshrink),
    "softshrink": (TF.softshrink, F.softshrink),
    "hardshrink": (lambda x: TF.hardshrink(x, 1.0), lambda x: F.hardshrink(x, 1.0)),
    "threshold": (lambda x: TF.threshold(x, 0.5, -3.0), lambda x: F.threshold(x, 0.5, -3.0)),
    "logsigmoid": (TF.logsigmoid, F.logsigmoid),
    "silu": (TF.silu, F.silu),
    "gelu": (TF.gelu, F.gelu),
    "gelu_tanh": (lambda x: TF.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    "leaky_relu": (lambda x: TF.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    "softplus": (lambda x: TF.softplus(x, 2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    "sigmoid": (torch.sigmoid, F.sigmoid),
    "tanh": (torch.tanh, F.tanh),
    "rrelu_eval": (TF.rrelu, F.rrelu),
    "prelu_scalar": (lambda x: TF.prelu(x, torch.tensor([0.3], dtype=x.dtype)),
                     lambda x: F.prelu(x, Tensor([0.3], dtype=x.dtype, device=x.device))),
}
# where torch's own slope is NaN or imprecise, ours is the limit / exact (documented in the functions)
GRAD_SKIP = {"gelu_tanh": {-1e30, 1e30}}


@pytest.fixture(params=("C", "INTERP"))
def dev(request: pytest.FixtureRequest) -> str:
    return require_device(request.param)


def _diff(name: str, got: np.ndarray, want: np.ndarray, xs: np.ndarray, rtol: float, atol: float,
          mask: np.ndarray | None = None) -> str | None:
    bad = ~np.isclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)
    if mask is not None:
        bad &= mask
    return f"{name}: at {xs[bad][:5]} got {got[bad][:5]} want {want[bad][:5]}" if bad.any() else None


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_activations_forward_and_gradient(dev: str, dt: str) -> None:
    xs = np.array(EDGE)
    runs = []
    for name, (tf, f) in ACTS.items():
        x = Tensor(xs, dtype=getattr(tt, dt), device=dev, requires_grad=True)
        y = f(x)
        y.sum().backward()
        tx = torch.tensor(xs, dtype=getattr(torch, dt), requires_grad=True)
        ty = tf(tx)
        ty.sum().backward()
        # torch's one-element (scalar loop) values: where its vector loop differs (float32 gelu(inf) is NaN in
        # the AVX-512 loop, inf in the scalar one and in float64), either is accepted
        with torch.no_grad():
            ty1 = torch.cat([tf(tx[i:i + 1]) for i in range(len(xs))]).numpy()
        runs.append((name, y, x.grad, ty.detach().numpy(), tx.grad.numpy(), ty1))
    Tensor.realize(*[r[1] for r in runs], *[r[2] for r in runs])
    # float64: torch computes some slopes with float32 constants (hardsigmoid's 1/6, celu's 1/alpha)
    rtol, atol = (2e-5, 1e-6) if dt == "float32" else (3e-7, 1e-12)
    fails = []
    for name, y, g, ty, tg, ty1 in runs:
        assert y.dtype == getattr(tt, dt), name
        got = y.numpy()
        scalar_ok = np.isclose(got.astype(np.float64), ty1.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)
        fails.append(_diff(name, got, np.where(scalar_ok, ty1, ty), xs, rtol, atol))
        mask = np.isfinite(xs) & ~np.isin(xs, list(GRAD_SKIP.get(name, ())))
        fails.append(_diff(f"d {name}", g.numpy(), tg, xs, rtol, atol, mask))
    fails = [f for f in fails if f]
    assert not fails, "\n".join(fails)


def test_softmax_family_with_infinite_entries(dev: str) -> None:
    rows = np.array([[0.0, -INF, 1.0], [-INF, -INF, -INF], [1e-30, 2e-30, 0.0], [-1e30, 0.0, 5.0], [INF, 0.0, 1.0],
                     [-100.0, 0.0, -200.0], [3.0, 3.0, 3.0], [-1e4, -1e4 + 1, -1e4 + 2]], np.float32)
    w = np.arange(24, dtype=np.float32).reshape(8, 3) / 7
    for name in ("softmax", "log_softmax", "softmin"):
        x = Tensor(rows, device=dev, requires_grad=True)
        y = getattr(F, name)(x, dim=1)
        (y * Tensor(w, device=dev)).nan_to_num().sum().backward()
        tx = torch.tensor(rows, requires_grad=True)
        ty = getattr(TF, name)(tx, dim=1)
        (ty * torch.tensor(w)).nan_to_num().sum().backward()
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, err_msg=name)
        assert x.grad is not None
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=5e-7, err_msg=name)
    # a row with one -inf entry is finite; only an all -inf (or a +inf) row is NaN, as torch
    sm = F.softmax(Tensor(rows, device=dev), dim=1).numpy()
    assert np.isfinite(sm[[0, 2, 3, 5, 6, 7]]).all() and np.isnan(sm[[1, 4]]).all()


def test_softmax_dtype_argument_and_integer_inputs() -> None:
    x = Tensor([[1.0, 2.0, 3.0]])
    assert F.softmax(x, dim=1, dtype=tt.float64).dtype == tt.float64
    assert F.log_softmax(x, dim=-1, dtype=tt.float64).dtype == tt.float64
    got = F.softmin(x, dim=1).numpy()
    np.testing.assert_allclose(got, TF.softmin(torch.tensor([[1.0, 2.0, 3.0]]), dim=1).numpy(), rtol=1e-6)


def test_glu_prelu_per_channel_gradients(dev: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 4, 3)).astype(np.float32)
    for dim in (1, -1, 0):
        if a.shape[dim] % 2:
            with pytest.raises(RuntimeError, match="Halving dimension must be even"):
                F.glu(Tensor(a, device=dev), dim)
            continue
        x, tx = Tensor(a, device=dev, requires_grad=True), torch.tensor(a, requires_grad=True)
        F.glu(x, dim).sum().backward()
        TF.glu(tx, dim).sum().backward()
        assert x.grad is not None
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)
    wv = np.array([0.1, -0.5, 0.25, 2.0], np.float32)
    x, tx = Tensor(a, device=dev, requires_grad=True), torch.tensor(a, requires_grad=True)
    w, tw = Tensor(wv, device=dev, requires_grad=True), torch.tensor(wv, requires_grad=True)
    y, ty = F.prelu(x, w), TF.prelu(tx, tw)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6)
    assert x.grad is not None and w.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        F.prelu(Tensor(a, device=dev), Tensor([0.1, 0.2], device=dev))


def test_rrelu_training_slopes_lie_between_the_bounds() -> None:
    x = Tensor(-np.ones(2000, np.float32))
    y = F.rrelu(x, 0.1, 0.3, training=True).numpy()
    assert ((y <= -0.1 + 1e-7) & (y >= -0.3 - 1e-7)).all() and y.std() > 0.03  # per-element slopes
    m = nn.RReLU(0.1, 0.3)
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), np.full(2000, -0.2), rtol=1e-6)
    assert (F.rrelu(Tensor([2.0]), training=True).numpy() == 2.0).all()


MODULES = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("ReLU6", (), {}), ("ReLU6", (), {"inplace": True}),
    ("Hardtanh", (-2.0, 2.0), {}), ("Hardtanh", (), {"inplace": True}), ("Hardsigmoid", (), {}),
    ("Hardswish", (), {}), ("ELU", (), {"alpha": 0.5}), ("ELU", (), {"inplace": True}), ("SELU", (), {}),
    ("CELU", (0.7,), {}), ("Mish", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}), ("LogSigmoid", (), {}),
    ("Softshrink", (), {}), ("Hardshrink", (0.3,), {}), ("Threshold", (0.1, 20.0), {}), ("Softmin", (), {"dim": 1}),
    ("GLU", (), {}), ("PReLU", (), {}), ("PReLU", (4,), {"init": 0.1}), ("RReLU", (), {}), ("SiLU", (), {}),
    ("LeakyReLU", (0.2,), {"inplace": True}), ("GELU", (), {"approximate": "tanh"}), ("Softplus", (2.0, 10.0), {}),
    ("Softmax", (), {"dim": -1}), ("LogSoftmax", (), {"dim": 1}), ("Sigmoid", (), {}), ("Tanh", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_module_repr_and_forward_match_torch(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    a = np.linspace(-4, 4, 24, dtype=np.float32).reshape((2, 3, 4) if name == "GLU" else (2, 4, 3))
    if name == "RReLU":
        ours.eval(), theirs.eval()
    got = ours(Tensor(a)).numpy()
    np.testing.assert_allclose(got, theirs(torch.tensor(a)).detach().numpy(), rtol=1e-5, atol=1e-7)
    if name == "PReLU":
        assert [n for n, _ in ours.named_parameters()] == ["weight"] and ours.weight.shape == theirs.weight.shape


def test_inplace_writes_into_the_input_and_refuses_a_leaf_that_requires_grad() -> None:
    x = Tensor([-1.0, 0.5, 7.0])
    y = F.relu6(x, inplace=True)
    assert y is x and x.tolist() == [0.0, 0.5, 6.0]
    x = Tensor([-1.0, 2.0])
    nn.ELU(inplace=True)(x)
    np.testing.assert_allclose(x.numpy(), [math.expm1(-1.0), 2.0], rtol=1e-6)
    w = Tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(w, inplace=True)
    # inside a network (a non-leaf input) the in-place module trains like the out-of-place one
    lin = nn.Linear(3, 2)
    tlin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        tlin.weight.copy_(torch.tensor(lin.weight.numpy()))
        tlin.bias.copy_(torch.tensor(lin.bias.numpy()))
    xin = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -4.0]], np.float32)
    (nn.Sequential(lin, nn.Hardtanh(-0.5, 0.5, inplace=True))(Tensor(xin)) ** 2).sum().backward()
    (torch.nn.Sequential(tlin, torch.nn.Hardtanh(-0.5, 0.5, inplace=True))(torch.tensor(xin)) ** 2).sum().backward()
    assert lin.weight.grad is not None and tlin.weight.grad is not None
    np.testing.assert_allclose(lin.weight.grad.numpy(), tlin.weight.grad.numpy(), rtol=1e-6)


def test_argument_errors_as_torch() -> None:
    with pytest.raises(RuntimeError):
        F.softshrink(Tensor([1.0]), -0.5)
    with pytest.raises(ValueError):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(Tensor([1.0]), approximate="erf")
    with pytest.raises(RuntimeError):
        F.glu(Tensor(1.0))


def test_functional_pad_constant() -> None:
    for shape, p, value in (((2, 2), (1, 1), None), ((1, 2), (0, 2, 1, 0), 5.0), ((3, 4), (-1, 1), 2.0)):
        a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        got = F.pad(Tensor(a), p, value=value)
        want = TF.pad(torch.tensor(a), p, value=value)
        assert got.shape == tuple(want.shape) and got.tolist() == want.tolist()
    with pytest.raises(NotImplementedError):  # as PyTorch: "Unrecognised padding mode"
        F.pad(Tensor(np.ones((1, 2, 2), np.float32)), (1, 1), mode="mirror")
