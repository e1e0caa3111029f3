"""Optimizers: parameter updates as ASSIGN nodes in the graph.

Takes: parameters (Tensors with requires_grad and a lazy `.grad` from backward()).
Produces: on `step()`, one ASSIGN per parameter and per state tensor, realized together with
the gradients (and, through the eager-semantics rule, with the loss that read the old
weights) as one schedule — forward, backward and update fuse into kernels; no Python loop
touches elements. A built-in optimizer keeps its update graphs (optim/reuse.py) and, once they
are kept, the plan of a whole step's updates: later steps realize the gradients (with the loss)
and run that plan over the step's buffers, building no update graph at all.

Hyper-parameters that change while training (learning rate, betas, momentum) live in
one-element float64 buffers, so changing them changes no graph: the cached schedule and a
captured JIT keep working. Per-step factors (Adam's 1 - beta^t, ...) are computed from them
in float64 inside the graph, as PyTorch computes them in Python floats, and rounded once to
the parameter's dtype. The update formulas follow PyTorch's single-tensor code path operation
by operation (lerp for the first moment, addcmul / addcdiv orders), so results agree to a few ulps.

`state_dict()` has PyTorch's layout: {'state': {index: {name: Tensor | None}}, 'param_groups':
[{hyper-parameters..., 'params': [indices]}]}; `load_state_dict` also takes PyTorch's (tensors
converted to numpy, or torch tensors as they are).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..dtype import dtypes
from ..engine import realize
from ..helpers import REUSE_UPDATES
from ..ops.uop import Ops
from ..tensor import Tensor, no_grad
from . import reuse

SCALAR = dtypes.float64  # dtype of hyper-parameter buffers and per-step factors
# per-optimizer caches, never copied or pickled: kept update graphs, the kept step plan, a step's shared values
_CACHES = frozenset({"_graphs", "_step_plan", "_step_plan_refused", "_shared"})
REUSABLE_UPDATES: set[Any] = set()  # the _update functions of the built-in optimizers (filled at the end)


class HostScalar:
    """A float64 tensor of shape () whose value Python sets directly in its buffer."""

    def __init__(self, value: float, device: str | None = None, dtype: Any = SCALAR):
        self.t = Tensor(np.array(value, dtype=np.float64), dtype=dtype, device=device).realize()
        self._value = float(value)

    @property
    def value(self) -> float:
        """The current value (as last set)."""
        return self._value

    def set(self, value: float) -> None:
        """Write `value` into the buffer (no graph changes)."""
        if value != self._value:
            from ..engine.realize import view_of

            buf, _ = view_of(self.t.uop)
            buf.numpy()[0] = value
            self._value = float(value)


class ParamGroup(dict):
    """A parameter group (a dict, as in PyTorch). Setting 'lr', 'betas' or 'momentum' writes its
    buffer at once, so kernels already captured by the JIT (which never re-run step()'s Python)
    see the new value. The buffers live in `.host`, outside the dict's keys."""

    host: dict[str, HostScalar]

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        host = getattr(self, "host", None)
        if not host:
            return
        if key == "lr" and "lr" in host:
            host["lr"].set(float(value))
        elif key == "betas" and "beta1" in host:
            host["beta1"].set(float(value[0]))
            host["beta2"].set(float(value[1]))
        elif key == "momentum" and "momentum" in host:
            host["momentum"].set(float(value))

    def scalar(self, name: str) -> Tensor:
        """The float64 () tensor holding hyper-parameter `name` ('lr', 'beta1', 'beta2', 'momentum')."""
        return self.host[name].t


class _ParamState(dict):
    """Per-parameter state, keyed by the parameter's identity: `opt.state[p]` works like PyTorch's
    (a defaultdict(dict): a custom optimizer's first `self.state[p]` is an empty dict it fills)."""

    @staticmethod
    def _key(k: Any) -> Any:
        return id(k) if isinstance(k, Tensor) else k

    def __getitem__(self, k: Any) -> Any:
        key = self._key(k)
        if not super().__contains__(key):
            super().__setitem__(key, {})
        return super().__getitem__(key)

    def __setitem__(self, k: Any, v: Any) -> None:
        super().__setitem__(self._key(k), v)

    def __contains__(self, k: Any) -> bool:
        return super().__contains__(self._key(k))

    def get(self, k: Any, default: Any = None) -> Any:
        """state.get(param) (or by id)."""
        return super().get(self._key(k), default)


def _to_numpy(v: Any) -> np.ndarray:
    """A Tensor, a torch tensor or an array-like as a numpy array (copied)."""
    if isinstance(v, Tensor):
        return np.array(v.numpy())
    if hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch tensor, without importing torch
        return np.array(v.detach().cpu().numpy())
    return np.array(v)


def _is_tensorlike(v: Any) -> bool:
    return isinstance(v, (Tensor, np.ndarray)) or (hasattr(v, "detach") and hasattr(v, "shape"))


class Optimizer:
    """Base class: parameter groups, `zero_grad`, `state_dict`, and the shared `step` driver."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors or dicts, but got a "
                            "Tensor (wrap it in a list: [t])")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: optimizer parameters need to be organized in ordered "
                            "collections, but the ordering of tensors in sets will change between runs. Please use "
                            "a list instead.")
        self.defaults = dict(defaults)
        self.param_groups: list[ParamGroup] = []
        self.state: dict[Any, dict[str, Any]] = _ParamState()
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {g[k]}" for k in sorted(g) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group {'params': [...], option: value, ...}; options not given take the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: param_group must be a dict, got {type(param_group).__name__}")
        raw = param_group.get("params")
        if isinstance(raw, Tensor):
            ps = [raw]
        elif isinstance(raw, (set, frozenset)):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        elif raw is None:
            raise ValueError(f"{name}.add_param_group: the group has no 'params'")
        else:
            ps = list(raw)
        names = None
        if ps and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in ps):
            names, ps = [x[0] for x in ps], [x[1] for x in ps]  # model.named_parameters(), as PyTorch 2.6+
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.dtype.is_float:
                raise TypeError(f"{name}: can only optimize floating point tensors, got {p.dtype}")
        seen = {id(q) for g in self.param_groups for q in g["params"]}
        if len({id(p) for p in ps}) != len(ps) or any(id(p) in seen for p in ps):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group = ParamGroup({**self.defaults, **{k: v for k, v in param_group.items() if k != "params"},
                            "params": ps})
        if names is not None:
            group["param_names"] = names
        dev = ps[0].device if ps else None
        host = {"lr": HostScalar(float(group["lr"]), dev)}
        if "betas" in group:  # cycled by OneCycleLR / CyclicLR: buffers too
            group["betas"] = tuple(group["betas"])
            host["beta1"] = HostScalar(float(group["betas"][0]), dev)
            host["beta2"] = HostScalar(float(group["betas"][1]), dev)
        if "momentum" in group:
            host["momentum"] = HostScalar(float(group["momentum"]), dev)
        group.host = host
        self.param_groups.append(group)
        for p in ps:
            p.requires_grad = True
            if p.uop.base.op.name != "BUFFER":
                p.realize()

    @property
    def params(self) -> list[Tensor]:
        """All parameters, group by group (the order state_dict numbers them in)."""
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or set it to zeros with set_to_none=False)."""
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else p.grad.zeros_like()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update to every parameter that has a gradient (realizes them); with a closure,
        first call it (it recomputes the loss and its gradients) and return its loss."""
        loss = closure() if closure is not None else None
        targets: list[Tensor] = []
        self._shared: dict[Any, Any] = {}
        with no_grad():
            work: list[tuple[Tensor, Tensor, ParamGroup, dict[str, Any]]] = []  # parameter, gradient, group, state
            for group in self.param_groups:
                group.host["lr"].set(float(group["lr"]))
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.shape != p.shape:
                        raise RuntimeError(f"{type(self).__name__}.step: gradient shape {p.grad.shape} does not "
                                           f"match parameter shape {p.shape}")
                    work.append((p, p.grad, group, self._state_for(p, group)))
            key = self._step_key(work)
            kept: reuse.StepPlan | None = self.__dict__.get("_step_plan")
            if key is not None and kept is not None and kept.key == key and reuse.run_step(kept, work):
                return loss
            capture = key is not None and self.__dict__.get("_step_plan_refused") != key and self._replayable(work)
            if capture:  # the gradients first, so that the updates are a realize of their own to keep
                realize.realize_before_writes([g for _, g, _, _ in work],
                                              {id(t.uop.base.arg[0]) for ts in reuse.step_tensors(work) for t in ts})
            for p, g, group, state in work:
                targets += self._apply_update(p, g.detach(), group, state)
                if not capture:
                    targets.append(g)
            # the updates as a realize of their own, whose plan is kept; a plan that cannot be kept is not tried again
            # for these settings (each try costs a realize of its own)
            if capture and key is not None:
                kept = reuse.capture_step(work, key, targets) \
                    if targets and all(g.uop.base.op is Ops.BUFFER for _, g, _, _ in work) else None
                self.__dict__["_step_plan"] = kept
                if kept is None:
                    self.__dict__["_step_plan_refused"] = key
                else:
                    targets = []
        if targets:
            Tensor.realize(*targets)
        return loss

    def _step_key(self, work: list[tuple[Tensor, Tensor, ParamGroup, dict[str, Any]]]) -> tuple | None:
        """What a kept step plan is kept under (each parameter's identity and update key), or None when steps of
        this optimizer are not run by a kept plan (a custom update, REUSE_UPDATES=0, a running JIT capture,
        kernel observers, an unhashable setting)."""
        if not work or type(self)._update not in REUSABLE_UPDATES or not REUSE_UPDATES.value \
                or not realize.known_plans_allowed():
            return None
        keys = []
        settings: dict[int, tuple] = {}  # per group (id), its settings
        for p, g, group, state in work:
            gs = settings.get(id(group))
            if gs is None:
                gs = settings[id(group)] = reuse.group_settings(group)
            k = reuse.update_key(p, g, group, state, gs)
            if k is None:
                return None
            keys.append((id(p), k))
        return tuple(keys)

    def _replayable(self, work: list[tuple[Tensor, Tensor, ParamGroup, dict[str, Any]]]) -> bool:
        """Has every parameter of this step a kept update graph (so that this step's graphs are the kept ones)?"""
        graphs = self.__dict__.get("_graphs", {})
        for p, _, _, _ in work:
            kept = graphs.get(id(p))
            if kept is None or kept[0]() is not p or kept[2] is None:
                return False
        return True

    def _apply_update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        """_update's writes; for a built-in optimizer, from the second step with the same settings and shapes on,
        by rebuilding the graph kept from an earlier step over this step's tensors (optim/reuse.py)."""
        if type(self)._update not in REUSABLE_UPDATES or not REUSE_UPDATES.value:
            return self._update(p, g, group, state)
        key = reuse.update_key(p, g, group, state)
        graphs = self.__dict__.setdefault("_graphs", {})  # id(p) -> (weakref to p, key, kept graph or None)
        kept = graphs.get(id(p))
        if key is None:
            return self._update(p, g, group, state)
        if kept is None or kept[0]() is not p or kept[1] != key:  # first sight of this key: build, keep nothing
            graphs[id(p)] = (weakref.ref(p), key, None)
            return self._update(p, g, group, state)
        if kept[2] is not None:
            out = reuse.replay(kept[2], p, g, state)
            if out is not None:
                return out
        out, graph = reuse.capture(self._update, p, g, group, state, key)
        graphs[id(p)] = (kept[0], key, graph)
        return out

    def __getstate__(self) -> dict[str, Any]:
        """What copy.deepcopy and pickle keep: everything but the kept update graphs and step plan (caches over
        this optimizer's own tensors, built again by the copy's steps); the per-parameter state as a list in
        parameter order, since it is keyed by the parameters' identities, which a copy does not keep."""
        out = {k: v for k, v in self.__dict__.items() if k not in _CACHES and k != "state"}
        ids = {id(p) for p in self.params}
        out["state"] = [self.state.get(p) for p in self.params]
        out["other_state"] = {k: v for k, v in dict.items(self.state) if k not in ids}
        return out

    def __setstate__(self, state: dict[str, Any]) -> None:
        per_param, other = state.pop("state"), state.pop("other_state")
        self.__dict__.update(state)
        self.state = _ParamState()
        for k, v in other.items():
            dict.__setitem__(self.state, k, v)
        for p, st in zip(self.params, per_param):
            if st is not None:
                self.state[p] = st

    def shared(self, key: Any, build: Callable[[], Any]) -> Any:
        """build(), called once per step() and key: the graph of values every parameter of a group uses
        (1 - beta1, ...), built once instead of once per parameter (the same nodes either way)."""
        memo = self.__dict__.setdefault("_shared", {})
        if key not in memo:
            memo[key] = build()
        return memo[key]

    def _state_for(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = self._init_state(p, group)
        return st

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        return {}

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        raise NotImplementedError

    # checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: Tensor (a copy) | None | number}}, 'param_groups': [{..., 'params':
        [indices]}]} in PyTorch's layout; parameters are numbered in group order."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state: dict[int, dict[str, Any]] = {}
        for p in self.params:
            st = self.state.get(p)
            if st:
                state[index[id(p)]] = {k: _copy(v) for k, v in st.items()}
        groups = [{**{k: (list(v) if isinstance(v, list) else v) for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by state_dict() (ours or PyTorch's, with tensors as
        Tensors, numpy arrays or torch tensors); values are copied into this optimizer's buffers."""
        name = type(self).__name__
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has a different number of parameter "
                             f"groups: {None if not isinstance(groups, list) else len(groups)}, this optimizer has "
                             f"{len(self.param_groups)}")
        id_map: dict[Any, Tensor] = {}
        for mine, theirs in zip(self.param_groups, groups):
            saved = list(theirs.get("params", []))
            if len(saved) != len(mine["params"]):
                raise ValueError(f"{name}.load_state_dict: loaded state dict contains a parameter group that "
                                 f"doesn't match the size of optimizer's group ({len(saved)} parameters, this "
                                 f"group has {len(mine['params'])})")
            id_map.update(zip(saved, mine["params"]))
        for mine, theirs in zip(self.param_groups, groups):
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = tuple(v) if k == "betas" else v
        for idx, st in state_dict.get("state", {}).items():
            p = id_map.get(idx, id_map.get(int(idx)) if isinstance(idx, (int, str)) and str(idx).isdigit()
                           else None)
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {idx!r}, which no parameter group "
                                 f"lists (groups list {sorted(map(str, id_map))})")
            group = next(g for g in self.param_groups if any(q is p for q in g["params"]))
            mine_st = self._state_for(p, group)
            for k, v in st.items():
                mine_st[k] = self._load_value(p, k, v, mine_st.get(k), idx)

    def _load_value(self, p: Tensor, key: str, v: Any, cur: Any, idx: Any) -> Any:
        """The state entry `key` after loading `v` into it (in place into an existing buffer)."""
        if v is None or not _is_tensorlike(v):
            return v
        arr = _to_numpy(v)
        if isinstance(cur, Tensor):
            if arr.shape != cur.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: state {key!r} of parameter {idx} has "
                                 f"shape {arr.shape}, expected {cur.shape}")
            cur.assign(Tensor(arr.astype(cur.dtype.np), dtype=cur.dtype, device=cur.device)).realize()
            return cur
        if arr.shape != () and arr.shape != p.shape:
            raise ValueError(f"{type(self).__name__}.load_state_dict: state {key!r} of parameter {idx} has shape "
                             f"{arr.shape}, expected {p.shape}")
        dt = p.dtype if arr.shape == p.shape and key != "step" else (dtypes.float32 if key == "step" else p.dtype)
        return Tensor(arr.astype(dt.np), dtype=dt, device=p.device).contiguous().realize()


def _copy(v: Any) -> Any:
    """A detached, realized copy of a state Tensor (later steps do not change it); other values as is."""
    if isinstance(v, Tensor):
        return Tensor(np.array(v.numpy()), dtype=v.dtype, device=v.device).realize()
    return v


def zeros_state(p: Tensor, value: float = 0.0) -> Tensor:
    """A realized buffer like p filled with value (optimizer state)."""
    return Tensor.full(p.shape, value, dtype=p.dtype, device=p.device).contiguous().realize()


def step_state(p: Tensor, value: float = 0.0) -> Tensor:
    """A realized float32 () buffer (the step count, as PyTorch keeps it)."""
    return Tensor.full((), value, dtype=dtypes.float32, device=p.device).contiguous().realize()


def as_dtype(x: Tensor | float, p: Tensor) -> Tensor | float:
    """A float64 scalar factor rounded once to the parameter's dtype."""
    return x.cast(p.dtype) if isinstance(x, Tensor) else x


def beta_pow(beta: Tensor, t: Tensor, log2_beta: Tensor | None = None) -> Tensor:
    """beta ** t in float64 for beta in [0, 1), t >= 1: exp2(t * log2(beta)) (beta = 0 gives 0); log2_beta,
    when given, is beta.log2() built once for every parameter of a group."""
    return (t * (beta.log2() if log2_beta is None else log2_beta)).exp2()


def lerp_(state: Tensor, target: Tensor, weight: Tensor | float, near_form: Tensor | None = None) -> Tensor:
    """state <- state + w*(target - state) for |w| < 0.5, else target - (target - state)*(1 - w)
    (PyTorch's lerp_, both forms, as its moment updates); near_form, when given, is |w| < 0.5 built once."""
    near = state + weight * (target - state)
    far = target - (target - state) * (1 - weight)
    if isinstance(weight, Tensor):
        state.assign((weight.abs() < 0.5 if near_form is None else near_form)._where(near, far))
    else:
        state.assign(near if abs(weight) < 0.5 else far)
    return state


def decay_grad(p: Tensor, g: Tensor, group: ParamGroup) -> Tensor:
    """The gradient after maximize (negated) and L2 weight decay: g + weight_decay * p."""
    if group.get("maximize"):
        g = -g
    wd = group.get("weight_decay", 0.0)
    return g + p * wd if wd else g


class SGD(Optimizer):
    """v = momentum*v + (1-dampening)*g (v = g on the first step);  g' = g + momentum*v (nesterov) or v;
    p -= lr*g', with g = grad + weight_decay*p (PyTorch's formulation)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid hyper-parameters lr={lr}, momentum={momentum}, weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        return {"momentum_buffer": None} if group["momentum"] else {}

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        g = decay_grad(p, g, group)
        out = [p]
        if group["momentum"]:
            m = as_dtype(group.scalar("momentum"), p)
            buf = state.get("momentum_buffer")
            if buf is None:  # the first step: the buffer starts as a copy of the gradient
                buf = state["momentum_buffer"] = zeros_state(p)
                buf.assign(g)
            else:
                buf.assign(buf * m + g * (1 - group["dampening"]))
            g = g + buf * m if group["nesterov"] else buf
            out.append(buf)
        p.assign(p + g * as_dtype(-group.scalar("lr"), p))
        return out


class Adam(Optimizer):
    """m = lerp(m, g, 1-b1);  v = b2*v + (1-b2)*g*g;  (amsgrad: vmax = max(vmax, v), used for v);
    p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps), with g += weight_decay*p
    (AdamW, or decoupled_weight_decay=True: p *= 1 - lr*weight_decay first)."""

    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool | None = None, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: invalid hyper-parameters lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        dwd = self.decoupled if decoupled_weight_decay is None else decoupled_weight_decay
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=dwd))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        # the step count is a tensor the step itself increments, so a captured step replays right
        st = {"step": step_state(p), "exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = zeros_state(p)
        return st

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        b1, b2, lr = group.scalar("beta1"), group.scalar("beta2"), group.scalar("lr")
        if group["maximize"]:
            g = -g
        wd = group["weight_decay"]
        decoupled = group.get("decoupled_weight_decay", self.decoupled)
        base = p
        if wd:
            if decoupled:
                base = p * as_dtype(1 - lr * wd, p)
            else:
                g = g + p * wd
        m, v, step = state["exp_avg"], state["exp_avg_sq"], state["step"]
        # the factors every parameter of the group shares, built once per step() and dtype
        w1, b2p, w2, log2_b1, log2_b2, near = self.shared((id(group), p.dtype), lambda: (
            (w := as_dtype(1 - b1, p)), as_dtype(b2, p), as_dtype(1 - b2, p), b1.log2(), b2.log2(),
            w.abs() < 0.5 if isinstance(w, Tensor) else None))
        step.assign(step + 1)
        lerp_(m, g, w1, near)
        v.assign(v * b2p + g * w2 * g)
        t = step.cast(SCALAR)
        step_size = lr / (1 - beta_pow(b1, t, log2_b1))
        bc2_sqrt = (1 - beta_pow(b2, t, log2_b2)).sqrt()
        out = [p, m, v, step]
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            vmax.assign(vmax.maximum(v))
            v = vmax
            out.append(vmax)
        denom = v.sqrt() / as_dtype(bc2_sqrt, p) + group["eps"]
        p.assign(base + m * as_dtype(-step_size, p) / denom)
        return out


class AdamW(Adam):
    """Adam with decoupled weight decay (p *= 1 - lr*weight_decay before the Adam step); weight_decay=1e-2."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


REUSABLE_UPDATES.update({SGD._update, Adam._update})
