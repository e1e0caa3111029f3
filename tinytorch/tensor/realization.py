"""Running the graph: schedule, realize, and reading values back (numpy, item, tolist, float(t), int(t));
detach; devices and memory layout as PyTorch reports them (cpu, cuda, type, stride, is_contiguous, element_size)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import realize as _rz
from ..errors import TensorValueError
from ..ops.uop import Ops, UOp

if TYPE_CHECKING:
    from .core import Tensor


def schedule(self: Tensor, *others: Tensor) -> list[Any]:
    """The kernels `realize()` would run, without running them."""
    from ..engine.realize import schedule_tensors

    return schedule_tensors([self, *others])[0]


def realize(self: Tensor, *others: Tensor) -> Tensor:
    """Compute this tensor (and `others`) now; returns self."""
    _rz.realize_tensors([self, *others])
    return self


def contiguous(self: Tensor) -> Tensor:
    """self in memory of its own, row-major (a copy in the graph; the gradient flows through)."""
    return self._new(UOp(Ops.CONTIGUOUS, self.dtype, (self.uop,)), self)


def numpy(self: Tensor) -> np.ndarray:
    """The value as a numpy array (zero-copy when the memory is contiguous)."""
    return _rz.to_numpy(self)


def item(self: Tensor) -> Any:
    """The value of a one-element tensor as a Python number (computed now)."""
    if self.numel() != 1:
        raise TensorValueError(
            f"item: only a tensor with one element can be converted, this one has shape {self.shape}")
    return self.numpy().reshape(()).item()


def tolist(self: Tensor) -> Any:
    """The values as nested Python lists of numbers (computed now)."""
    return self.numpy().tolist()


def detach(self: Tensor) -> Tensor:
    """The same value, cut from the gradient graph."""
    return Tensor._from(UOp(Ops.DETACH, self.dtype, (self.uop,)), self.device, False)


# conversions to Python numbers ---------------------------------------------------------------
def _one_value(self: Tensor, kind: str) -> Any:
    if self.numel() != 1:
        raise TensorValueError(f"{kind}(): only a tensor with one element can be converted to a Python scalar, "
                               f"this one has shape {tuple(self.shape)}")
    return self.item()


def to_float(self: Tensor) -> float:
    """`float(t)`: the value of a one-element tensor as a Python float."""
    return float(_one_value(self, "float"))


def to_int(self: Tensor) -> int:
    """`int(t)`: the value of a one-element tensor as a Python int (floats truncate toward zero)."""
    return int(_one_value(self, "int"))


def to_index(self: Tensor) -> int:
    """`t.__index__()`: a one-element integer tensor used as an index (`range(t)`, `lst[t]`)."""
    if self.dtype.is_float or self.numel() != 1:
        raise TypeError(f"only integer tensors of a single element can be converted to an index "
                        f"(got {self.dtype}, shape {tuple(self.shape)})")
    return int(self.item())


# devices and dtypes ----------------------------------------------------------------------------
def cpu(self: Tensor) -> Tensor:
    """self on the default device ("cpu"): self when it is there already, as PyTorch."""
    return self.to("cpu")


def cuda(self: Tensor, device: Any = None, non_blocking: bool = False) -> Tensor:
    """Raises: tinytorch has no GPU backend (PyTorch code that checks torch.cuda.is_available() skips this)."""
    raise RuntimeError("cuda(): tinytorch has no GPU backend (tinytorch.cuda.is_available() is False); its devices "
                       "C, LLVM and INTERP run on the CPU: use .cpu() or .to('cpu')")


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "uint8": "ByteTensor", "int8": "CharTensor", "int16": "ShortTensor",
               "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor", "uint16": "UInt16Tensor",
               "uint32": "UInt32Tensor", "uint64": "UInt64Tensor"}


def type(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:  # noqa: A001  (PyTorch's name)
    """`t.type()`: 'tinytorch.FloatTensor'-style name; `t.type(dtype)`: t cast to dtype (a dtype or such a name)."""
    if dtype is None:
        return f"tinytorch.{_TYPE_NAMES[self.dtype.name]}"
    if isinstance(dtype, builtins.type) and hasattr(dtype, "dtype"):  # tinytorch.FloatTensor & co.
        dtype = dtype.dtype
    if isinstance(dtype, str) and dtype.rsplit(".", 1)[-1] in _TYPE_NAMES.values():
        short = dtype.rsplit(".", 1)[-1]
        dtype = next(k for k, v in _TYPE_NAMES.items() if v == short)
    from ..dtype import to_dtype

    return self.to(to_dtype(dtype))


def is_floating_point(self: Tensor) -> bool:
    """The dtype is a float type."""
    return self.dtype.is_float


def element_size(self: Tensor) -> int:
    """Bytes of one element."""
    return self.dtype.itemsize


def nbytes(self: Tensor) -> int:
    """Bytes of all elements (numel * element_size)."""
    return self.numel() * self.dtype.itemsize


def itemsize(self: Tensor) -> int:
    """Bytes of one element."""
    return self.dtype.itemsize


def stride(self: Tensor, dim: int | None = None) -> Any:
    """Elements to step in memory per index of each dim: the layout a view of a buffer reads, or the
    row-major layout a computed value gets when it is realized (size-1 dims report the row-major step)."""
    from ..engine.realize import _apply, resolve_views
    from ..ops.view import ViewStack

    shape = self.shape
    row_major, acc = [], 1
    for d in reversed(shape):
        row_major.append(acc)
        acc *= builtins.max(d, 1)
    row_major.reverse()
    u = resolve_views(self.uop)
    chain, base_shape = u.movement_chain(), u.base.shape
    if u.base.op is Ops.CONST:  # a constant (zeros, full) is laid out in the shape it was made with
        while chain and chain[-1].op in (Ops.RESHAPE, Ops.EXPAND):
            base_shape, chain = chain[-1].shape, chain[:-1]
    vs = _apply(ViewStack.contiguous(base_shape), tuple((m.op, m.arg) for m in chain)).simplify()
    out = tuple(row_major)
    if len(vs.views) == 1 and vs.view.mask is None:
        out = tuple(r if n == 1 else s for n, s, r in zip(shape, vs.view.strides, row_major))
    if dim is None:
        return out
    from .common import _norm_axis

    return out[_norm_axis("stride", dim, self.ndim)]


def is_contiguous(self: Tensor, memory_format: Any = None) -> bool:
    """Its elements are laid out row-major in memory (dims of size 1 do not count), as PyTorch's check."""
    expect = 1
    for n, s in zip(reversed(self.shape), reversed(self.stride())):
        if n != 1 and s != expect:
            return False
        expect *= n
    return True


