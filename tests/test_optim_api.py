"""PyTorch's optim API against torch.optim itself (issue 8, item 3).

- every optimizer and option (RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, SGD, Adam / AdamW with
  amsgrad, weight decay, maximize): same initial parameters and gradient sequence, 8 steps, parameters
  compared after each step, on every device;
- parameter groups: per-group options, `param_groups[i]['lr'] = x` between steps, add_param_group,
  zero_grad(set_to_none=...), step(closure), opt.state[p], the errors torch raises;
- every scheduler's get_last_lr() over 40 steps EQUAL to torch's (the chainable float sequence),
  momentum / beta1 cycling, ReduceLROnPlateau on a noisy metric, a scheduler resumed from its
  state_dict mid-way;
- clip_grad_norm_ / clip_grad_value_ / parameters_to_vector / vector_to_parameters against torch.nn.utils.
"""

from __future__ import annotations

import io
import math
import warnings
import zlib
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn, optim
from tinytorch.optim import lr_scheduler

from .conftest import EPS, assert_close

torch = pytest.importorskip("torch")

SHAPES = [(4, 5), (3,)]
N_STEPS = 8

OPTIMIZERS: list[tuple[str, dict[str, Any]]] = [
    ("RMSprop", {}),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5, centered=True)),
    ("RMSprop", dict(momentum=0.9, maximize=True)),
    ("Adagrad", {}),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-8)),
    ("Adadelta", {}),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adamax", {}),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("NAdam", {}),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", {}),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.2)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, maximize=True)),
]
IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in kw.items()) or 'defaults'}" for k, kw in OPTIMIZERS]


