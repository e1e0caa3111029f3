"""Kept backward plans (tinytorch/tensor/kept_backward.py): from the second eager backward() of a forward graph's
structure on, gradients are computed at once, and from the third by the kernels kept from the second, with no
gradient graph built.

Every scenario is compared bit for bit with lazy gradients (`REUSE_BACKWARD=0`, the graph built every time), and
the plain training loop also checks that the kept path ran (a test passing because nothing was kept would prove
nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn, optim
from tinytorch.engine import realize as R
from tinytorch.helpers import Context
from tinytorch.ops.uop import Ops

from .test_optim import MLP, batches, debug_loop

STEPS = 6
LAST: dict[str, Tensor] = {}  # tensors a scenario keeps alive across its step (dropped after each loop)


def _kept_runs() -> int:
    return R.STATS["known_plans"]


def _loop(device: str, reuse: int, scenario: Callable[[int, MLP, Any, Tensor, Tensor], Tensor] | None = None,
          steps: int = STEPS, n_hidden: int = 16) -> tuple[list[np.ndarray], list[float], list[list[Any]]]:
    """Train the test MLP with Adam; per step scenario(i, model, opt, x, y) returns the loss (default: the plain
    loss). Returns the final parameters, the losses and per step each parameter's gradient (None: no gradient)."""
    with Context(REUSE_BACKWARD=reuse):
        model = MLP(device, n_hidden=n_hidden)
        opt = optim.Adam(model.params(), lr=1e-2)
        losses, grads = [], []
        for i, (x, y) in enumerate(batches(steps, seed=3, device=device)):
            opt.zero_grad()
            loss = scenario(i, model, opt, x, y) if scenario else model.loss(x, y)
            loss.backward()
            opt.step()  # (the gradients are read after the step: reading them first would realize each alone)
            grads.append([None if p.grad is None else p.grad.numpy().copy() for p in model.params()])
            losses.append(float(loss.item()))
        LAST.clear()
        return [p.numpy().copy() for p in model.params()], losses, grads


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    pa, la, ga = a
    pb, lb, gb = b
    assert la == lb, f"losses differ: {la} vs {lb}"
    for i, (sa, sb) in enumerate(zip(ga, gb)):
        for j, (x, y) in enumerate(zip(sa, sb)):
            assert (x is None) == (y is None), f"step {i} parameter {j}: gradient {x is None} vs {y is None}"
            if x is not None:
                np.testing.assert_array_equal(x, y, err_msg=f"step {i} parameter {j}")
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)


def test_training_loop_is_bit_for_bit_and_runs_kept_plans(device: str) -> None:
    before = _kept_runs()
    kept = _loop(device, 1, n_hidden=13)
    runs = _kept_runs() - before
    _same(kept, _loop(device, 0, n_hidden=13))
    # steps 3..6 run a kept backward; steps 4..6 a kept update plan as well
    assert runs == (STEPS - 2) + (STEPS - 3), f"{runs} kept plans ran"


def test_backward_from_the_third_step_builds_no_graph_and_leaves_realized_gradients() -> None:
    model = MLP("C", n_hidden=14)
    opt = optim.Adam(model.params(), lr=1e-2)
    for i, (x, y) in enumerate(batches(5, seed=4, device="C")):
        opt.zero_grad()
        loss = model.loss(x, y)
        s = dict(R.STATS)
        loss.backward()
        d = {k: R.STATS[k] - v for k, v in s.items()}
        if i == 0:
            assert d["kernels_run"] == 0, "a structure's first backward is lazy"
            assert all(p.grad is not None and p.grad.uop.base.op is not Ops.BUFFER for p in model.params())
        else:
            assert d["kernels_run"] > 0, f"step {i}: backward computed nothing"
            assert d["known_plans"] == (1 if i >= 2 else 0), f"step {i}: {d}"
            assert d["realizes"] == (1 if i == 1 else 0), f"step {i}: {d}"
            for p in model.params():
                assert p.grad is not None and p.grad.uop.base.op is Ops.BUFFER and not p.grad.requires_grad
                assert p.grad.shape == p.shape and p.grad.dtype == p.dtype
            s = dict(R.STATS)
            loss.numpy()  # the loss was computed with the gradients
            assert R.STATS["kernels_run"] == s["kernels_run"]
        opt.step()


def test_debug_shows_the_kept_backward(tmp_path: Any) -> None:
    out = debug_loop(tmp_path, "SGD", 4)
    parts = out.split("== backward ")[1:]
    assert len(parts) == 4
    for i, part in enumerate(parts):
        lines = [ln for ln in part.split("== step")[0].splitlines() if ln.startswith("realize:")]
        want = 0 if i == 0 else 1
        assert len(lines) == want, f"backward {i}: {lines}"
        if i >= 2:
            assert "(kept backward)" in lines[0], lines[0]