def to_array(self: Tensor, dtype: Any = None, copy: Any = None) -> np.ndarray:
    """`np.array(t)` / `np.asarray(t)`: the values as a numpy array (of `dtype` if given)."""
    arr = self.numpy()
    return arr if dtype is None else arr.astype(dtype, copy=False)


def type_as(self: Tensor, other: Tensor) -> Tensor:
    """self cast to other's dtype."""
    return self.to(other.dtype)


# queries PyTorch code asks about where a tensor lives ---------------------------------------
def is_cuda(self: Tensor) -> bool:
    """Always False: there is no GPU backend."""
    return False


def is_cpu(self: Tensor) -> bool:
    """Always True: every device runs on the host CPU."""
    return True


def is_false(self: Tensor) -> bool:
    """False (no sparse, quantized or meta tensors here)."""
    return False


def get_device(self: Tensor) -> int:
    """-1, PyTorch's answer for a tensor on the CPU."""
    return -1


def is_complex(self: Tensor) -> bool:
    """Always False: there are no complex dtypes."""
    return False


def is_signed(self: Tensor) -> bool:
    """The dtype holds negative values (signed integers and floats)."""
    return self.dtype.is_signed


def is_nonzero(self: Tensor) -> bool:
    """The value of a one-element tensor is not 0 (raises for any other size, as PyTorch)."""
    if self.numel() != 1:
        raise TensorValueError(f"is_nonzero: Boolean value of Tensor with {self.numel()} values is ambiguous")
    return bool(self.item())


def is_same_size(self: Tensor, other: Tensor) -> bool:
    """self and other have the same shape."""
    return tuple(self.shape) == tuple(other.shape)


def pin_memory(self: Tensor, device: Any = None) -> Tensor:
    """self: host memory needs no pinning here."""
    return self


def is_pinned(self: Tensor, device: Any = None) -> bool:
    """Always False (nothing is pinned)."""
    return False


# copies and pickles ------------------------------------------------------------------------------
def _new_like(cls: builtins.type, uop: UOp, device: Any, requires_grad: bool) -> Tensor:
    """A leaf of class cls (Tensor or a subclass such as nn.Parameter) whose value is uop's."""
    from .common import _track

    t: Tensor = object.__new__(cls)
    t.uop, t.device, t._rg, t.grad, t._nonleaf, t._meta = uop, device, requires_grad, None, False, None
    _track(t)
    return t


def deepcopy(self: Tensor, memo: dict[int, Any]) -> Tensor:
    """`copy.deepcopy(t)`: a leaf with a copy of the values in memory of its own, the same class and
    requires_grad, and a copy of .grad (as PyTorch; a tensor computed from ones that require grad cannot be
    deep-copied)."""
    import copy

    if self._rg and self._nonleaf:
        raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                           "protocol at the moment: deep-copy a .detach() of it, or the leaves it is computed from")
    rebuild, args = reduce_ex(self, None)
    out = memo[id(self)] = rebuild(*args)
    if self.grad is not None:
        out.grad = copy.deepcopy(self.grad, memo)
    return out


def shallow_copy(self: Tensor) -> Tensor:
    """`copy.copy(t)`: a leaf of the same class and requires_grad that shares t's memory (a write through one
    shows in the other), as PyTorch's; t is computed first if it is lazy."""
    from . import inplace

    self.realize()
    u = _rz.resolve(self.uop)
    if not self._rg:  # (a value cached on a shared graph node: self now reads the memory it shares)
        self.uop = u
    out = _new_like(builtins.type(self), u, self.device, self._rg)
    inplace.note_view(out, self)
    return out


def reduce_ex(self: Tensor, protocol: Any) -> Any:
    """Pickling: the values (a numpy array), dtype, device, requires_grad and class; unpickled as a leaf."""
    return _rebuild, (builtins.type(self), np.array(self.detach().numpy()), self.dtype.name, self.device.name,
                      self._rg)


def _rebuild(cls: builtins.type, values: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Tensor:
    from .core import Tensor

    t = Tensor(values, dtype=dtype, device=device)
    return _new_like(cls, t.uop, t.device, requires_grad)
