"""Learning-rate schedules with PyTorch's formulas (closed forms).

Takes: an optimizer; `step()` once per epoch (or per batch for OneCycleLR).
Produces: new `group['lr']` values; the optimizer writes them into its learning-rate buffer,
so no graph changes.
"""

from __future__ import annotations

import math
from typing import Any

from .optimizer import Optimizer


class LRScheduler:
    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.__dict__.update(sd)


class StepLR(LRScheduler):
    """lr = base * gamma^(epoch // step_size)"""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size <= 0:
            raise ValueError(f"StepLR: step_size must be positive, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2"""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for b in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = base * (start + (end - start) * min(epoch, total_iters) / total_iters)"""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not (0 < start_factor <= 1 and 0 <= end_factor <= 1):
            raise ValueError(f"LinearLR: factors must be in (0, 1], got {start_factor}, {end_factor}")
        self.start, self.end, self.total = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        f = self.start + (self.end - self.start) * min(self.last_epoch, self.total) / max(1, self.total)
        return [b * f for b in self.base_lrs]


class OneCycleLR(LRScheduler):
    """Warm up from max_lr/div_factor to max_lr over pct_start of the steps, then anneal to
    max_lr/(div_factor*final_div_factor) (cosine by default; 'linear' too). With cycle_momentum
    (the default, as in PyTorch) momentum — Adam's beta1 — moves the other way, from
    max_momentum down to base_momentum and back."""

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0:
            raise ValueError(f"OneCycleLR: total_steps must be positive, got {total_steps}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        if three_phase:
            raise NotImplementedError("OneCycleLR: three_phase is not supported")
        n = len(optimizer.param_groups)
        self.max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * n
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = "betas" in optimizer.param_groups[0]
            if not self.use_beta1 and "momentum" not in optimizer.param_groups[0]:
                raise ValueError("OneCycleLR: optimizer has no momentum or betas to cycle; "
                                 "pass cycle_momentum=False")
            self.base_momentum, self.max_momentum = base_momentum, max_momentum
            for g in optimizer.param_groups:
                self._set_momentum(g, max_momentum)
        self.total, self.pct, self.strategy = total_steps, pct_start, anneal_strategy
        self.div, self.final_div = div_factor, final_div_factor
        for g, m in zip(optimizer.param_groups, self.max_lrs):
            g["initial_lr"] = m / div_factor
            g["lr"] = g["initial_lr"]
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], m: float) -> None:
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def step(self) -> None:
        super().step()
        if self.cycle_momentum:  # the mirror image of the learning rate: high -> low -> high
            m = self._cycle(self.max_momentum, self.base_momentum, self.max_momentum)
            for g in self.optimizer.param_groups:
                self._set_momentum(g, m)

    def _cycle(self, start: float, peak: float, end: float) -> float:
        """The value at the current step: start -> peak over the warm-up, then peak -> end."""
        step = self.last_epoch
        warm_end = float(self.pct * self.total) - 1
        if step <= warm_end:
            return self._anneal(start, peak, step / warm_end if warm_end > 0 else 1.0)
        span = self.total - 1 - warm_end
        return self._anneal(peak, end, (step - warm_end) / span if span > 0 else 1.0)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.strategy == "cos":
            return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total:
            raise ValueError(f"OneCycleLR: stepped {step} times, more than total_steps={self.total}")
        return [self._cycle(m / self.div, m, m / self.div / self.final_div) for m in self.max_lrs]
