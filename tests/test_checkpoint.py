"""Checkpoints that resume (issue 8, item 4): tinytorch.save / tinytorch.load of nested objects.

- resume: train N steps, save model + optimizer + scheduler + epoch to one file, train M more;
  separately build fresh objects, load, train M steps: parameters BITWISE equal, for each optimizer
  (with a scheduler each), on every device;
- a PyTorch optimizer's state_dict (tensors converted with .numpy(), or torch tensors as they are)
  loads into ours and the run continues like torch's;
- the file is plain safetensors (the `safetensors` package reads its tensors by their path names);
  every supported type round-trips (nested dicts with int keys, tuples, None, bools, inf, shared
  tensors, requires_grad); unsupported objects, missing / truncated / corrupt files and PyTorch pickle
  checkpoints raise errors naming the problem and the path.
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn, optim
from tinytorch.nn.state import STRUCTURE_KEY, safe_load_metadata
from tinytorch.optim import lr_scheduler


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.fc1(x).relu())  # (N, 6) -> (N, 3)


def _data(n: int, device: str) -> list[tuple[Tensor, Tensor]]:
    rng = np.random.default_rng(0)
    return [(Tensor(rng.standard_normal((5, 6)).astype(np.float32), device=device),
             Tensor(rng.integers(0, 3, 5).astype(np.int64), device=device)) for _ in range(n)]


SETUPS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), "StepLR", dict(step_size=2, gamma=0.5)),
    ("Adam", dict(lr=0.01, amsgrad=True), "OneCycleLR", dict(max_lr=0.05, total_steps=20)),
    ("AdamW", dict(lr=0.01), "CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True), "ReduceLROnPlateau", dict(patience=0, factor=0.5)),
    ("NAdam", dict(lr=0.01), "ExponentialLR", dict(gamma=0.9)),
    ("RAdam", dict(lr=0.01), "MultiStepLR", dict(milestones=[2, 5])),
    ("Adagrad", dict(lr=0.1), "LinearLR", dict(start_factor=0.5, total_iters=4)),
]


def _build(device: str, kind: str, okw: dict[str, Any], sched: str, skw: dict[str, Any]) -> tuple[Net, Any, Any]:
    tt.manual_seed(3)
    model = Net()
    model = model.to(device)
    opt = getattr(optim, kind)(model.parameters(), **okw)
    return model, opt, getattr(lr_scheduler, sched)(opt, **skw)


def _train(model: Net, opt: Any, sched: Any, batches: list[tuple[Tensor, Tensor]]) -> None:
    for x, y in batches:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            sched.step(loss.item())
        else:
            sched.step()


@pytest.mark.parametrize("kind,okw,sched,skw", SETUPS, ids=[f"{s[0]}-{s[2]}" for s in SETUPS])
def test_resumed_run_continues_identically(kind: str, okw: dict[str, Any], sched: str, skw: dict[str, Any],
                                           device: str, tmp_path: Any) -> None:
    data = _data(8, device)
    model, opt, s = _build(device, kind, okw, sched, skw)
    _train(model, opt, s, data[:4])
    path = tmp_path / "ckpt.safetensors"
    tt.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": s.state_dict(), "epoch": 4},
            path)
    _train(model, opt, s, data[4:])
    want = [p.numpy().copy() for p in model.parameters()]
    want_lr = s.get_last_lr()

    model2, opt2, s2 = _build(device, kind, okw, sched, skw)
    ckpt = tt.load(path, map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 4
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    s2.load_state_dict(ckpt["scheduler"])
    _train(model2, opt2, s2, data[4:])
    for i, (p, w) in enumerate(zip(model2.parameters(), want)):
        np.testing.assert_array_equal(p.numpy(), w, err_msg=f"{kind}+{sched}: parameter {i} after resuming")
    assert s2.get_last_lr() == want_lr

    # and the optimizer state mattered: without it the continuation differs
    model3, opt3, s3 = _build(device, kind, okw, sched, skw)
    model3.load_state_dict(ckpt["model"])
    s3.load_state_dict(ckpt["scheduler"])
    _train(model3, opt3, s3, data[4:])
    assert any(not np.array_equal(p.numpy(), w) for p, w in zip(model3.parameters(), want)), \
        f"{kind}: a fresh optimizer continues identically: the test cannot tell"


def test_optimizer_state_dict_layout_is_torchs() -> None:
    torch = pytest.importorskip("torch")
    tt.manual_seed(0)
    model = Net()
    opt = optim.Adam(model.parameters(), lr=0.01)
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)
    for o, m, lib in ((opt, model, tt), (topt, tmodel, torch)):
        x = lib.ones(5, 6)
        m(x).sum().backward()
        o.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd) == list(tsd) == ["state", "param_groups"]
    assert list(sd["state"]) == list(tsd["state"]) == [0, 1, 2, 3]
    assert set(sd["state"][0]) == set(tsd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"].shape == tsd["state"][0]["step"].shape == ()
    assert float(sd["state"][0]["step"]) == float(tsd["state"][0]["step"]) == 1.0
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"] == [0, 1, 2, 3]
    for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert sd["param_groups"][0][k] == tsd["param_groups"][0][k], k
    before = sd["state"][0]["exp_avg"].numpy().copy()
    model(Tensor.ones(5, 6)).sum().backward()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), before)  # a copy, not the live state


@pytest.mark.parametrize("as_numpy", [True, False], ids=["numpy", "torch_tensors"])
def test_load_torch_optimizer_state_dict(as_numpy: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0 = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,)]]
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in p0] for _ in range(6)]
    tps = [torch.tensor(p, requires_grad=True) for p in p0]
    topt = torch.optim.AdamW(tps, lr=0.02, amsgrad=True)
    tsched = torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.8)
    for gs in grads[:3]:
        for tp, g in zip(tps, gs):
            tp.grad = torch.tensor(g)
        topt.step()
        tsched.step()
    tsd = topt.state_dict()
    if as_numpy:
        tsd = {"state": {i: {k: v.numpy() for k, v in st.items()} for i, st in tsd["state"].items()},
               "param_groups": tsd["param_groups"]}
    ps = [Tensor(tp.detach().numpy().copy(), requires_grad=True) for tp in tps]
    opt = optim.AdamW(ps, lr=0.5)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.8)
    opt.load_state_dict(tsd)
    sched.load_state_dict({k: v for k, v in tsched.state_dict().items()})
    assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
    for gs in grads[3:]:
        for p, tp, g in zip(ps, tps, gs):
            p.grad, tp.grad = Tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert sched.get_last_lr() == tsched.get_last_lr()


# ---------------------------------------------------------------------------------------------
# the file
# ---------------------------------------------------------------------------------------------
def test_nested_objects_round_trip(tmp_path: Any) -> None:
    w = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    obj = {"model": {"w": w, "b": Tensor([1, 2, 3]), "h": Tensor(np.ones(2), dtype=tt.bfloat16)},
           "state": {0: {"step": Tensor(3.0), "buf": None}, 1: {}},
           "groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False}],
           "epoch": 7, "best": math.inf, "worst": -math.inf, "name": "run-1", "big": 2 ** 62,
           "tied": w, "arr": np.arange(3, dtype=np.int64), "np_scalar": np.float32(1.5), "dtype": tt.float16,
           (1, "a"): "tuple key", "$odd": [], "empty": {}, "nested": [[1, (2, 3.5)], ()]}
    tt.save(obj, tmp_path / "o.safetensors")
    back = tt.load(tmp_path / "o.safetensors")
    assert list(back) == list(obj)
    assert back["tied"] is back["model"]["w"] and back["model"]["w"].requires_grad
    np.testing.assert_array_equal(back["model"]["w"].numpy(), w.numpy())
    assert back["model"]["b"].dtype == tt.int64 and back["model"]["h"].dtype == tt.bfloat16
    assert back["state"] == {0: {"step": back["state"][0]["step"], "buf": None}, 1: {}}
    assert float(back["state"][0]["step"]) == 3.0 and back["state"][0]["step"].shape == ()
    assert back["groups"] == obj["groups"] and isinstance(back["groups"][0]["betas"], tuple)
    for k in ("epoch", "best", "worst", "name", "big", (1, "a"), "$odd", "empty", "nested", "dtype"):
        assert back[k] == obj[k] and type(back[k]) is type(obj[k]), k
    assert back["np_scalar"] == 1.5
    np.testing.assert_array_equal(back["arr"].numpy(), [0, 1, 2])  # arrays come back as Tensors
    # a top-level tensor, a list, a file object
    tt.save(Tensor([1.0, 2.0]), tmp_path / "t.safetensors")
    np.testing.assert_array_equal(tt.load(tmp_path / "t.safetensors").numpy(), [1.0, 2.0])
    buf = io.BytesIO()
    tt.save([Tensor([1.0]), 2, None], buf)
    buf.seek(0)
    got = tt.load(buf)
    assert got[1:] == [2, None] and got[0].numpy().tolist() == [1.0]


def test_file_is_plain_safetensors(tmp_path: Any) -> None:
    st = pytest.importorskip("safetensors.numpy")
    tt.manual_seed(0)
    model = Net()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(Tensor.ones(2, 6)).sum().backward()
    opt.step()
    p = tmp_path / "c.safetensors"
    tt.save({"model": model.state_dict(), "opt": opt.state_dict()}, p)
    arrays = st.load_file(str(p))
    assert sorted(arrays) == sorted([f"model.{k}" for k in model.state_dict()] +
                                    [f"opt.state.{i}.momentum_buffer" for i in range(4)])
    np.testing.assert_array_equal(arrays["model.fc1.weight"], model.fc1.weight.numpy())
    structure = json.loads(safe_load_metadata(p)[STRUCTURE_KEY])
    assert structure["model"]["fc1.weight"] == {"$tensor": "model.fc1.weight"}
    # a flat state_dict keeps its names: torch / safetensors users load it as is
    tt.save(model, tmp_path / "m.safetensors")
    assert sorted(st.load_file(str(tmp_path / "m.safetensors"))) == sorted(model.state_dict())
    # a file written by another tool (no structure entry) loads as its name -> Tensor dict
    st.save_file({"a": np.ones(2, np.float32)}, str(tmp_path / "other.safetensors"))
    other = tt.load(tmp_path / "other.safetensors")
    assert list(other) == ["a"] and isinstance(other["a"], Tensor)


def test_unsupported_objects_raise_naming_where(tmp_path: Any) -> None:
    with pytest.raises(TypeError, match=r"\['opt'\]\['f'\]"):
        tt.save({"opt": {"f": lambda e: e}}, tmp_path / "x")
    with pytest.raises(TypeError, match="state_dict"):
        tt.save({"model": Net()}, tmp_path / "x")
    with pytest.raises(TypeError, match="key"):
        tt.save({Tensor([1.0]): 1}, tmp_path / "x")
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested"):
        tt.save(loop, tmp_path / "x")
    assert not os.path.exists(tmp_path / "x")


def test_bad_files_raise_naming_the_path(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        tt.load(tmp_path / "nope.safetensors")
    p = tmp_path / "c.safetensors"
    tt.save({"w": Tensor(np.ones((4, 4), np.float32)), "epoch": 3}, p)
    raw = p.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="trunc.safetensors"):
        tt.load(tmp_path / "trunc.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="junk.safetensors"):
        tt.load(tmp_path / "junk.safetensors")
    # a structure naming a tensor the file lacks, and one that is not JSON
    from tinytorch.nn.state import safe_save

    safe_save({"w": Tensor([1.0])}, tmp_path / "s1.safetensors", {STRUCTURE_KEY: '{"x": {"$tensor": "gone"}}'})
    with pytest.raises(ValueError, match="s1.safetensors.*gone"):
        tt.load(tmp_path / "s1.safetensors")
    safe_save({"w": Tensor([1.0])}, tmp_path / "s2.safetensors", {STRUCTURE_KEY: "{not json"})
    with pytest.raises(ValueError, match="s2.safetensors"):
        tt.load(tmp_path / "s2.safetensors")
    safe_save({"w": Tensor([1.0])}, tmp_path / "s3.safetensors", {STRUCTURE_KEY: '{"$tuple": 5}'})
    with pytest.raises(ValueError, match="s3.safetensors"):
        tt.load(tmp_path / "s3.safetensors")


def test_torch_pickle_checkpoint_is_refused_with_advice(tmp_path: Any) -> None:
    torch = pytest.importorskip("torch")
    p = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, p)
    with pytest.raises(ValueError, match="model.pt.*PyTorch pickle checkpoint"):
        tt.load(p)
