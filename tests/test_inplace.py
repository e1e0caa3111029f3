"""In-place methods and augmented assignment against PyTorch: values, `self` returned, PyTorch's errors (a leaf
that requires grad, a result that does not fit, an integer tensor given a float), writes through views into
their base (buffers, lazy values and results in the gradient graph), gradients through an in-place op on a
non-leaf, and setitem in the graph.

Each case runs on the C device and on INTERP, with the same inputs given to torch.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor

from .conftest import close_to_torch as close

torch = pytest.importorskip("torch")



X = np.array([[0.5, -1.25, 2.0], [0.0, 3.5, -0.75]], np.float32)
Y = np.array([[1.5, 0.5, -2.0], [4.0, 0.25, 1.0]], np.float32)

# (name, call) pairs: each is run as t.<name>_(...) on a copy of X, on both libraries
CASES = [
    ("add_", lambda t, o: t.add_(o)), ("add_alpha", lambda t, o: t.add_(o, alpha=2.5)),
    ("sub_", lambda t, o: t.sub_(o)), ("sub_alpha", lambda t, o: t.sub_(o, alpha=0.5)),
    ("mul_", lambda t, o: t.mul_(o)), ("div_", lambda t, o: t.div_(o)), ("pow_", lambda t, o: t.abs_().pow_(o)),
    ("add_scalar", lambda t, o: t.add_(3)), ("mul_scalar", lambda t, o: t.mul_(-2.0)),
    ("zero_", lambda t, o: t.zero_()), ("fill_", lambda t, o: t.fill_(7.5)),
    ("fill_tensor", lambda t, o: t.fill_(o[0, 0])), ("copy_", lambda t, o: t.copy_(o)),
    ("copy_bcast", lambda t, o: t.copy_(o[1])), ("clamp_", lambda t, o: t.clamp_(-1.0, 1.0)),
    ("clamp_min_", lambda t, o: t.clamp_min_(0.0)), ("clamp_max_", lambda t, o: t.clamp_max_(0.0)),
    ("clamp_tensor", lambda t, o: t.clamp_(min=o)),
    ("exp_", lambda t, o: t.exp_()), ("log_", lambda t, o: t.abs_().add_(1).log_()),
    ("sqrt_", lambda t, o: t.abs_().sqrt_()),
    ("abs_", lambda t, o: t.abs_()), ("neg_", lambda t, o: t.neg_()), ("relu_", lambda t, o: t.relu_()),
    ("sigmoid_", lambda t, o: t.sigmoid_()), ("tanh_", lambda t, o: t.tanh_()), ("floor_", lambda t, o: t.floor_()),
    ("ceil_", lambda t, o: t.ceil_()), ("round_", lambda t, o: t.round_()), ("trunc_", lambda t, o: t.trunc_()),
    ("reciprocal_", lambda t, o: t.add_(5).reciprocal_()), ("sin_", lambda t, o: t.sin_()),
    ("maximum", lambda t, o: t.clamp_(max=o)), ("lerp_", lambda t, o: t.lerp_(o, 0.25)),
    ("addcmul_", lambda t, o: t.addcmul_(o, o, value=0.5)), ("square_", lambda t, o: t.square_()),
    ("masked_fill_", lambda t, o: t.masked_fill_(o > 0, -3.0)),
    ("chain", lambda t, o: t.mul_(2).add_(1).clamp_(max=3.0)),
]


@pytest.mark.parametrize("name,call", CASES, ids=[c[0] for c in CASES])
def test_inplace_method_matches_torch(ctx_device: str, name: str, call) -> None:  # type: ignore[no-untyped-def]
    t, o = Tensor(X.copy()), Tensor(Y)
    tt_, ot = torch.tensor(X.copy()), torch.tensor(Y)
    r, rt = call(t, o), call(tt_, ot)
    assert r is t  # returns self
    close(t, tt_)
    assert rt is tt_


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "//=", "%=", "**="])
def test_augmented_assignment(ctx_device: str, op: str) -> None:
    vals = {}
    for lib, T in (("tt", Tensor), ("torch", torch.tensor)):
        a, b = T(X.copy()), T(np.abs(Y) + 0.5)
        alias = a
        exec(f"a {op} b", {}, env := {"a": a, "b": b})
        assert env["a"] is alias  # in place, as torch
        vals[lib] = env["a"]
    close(vals["tt"], vals["torch"])


def test_augmented_assignment_ints_and_matmul(ctx_device: str) -> None:
    for T in (Tensor, torch.tensor):
        a = T(np.array([7, -3, 10], np.int64))
        a //= 2
        a %= 3
        a *= 4
        a |= 1
        m = T(np.eye(2, dtype=np.float32))
        m @= T(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
        if T is Tensor:
            ours = (a, m)
        else:
            close(ours[0], a)
            close(ours[1], m)


def test_inplace_errors_as_torch(ctx_device: str) -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    for fn in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.normal_(), lambda: w.exp_(), lambda: w.__iadd__(1)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            fn()
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        w[0].add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w[0] = 3.0
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        Tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        Tensor([1.0, 2.0]).add_(Tensor(np.ones((3, 2), np.float32)))
    with pytest.raises(RuntimeError, match="0-dimension value tensor"):
        Tensor([1.0, 2.0]).fill_(Tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="single memory location"):
        Tensor([1.0]).expand(3).add_(1)
    with tt.no_grad():  # allowed under no_grad, as torch
        w.add_(1)
        w[1].mul_(10)
        w.normal_()
        w.uniform_(-1, 1)
    assert w.is_leaf and w.requires_grad
    assert float(w.abs().max().item()) <= 1.0


def test_writes_through_views(ctx_device: str) -> None:
    def run(T, zeros):  # type: ignore[no-untyped-def]
        x = T(X.copy())
        x[0].add_(1)
        x[:, 1].mul_(10)
        x.T[2].zero_()
        x[1, 0:2].copy_(T(np.array([9.0, 8.0], np.float32)))
        z = zeros(2, 3)  # a constant (no memory until written): its views write back too
        z[1].fill_(2.0)
        z[:, 0].add_(1)
        d = x.detach()
        d[0, 0].sub_(100)  # detach shares memory
        t = T(np.arange(4, dtype=np.float32).reshape(2, 2))
        t.t_()
        t[0, 1] = 9.0
        f = zeros(4, 3)
        f.fill_diagonal_(5.0, wrap=True)
        return x, z, t, f
    for a, b in zip(run(Tensor, tt.zeros), run(torch.tensor, torch.zeros)):
        close(a, b)


def _grad_case(lib, T, case: str):  # type: ignore[no-untyped-def]
    x = T(X.copy(), requires_grad=True)
    w = T(Y[0].copy(), requires_grad=True)
    if case == "nonleaf":
        y = x * 2
        y.add_(1)
        y.mul_(w)
        out = y.exp()
    elif case == "view_of_result":
        y = x * 2
        y[0].add_(w)
        y[:, 1].mul_(3)
        out = y * y
    elif case == "view_of_plain":
        y = lib.zeros(2, 3)
        y[1].copy_(w * x[0])
        out = y.sin()
    elif case == "setitem":
        y = x * 1.5
        y[0] = 5.0
        y[1, 1:] = w[:2] * 2
        out = y * x
    else:  # clone then in place
        y = x.clone()
        y.sub_(w, alpha=2)
        y.clamp_(min=-1.0)
        out = y.tanh()
    out.sum().backward()
    return out, x.grad, w.grad


@pytest.mark.parametrize("case", ["nonleaf", "view_of_result", "view_of_plain", "setitem", "clone"])
def test_inplace_in_the_graph_gives_torch_gradients(ctx_device: str, case: str) -> None:
    ours = _grad_case(tt, Tensor, case)
    ref = _grad_case(torch, torch.tensor, case)
    for o, r in zip(ours, ref):
        if r is None:
            assert o is None
        else:
            close(o, r, rtol=1e-5)


def test_inplace_result_is_not_a_leaf(ctx_device: str) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = Tensor([0.0, 0.0])
    a.add_(x)  # a plain tensor given a value that requires grad joins the graph, as torch
    assert a.requires_grad and not a.is_leaf and a.grad_fn is not None
    a.sum().backward()
    close(x.grad, [1.0, 1.0])


def test_detached_views_follow_the_memory_they_view(ctx_device: str) -> None:
    """p.detach(), p.detach().view(-1) and a view made under no_grad share p's memory, as in PyTorch: read before
    and after optimizer steps (and after being read once, which must not make them copies), they show p's values,
    and no gradient flows through them."""
    p, tp = Tensor(X.copy(), requires_grad=True), torch.tensor(X.copy(), requires_grad=True)
    opt, topt = tt.optim.SGD([p], lr=0.5), torch.optim.SGD([tp], lr=0.5)
    views = [p.detach(), p.detach().view(-1), p.detach().T]
    tviews = [tp.detach(), tp.detach().view(-1), tp.detach().T]
    for _ in range(3):
        with tt.no_grad():
            views.append(p.view(3, 2))
        with torch.no_grad():
            tviews.append(tp.view(3, 2))
        p.grad, tp.grad = Tensor(Y), torch.tensor(Y)
        opt.step()
        topt.step()
        for v, tv in zip(views, tviews):
            close(v, tv.detach())
    x, tx = Tensor(X.copy(), requires_grad=True), torch.tensor(X.copy(), requires_grad=True)
    (x.detach().view(-1) * x.view(-1)).sum().backward()
    (tx.detach().view(-1) * tx.view(-1)).sum().backward()
    close(x.grad, tx.grad)


def test_writes_through_detached_views_reach_the_memory(ctx_device: str) -> None:
    """A write through a view of a detached view, or through a view made under no_grad, changes the parameter's
    memory as in PyTorch (it was written into a copy, or failed on an unrealized view)."""
    p, tp = Tensor(X.copy(), requires_grad=True), torch.tensor(X.copy(), requires_grad=True)
    with tt.no_grad():
        p.view(-1)[0] = 7.0
    with torch.no_grad():
        tp.view(-1)[0] = 7.0
    p.detach().view(2, 3)[1].mul_(5)
    tp.detach().view(2, 3)[1].mul_(5)
    p.detach()[0, 1:].fill_(-2)
    tp.detach()[0, 1:].fill_(-2)
    close(p.detach(), tp.detach())
    (p * p).sum().backward()
    (tp * tp).sum().backward()
    close(p.grad, tp.grad)
