"""Tensor factories: constants, ranges, identity, and random tensors drawn on the host or in the graph.

Takes: PyTorch's call forms: sizes as separate ints, one tuple or `size=`; `dtype=`, `device=` ("cpu"
means the default device), `requires_grad=`; `generator=` (a Generator, or None for the global stream
that manual_seed seeds).
Produces: lazy tensors (constants and ranges are graph nodes; random values are drawn on the host).
`tensor(data)` infers the dtype as torch.tensor does (Python floats -> the default float, ints -> int64,
bools -> bool, numpy arrays and tensors keep theirs) and always copies; `as_tensor` copies only when the
dtype or device changes.
"""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import check_fits, dtypes, to_dtype
from ..errors import TensorValueError
from ..helpers import prod
from ..ops.uop import Ops, UOp
from ..runtime.buffer import Buffer
from ..runtime.device import Device
from .common import _check_device, _check_numel, _const_uop, _device_rng_state, _rng, _shape_arg, _value_key
from .device import as_device

if TYPE_CHECKING:
    from .core import Tensor


_HARMLESS = ("layout", "pin_memory", "memory_format", "non_blocking")  # PyTorch keywords with nothing to do here


def _extra(kwargs: dict[str, Any], op: str, allowed: tuple[str, ...] = ()) -> dict[str, Any]:
    """kwargs after checking each is one PyTorch accepts and we honour (or one with nothing to do here);
    anything else (out=, ...) raises rather than being ignored."""
    if not kwargs:
        return kwargs
    bad = sorted(k for k in kwargs if k not in allowed and k not in _HARMLESS)
    if bad:
        raise TypeError(f"{op}() got unexpected keyword arguments {bad}")
    return kwargs


def _sizes(shape: tuple[Any, ...], kwargs: dict[str, Any], op: str) -> tuple[int, ...]:
    """The shape from `*size` ints, one tuple/list, or the `size=` keyword (PyTorch accepts all three)."""
    size = _extra(kwargs, op, ("size",)).get("size")
    if size is not None:
        if shape:
            raise TypeError(f"{op}(): got the size both as arguments {shape} and as size={size}")
        shape = (size,) if isinstance(size, int) else tuple(size)
    return _shape_arg(shape)


class Generator:
    """A random number generator, as torch.Generator: `Generator().manual_seed(0)` gives the factories
    (rand, randn, randint, randperm, normal with generator=) their own repeatable stream. The numbers
    differ from PyTorch's for the same seed (numpy's PCG64 draws them)."""

    def __init__(self, device: Any = "cpu"):
        self._device = device  # resolved on first use: naming the default device may compile (its canaries)
        self._seed = 67280421310721  # PyTorch's default initial seed
        self._np = np.random.default_rng(self._seed)

    @property
    def device(self) -> Any:
        """The device it was made for ("cpu": the default; the numbers are drawn on the host either way)."""
        return as_device(self._device)

    @property
    def rng(self) -> np.random.Generator:
        """The numpy generator that draws the numbers."""
        return self._np

    def manual_seed(self, seed: builtins.int) -> Generator:
        """Restart the stream from seed; returns self."""
        self._seed = builtins.int(seed)
        self._np = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> builtins.int:
        """The seed the stream last started from."""
        return self._seed

    def seed(self) -> builtins.int:
        """Restart the stream from a fresh nondeterministic seed, and return it."""
        s = builtins.int(np.random.default_rng().integers(2**63))
        self.manual_seed(s)
        return s


class _DefaultGenerator(Generator):
    """The global generator (tinytorch.manual_seed seeds it): its stream is the one rand/randn use by default."""

    @property
    def rng(self) -> np.random.Generator:
        """The numpy generator behind the global stream."""
        return _rng[0]

    def manual_seed(self, seed: builtins.int) -> Generator:
        """Seed the global stream (host factories and dropout in the graph); returns self."""
        from .common import manual_seed as seed_all

        seed_all(builtins.int(seed))
        self._seed = builtins.int(seed)
        return self


