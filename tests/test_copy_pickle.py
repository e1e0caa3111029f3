"""copy.deepcopy, copy.copy and pickle of tensors, modules and optimizers, as PyTorch does them.

- a deep copy is a leaf with its own memory, the same class (nn.Parameter stays one), requires_grad and a copy of
  .grad; a tensor computed from ones that require grad refuses, with PyTorch's message;
- copy.copy shares memory; pickling keeps values, dtype, class and requires_grad;
- a module's deep copy or pickle trains on its own; an optimizer's carries its per-parameter state over to the
  copied parameters (copied together with the model, it steps them exactly as the original steps its own).
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn, optim

DTYPES = [tt.float32, tt.float64, tt.float16, tt.bfloat16, tt.int64, tt.int32, tt.uint8, tt.bool]


def _values(dt: Any, shape: tuple[int, ...]) -> tt.Tensor:
    x = tt.arange(int(np.prod(shape)), dtype=tt.float32).reshape(shape) * 0.5 - 1
    return (x > 0) if dt == tt.bool else x.to(dt)


@pytest.mark.parametrize("dt", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 3)])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_values_dtype_and_shape_survive(dt: Any, shape: tuple[int, ...], how: str) -> None:
    t = _values(dt, shape)
    u = copy.deepcopy(t) if how == "deepcopy" else pickle.loads(pickle.dumps(t))
    assert type(u) is tt.Tensor and u.dtype == t.dtype and u.shape == t.shape and u.device == t.device
    assert np.array_equal(u.numpy(), t.numpy())


def test_a_deep_copy_owns_its_memory_and_keeps_requires_grad_and_grad() -> None:
    a = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (a * a).sum().backward()
    b = copy.deepcopy(a)
    assert b.requires_grad and b.is_leaf and b.grad is not a.grad
    assert np.array_equal(b.grad.numpy(), [2.0, 4.0, 6.0])
    with tt.no_grad():
        b.mul_(10)
    assert np.array_equal(a.numpy(), [1.0, 2.0, 3.0]) and np.array_equal(b.numpy(), [10.0, 20.0, 30.0])
    (b * 2).sum().backward()
    assert np.array_equal(b.grad.numpy(), [4.0, 6.0, 8.0]) and np.array_equal(a.grad.numpy(), [2.0, 4.0, 6.0])


def test_a_non_leaf_that_requires_grad_refuses_a_deep_copy() -> None:
    a = tt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(a * 2)
    assert np.array_equal(copy.deepcopy((a * 2).detach()).numpy(), [2.0, 2.0, 2.0])
    with tt.no_grad():
        c = a * 3
    assert np.array_equal(copy.deepcopy(c).numpy(), [3.0, 3.0, 3.0])


def test_copy_copy_shares_memory() -> None:
    (tt.zeros(4) + 0).realize()
    tt.zeros(4).realize()  # (another tensor of the same value: its result is cached on the shared graph node)
    a = tt.zeros(4)
    b = copy.copy(a)
    b[1] = 7.0
    assert a.numpy()[1] == 7.0
    a.add_(1)
    assert np.array_equal(b.numpy(), [1.0, 8.0, 1.0, 1.0])
    lazy = tt.ones(2, requires_grad=True) * 5  # a computed value: a leaf over its result
    c = copy.copy(lazy)
    assert c.is_leaf and c.requires_grad and np.array_equal(c.numpy(), [5.0, 5.0])


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_parameters_stay_parameters(how: str) -> None:
    p = nn.Parameter(tt.tensor([1.0, -1.0]))
    q = copy.deepcopy(p) if how == "deepcopy" else pickle.loads(pickle.dumps(p))
    assert type(q) is nn.Parameter and q.requires_grad and np.array_equal(q.numpy(), [1.0, -1.0])
    frozen = nn.Parameter(tt.ones(2), requires_grad=False)
    assert not (copy.deepcopy(frozen) if how == "deepcopy" else pickle.loads(pickle.dumps(frozen))).requires_grad


def test_against_torch() -> None:
    torch = pytest.importorskip("torch")
    for data in ([1.5, -2.0], [[1, 2], [3, 4]]):
        a, ta = tt.tensor(data), torch.tensor(data)
        for f in (copy.deepcopy, copy.copy, lambda t: pickle.loads(pickle.dumps(t))):
            u, tu = f(a), f(ta)
            assert np.array_equal(u.numpy(), tu.numpy()) and str(u.dtype).split(".")[1] == str(tu.dtype).split(".")[1]
            assert u.requires_grad == tu.requires_grad and u.is_leaf == tu.is_leaf
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(torch.ones(2, requires_grad=True) * 2)


MODULES = {
    "linear": lambda: nn.Linear(4, 3),
    "conv+bn": lambda: nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU()),
    "embedding+layernorm": lambda: nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4)),
    "lstm": lambda: nn.LSTM(4, 5),
    "attention": lambda: nn.MultiheadAttention(8, 2),
}


@pytest.mark.parametrize("name", list(MODULES))
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_module_copies_are_equal_and_independent(name: str, how: str) -> None:
    m = MODULES[name]()
    m2 = copy.deepcopy(m) if how == "deepcopy" else pickle.loads(pickle.dumps(m))
    sd, sd2 = m.state_dict(), m2.state_dict()
    assert list(sd) == list(sd2)
    for k in sd:
        assert np.array_equal(sd[k].numpy(), sd2[k].numpy()), k
    params2 = {id(p) for p in m2.parameters()}
    assert not params2 & {id(p) for p in m.parameters()}
    with tt.no_grad():
        for p in m2.parameters():
            p.fill_(0.25)
    assert any(not np.all(p.numpy() == 0.25) for p in m.parameters())


@pytest.mark.parametrize("kind,kw", [("Adam", {}), ("SGD", {"momentum": 0.9}), ("AdamW", {"weight_decay": 0.1})])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_an_optimizer_copied_with_its_model_continues_the_same_training(kind: str, kw: dict[str, Any],
                                                                       how: str) -> None:
    m = nn.Linear(4, 3)
    opt = getattr(optim, kind)(m.parameters(), lr=0.05, **kw)
    x = tt.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))

    def step(model: nn.Module, o: Any) -> None:
        o.zero_grad()
        (model(x) ** 2).sum().backward()
        o.step()

    for _ in range(5):  # (past the steps that keep update graphs and the step plan)
        step(m, opt)
    both = copy.deepcopy({"m": m, "o": opt}) if how == "deepcopy" else pickle.loads(pickle.dumps({"m": m, "o": opt}))
    m2, opt2 = both["m"], both["o"]
    assert opt2.param_groups[0]["params"][0] is m2.weight and m2.weight in opt2.state
    for _ in range(4):
        step(m, opt)
        step(m2, opt2)
    for p, q in zip(m.parameters(), m2.parameters()):
        assert np.array_equal(p.numpy(), q.numpy())
