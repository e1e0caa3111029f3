"""Optimizers (SGD, Adam, AdamW), learning-rate schedules and gradient clipping."""

from . import lr_scheduler
from .optimizer import SGD, Adam, AdamW, Optimizer
from .utils import clip_grad_norm_

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "clip_grad_norm_"]
