"""Adaptive-rate optimizers: RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam.

Takes: parameters and PyTorch's hyper-parameters (same names, defaults and validation).
Produces: the same lazy in-graph updates as optimizer.py (ASSIGNs fused with backward on step()),
following PyTorch's single-tensor update order; per-step factors (bias corrections, NAdam's
momentum cache, RAdam's rectification) are float64 scalars computed in the graph from the step
count, so a captured JIT step replays them right.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .optimizer import (
    REUSABLE_UPDATES,
    SCALAR,
    Optimizer,
    ParamGroup,
    as_dtype,
    beta_pow,
    decay_grad,
    lerp_,
    step_state,
    zeros_state,
)


def _check(name: str, **values: float) -> None:
    """PyTorch's 'Invalid <name> value' checks: every value given must be >= 0."""
    for k, v in values.items():
        if v < 0:
            raise ValueError(f"{name}: invalid {k} value: {v}")


def _maximize_and_decay(p: Tensor, g: Tensor, group: ParamGroup, lr: Any) -> tuple[Tensor, Tensor]:
    """The gradient after maximize and L2 weight decay, and the parameter the step starts from (shrunk by
    lr * weight_decay first under decoupled_weight_decay, as AdamW)."""
    if group["maximize"]:
        g = -g
    wd, base = group["weight_decay"], p
    if wd:
        if group["decoupled_weight_decay"]:
            base = p * as_dtype(1 - lr * wd, p)
        else:
            g = g + p * wd
    return g, base


def _check_betas(name: str, betas: tuple[float, float]) -> None:
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{name}: invalid beta parameter at index {i}: {b}")


