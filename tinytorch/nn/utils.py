"""`nn.utils`: gradient clipping and parameter flattening (implemented with the optimizers, in
tinytorch/optim/utils.py), under PyTorch's names."""

from ..optim.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters"]