def _problem(seed: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial parameters and N_STEPS gradients each (one exactly 0, one tiny, sign changes)."""
    rng = np.random.default_rng(seed)
    p0 = [rng.uniform(-1, 1, s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for _ in range(N_STEPS)] for s in SHAPES]
    grads[0][1][0, 0] = 0.0
    grads[0][2][0, 1] = 1e-7
    return p0, grads


def _close(got: np.ndarray, want: np.ndarray, peak: np.ndarray, what: str, device: str | None, steps: int) -> None:
    """Parameters equal to torch's to float32 rounding: 1e-5 relative, with a floor of a few ulps per step
    of the largest magnitude the parameter has had (`peak`): a parameter that passed through 0.1 and
    ended near 0 carries the rounding of its steps at 0.1."""
    atol = 4 * steps * EPS[tt.float32] * np.maximum(np.abs(peak), np.abs(want))
    assert_close(got, want, what, want.shape, device, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("kind,kw", OPTIMIZERS, ids=IDS)
def test_optimizer_matches_torch(kind: str, kw: dict[str, Any], device: str) -> None:
    p0, grads = _problem(zlib.crc32(f"{kind}{sorted(kw.items())}".encode()) % 1000)  # the same every run
    peaks = [np.abs(p) for p in p0]
    ps = [Tensor(p, device=device, requires_grad=True) for p in p0]
    opt = getattr(optim, kind)(ps, **kw)
    tps = [torch.tensor(p, requires_grad=True) for p in p0]
    topt = getattr(torch.optim, kind)(tps, **kw)
    for k in range(N_STEPS):
        for p, tp, gs in zip(ps, tps, grads):
            p.grad = Tensor(gs[k], device=device)
            tp.grad = torch.tensor(gs[k])
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(ps, tps)):
            peaks[i] = np.maximum(peaks[i], np.abs(tp.detach().numpy()))
            _close(p.numpy(), tp.detach().numpy(), peaks[i], f"{kind}{kw} param {i} step {k + 1}", device, k + 1)
    # the state has torch's names and values
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd["state"]) == set(tsd["state"])
    for i, st in tsd["state"].items():
        assert set(sd["state"][i]) == set(st), f"{kind}: state keys {set(sd['state'][i])} vs torch's {set(st)}"
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                assert_close(sd["state"][i][name], v.numpy(), f"{kind} state {name}", v.shape, device, rtol=1e-5,
                             atol=1e-6 * float(v.abs().max()) if v.numel() else 0.0)


def test_float64_parameters(device: str) -> None:
    p0, grads = _problem(7)
    for kind, kw in [("RMSprop", dict(momentum=0.5, centered=True)), ("NAdam", {}), ("RAdam", {}), ("Adagrad", {})]:
        p = Tensor(p0[0].astype(np.float64), device=device, requires_grad=True)
        tp = torch.tensor(p0[0].astype(np.float64), requires_grad=True)
        opt, topt = getattr(optim, kind)([p], **kw), getattr(torch.optim, kind)([tp], **kw)
        for k in range(N_STEPS):
            p.grad = Tensor(grads[0][k].astype(np.float64), device=device)
            tp.grad = torch.tensor(grads[0][k].astype(np.float64))
            opt.step()
            topt.step()
        assert p.dtype == tt.float64
        assert_close(p.numpy(), tp.detach().numpy(), f"{kind} float64", p.shape, device, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# parameter groups, zero_grad, closures, errors
# ---------------------------------------------------------------------------------------------
def test_param_groups_per_group_options_and_lr_changes(device: str) -> None:
    p0, grads = _problem(3)
    a, b = (Tensor(p, device=device, requires_grad=True) for p in p0)
    ta, tb = (torch.tensor(p, requires_grad=True) for p in p0)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.5}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": [ta]}, {"params": tb, "lr": 0.5, "momentum": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.5]
    lrs = [0.1, 0.1, 0.02, 0.3, 0.3, 0.05, 0.05, 0.05]
    for k in range(N_STEPS):
        opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = lrs[k]
        opt.param_groups[1]["momentum"] = topt.param_groups[1]["momentum"] = 0.5 + 0.05 * k
        a.grad, b.grad = Tensor(grads[0][k], device=device), Tensor(grads[1][k], device=device)
        ta.grad, tb.grad = torch.tensor(grads[0][k]), torch.tensor(grads[1][k])
        opt.step()
        topt.step()
    _close(a.numpy(), ta.detach().numpy(), p0[0], "group 0 with lr changed between steps", device, N_STEPS)
    _close(b.numpy(), tb.detach().numpy(), p0[1], "group 1 with momentum changed between steps", device, N_STEPS)


def test_add_param_group(device: str) -> None:
    p0, grads = _problem(4)
    a, b = (Tensor(p, device=device, requires_grad=True) for p in p0)
    ta, tb = (torch.tensor(p, requires_grad=True) for p in p0)
    opt, topt = optim.Adam([a], lr=0.01), torch.optim.Adam([ta], lr=0.01)
    for k in range(N_STEPS):
        if k == 3:
            opt.add_param_group({"params": b, "lr": 0.05, "betas": (0.5, 0.9)})
            topt.add_param_group({"params": tb, "lr": 0.05, "betas": (0.5, 0.9)})
            assert opt.param_groups[1]["eps"] == topt.param_groups[1]["eps"] == 1e-8  # the defaults fill in
        a.grad, ta.grad = Tensor(grads[0][k], device=device), torch.tensor(grads[0][k])
        if k >= 3:
            b.grad, tb.grad = Tensor(grads[1][k], device=device), torch.tensor(grads[1][k])
        opt.step()
        topt.step()
    _close(a.numpy(), ta.detach().numpy(), p0[0], "first group", device, N_STEPS)
    _close(b.numpy(), tb.detach().numpy(), p0[1], "added group", device, N_STEPS)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_zero_grad_closure_and_state_access() -> None:
    w = Tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.item()) == pytest.approx(5.0)
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6], rtol=1e-6)  # w - 0.1 * 2w
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"].numpy(), [2.0, -4.0])
    assert w.grad is not None
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and not w.grad.numpy().any()
    opt.zero_grad()
    assert w.grad is None
    assert "lr: 0.1" in repr(opt)


def test_errors_as_torch() -> None:
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    for kind, kw in [("RMSprop", dict(lr=-1.0)), ("RMSprop", dict(alpha=-0.1)), ("Adagrad", dict(lr_decay=-1.0)),
                     ("Adadelta", dict(rho=1.5)), ("Adamax", dict(betas=(1.0, 0.9))), ("NAdam", dict(eps=-1.0)),
                     ("RAdam", dict(betas=(0.9, -0.1))), ("SGD", dict(lr=0.1, nesterov=True))]:
        with pytest.raises(ValueError):
            getattr(torch.optim, kind)([torch.ones(2, requires_grad=True)], **kw)
        with pytest.raises(ValueError):
            getattr(optim, kind)([w], **kw)
    with pytest.raises(TypeError):
        optim.Adam(w)  # a Tensor, not an iterable of them (torch raises TypeError too)
    with pytest.raises(TypeError):
        optim.Adam({w})  # a set has no order
    with pytest.raises(ValueError):
        optim.Adam([])
    with pytest.raises(ValueError):
        optim.Adam([w, w])


# ---------------------------------------------------------------------------------------------
# schedulers
# ---------------------------------------------------------------------------------------------
def _lambda(e: int) -> float:
    return 0.95 ** e


SCHEDULERS: list[tuple[str, dict[str, Any]]] = [
    ("ExponentialLR", dict(gamma=0.9)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.5)),
    ("LambdaLR", dict(lr_lambda=_lambda)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.97)),
    ("StepLR", dict(step_size=4, gamma=0.7)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.01)),
    ("CosineAnnealingWarmRestarts", dict(T_0=7)),
    ("LinearLR", dict(start_factor=0.2, total_iters=7)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", dict(total_iters=12, power=2.0)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=45)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=45, three_phase=True, anneal_strategy="linear")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5, mode="triangular2")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9)),
]
S_IDS = [f"{k}-{i}" for i, (k, _) in enumerate(SCHEDULERS)]


def _pair(kind: str = "SGD", **kw: Any) -> tuple[Tensor, Any, Any, Any]:
    p = Tensor(np.ones(2, np.float32), requires_grad=True)
    tp = torch.ones(2, requires_grad=True)
    return p, getattr(optim, kind)([p], lr=0.1, **kw), tp, getattr(torch.optim, kind)([tp], lr=0.1, **kw)


@pytest.mark.parametrize("opt_kind", ["SGD", "Adam"])
@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=S_IDS)
def test_scheduler_sequence_equals_torch(name: str, kw: dict[str, Any], opt_kind: str) -> None:
    p, opt, tp, topt = _pair(opt_kind, **({"momentum": 0.9} if opt_kind == "SGD" else {}))
    sched = getattr(lr_scheduler, name)(opt, **kw)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    key = "momentum" if opt_kind == "SGD" else "betas"
    ours, theirs = [sched.get_last_lr()], [tsched.get_last_lr()]
    for _ in range(44):
        p.grad, tp.grad = Tensor(np.ones(2, np.float32)), torch.ones(2)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        ours.append(sched.get_last_lr())
        theirs.append(tsched.get_last_lr())
        assert opt.param_groups[0][key] == topt.param_groups[0][key], f"{name}: {key} after step {len(ours) - 1}"
    assert ours == theirs, f"{name} {kw}: first difference at step " \
                           f"{next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)}"
    assert opt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
    # and the learning rates drive the updates
    assert_close(p, tp.detach().numpy(), f"{name}: parameters after 44 steps", (2,), None, rtol=1e-5)


def _composite(m: Any, o: Any, which: str) -> Any:
    if which == "sequential":
        return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9),
                                  m.CosineAnnealingLR(o, T_max=6)], milestones=[5, 15])
    return m.ChainedScheduler([m.ConstantLR(o, factor=0.1, total_iters=4), m.ExponentialLR(o, gamma=0.9),
                               m.StepLR(o, 3, 0.5)])


@pytest.mark.parametrize("which", ["sequential", "chained"])
def test_composite_schedulers_equal_torch(which: str) -> None:
    _, opt, _, topt = _pair("SGD", momentum=0.9)
    s, ts = _composite(lr_scheduler, opt, which), _composite(torch.optim.lr_scheduler, topt, which)
    ours, theirs = [s.get_last_lr()], [ts.get_last_lr()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that optimizer.step() was not called
        for _ in range(40):
            s.step()
            ts.step()
            ours.append(s.get_last_lr())
            theirs.append(ts.get_last_lr())
    assert ours == theirs


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", factor=0.5, patience=2, threshold=0.1, threshold_mode="abs",
                                             cooldown=2, min_lr=0.01),
                                dict(patience=1, cooldown=1, eps=1e-3, factor=0.3)], ids=["default", "max_abs", "eps"])
def test_reduce_lr_on_plateau_equals_torch(kw: dict[str, Any]) -> None:
    _, opt, _, topt = _pair("SGD")
    s, ts = lr_scheduler.ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    rng = np.random.default_rng(1)
    ours, theirs = [], []
    for i in range(60):
        metric = 1.0 / (i + 1) + rng.uniform(0, 0.3)
        s.step(Tensor(np.float32(metric)) if i % 2 else metric)  # a tensor metric (a loss) works too
        ts.step(torch.tensor(np.float32(metric)) if i % 2 else metric)
        ours.append(s.get_last_lr())
        theirs.append(ts.get_last_lr())
    assert ours == theirs
    assert len(set(map(tuple, ours))) > 2, "the lr never dropped: test is vacuous"


RESUMED = (1, 5, 6, 11, 13)


@pytest.mark.parametrize("name,kw", [SCHEDULERS[i] for i in RESUMED], ids=[S_IDS[i] for i in RESUMED])
def test_scheduler_resumes_from_state_dict(name: str, kw: dict[str, Any]) -> None:
    """Stop after 10 steps, save the optimizer's and scheduler's state through tt.save, build fresh ones,
    load, continue: the same sequence as without stopping (and as torch's)."""
    _, opt, _, topt = _pair("SGD", momentum=0.9)
    s, ts = getattr(lr_scheduler, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(10):
            s.step()
            ts.step()
        ckpt = {"opt": opt.state_dict(), "sched": s.state_dict()}
        buf = io.BytesIO()
        tt.save(ckpt, buf)
        buf.seek(0)
        back = tt.load(buf)
        _, opt2, _, _ = _pair("SGD", momentum=0.9)
        s2 = getattr(lr_scheduler, name)(opt2, **kw)
        opt2.load_state_dict(back["opt"])
        s2.load_state_dict(back["sched"])
        for _ in range(25):
            s2.step()
            ts.step()
            assert s2.get_last_lr() == ts.get_last_lr()
            assert opt2.param_groups[0]["momentum"] == topt.param_groups[0]["momentum"]


def test_lambda_scheduler_state_keeps_callable_objects() -> None:
    class Warmup:
        def __init__(self, n: int) -> None:
            self.n = n

        def __call__(self, e: int) -> float:
            return min(1.0, (e + 1) / self.n)

    _, opt, _, _ = _pair()
    s = lr_scheduler.LambdaLR(opt, Warmup(4))
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"n": 4}]
    s2 = lr_scheduler.LambdaLR(_pair()[1], Warmup(9))
    s2.load_state_dict(sd)
    assert s2.lr_lambdas[0].n == 4  # type: ignore[attr-defined]


def test_scheduler_errors() -> None:
    _, opt, _, _ = _pair()
    with pytest.raises(TypeError):
        lr_scheduler.ExponentialLR(object(), gamma=0.9)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError):
        lr_scheduler.ReduceLROnPlateau(opt, mode="median")
    with pytest.raises(ValueError):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(ValueError):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(KeyError):
        _, fresh, _, _ = _pair()
        lr_scheduler.StepLR(fresh, 3, last_epoch=5)  # resuming needs 'initial_lr' in the groups
    s = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="total steps"):
        s.step()


