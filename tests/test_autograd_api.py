"""Autograd entry points against PyTorch: leaves made from computed values, manual SGD steps, is_leaf and
grad_fn, requires_grad rules, retain_grad, hooks, detach/.data/clone, tinytorch.autograd.grad with
higher-order derivatives, and pow's value and gradients at edge values (0, negative bases, inf, nan).

Each case runs on the C device and on INTERP, with the same inputs given to torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn, no_grad

from .conftest import close_to_torch as close

torch = pytest.importorskip("torch")



A = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]], np.float32)


# leaves made from computed values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", ["parameter", "requires_grad_", "detach", "tensor", "setter"])
def test_leaf_from_computed_value_gets_grad(ctx_device: str, make: str) -> None:
    """nn.Parameter(t * 0.1), (t * 0.1).requires_grad_(), x.detach().requires_grad_(), Tensor(t, requires_grad=True)
    and `t.requires_grad = True` make leaves that receive gradients (they got none)."""
    def build(lib, v):  # type: ignore[no-untyped-def]
        t = v * 0.1
        if make == "parameter":
            return lib.nn.Parameter(t)
        if make == "requires_grad_":
            return t.requires_grad_()
        if make == "detach":
            return (v * 1.0).detach().requires_grad_()
        if make == "tensor":
            return Tensor(t, requires_grad=True) if lib is tt else t.clone().requires_grad_()
        t.requires_grad = True
        return t
    w = build(tt, Tensor(A))
    wt = build(torch, torch.tensor(A))
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    for m, x in ((w, None), (wt, None)):
        (m * m * 3).sum().backward()
        assert m.grad is not None, x
    close(w.grad, wt.grad)


def test_leaf_identity_is_not_shared_with_an_equal_computation(ctx_device: str) -> None:
    x = Tensor(A)
    w = (x * 2).requires_grad_()
    other = x * 2  # the same computation, not the leaf
    (w * other).sum().backward()
    close(w.grad, A * 2)


class _Net(nn.Module):
    def __init__(self, w1: np.ndarray, w2: np.ndarray, lib) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        T = Tensor if lib is tt else torch.tensor
        self.w1 = lib.nn.Parameter(T(w1) * 1.0)  # a computed value, as in `nn.Parameter(torch.randn(3, 2) * 0.1)`
        self.w2 = lib.nn.Parameter(T(w2) * 1.0)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return (x @ self.w1).tanh() @ self.w2


class _TorchNet(torch.nn.Module):
    def __init__(self, w1: np.ndarray, w2: np.ndarray) -> None:
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.tensor(w1) * 1.0)
        self.w2 = torch.nn.Parameter(torch.tensor(w2) * 1.0)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return (x @ self.w1).tanh() @ self.w2


def test_custom_module_with_computed_parameters_trains(ctx_device: str) -> None:
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    w1 = (rng.standard_normal((3, 4)) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((4, 1)) * 0.5).astype(np.float32)
    m, mt = _Net(w1, w2, tt), _TorchNet(w1, w2)
    opt, optt = tt.optim.SGD(m.parameters(), lr=0.1), torch.optim.SGD(mt.parameters(), lr=0.1)
    losses = []
    for _ in range(4):
        loss, losst = ((m(Tensor(X)) - Tensor(Y)) ** 2).mean(), ((mt(torch.tensor(X)) - torch.tensor(Y)) ** 2).mean()
        opt.zero_grad()
        optt.zero_grad()
        loss.backward()
        losst.backward()
        close(m.w1.grad, mt.w1.grad, rtol=1e-4)
        close(m.w2.grad, mt.w2.grad, rtol=1e-4)
        opt.step()
        optt.step()
        losses.append(loss.item())
        assert losses[-1] == pytest.approx(losst.item(), rel=1e-4)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("style", ["isub", "sub_", "data", "data_assign"])
def test_manual_sgd_steps_match_torch(ctx_device: str, style: str) -> None:
    """`with no_grad(): w -= lr * w.grad` (and sub_, .data) for several steps, zeroing or dropping .grad between."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    W = rng.standard_normal((3, 1)).astype(np.float32)

    def run(lib, T):  # type: ignore[no-untyped-def]
        w, b = T(W, requires_grad=True), lib.zeros(1, requires_grad=True)
        losses = []
        for _ in range(5):
            loss = ((T(X) @ w + b - T(Y)) ** 2).mean()
            loss.backward()
            losses.append(loss.item())
            if style == "isub":
                with lib.no_grad():
                    w -= 0.1 * w.grad
                    b -= 0.1 * b.grad
                w.grad, b.grad = None, None
            elif style == "sub_":
                with lib.no_grad():
                    w.sub_(0.1 * w.grad)
                    b.sub_(b.grad, alpha=0.1)
                w.grad.zero_()
                b.grad.zero_()
            elif style == "data":
                w.data -= 0.1 * w.grad
                b.data.sub_(0.1 * b.grad)
                w.grad.zero_()
                b.grad = None
            else:
                w.data = w.data - 0.1 * w.grad
                b.data = b - 0.1 * b.grad
                w.grad, b.grad = None, None
        return losses, w
    ours, w = run(tt, lambda a, requires_grad=False: Tensor(a, requires_grad=requires_grad))
    ref, wt = run(torch, lambda a, requires_grad=False: torch.tensor(a, requires_grad=requires_grad))
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    close(w.detach(), wt)
    assert w.is_leaf and w.requires_grad


