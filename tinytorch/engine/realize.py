"""Realization: run a schedule, cache it by graph structure, bind results back to tensors.

Takes: the UOps of tensors to compute (or a Tensor to turn into numpy).
Produces: filled Buffers; each realized UOp remembers its result (`_realized`) and each
tensor's `uop` becomes a view over its buffer. An in-place write moves every live tensor that
views the written buffer to the buffer's new version (PyTorch's views: all see the write).

The cache key is the graph's structure with buffers replaced by their position, so the
second identical training step skips scheduling and compiling: it maps the new input
buffers into the cached Plan and calls the cached kernels.
"""

from __future__ import annotations

import ctypes
import itertools
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes
from ..helpers import CACHE_ENTRIES, DEBUG, LRU
from ..ops.uop import GroupOp, Ops, UOp
from ..ops.view import ViewStack
from ..profiler import kernel_bytes
from ..runtime import launch
from ..runtime.buffer import ALLOCATOR, Buffer, raw_id
from ..runtime.device import KERNEL_HOOKS, Device, Runner
from .schedule import Plan, TargetResult, _apply, resolve, schedule
from .walk_c import RUN_TABLE, walker

if TYPE_CHECKING:
    from ..tensor import Tensor

# graph structure -> (plan, leaf order); the least recently used dropped beyond TINYTORCH_CACHE_ENTRIES
PLAN_CACHE: LRU[tuple, tuple[Plan, list[int]]] = LRU(CACHE_ENTRIES)
CAPTURE: list[list[tuple[Any, list[Buffer]]]] = []  # the JIT records (runner, buffers) here while capturing
# (known_plans: runs of a kept plan without a realize, `run_kept_plan`)
STATS = {"realizes": 0, "plan_hits": 0, "plan_misses": 0, "kernels_run": 0, "known_plans": 0}
# observers of every realize, called after its kernels ran (VIZ, the profiler): f(targets, plan, device, start time)
REALIZE_HOOKS: list[Any] = []
# buffer versions: an in-place write moves the buffer's readers to a number never used before, so a graph
# built on the old contents is never taken for one built on the new (UOps are interned)
_VERSIONS = itertools.count(1)


# Every distinct part of a structure key (a node's op, dtype, argument and source positions) is numbered, so that
# a key is a tuple of ints: hashed and compared in microseconds even for a training step's ~600 nodes (a tuple of
# those parts took ~40 us to hash and ~50 us to compare, and a plan-cache lookup does both). Numbers come from a
# counter and are never given twice (threads may walk at once; a part numbered again after the table was emptied
# gets a new number, so an old key can only miss). Bounded: beyond PART_IDS_MAX the table is emptied, and the plan
# cache with it (its keys can no longer be met).
_PART_IDS: dict[Any, int] = {}
_PART_NUMBERS = itertools.count()
PART_IDS_MAX = 1 << 17  # (about 30 MB of parts at most; a training step numbers a few thousand)


