"""Realization: run a schedule, cache it by graph structure, bind results back to tensors.

Takes: the UOps of tensors to compute (or a Tensor to turn into numpy).
Produces: filled Buffers; each realized UOp remembers its result (`_realized`) and each
tensor's `uop` becomes a view over its buffer.

The cache key is the graph's structure with buffers replaced by their position, so the
second identical training step skips scheduling and compiling: it maps the new input
buffers into the cached Plan and calls the cached kernels.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes
from ..helpers import CACHE_ENTRIES, DEBUG, LRU
from ..ops.uop import Ops, UOp
from ..ops.view import ViewStack
from ..runtime.buffer import Buffer
from .schedule import Plan, TargetResult, _apply, graph_nodes, resolve, schedule

if TYPE_CHECKING:
    from ..tensor import Tensor

# graph structure -> (plan, leaf order); the least recently used dropped beyond TINYTORCH_CACHE_ENTRIES
PLAN_CACHE: LRU[tuple, tuple[Plan, list[int]]] = LRU(CACHE_ENTRIES)
CAPTURE: list[list[tuple[Any, list[Buffer]]]] = []  # the JIT records (runner, buffers) here while capturing
STATS = {"realizes": 0, "plan_hits": 0, "plan_misses": 0, "kernels_run": 0}
# observers of every realize, called after its kernels ran (VIZ, the profiler): f(targets, plan, device, start time)
REALIZE_HOOKS: list[Any] = []


def _structure(targets: list[UOp]) -> tuple[tuple, list[Buffer], list[UOp]]:
    """(structural key, input buffers in key order, nodes)."""
    nodes = graph_nodes(targets)
    pos: dict[UOp, int] = {}
    leaf_pos: dict[int, int] = {}
    leaves: list[Buffer] = []
    parts: list[Any] = []
    for i, u in enumerate(nodes):
        pos[u] = i
        if u._realized is not None:
            parts.append(("R", pos[u._realized]))
        elif u.op is Ops.BUFFER:
            buf = u.arg[0]
            j = leaf_pos.get(id(buf))
            if j is None:
                j = leaf_pos[id(buf)] = len(leaves)
                leaves.append(buf)
            parts.append(("B", j, buf.size, buf.dtype))
        else:
            parts.append((u.op, u.dtype, u._key[3], tuple(pos[s] for s in u.src)))
    parts.append(tuple(pos[t] for t in targets))
    return tuple(parts), leaves, nodes


def _pending_readers(targets: list[UOp], nodes: list[UOp]) -> list[UOp]:
    """Lazy tensors outside this realize that read a buffer about to be overwritten in place."""
    from ..tensor import Tensor

    written = {id(resolve(n.src[0]).base.arg[0]) for n in nodes if n.op is Ops.ASSIGN}
    if not written:
        return []
    tset = set(targets)
    extra: list[UOp] = []
    for t in list(Tensor.live.values()):
        u = t.uop
        if u in tset or u._realized is not None or u.base.op in (Ops.BUFFER, Ops.CONST):
            continue
        for n in graph_nodes([u]):
            if n.op is Ops.BUFFER and id(n.arg[0]) in written:
                extra.append(u)
                tset.add(u)
                break
    return extra


def realize_uops(targets: list[UOp], device: str | None = None) -> list[UOp]:
    """Compute targets; returns, per target, a UOp that is a view over its result buffer."""
    from ..runtime.device import Device

    t0 = time.perf_counter()
    targets = [resolve(t) for t in targets]
    key, leaves, nodes = _structure(targets)
    if any(n.op is Ops.ASSIGN for n in nodes):
        extra = _pending_readers(targets, nodes)
        if extra:
            realize_uops(targets + extra, device)
            return [resolve(t) for t in targets]
    cached = PLAN_CACHE.get(key)
    hit = cached is not None
    if cached is None:
        plan, plan_leaves = schedule(targets)
        key_pos = {id(b): i for i, b in enumerate(leaves)}
        cached = (plan, [key_pos[id(b)] for b in plan_leaves])
        PLAN_CACHE[key] = cached
        STATS["plan_misses"] += 1
    else:
        STATS["plan_hits"] += 1
    plan, leaf_map = cached
    inputs = [leaves[j] for j in leaf_map]
    dev = Device.get(device or (inputs[0].device if inputs else Device.DEFAULT))
    t_sched = time.perf_counter()
    new = [Buffer(dev.name, size, dt) for size, dt in plan.new_bufs]
    for bi in plan.assigned_inputs:
        _invalidate(inputs[bi])
    t_run = run_plan(plan, inputs, new, dev)
    STATS["realizes"] += 1
    for hook in REALIZE_HOOKS:
        hook(targets, plan, dev, t0)
    out = []
    for t, r in zip(targets, plan.results):
        res = _result_uop(t, r, inputs, new)
        if res is not t:
            t._realized = res
            base = res.base
            if base.op is Ops.BUFFER:  # remembered so an in-place write can forget the cached result
                cb = base.arg[0].cached_by
                if len(cb) > 64:
                    cb[:] = [r for r in cb if r() is not None]
                cb.append(weakref.ref(t))
        out.append(res)
    if DEBUG >= 1 and plan.kernels:
        print(f"realize: {len(plan.kernels)} kernels from {plan.n_ops} ops, "
              f"schedule {(t_sched - t0) * 1e3:.2f} ms ({'cached' if hit else 'new'}), run {t_run * 1e3:.2f} ms")
    return out


def _invalidate(buf: Buffer) -> None:
    refs, buf.cached_by = buf.cached_by, []
    for ref in refs:
        u = ref()
        if u is not None and u._realized is not None and u._realized.base.arg[0] is buf:
            u._realized = None


def _slot_buf(slot: tuple[str, int], inputs: list[Buffer], new: list[Buffer]) -> Buffer:
    return inputs[slot[1]] if slot[0] == "in" else new[slot[1]]


def _result_uop(t: UOp, r: TargetResult, inputs: list[Buffer], new: list[Buffer]) -> UOp:
    from ..tensor import _bump_version

    if r.kind == "same":
        return t
    assert r.slot is not None
    if r.kind == "assign":
        return _bump_version(resolve(t.src[0]))
    buf = _slot_buf(r.slot, inputs, new)
    u = UOp(Ops.BUFFER, buf.dtype, (), (buf, 0)).reshape_to(r.base_shape)
    for op, arg in r.chain:
        u = UOp(op, u.dtype, (u,), arg)
    return u


def run_plan(plan: Plan, inputs: list[Buffer], new: list[Buffer], dev: Any) -> float:
    total = 0.0
    if not plan.prepared:
        dev.prepare([k.ast for k in plan.kernels])
        plan.prepared = True
    for k in plan.kernels:
        bufs = [_slot_buf(s, inputs, new).ensure() for s in k.slots]
        runner = dev.get_runner(k.ast)
        if CAPTURE:
            CAPTURE[-1].append((runner, bufs))
        if DEBUG >= 2:
            st = time.perf_counter()
            runner(bufs)
            et = time.perf_counter() - st
            total += et
            gflops = runner.flops / et * 1e-9 if et > 0 else 0.0
            gbs = sum(b.nbytes for b in bufs) / et * 1e-9 if et > 0 else 0.0
            print(f"  {dev.name:6s} {runner.name:<40s} {et * 1e6:9.1f} us {gflops:8.2f} GFLOP/s "
                  f"{gbs:7.2f} GB/s  {k.tag or ''}")
        else:
            runner(bufs)
        STATS["kernels_run"] += 1
    return total


def schedule_tensors(tensors: list[Tensor]) -> tuple[list[Any], Plan]:
    """The kernels a realize of these tensors would run (ScheduleItems), without running them."""
    targets = [resolve(t.uop) for t in tensors]
    plan, _ = schedule(targets)
    return plan.kernels, plan


def realize_tensors(tensors: list[Tensor]) -> None:
    todo = [t for t in tensors if not _is_realized(t.uop)]
    if not todo:
        return
    results = realize_uops([t.uop for t in todo], todo[0].device)
    for t, r in zip(todo, results):
        # a tensor that requires grad keeps its graph (loss.item() before loss.backward() must work);
        # its node caches the result. In-place writes always move on to the new buffer version.
        if not t.requires_grad or t.uop.op is Ops.ASSIGN:
            t.uop = r


def _is_realized(u: UOp) -> bool:
    if u._realized is not None:
        return True
    base = u.base
    return base.op is Ops.BUFFER and u.op is not Ops.ASSIGN


def view_of(u: UOp) -> tuple[Buffer, ViewStack]:
    """The buffer and view under a realized tensor's uop."""
    u = resolve(u)
    chain = tuple((m.op, m.arg) for m in u.movement_chain())
    base = u.base
    assert base.op is Ops.BUFFER, "view_of: tensor is not realized"
    return base.arg[0], _apply(ViewStack.contiguous(base.shape), chain).simplify()


