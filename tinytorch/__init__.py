"""tinytorch: a small deep-learning compiler with a PyTorch-shaped API.

    import tinytorch as tt
    x = tt.Tensor([[1.0, 2.0], [3.0, 4.0]])
    y = (x @ x.T).relu().sum(1)      # builds a lazy UOp graph
    print(y.numpy())                  # schedules, compiles and runs the kernels
"""

from . import nn, optim  # noqa: E402  (nn imports Tensor)
from .dtype import DType, dtypes
from .dtype import dtypes as _d
from .helpers import VIZ as _VIZ
from .helpers import Context
from .jit import TinyJit, jit
from .nn.state import load, save  # noqa: E402
from .profiler import profile  # noqa: E402
from .runtime.device import Device, register_device
from .tensor import Tensor, cat, from_numpy, manual_seed, no_grad, stack, where
from .tensor.index_functions import FUNCTIONS as _INDEX_FUNCTIONS  # noqa: E402
from .tensor.math_functions import FUNCTIONS as _MATH_FUNCTIONS  # noqa: E402
from .tensor.printing import get_printoptions, printoptions, set_printoptions

float32, float16, bfloat16, float64 = _d.float32, _d.float16, _d.bfloat16, _d.float64
int8, uint8, int32, int64, bool = _d.int8, _d.uint8, _d.int32, _d.int64, _d.bool  # noqa: A001
half, double, long = _d.half, _d.double, _d.long
float = _d.float32  # noqa: A001
int = _d.int32  # noqa: A001

__all__ = ["nn", "optim", "save", "load", "profile", "viz", "TinyJit", "jit", "Tensor", "DType", "dtypes", "Context",
           "Device", "register_device", "cat", "stack", "where", "no_grad", "manual_seed", "from_numpy", "tensor",
           "zeros", "ones", "full", "arange", "randn", "rand", "eye"]


def tensor(data, dtype=None, device=None, requires_grad=False):  # type: ignore[no-untyped-def]
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


zeros, ones, full, arange, randn, rand, eye = (Tensor.zeros, Tensor.ones, Tensor.full, Tensor.arange, Tensor.randn,
                                               Tensor.rand, Tensor.eye)


globals().update(_INDEX_FUNCTIONS)  # gather, scatter, einsum, tril, roll, ... (tensor/index_functions.py)
globals().update(_MATH_FUNCTIONS)  # sin, atan2, clamp, isclose, relu, ... (tensor/math_functions.py)


def __getattr__(name: str) -> object:
    if name == "viz":  # imported on first use: drawing needs networkx, which import tinytorch does not load
        import importlib

        return importlib.import_module(".viz", __name__)
    raise AttributeError(f"module 'tinytorch' has no attribute {name!r}")


if _VIZ:  # VIZ=1: record the whole run, write $VIZ_DIR/index.html at exit
    from .viz.session import enable_from_env

    enable_from_env()