class _Walk:
    """The walk behind the structural key: one pass over the graph, sources first, that stops at buffers and at
    realized nodes (which read their result's view). A node's part of the key is its op, dtype, argument and the
    positions of its sources; a buffer's is its position among the inputs, size and dtype. More roots can be
    added later (the lazy readers found after the first walk) without walking again what was walked."""

    __slots__ = ("index", "nodes", "parts", "leaves", "leaf_pos", "has_assign", "has_realized")

    def __init__(self) -> None:
        self.index: dict[UOp, int] = {}
        self.nodes: list[UOp] = []
        self.parts: list[int] = []  # per node, its part's number in _PART_IDS
        self.leaves: list[Buffer] = []
        self.leaf_pos: dict[int, int] = {}
        self.has_assign = False
        self.has_realized = False  # (a node met that was realized: the walk read its result, not its graph)

    def add(self, roots: list[UOp]) -> None:
        """Walk the graphs under roots (in order) that are not walked yet: in C (engine/walk_c.py) when it could be
        built, else in Python (add_py)."""
        walk = walker()
        if walk is None:
            self.add_py(roots)
        else:
            walk(self, roots, _PART_IDS, _PART_NUMBERS)

    def add_py(self, roots: list[UOp]) -> None:
        """The walk in Python: the reference of the C walk, and its fallback."""
        index, nodes, parts, leaves, leaf_pos = self.index, self.nodes, self.parts, self.leaves, self.leaf_pos
        buffer_op, assign_op = Ops.BUFFER, Ops.ASSIGN
        number, next_number = _PART_IDS.setdefault, _PART_NUMBERS.__next__
        stack: list[UOp] = list(reversed(roots))
        push, pop = stack.append, stack.pop
        while stack:
            u = stack[-1]
            if u in index:
                pop()
                continue
            r = u._realized
            if r is not None:
                if r not in index:
                    push(r)
                    continue
                self.has_realized = True
                part: Any = ("R", index[r])
            elif u.op is buffer_op:
                buf = u.arg[0]
                j = leaf_pos.get(id(buf))
                if j is None:
                    j = leaf_pos[id(buf)] = len(leaves)
                    leaves.append(buf)
                part = ("B", j, buf.size, buf.dtype)
            else:
                src = u.src
                waiting = False  # every source not walked yet goes on the stack, then u comes back
                for s in src:
                    if s not in index:
                        push(s)
                        waiting = True
                if waiting:
                    continue
                k = u._key
                n = len(src)
                part = (k[0], k[1], k[3], () if n == 0 else (index[src[0]],) if n == 1 else
                        (index[src[0]], index[src[1]]) if n == 2 else tuple([index[s] for s in src]))
                if k[0] is assign_op:
                    self.has_assign = True
            pop()
            index[u] = len(nodes)
            nodes.append(u)
            parts.append(number(part, next_number()))

    def key(self, targets: list[UOp]) -> tuple:
        """The structural key of a realize of targets (all walked)."""
        return (*self.parts, tuple([self.index[t] for t in targets]))


def _pending_readers(targets: list[UOp], nodes: list[UOp]) -> list[UOp]:
    """Lazy tensors outside this realize that read a buffer about to be overwritten in place."""
    written = {id(resolve(n.src[0]).base.arg[0]) for n in nodes if n.op is Ops.ASSIGN}
    return lazy_readers(targets, written) if written else []


def lazy_readers(targets: list[UOp], written: set[int]) -> list[UOp]:
    """The uops of live lazy tensors, other than targets, whose graphs read a buffer whose id is in written."""
    from ..tensor import Tensor

    tset = set(targets)
    extra: list[UOp] = []
    reads: dict[UOp, bool] = {}  # node -> does its graph read a written buffer (shared by every tensor's walk:
    for t in list(Tensor.live.values()):  # the gradients of a step share most of their graph)
        u = t.uop
        if u in tset or u._realized is not None or u.base.op in (Ops.BUFFER, Ops.CONST):
            continue
        if _reads_written(u, written, reads):
            extra.append(u)
            tset.add(u)
    return extra


def _reads_written(root: UOp, written: set[int], reads: dict[UOp, bool]) -> bool:
    """Does root's graph (as graph_nodes walks it: a realized node reads its result's view) read a buffer whose
    id is in written? Answers for the nodes finished on the way are kept in reads; the walk stops at the first
    written buffer it meets (the nodes still open then have no answer)."""
    buffer_op = Ops.BUFFER
    stack = [root]
    push, pop = stack.append, stack.pop
    while stack:
        u = stack[-1]
        if u in reads:
            pop()
            continue
        r = u._realized
        if r is None and u.op is buffer_op:
            pop()
            if id(u.arg[0]) in written:
                reads[u] = True
                return True
            reads[u] = False
            continue
        below = u.src if r is None else (r,)
        waiting = False
        for s in below:
            if s not in reads:
                push(s)
                waiting = True
        if waiting:
            continue
        pop()
        reads[u] = any([reads[s] for s in below])
    return reads[root]