# ---------------------------------------------------------------------------------------------
# nn.utils
# ---------------------------------------------------------------------------------------------
def _grads(device: str, scale: float = 1.0) -> tuple[list[Tensor], list[Any]]:
    rng = np.random.default_rng(5)
    gs = [(rng.standard_normal(s) * scale).astype(np.float32) for s in [(3, 4), (5,), (2, 2)]]
    ps = [Tensor(np.zeros(g.shape, np.float32), device=device, requires_grad=True) for g in gs]
    tps = [torch.zeros(g.shape, requires_grad=True) for g in gs]
    for p, tp, g in zip(ps, tps, gs):
        p.grad, tp.grad = Tensor(g, device=device), torch.tensor(g)
    return ps, tps


@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, math.inf), (2.0, 1.0), (1.0, 3.0),
                                                (1.0, -math.inf), (3.0, 0.0)],
                         ids=["l2", "l2_unclipped", "inf", "l1", "l3", "neg_inf", "l0"])
def test_clip_grad_norm_as_torch(max_norm: float, norm_type: float, device: str) -> None:
    ps, tps = _grads(device)
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    assert_close(total, ttotal.numpy(), f"total norm ({norm_type})", (), device, rtol=1e-5)
    for i, (p, tp) in enumerate(zip(ps, tps)):
        assert_close(p.grad, tp.grad.numpy(), f"clipped grad {i} ({norm_type})", tp.shape, device, rtol=1e-5)


