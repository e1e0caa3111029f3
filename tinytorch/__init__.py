"""tinytorch: a small deep-learning compiler with a PyTorch-shaped API.

    import tinytorch as tt
    x = tt.Tensor([[1.0, 2.0], [3.0, 4.0]])
    y = (x @ x.T).relu().sum(1)      # builds a lazy UOp graph
    print(y.numpy())                  # schedules, compiles and runs the kernels
"""

import math as _math

from . import backends, cuda, linalg, nn, optim, return_types, utils  # noqa: E402  (nn imports Tensor)
from .autograd import enable_grad, inference_mode, is_grad_enabled, set_grad_enabled  # noqa: F401  (torch names)
from .dtype import DType, dtypes, finfo, get_default_dtype, iinfo, promote_types, result_type, set_default_dtype
from .dtype import dtypes as _d
from .functions import FUNCTIONS as _FUNCTIONS
from .helpers import VIZ as _VIZ
from .helpers import Context
from .jit import TinyJit, jit
from .nn.state import load, save  # noqa: E402
from .profiler import profile  # noqa: E402
from .runtime.device import Device, register_device
from .tensor import Tensor, cat, from_numpy, no_grad, stack, where
from .tensor.creation import LEGACY_TYPES as _LEGACY_TYPES
from .tensor.creation import (
    Generator,
    arange,
    as_tensor,
    default_generator,
    empty,
    eye,
    full,
    linspace,
    logspace,
    manual_seed,
    ones,
    rand,
    randint,
    randint_like,
    randn,
    randperm,
    tensor,
    zeros,
)
from .tensor.creation import normal_function as normal
from .tensor.device import device
from .tensor.printing import get_printoptions, printoptions, set_printoptions
from .tensor.size import Size

float32, float16, bfloat16, float64 = _d.float32, _d.float16, _d.bfloat16, _d.float64
int8, uint8, int32, int64, bool = _d.int8, _d.uint8, _d.int32, _d.int64, _d.bool  # noqa: A001
half, double, long = _d.half, _d.double, _d.long
int16, short, uint16, uint32, uint64 = _d.int16, _d.int16, _d.uint16, _d.uint32, _d.uint64
inf, nan, pi, e = _math.inf, _math.nan, _math.pi, _math.e
float = _d.float32  # noqa: A001
int = _d.int32  # noqa: A001

__all__ = ["nn", "optim", "save", "load", "profile", "viz", "TinyJit", "jit", "Tensor", "DType", "dtypes", "Context",
           "Device", "register_device", "cat", "stack", "where", "no_grad", "manual_seed", "from_numpy", "tensor",
           "zeros", "ones", "full", "arange", "randn", "rand", "eye"]
__all__ += ["cuda", "utils", "finfo", "iinfo", "get_default_dtype", "set_default_dtype", "promote_types", "result_type",
            "device", "as_tensor", "empty", "linspace", "logspace", "randint", "randint_like", "randperm", "normal",
            "get_printoptions", "printoptions", "set_printoptions", "int16", "short", "uint16", "uint32", "uint64",
            "Size", "backends", "Generator", "default_generator", *_FUNCTIONS, *_LEGACY_TYPES]
__all__ += ["linalg", "return_types"]


globals().update(_FUNCTIONS)  # sin, max, cat, einsum, where, ...: the table in functions.py
globals().update(_LEGACY_TYPES)  # FloatTensor, LongTensor, ... (PyTorch's legacy tensor types)


def __getattr__(name: str) -> object:
    if name in ("viz", "text", "models", "vision"):  # imported on first use (viz's drawing needs networkx)
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinytorch' has no attribute {name!r}")


if _VIZ:  # VIZ=1: record the whole run, write $VIZ_DIR/index.html at exit
    from .viz.session import enable_from_env

    enable_from_env()