# In-place updates that ride along with the next realize instead of launching kernels of their own: a
# training BatchNorm's running statistics are updated in the forward pass, as in PyTorch, but computed in the
# same schedule as the step that reads the batch statistics anyway (one schedule, and the JIT captures both).
DEFERRED: list[Any] = []  # Tensors


def defer(*tensors: Any) -> None:
    """Realize these tensors (lazy in-place updates) together with whatever is realized next."""
    DEFERRED.extend(tensors)


def run_pending(*tensors: Any) -> None:
    """Realize those of these tensors that are an in-place update still waiting (deferred, and nothing was
    realized since): before a second update stacks on it, or before a reader needs a plain buffer."""
    pending = [t for t in tensors if t is not None and t.uop.op is Ops.ASSIGN and t.uop._realized is None]
    if pending:
        from ..tensor import Tensor

        Tensor.realize(*pending)


def realize_uops(targets: list[UOp], device: str | None = None, readers_added: bool = False,
                 walk: _Walk | None = None, keep: list[Any] | None = None) -> list[UOp]:
    """Compute targets; returns, per target, a UOp that is a view over its result buffer. (readers_added: the
    lazy readers of buffers written in place are among the targets already; walk: the structure walk of the
    targets before those readers were added, continued here; keep: receives (plan, input buffers, device) when
    the plan ran for these targets alone, for `run_kept_plan`.)"""
    if DEFERRED:
        pending = list({id(t): t for t in DEFERRED if t.uop._realized is None and t.uop.op is Ops.ASSIGN}.values())
        DEFERRED.clear()
        if pending:
            got = realize_uops(list(targets) + [t.uop for t in pending], device)
            for t, r in zip(pending, got[len(targets):]):
                t.uop = r  # the tensor now reads its buffer: the update never runs twice (a JIT replay
            return got[:len(targets)]  # invalidates results cached on graph nodes)
    t0 = time.perf_counter()
    targets = [resolve_views(t) for t in targets]
    if walk is None and len(_PART_IDS) > PART_IDS_MAX:  # (never inside a walk: its parts keep one numbering)
        _PART_IDS.clear()
        PLAN_CACHE.clear()
    w = walk or _Walk()
    w.add(targets)
    key, leaves = w.key(targets), w.leaves
    if w.has_assign and not readers_added:
        extra = _pending_readers(targets, w.nodes)
        if extra:
            realize_uops(targets + extra, device, readers_added=True, walk=w)
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
    new, versions, t_run = _run_kernels(plan, inputs, dev, hit and not CAPTURE and not KERNEL_HOOKS and DEBUG.value < 2)
    STATS["realizes"] += 1
    if keep is not None:
        keep.append((plan, inputs, dev))
    for hook in REALIZE_HOOKS:
        hook(targets, plan, dev, t0)
    out = _bind(targets, plan, inputs, new, versions)
    if DEBUG >= 1 and plan.kernels:
        print(f"realize: {len(plan.kernels)} kernels from {plan.n_ops} ops, "
              f"schedule {(t_sched - t0) * 1e3:.2f} ms ({'cached' if hit else 'new'}), run {t_run * 1e3:.2f} ms")
    return out


def _bind(targets: Sequence[UOp | None], plan: Plan, inputs: list[Buffer], new: list[Buffer],
          versions: dict[int, int]) -> list[UOp]:
    """Per target, the view over its result; a target node remembers it (`_realized`). A target given as None is a
    value no graph was built for (a kept backward's gradient): its result is always a view of a new buffer."""
    out = []
    for t, r in zip(targets, plan.results):
        res = _result_uop(t, r, inputs, new, versions)  # type: ignore[arg-type]
        if t is not None and res is not t:
            t._realized = res
            base = res.base
            if base.op is Ops.BUFFER:  # remembered so an in-place write can forget the cached result
                cb = base.arg[0].cached_by
                if len(cb) > 64:
                    cb[:] = [r for r in cb if r() is not None]
                cb.append(weakref.ref(t))
        out.append(res)
    if versions:
        _move_viewers(versions)
    return out


