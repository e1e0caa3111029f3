"""Reused update graphs (tinytorch/optim/reuse.py): a built-in optimizer rebuilds a parameter's update from the
graph kept from an earlier step instead of running its Tensor ops again.

- every built-in optimizer gives bit for bit the parameters it gives without reuse, and the reuse happens;
- what must not be reused is not: a subclass's own _update, changed settings, memory another tensor views,
  a state entry the update creates (SGD's first momentum step);
- a kept graph holds no buffer of the step it was built in (only placeholders and the group's scalars).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import optim
from tinytorch.engine.realize import STATS
from tinytorch.helpers import REUSE_UPDATES
from tinytorch.ops.uop import Ops, toposort
from tinytorch.optim import reuse

CASES: list[tuple[str, dict[str, Any]]] = [
    ("Adam", {}), ("Adam", dict(weight_decay=0.1, amsgrad=True, maximize=True)), ("AdamW", dict(lr=0.01)),
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(centered=True, momentum=0.5)), ("Adagrad", {}), ("Adadelta", {}), ("Adamax", {}),
    ("NAdam", {}), ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
]


def _grads(k: int, p: tt.Tensor) -> np.ndarray:
    return np.sin(np.arange(p.numel()) * (k + 1.3)).reshape(p.shape).astype(np.float32)


def _train(kind: str, kw: dict[str, Any], reuse_on: bool, device: str, steps: int = 6) -> tuple[list[np.ndarray], Any]:
    old = REUSE_UPDATES.value
    REUSE_UPDATES.value = int(reuse_on)
    try:
        ps = [tt.tensor(np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5), device=device, requires_grad=True),
              tt.tensor(np.ones(3, np.float32), device=device, requires_grad=True)]
        opt = getattr(optim, kind)(ps, **kw)
        for k in range(steps):
            for p in ps:
                p.grad = tt.tensor(_grads(k, p), device=device)
            opt.step()
        return [p.numpy().copy() for p in ps], opt
    finally:
        REUSE_UPDATES.value = old


@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_reused_updates_are_bit_for_bit_the_built_ones(kind: str, kw: dict[str, Any], device: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    replays = []
    real = reuse.replay

    def counting(*args: Any) -> Any:
        out = real(*args)
        replays.append(out is not None)
        return out
    monkeypatch.setattr(reuse, "replay", counting)
    kept0 = STATS["known_plans"]
    with_reuse, opt = _train(kind, kw, True, device)
    kept = STATS["known_plans"] - kept0
    without, _ = _train(kind, kw, False, device)
    for a, b in zip(with_reuse, without):
        assert np.array_equal(a, b), f"{kind}{kw}: reused update differs from the built one"
    # the kept graphs are replayed until the step's plan is kept; the later steps run that plan (steps 5 and 6
    # at least: SGD's momentum buffer is created by its first update, so its graphs are kept one step later)
    assert sum(replays) >= 2, f"{kind}{kw}: the kept graphs were replayed {sum(replays)} times"
    assert kept >= 2 and opt._step_plan is not None, f"{kind}{kw}: the kept step plan ran {kept} times"
    # the kept graphs hold no buffer of the step they were built in
    host = {id(h.t.uop.base.arg[0]) for g in opt.param_groups for h in g.host.values()}
    for _, _, graph in opt._graphs.values():
        holders = {id(u.base.arg[0]) for hs in graph.holders for u in hs}
        for u in toposort(graph.outputs):
            if u.op is Ops.BUFFER:
                assert id(u.arg[0]) in holders | host, f"{kind}: a kept graph holds {u.arg[0]}"
                if id(u.arg[0]) in holders:
                    assert not u.arg[0].allocated


def test_a_subclass_with_its_own_update_is_never_reused() -> None:
    class Scaled(optim.SGD):
        """SGD whose step grows with a Python counter: a graph kept from one step would be wrong the next."""

        count = 0

        def _update(self, p: tt.Tensor, g: tt.Tensor, group: Any, state: dict[str, Any]) -> list[tt.Tensor]:
            self.count += 1
            p.assign(p - g * (0.1 * self.count))
            return [p]

    p = tt.tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = Scaled([p], lr=0.1)
    for _ in range(4):
        p.grad = tt.ones(3)
        opt.step()
    assert np.allclose(p.numpy(), -(0.1 + 0.2 + 0.3 + 0.4))
    assert not getattr(opt, "_graphs", {})


def test_changed_settings_and_learning_rates_are_followed() -> None:
    torch = pytest.importorskip("torch")
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    p, tp = tt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    opt, topt = optim.Adam([p], lr=0.01), torch.optim.Adam([tp], lr=0.01)
    for k in range(8):
        if k == 4:  # a setting baked into the graph: the kept graph must not be used
            opt.param_groups[0]["weight_decay"] = topt.param_groups[0]["weight_decay"] = 0.5
        opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 0.01 * (k + 1)  # a buffer: reused
        g = _grads(k, p)
        p.grad, tp.grad = tt.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        assert np.allclose(p.numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6), f"step {k + 1}"


def test_memory_viewed_by_another_tensor_sees_each_write() -> None:
    p = tt.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    for k in range(4):
        view = p.view(-1)  # shares p's memory: the write happens at once, and the view sees it
        p.grad = tt.ones(2, 3)
        opt.step()
        assert np.allclose(view.numpy(), 1 - 0.5 * (k + 1))
    assert np.allclose(p.numpy(), -1.0)


# the kept step plan: from the fourth step on, a step's updates run a plan kept from an earlier step ---------------

def _scenario(kind: str, reuse_on: bool, event: Any, steps: int = 8) -> tuple[list[np.ndarray], list[Any], int]:
    """Train two parameters for `steps` steps; event(k, ps, opt) runs before step k's update and may return a
    lazy tensor to read after the update. Returns the parameters, what the events' tensors read, and how many
    steps ran the kept plan."""
    old = REUSE_UPDATES.value
    REUSE_UPDATES.value = int(reuse_on)
    try:
        ps = [tt.tensor(np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5), requires_grad=True),
              tt.tensor(np.ones(3, np.float32), requires_grad=True)]
        opt = getattr(optim, kind)(ps, lr=0.05)
        seen, k0 = [], STATS["known_plans"]
        for k in range(steps):
            for p in ps:
                p.grad = tt.tensor(_grads(k, p))
            lazy = event(k, ps, opt)
            opt.step()
            if lazy is not None:
                seen.append(lazy.numpy().copy())
        return [p.numpy().copy() for p in ps], seen, STATS["known_plans"] - k0
    finally:
        REUSE_UPDATES.value = old


def _nothing(k: int, ps: list[tt.Tensor], opt: Any) -> Any:
    return None


def _lazy_reader(k: int, ps: list[tt.Tensor], opt: Any) -> Any:
    return ps[0] * 2 + ps[1].sum()  # built before the update: reads the weights it was built on


def _no_grad_for_one(k: int, ps: list[tt.Tensor], opt: Any) -> Any:
    if k in (4, 5):
        ps[1].grad = None  # this step updates the first parameter only
    return None


def _settings_change(k: int, ps: list[tt.Tensor], opt: Any) -> Any:
    if k == 5:
        opt.param_groups[0]["weight_decay"] = 0.25
    opt.param_groups[0]["lr"] = 0.05 / (k + 1)
    return None


def _view_held(k: int, ps: list[tt.Tensor], opt: Any) -> Any:
    return ps[0].view(-1) if k >= 4 else None  # shares the weight's memory: sees the update


def _state_reloaded(k: int, ps: list[tt.Tensor], opt: Any) -> Any:
    if k == 5:
        opt.load_state_dict(opt.state_dict())  # the state's buffers rewritten in place
    return None


SCENARIOS = {"plain": (_nothing, 5), "lazy reader": (_lazy_reader, 5),
             "a parameter without grad": (_no_grad_for_one, 2), "settings change": (_settings_change, 2),
             "a view held": (_view_held, 0), "state reloaded": (_state_reloaded, 4)}


@pytest.mark.parametrize("kind", ["Adam", "SGD", "RMSprop"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_kept_step_plan_is_bit_for_bit_the_built_step(kind: str, name: str) -> None:
    event, min_kept = SCENARIOS[name]
    got, got_seen, kept = _scenario(kind, True, event)
    want, want_seen, none = _scenario(kind, False, event)
    assert none == 0
    for a, b in zip(got, want):
        assert np.array_equal(a, b), f"{kind}, {name}: the parameters differ from steps built every time"
    for a, b in zip(got_seen, want_seen):
        assert np.array_equal(a, b), f"{kind}, {name}: a tensor read after the step differs"
    assert kept >= min_kept, f"{kind}, {name}: the kept plan ran {kept} times"


def test_lazy_reader_reads_the_weights_before_the_update() -> None:
    p = tt.tensor(np.ones(4, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    k0 = STATS["known_plans"]
    for k in range(6):
        p.grad = tt.tensor(np.ones(4, np.float32))
        before = p * 1  # lazy: must be computed before the in-place update
        opt.step()
        assert np.array_equal(before.numpy(), np.full(4, 1 - 0.5 * k, np.float32)), f"step {k + 1}"
        assert np.array_equal(p.numpy(), np.full(4, 1 - 0.5 * (k + 1), np.float32)), f"step {k + 1}"
    assert STATS["known_plans"] - k0 >= 3


@pytest.mark.parametrize("observer", ["DEBUG=2", "profiler", "jit"])
def test_kept_step_plan_steps_aside_for_observers(observer: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Under DEBUG=2, the profiler and a JIT capture, steps are realized as graphs again (each kernel reported,
    recorded or captured), with the same values."""
    from tinytorch.helpers import Context
    from tinytorch.profiler import profile

    p = tt.tensor(np.linspace(0, 1, 6, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)

    def step(k: int) -> tt.Tensor:
        loss = (p * p * (k + 1)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for k in range(5):
        step(k)
    assert opt._step_plan is not None
    k0 = STATS["known_plans"]
    if observer == "DEBUG=2":
        with Context(DEBUG=2):
            step(5)
        assert "E_" in capsys.readouterr().out
    elif observer == "profiler":
        with profile() as prof:
            step(5)
        assert prof.events
    else:
        jitted = tt.jit(lambda: step(5))
        for _ in range(3):
            jitted()
        want = tt.tensor(np.linspace(0, 1, 6, dtype=np.float32), requires_grad=True)
        ref = optim.Adam([want], lr=0.1)
        with Context(REUSE_UPDATES=0):
            for k in [0, 1, 2, 3, 4, 5, 5, 5]:
                ref.zero_grad()
                (want * want * (k + 1)).sum().backward()
                ref.step()
        assert np.array_equal(p.numpy(), want.numpy()), "jitted steps after kept-plan steps"
        return  # (the JIT's first call runs eagerly: it may use the kept plan)
    assert STATS["known_plans"] == k0