default_generator = _DefaultGenerator()


def manual_seed(seed: builtins.int) -> Generator:
    """Seed the generators behind rand/randn/randint (host) and dropout (in the graph); returns the default
    generator, as torch.manual_seed does."""
    return default_generator.manual_seed(seed)


def _host_rng(generator: Any, op: str) -> np.random.Generator:
    """The numpy stream a factory draws from: generator's own, or the global one for None."""
    if generator is None:
        return _rng[0]
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}(): generator must be a tinytorch.Generator, got {type(generator).__name__}")
    return generator.rng


def _leaf(t: Tensor, requires_grad: builtins.bool) -> Tensor:
    if requires_grad:
        t.requires_grad_()
    return t


# (size as passed, the value's type and key, device as passed, the default device and dtypes) -> (the constant node,
# its device), for the plain calls of full / zeros / ones that eager code repeats (`ones(16)`, `full((16,), 2.0)`): a
# hit skips the argument checks, which the same arguments passed before. Cleared past 256 entries.
_FILLED: dict[tuple, tuple[UOp, Any]] = {}


def _filled_key(size: Any, value: Any, device: Any) -> tuple | None:
    """The _FILLED key of a plain full() call, or None (sizes other than ints, values other than Python numbers)."""
    dims = size[0] if type(size) is tuple and len(size) == 1 and type(size[0]) is tuple else size
    kv = _value_key(value) if type(value) in (float, int, bool) else None
    if kv is None or not (type(dims) is int or (type(dims) is tuple and all(type(d) is int for d in dims))):
        return None
    return (size, type(value), kv, device, Device.DEFAULT, dtypes.default_float, dtypes.default_int)