def _invalidate(buf: Buffer) -> None:
    refs, buf.cached_by = buf.cached_by, []
    for ref in refs:
        u = ref()
        if u is not None and u._realized is not None and u._realized.base.arg[0] is buf:
            u._realized = None


def resolve_views(u: UOp) -> UOp:
    """u with the first realized node of its chain of movement ops replaced by its result (a view
    of a realized value, e.g. of an assign that has run, reads that value's buffer)."""
    chain: list[UOp] = []
    while u._realized is None and u.op in GroupOp.Movement:
        chain.append(u)
        u = u.src[0]
    if u._realized is None:
        return chain[0] if chain else u
    return rebuild_views(chain, u._realized)


def rebuild_views(chain: list[UOp], below: UOp) -> UOp:
    """The movement ops of `chain` (outermost first) applied again over `below`."""
    for m in reversed(chain):
        below = UOp(m.op, m.dtype, (below,), m.arg)
    return below


def at_version(u: UOp, version: int) -> UOp:
    """The same chain of movement ops over `version` of the buffer under it."""
    if u.op is Ops.BUFFER:  # (the common case: a parameter or optimizer state, a buffer itself)
        return UOp(Ops.BUFFER, u.dtype, (), (u.arg[0], version))
    base = u.base
    assert base.op is Ops.BUFFER
    return rebuild_views(u.movement_chain(), UOp(Ops.BUFFER, base.dtype, (), (base.arg[0], version)))


def _viewed_buffer(u: UOp) -> Buffer | None:
    """The buffer a tensor's uop is a view of (through pending assigns too), or None for a computed value."""
    base = u.base
    while base.op is Ops.ASSIGN:
        base = base.src[0].base
    return base.arg[0] if base.op is Ops.BUFFER else None


# per buffer, the live tensors that take part in a view of it (each view and the tensor it was made from):
# an in-place write through one of them must reach the others
_VIEWERS: weakref.WeakKeyDictionary[Buffer, weakref.WeakValueDictionary[int, Tensor]] = weakref.WeakKeyDictionary()


def note_view(view: Tensor, src: Tensor) -> None:
    """Record that `view` was made from `src` by a movement op (they may share a buffer)."""
    buf = _viewed_buffer(view.uop)
    if buf is None:
        return
    group = _VIEWERS.get(buf)
    if group is None:
        group = _VIEWERS[buf] = weakref.WeakValueDictionary()
    group[id(view)] = view
    if _viewed_buffer(src.uop) is buf:
        group[id(src)] = src


def shares_buffer(t: Tensor) -> bool:
    """Does another live tensor, made as a view of t or t's origin, view the memory that t views?"""
    buf = _viewed_buffer(t.uop)
    group = _VIEWERS.get(buf) if buf is not None else None
    return group is not None and any(o is not t and _viewed_buffer(o.uop) is buf for o in list(group.values()))


def _move_viewers(versions: dict[int, int]) -> None:
    """Every live tensor that views a buffer written in place (directly, or through an assign that
    has run) moves to the buffer's new version: like views of one tensor in PyTorch, it reads the
    new contents from now on, and graphs built on the old contents are not reused for it."""
    from ..tensor import Tensor

    for t in list(Tensor.live.values()):
        u = t.uop
        base = u.base
        if base.op is Ops.DETACH:  # a detached view reads the new version too (the same DETACHes and views over it)
            chain = u.movement_chain()
            while base.op is Ops.DETACH or base.op in GroupOp.Movement:
                chain.append(base)
                base = base.src[0]
            if base.op is Ops.BUFFER and (v := versions.get(id(base.arg[0]))) is not None and base.arg[1] != v:
                t.uop = rebuild_views(chain, UOp(Ops.BUFFER, base.dtype, (), (base.arg[0], v)))
            continue
        if base.op is Ops.ASSIGN and base._realized is not None:
            u = resolve_views(u)
            base = u.base
        if base.op is Ops.BUFFER and (v := versions.get(id(base.arg[0]))) is not None and base.arg[1] != v:
            t.uop = at_version(u, v)


