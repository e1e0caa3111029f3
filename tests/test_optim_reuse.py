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
    with_reuse, opt = _train(kind, kw, True, device)
    without, _ = _train(kind, kw, False, device)
    for a, b in zip(with_reuse, without):
        assert np.array_equal(a, b), f"{kind}{kw}: reused update differs from the built one"
    assert sum(replays) >= 6, f"{kind}{kw}: the kept graphs were replayed {sum(replays)} times"
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