def full(size: Any, fill_value: Any, dtype: Any = None, device: str | None = None,
         requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """A tensor of the given size filled with fill_value (dtype from the value: bool, int64 or the default float)."""
    key = _filled_key(size, fill_value, device) if dtype is None and not requires_grad and not ignored else None
    if key is not None and (hit := _FILLED.get(key)) is not None:
        return Tensor._from(*hit)
    _extra(ignored, "full")
    shape = _shape_arg((size,) if isinstance(size, int) else tuple(size))
    dt = to_dtype(dtype) if dtype is not None else (
        dtypes.bool if isinstance(fill_value, bool) else dtypes.default_int if isinstance(fill_value, int)
        else dtypes.default_float)
    if any(s < 0 for s in shape):
        raise TensorValueError(f"full: negative dimension in shape {shape}")
    check_fits(fill_value, dt)  # like torch.full: 300 in uint8 raises (it wrapped to 44)
    _check_numel(shape, "full")
    t = Tensor._from(_const_uop(fill_value, dt, shape), _check_device(device))
    if requires_grad:  # a leaf needs memory of its own (equal constants would be one graph node)
        t = t.contiguous().realize()
        t.requires_grad = True
    elif key is not None:
        if len(_FILLED) >= 256:
            _FILLED.clear()
        _FILLED[key] = (t.uop, t.device)
    return t


def zeros(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False,
          **kwargs: Any) -> Tensor:
    """A tensor of zeros: zeros(2, 3), zeros((2, 3)) or zeros(size=(2, 3))."""
    # (full takes the sizes as given, ints or one tuple or list; size= and any other keyword are read here)
    return Tensor.full(_sizes(size, kwargs, "zeros") if kwargs else size, 0.0, dtype, device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False,
         **kwargs: Any) -> Tensor:
    """A tensor of ones: ones(2, 3), ones((2, 3)) or ones(size=(2, 3))."""
    return Tensor.full(_sizes(size, kwargs, "ones") if kwargs else size, 1.0, dtype, device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False,
          **kwargs: Any) -> Tensor:
    """A tensor whose memory is allocated and not initialised (its values are whatever it held)."""
    dt = to_dtype(dtype or dtypes.default_float)
    shape = _sizes(size, kwargs, "empty")
    _check_numel(shape, "empty")
    buf = Buffer(_check_device(device), prod(shape), dt)
    return _leaf(Tensor._from(UOp(Ops.BUFFER, dt, (), (buf, 0)).reshape_to(shape), buf.device), requires_grad)


def full_like(self: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """A tensor of self's shape (and dtype and device unless given) filled with fill_value."""
    _extra(ignored, "full_like")
    return Tensor.full(self.shape, fill_value, dtype or self.dtype, device or self.device, requires_grad)


def zeros_like(self: Tensor, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
               **ignored: Any) -> Tensor:
    """Zeros of self's shape, dtype and device."""
    _extra(ignored, "zeros_like")
    return self.full_like(0, dtype, device, requires_grad)


def ones_like(self: Tensor, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
              **ignored: Any) -> Tensor:
    """Ones of self's shape, dtype and device."""
    _extra(ignored, "ones_like")
    return self.full_like(1, dtype, device, requires_grad)


def empty_like(self: Tensor, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
               **ignored: Any) -> Tensor:
    """Uninitialised memory of self's shape, dtype and device."""
    _extra(ignored, "empty_like")
    return Tensor.empty(*self.shape, dtype=dtype or self.dtype, device=device or self.device,
                        requires_grad=requires_grad)


def rand_like(self: Tensor, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
              **ignored: Any) -> Tensor:
    """Uniform [0, 1) numbers of self's shape, dtype and device."""
    _extra(ignored, "rand_like")
    return Tensor.rand(*self.shape, dtype=dtype or self.dtype, device=device or self.device,
                       requires_grad=requires_grad)


def randn_like(self: Tensor, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
               **ignored: Any) -> Tensor:
    """Standard normal numbers of self's shape, dtype and device."""
    _extra(ignored, "randn_like")
    return Tensor.randn(*self.shape, dtype=dtype or self.dtype, device=device or self.device,
                        requires_grad=requires_grad)


def randint_like(self: Tensor, low: builtins.int, high: builtins.int | None = None, dtype: Any = None,
                 device: Any = None, **ignored: Any) -> Tensor:
    """Integers drawn uniformly from [low, high) (or [0, low)) in self's shape, dtype and device."""
    _extra(ignored, "randint_like")
    return randint(low, high, self.shape, dtype=dtype or self.dtype, device=device or self.device)


def new_tensor(self: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
               **ignored: Any) -> Tensor:
    """A new tensor holding data, with self's dtype and device unless given."""
    _extra(ignored, "new_tensor")
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def new_full(self: Tensor, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
             requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """A tensor of the given size filled with fill_value, with self's dtype and device unless given."""
    _extra(ignored, "new_full")
    return full(size, fill_value, dtype or self.dtype, device or self.device, requires_grad)


def new_zeros(self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
              **kwargs: Any) -> Tensor:
    """Zeros of the given size, with self's dtype and device unless given."""
    return full(_sizes(size, kwargs, "new_zeros"), 0, dtype or self.dtype, device or self.device, requires_grad)


def new_ones(self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
             **kwargs: Any) -> Tensor:
    """Ones of the given size, with self's dtype and device unless given."""
    return full(_sizes(size, kwargs, "new_ones"), 1, dtype or self.dtype, device or self.device, requires_grad)


def new_empty(self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
              **kwargs: Any) -> Tensor:
    """Uninitialised memory of the given size, with self's dtype and device unless given."""
    return empty(*_sizes(size, kwargs, "new_empty"), dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: str | None = None, requires_grad: builtins.bool = False, **kwargs: Any) -> Tensor:
    """start, start + step, ... up to but excluding end (arange(n): 0 .. n-1); int64 when all are ints."""
    stop = _extra(kwargs, "arange", ("stop",)).pop("stop", end)
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise TensorValueError("arange: step must be nonzero")
    n = max(0, math.ceil((stop - start) / step))
    is_int = all(isinstance(v, int) for v in (start, stop, step))
    dt = to_dtype(dtype) if dtype is not None else (dtypes.default_int if is_int else dtypes.default_float)
    # the values are written on the host: the IR has no iota op, and building one from ops
    # (a cumulative sum) would cost a kernel for what is a constant
    return _leaf(Tensor(np.arange(n, dtype=np.float64) * step + start, dtype=dt, device=device), requires_grad)


def linspace(start: float, end: float, steps: builtins.int, dtype: Any = None, device: str | None = None,
             requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """steps evenly spaced values from start to end, both included: start + i * (end - start) / (steps - 1)."""
    _extra(ignored, "linspace")
    if steps < 0:
        raise TensorValueError(f"linspace: number of steps must be non-negative, got {steps}")
    return _leaf(Tensor(np.linspace(start, end, steps), dtype=dtype or dtypes.default_float, device=device),
                 requires_grad)


def logspace(start: float, end: float, steps: builtins.int, base: float = 10.0, dtype: Any = None,
             device: str | None = None, requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """base ** linspace(start, end, steps)."""
    _extra(ignored, "logspace")
    if steps < 0:
        raise TensorValueError(f"logspace: number of steps must be non-negative, got {steps}")
    return _leaf(Tensor(np.power(float(base), np.linspace(start, end, steps)), dtype=dtype or dtypes.default_float,
                        device=device), requires_grad)


def eye(n: builtins.int, m: builtins.int | None = None, dtype: Any = None, device: str | None = None,
        requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """The n x m (default n x n) identity matrix: 1 where row == column, else 0."""
    _extra(ignored, "eye")
    m = n if m is None else m
    return _leaf(Tensor(np.eye(n, m), dtype=dtype or dtypes.default_float, device=device), requires_grad)


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: str | None = None,
         requires_grad: builtins.bool = False, **kwargs: Any) -> Tensor:
    """Uniform on [0, 1)."""
    t = Tensor(_host_rng(generator, "rand").random(_sizes(size, kwargs, "rand"), dtype=np.float32),
               dtype=dtype or dtypes.default_float, device=device)
    return _leaf(t, requires_grad)


def randn(*size: Any, generator: Any = None, dtype: Any = None, device: str | None = None,
          requires_grad: builtins.bool = False, **kwargs: Any) -> Tensor:
    """Standard normal."""
    t = Tensor(_host_rng(generator, "randn").standard_normal(_sizes(size, kwargs, "randn"), dtype=np.float32),
               dtype=dtype or dtypes.default_float, device=device)
    return _leaf(t, requires_grad)


def randint(low: builtins.int, high: Any = None, size: Any = None, generator: Any = None, dtype: Any = None,
            device: str | None = None, requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """Integers drawn uniformly from [low, high): randint(high, size) or randint(low, high, size); int64."""
    _extra(ignored, "randint")
    rng = _host_rng(generator, "randint")
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise TensorValueError(f"randint: expected low < high, got low={low}, high={high}")
    shape = _shape_arg(() if size is None else tuple(size) if not isinstance(size, int) else (size,))
    return _leaf(Tensor(rng.integers(low, high, size=shape), dtype=dtype or dtypes.default_int, device=device),
                 requires_grad)


def randperm(n: builtins.int, generator: Any = None, dtype: Any = None, device: str | None = None,
             requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """A random permutation of 0 .. n-1 (int64)."""
    _extra(ignored, "randperm")
    rng = _host_rng(generator, "randperm")
    if n < 0:
        raise TensorValueError(f"randperm: n must be non-negative, got {n}")
    return _leaf(Tensor(rng.permutation(n), dtype=dtype or dtypes.int64, device=device), requires_grad)


def normal_function(mean: Any = 0.0, std: Any = 1.0, size: Any = None, generator: Any = None, dtype: Any = None,
                    device: Any = None, requires_grad: builtins.bool = False, **ignored: Any) -> Tensor:
    """tinytorch.normal: mean + std * N(0, 1), with mean and std numbers (then size= gives the shape) or
    tensors (the shape is theirs broadcast together), as torch.normal."""
    _extra(ignored, "normal")
    _host_rng(generator, "normal")
    ts = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not ts:
        if size is None:
            raise TypeError("normal(): with a number mean and std, size= gives the shape")
        shape = _shape_arg(tuple(size) if not isinstance(size, int) else (size,))
        z = randn(*shape, generator=generator, dtype=dtype, device=device)
        return _leaf(z * float(std) + float(mean), requires_grad)
    from .common import _broadcast_shapes

    shape = _broadcast_shapes(*[t.shape for t in ts], op="normal")
    z = randn(*shape, generator=generator, dtype=dtype or ts[0].dtype, device=device or ts[0].device)
    return (z * std + mean).detach()


def _host_data(data: Any) -> Any:
    """data with every Tensor inside lists/tuples replaced by its numpy value (torch.tensor([t1, t2]))."""
    if isinstance(data, Tensor):
        return data.numpy()
    if isinstance(data, (list, tuple)) and any(isinstance(v, (Tensor, list, tuple)) for v in data):
        return [_host_data(v) for v in data]
    return data


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
           **ignored: Any) -> Tensor:
    """A new leaf tensor holding a copy of data (nested lists of numbers, a numpy array, a Tensor, or a list
    of one-element tensors), with torch.tensor's dtype inference."""
    _extra(ignored, "tensor")
    if isinstance(data, Tensor):
        src = data.detach()
        out = Tensor(src.numpy(), dtype=dtype or src.dtype, device=device or src.device)
    else:
        host = _host_data(data)
        if isinstance(host, np.generic):
            host = np.asarray(host)
        elif isinstance(host, list) and host and all(isinstance(v, np.ndarray) for v in host):
            host = np.stack(host)
        elif dtype is not None and to_dtype(dtype) == dtypes.uint64 and not isinstance(host, np.ndarray):
            arr = np.array(host, dtype=object)  # Python ints up to 2**64 - 1 fit (int64 would overflow)
            vals = arr.ravel().tolist()
            if arr.size and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
                if not all(0 <= v < 2**64 for v in vals):
                    raise TensorValueError(f"tensor: a value is outside uint64's [0, 2**64 - 1] in {data!r}")
                host = np.array(vals, dtype=np.uint64).reshape(arr.shape)
        out = Tensor(host, dtype=dtype, device=device)
    return _leaf(out, requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data as a tensor: a Tensor with the same dtype and device is returned as is, anything else is copied."""
    if isinstance(data, Tensor):
        dt = data.dtype if dtype is None else to_dtype(dtype)
        if dt == data.dtype and (device is None or as_device(device) == data.device):
            return data
        return data.to(device or data.device).cast(dt)
    return tensor(data, dtype=dtype, device=device)


def uniform(*shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = None, device: str | None = None,
            requires_grad: builtins.bool = False) -> Tensor:
    """Tensor.uniform(*shape, low=, high=): numbers drawn uniformly from [low, high)."""
    t = Tensor(_rng[0].uniform(low, high, _shape_arg(shape)).astype(np.float32),
               dtype=dtype or dtypes.default_float, device=device)
    return _leaf(t, requires_grad)


def normal(*shape: Any, mean: float = 0.0, std: float = 1.0, dtype: Any = None, device: str | None = None,
           requires_grad: builtins.bool = False) -> Tensor:
    """Tensor.normal(*shape, mean=, std=): numbers drawn from N(mean, std**2) (tinytorch.normal is torch's form)."""
    t = Tensor(_rng[0].normal(mean, std, _shape_arg(shape)).astype(np.float32),
               dtype=dtype or dtypes.default_float, device=device)
    return _leaf(t, requires_grad)


def rand_graph(*shape: Any, device: str | None = None) -> Tensor:
    """Uniform [0, 1) float32 numbers computed by kernels from a counter in device memory
    (a splitmix64 hash of element index and counter). Every call advances the counter, also
    inside a step replayed by tinytorch.jit, so each replay draws new numbers (dropout)."""
    dev = _check_device(device)
    shape = _shape_arg(shape)
    state = _device_rng_state.get(dev)
    if state is None:
        seed = int(_rng[0].integers(1 << 40))
        state = _device_rng_state[dev] = Tensor(np.array([seed << 20], np.int64), device=dev).realize()
    n = prod(shape)
    idx = Tensor.arange(n, dtype=dtypes.int64, device=dev)
    z = idx + state.expand(n) * -7046029254386353131  # (counter * 0x9E3779B97F4A7C15) mod 2^64

    def shr(v: Tensor, k: builtins.int) -> Tensor:  # logical shift right on int64
        return (v >> k) & ((1 << (64 - k)) - 1)
    z = (z ^ shr(z, 30)) * -4658895280553007687  # 0xBF58476D1CE4E5B9
    z = (z ^ shr(z, 27)) * -7723592293110705685  # 0x94D049BB133111EB
    z = z ^ shr(z, 31)
    out = (shr(z, 40).cast(dtypes.float32) * (1.0 / (1 << 24))).reshape(*shape)
    state.assign(state + 1).realize()  # `out` still reads the old counter: it is realized first
    return out


def from_numpy(arr: np.ndarray, device: str | None = None) -> Tensor:
    """A tensor with the array's dtype and shape that shares the array's memory, as PyTorch's: a write through
    either is seen by the other. An array that is not C-contiguous, not writeable or not aligned to its element
    is copied (a strided numpy view has no tinytorch view to share it with); negative strides are refused, as
    PyTorch refuses them."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(arr).__name__})")
    if any(s < 0 for s in arr.strides):
        raise ValueError("from_numpy: at least one stride in the given numpy array is negative, and tensors with "
                         "negative strides are not supported (make a copy first: arr.copy())")
    dt = to_dtype(arr.dtype)
    dev = as_device(device)
    f = arr.flags
    if not (f.c_contiguous and f.writeable and f.aligned) or arr.size == 0 or dt.itemsize != arr.itemsize:
        return Tensor(arr, dtype=dt, device=dev)
    buf = Buffer.wrap(dev, arr, dt)
    return Tensor._from(UOp(Ops.BUFFER, dt, (), (buf, 0)).reshape_to(arr.shape), dev)


class _LegacyTensorType(type):
    """Metaclass of FloatTensor & co.: calling one makes a tensor of its dtype; isinstance checks the dtype."""

    dtype: Any

    def __call__(cls, *args: Any, device: Any = None) -> Any:
        """FloatTensor(data) copies data; FloatTensor(2, 3) allocates an uninitialised (2, 3) tensor."""
        if args and all(isinstance(a, int) and not isinstance(a, builtins.bool) for a in args):
            return empty(*args, dtype=cls.dtype, device=device)
        if len(args) == 1:
            return tensor(args[0], dtype=cls.dtype, device=device)
        return empty(*_shape_arg(args), dtype=cls.dtype, device=device) if args else empty(0, dtype=cls.dtype)

    def __instancecheck__(cls, obj: Any) -> bool:
        """isinstance(t, FloatTensor): t is a Tensor of that dtype."""
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


def _legacy_types() -> dict[str, Any]:
    """PyTorch's legacy tensor types (tinytorch.FloatTensor([1, 2]), x.type(tinytorch.LongTensor), isinstance)."""
    names = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16",
             "BFloat16Tensor": "bfloat16", "ByteTensor": "uint8", "CharTensor": "int8", "ShortTensor": "int16",
             "IntTensor": "int32", "LongTensor": "int64", "BoolTensor": "bool"}
    return {n: _LegacyTensorType(n, (), {"dtype": to_dtype(d), "__doc__": f"A {d} tensor (PyTorch's legacy type)."})
            for n, d in names.items()}


LEGACY_TYPES = _legacy_types()
