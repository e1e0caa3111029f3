"""The JIT: capture the kernels a step function runs, then replay them with new inputs.

Takes: a function whose Tensor arguments change from call to call (a training step).
Produces: a callable that runs the function normally once (warm-up: everything compiles),
records every kernel and its buffers on the second call (run on fresh copies of the inputs,
so that no result computed before from the same graph is reused), and from the third call on only
calls the recorded kernels — no graph building, scheduling or Python per op — after
swapping in the new input buffers. A change of input shapes or dtypes raises instead of
replaying the wrong program.

Outputs of a replayed call live in the buffers of the capture call: a returned tensor is
overwritten by the next call (copy it with `.numpy()` to keep it).
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

from .engine import realize as _realize
from .ops.uop import Ops
from .runtime import launch
from .runtime.buffer import Buffer
from .runtime.device import KERNEL_HOOKS, Runner
from .tensor import Tensor


class JitError(RuntimeError):
    pass


# checks on input values that ops ask for while a step is being captured (an embedding's index range):
# a replay runs no Python per op, so it runs these on each new input before its kernels
_INPUT_CHECKS: list[list[tuple[Buffer, Callable[[Any], None]]]] = []


def check_on_replay(t: Tensor, check: Callable[[Any], None]) -> None:
    """While a jitted function is captured, make each replay call check(values) (a flat numpy array) on the new
    values of the input that t is (a whole view of), so that bad input still raises at the user's call."""
    if not _INPUT_CHECKS or t.uop.base.op is not Ops.BUFFER:
        return
    buf, vs = _realize.view_of(t.uop)
    if vs.is_contiguous and vs.size == buf.size:
        _INPUT_CHECKS[-1].append((buf, check))


def _tensor_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Tensor]:
    return [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]


def _input_buffer(t: Tensor) -> Buffer:
    """Inputs must be whole realized buffers (a view is copied to one first)."""
    t.realize()
    u = t.uop
    if u.base.op is not Ops.BUFFER or u._realized is not None:
        t.uop = t.contiguous().realize().uop
        u = t.uop
    buf, vs = _realize.view_of(u)
    if not vs.is_contiguous or vs.size != buf.size:
        t.uop = t.contiguous().realize().uop
        buf, _ = _realize.view_of(t.uop)
    return buf


def _written(runner: Any, kbufs: list[Buffer]) -> list[Buffer]:
    """The buffers a recorded kernel writes: each its stores reach (a multi-output kernel, e.g. an optimizer
    update, writes several), else its first."""
    t = getattr(runner, "traffic", None)
    return [kbufs[i] for i, _, w in t if w] if t else kbufs[:1]


