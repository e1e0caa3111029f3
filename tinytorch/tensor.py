"""The user-facing Tensor: a lazy handle on a UOp graph, with PyTorch's names.

Takes: Python lists, numpy arrays, scalars, and calls like `x @ w + b`.
Produces: UOps (nothing runs); shapes and dtypes are checked here, when an op is built,
so a bad call raises at the user's line. `realize()`, `numpy()`, `item()` and `tolist()`
hand the graph to the scheduler (tinytorch/engine) and return results.

Every math op here is a composition of the primitive ops in tinytorch/ops/uop.py.
"""

from __future__ import annotations

import builtins
import itertools
import math
import sys
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtype import DType, check_fits, dtypes, promote, promote_operands, scalar_dtype, to_dtype
from .helpers import DEBUG, SOURCE_LINES, all_same, argsort, prod
from .ops.uop import GroupOp, Ops, UOp
from .runtime.buffer import Buffer

_rng: list[np.random.Generator] = [np.random.default_rng(0)]


_device_rng_state: dict[str, Tensor] = {}  # per device: a counter in device memory (see Tensor.rand_like_graph)


def manual_seed(seed: int) -> None:
    """Seed the generators behind rand/randn/randint (host) and dropout (in the graph)."""
    _rng[0] = np.random.default_rng(seed)
    for state in _device_rng_state.values():
        from .engine.realize import view_of

        view_of(state.uop)[0].numpy()[0] = seed << 20


def _default_device() -> str:
    from .runtime.device import Device

    return Device.DEFAULT


def _check_device(device: str | None) -> str:
    """The canonical name of `device` (default if None); raises for an unknown one."""
    from .runtime.device import Device

    name = (device or _default_device()).upper()
    Device.get(name)  # validates the name
    return name


_tensor_ids = itertools.count()


def _track(t: Tensor) -> None:
    Tensor.live[next(_tensor_ids)] = t


def _user_line() -> str | None:
    f = sys._getframe(2)
    pkg = __file__.rsplit("/", 1)[0]
    while f is not None and f.f_code.co_filename.startswith(pkg):
        f = f.f_back  # type: ignore[assignment]
    return None if f is None else f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno}"


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


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


