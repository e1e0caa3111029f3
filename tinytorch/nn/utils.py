"""`nn.utils`: gradient clipping (implemented with the optimizers, in tinytorch/optim/utils.py)."""

from ..optim.utils import clip_grad_norm_

__all__ = ["clip_grad_norm_"]