def test_clip_grad_norm_nonfinite_and_empty(device: str) -> None:
    ps, _ = _grads(device)
    ps[1].grad = Tensor(np.array([1.0, np.inf, 0, 0, 0], np.float32), device=device)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert float(nn.utils.clip_grad_norm_([Tensor(np.zeros(2, np.float32), requires_grad=True)], 1.0)) == 0.0


def test_clip_grad_value_as_torch(device: str) -> None:
    ps, tps = _grads(device, scale=2.0)
    nn.utils.clip_grad_value_(ps, 0.7)
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_parameters_to_vector_and_back(device: str) -> None:
    rng = np.random.default_rng(2)
    arrs = [rng.standard_normal(s).astype(np.float32) for s in [(2, 3), (4,), (1, 1, 2)]]
    ps = [Tensor(a, device=device, requires_grad=True) for a in arrs]
    v = nn.utils.parameters_to_vector(ps)
    tv = torch.nn.utils.parameters_to_vector([torch.tensor(a) for a in arrs])
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    new = rng.standard_normal(v.shape[0]).astype(np.float32)
    nn.utils.vector_to_parameters(Tensor(new, device=device), ps)
    tps = [torch.tensor(a) for a in arrs]
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tps)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.numpy(), tp.numpy())
        assert p.requires_grad
    with pytest.raises(RuntimeError):
        nn.utils.vector_to_parameters(Tensor(new[:-1], device=device), ps)


def test_named_parameters_and_custom_optimizer() -> None:
    """optim.SGD(model.named_parameters()) (PyTorch 2.6+) and a PyTorch-style custom Optimizer subclass."""
    tt.manual_seed(0)
    m = nn.Linear(3, 2)
    opt = optim.SGD(m.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.param_groups[0]["params"][0] is m.weight
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]

    class PlainSGD(optim.Optimizer):
        def __init__(self, params: Any, lr: float = 0.01) -> None:
            super().__init__(params, dict(lr=lr))

        def step(self, closure: Any = None) -> None:
            with tt.no_grad():
                for g in self.param_groups:
                    for p in g["params"]:
                        if p.grad is None:
                            continue
                        st = self.state[p]  # a defaultdict(dict), as PyTorch's
                        st["n"] = st.get("n", 0) + 1
                        p -= g["lr"] * p.grad

    w = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    opt2, topt = PlainSGD([w], lr=0.25), torch.optim.SGD([tw], lr=0.25)
    for _ in range(3):
        opt2.zero_grad()
        topt.zero_grad()
        (w * w * w).sum().backward()
        (tw * tw * tw).sum().backward()
        opt2.step()
        topt.step()
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-6)
    assert opt2.state[w] == {"n": 3}