class TinyJit:
    """`@tinytorch.jit` — capture a step function's kernels and replay them."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self.calls = 0
        self.kernels: list[tuple[Any, list[Buffer]]] = []
        self.signature: list[Any] = []
        self.checks: list[tuple[int, Callable[[Any], None]]] = []  # (argument position, check of its values)
        self._plan: Any = None  # the replay as one launcher call (built on the first replay; False: not possible)
        self.input_slots: dict[int, int] = {}  # id(captured input buffer) -> argument position
        self.outputs: Any = None
        self.output_bufs: set[int] = set()
        functools.update_wrapper(self, fn)

    def reset(self) -> None:
        self.calls, self.kernels, self.outputs, self._plan = 0, [], None, None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tensors = _tensor_args(args, kwargs)
        # the signature: tensor shapes/dtypes/devices, and every other argument's value (a captured
        # program has them baked in as constants)
        sig: list[Any] = [(t.shape, t.dtype, t.device) for t in tensors]
        sig += [("arg", i, repr(a)) for i, a in enumerate(args) if not isinstance(a, Tensor)]
        sig += [("kwarg", k, repr(v)) for k, v in sorted(kwargs.items()) if not isinstance(v, Tensor)]
        bufs = [_input_buffer(t) for t in tensors]
        if self.calls >= 2:
            if sig != self.signature:
                raise JitError(f"jit({self.fn.__name__}): inputs changed from {self._fmt(self.signature)} to "
                               f"{self._fmt(sig)}; a captured function replays one shape and dtype (call .reset())")
            for slot, check in self.checks:
                check(bufs[slot].numpy())
            self._replay(bufs)
            self.calls += 1
            return self.outputs
        if self.calls == 1:
            if sig != self.signature:
                raise JitError(f"jit({self.fn.__name__}): inputs changed from {self._fmt(self.signature)} to "
                               f"{self._fmt(sig)} between the warm-up and the capture call")
            out = self._capture(tensors, args, kwargs)
        else:
            self.signature = sig
            out = self.fn(*args, **kwargs)
            _realize_outputs(out)
        self.calls += 1
        return out

    def _capture(self, tensors: list[Tensor], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # the capture call runs on fresh copies of the inputs: no graph built on them can have a result
        # cached from before (a cached result runs no kernel, and a replay would return it for every
        # input), and each argument has a buffer of its own even when one tensor is passed twice
        mine = [Tensor(t.numpy(), dtype=t.dtype, device=t.device, requires_grad=t.requires_grad) for t in tensors]
        it = iter(mine)  # (in the order of _tensor_args: positional, then keyword arguments)
        args = tuple(next(it) if isinstance(a, Tensor) else a for a in args)
        kwargs = {k: next(it) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
        bufs = [_input_buffer(t) for t in mine]
        record: list[tuple[Any, list[Buffer]]] = []
        _realize.CAPTURE.append(record)
        _INPUT_CHECKS.append([])
        try:
            out = self.fn(*args, **kwargs)
            _realize_outputs(out)
            self._own_outputs(out, bufs)
        finally:
            _realize.CAPTURE.pop()
            checks = _INPUT_CHECKS.pop()
        written = {id(b) for r, kbufs in record for b in _written(r, kbufs)}
        for t, c, b in zip(tensors, mine, bufs):  # what the function wrote into an input reaches the caller's
            if id(b) in written:
                t.assign(c).realize()
        self.kernels, self._plan = record, None
        self.input_slots = {id(b): i for i, b in enumerate(bufs)}
        self.checks = [(self.input_slots[id(b)], c) for b, c in checks if id(b) in self.input_slots]
        self.outputs = out
        outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(o, Tensor)]
        self.output_bufs = {id(_realize.view_of(o.uop)[0]) for o in outs}
        return out

    def _own_outputs(self, out: Any, bufs: list[Buffer]) -> None:
        """An output that is (a view of) an input would go stale on replay: copy it, by a kernel
        that is recorded too."""
        inputs = {id(b) for b in bufs}
        for o in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(o, Tensor) and id(_realize.view_of(o.uop)[0]) in inputs:
                o.uop = o.contiguous().realize().uop

    def _replay(self, bufs: list[Buffer]) -> None:
        if self._plan is None:
            self._plan = self._build_plan() or False
        if self._plan and not KERNEL_HOOKS:  # every kernel in one call to the C launcher
            items, _, subs, written = self._plan
            for inner, j, slot in subs:
                inner[j] = bufs[slot].ptr
            launch.library().tt_run_plan(ctypes.addressof(items), len(items))
            for b in written:
                _realize._invalidate(b)
            return
        for runner, kbufs in self.kernels:
            runner([bufs[self.input_slots[id(b)]] if id(b) in self.input_slots else b for b in kbufs])
            for w in _written(runner, kbufs):
                if id(w) not in self.output_bufs:  # (outputs are meant to be overwritten in place)
                    _realize._invalidate(w)  # results cached on graph nodes may live in what was written

    def _build_plan(self) -> tuple[Any, list[Any], list[tuple[Any, int, int]], list[Buffer]] | None:
        """The recorded kernels as an array of launcher items: their functions, argument arrays (the input
        slots rewritten before each replay), trip counts and threads. None when a kernel is not a compiled
        function (INTERP, a plugin's runner) or there is no launcher."""
        if launch.library() is None or not self.kernels:
            return None
        items = (launch.Item * len(self.kernels))()
        keep: list[Any] = []
        subs: list[tuple[Any, int, int]] = []
        for i, (runner, kbufs) in enumerate(self.kernels):
            addr = runner.launch_address() if isinstance(runner, Runner) else None
            if addr is None:
                return None
            inner = (ctypes.c_void_p * max(1, len(kbufs)))(*[b.ptr for b in kbufs])
            subs += [(inner, j, self.input_slots[id(b)]) for j, b in enumerate(kbufs) if id(b) in self.input_slots]
            args = (ctypes.c_void_p * 1)(ctypes.addressof(inner)) if runner.packed else inner
            keep += [inner, args]
            items[i] = launch.Item(addr, ctypes.addressof(args), runner.outer_count, 1 if runner.packed else len(kbufs),
                                   runner.threads)
        written = [w for r, kbufs in self.kernels for w in _written(r, kbufs) if id(w) not in self.output_bufs]
        return items, keep, subs, written

    @staticmethod
    def _fmt(sig: list[Any]) -> str:
        return "[" + ", ".join(f"{d.name}{list(s)}" if s != "arg" and s != "kwarg" else f"{s} {d}={v}"
                               for s, d, v in sig) + "]"


def _realize_outputs(out: Any) -> None:
    ts = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(o, Tensor)]
    if ts:
        Tensor.realize(*ts)
        for t in ts:  # point the tensors at their buffers, not at a cached graph node
            t.uop = _realize.resolve(t.uop)


def jit(fn: Callable[..., Any]) -> TinyJit:
    """Decorator form of TinyJit."""
    return TinyJit(fn)