def _slot_buf(slot: tuple[str, int], inputs: list[Buffer], new: list[Buffer]) -> Buffer:
    return inputs[slot[1]] if slot[0] == "in" else new[slot[1]]


def _result_uop(t: UOp, r: TargetResult, inputs: list[Buffer], new: list[Buffer],
                versions: dict[int, int]) -> UOp:
    if r.kind == "same":
        return t
    assert r.slot is not None
    if r.kind == "assign":
        target = resolve(t.src[0])
        return at_version(target, versions[id(target.base.arg[0])])
    if r.slot[0] == "in":  # a view of an assign's result: the same views over the target it wrote
        a = t
        for _ in r.chain:
            a = resolve(a.src[0])
        assert a.op is Ops.ASSIGN
        target = resolve(a.src[0])
        u = at_version(target, versions[id(target.base.arg[0])])
    else:
        buf = _slot_buf(r.slot, inputs, new)
        u = UOp(Ops.BUFFER, buf.dtype, (), (buf, 0)).reshape_to(r.base_shape)
    for op, arg in r.chain:
        u = UOp(op, u.dtype, (u,), arg)
    return u


class BoundPlan:
    """A plan's kernels as one call to the C launcher (runtime/launch.py): their function addresses, trip
    counts and threads, each kernel's buffers as indices into a table of pointers (the plan's inputs, then its
    new buffers) that each run fills. Saves the Python call (argument conversion, ctypes) per kernel."""

    __slots__ = ("items", "keep", "count", "n_inputs", "n_new", "lib", "fn", "items_at", "run_c")

    def __init__(self, items: Any, keep: list[Any], count: int, n_inputs: int, n_new: int, lib: Any):
        self.items, self.keep, self.count, self.lib = items, keep, count, lib
        self.n_inputs, self.n_new = n_inputs, n_new
        # the launcher's entry and the items' address for the C extension's run_table (walk_c.py), when it is built:
        # the same call without ctypes' argument conversion
        self.fn = ctypes.cast(lib.tt_run_table, ctypes.c_void_p).value
        self.items_at = ctypes.addressof(items)
        self.run_c = RUN_TABLE[0] if RUN_TABLE else None

    @staticmethod
    def build(plan: Plan, dev: Any) -> BoundPlan | None:
        """The bound form of plan on dev, or None (no launcher, or a kernel that is not a plain compiled function)."""
        lib = launch.library()
        if lib is None or not plan.kernels or not plan.prepared:
            return None
        items = (launch.TableItem * len(plan.kernels))()
        keep: list[Any] = []
        for i, k in enumerate(plan.kernels):
            runner = dev.runners.get(k.ast)
            addr = runner.launch_address() if isinstance(runner, Runner) else None
            if addr is None:
                return None
            idx = (ctypes.c_int * max(1, len(k.slots)))(*[s[1] if s[0] == "in" else plan.n_inputs + s[1]
                                                          for s in k.slots])
            keep += [idx, runner]  # (the runner holds its loaded library: evicted from the device's cache, it
            # would unload the code at this address)
            items[i] = launch.TableItem(addr, ctypes.addressof(idx), runner.outer_count, len(k.slots), runner.threads)
        return BoundPlan(items, keep, len(plan.kernels), plan.n_inputs, len(plan.new_bufs), lib)

    def run(self, inputs: list[Buffer], new: list[Buffer]) -> None:
        """Run every kernel on these buffers (a table of their addresses per run: threads may share the plan)."""
        if self.run_c is not None:
            self.run_c(self.fn, self.items_at, self.count, inputs if type(inputs) is list else list(inputs), new)
        else:
            table = (ctypes.c_void_p * (self.n_inputs + self.n_new + 1))(*[b.ptr for b in inputs],
                                                                          *[b.ptr for b in new])
            self.lib.tt_run_table(self.items_at, self.count, table)
        STATS["kernels_run"] += self.count