def to_numpy(t: Tensor) -> np.ndarray:
    t.realize()
    u = resolve(t.uop)
    if u.base.op is Ops.CONST:  # a realized constant never exists: compute it
        t.uop = realize_uops([UOp(Ops.CONTIGUOUS, u.dtype, (u,))], t.device)[0]
        u = t.uop
    buf, vs = view_of(u)
    shape = vs.shape
    if 0 in shape:
        return np.zeros(shape, dtype=np.float32 if buf.dtype == dtypes.bfloat16 else buf.dtype.np)
    if len(vs.views) == 1 and vs.view.mask is None:
        v = vs.view
        mem = buf.numpy()
        item = mem.itemsize
        arr = np.lib.stride_tricks.as_strided(mem[v.offset:], shape=shape,
                                              strides=tuple(s * item for s in v.strides), writeable=False)
        if not v.contiguous:
            arr = np.array(arr)
        else:
            arr = np.array(arr) if buf.dtype == dtypes.bfloat16 else mem[:v.size].reshape(shape)
            _export(buf)
    else:
        c = realize_uops([UOp(Ops.CONTIGUOUS, u.dtype, (u,))], t.device)[0]
        cbuf, _ = view_of(c)
        arr = cbuf.numpy()[:cbuf.size].reshape(shape)
        _export(cbuf)
    if buf.dtype == dtypes.bfloat16:
        arr = (np.asarray(arr).astype(np.uint32) << 16).view(np.float32)
    return arr


def _export(buf: Buffer) -> None:
    """numpy now shares this memory: it must not go back to the reuse pool."""
    from ..runtime.buffer import ALLOCATOR

    if buf._mem is not None:
        ALLOCATOR.exported.add(id(buf._mem.base if buf._mem.base is not None else buf._mem))