class RMSprop(Optimizer):
    """v = alpha*v + (1-alpha)*g*g;  (centered: gavg = lerp(gavg, g, 1-alpha), v - gavg^2 in the root);
    d = sqrt(v) + eps;  momentum: b = momentum*b + g/d, p -= lr*b;  else p -= lr*g/d."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        _check("RMSprop", learning_rate=lr, epsilon=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        st = {"step": step_state(p), "square_avg": zeros_state(p)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = zeros_state(p)
        if group["centered"]:
            st["grad_avg"] = zeros_state(p)
        return st

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        g = decay_grad(p, g, group)
        step, sq = state["step"], state["square_avg"]
        alpha = group["alpha"]
        step.assign(step + 1)
        sq.assign(sq * alpha + g * (1 - alpha) * g)
        out = [p, step, sq]
        if group["centered"]:
            gavg = state.setdefault("grad_avg", zeros_state(p))
            lerp_(gavg, g, 1 - alpha)
            avg = (sq + gavg * -1.0 * gavg).sqrt()
            out.append(gavg)
        else:
            avg = sq.sqrt()
        avg = avg + group["eps"]
        lr = as_dtype(-group.scalar("lr"), p)
        if group["momentum"] > 0:
            buf = state.setdefault("momentum_buffer", zeros_state(p))
            buf.assign(buf * as_dtype(group.scalar("momentum"), p) + g / avg)
            p.assign(p + buf * lr)
            out.append(buf)
        else:
            p.assign(p + lr * g / avg)
        return out


class Adagrad(Optimizer):
    """s += g*g;  p -= lr / (1 + (t-1)*lr_decay) * g / (sqrt(s) + eps), s starting at
    initial_accumulator_value."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None):
        _check("Adagrad", learning_rate=lr, lr_decay=lr_decay, weight_decay=weight_decay,
               initial_accumulator_value=initial_accumulator_value, epsilon=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        return {"step": step_state(p), "sum": zeros_state(p, group["initial_accumulator_value"])}

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        g = decay_grad(p, g, group)
        step, s = state["step"], state["sum"]
        step.assign(step + 1)
        clr = group.scalar("lr") / (1 + (step.cast(SCALAR) - 1) * group["lr_decay"])
        s.assign(s + g * 1.0 * g)
        std = s.sqrt() + group["eps"]
        p.assign(p + as_dtype(-clr, p) * g / std)
        return [p, step, s]


class Adadelta(Optimizer):
    """v = rho*v + (1-rho)*g*g;  d = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho*u + (1-rho)*d*d;  p -= lr*d."""

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False):
        _check("Adadelta", learning_rate=lr, epsilon=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        return {"step": step_state(p), "square_avg": zeros_state(p), "acc_delta": zeros_state(p)}

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        g = decay_grad(p, g, group)
        step, sq, acc = state["step"], state["square_avg"], state["acc_delta"]
        rho, eps = group["rho"], group["eps"]
        step.assign(step + 1)
        sq.assign(sq * rho + g * (1 - rho) * g)
        delta = (acc + eps).sqrt() / (sq + eps).sqrt() * g
        acc.assign(acc * rho + delta * (1 - rho) * delta)
        p.assign(p + delta * as_dtype(-group.scalar("lr"), p))
        return [p, step, sq, acc]


class Adamax(Optimizer):
    """m = lerp(m, g, 1-b1);  u = max(b2*u, |g| + eps);  p -= lr/(1-b1^t) * m/u."""

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False):
        _check("Adamax", learning_rate=lr, epsilon=eps, weight_decay=weight_decay)
        _check_betas("Adamax", betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        return {"step": step_state(p), "exp_avg": zeros_state(p), "exp_inf": zeros_state(p)}

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        g = decay_grad(p, g, group)
        step, m, u = state["step"], state["exp_avg"], state["exp_inf"]
        b1, b2 = group.scalar("beta1"), group.scalar("beta2")
        step.assign(step + 1)
        lerp_(m, g, as_dtype(1 - b1, p))
        u.assign((u * as_dtype(b2, p)).maximum(g.abs() + group["eps"]))
        clr = group.scalar("lr") / (1 - beta_pow(b1, step.cast(SCALAR)))
        p.assign(p + as_dtype(-clr, p) * m / u)
        return [p, step, m, u]


class NAdam(Optimizer):
    """Adam with Nesterov momentum: mu_t = b1*(1 - 0.5*0.96^(t*momentum_decay)), P_t = prod mu;
    p -= lr*(1-mu_t)/(1-P_t) * g/d + lr*mu_{t+1}/(1-P_t*mu_{t+1}) * m/d, d = sqrt(v/(1-b2^t)) + eps."""

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False):
        _check("NAdam", learning_rate=lr, epsilon=eps, weight_decay=weight_decay, momentum_decay=momentum_decay)
        _check_betas("NAdam", betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        return {"step": step_state(p), "mu_product": step_state(p, 1.0), "exp_avg": zeros_state(p),
                "exp_avg_sq": zeros_state(p)}

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        step, mu_prod, m, v = state["step"], state["mu_product"], state["exp_avg"], state["exp_avg_sq"]
        b1, b2, lr = group.scalar("beta1"), group.scalar("beta2"), group.scalar("lr")
        g, base = _maximize_and_decay(p, g, group, lr)
        step.assign(step + 1)
        t = step.cast(SCALAR)
        bc2 = 1 - beta_pow(b2, t)
        decay = math.log2(0.96) * group["momentum_decay"]  # 0.96^(t*md) = exp2(t * md * log2 0.96)
        mu = b1 * (1.0 - 0.5 * (t * decay).exp2())
        mu_next = b1 * (1.0 - 0.5 * ((t + 1) * decay).exp2())
        mu_prod.assign(mu_prod * mu.cast(mu_prod.dtype))  # kept in float32, as PyTorch's state tensor
        prod = mu_prod.cast(SCALAR)
        lerp_(m, g, as_dtype(1 - b1, p))
        v.assign(v * as_dtype(b2, p) + g * as_dtype(1 - b2, p) * g)
        denom = (v / as_dtype(bc2, p)).sqrt() + group["eps"]
        c_grad = -lr * (1.0 - mu) / (1.0 - prod)
        c_avg = -lr * mu_next / (1.0 - prod * mu_next)
        after_grad = base + as_dtype(c_grad, p) * g / denom
        p.assign(after_grad + as_dtype(c_avg, p) * m / denom)
        return [p, step, mu_prod, m, v]


class RAdam(Optimizer):
    """Rectified Adam: rho_inf = 2/(1-b2) - 1, rho_t = rho_inf - 2t*b2^t/(1-b2^t); when rho_t > 5,
    p -= lr * m/(1-b1^t) * sqrt(1-b2^t)/(sqrt(v)+eps) * r_t with
    r_t = sqrt((rho_t-4)(rho_t-2)rho_inf / ((rho_inf-4)(rho_inf-2)rho_t)); else p -= lr * m/(1-b1^t)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        _check("RAdam", learning_rate=lr, epsilon=eps, weight_decay=weight_decay)
        _check_betas("RAdam", betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _init_state(self, p: Tensor, group: ParamGroup) -> dict[str, Any]:
        return {"step": step_state(p), "exp_avg": zeros_state(p), "exp_avg_sq": zeros_state(p)}

    def _update(self, p: Tensor, g: Tensor, group: ParamGroup, state: dict[str, Any]) -> list[Tensor]:
        step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        b1, b2, lr = group.scalar("beta1"), group.scalar("beta2"), group.scalar("lr")
        g, base = _maximize_and_decay(p, g, group, lr)
        step.assign(step + 1)
        lerp_(m, g, as_dtype(1 - b1, p))
        v.assign(v * as_dtype(b2, p) + g * as_dtype(1 - b2, p) * g)
        t = step.cast(SCALAR)
        b2t = beta_pow(b2, t)
        bc1, bc2 = 1 - beta_pow(b1, t), 1 - b2t
        corrected = m / as_dtype(bc1, p)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2t / bc2
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).abs().sqrt()
        adaptive = as_dtype(bc2.sqrt(), p) / (v.sqrt() + group["eps"])
        rectified = corrected * as_dtype(lr, p) * adaptive * as_dtype(rect, p)
        plain = corrected * as_dtype(lr, p)
        p.assign(base - (rho_t > 5.0)._where(rectified, plain))
        return [p, step, m, v]


REUSABLE_UPDATES.update({RMSprop._update, Adagrad._update, Adadelta._update, Adamax._update, NAdam._update,
                         RAdam._update})
