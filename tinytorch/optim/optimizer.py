"""Optimizers: parameter updates as ASSIGN nodes in the graph.

Takes: parameters (Tensors with requires_grad and a lazy `.grad` from backward()).
Produces: on `step()`, one ASSIGN per parameter and per state tensor, realized together with
the gradients (and, through the eager-semantics rule, with the loss that read the old
weights) as one schedule — forward, backward and update fuse into kernels; no Python loop
touches elements.

Hyper-parameters that change while training (learning rate, Adam's bias corrections) live in
one-element buffers, so changing them changes no graph: the cached schedule and a captured
JIT keep working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..dtype import dtypes
from ..tensor import Tensor, no_grad


class HostScalar:
    """A float tensor of shape () whose value Python sets directly in its buffer."""

    def __init__(self, value: float, device: str | None = None, dtype: Any = dtypes.float32):
        self.t = Tensor(np.array(value, dtype=np.float64), dtype=dtype, device=device).realize()
        self._value = float(value)

    @property
    def value(self) -> float:
        return self._value

    def set(self, value: float) -> None:
        if value != self._value:
            from ..engine.realize import view_of

            buf, _ = view_of(self.t.uop)
            buf.numpy()[0] = value
            self._value = float(value)


class ParamGroup(dict):
    """A parameter group; setting 'lr', 'betas' or 'momentum' writes their buffers at once, so
    kernels already captured by the JIT (which never re-run step()'s Python) see the new value."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if key == "lr" and "_lr" in self:
            self["_lr"].set(float(value))
        elif key == "betas" and "_beta1" in self:
            self["_beta1"].set(float(value[0]))
            self["_beta2"].set(float(value[1]))
        elif key == "momentum" and "_momentum" in self:
            self["_momentum"].set(float(value))


class Optimizer:
    """Base class: parameter groups, `zero_grad`, `state_dict`, and the shared `step` driver."""

    defaults: dict[str, Any] = {}

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]):
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[ParamGroup] = []
        for g in groups:
            ps = list(g["params"])
            for p in ps:
                if not isinstance(p, Tensor):
                    raise TypeError(f"{type(self).__name__}: parameters must be Tensors, got {type(p).__name__}")
                if not p.dtype.is_float:
                    raise TypeError(f"{type(self).__name__}: can only optimize floating point tensors, got {p.dtype}")
            group = ParamGroup({**defaults, **{k: v for k, v in g.items() if k != "params"}, "params": ps})
            wide = any(p.dtype == dtypes.float64 for p in ps)  # float64 parameters get float64 hyper-parameters
            lr_dtype = dtypes.float64 if wide else dtypes.float32
            dev = ps[0].device if ps else None
            group["_lr"] = HostScalar(group["lr"], dev, lr_dtype)
            if "betas" in group:  # cycled by OneCycleLR: buffers too
                group["_beta1"] = HostScalar(group["betas"][0], dev, lr_dtype)
                group["_beta2"] = HostScalar(group["betas"][1], dev, lr_dtype)
            if "momentum" in group:
                group["_momentum"] = HostScalar(group["momentum"], dev, lr_dtype)
            self.param_groups.append(group)
        self.state: dict[int, dict[str, Any]] = {}
        for group in self.param_groups:
            for p in group["params"]:
                p.requires_grad = True
                if p.uop.base.op.name != "BUFFER":
                    p.realize()

    @property
    def params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else p.grad.zeros_like()

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient (realizes them)."""
        targets: list[Tensor] = []
        with no_grad():
            for group in self.param_groups:
                group["_lr"].set(group["lr"])
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.shape != p.shape:
                        raise RuntimeError(f"{type(self).__name__}.step: gradient shape {p.grad.shape} does not "
                                           f"match parameter shape {p.shape}")
                    targets += self._update(p, p.grad.detach(), group, self._state_for(p, group))
                    targets.append(p.grad)
        if targets:
            Tensor.realize(*targets)

    def _state_for(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        st = self.state.get(id(p))
        if st is None:
            st = self.state[id(p)] = self._init_state(p, group)
        return st

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _update(self, p: Tensor, g: Tensor, group: dict[str, Any], state: dict[str, Any]) -> list[Tensor]:
        raise NotImplementedError

    # checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: numpy array or number}}, 'param_groups': [...]} like PyTorch."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {}
        for pid, st in self.state.items():
            if pid in index:
                state[index[pid]] = {k: (v.numpy().copy() if isinstance(v, Tensor) else
                                         v.value if isinstance(v, HostScalar) else v) for k, v in st.items()}
        groups = []
        for g in self.param_groups:
            groups.append({**{k: v for k, v in g.items() if not k.startswith("_") and k != "params"},
                           "params": [index[id(p)] for p in g["params"]]})
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        groups = sd.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected {len(self.param_groups)} parameter "
                             f"groups, got {None if not isinstance(groups, list) else len(groups)}")
        for mine, theirs in zip(self.param_groups, groups):
            if len(theirs.get("params", [])) != len(mine["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: a parameter group has "
                                 f"{len(theirs.get('params', []))} parameters, this optimizer's has "
                                 f"{len(mine['params'])}")
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = v
        params = self.params
        for idx, st in sd.get("state", {}).items():
            i = int(idx)
            if not 0 <= i < len(params):
                raise ValueError(f"{type(self).__name__}.load_state_dict: state for parameter {i}, but there are "
                                 f"only {len(params)}")
            p = params[i]
            group = next(g for g in self.param_groups if any(q is p for q in g["params"]))
            mine_st = self._state_for(p, group)
            for k, v in st.items():
                cur = mine_st.get(k)
                if isinstance(cur, Tensor):
                    arr = np.asarray(v)
                    if arr.shape != cur.shape:
                        raise ValueError(f"{type(self).__name__}.load_state_dict: state {k!r} of parameter {i} has "
                                         f"shape {arr.shape}, expected {cur.shape}")
                    cur.assign(Tensor(arr.astype(cur.dtype.np), dtype=cur.dtype, device=cur.device)).realize()
                elif isinstance(cur, HostScalar):
                    cur.set(float(v))
                else:
                    mine_st[k] = v


def _zeros(p: Tensor) -> Tensor:
    return Tensor.zeros(*p.shape, dtype=p.dtype, device=p.device).contiguous().realize()


class SGD(Optimizer):
    """v = momentum*v + (1-dampening)*g;  g' = g + momentum*v (nesterov) or v;  p -= lr*g'
    with g = grad + weight_decay*p (PyTorch's formulation)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid hyper-parameters lr={lr}, momentum={momentum}, weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"momentum_buffer": _zeros(p), "started": False} if group["momentum"] else {}

    def _update(self, p: Tensor, g: Tensor, group: dict[str, Any], state: dict[str, Any]) -> list[Tensor]:
        lr = group["_lr"].t
        if group["maximize"]:
            g = -g
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        out = [p]
        if group["momentum"]:
            buf = state["momentum_buffer"]
            m = group["_momentum"].t.cast(p.dtype)
            new = g if not state["started"] else buf * m + g * (1 - group["dampening"])
            state["started"] = True
            buf.assign(new)
            g = g + buf * m if group["nesterov"] else buf
            out.append(buf)
        p.assign(p - g * lr.cast(p.dtype))
        return out


class Adam(Optimizer):
    """m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
    (AdamW: p -= lr*weight_decay*p first; Adam: g += weight_decay*p)."""

    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: invalid hyper-parameters lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        if amsgrad:
            raise NotImplementedError(f"{type(self).__name__}: amsgrad is not supported")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        # the step count is a tensor the step itself increments, so a captured step replays right
        dt = dtypes.float64 if p.dtype == dtypes.float64 else dtypes.float32
        return {"exp_avg": _zeros(p), "exp_avg_sq": _zeros(p),
                "step": Tensor.zeros((), dtype=dt, device=p.device).contiguous().realize()}

    def _update(self, p: Tensor, g: Tensor, group: dict[str, Any], state: dict[str, Any]) -> list[Tensor]:
        b1, b2 = group["_beta1"].t.cast(p.dtype), group["_beta2"].t.cast(p.dtype)
        lr = group["_lr"].t.cast(p.dtype)
        if group["maximize"]:
            g = -g
        wd = group["weight_decay"]
        if wd and not self.decoupled:
            g = g + wd * p
        m, v, step = state["exp_avg"], state["exp_avg_sq"], state["step"]
        step.assign(step + 1)
        m.assign(m * b1 + g * (1 - b1))
        v.assign(v * b2 + (g * g) * (1 - b2))
        t = step.cast(p.dtype)
        # 1 - beta^t with the betas of this step, as PyTorch computes them (beta in [0, 1), t >= 1)
        c1, c2 = 1 - (t * b1.log2()).exp2(), 1 - (t * b2.log2()).exp2()
        base = p * (1 - lr * wd) if wd and self.decoupled else p
        p.assign(base - lr * (m / c1) / ((v / c2).sqrt() + group["eps"]))
        return [p, m, v, step]


class AdamW(Adam):
    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