class Tensor:
    """An n-dimensional array whose value is computed lazily by compiled kernels."""

    __slots__ = ("uop", "device", "requires_grad", "grad", "__weakref__")
    uop: UOp
    device: str
    requires_grad: builtins.bool
    grad: Tensor | None
    __array_priority__ = 1000  # numpy defers to our reflected operators
    # every live tensor in creation order (for assign's eager semantics and backward's leaves);
    # an ordered weak dict, so the order, and with it the schedule a step builds, is the same each step
    live: weakref.WeakValueDictionary[int, Tensor] = weakref.WeakValueDictionary()

    def __init__(self, data: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False):
        self.device = (device or _default_device()).upper()
        from .runtime.device import Device

        Device.get(self.device)  # validates the name
        self.requires_grad, self.grad = requires_grad, None
        if isinstance(data, UOp):
            self.uop = data
            _track(self)
            return
        dt = None if dtype is None else to_dtype(dtype)
        if isinstance(data, Tensor):
            arr = data.numpy()
            dt = dt or data.dtype
        elif isinstance(data, np.ndarray):
            arr = data
            dt = dt or to_dtype(arr.dtype)
        elif isinstance(data, (bool, int, float)) and dt is not None:
            self.uop = _const_uop(data, dt, ())
            _track(self)
            return
        else:
            arr = _to_numpy(data, dt)
        if dt is None:
            dt = _infer_dtype(arr)
        if dt == dtypes.bfloat16:
            arr = _float_to_bf16_bits(np.asarray(arr, np.float32))
        else:
            arr = np.asarray(arr).astype(dt.np, copy=False)
        self.uop = _buffer_uop(arr, dt, self.device)
        _track(self)

    # construction helpers -------------------------------------------------------------
    @staticmethod
    def _from(uop: UOp, device: str, requires_grad: builtins.bool = False) -> Tensor:
        t = object.__new__(Tensor)
        t.uop, t.device, t.requires_grad, t.grad = uop, device, requires_grad, None
        if (DEBUG >= 2 or SOURCE_LINES) and uop._tag is None:
            uop._tag = _user_line()
        _track(t)
        return t

    def _new(self, uop: UOp, *parents: Tensor) -> Tensor:
        parent_rg = self.requires_grad or any(p.requires_grad for p in parents)
        if parent_rg and not no_grad.enabled:  # computed under no_grad: gradients must not flow through it
            return Tensor._from(UOp(Ops.DETACH, uop.dtype, (uop,)), self.device, False)
        t = Tensor._from(uop, self.device, parent_rg)
        if uop.op in GroupOp.Movement:  # a view: an in-place write through it or self must reach the other
            from .engine.realize import note_view

            note_view(t, self)
        return t

    # properties ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        s = self.uop.shape
        assert s is not None
        return s

    def size(self, dim: builtins.int | None = None) -> Any:
        return self.shape if dim is None else self.shape[_norm_axis("size", dim, self.ndim)]

    @property
    def dtype(self) -> DType:
        return self.uop.dtype

    @property
    def ndim(self) -> builtins.int:
        return len(self.shape)

    def dim(self) -> builtins.int:
        return self.ndim

    def numel(self) -> builtins.int:
        return prod(self.shape)

    def __len__(self) -> builtins.int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        if self.uop.op is Ops.BUFFER or self.uop.base.op is Ops.BUFFER or self.uop._realized is not None:
            body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        else:
            body = f"<lazy {self.uop.op.name}>"
        extra = "" if self.dtype in (dtypes.float32, dtypes.int64, dtypes.bool) else f", dtype={self.dtype!r}"
        dev = "" if self.device == _default_device() else f", device={self.device!r}"
        rg = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra}{dev}{rg})"

    def __hash__(self) -> builtins.int:
        return id(self)

    def __bool__(self) -> builtins.bool:
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of a Tensor with {self.numel()} elements is ambiguous")
        return bool(self.item())

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    # factory functions -----------------------------------------------------------------
    @staticmethod
    def full(shape: Any, fill_value: Any, dtype: Any = None, device: str | None = None,
             requires_grad: builtins.bool = False) -> Tensor:
        shape = _shape_arg((shape,) if isinstance(shape, int) else tuple(shape))
        dt = to_dtype(dtype) if dtype is not None else (
            dtypes.bool if isinstance(fill_value, bool) else dtypes.default_int if isinstance(fill_value, int)
            else dtypes.default_float)
        if any(s < 0 for s in shape):
            raise ValueError(f"full: negative dimension in shape {shape}")
        check_fits(fill_value, dt)  # like torch.full: 300 in uint8 raises (it wrapped to 44)
        _check_numel(shape, "full")
        t = Tensor._from(_const_uop(fill_value, dt, shape), _check_device(device))
        if requires_grad:  # a leaf needs memory of its own (equal constants would be one graph node)
            t = t.contiguous().realize()
            t.requires_grad = True
        return t

    @staticmethod
    def zeros(*shape: Any, dtype: Any = None, device: str | None = None,
              requires_grad: builtins.bool = False) -> Tensor:
        return Tensor.full(_shape_arg(shape), 0.0, dtype or dtypes.default_float, device, requires_grad)

    @staticmethod
    def ones(*shape: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False) -> Tensor:
        return Tensor.full(_shape_arg(shape), 1.0, dtype or dtypes.default_float, device, requires_grad)

    @staticmethod
    def empty(*shape: Any, dtype: Any = None, device: str | None = None) -> Tensor:
        dt = to_dtype(dtype or dtypes.default_float)
        shape = _shape_arg(shape)
        _check_numel(shape, "empty")
        buf = Buffer(_check_device(device), prod(shape), dt)
        return Tensor._from(UOp(Ops.BUFFER, dt, (), (buf, 0)).reshape_to(shape), buf.device)

    def full_like(self, fill_value: Any, dtype: Any = None) -> Tensor:
        return Tensor.full(self.shape, fill_value, dtype or self.dtype, self.device)

    def zeros_like(self, dtype: Any = None) -> Tensor:
        return self.full_like(0, dtype)

    def ones_like(self, dtype: Any = None) -> Tensor:
        return self.full_like(1, dtype)

    def empty_like(self, dtype: Any = None) -> Tensor:
        return Tensor.empty(*self.shape, dtype=dtype or self.dtype, device=self.device)

    def rand_like(self, dtype: Any = None) -> Tensor:
        return Tensor.rand(*self.shape, dtype=dtype or self.dtype, device=self.device)

    def randn_like(self, dtype: Any = None) -> Tensor:
        return Tensor.randn(*self.shape, dtype=dtype or self.dtype, device=self.device)

    @staticmethod
    def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
               device: str | None = None) -> Tensor:
        if stop is None:
            start, stop = 0, start
        if step == 0:
            raise ValueError("arange: step must be nonzero")
        n = max(0, math.ceil((stop - start) / step))
        is_int = all(isinstance(v, int) for v in (start, stop, step))
        dt = to_dtype(dtype) if dtype is not None else (dtypes.default_int if is_int else dtypes.default_float)
        # the values are written on the host: the IR has no iota op, and building one from ops
        # (a cumulative sum) would cost a kernel for what is a constant
        return Tensor(np.arange(n, dtype=np.float64) * step + start, dtype=dt, device=device)

    @staticmethod
    def linspace(start: float, end: float, steps: builtins.int, dtype: Any = None, device: str | None = None) -> Tensor:
        if steps < 0:
            raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
        return Tensor(np.linspace(start, end, steps), dtype=dtype or dtypes.default_float, device=device)

    @staticmethod
    def eye(n: builtins.int, m: builtins.int | None = None, dtype: Any = None, device: str | None = None) -> Tensor:
        m = n if m is None else m
        return Tensor(np.eye(n, m), dtype=dtype or dtypes.default_float, device=device)

    @staticmethod
    def rand(*shape: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False) -> Tensor:
        """Uniform on [0, 1)."""
        t = Tensor(_rng[0].random(_shape_arg(shape), dtype=np.float32), dtype=dtype or dtypes.default_float,
                   device=device)
        t.requires_grad = requires_grad
        return t

    @staticmethod
    def randn(*shape: Any, dtype: Any = None, device: str | None = None,
              requires_grad: builtins.bool = False) -> Tensor:
        """Standard normal."""
        t = Tensor(_rng[0].standard_normal(_shape_arg(shape), dtype=np.float32), dtype=dtype or dtypes.default_float,
                   device=device)
        t.requires_grad = requires_grad
        return t

    @staticmethod
    def randint(low: builtins.int, high: builtins.int | None = None, size: Any = (), dtype: Any = None,
                device: str | None = None) -> Tensor:
        if high is None:
            low, high = 0, low
        if high <= low:
            raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
        return Tensor(_rng[0].integers(low, high, size=_shape_arg(tuple(size) if not isinstance(size, int)
                                                                  else (size,))),
                      dtype=dtype or dtypes.default_int, device=device)

    @staticmethod
    def uniform(*shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = None, device: str | None = None,
                requires_grad: builtins.bool = False) -> Tensor:
        t = Tensor(_rng[0].uniform(low, high, _shape_arg(shape)).astype(np.float32),
                   dtype=dtype or dtypes.default_float, device=device)
        t.requires_grad = requires_grad
        return t

    @staticmethod
    def normal(*shape: Any, mean: float = 0.0, std: float = 1.0, dtype: Any = None, device: str | None = None,
               requires_grad: builtins.bool = False) -> Tensor:
        t = Tensor(_rng[0].normal(mean, std, _shape_arg(shape)).astype(np.float32),
                   dtype=dtype or dtypes.default_float, device=device)
        t.requires_grad = requires_grad
        return t

    @staticmethod
    def rand_graph(*shape: Any, device: str | None = None) -> Tensor:
        """Uniform [0, 1) float32 numbers computed by kernels from a counter in device memory
        (a splitmix64 hash of element index and counter). Every call advances the counter, also
        inside a step replayed by tinytorch.jit, so each replay draws new numbers (dropout)."""
        dev = (device or _default_device()).upper()
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

    # realization --------------------------------------------------------------------------
    def schedule(self, *others: Tensor) -> list[Any]:
        """The kernels `realize()` would run, without running them."""
        from .engine.realize import schedule_tensors

        return schedule_tensors([self, *others])[0]

    def realize(self, *others: Tensor) -> Tensor:
        """Compute this tensor (and `others`) now; returns self."""
        from .engine.realize import realize_tensors

        realize_tensors([self, *others])
        return self

    def contiguous(self) -> Tensor:
        return self._new(UOp(Ops.CONTIGUOUS, self.dtype, (self.uop,)), self)

    def numpy(self) -> np.ndarray:
        """The value as a numpy array (zero-copy when the memory is contiguous)."""
        from .engine.realize import to_numpy

        return to_numpy(self)

    def item(self) -> Any:
        if self.numel() != 1:
            raise ValueError(f"item: only a tensor with one element can be converted, this one has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """The same value, cut from the gradient graph."""
        return Tensor._from(UOp(Ops.DETACH, self.dtype, (self.uop,)), self.device, False)

    # autograd -----------------------------------------------------------------------------
    @property
    def is_leaf(self) -> builtins.bool:
        """A tensor the user made (not the result of an op that tracks gradients)."""
        u = self.uop
        while u.op in GroupOp.Movement:
            u = u.src[0]
        return u.op in (Ops.BUFFER, Ops.CONST) or not self.requires_grad

    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        if requires_grad and not (self.dtype.is_float):
            raise RuntimeError(f"requires_grad_: only floating point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient: Tensor | None = None, retain_graph: builtins.bool | None = None) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf tensor that requires grad.
        The gradients are lazy: they fuse with whatever realizes them (usually optimizer.step())."""
        from .ops.gradient import compute_gradients

        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no input of its graph has "
                               "requires_grad=True, or it was built under no_grad())")
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, "
                                   f"got shape {self.shape}; pass gradient=")
            gradient = Tensor.full(self.shape, 1.0, self.dtype, self.device)
        if gradient.shape != self.shape:
            raise ValueError(f"backward: gradient of shape {gradient.shape} does not match the tensor's shape "
                             f"{self.shape}")
        leaves = [t for t in list(Tensor.live.values()) if t.requires_grad and t.is_leaf]
        by_uop: dict[UOp, list[Tensor]] = {}
        for t in leaves:
            by_uop.setdefault(t.uop, []).append(t)
        grads = compute_gradients(self.uop, gradient.cast(self.dtype).uop, set(by_uop))
        for u, ts in by_uop.items():
            g = grads.get(u)
            if g is None:
                continue
            for t in ts:
                gt = Tensor._from(g if g.dtype == t.dtype else UOp(Ops.CAST, t.dtype, (g,)), t.device)
                t.grad = gt if t.grad is None else t.grad + gt

    def clone(self) -> Tensor:
        return self.contiguous()

    def to(self, device_or_dtype: Any) -> Tensor:
        if isinstance(device_or_dtype, str) and device_or_dtype.upper() in _device_names():
            t = Tensor._from(self.uop, device_or_dtype.upper(), self.requires_grad)
            return t
        return self.cast(device_or_dtype)

    # assignment ---------------------------------------------------------------------------
    def assign(self, x: Any) -> Tensor:
        """Overwrite this tensor's memory with x: lazily, or now when another tensor views the same memory
        (so that view sees the write, as in PyTorch). Readers built before see the old value."""
        x = x if isinstance(x, Tensor) else Tensor.full(self.shape, x, self.dtype, self.device)
        if x.shape != self.shape:
            try:
                x = x._broadcast_to(self.shape, "assign")
            except ValueError:
                raise ValueError(f"assign: value of shape {x.shape} does not fit a tensor of shape "
                                 f"{self.shape}") from None
        if x.dtype != self.dtype:
            x = x.cast(self.dtype)
        target = self._write_target("assign")
        self.uop = UOp(Ops.ASSIGN, self.dtype, (target, x.uop))
        from .engine.realize import shares_buffer

        if shares_buffer(self):  # another tensor views this memory: write now, so it sees the write (as in PyTorch)
            self.realize()
        return self

    def _write_target(self, op: str) -> UOp:
        """The view of a buffer that an in-place write through this tensor changes (a lazy tensor is
        computed into a buffer first). Raises when two elements share memory or some have none."""
        from .engine.realize import resolve_views, view_of

        target = self.uop
        while target.op is Ops.ASSIGN:
            target = target.src[0]
        if target.base.op is not Ops.BUFFER:
            self.realize()
            target = resolve_views(self.uop)
        why = view_of(target)[1].write_conflict()
        if why == "overlap":
            raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers "
                               f"to a single memory location (it is an expanded view). Please clone() the tensor "
                               f"before performing the operation.")
        if why == "padding":
            raise RuntimeError(f"{op}: unsupported operation: some elements of the written-to tensor are padding "
                               f"with no memory behind them (it is a padded view). Please clone() the tensor before "
                               f"performing the operation.")
        return target

    def __setitem__(self, index: Any, value: Any) -> None:
        from .engine.realize import realize_uops, resolve_views

        if self.uop.op is Ops.ASSIGN or self.uop.base.op is not Ops.BUFFER:  # the write goes to a buffer
            self.realize()
            self.uop = resolve_views(self.uop)
        view = self._index_view(index, for_write=True)
        target = view._write_target("__setitem__")
        v = value if isinstance(value, Tensor) else Tensor.full((), value, self.dtype, self.device)
        if v.dtype != self.dtype:
            v = v.cast(self.dtype)
        try:
            v = v._broadcast_to(view.shape, "__setitem__")
        except ValueError:
            raise ValueError(f"__setitem__: value of shape {v.shape} cannot be broadcast to the indexed shape "
                             f"{view.shape}") from None
        # the write runs now; every tensor that views the buffer (self too) moves to its new version
        realize_uops([UOp(Ops.ASSIGN, self.dtype, (target, v.uop))])

    # movement -----------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return self._reshape(_shape_arg(shape), "reshape")

    def view(self, *shape: Any) -> Tensor:
        return self._reshape(_shape_arg(shape), "view")

    def _reshape(self, new: tuple[int, ...], op: str) -> Tensor:
        if new.count(-1) > 1:
            raise ValueError(f"{op}: only one dimension can be -1, got {new}")
        if -1 in new:
            known = prod(s for s in new if s != -1)
            if known == 0 or self.numel() % known:
                raise ValueError(f"{op}: shape {new} is invalid for input of size {self.numel()} (shape {self.shape})")
            new = tuple(self.numel() // known if s == -1 else s for s in new)
        if any(s < 0 for s in new) or prod(new) != self.numel():
            raise ValueError(f"{op}: shape {new} is invalid for input of size {self.numel()} (shape {self.shape})")
        return self if new == self.shape else self._new(self.uop.reshape_to(new), self)

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _norm_axis("flatten", start_dim, self.ndim), _norm_axis("flatten", end_dim, self.ndim)
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(*self.shape[:s], prod(self.shape[s:e + 1]), *self.shape[e + 1:])

    def unflatten(self, dim: builtins.int, sizes: Sequence[int]) -> Tensor:
        d = _norm_axis("unflatten", dim, self.ndim)
        sizes = list(sizes)
        if -1 in sizes:
            known = prod(s for s in sizes if s != -1)
            sizes = [self.shape[d] // known if s == -1 else s for s in sizes]
        if prod(sizes) != self.shape[d]:
            raise ValueError(f"unflatten: sizes {tuple(sizes)} do not multiply to dim {dim} of size {self.shape[d]}")
        return self.reshape(*self.shape[:d], *sizes, *self.shape[d + 1:])

    def squeeze(self, dim: builtins.int | Sequence[int] | None = None) -> Tensor:
        if dim is None:
            return self.reshape(*[s for s in self.shape if s != 1])
        dims = {_norm_axis("squeeze", d, self.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
        return self.reshape(*[s for i, s in enumerate(self.shape) if i not in dims or s != 1])

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        d = _norm_axis("unsqueeze", dim, self.ndim + 1)
        return self.reshape(*self.shape[:d], 1, *self.shape[d:])

    def permute(self, *order: Any) -> Tensor:
        order = tuple(_norm_axis("permute", o, self.ndim) for o in _shape_arg(order))
        if sorted(order) != list(range(self.ndim)):
            raise ValueError(f"permute: {order} is not a permutation of the {self.ndim} dims of shape {self.shape}")
        if order == tuple(range(self.ndim)):
            return self
        return self._new(UOp(Ops.PERMUTE, self.dtype, (self.uop,), order), self)

    def transpose(self, dim0: builtins.int = -2, dim1: builtins.int = -1) -> Tensor:
        a, b = _norm_axis("transpose", dim0, self.ndim), _norm_axis("transpose", dim1, self.ndim)
        order = list(range(self.ndim))
        order[a], order[b] = order[b], order[a]
        return self.permute(*order)

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def expand(self, *sizes: Any) -> Tensor:
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"expand: the number of sizes {sizes} must be at least the number of dims of {self.shape}")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        new = tuple(s if n == -1 else n for s, n in zip(shape, sizes))
        for s, n in zip(shape, new):
            if s != n and s != 1:
                raise ValueError(f"expand: shape {self.shape} cannot be expanded to {sizes} "
                                 f"(only size-1 dims can grow)")
        return self._broadcast_to(new, "expand")

    def broadcast_to(self, *shape: Any) -> Tensor:
        return self._broadcast_to(_shape_arg(shape), "broadcast_to")

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(*other.shape)

    def _broadcast_to(self, shape: tuple[int, ...], op: str) -> Tensor:
        if self.shape == shape:
            return self
        if len(shape) < self.ndim:
            raise ValueError(f"{op}: cannot broadcast shape {self.shape} to {shape}")
        padded = (1,) * (len(shape) - self.ndim) + self.shape
        if any(s != n and s != 1 for s, n in zip(padded, shape)):
            raise ValueError(f"{op}: cannot broadcast shape {self.shape} to {shape}")
        _check_numel(shape, op)
        u = self.uop.reshape_to(padded)
        if padded != shape:
            u = UOp(Ops.EXPAND, self.dtype, (u,), shape)
        return self._new(u, self)

    def flip(self, *dims: Any) -> Tensor:
        axes = {_norm_axis("flip", d, self.ndim) for d in _shape_arg(dims)}
        if not axes:
            return self
        return self._new(UOp(Ops.FLIP, self.dtype, (self.uop,), tuple(i in axes for i in range(self.ndim))), self)

    def repeat(self, *sizes: Any) -> Tensor:
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: number of repeat dims {len(sizes)} can not be smaller than the number of "
                             f"tensor dims {self.ndim}")
        base = self.reshape(*((1,) * (len(sizes) - self.ndim) + self.shape))
        s = base.shape
        x = base.reshape(*[v for d in s for v in (1, d)])
        x = x.expand(*[v for r, d in zip(sizes, s) for v in (r, d)])
        return x.reshape(*[r * d for r, d in zip(sizes, s)])

    def pad(self, padding: Sequence[int], value: float = 0.0) -> Tensor:
        """Constant padding with PyTorch's order: (last_left, last_right, prev_left, ...)."""
        if len(padding) % 2 or len(padding) // 2 > self.ndim:
            raise ValueError(f"pad: padding {tuple(padding)} must have an even length of at most 2*{self.ndim}")
        pairs = [(0, 0)] * self.ndim
        for i in range(len(padding) // 2):
            pairs[self.ndim - 1 - i] = (int(padding[2 * i]), int(padding[2 * i + 1]))
        return self._pad(tuple(pairs), value)

    def _pad(self, pairs: tuple[tuple[int, int], ...], value: Any = 0.0) -> Tensor:
        if all(p == (0, 0) for p in pairs):
            return self
        x = self
        if any(b < 0 or e < 0 for b, e in pairs):  # negative padding crops
            x = x._shrink(tuple((max(0, -b), d - max(0, -e)) for (b, e), d in zip(pairs, self.shape)))
            pairs = tuple((max(0, b), max(0, e)) for b, e in pairs)
        _check_numel(tuple(d + b + e for d, (b, e) in zip(x.shape, pairs)), "pad")
        padded = x._new(UOp(Ops.PAD, x.dtype, (x.uop,), pairs), x)
        if value == 0:
            return padded
        mask = Tensor._from(UOp(Ops.PAD, dtypes.bool, (_const_uop(True, dtypes.bool, x.shape),), pairs), x.device)
        return mask.where(padded, value)

    def _shrink(self, arg: tuple[tuple[int, int], ...]) -> Tensor:
        if all(b == 0 and e == d for (b, e), d in zip(arg, self.shape)):
            return self
        return self._new(UOp(Ops.SHRINK, self.dtype, (self.uop,), tuple(arg)), self)

    def split(self, split_size: builtins.int | Sequence[int], dim: builtins.int = 0) -> tuple[Tensor, ...]:
        d = _norm_axis("split", dim, self.ndim)
        n = self.shape[d]
        if isinstance(split_size, int):
            if split_size <= 0:
                raise ValueError(f"split: split_size must be positive, got {split_size}")
            sizes = [min(split_size, n - i) for i in range(0, n, split_size)]
        else:
            sizes = list(split_size)
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {tuple(sizes)} do not sum to dim {dim} of size {n}")
        out, start = [], 0
        for s in sizes:
            arg = tuple((start, start + s) if i == d else (0, e) for i, e in enumerate(self.shape))
            out.append(self._shrink(arg))
            start += s
        return tuple(out)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        n = self.shape[_norm_axis("chunk", dim, self.ndim)]
        return self.split(max(1, math.ceil(n / chunks)), dim)

    # indexing -----------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Tensor:
        return self._index(index)

    def _index(self, index: Any) -> Tensor:
        idx = index if isinstance(index, tuple) else (index,)
        tensor_pos = [i for i, v in enumerate(idx) if isinstance(v, (Tensor, list, np.ndarray))]
        if not tensor_pos:
            return self._index_view(idx)
        # basic indexing first, with tensor positions kept as full slices
        basic = tuple(slice(None) if i in tensor_pos else v for i, v in enumerate(idx))
        x = self._index_view(basic)
        # dims of x that the tensor indices select
        dim_of, d = {}, 0
        for i, v in enumerate(idx):
            if v is None:
                d += 1
            elif v is Ellipsis:
                d += x.ndim - sum(1 for w in idx if w is not None and w is not Ellipsis and not isinstance(w, int))
                d -= sum(1 for w in idx if w is None)
            elif isinstance(v, int):
                pass
            else:
                if i in tensor_pos:
                    dim_of[i] = d
                d += 1
        tens = [v if isinstance(v, Tensor) else Tensor(np.asarray(v), device=self.device) for v in
                (idx[i] for i in tensor_pos)]
        return x._gather_dims([dim_of[i] for i in tensor_pos], tens)

    def _gather_dims(self, dims: list[int], idxs: list[Tensor]) -> Tensor:
        for t in idxs:
            if not (t.dtype.is_int or t.dtype.is_bool):
                raise IndexError(f"tensors used as indices must be integer, got {t.dtype}")
            if t.dtype.is_bool:
                raise IndexError("boolean mask indexing is not supported (its result shape depends on the data)")
        bshape = _broadcast_shapes(*[t.shape for t in idxs], op="index")
        sizes = [self.shape[d] for d in dims]
        for t, n, d in zip(idxs, sizes, dims):  # every index is checked on the host (a lazy one is computed first)
            if t.numel() > 0:
                v = t.numpy()
                if v.min() < -n or v.max() >= n:
                    raise IndexError(f"index {int(v.max()) if v.max() >= n else int(v.min())} is out of bounds "
                                     f"for dimension {d} with size {n}")
        # positions in the flattened indexed dims; int32 while they fit (a checked index then fits too)
        idt = dtypes.int32 if prod(sizes) < 2**31 else dtypes.int64
        lin: Tensor | None = None
        stride = 1
        for t, n in reversed(list(zip(idxs, sizes))):
            ti = t.cast(idt)
            ti = (ti < 0).where(ti + n, ti)._broadcast_to(bshape, "index")
            lin = ti * stride if lin is None else lin + ti * stride
            stride *= n
        assert lin is not None
        rest = [d for d in range(self.ndim) if d not in dims]
        xp = self.permute(*rest, *dims).reshape(*[self.shape[d] for d in rest], stride)
        nb, nr = len(bshape), len(rest)
        onehot = lin.reshape(*bshape, *(1,) * nr, 1) == Tensor.arange(stride, dtype=idt, device=self.device)
        out = onehot.where(xp.reshape(*(1,) * nb, *xp.shape), 0).sum(-1, dtype=self.dtype)  # (*bshape, *rest)
        adjacent = sorted(dims) == list(range(min(dims), min(dims) + len(dims)))
        if adjacent and min(dims) > 0:  # like numpy: the indexed block stays where it was
            k = min(dims)
            order = list(range(nb, nb + k)) + list(range(nb)) + list(range(nb + k, nb + nr))
            out = out.permute(*order)
        return out

    def _index_view(self, idx: Any, for_write: builtins.bool = False) -> Tensor:
        idx = idx if isinstance(idx, tuple) else (idx,)
        if sum(1 for v in idx if v is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        for v in idx:
            if isinstance(v, (Tensor, list, np.ndarray)):
                raise IndexError("__setitem__ supports ints, slices, None and ... (not tensor indices)")
            if not (v is None or v is Ellipsis or isinstance(v, (int, slice, np.integer))):
                raise IndexError(f"invalid index {v!r} of type {type(v).__name__}")
        n_real = sum(1 for v in idx if v is not None and v is not Ellipsis)
        if n_real > self.ndim:
            raise IndexError(f"too many indices for tensor of dimension {self.ndim} (got {n_real})")
        if Ellipsis in idx:
            e = idx.index(Ellipsis)
            idx = idx[:e] + (slice(None),) * (self.ndim - n_real) + idx[e + 1:]
        else:
            idx = idx + (slice(None),) * (self.ndim - n_real)
        x, d = self, 0
        shrink, flips, steps, out_shape = [], [], [], []
        for v in idx:
            if v is None:
                out_shape.append(("new", 1))
                continue
            n = self.shape[d]
            if isinstance(v, (int, np.integer)):
                v = int(v)
                if not -n <= v < n:
                    raise IndexError(f"index {v} is out of bounds for dimension {d} with size {n}")
                v %= n
                shrink.append((v, v + 1))
                flips.append(False)
                steps.append(1)
                out_shape.append(("drop", d))
            else:
                start, stop, step = v.indices(n)
                if step > 0:
                    cnt = max(0, math.ceil((stop - start) / step))
                    lo, hi = start, start + max(0, (cnt - 1) * step + 1) if cnt else start
                    shrink.append((lo, hi) if cnt else (0, 0))
                    flips.append(False)
                else:
                    cnt = max(0, math.ceil((start - stop) / -step))
                    hi, lo = start + 1, start + 1 - ((cnt - 1) * -step + 1) if cnt else start + 1
                    shrink.append((lo, hi) if cnt else (0, 0))
                    flips.append(cnt > 0)
                steps.append(abs(step))
                out_shape.append(("keep", cnt))
            d += 1
        x = x._shrink(tuple(shrink))
        if any(flips):
            x = x.flip(*[i for i, f in enumerate(flips) if f])
        if any(s > 1 for s in steps):
            # take every s-th element: pad to a multiple of s, split the axis in (n/s, s), keep column 0
            pads = tuple((0, (-dim) % s) for dim, s in zip(x.shape, steps))
            x = x._new(UOp(Ops.PAD, x.dtype, (x.uop,), pads), x) if any(p != (0, 0) for p in pads) else x
            split = [v for dim, s in zip(x.shape, steps) for v in (dim // s, s)]
            x = x.reshape(*split)
            x = x._shrink(tuple((0, v) if i % 2 == 0 else (0, 1) for i, v in enumerate(split)))
            x = x.reshape(*x.shape[::2])
        final = [c for kind, c in out_shape if kind != "drop"]
        return x.reshape(*final)

    # elementwise: binary ---------------------------------------------------------------------
    def _binop(self, op: Ops, other: Any, reverse: builtins.bool = False, name: str = "") -> Tensor:
        a, b = _broadcast_pair(self, other, name or op.name.lower(), reverse)
        return a._new(UOp(op, dtypes.bool if op in GroupOp.Comparison else a.dtype, (a.uop, b.uop)), a, b)

    def add(self, other: Any, alpha: float = 1) -> Tensor:
        """a + alpha*b"""
        return self._binop(Ops.ADD, other if alpha == 1 else other * alpha, name="add")

    def sub(self, other: Any) -> Tensor:
        """a - b = a + (-b)"""
        a, b = _broadcast_pair(self, other, "sub")
        if a.dtype.is_bool:
            raise TypeError("sub: subtraction of bool tensors is not supported; use logical_xor")
        return a._binop(Ops.ADD, -b)

    def mul(self, other: Any) -> Tensor:
        return self._binop(Ops.MUL, other, name="mul")

    def div(self, other: Any, rounding_mode: str | None = None) -> Tensor:
        """a / b = a * (1/b); integer inputs give a float result, like PyTorch."""
        a, b = _broadcast_pair(self, other, "div")
        if rounding_mode == "floor":
            return a.floor_divide(b)
        if rounding_mode == "trunc":
            return (a / b).trunc().cast(a.dtype) if a.dtype.is_int else (a / b).trunc()
        if not a.dtype.is_float:
            a, b = a.float(), b.float()
        return a * b.reciprocal()

    def floor_divide(self, other: Any) -> Tensor:
        """floor(a / b)"""
        a, b = _broadcast_pair(self, other, "floor_divide")
        if a.dtype.is_float:
            return (a / b).floor()
        q = a._binop(Ops.IDIV, b)  # truncates toward zero
        fix = ((a._binop(Ops.MOD, b) != 0) & ((a < 0) != (b < 0)))
        return fix.where(q - 1, q)

    def remainder(self, other: Any) -> Tensor:
        """a - floor(a/b)*b: the sign follows b, like Python and PyTorch."""
        a, b = _broadcast_pair(self, other, "remainder")
        if a.dtype.is_float:
            return a - (a / b).floor() * b
        r = a._binop(Ops.MOD, b)  # sign follows a
        return ((r != 0) & ((r < 0) != (b < 0))).where(r + b, r)

    def maximum(self, other: Any) -> Tensor:
        return self._binop(Ops.MAX, other, name="maximum")

    def minimum(self, other: Any) -> Tensor:
        a, b = _broadcast_pair(self, other, "minimum")
        if a.dtype.is_float:
            return -((-a).maximum(-b))
        return (a < b).where(a, b)

    def pow(self, exponent: Any) -> Tensor:
        """x ** y; exact repeated multiplication for small integer y."""
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and float(exponent).is_integer() \
                and abs(exponent) <= 8:
            n = int(exponent)
            x = self if self.dtype.is_float or n >= 0 else self.float()
            if n == 0:  # 1 everywhere (NaN and inf too), still in x's graph: its gradient is 0, as in PyTorch
                return Tensor.full(x.shape, True, dtypes.bool, x.device).where(x.ones_like(), x)
            acc, base, k = None, x, abs(n)
            while k:
                if k & 1:
                    acc = base if acc is None else acc * base
                base, k = base * base, k >> 1
            assert acc is not None
            return acc.reciprocal() if n < 0 else acc
        a, b = _broadcast_pair(self, exponent, "pow")
        if not a.dtype.is_float:
            a, b = a.float(), b.float()
        zero = a == 0  # 0^b = 0 for b > 0 (inf for b < 0) without log2(0) = -inf reaching the gradient
        mag = (b * zero.where(1.0, a).abs().log2()).exp2()
        mag = zero.where((b > 0).where(0.0, math.inf).cast(mag.dtype), mag)
        is_int = b == b.trunc()
        odd = is_int & ((b.abs() % 2) == 1)
        neg = a < 0
        out = neg.where(is_int.where(odd.where(-mag, mag), math.nan), mag)
        return (b == 0).where(1.0, out)

    def __add__(self, o: Any) -> Tensor: return self.add(o)
    def __radd__(self, o: Any) -> Tensor: return self._binop(Ops.ADD, o, True)
    def __sub__(self, o: Any) -> Tensor: return self.sub(o)
    def __rsub__(self, o: Any) -> Tensor: return _as_tensor(o, self).sub(self)
    def __mul__(self, o: Any) -> Tensor: return self.mul(o)
    def __rmul__(self, o: Any) -> Tensor: return self._binop(Ops.MUL, o, True)
    def __truediv__(self, o: Any) -> Tensor: return self.div(o)
    def __rtruediv__(self, o: Any) -> Tensor: return _as_tensor(o, self).div(self)
    def __floordiv__(self, o: Any) -> Tensor: return self.floor_divide(o)
    def __rfloordiv__(self, o: Any) -> Tensor: return _as_tensor(o, self).floor_divide(self)
    def __mod__(self, o: Any) -> Tensor: return self.remainder(o)
    def __rmod__(self, o: Any) -> Tensor: return _as_tensor(o, self).remainder(self)
    def __pow__(self, o: Any) -> Tensor: return self.pow(o)
    def __rpow__(self, o: Any) -> Tensor: return _as_tensor(o, self).pow(self)
    def __matmul__(self, o: Any) -> Tensor: return self.matmul(o)
    def __rmatmul__(self, o: Any) -> Tensor: return _as_tensor(o, self).matmul(self)
    def __neg__(self) -> Tensor: return self.neg()
    def __pos__(self) -> Tensor: return self
    def __abs__(self) -> Tensor: return self.abs()
    def __invert__(self) -> Tensor: return self.bitwise_not()
    def __lt__(self, o: Any) -> Tensor: return self._binop(Ops.CMPLT, o, name="lt")
    def __gt__(self, o: Any) -> Tensor: return self._binop(Ops.CMPLT, o, True, name="gt")
    def __le__(self, o: Any) -> Tensor: return self._cmp_or_eq(o, False, "le")
    def __ge__(self, o: Any) -> Tensor: return self._cmp_or_eq(o, True, "ge")
    def __eq__(self, o: Any) -> Tensor: return self._binop(Ops.CMPNE, o, name="eq").logical_not()  # type: ignore[override]
    def __ne__(self, o: Any) -> Tensor: return self.ne(o)  # type: ignore[override]
    def __and__(self, o: Any) -> Tensor: return self._bitop(Ops.AND, o, "bitwise_and")
    def __rand__(self, o: Any) -> Tensor: return self._bitop(Ops.AND, o, "bitwise_and")
    def __or__(self, o: Any) -> Tensor: return self._bitop(Ops.OR, o, "bitwise_or")
    def __ror__(self, o: Any) -> Tensor: return self._bitop(Ops.OR, o, "bitwise_or")
    def __xor__(self, o: Any) -> Tensor: return self._bitop(Ops.XOR, o, "bitwise_xor")
    def __rxor__(self, o: Any) -> Tensor: return self._bitop(Ops.XOR, o, "bitwise_xor")
    def __lshift__(self, o: Any) -> Tensor: return self._bitop(Ops.SHL, o, "bitwise_left_shift")
    def __rshift__(self, o: Any) -> Tensor: return self._bitop(Ops.SHR, o, "bitwise_right_shift")

    def __iadd__(self, o: Any) -> Tensor: return self.assign(self + o)
    def __isub__(self, o: Any) -> Tensor: return self.assign(self - o)
    def __imul__(self, o: Any) -> Tensor: return self.assign(self * o)
    def __itruediv__(self, o: Any) -> Tensor: return self.assign(self / o)

    def lt(self, o: Any) -> Tensor: return self < o
    def gt(self, o: Any) -> Tensor: return self > o
    def le(self, o: Any) -> Tensor: return self <= o
    def ge(self, o: Any) -> Tensor: return self >= o
    def eq(self, o: Any) -> Tensor: return self == o

    def ne(self, o: Any) -> Tensor:
        return self._binop(Ops.CMPNE, o, name="ne")

    def _cmp_or_eq(self, o: Any, reverse: builtins.bool, name: str) -> Tensor:
        """a <= b as (a < b) | (a == b), not !(a > b): comparisons with NaN are False, like IEEE and torch."""
        lt = self._binop(Ops.CMPLT, o, reverse, name=name)
        return lt | self._binop(Ops.CMPNE, o, name=name).logical_not()

    def _bitop(self, op: Ops, o: Any, name: str) -> Tensor:
        a, b = _broadcast_pair(self, o, name)
        if a.dtype.is_float:
            raise TypeError(f"{name}: not defined for floating dtype {a.dtype.name}; use integer or bool tensors")
        if op in (Ops.SHL, Ops.SHR) and a.dtype.is_bool:
            raise TypeError(f"{name}: not defined for bool tensors")
        return a._binop(op, b)

    def logical_not(self) -> Tensor:
        return self.bool()._binop(Ops.CMPNE, True)

    def logical_and(self, o: Any) -> Tensor:
        return self.bool() & _as_tensor(o, self).bool()

    def logical_or(self, o: Any) -> Tensor:
        return self.bool() | _as_tensor(o, self).bool()

    def logical_xor(self, o: Any) -> Tensor:
        return self.bool() ^ _as_tensor(o, self).bool()

    def bitwise_not(self) -> Tensor:
        if self.dtype.is_bool:
            return self.logical_not()
        if self.dtype.is_float:
            raise TypeError(f"bitwise_not: not defined for floating dtype {self.dtype.name}")
        return self._binop(Ops.XOR, -1 if self.dtype.kind == "i" else self.dtype.max)

    def where(self, x: Any, y: Any) -> Tensor:
        """self ? x : y, broadcast over all three."""
        cond = self if self.dtype.is_bool else self.bool()
        if isinstance(y, Tensor) and not isinstance(x, Tensor):  # a Python scalar does not widen y's dtype
            yt, xt = _broadcast_pair(y, x, "where")
        else:
            xt, yt = _broadcast_pair(_as_tensor(x, cond, True), y, "where")
        shape = _broadcast_shapes(cond.shape, xt.shape, op="where")
        c = cond._broadcast_to(shape, "where")
        xt, yt = xt._broadcast_to(shape, "where"), yt._broadcast_to(shape, "where")
        return xt._new(UOp(Ops.WHERE, xt.dtype, (c.uop, xt.uop, yt.uop)), c, xt, yt)

    # elementwise: unary ------------------------------------------------------------------------
    def _unop(self, op: Ops, float_only: builtins.bool = True) -> Tensor:
        x = self.float() if float_only and not self.dtype.is_float else self
        return x._new(UOp(op, x.dtype, (x.uop,)), x)

    def neg(self) -> Tensor:
        if self.dtype.is_bool:
            raise TypeError("neg: negation of a bool tensor is not supported; use logical_not")
        return self._unop(Ops.NEG, float_only=False)

    def reciprocal(self) -> Tensor:
        """1 / x"""
        return self._unop(Ops.RECIPROCAL)

    def sqrt(self) -> Tensor:
        return self._unop(Ops.SQRT)

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x)"""
        return self.sqrt().reciprocal()

    def exp2(self) -> Tensor:
        return self._unop(Ops.EXP2)

    def log2(self) -> Tensor:
        return self._unop(Ops.LOG2)

    def exp(self) -> Tensor:
        """e^x = 2^(x*log2(e))"""
        return (self.float() if not self.dtype.is_float else self).mul(1 / math.log(2)).exp2()

    def log(self) -> Tensor:
        """ln x = log2(x)*ln(2)"""
        return self.log2().mul(math.log(2))

    def sin(self) -> Tensor:
        return self._unop(Ops.SIN)

    def cos(self) -> Tensor:
        """cos x = sin(pi/2 - |x|) for |x| <= 1; beyond, sin(2x) / (2 sin x), since 2x is exact where
        pi/2 - x would round away x's low bits (cos(1e10) had the wrong sign); past max/2, where 2x
        overflows, 1 - 2 sin^2(x/2). The gradient is -sin x."""
        if self.dtype in (dtypes.float16, dtypes.bfloat16):
            return self.float().cos().cast(self.dtype)
        x = self.float() if not self.dtype.is_float else self
        ax = x.abs()
        small, huge = ax <= 1, ax > float(np.finfo(x.dtype.np).max) / 2  # (both False for NaN)
        s = small.where(math.pi / 2 - ax, huge.where(x * 0.5, x * 2)).sin()
        big = s / small.where(1.0, 2 * x.sin())
        val = small.where(s, huge.where(1 - 2 * s * s, big))
        if not (self.requires_grad and no_grad.enabled):
            return val
        return val.detach() + (x - x.detach()) * (-x.sin()).detach()  # the value of val, the slope -sin x

    def tan(self) -> Tensor:
        return self.sin() / self.cos()

    def abs(self) -> Tensor:
        if self.dtype.is_bool or self.dtype.kind == "u":
            return self
        return self.maximum(-self)

    def sign(self) -> Tensor:
        if self.dtype.is_bool:
            return self
        return (self > 0).cast(self.dtype) - (self < 0).cast(self.dtype)

    def trunc(self) -> Tensor:
        """Round toward zero through an integer cast for |x| below the dtype's first all-integer
        power of two (2^52 for float64 through int64; 2^23 for 32-bit and narrower floats through
        int32, whose SIMD conversions every x86 vector unit has); larger values, inf and NaN are
        already integral and pass through. A zero result keeps x's sign (x * 0), like PyTorch's -0.0."""
        if not self.dtype.is_float:
            return self
        wide = self.dtype.itemsize > 4
        small = self.abs() < 2.0 ** (52 if wide else 23)  # False for NaN
        # (no NaN or inf reaches the cast)
        t = small.where(self, 0).cast(dtypes.int64 if wide else dtypes.int32).cast(self.dtype)
        return small.where((t == 0).where(self * 0, t), self)

    def floor(self) -> Tensor:
        t = self.trunc()
        return (t > self).where(t - 1, t)

    def ceil(self) -> Tensor:
        t = self.trunc()
        return (t < self).where(t + 1, t)

    def round(self) -> Tensor:
        """Round half to even, like PyTorch."""
        f = self.floor()
        diff = self - f
        half = f * 0.5
        even = half.floor() == half
        r = (diff > 0.5).where(f + 1, (diff < 0.5).where(f, even.where(f, f + 1)))
        return (r == 0).where(self * 0, r)  # -0.4 rounds to -0.0, like PyTorch

    def isnan(self) -> Tensor:
        return self != self

    def isinf(self) -> Tensor:
        return self.abs() == math.inf

    def isfinite(self) -> Tensor:
        return (self.isnan() | self.isinf()).logical_not()

    def relu(self) -> Tensor:
        """x > 0 ? x : 0, NaN stays NaN; the gradient at 0 is 0, as in PyTorch"""
        return (self > 0).where(self, (self != self).where(self, 0))

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x), as 1/(1+e) for x >= 0 and e/(1+e) for x < 0 with e = e^-|x| (never inf,
        so no NaN reaches the gradient from the branch not taken)"""
        x = self if self.dtype.is_float else self.float()
        pos = x >= 0
        e = pos.where(-x, x).exp()
        r = (1 + e).reciprocal()
        return pos.where(r, e * r)

    def tanh(self) -> Tensor:
        """2*sigmoid(2x) - 1; near 0, where that cancels, x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835"""
        x = self if self.dtype.is_float else self.float()
        x2 = x * x
        small = x * (1 + x2 * (-1 / 3 + x2 * (2 / 15 + x2 * (-17 / 315 + x2 * (62 / 2835)))))
        cut = 0.01 if x.dtype == dtypes.float64 else 0.25  # series truncation error < eps of the dtype
        return (x.abs() < cut).where(small, 2.0 * (2.0 * x).sigmoid() - 1.0)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return (self < 0).where(self * negative_slope, self)

    def elu(self, alpha: float = 1.0) -> Tensor:
        return (self > 0).where(self, alpha * (self.exp() - 1))

    def erf(self) -> Tensor:
        """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)."""
        x = self.float() if not self.dtype.is_float else self
        s = (x < 0).where(-1.0, 1.0).cast(x.dtype)  # (1 at 0, so the gradient at 0 is the slope there, 2/sqrt(pi))
        a = x * s
        t = (1 + 0.3275911 * a).reciprocal()
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        return s * (1 - poly * (-a * a).exp())

    def gelu(self, approximate: str = "none") -> Tensor:
        """x * Phi(x); approximate='tanh' uses 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))."""
        if approximate == "tanh":
            return 0.5 * self * (1 + (math.sqrt(2 / math.pi) * (self + 0.044715 * self * self * self)).tanh())
        return 0.5 * self * (1 + (self * (1 / math.sqrt(2))).erf())

    def silu(self) -> Tensor:
        """x * sigmoid(x)"""
        return self * self.sigmoid()

    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        """log(1 + e^(beta x)) / beta = (max(bx, 0) + log1p(e^-|bx|)) / beta, linear above threshold"""
        bx = self * beta
        pos = bx >= 0
        y = pos.where(-bx, bx).exp()  # e^-|bx| in (0, 1]: no overflow; log1p keeps tiny values
        return (bx > threshold).where(self, (pos.where(bx, 0) + _log1p(y)) * (1 / beta))

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        if min is None and max is None:
            raise ValueError("clamp: at least one of min or max must be given")
        x = self  # selects, not max/min: the gradient is 1 at the bounds (as in PyTorch), NaN stays NaN
        if min is not None:
            x = (x < min).where(min, x) if not isinstance(min, Tensor) else (x < min).where(min, x)
        if max is not None:
            x = (x > max).where(max, x)
        return x

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return self.clamp(min, max)

    def cast(self, dtype: Any) -> Tensor:
        dt = to_dtype(dtype)
        return self if dt == self.dtype else self._new(UOp(Ops.CAST, dt, (self.uop,)), self)

    def bitcast(self, dtype: Any) -> Tensor:
        dt = to_dtype(dtype)
        if dt.itemsize != self.dtype.itemsize:
            raise TypeError(f"bitcast: {self.dtype.name} and {dt.name} differ in size")
        return self if dt == self.dtype else self._new(UOp(Ops.BITCAST, dt, (self.uop,)), self)

    def float(self) -> Tensor: return self.cast(dtypes.float32)
    def half(self) -> Tensor: return self.cast(dtypes.float16)
    def double(self) -> Tensor: return self.cast(dtypes.float64)
    def int(self) -> Tensor: return self.cast(dtypes.int32)
    def long(self) -> Tensor: return self.cast(dtypes.int64)
    def bool(self) -> Tensor: return self.cast(dtypes.bool)
    def bfloat16(self) -> Tensor: return self.cast(dtypes.bfloat16)

    # reductions --------------------------------------------------------------------------------
    def _axes(self, op: str, axis: Any) -> tuple[builtins.int, ...]:
        if axis is None:
            return tuple(range(self.ndim))
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        out = tuple(sorted({_norm_axis(op, a, self.ndim) for a in axes}))
        return out if self.ndim else ()

    def _reduce(self, op: Ops, axis: Any, keepdim: builtins.bool, name: str) -> Tensor:
        axes = self._axes(name, axis)
        if self.ndim == 0:
            return self
        if op is Ops.MAX and any(self.shape[a] == 0 for a in axes):
            raise RuntimeError(f"{name}: cannot reduce over a zero-size dim of shape {self.shape} "
                               f"(the operation has no identity)")
        out = self._new(UOp(Ops.REDUCE_AXIS, self.dtype, (self.uop,), (op, axes)), self) if axes else self
        if not keepdim:
            out = out.reshape(*[s for i, s in enumerate(self.shape) if i not in axes])
        return out

    def sum(self, axis: Any = None, keepdim: builtins.bool = False, dtype: Any = None, dim: Any = None) -> Tensor:
        axis = dim if dim is not None else axis
        acc = to_dtype(dtype) if dtype is not None else (
            dtypes.int64 if self.dtype.is_int or self.dtype.is_bool else self.dtype)
        x = self.cast(acc)
        if acc in (dtypes.float16, dtypes.bfloat16):  # accumulate half precision in float32
            return x.float()._reduce(Ops.ADD, axis, keepdim, "sum").cast(acc)
        return x._reduce(Ops.ADD, axis, keepdim, "sum")

    def prod(self, axis: Any = None, keepdim: builtins.bool = False, dtype: Any = None, dim: Any = None) -> Tensor:
        axis = dim if dim is not None else axis
        acc = to_dtype(dtype) if dtype is not None else (
            dtypes.int64 if self.dtype.is_int or self.dtype.is_bool else self.dtype)
        return self.cast(acc)._reduce(Ops.MUL, axis, keepdim, "prod")

    def max(self, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
        return self._reduce(Ops.MAX, dim if dim is not None else axis, keepdim, "max")

    def min(self, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
        axis = dim if dim is not None else axis
        if self.dtype.is_float:
            return -((-self).max(axis, keepdim))
        if self.dtype.is_bool:
            return self.logical_not().max(axis, keepdim).logical_not()
        return self.bitwise_not().max(axis, keepdim).bitwise_not()  # ~x reverses integer order

    def mean(self, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
        axis = dim if dim is not None else axis
        x = self if self.dtype.is_float else self.float()
        n = prod(self.shape[a] for a in self._axes("mean", axis))
        return x.sum(axis, keepdim) * (1 / n if n else math.nan)

    def var(self, axis: Any = None, keepdim: builtins.bool = False, correction: builtins.int = 1, dim: Any = None,
            unbiased: builtins.bool | None = None) -> Tensor:
        axis = dim if dim is not None else axis
        if unbiased is not None:
            correction = int(unbiased)
        n = prod(self.shape[a] for a in self._axes("var", axis))
        d = self - self.mean(axis, keepdim=True)
        return (d * d).sum(axis, keepdim) * (1 / max(0, n - correction) if n - correction > 0 else math.inf)

    def std(self, axis: Any = None, keepdim: builtins.bool = False, correction: builtins.int = 1, dim: Any = None,
            unbiased: builtins.bool | None = None) -> Tensor:
        v = self.var(axis, keepdim, correction, dim, unbiased)
        zero = v == 0  # sqrt's slope is infinite at 0: PyTorch's std gives a zero gradient there
        return zero.where(0.0, zero.where(1.0, v).sqrt())

    def argmax(self, axis: builtins.int | None = None, keepdim: builtins.bool = False,
               dim: builtins.int | None = None) -> Tensor:
        """Index of the first maximum (NaN counts as the maximum, like PyTorch)."""
        axis = dim if dim is not None else axis
        if axis is None:
            return self.flatten().argmax(0)
        a = _norm_axis("argmax", axis, self.ndim)
        n = self.shape[a]
        # a half tensor computed in the comparison kernel holds float32 values; the max is stored in half:
        # round x to half on both sides, or no element equals the max
        x = self._new(UOp(Ops.CAST, self.dtype, (self.uop,)), self) if self.dtype in (
            dtypes.float16, dtypes.bfloat16) else self
        m = x.max(a, keepdim=True)
        hit = (x == m) | (x != x)
        rev = Tensor.arange(n, 0, -1, dtype=dtypes.int64, device=self.device).reshape(
            *[n if i == a else 1 for i in range(self.ndim)])
        return n - (hit.where(rev, 0)).max(a, keepdim)

    def argmin(self, axis: builtins.int | None = None, keepdim: builtins.bool = False,
               dim: builtins.int | None = None) -> Tensor:
        axis = dim if dim is not None else axis
        x = -self if self.dtype.is_float else self.bitwise_not() if not self.dtype.is_bool else self.logical_not()
        return x.argmax(axis, keepdim)

    def any(self, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
        axis = dim if dim is not None else axis
        axes = self._axes("any", axis)
        if any(self.shape[a] == 0 for a in axes):  # max has no identity, but any() of nothing is False
            shape = tuple(1 if i in axes else s for i, s in enumerate(self.shape) if keepdim or i not in axes)
            return Tensor.full(shape, False, dtypes.bool, self.device)
        return self.bool().max(axis, keepdim)

    def all(self, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
        return self.logical_not().any(axis, keepdim, dim).logical_not()

    def logsumexp(self, axis: Any = None, keepdim: builtins.bool = False, dim: Any = None) -> Tensor:
        """m + log(sum(exp(x - m))), m = max(x)"""
        axis = dim if dim is not None else axis
        self._axes("logsumexp", axis)  # a bad dim is reported under this op's name
        if self.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
            return self.float().logsumexp(axis, keepdim).cast(self.dtype)
        m = self._shift(axis)
        m = (m.abs() == math.inf).where(0, m)
        out = (self - m).exp().sum(axis, keepdim=True).log() + m
        return out if keepdim else out.squeeze(self._axes("logsumexp", axis)) if self.ndim else out

    def softmax(self, dim: builtins.int = -1, dtype: Any = None) -> Tensor:
        """e^(x - max) / sum(e^(x - max))"""
        _norm_axis("softmax", dim, self.ndim)
        x = self.cast(dtype) if dtype is not None else (self if self.dtype.is_float else self.float())
        if x.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
            return x.float().softmax(dim).cast(x.dtype)
        e = (x - x._shift(dim)).exp()
        return e / e.sum(dim, keepdim=True)

    def _shift(self, axis: Any) -> Tensor:
        """What exp-normalizing ops (softmax, logsumexp) subtract before exp so that it cannot overflow: the
        max over axis (keepdim), or 0 when axis is empty (max has no value there; a sum of no exps is 0)."""
        axes = self._axes("max", axis)
        if any(self.shape[a] == 0 for a in axes):
            return Tensor.zeros(*[1 if i in axes else s for i, s in enumerate(self.shape)], dtype=self.dtype,
                                device=self.device)
        return self.max(axis, keepdim=True)

    def log_softmax(self, dim: builtins.int = -1, dtype: Any = None) -> Tensor:
        """(x - max) - log(sum(e^(x - max)))"""
        _norm_axis("log_softmax", dim, self.ndim)
        x = self.cast(dtype) if dtype is not None else (self if self.dtype.is_float else self.float())
        if x.dtype in (dtypes.float16, dtypes.bfloat16):  # computed in float32 and rounded once, like PyTorch
            return x.float().log_softmax(dim).cast(x.dtype)
        s = x - x._shift(dim)
        return s - s.exp().sum(dim, keepdim=True).log()

    def cumsum(self, dim: builtins.int = 0) -> Tensor:
        """Running sum along dim (a reduce over a lower-triangular window)."""
        d = _norm_axis("cumsum", dim, self.ndim)
        if self.ndim == 0:  # integers and bools accumulate in int64 for every shape, like PyTorch
            return self if self.dtype.is_float else self.cast(dtypes.int64)
        n = self.shape[d]
        x = self.transpose(d, -1)
        tri = Tensor(np.tril(np.ones((n, n), dtype=bool)), device=self.device)  # tri[i, j] = j <= i
        out = tri.where(x.unsqueeze(-2), 0).sum(-1, dtype=self.dtype if self.dtype.is_float else None)
        return out.transpose(d, -1)

    # linear algebra ----------------------------------------------------------------------------
    def matmul(self, other: Any) -> Tensor:
        """Matrix product with NumPy/PyTorch broadcasting: (..., n, k) @ (..., k, m)."""
        w = other if isinstance(other, Tensor) else Tensor(other, device=self.device)
        if self.ndim == 0 or w.ndim == 0:
            raise ValueError(f"matmul: both arguments need at least 1 dim, got shapes {self.shape} and {w.shape}")
        x = self.unsqueeze(0) if self.ndim == 1 else self
        y = w.unsqueeze(-1) if w.ndim == 1 else w
        if x.shape[-1] != y.shape[-2]:
            raise ValueError(f"matmul: shapes {self.shape} and {w.shape} cannot be multiplied "
                             f"({x.shape[-1]} != {y.shape[-2]}: the last dim of the first must equal "
                             f"the {'only' if w.ndim == 1 else 'second-to-last'} dim of the second)")
        dt = promote(x.dtype, y.dtype)
        x, y = x.cast(dt), y.cast(dt)
        try:
            batch = _broadcast_shapes(x.shape[:-2], y.shape[:-2], op="matmul")
        except ValueError:
            raise ValueError(f"matmul: shapes {self.shape} and {w.shape} cannot be multiplied (batch dims "
                             f"{x.shape[:-2]} and {y.shape[:-2]} are not broadcastable)") from None
        n, k, m = x.shape[-2], x.shape[-1], y.shape[-1]
        xb = x._broadcast_to((*batch, n, k), "matmul").reshape(*batch, n, 1, k)
        yb = y._broadcast_to((*batch, k, m), "matmul").transpose(-1, -2).reshape(*batch, 1, m, k)
        out = (xb * yb).sum(-1, dtype=dt)  # (*batch, n, m); like torch, int @ int stays in its dtype
        if self.ndim == 1:
            out = out.squeeze(-2)
        if w.ndim == 1:
            out = out.squeeze(-1)
        return out

    def dot(self, other: Tensor) -> Tensor:
        if self.ndim != 1 or other.ndim != 1:
            raise ValueError(f"dot: expected two 1-D tensors, got shapes {self.shape} and {other.shape}")
        return self.matmul(other)

    def linear(self, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """x @ W^T + b"""
        out = self.matmul(weight.T)
        return out + bias if bias is not None else out


# module-level helpers ------------------------------------------------------------------------
def _log1p(y: Tensor) -> Tensor:
    """log(1 + y), accurate for tiny y: log(u) * y / (u - 1) with u = 1 + y (Goldberg's trick)."""
    u = 1 + y
    exact = u == 1
    return exact.where(y, u.log() * y / exact.where(1, u - 1))  # (no 0/0 in the branch not taken)


def _device_names() -> list[str]:
    from .runtime.device import Device

    return Device.names()


def _to_numpy(data: Any, dt: DType | None = None) -> np.ndarray:
    """Python data as an array; values are checked like torch.tensor's: an int past int64 raises unless
    the dtype is a float, a value outside dt raises (numpy would wrap it)."""
    try:
        arr = np.array(data)
        if (arr.dtype == object or arr.dtype == np.uint64) and dt is not None and dt.is_float:
            arr = np.array(data, dtype=np.float64)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"Tensor: could not build a tensor from the given data ({e})") from None
    if arr.dtype == np.uint64 or (arr.dtype == object and any(
            isinstance(v, int) and not -2**63 <= v < 2**63 for v in np.ravel(arr))):
        raise ValueError("Overflow when unpacking long long (a Python int outside int64)")
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


def from_numpy(arr: np.ndarray, device: str | None = None) -> Tensor:
    """A tensor with the array's dtype (float64 stays float64, unlike Tensor(list))."""
    return Tensor(arr, dtype=to_dtype(arr.dtype), device=device)


def _float_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    bits = a.astype(np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)  # round to nearest even
    return (rounded >> 16).astype(np.uint16)


def _buffer_uop(arr: np.ndarray, dt: DType, device: str) -> UOp:
    buf = Buffer(device, arr.size, dt)
    if arr.size:
        buf.copyin(arr)
    return UOp(Ops.BUFFER, dt, (), (buf, 0)).reshape_to(arr.shape)


def _const_uop(value: Any, dt: DType, shape: tuple[int, ...]) -> UOp:
    from .dtype import cast_scalar

    u = UOp(Ops.CONST, dt, (), cast_scalar(value, dt))
    if shape:
        u = u.reshape_to((1,) * len(shape))
        if any(s != 1 for s in shape):
            u = UOp(Ops.EXPAND, dt, (u,), shape)
    return u


def _broadcast_shapes(*shapes: tuple[int, ...], op: str = "op") -> tuple[int, ...]:
    n = max((len(s) for s in shapes), default=0)
    out = []
    for dims in zip(*[(1,) * (n - len(s)) + s for s in shapes]):
        big = {d for d in dims if d != 1}
        if len(big) > 1:
            raise ValueError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} are not broadcastable")
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
        raise RuntimeError(f"{op}: tensors are on different devices ({a.device} and {bt.device})")
    dt = promote_operands(a.dtype, a.ndim == 0, bt.dtype, bt.ndim == 0)  # a 0-d tensor is weaker
    if not isinstance(b, Tensor):  # a Python scalar takes the tensor's category rule
        dt = (bt if reverse else a).dtype if dt.kind == (bt if reverse else a).dtype.kind else dt
    a, bt = a.cast(dt), bt.cast(dt)
    if a.shape != bt.shape:
        shape = _broadcast_shapes(a.shape, bt.shape, op=op)
        a, bt = a._broadcast_to(shape, op), bt._broadcast_to(shape, op)
    return a, bt


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along dim: each input is zero-padded into place and the pads are summed."""
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):  # (a 0-d tensor has no dim to join along; like PyTorch)
        if t.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    ref = tensors[0]
    d = _norm_axis("cat", dim, ref.ndim)
    for t in tensors[1:]:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != d):
            raise ValueError(f"cat: shapes {tuple(t.shape for t in tensors)} must match in every dim except {dim}")
    dt = ref.dtype
    for t in tensors[1:]:
        dt = promote(dt, t.dtype)
    total = sum(t.shape[d] for t in tensors)
    out: Tensor | None = None
    start = 0
    for t in tensors:
        pads = tuple((start, total - start - t.shape[d]) if i == d else (0, 0) for i in range(ref.ndim))
        p = t.cast(dt)._pad(pads)
        out = p if out is None else out + p if not dt.is_bool else out | p
        start += t.shape[d]
    assert out is not None
    return out


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if not all_same([t.shape for t in tensors]):
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    d = _norm_axis("stack", dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def where(cond: Tensor, x: Any, y: Any) -> Tensor:
    return cond.where(x, y)


_ = argsort  # re-exported helper used by nn modules