# is_leaf, grad_fn, requires_grad -----------------------------------------------------------------------------------
def test_is_leaf_and_grad_fn_names(ctx_device: str) -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    xt = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.is_leaf and x.grad_fn is None and Tensor([1.0]).is_leaf
    for expr in ("x + x", "x * 2", "x - 1", "x / 2", "x.sum()", "x.exp()", "x.reshape(3, 1)", "x.clone()"):
        ours, ref = eval(expr, {"x": x}), eval(expr, {"x": xt})
        assert not ours.is_leaf
        assert ours.grad_fn.name() == ref.grad_fn.name(), expr
        assert repr(ours.grad_fn).startswith(f"<{ref.grad_fn.name()} object")
    with no_grad():
        y = x * 2
    assert y.is_leaf and y.grad_fn is None and not y.requires_grad
    d = x.detach()
    assert d.is_leaf and not d.requires_grad and x.data.is_leaf and not x.data.requires_grad


def test_requires_grad_setter_rules(ctx_device: str) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)
    assert y.requires_grad_() is y and not y.is_leaf  # a no-op on a result, as torch
    x.requires_grad = False
    assert not x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_retain_grad(ctx_device: str) -> None:
    for lib, T in ((tt, Tensor), (torch, torch.tensor)):
        x = T([1.0, -2.0, 3.0], requires_grad=True)
        y = x * x
        y.retain_grad()
        assert y.retains_grad
        (y * 3).sum().backward()
        if lib is tt:
            ours = (y.grad, x.grad)
        else:
            close(ours[0], y.grad)
            close(ours[1], x.grad)
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        Tensor([1.0]).retain_grad()


def test_register_hook(ctx_device: str) -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    y = x * 3
    y.register_hook(lambda g: seen.append(g.numpy().copy()))  # returns None: the gradient is kept
    h = y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on to x
    (y * y).sum().backward()
    close(x.grad, 3 * 10 * 2 * 3 * np.array([1.0, 2.0, 3.0]))
    close(seen[0], 2 * 3 * np.array([1.0, 2.0, 3.0]))
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    close(x.grad, [3.0, 3.0, 3.0])
    x.grad = None
    hx = x.register_hook(lambda g: g + 1)  # on a leaf: changes what is accumulated
    (x * 3).sum().backward()
    close(x.grad, [4.0, 4.0, 4.0])
    hx.remove()
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        Tensor([1.0]).register_hook(lambda g: g)


def test_backward_inputs_and_autograd_backward(ctx_device: str) -> None:
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    close(a.grad, [3.0, 4.0])
    assert b.grad is None
    a.grad = None
    tt.autograd.backward([(a * b).sum(), (a * a).sum()], [Tensor(2.0), None])
    close(a.grad, 2 * np.array([3.0, 4.0]) + 2 * np.array([1.0, 2.0]))
    close(b.grad, 2 * np.array([1.0, 2.0]))


def test_gradient_without_create_graph_is_a_constant(ctx_device: str) -> None:
    """x.grad used in a later graph does not carry gradient back to x (torch: grad is not differentiable)."""
    for lib, T in ((tt, Tensor), (torch, torch.tensor)):
        x = T([1.0, 2.0, -1.5], requires_grad=True)
        (x ** 3).sum().backward()
        g = x.grad.clone() if lib is torch else x.grad
        x.grad = None
        (g * x).sum().backward()
        if lib is tt:
            ours = x.grad
        else:
            close(ours, x.grad)


def test_detach_data_clone(ctx_device: str) -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.detach()
    d.zero_()  # shares memory, as torch
    close(x, [0.0, 0.0, 0.0])
    x.data.add_(2)
    close(x, [2.0, 2.0, 2.0])
    x.data = Tensor([5.0, 6.0])  # replaces the value (and shape), keeps requires_grad
    assert x.shape == (2,) and x.requires_grad and x.is_leaf
    (x * x).sum().backward()
    close(x.grad, [10.0, 12.0])
    p = Tensor([1.0, 2.0])
    c = p.clone()
    c.add_(1)
    close(p, [1.0, 2.0])
    y = x.clone()  # keeps the graph
    x.grad = None
    assert y.grad_fn is not None
    (y * 3).sum().backward()
    close(x.grad, [3.0, 3.0])
    y = x * 2
    (y.detach() * x).sum().backward(inputs=[x])  # a detached result stops the gradient
    close(x.grad, [3.0 + 10.0, 3.0 + 12.0])


# tinytorch.autograd.grad -----------------------------------------------------------------------------------------
X3 = np.array([0.5, -1.0, 2.0, 0.0], np.float32)


