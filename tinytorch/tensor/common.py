"""Shared helpers of the tensor package: devices, shape arguments, broadcasting, constants and buffers from data."""

from __future__ import annotations

import struct
import sys
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import DType, cast_scalar, check_fits, dtypes, promote_operands, scalar_dtype
from ..errors import TensorValueError
from ..helpers import prod
from ..ops.uop import Ops, UOp
from ..runtime.buffer import Buffer
from .device import as_device

if TYPE_CHECKING:
    from .core import Tensor


_rng: list[np.random.Generator] = [np.random.default_rng(0)]


_device_rng_state: dict[str, Tensor] = {}  # per device: a counter in device memory (see Tensor.rand_like_graph)


def manual_seed(seed: int) -> None:
    """Seed the generators behind rand/randn/randint (host) and dropout (in the graph)."""
    _rng[0] = np.random.default_rng(seed)
    for state in _device_rng_state.values():
        from ..engine.realize import view_of

        view_of(state.uop)[0].numpy()[0] = seed << 20


def _default_device() -> str:
    from ..runtime.device import Device

    return Device.DEFAULT


def _check_device(device: str | None) -> str:
    """The canonical name of `device` (default if None); raises for an unknown one."""
    return as_device(device)  # also maps PyTorch's "cpu" to the default device


class LiveTensors:
    """Every live tensor, in creation order (in-place writes find the lazy readers of a buffer here, backward
    finds the leaves). Adding is one weak reference appended to a list (no callback runs when a tensor
    dies); the dead ones are swept out when the list has doubled since the last sweep."""

    __slots__ = ("refs", "limit")

    def __init__(self) -> None:
        self.refs: list[weakref.ref[Tensor]] = []
        self.limit = 4096

    def add(self, t: Tensor) -> None:
        """Record t (called for every tensor made)."""
        refs = self.refs
        refs.append(weakref.ref(t))
        if len(refs) > self.limit:
            self.refs = [r for r in refs if r() is not None]
            self.limit = max(4096, 2 * len(self.refs))

    def values(self) -> list[Tensor]:
        """The live tensors, oldest first (the dead ones' references are dropped on the way)."""
        alive = [r for r in self.refs if r() is not None]
        self.refs = alive
        return [t for r in alive if (t := r()) is not None]

    def __len__(self) -> int:
        return len(self.values())


LIVE = LiveTensors()
_track = LIVE.add


def _user_line() -> str | None:
    f = sys._getframe(2)
    pkg = __file__.rsplit("/", 1)[0]
    while f is not None and f.f_code.co_filename.startswith(pkg):
        f = f.f_back  # type: ignore[assignment]
    return None if f is None else f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno}"


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(map(int, shape))


def _check_numel(shape: tuple[int, ...], op: str) -> None:
    """Raise when shape has more elements than int64 (our sizes and index arithmetic) can count."""
    n = prod(shape)
    if n > 2**63 - 1:
        raise RuntimeError(f"{op}: shape {tuple(shape)} has {n} elements, more than the 2**63 - 1 that sizes and "
                           f"indices in int64 can count (numel: integer multiplication overflow)")


def _norm_axis(op: str, axis: int, ndim: int) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"{op}: dim {axis} is out of range for a tensor with {ndim} dims "
                         f"(expected -{max(ndim, 1)} <= dim < {max(ndim, 1)})")
    return axis % max(ndim, 1)


