"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam), learning-rate
schedules (`lr_scheduler`) and gradient clipping, with PyTorch's names and semantics."""

from . import lr_scheduler
from .adaptive import Adadelta, Adagrad, Adamax, NAdam, RAdam, RMSprop
from .optimizer import SGD, Adam, AdamW, Optimizer
from .utils import clip_grad_norm_, clip_grad_value_

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "lr_scheduler", "clip_grad_norm_", "clip_grad_value_"]