def _run_kernels(plan: Plan, inputs: list[Buffer], dev: Any, bind: bool) -> tuple[list[Buffer], dict[int, int], float]:
    """Run plan's kernels over inputs and new buffers: (the new buffers, {id(input written in place): its new
    version}, seconds measured per kernel under DEBUG >= 2). bind: from its second run on, the plan's kernels go
    to the launcher in one call (a BoundPlan)."""
    new = [Buffer(dev.name, size, dt) for size, dt in plan.new_bufs]
    versions: dict[int, int] = {}
    for bi in plan.assigned_inputs:
        _invalidate(inputs[bi])
        versions[id(inputs[bi])] = next(_VERSIONS)
    bound: BoundPlan | bool | None = plan.bound.get(dev.name) if bind else False
    if bound is None:  # a plan seen twice: its kernels from now on in one launcher call
        bound = plan.bound[dev.name] = BoundPlan.build(plan, dev) or False
    if isinstance(bound, BoundPlan):
        bound.run(inputs, new)
        return new, versions, 0.0
    return new, versions, run_plan(plan, inputs, new, dev)


def run_kept_plan(plan: Plan, inputs: list[Buffer], dev: Any, what: str,
                  targets: Sequence[UOp | None] = ()) -> tuple[list[UOp], dict[int, int]]:
    """Run a plan kept from an earlier realize (`keep`) over new input buffers of the same sizes and dtypes, without
    building or walking a graph: (per target, of the same structure as that realize's, the view over its result as
    realize_uops gives it; {id(buffer written in place): its new version}). Without targets the caller moves the
    tensors it wrote to those versions (`moved_to_versions`). Only outside JIT capture, kernel hooks and DEBUG >= 2
    (`known_plans_allowed`, the caller checks)."""
    t0 = time.perf_counter()
    new, versions, _ = _run_kernels(plan, inputs, dev, True)
    STATS["known_plans"] += 1
    out = _bind(targets, plan, inputs, new, versions) if targets else []
    if DEBUG >= 1 and plan.kernels:
        print(f"realize: {len(plan.kernels)} kernels from {plan.n_ops} ops, no graph ({what}), "
              f"run {(time.perf_counter() - t0) * 1e3:.2f} ms")
    return out, versions


def known_plans_allowed() -> bool:
    """May a kept plan run without a realize now? Not while the JIT captures, kernel or realize hooks observe
    (the profiler, VIZ), DEBUG >= 2 reports kernels, or deferred updates wait for the next realize."""
    return not CAPTURE and not KERNEL_HOOKS and not REALIZE_HOOKS and not DEFERRED and DEBUG.value < 2


def realize_before_writes(tensors: list[Tensor], written: set[int]) -> None:
    """Realize tensors, together with every live lazy tensor that reads one of the buffers (ids) in written:
    what a realize of in-place writes to them would compute first (the eager-semantics rule), done ahead of
    writes run by run_kept_plan."""
    realize_tensors(tensors, lazy_readers([t.uop for t in tensors], written))


def moved_to_versions(written: list[Tensor], versions: dict[int, int]) -> None:
    """After run_kept_plan: each written tensor (a plain view of its buffer) reads its buffer's new version, and
    so does every live tensor that views one of the written buffers."""
    for t in written:
        t.uop = at_version(t.uop, versions[id(t.uop.base.arg[0])])
    _move_viewers(versions)


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
            gbs = kernel_bytes(runner, bufs) / et * 1e-9 if et > 0 else 0.0
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


def realize_tensors(tensors: list[Tensor], also: list[UOp] | None = None) -> None:
    """Compute the tensors not computed yet (and the uops `also`, in the same realize)."""
    todo = [t for t in tensors if not _is_realized(t.uop)]
    if not todo and not also:
        return
    adopt(todo, realize_uops([t.uop for t in todo] + (also or []), todo[0].device if todo else None))