def _hooked(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    h = (x @ model.w1 + model.b1).relu()
    h.register_hook(lambda g: g * 0.5)
    return -(h @ model.w2 + model.b2).log_softmax(-1)[Tensor.arange(x.shape[0], device=x.device.type), y].mean()


def _retained(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    h = (x @ model.w1 + model.b1).relu()
    h.retain_grad()
    loss = -(h @ model.w2 + model.b2).log_softmax(-1)[Tensor.arange(x.shape[0], device=x.device.type), y].mean()
    LAST['h'] = h
    return loss


def _no_zero_grad(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    if i % 2:  # gradients of two steps add up
        for p in model.params():
            p.grad = Tensor(np.ones(p.shape, np.float32), device=p.device.type)
    return model.loss(x, y)


def _read_before(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    loss = model.loss(x, y)
    if i % 2:
        loss.item()  # a realized loss: its node is read as a buffer, the gradient graph goes through it
    return loss


def _frozen_late(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    model.b1.requires_grad_(i < 3)  # the same forward graph (a plain add), fewer tensors receive gradients
    return model.loss(x, y)


def _other_batch(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    n = 8 if i % 3 else 5  # another structure now and then
    return model.loss(x[:n], y[:n])


def _live_logits(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    h = (x @ model.w1 + model.b1).relu()
    logits = h @ model.w2 + model.b2
    LAST['logits'] = logits
    return -logits.log_softmax(-1)[Tensor.arange(x.shape[0], device=x.device.type), y].mean()


def _softmax_loss(i: int, model: MLP, opt: Any, x: Tensor, y: Tensor) -> Tensor:
    p = ((x @ model.w1 + model.b1).gelu() @ model.w2).softmax(-1)  # ops whose gradient a function gives
    return (p * p).sum() + model.b2.sum() * 0.0


SCENARIOS = {"hook": _hooked, "retain_grad": _retained, "accumulate": _no_zero_grad, "loss read first": _read_before,
             "frozen later": _frozen_late, "structure changes": _other_batch, "live logits": _live_logits,
             "custom gradients": _softmax_loss}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenarios_match_lazy_gradients(name: str) -> None:
    fn = SCENARIOS[name]
    _same(_loop("C", 1, fn), _loop("C", 0, fn))


def test_retained_gradient_of_a_non_leaf_is_kept_too() -> None:
    got = []
    for reuse in (1, 0):
        with Context(REUSE_BACKWARD=reuse):
            model = MLP("C", n_hidden=15)
            vals = []
            for x, y in batches(4, seed=5, device="C"):
                for p in model.params():
                    p.grad = None
                _retained(0, model, None, x, y).backward()
                h = LAST.pop('h')
                assert h.grad is not None
                vals.append(h.grad.numpy().copy())
            got.append(vals)
    for a, b in zip(*got):
        np.testing.assert_array_equal(a, b)


def test_live_logits_read_after_the_step_are_the_forward_values_and_run_nothing() -> None:
    model = MLP("C", n_hidden=17)
    opt = optim.SGD(model.params(), lr=0.1)
    for i, (x, y) in enumerate(batches(4, seed=6, device="C")):
        want = (np.maximum(x.numpy() @ model.w1.numpy() + model.b1.numpy(), 0) @ model.w2.numpy()
                + model.b2.numpy())
        opt.zero_grad()
        loss = _live_logits(i, model, opt, x, y)
        loss.backward()
        opt.step()
        logits = LAST.pop('logits')
        s = R.STATS["kernels_run"]
        got = logits.numpy()
        if i >= 2:
            assert R.STATS["kernels_run"] == s, "the logits were recomputed after the step"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_jit_capture_and_kept_backward_agree() -> None:
    def make() -> tuple[MLP, Any]:
        m = MLP("C", n_hidden=18)
        return m, optim.Adam(m.params(), lr=1e-2)

    m1, o1 = make()
    m2, o2 = make()

    @tt.jit
    def step(x: Tensor, y: Tensor) -> Tensor:
        o1.zero_grad()
        loss = m1.loss(x, y)
        loss.backward()
        o1.step()
        return loss

    for x, y in batches(6, seed=7, device="C"):
        l1 = float(step(x, y).item())
        o2.zero_grad()
        loss = m2.loss(x, y)
        loss.backward()
        o2.step()
        assert l1 == float(loss.item())
    for a, b in zip(m1.params(), m2.params()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _cnn_loop(reuse: int) -> tuple[list[np.ndarray], list[float]]:
    with Context(REUSE_BACKWARD=reuse):
        tt.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(4 * 4 * 4, 3))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(5):
            x = Tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32))
            y = Tensor(rng.integers(0, 3, 4))
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        return [p.numpy().copy() for p in model.parameters()], losses


def test_cnn_with_pooling_and_convolution_gradients_matches_lazy() -> None:
    before = _kept_runs()
    pa, la = _cnn_loop(1)
    assert _kept_runs() > before, "the CNN's backward was never kept"
    pb, lb = _cnn_loop(0)
    assert la == lb
    for a, b in zip(pa, pb):
        np.testing.assert_array_equal(a, b)


def test_gradients_match_torch() -> None:
    torch = pytest.importorskip("torch")
    model = MLP("C", n_hidden=19)
    tw = [torch.tensor(p.numpy(), requires_grad=True) for p in model.params()]
    for x, y in batches(4, seed=8, device="C"):
        for p in model.params():
            p.grad = None
        model.loss(x, y).backward()
        for p in tw:
            p.grad = None
        h = (torch.tensor(x.numpy()) @ tw[0] + tw[1]).relu()
        logp = (h @ tw[2] + tw[3]).log_softmax(-1)
        (-logp[torch.arange(8), torch.tensor(y.numpy())].mean()).backward()
        for p, q in zip(model.params(), tw):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
