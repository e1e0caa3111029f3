"""x @ W.T (every Linear's forward): the transposed right operand is copied lane by lane into the matmul kernel's
packed panel (codegen/opt.py `_transposed_panel`, codegen/lower.py `lower_pack`), so the product runs in one kernel
with whole vectors along the output row, without a transposed copy of W first. Checked: the schedule and the
kernel's choices, the lowered program (W read only by the panel copy), values against numpy at ragged shapes on C,
LLVM and INTERP, and gradients against torch.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.codegen.kernel import analyze
from tinytorch.codegen.lower import lower
from tinytorch.codegen.opt import choose_opts
from tinytorch.engine.realize import schedule_tensors
from tinytorch.helpers import Context
from tinytorch.ops.uop import Ops

from .conftest import require_device


def _kernel(n: int, k: int, m: int) -> tuple:
    x, w = tt.Tensor(np.ones((n, k), np.float32)), tt.Tensor(np.ones((m, k), np.float32))
    kernels, _ = schedule_tensors([x @ w.T])
    return kernels, analyze(kernels[-1].ast)


@pytest.mark.parametrize("vbytes", [32, 64])
def test_linear_forward_is_one_kernel_with_w_packed(vbytes: int) -> None:
    kernels, k = _kernel(128, 784, 512)
    assert len(kernels) == 1, f"x @ W.T ran {len(kernels)} kernels (a transposed copy of W first?)"
    with Context(THREADS=2):
        o = choose_opts(k, vbytes)
    assert o.vec_axis == 1 and o.pack, o.notes  # lanes along the output row, W's panel packed
    w_load = k.loads()[o.pack[0]]
    assert k.views[w_load.src[1]].index_strides()[1] == 784, "the packed load should be W (strided along the lanes)"
    prog, _ = lower(k, o)
    panels = [u for u in prog if u.op is Ops.DEFINE_LOCAL]
    assert len(panels) == 1 and panels[0].arg[1] == 784 * o.factor(o.vec_axis)
    w_reads = [u for u in prog if u.op is Ops.LOAD and u.src[0] is w_load.src[0]]
    copies = [u for u in prog if u.op is Ops.STORE and u.src[0] is panels[0]]
    # W is read only by the copy, lane by lane: each stored vector is made of one scalar load per lane
    assert copies and len(w_reads) == len(copies) * o.width, (len(w_reads), len(copies))
    assert all(c.src[2].op is Ops.VECTORIZE for c in copies)


@pytest.mark.parametrize("n,k,m", [(4, 784, 512), (128, 12, 64), (128, 64, 48)])
def test_small_products_keep_their_form(n: int, k: int, m: int) -> None:
    """Few rows (the panel would serve too few of them), a short reduce, or too few panels to share between the
    threads: no transposed panel (and no gather in the reduce loop: the lanes run along the reduce)."""
    kernels, kern = _kernel(n, k, m)
    with Context(THREADS=2):
        o = choose_opts(kern, 32)
    assert all(kern.views[kern.loads()[i].src[1]].index_strides()[1] in (0, 1) for i in o.pack), o.notes
    if o.vec_axis is not None and o.vec_axis < kern.n_global:
        for i, ld in enumerate(kern.loads()):
            if ld in kern.pre_reduce and i not in o.pack:
                assert kern.views[ld.src[1]].index_strides()[o.vec_axis] in (0, 1), f"a gather per step: {o.notes}"


SHAPES = [(16, 17, 8), (97, 130, 40), (130, 784, 512), (65, 33, 24), (200, 64, 1000), (31, 520, 72)]


@pytest.mark.parametrize("n,k,m", SHAPES)
def test_values(device: str, n: int, k: int, m: int, rng: np.random.Generator) -> None:
    require_device(device)
    x, w = rng.standard_normal((n, k), np.float32), rng.standard_normal((m, k), np.float32)
    got = (tt.Tensor(x, device=device) @ tt.Tensor(w, device=device).T).numpy().astype(np.float64)
    want = x.astype(np.float64) @ w.astype(np.float64).T
    tol = 4e-5 * k ** 0.5 * max(1.0, float(np.abs(want).max()))
    assert got.shape == want.shape and np.abs(got - want).max() <= tol, \
        f"x @ W.T {n}x{k}x{m} on {device}: max error {np.abs(got - want).max():.3g} (tol {tol:.3g})"


def test_linear_gradients_match_torch(device: str, rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    require_device(device)
    x, w, b = (rng.standard_normal(s, np.float32) for s in ((48, 72), (40, 72), (40,)))
    lin = tt.nn.Linear(72, 40).to(device)
    with tt.no_grad():
        lin.weight.copy_(tt.Tensor(w, device=device))
        lin.bias.copy_(tt.Tensor(b, device=device))
    xt = tt.Tensor(x, device=device, requires_grad=True)
    out = lin(xt)
    (out * out).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.Linear(72, 40)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(w))
        tl.bias.copy_(torch.tensor(b))
    tout = tl(tx)
    (tout * tout).sum().backward()
    for name, got, want in [("out", out, tout), ("x.grad", xt.grad, tx.grad), ("weight.grad", lin.weight.grad,
                                                                                  tl.weight.grad),
                            ("bias.grad", lin.bias.grad, tl.bias.grad)]:
        assert got is not None and want is not None
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=2e-4, atol=2e-4,
                                   err_msg=f"{name} on {device}")


def test_batched_q_at_k_transposed_packs_k(rng: np.random.Generator) -> None:
    """Attention's scores q @ k.T (batched): k's panel packed lane by lane too, one kernel."""
    q, k = rng.standard_normal((3, 40, 24), np.float32), rng.standard_normal((3, 64, 24), np.float32)
    scores = tt.Tensor(q) @ tt.Tensor(k).transpose(-2, -1)  # (3, 40, 64)
    kernels, _ = schedule_tensors([scores])
    kern = analyze(kernels[-1].ast)
    with Context(THREADS=2):
        o = choose_opts(kern, 32)
    assert len(kernels) == 1 and o.pack, o.notes
    assert kern.views[kern.loads()[o.pack[0]].src[1]].index_strides()[o.vec_axis] == 24
    np.testing.assert_allclose(scores.numpy(), q @ k.transpose(0, 2, 1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(2, 33, 20, 17), (4, 16, 64, 40)])
def test_batched_values(device: str, shape: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    require_device(device)
    b, t, s, d = shape
    q, k = rng.standard_normal((b, t, d), np.float32), rng.standard_normal((b, s, d), np.float32)
    got = (tt.Tensor(q, device=device) @ tt.Tensor(k, device=device).transpose(-2, -1)).numpy()
    np.testing.assert_allclose(got, q.astype(np.float64) @ k.transpose(0, 2, 1), rtol=1e-4, atol=1e-4,
                               err_msg=f"q @ k.T {shape} on {device}")
