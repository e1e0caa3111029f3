"""`tinytorch.nn`: modules, layers, losses, init and checkpoints, with PyTorch's names.

    from tinytorch import nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)          # x (N, 1, 28, 28), y (N,) int64
    nn.state.safe_save(model.state_dict(), "mlp.safetensors")

Submodules: `functional` (also as `F`), `init`, `state` (safetensors), `module`, `layers`, `loss`;
`utils` is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import functional, init, state
from . import functional as F  # noqa: N812
from .attention import MultiheadAttention, RMSNorm
from .conv_layers import *  # noqa: F403  (Conv1d/2d/3d, ConvTranspose1d/2d/3d, Unfold, Fold)
from .conv_layers import __all__ as _conv_all
from .layers import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Dropout,
    Flatten,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    Identity,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
    Unflatten,
)
from .layers_extra import Bilinear, CosineSimilarity, Embedding, LayerNorm, PairwiseDistance
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential
from .pool_norm import *  # noqa: F403  (pools, BatchNorm/GroupNorm/InstanceNorm, Upsample, Dropout2d)
from .pool_norm import __all__ as _pool_norm_all
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Linear", "Dropout", "Flatten", "Unflatten",
           "Identity", "ReLU", "GELU", "Sigmoid", "Tanh", "SiLU", "Softplus", "Softmax", "LogSoftmax", "LeakyReLU",
           "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "functional", "F",
           "init", "state"]

__all__ += ["ReLU6", "Hardtanh", "Hardsigmoid", "Hardswish", "ELU", "SELU", "CELU", "Mish", "Softsign", "Tanhshrink",
            "LogSigmoid", "Softshrink", "Hardshrink", "Threshold", "Softmin", "GLU", "PReLU", "RReLU"]
__all__ += ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "ParameterList",
            "ParameterDict", "Embedding", "LayerNorm", "Bilinear", "CosineSimilarity", "PairwiseDistance",
            "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "SoftMarginLoss",
            "HingeEmbeddingLoss", "PoissonNLLLoss", "GaussianNLLLoss", "TripletMarginLoss"]

__all__ += ["RMSNorm", "MultiheadAttention"]
__all__ += _pool_norm_all
__all__ += _conv_all


def __getattr__(name: str) -> Any:
    # submodules other engineers add (e.g. nn.utils with clip_grad_norm_) load on first access
    if name in ("utils",):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinytorch.nn' has no attribute '{name}'")