class no_grad:
    """Context manager and decorator: tensors built inside do not track gradients."""

    enabled = True

    def __enter__(self) -> None:
        self.prev = no_grad.enabled
        no_grad.enabled = False

    def __exit__(self, *args: Any) -> None:
        no_grad.enabled = self.prev

    def __call__(self, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            with no_grad():
                return fn(*a, **k)
        return wrapper


def _device_names() -> list[str]:
    from ..runtime.device import Device

    return Device.names()


def _to_numpy(data: Any, dt: DType | None = None) -> np.ndarray:
    """Python data as an array; values are checked like torch.tensor's: an int past int64 raises unless
    the dtype is a float, a value outside dt raises (numpy would wrap it)."""
    try:
        arr = np.array(data)
        if (arr.dtype == object or arr.dtype == np.uint64) and dt is not None and dt.is_float:
            arr = np.array(data, dtype=np.float64)
    except (ValueError, OverflowError) as e:
        raise TensorValueError(f"Tensor: could not build a tensor from the given data ({e})") from None
    if arr.dtype == np.uint64 or (arr.dtype == object and any(
            isinstance(v, int) and not -2**63 <= v < 2**63 for v in np.ravel(arr))):
        raise TensorValueError("Overflow when unpacking long long (a Python int outside int64)")
    if arr.dtype == object:
        raise TypeError("Tensor: data must be numbers or nested lists of numbers with a regular shape")
    if dt is not None and arr.size and not dt.is_bool and not (dt.is_float and arr.dtype.kind in "iub"):
        check_fits(arr.min().item(), dt)
        check_fits(arr.max().item(), dt)
    return arr


def _infer_dtype(arr: np.ndarray) -> DType:
    if arr.dtype == np.bool_:
        return dtypes.bool
    if arr.dtype.kind == "f":
        return dtypes.default_float  # Python floats become float32, like torch.tensor([1.0])
    if arr.dtype.kind in "iu":
        return dtypes.default_int
    raise TypeError(f"Tensor: unsupported data dtype {arr.dtype}")


def _float_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    bits = a.astype(np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)  # round to nearest even
    return (rounded >> 16).astype(np.uint16)


def _buffer_uop(arr: np.ndarray, dt: DType, device: str) -> UOp:
    buf = Buffer(device, arr.size, dt)
    if arr.size:
        buf.copyin(arr)
    return UOp(Ops.BUFFER, dt, (), (buf, 0)).reshape_to(arr.shape)


# (dtype, shape, value's type, value's bits) -> the constant broadcast to shape: eager code uses the same few
# constants (0, 1, a learning rate) at the same shapes over and over; cleared when it grows past 1024
_CONSTS: dict[tuple, UOp] = {}


def _value_key(value: Any) -> Any:
    """A constant's value as a cache key (with its type beside it): floats by their bits (-0.0 is not 0.0, a NaN finds
    itself), ints and bools as themselves; None for other kinds of value (not cached)."""
    tv = type(value)
    return struct.pack("<d", value) if tv is float or isinstance(value, (float, np.floating)) else \
        value if tv is int or tv is bool else None


def _const_uop(value: Any, dt: DType, shape: tuple[int, ...]) -> UOp:
    kv = _value_key(value)
    key = (dt, tuple(shape), type(value), kv) if kv is not None else None
    if key is not None and (u := _CONSTS.get(key)) is not None:
        return u
    u = UOp(Ops.CONST, dt, (), cast_scalar(value, dt))
    if shape:
        u = u.reshape_to((1,) * len(shape))
        if any(s != 1 for s in shape):
            u = UOp(Ops.EXPAND, dt, (u,), tuple(shape))
    if key is not None:
        if len(_CONSTS) >= 1024:
            _CONSTS.clear()
        _CONSTS[key] = u
    return u


def _scalar_operand(t: Tensor, x: Any) -> UOp | None:
    """The constant a Python float or int x becomes against the float tensor t (t's dtype, broadcast to t's
    shape: what _broadcast_pair makes of it), or None when the general rules are needed."""
    tx = type(x)
    u = t.uop
    if (tx is float or tx is int) and u.dtype.kind == "f":
        return _const_uop(x, u.dtype, u.shape)  # type: ignore[arg-type]
    return None


def _broadcast_operand(t: Tensor, x: Any) -> tuple[UOp, UOp] | None:
    """(t's uop, x's uop) broadcast to one shape when x is a tensor of t's dtype and device and one of the two
    broadcasts to the other's shape as it is (a bias over a batch, a learning rate over a weight): the graph
    _broadcast_pair builds, without its intermediate tensors; else None. (Under no_grad an operand that
    requires grad takes the general rules: they detach each intermediate.)"""
    b = getattr(x, "uop", None)
    if type(b) is not UOp:
        return None
    a = t.uop
    if a.dtype is not b.dtype or t.device is not x.device or (not no_grad.enabled and (t._rg or x._rg)):
        return None
    sa, sb = a.shape, b.shape
    assert sa is not None and sb is not None
    if sa != sb:
        if _fits(sb, sa):
            return a, _expand_to(b, sa)
        if _fits(sa, sb):
            return _expand_to(a, sb), b
    return None


def _fits(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """small broadcasts to big without big changing (numpy's rules, aligned at the last dim)."""
    off = len(big) - len(small)
    return off >= 0 and all(d == 1 or d == big[i + off] for i, d in enumerate(small))


def _expand_to(u: UOp, shape: tuple[int, ...]) -> UOp:
    """u reshaped to shape's rank (leading 1s) and expanded to shape (what _broadcast_to builds)."""
    assert u.shape is not None
    padded = (1,) * (len(shape) - len(u.shape)) + u.shape
    r = u.reshape_to(padded)
    return r if padded == shape else UOp(Ops.EXPAND, u.dtype, (r,), shape)


def _same_operand(t: Tensor, x: Any) -> bool:
    """x is a tensor of t's dtype, shape and device: no promotion or broadcast to do."""
    b = getattr(x, "uop", None)  # (a Tensor or Parameter: the only objects with a UOp there)
    if type(b) is not UOp:
        return False
    a = t.uop
    return a.dtype is b.dtype and a.shape == b.shape and t.device is x.device


def _broadcast_shapes(*shapes: tuple[int, ...], op: str = "op") -> tuple[int, ...]:
    n = max((len(s) for s in shapes), default=0)
    out = []
    for dims in zip(*[(1,) * (n - len(s)) + s for s in shapes]):
        big = {d for d in dims if d != 1}
        if len(big) > 1:
            raise TensorValueError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} are not broadcastable")
        out.append(big.pop() if big else 1)
    return tuple(out)


def _as_tensor(x: Any, like: Tensor, keep_dtype: bool = False) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        dt = scalar_dtype(x, like.dtype) if not keep_dtype else (
            dtypes.bool if isinstance(x, bool) else dtypes.default_int if isinstance(x, int) else dtypes.default_float)
        return Tensor._from(_const_uop(x, dt, ()), like.device)  # an operand wraps, like torch's
    return Tensor(x, device=like.device)


def _broadcast_pair(a: Tensor, b: Any, op: str, reverse: bool = False) -> tuple[Tensor, Tensor]:
    bt = _as_tensor(b, a)
    if reverse:
        a, bt = bt, a
    if isinstance(b, Tensor) and a.device != bt.device:
        raise RuntimeError(f"{op}: tensors are on different devices ({a.device.name} and {bt.device.name})")
    dt = promote_operands(a.dtype, a.ndim == 0, bt.dtype, bt.ndim == 0)  # a 0-d tensor is weaker
    if not isinstance(b, Tensor):  # a Python scalar takes the tensor's category rule
        dt = (bt if reverse else a).dtype if dt.kind == (bt if reverse else a).dtype.kind else dt
    a, bt = a.cast(dt), bt.cast(dt)
    if a.shape != bt.shape:
        shape = _broadcast_shapes(a.shape, bt.shape, op=op)
        a, bt = a._broadcast_to(shape, op), bt._broadcast_to(shape, op)
    return a, bt