def adopt(tensors: list[Tensor], results: list[UOp]) -> None:
    """Each tensor takes its realized result: a tensor that requires grad keeps its graph (loss.item() before
    loss.backward() must work; its node caches the result); in-place writes always move on to the new version."""
    for t, r in zip(tensors, results):
        if not t._rg or t.uop.op is Ops.ASSIGN:
            t.uop = r


def _is_realized(u: UOp) -> bool:
    if u._realized is not None:
        return True
    base = u.base
    if base.op is Ops.DETACH:  # a detached view of memory is that memory (p.detach().view(-1) follows p's writes)
        return detached_view(u) is not None
    return base.op is Ops.BUFFER and u.op is not Ops.ASSIGN


def detached_view(u: UOp, through_assign: bool = False) -> UOp | None:
    """u without the DETACH nodes among its movement ops when they end at a buffer (or, through_assign, at one an
    assign writes), else None (a lazily computed value)."""
    chain: list[UOp] = []
    while u.op in GroupOp.Movement or u.op is Ops.DETACH:
        if u.op is not Ops.DETACH:
            chain.append(u)
        u = u.src[0]
    return rebuild_views(chain, u) if u.op is Ops.BUFFER or (through_assign and u.op is Ops.ASSIGN) else None


def view_of(u: UOp) -> tuple[Buffer, ViewStack]:
    """The buffer and view under a realized tensor's uop (also a view of a realized node that kept its
    graph, e.g. of a value that requires grad: the views apply over the node's result)."""
    u = resolve_views(u)
    chain = tuple((m.op, m.arg) for m in u.movement_chain())
    base = u.base
    assert base.op is Ops.BUFFER, "view_of: tensor is not realized"
    return base.arg[0], _apply(ViewStack.contiguous(base.shape), chain).simplify()


def to_numpy(t: Tensor) -> np.ndarray:
    t.realize()
    u = resolve(t.uop)
    b = u.src[0] if u.op is Ops.RESHAPE else u
    if b.op is Ops.BUFFER and b.dtype is not dtypes.bfloat16 and b.arg[0].size:  # a whole buffer, row-major
        buf = b.arg[0]
        arr = buf.numpy().reshape(u.shape)
        _export(buf)
        return arr
    if u.base.op is Ops.DETACH:
        u = detached_view(u) or u
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
        if v.contiguous:  # the memory itself, shared with numpy from now on (a copy for bfloat16's bits)
            arr = mem[v.offset:v.offset + v.size].reshape(shape)
            if buf.dtype == dtypes.bfloat16:
                arr = np.array(arr)
            else:
                _export(buf)
        else:
            item = mem.itemsize
            arr = np.array(np.lib.stride_tricks.as_strided(mem[v.offset:], shape=shape,
                                                           strides=tuple(s * item for s in v.strides), writeable=False))
    else:
        c = realize_uops([UOp(Ops.CONTIGUOUS, u.dtype, (u,))], t.device)[0]
        cbuf, _ = view_of(c)
        arr = cbuf.numpy()[:cbuf.size].reshape(shape)
        _export(cbuf)
    if buf.dtype == dtypes.bfloat16:
        arr = (np.asarray(arr).astype(np.uint32) << 16).view(np.float32)
    return arr


def shared_with_numpy(buf: Buffer | None) -> bool:
    """Is this buffer's memory also a numpy array's (made by from_numpy, or handed out by numpy())?"""
    if buf is None:
        return False
    return buf.owner is not None or (buf._mem is not None and raw_id(buf._mem) in ALLOCATOR.exported)


def _export(buf: Buffer) -> None:
    """numpy now shares this memory: it must not go back to the reuse pool. (A wrapped array's memory never goes
    there, and never comes back to the allocator to be forgotten: it is not recorded.)"""
    if buf._mem is not None and buf.owner is None:
        ALLOCATOR.exported.add(raw_id(buf._mem))