@pytest.mark.parametrize("fn", ["cube", "pow2.5", "sin", "exp_sq", "tanh"])
def test_second_derivative(ctx_device: str, fn: str) -> None:
    f = {"cube": lambda x: x ** 3, "pow2.5": lambda x: x.abs() ** 2.5, "sin": lambda x: x.sin(),
         "exp_sq": lambda x: (x * x).exp(), "tanh": lambda x: x.tanh()}[fn]
    res = []
    for lib, T in ((tt, Tensor), (torch, torch.tensor)):
        x = T(X3, requires_grad=True)
        g, = lib.autograd.grad(f(x).sum(), x, create_graph=True)
        assert g.requires_grad
        g2, = lib.autograd.grad(g.sum(), x, create_graph=True)
        g3, = lib.autograd.grad(g2.sum(), x)
        res.append((g, g2, g3))
    for o, r in zip(res[0], res[1]):
        close(o, r, rtol=1e-4, atol=1e-5)


def test_hessian_vector_product_and_gradient_penalty(ctx_device: str) -> None:
    rng = np.random.default_rng(3)
    W, Xv, V = (rng.standard_normal(s).astype(np.float32) for s in ((3, 2), (4, 3), (3, 2)))
    out = []
    for lib, T in ((tt, Tensor), (torch, torch.tensor)):
        w, x, v = T(W, requires_grad=True), T(Xv, requires_grad=True), T(V)
        loss = ((x @ w).tanh() ** 2).sum()
        g, = lib.autograd.grad(loss, w, create_graph=True)
        hvp, = lib.autograd.grad((g * v).sum(), w)
        # gradient penalty: || d out / d x ||^2 added to the loss, differentiated with respect to w
        y = (x @ w).sigmoid().sum()
        gx, = lib.autograd.grad(y, x, create_graph=True)
        penalty = (gx * gx).sum(dim=1).mean()
        penalty.backward()
        out.append((hvp, w.grad, gx))
    for o, r in zip(out[0], out[1]):
        close(o, r, rtol=1e-4, atol=1e-6)


def test_grad_arguments_and_errors(ctx_device: str) -> None:
    x, z = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    g = tt.autograd.grad(y, x, grad_outputs=Tensor([1.0, 10.0]))
    assert isinstance(g, tuple)
    close(g[0], [2.0, 40.0])
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        tt.autograd.grad(y.sum(), [x, z])
    gx, gz = tt.autograd.grad(y.sum(), [x, z], allow_unused=True)
    assert gz is None and x.grad is None  # grad() does not accumulate into .grad
    close(gx, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.autograd.grad(y.sum(), [Tensor([1.0])])
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.autograd.grad(Tensor([1.0]).sum(), [x])
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        tt.autograd.grad(y, x)
    with tt.no_grad():
        assert not tt.is_grad_enabled()
        with tt.enable_grad():
            assert (x * 2).requires_grad
    with tt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


# pow at edge values ------------------------------------------------------------------------------------------------
XS = [0.0, -0.0, -2.0, -0.5, 0.5, 2.0, 3.0, 1.0, -1.0, math.inf, -math.inf, math.nan]
PS = [0, 1, 2, 3, -1, -2, 0.5, -0.5, 2.5, 1.5, 3.0, math.inf, -math.inf, math.nan]


def _check(ours, ref) -> None:  # type: ignore[no-untyped-def]
    a, b = ours.numpy(), ref.detach().numpy()
    bad = ~(np.isclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True) & (np.isnan(a) == np.isnan(b)))
    assert not bad.any(), f"at {np.nonzero(bad)[0].tolist()}: ours {a[bad]} torch {b[bad]}"


@pytest.mark.parametrize("p", PS)
def test_pow_scalar_exponent_edges(ctx_device: str, p: float) -> None:
    x, xt = Tensor(XS, requires_grad=True), torch.tensor(XS, requires_grad=True)
    y, yt = x ** p, xt ** p
    _check(y, yt)
    y.sum().backward()
    yt.sum().backward()
    _check(x.grad, xt.grad)


def test_pow_tensor_exponent_edges(ctx_device: str) -> None:
    xg, pg = (a.ravel() for a in np.meshgrid(np.array(XS, np.float32), np.array(PS, np.float32)))
    x, p = Tensor(xg, requires_grad=True), Tensor(pg, requires_grad=True)
    xt, pt = torch.tensor(xg, requires_grad=True), torch.tensor(pg, requires_grad=True)
    y, yt = x ** p, xt ** pt
    _check(y, yt)
    y.sum().backward()
    yt.sum().backward()
    _check(x.grad, xt.grad)
    _check(p.grad, pt.grad)


@pytest.mark.parametrize("base", [0.0, 2.0, -2.0, 0.5, 1.0, math.inf])
def test_pow_scalar_base_edges(ctx_device: str, base: float) -> None:
    p, pt = Tensor(PS, requires_grad=True), torch.tensor(PS, requires_grad=True)
    y, yt = base ** p, base ** pt
    _check(y, yt)
    y.sum().backward()
    yt.sum().backward()
    _check(p.grad, pt.grad)
