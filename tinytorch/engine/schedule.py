"""The scheduler: cut a tensor graph into kernels.

Takes: the UOps under the tensors being realized.
Produces: a `Plan` — kernel ASTs in run order, each with the buffer slots it reads and
writes, plus the memory plan (intermediate slots reused once dead) and how each target
tensor maps onto the result. A Plan speaks of slots, not of concrete Buffers, so the same
Plan serves every graph of the same structure (see engine/realize.py).

Fusion rules (ARCHITECTURE.md §3):
- elementwise chains fuse, and movement ops are pushed down to the loads as views;
- elementwise producers fuse into a reduce's input, elementwise consumers into its epilogue;
- one reduce per kernel: a reduced value is realized when it is broadcast back (any
  movement op but a reshape), feeds another reduce, meets a second reduce, or has more
  than one consumer;
- ... except a row kernel: reduces over the same trailing axes of the same shape, each result
  broadcast back over exactly those axes (an EXPAND that undoes the reduce), share one kernel
  when a row holds at most _ROW_LIMIT elements. It runs one pass over each row per reduce and
  a last one for the output, so the row is read from memory once and re-read from L1
  (softmax: max, sum of exp, and e / sum in one kernel; layer_norm: mean, variance, output);
- a PAD is pushed only through ops that keep zero at zero; otherwise its source is realized;
- an EXPAND of an expensive elementwise graph realizes it (recompute would cost more than
  a store), unless the graph is a few per-channel values (<= 4096 elements, modest cost);
- ASSIGN and CONTIGUOUS always end a kernel; but an elementwise in-place update read element for element
  by the next elementwise kernel over the same space becomes one more store of that kernel (a multi-output
  kernel: an optimizer step updates both moments and the parameter in one pass, see _merge_updates);
- a kernel holds at most about _KERNEL_COST_LIMIT ops: a longer chain is stored and continued
  in the next kernel (compile time grows faster than the kernel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..helpers import SPLIT_REDUCE, prod
from ..ops.uop import GroupOp, Ops, UOp, toposort
from ..ops.view import ViewStack

# a slot is where a kernel finds a buffer: ("in", i) the i-th input leaf, ("new", j) a planned buffer
Slot = tuple[str, int]


@dataclass
class KernelSpec:
    ast: UOp  # SINK(STORE(DEFINE_GLOBAL(0), VIEW, value))
    slots: list[Slot]  # slots[k] is the buffer of DEFINE_GLOBAL(k); slots[0] is written
    tag: str | None = None  # user source line that created the output
    reads_old: set[Slot] = field(default_factory=set)  # input buffers read as they were before this realize
    reads_nodes: set[int] = field(default_factory=set)  # ids of realized nodes read
    node: int = 0  # id of the realized node this kernel computes
    written: list[Slot] = field(default_factory=list)  # every slot it writes: out_slot, then those of merged updates

    def __post_init__(self) -> None:
        if not self.written:
            self.written = [self.slots[0]]

    @property
    def out_slot(self) -> Slot:
        return self.slots[0]


@dataclass
class TargetResult:
    kind: str  # "same" (already a buffer view), "view" (chain over a slot), "assign"
    slot: Slot | None = None
    base_shape: tuple[int, ...] = ()
    chain: tuple[tuple[Ops, Any], ...] = ()  # movement ops (inner first) over the slot's buffer


@dataclass
class Plan:
    kernels: list[KernelSpec]
    n_inputs: int
    new_bufs: list[tuple[int, Any]]  # (size, dtype) per planned buffer
    results: list[TargetResult]
    assigned_inputs: list[int] = field(default_factory=list)  # input leaves written in place
    n_ops: int = 0
    prepared: bool = False  # the device has built every kernel's runner
    # its kernels as one launcher call (engine/realize.py BoundPlan; False: not possible), per device name
    bound: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


# movement ops we may strip from a target: storing the base is never more work than the view
_CHEAP_VIEW = frozenset({Ops.RESHAPE, Ops.PERMUTE, Ops.EXPAND, Ops.FLIP})
_EXPAND_COST_LIMIT = 8
_PAD_COST = 4
# ... except a few values (per-channel constants: an eval-mode BatchNorm's gamma/sqrt(var+eps)) broadcast
# over a large kernel: they are loop-invariant there (the compiler hoists them out of the pixel loops),
# so folding them in costs less than a kernel launch and keeps conv -> BatchNorm -> relu one kernel
_SMALL_EXPAND, _SMALL_EXPAND_COST_LIMIT = 4096, 64
# ops in a value read by several kernels before it is stored once instead: a store and the reads
# back cost about as much as 40 vector ops per element, so cheaper values are recomputed in each
_SHARE_COST = 40
_SHARE_READ = 12  # ... and a recompute that reads another buffer costs more: each read weighs 12 ops
# ops (transcendentals count 4) fused into one kernel before the value is stored and a new kernel
# starts: a compiler's time grows faster than linearly with a function's size (the backward of a
# 1,000-op elementwise chain as one kernel kept gcc busy for minutes); counted with repetition, so
# a graph that reuses values is cut sooner than a plain chain
_KERNEL_COST_LIMIT = 600
# elements of a row (the reduced axes) up to which reduces over it and their broadcasts share one kernel:
# 4096 float32 are 16 KiB, so the row and its neighbour's prefetch stay in a 32 KiB L1 between passes
_ROW_LIMIT = 4096


def _row_sig(r: UOp) -> tuple[Any, Any]:
    """The row space of a reduce: the shape it reduces and the axes, the same for reduces that may share a kernel."""
    return r.src[0].shape, r.arg[1]


def _row_fits(r: UOp) -> bool:
    """May reduces like r share a row kernel: trailing axes (contiguous rows in the common case) of few elements."""
    full, axes = _row_sig(r)
    return full is not None and axes == tuple(range(len(full) - len(axes), len(full))) and \
        0 < prod(full[a] for a in axes) <= _ROW_LIMIT


def resolve(u: UOp) -> UOp:
    return u._realized if u._realized is not None else u


def _stop(u: UOp) -> bool:
    return u.op is Ops.BUFFER or u._realized is not None


def graph_nodes(roots: list[UOp]) -> list[UOp]:
    """All nodes under roots (realized nodes replaced by their buffer views), sources first."""
    order = toposort(roots, stop=_stop)
    extra = [u._realized for u in order if u._realized is not None]
    if extra:
        order = toposort(extra + roots, stop=_stop)
    return order


class _Builder:
    def __init__(self, targets: list[UOp]):
        self.targets = targets
        self.nodes = graph_nodes(targets)
        self.realize: dict[UOp, None] = {}  # ordered set of nodes that become kernel outputs
        self.leaf_index: dict[int, int] = {}  # id(Buffer) -> input slot
        self.leaf_bufs: list[Any] = []
        self.cur_old: set[Slot] = set()  # filled while one kernel is built
        self.cur_nodes: set[int] = set()

    def src_of(self, u: UOp) -> tuple[UOp, ...]:
        return tuple(resolve(s) for s in u.src)

    def _mark(self, u: UOp) -> None:
        """Realize u (or the base of a cheap view chain over it)."""
        while u.op in _CHEAP_VIEW and u.src[0].op not in (Ops.BUFFER, Ops.CONST):
            u = resolve(u.src[0])
        view_of_leaf = u.op in GroupOp.Movement and u.base.op in (Ops.BUFFER, Ops.CONST)
        if u.op not in (Ops.BUFFER, Ops.CONST) and not view_of_leaf:
            self.realize[u] = None

    def decide(self) -> None:
        red: dict[UOp, UOp | None] = {}
        inrow: dict[UOp, bool] = {}  # a value of the full row space that holds a reduce broadcast back
        cost: dict[UOp, int] = {}
        padsafe: dict[UOp, bool] = {}
        for t in self.targets:
            t = resolve(t)
            while t.op is Ops.DETACH and resolve(t.src[0]).base.op not in (Ops.BUFFER, Ops.CONST):
                t = resolve(t.src[0])  # an identity: the value it wraps is the result (no copy kernel)
            if t.op is Ops.ASSIGN or t.op is Ops.CONTIGUOUS:
                continue
            chain = t
            while chain.op in GroupOp.Movement:
                chain = chain.src[0]
            if chain.op in (Ops.BUFFER,) or chain._realized is not None:
                continue
            if chain.op is Ops.CONST:  # a broadcast constant becomes real memory
                self.realize[t] = None
                continue
            if t.op in GroupOp.Movement and any(u.op not in _CHEAP_VIEW for u in t.movement_chain()):
                self.realize[t] = None
            else:
                self._mark(t)
        for n in self.nodes:
            srcs = self.src_of(n)
            inrow[n] = False
            if n.op in (Ops.BUFFER, Ops.CONST) or n._realized is not None:
                red[n], cost[n], padsafe[n] = None, 0, True
                continue
            if n.op is Ops.REDUCE_AXIS:
                s = srcs[0]
                r = red[s]
                row = r is not None and inrow[s] and _row_sig(r) == (s.shape, n.arg[1])  # the next pass of a row
                if r is not None and not row:
                    self._mark(s)
                red[n], cost[n], padsafe[n] = n, 1 + (cost[s] if row else 0), False
            elif n.op in GroupOp.Movement:
                s = srcs[0]
                r = red[s]
                marked = True  # (_mark may store the base under a chain of views, not s itself)
                if r is not None and n.op is Ops.EXPAND and not inrow[s] and _row_fits(r) and \
                        n.shape == _row_sig(r)[0] and s.shape == r.shape:
                    marked = False  # a reduce broadcast back over its own axes: a row kernel
                    inrow[n] = True
                elif r is not None and (n.op is not Ops.RESHAPE or inrow[s]):
                    self._mark(s)
                elif n.op is Ops.PAD and not padsafe[s]:
                    self._mark(s)
                elif n.op is Ops.EXPAND and cost[s] > _EXPAND_COST_LIMIT and not (
                        cost[s] <= _SMALL_EXPAND_COST_LIMIT and s.shape is not None and prod(s.shape) <= _SMALL_EXPAND):
                    self._mark(s)
                else:
                    marked = False
                fresh = marked or s in self.realize
                red[n] = None if fresh else red[s]
                inrow[n] = not fresh and (inrow[n] or inrow[s])
                cost[n] = 0 if fresh else cost[s]
                if n.op is Ops.PAD:  # a masked read: a bounds test and a select per element (the gradient of a
                    cost[n] += _PAD_COST  # slice: a sum of padded pieces is stored before a matmul re-reads it)
                padsafe[n] = True if fresh else padsafe[s]
            elif n.op in (Ops.ASSIGN, Ops.CONTIGUOUS):
                self.realize[n] = None
                red[n], cost[n], padsafe[n] = None, 0, True
            elif n.op is Ops.DETACH:  # an identity for the scheduler
                s = srcs[0]
                red[n], cost[n], padsafe[n], inrow[n] = red[s], cost[s], padsafe[s], inrow[s]
            else:  # ALU
                withred = [s for s in srcs if red[s] is not None]
                if len({id(red[s]) for s in withred}) > 1:
                    f = withred[0]
                    first = red[f]
                    assert first is not None
                    for s in withred:  # two reduces meet: one kernel when they are passes over the same rows
                        r = red[s]
                        assert r is not None
                        # (plain reduces that meet without a broadcast back, a gather's one-hot sums, stay
                        # kernels of their own: their loads were indexed wrong in a shared row kernel)
                        if r is not first and not (inrow[s] and inrow[f] and _row_sig(r) == _row_sig(first)
                                                   and _row_fits(r)):
                            self._mark(s)
                red[n] = next((red[s] for s in srcs if red[s] is not None and s not in self.realize), None)
                inrow[n] = any(inrow[s] for s in srcs if red[s] is not None and s not in self.realize)
                w = 4 if n.op in GroupOp.Transcendental else 1
                # a memory read costs like an op: a chain that gathers many inputs (a BatchNorm backward)
                # is worth storing before a reduce re-reads it (a convolution reads each input Cout*K times)
                loads = sum(1 for s in srcs if (s in self.realize or cost[s] == 0) and s.base.op is not Ops.CONST)
                cost[n] = w + loads + sum(cost[s] for s in srcs if s not in self.realize)
                if cost[n] > _KERNEL_COST_LIMIT:  # over the cap when counted with repetition: count each op once
                    cost[n] = self._region_cost(n)
                if cost[n] > _KERNEL_COST_LIMIT:  # the size cap: store here, start a new kernel
                    self.realize[n] = None
                padsafe[n] = n.op in GroupOp.ZeroPreserving and all(padsafe[s] or s in self.realize for s in srcs)
            if n in self.realize:
                red[n], cost[n], padsafe[n], inrow[n] = None, 0, True, False
        self._share()

    def _region_cost(self, root: UOp, read: int = 1) -> int:
        """The cost of the kernel that would compute root, each op and each read (weighing `read`) counted
        once (a value used twice in a kernel is computed once there: tanh's polynomial reuses x*x many times)."""
        seen: set[UOp] = set()
        total, stack = 0, [root]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if n is not root and (n in self.realize or n.op in (Ops.BUFFER, Ops.CONST) or n._realized is not None
                                  or n.op is Ops.REDUCE_AXIS):
                total += read if n.base.op is not Ops.CONST else 0
                continue
            if n.op in GroupOp.ALU:
                total += 4 if n.op in GroupOp.Transcendental else 1
            stack.extend(self.src_of(n))
        return total

    def _share(self) -> None:
        """A value that flows into more than one kernel is stored once instead of recomputed in
        each, when it holds a reduce or enough arithmetic (the cost rule). Uses inside one kernel
        (relu reading a reduced value twice) do not count."""
        users: dict[UOp, list[UOp]] = {}
        for n in self.nodes:
            if _stop(n):  # a realized node is a leaf here: its sources are not read
                continue
            for s in dict.fromkeys(self.src_of(n)):
                users.setdefault(s, []).append(n)
        for _ in range(4):  # a new store changes where values flow: settle in a few rounds
            roots: dict[UOp, frozenset[int]] = {}
            for n in reversed(self.nodes):
                us = users.get(n)
                if n in self.realize or not us:
                    roots[n] = frozenset((id(n),))
                else:
                    roots[n] = frozenset().union(*(roots[u] for u in us))
            changed = False
            # what each node still carries, given the stores made so far in this round (a store
            # cuts what it holds from everything above it: relu(matmul) stores the matmul once,
            # not also each compare relu makes of it)
            carry: dict[UOp, bool] = {}
            work: dict[UOp, int] = {}
            for n in self.nodes:
                if n in self.realize or _stop(n) or n.op in (Ops.BUFFER, Ops.CONST):
                    carry[n], work[n] = False, 0 if n.base.op is Ops.CONST else _SHARE_READ  # a read
                    continue
                srcs = self.src_of(n)
                carry[n] = n.op is Ops.REDUCE_AXIS or any(carry.get(s, False) for s in srcs)
                own = 0 if n.op in GroupOp.Movement or n.op is Ops.DETACH else \
                    4 if n.op in GroupOp.Transcendental else 1
                work[n] = own + sum(work.get(s, 0) for s in srcs)
                if n.op in GroupOp.Movement or n.op is Ops.DETACH or len(roots[n]) < 2:
                    continue
                if not carry[n] and work[n] >= _SHARE_COST:  # counted with repetition: count each op once
                    work[n] = self._region_cost(n, read=_SHARE_READ)
                if carry[n] or work[n] >= _SHARE_COST:
                    self.realize[n] = None
                    carry[n], work[n] = False, _SHARE_READ
                    changed = True
            if not changed:
                break

    # kernel ASTs -----------------------------------------------------------------------------
    def leaf_slot(self, buf: Any) -> Slot:
        i = self.leaf_index.get(id(buf))
        if i is None:
            i = self.leaf_index[id(buf)] = len(self.leaf_bufs)
            self.leaf_bufs.append(buf)
        return ("in", i)


def _apply(vs: ViewStack, moves: tuple[tuple[Ops, Any], ...]) -> ViewStack:
    """Apply pending movement ops (listed outermost first) to a view of the leaf."""
    for op, arg in reversed(moves):
        vs = _MOVE[op](vs, arg)
    return vs


_MOVE = {
    Ops.RESHAPE: lambda vs, a: vs.reshape(a), Ops.PERMUTE: lambda vs, a: vs.permute(a),
    Ops.EXPAND: lambda vs, a: vs.expand(a), Ops.PAD: lambda vs, a: vs.pad(a),
    Ops.SHRINK: lambda vs, a: vs.shrink(a), Ops.FLIP: lambda vs, a: vs.flip(a),
}


def _push(moves: tuple[tuple[Ops, Any], ...], op: Ops, arg: Any) -> tuple[tuple[Ops, Any], ...]:
    if op is Ops.RESHAPE and moves and moves[-1][0] is Ops.RESHAPE:
        return moves  # reshape(a) then reshape(b) is reshape(b)
    return (*moves, (op, arg))


def build_kernel(b: _Builder, root: UOp, slot_of: dict[UOp, Slot]) -> KernelSpec:
    """The kernel that computes `root` (a realized node) from loads of other realized nodes."""
    slots: list[Slot] = [slot_of[root]]
    gidx: dict[Slot, int] = {slots[0]: 0}

    def global_for(slot: Slot, dtype: Any) -> UOp:
        if slot not in gidx:
            gidx[slot] = len(slots)
            slots.append(slot)
        return UOp(Ops.DEFINE_GLOBAL, dtype.ptr(), (), gidx[slot])

    value_root = resolve(root.src[1]) if root.op is Ops.ASSIGN else resolve(root.src[0]) \
        if root.op is Ops.CONTIGUOUS else root
    # find the reduces of this kernel to fix the output space: one, or the passes of a row kernel
    reduces: list[UOp] = []
    stack = [value_root]
    seen: set[int] = set()
    while stack:
        u = stack.pop()
        if id(u) in seen or (u is not root and (u in b.realize or _stop(u))):
            continue
        seen.add(id(u))
        if u.op is Ops.REDUCE_AXIS:
            reduces.append(u)
        stack.extend(resolve(s) for s in u.src)
    full = reduces[0].src[0].shape if reduces else None
    row = len(reduces) > 1 or (len(reduces) == 1 and value_root.shape == full != reduces[0].shape)
    out_shape = value_root.shape if not reduces or (row and value_root.shape == full) else reduces[0].shape
    assert out_shape is not None
    holds_reduce: dict[UOp, bool] = {}

    def row_broadcast(u: UOp) -> bool:
        """Is u the EXPAND that broadcasts a per-row value (holding a reduce of this kernel) over the row?"""
        if not row or u.op is not Ops.EXPAND or u.shape != full:
            return False
        src = resolve(u.src[0])
        if src not in holds_reduce:
            holds_reduce[src] = any(n.op is Ops.REDUCE_AXIS for n in toposort(
                [src], stop=lambda n: n is not root and (n in b.realize or _stop(n))))
        return holds_reduce[src]
    top_moves: tuple[tuple[Ops, Any], ...] = ()
    if value_root.shape != out_shape:
        top_moves = ((Ops.RESHAPE, out_shape),)

    # iterative post-order over (node, pending moves)
    memo: dict[tuple[UOp, tuple], UOp] = {}
    work: list[tuple[UOp, tuple, bool]] = [(value_root, top_moves, False)]
    while work:
        u, moves, expanded = work.pop()
        key = (u, moves)
        if key in memo:
            continue
        is_leaf = u is not root and (u in b.realize or _stop(u))
        if is_leaf or u.op in (Ops.BUFFER, Ops.CONST):
            memo[key] = _leaf(b, u, moves, slot_of, global_for)
            continue
        if u.op is Ops.DETACH:
            src = resolve(u.src[0])
            if (src, moves) in memo:
                memo[key] = memo[(src, moves)]
            else:
                work.append((u, moves, True))
                work.append((src, moves, False))
            continue
        if row_broadcast(u):  # kept in the kernel: per-row value -> the whole row
            src = resolve(u.src[0])
            if moves:
                raise RuntimeError("scheduler: a movement op over a row kernel's broadcast value")
            if (src, ()) in memo:
                memo[key] = UOp(Ops.EXPAND, u.dtype, (memo[(src, ())],), u.arg)
            elif expanded:
                raise RuntimeError("scheduler: unresolved row broadcast")
            else:
                work.append((u, moves, True))
                work.append((src, (), False))
            continue
        if u.op in GroupOp.Movement:
            inner = _push(moves, u.op, u.arg)
            src = resolve(u.src[0])
            if (src, inner) in memo:
                memo[key] = memo[(src, inner)]
            elif expanded:
                raise RuntimeError("scheduler: unresolved movement op")
            else:
                work.append((u, moves, True))
                work.append((src, inner, False))
            continue
        child_moves = () if u.op is Ops.REDUCE_AXIS else moves
        kids = [(resolve(s), child_moves) for s in u.src]
        if not expanded:
            work.append((u, moves, True))
            work.extend((s, m, False) for s, m in reversed(kids) if (s, m) not in memo)
            continue
        new_src = tuple(memo[k] for k in kids)
        memo[key] = UOp(u.op, u.dtype, new_src, u.arg)
    value = memo[(value_root, top_moves)]

    if root.op is Ops.ASSIGN:
        target = resolve(root.src[0])
        chain = target.movement_chain()
        base = target.base
        vs = _apply(ViewStack.contiguous(base.shape), tuple((m.op, m.arg) for m in chain))
        if vs.shape != out_shape:
            vs = vs.reshape(out_shape)
        store_vs = vs
    else:
        store_vs = ViewStack.contiguous(root.shape).reshape(out_shape)
    out = UOp(Ops.DEFINE_GLOBAL, root.dtype.ptr(), (), 0)
    store = UOp(Ops.STORE, _void(), (out, UOp(Ops.VIEW, _void(), (), store_vs), value))
    spec = KernelSpec(UOp(Ops.SINK, _void(), (store,)), slots, root._tag or value_root._tag)
    spec.reads_old, spec.reads_nodes, spec.node = set(b.cur_old), set(b.cur_nodes), id(root)
    b.cur_old.clear()
    b.cur_nodes.clear()
    return spec


def _void() -> Any:
    from ..dtype import dtypes

    return dtypes.void


def _leaf(b: _Builder, u: UOp, moves: tuple, slot_of: dict[UOp, Slot], global_for: Any) -> UOp:
    if u.op is Ops.CONST:
        vs = _apply(ViewStack.contiguous(()), moves)
        return UOp(Ops.CONST, u.dtype, (UOp(Ops.VIEW, _void(), (), vs),), u.arg)
    if u.op is Ops.BUFFER:
        slot = b.leaf_slot(u.arg[0])
        vs = _apply(ViewStack.contiguous(u.shape), moves)
        b.cur_old.add(slot)
    elif u.op in GroupOp.Movement and u.base.op is Ops.BUFFER and u not in slot_of:  # a view of an input
        chain = tuple((m.op, m.arg) for m in u.movement_chain())
        slot = b.leaf_slot(u.base.arg[0])
        vs = _apply(ViewStack.contiguous(u.base.shape), (*moves, *chain))
        b.cur_old.add(slot)
    else:
        slot = slot_of[u]
        b.cur_nodes.add(id(u))
        if u.op is Ops.ASSIGN:  # reading an assigned value reads its target through the target's view
            target = resolve(u.src[0])
            vs = _apply(ViewStack.contiguous(target.base.shape),
                        (*moves, *tuple((m.op, m.arg) for m in target.movement_chain())))
        else:
            vs = _apply(ViewStack.contiguous(u.shape), moves)
    g = global_for(slot, u.dtype)
    return UOp(Ops.LOAD, u.dtype, (g, UOp(Ops.VIEW, _void(), (), vs.simplify())))


def split_large_reduces(targets: list[UOp]) -> list[UOp]:
    """Rewrite reduces of many elements into few outputs as two reduces, so both cores work:
    (..., R) -> (..., s, R/s) summed over the last axis, then over s."""
    if not SPLIT_REDUCE:
        return targets
    nodes = graph_nodes(targets)
    repl: dict[UOp, UOp] = {}
    for n in nodes:
        if n.op is not Ops.REDUCE_AXIS:
            if n.src and any(s in repl for s in n.src):
                repl[n] = UOp(n.op, n.dtype, tuple(repl.get(s, s) for s in n.src), n.arg)
            continue
        src = repl.get(n.src[0], n.src[0])
        shape = src.shape
        assert shape is not None and n.shape is not None
        op, axes = n.arg
        rsize = prod(shape[a] for a in axes)
        osize = prod(n.shape)
        trailing = axes == tuple(range(len(shape) - len(axes), len(shape)))
        split = _pick_split(rsize) if osize < 16 and rsize >= 1 << 16 and trailing else 0
        if not split:
            if src is not n.src[0]:
                repl[n] = UOp(n.op, n.dtype, (src,), n.arg)
            continue
        keep = shape[:len(shape) - len(axes)]
        x = src.reshape_to((*keep, split, rsize // split))
        part = UOp(Ops.REDUCE_AXIS, n.dtype, (x,), (op, (len(keep) + 1,)))
        total = UOp(Ops.REDUCE_AXIS, n.dtype, (part,), (op, (len(keep),)))
        repl[n] = total.reshape_to(n.shape)
    return [repl.get(t, t) for t in targets]


def _pick_split(rsize: int) -> int:
    """How many parts a long reduce is cut into: parts of 1024..4096 elements where a divisor allows (a
    float32 sum accumulated over at most 4096 elements keeps about 1e-5 of relative accuracy; one long
    accumulation of 10^6 lost 1.5e-4), else the old power-of-two cut."""
    for s in range(-(-rsize // 4096), rsize // 1024 + 1):
        if rsize % s == 0:
            return s
    for s in (256, 128, 64, 32, 16, 8):
        if rsize % s == 0 and rsize // s >= 1024:
            return s
    return 0


def schedule(targets: list[UOp]) -> tuple[Plan, list[Any]]:
    """Plan the kernels that compute `targets`; also returns the input leaf Buffers."""
    work_targets = split_large_reduces(targets)
    b = _Builder(work_targets)
    b.decide()
    for _ in range(3):
        order = [n for n in b.nodes if n in b.realize]
        # slots: ASSIGN writes its target's buffer; everything else gets a planned buffer
        slot_of: dict[UOp, Slot] = {}
        new_meta: list[tuple[int, Any]] = []
        for n in order:
            if n.op is Ops.ASSIGN:
                slot_of[n] = b.leaf_slot(resolve(n.src[0]).base.arg[0])
            else:
                assert n.shape is not None
                slot_of[n] = ("new", len(new_meta))
                new_meta.append((prod(n.shape), n.dtype))
        kernels = [build_kernel(b, n, slot_of) for n in order]
        # in-place hazards: an ASSIGN kernel that reads its own target other than element-for-element
        # (another view, or inside a reduce) gets its value computed into a fresh buffer first
        hazards = [n for n, k in zip(order, kernels) if n.op is Ops.ASSIGN and _in_place_hazard(k.ast)]
        if not hazards:
            break
        for n in hazards:
            b.realize[resolve(n.src[1])] = None
    kernels = _merge_updates(_order_for_assigns(kernels))
    # results for each original target
    results = []
    target_slots: set[Slot] = set()
    for t in map(resolve, work_targets):
        if t.op is Ops.ASSIGN:
            results.append(TargetResult("assign", slot_of[t]))
            continue
        u, chain = t, []
        while u not in b.realize and (u.op in GroupOp.Movement or u.op is Ops.DETACH):
            if u.op is not Ops.DETACH:
                chain.append((u.op, u.arg))
            u = resolve(u.src[0])
        if u in b.realize:
            assert u.shape is not None
            results.append(TargetResult("view", slot_of[u], u.shape, tuple(reversed(chain))))
            target_slots.add(slot_of[u])
        else:
            results.append(TargetResult("same"))
    new_bufs, remap = _plan_memory(kernels, new_meta, target_slots)
    for k in kernels:
        k.slots = [remap.get(s, s) for s in k.slots]
    for r in results:
        if r.slot is not None:
            r.slot = remap.get(r.slot, r.slot)
    assigned = sorted({slot_of[n][1] for n in order if n.op is Ops.ASSIGN})
    plan = Plan(kernels, len(b.leaf_bufs), new_bufs, results, assigned, len(b.nodes))
    return plan, b.leaf_bufs


def _in_place_hazard(ast: UOp) -> bool:
    """Does a kernel that writes buffer 0 read buffer 0 at an element other than the one it writes?"""
    store = ast.src[0]
    store_vs = store.src[1].arg.simplify()
    for u in toposort([store.src[2]]):
        if u.op is Ops.REDUCE_AXIS and any(x.op is Ops.LOAD and x.src[0].arg == 0 for x in toposort([u])):
            return True
        if u.op is Ops.LOAD and u.src[0].arg == 0 and u.src[1].arg.simplify() != store_vs:
            return True
    return False


def _order_for_assigns(kernels: list[KernelSpec]) -> list[KernelSpec]:
    """Kernels that read a buffer before it is overwritten in place must run first."""
    writes: dict[Slot, list[int]] = {}
    for i, k in enumerate(kernels):
        if k.out_slot[0] == "in":
            writes.setdefault(k.out_slot, []).append(i)
    if not writes:
        return kernels
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(range(len(kernels)))
    producer = {k.node: i for i, k in enumerate(kernels)}
    for i, k in enumerate(kernels):
        for n in k.reads_nodes:
            g.add_edge(producer[n], i)
    for i, k in enumerate(kernels):
        for s in k.reads_old:
            for w in writes.get(s, []):
                if w != i and not nx.has_path(g, w, i):
                    g.add_edge(i, w)  # read the old value before any in-place write
    for i, k in enumerate(kernels):  # a reader of one written version runs before the next write
        for n in k.reads_nodes:
            p = producer[n]
            for w in writes.get(kernels[p].out_slot, []):
                if w not in (p, i) and nx.has_path(g, p, w) and not nx.has_path(g, w, i):
                    g.add_edge(i, w)
    if not nx.is_directed_acyclic_graph(g):
        raise RuntimeError("scheduler: in-place writes form a cycle (a value is read both before and after "
                           "the same assign); realize one of the tensors first")
    order = list(nx.lexicographical_topological_sort(g, key=lambda i: i))
    return [kernels[i] for i in order]


def _substitute(roots: list[UOp], repl: dict[UOp, UOp]) -> list[UOp]:
    """roots with the nodes in repl replaced (iteratively, sources first)."""
    new: dict[UOp, UOp] = {}
    for u in toposort(roots):
        if u in repl:
            new[u] = repl[u]
        elif u.src and any(new[x] is not x for x in u.src):
            new[u] = UOp(u.op, u.dtype, tuple(new[x] for x in u.src), u.arg)
        else:
            new[u] = u
    return [new[r] for r in roots]


def _elementwise_stores(k: KernelSpec) -> bool:
    return not any(u.op is Ops.REDUCE_AXIS for u in toposort([k.ast]))


def _merge_into(k1: KernelSpec, k2: KernelSpec) -> UOp | None:
    """k2's AST that also stores k1's value (k1's buffers renumbered into k2's, k2's reads of k1's output
    replaced by the value itself), or None when the two cannot share a kernel: another loop space, a read
    of k1's output other than element for element, or a buffer read at another element than it is written."""
    stores1, stores2 = list(k1.ast.src), list(k2.ast.src)
    view1 = stores2[-1].src[1].arg.simplify()
    if any(st.src[1].arg.simplify() != view1 or st.src[0].dtype != stores2[-1].src[0].dtype for st in stores1):
        return None
    slots = list(k2.slots)
    for s in k1.slots:
        if s not in slots:
            slots.append(s)
    glob = {g: UOp(Ops.DEFINE_GLOBAL, g.dtype, (), slots.index(k1.slots[g.arg]))
            for g in toposort([k1.ast]) if g.op is Ops.DEFINE_GLOBAL}
    stores1 = _substitute(stores1, glob)
    value1 = {st.src[0].arg: st.src[2] for st in stores1}  # buffer -> the value k1 stores there
    repl: dict[UOp, UOp] = {}
    for u in toposort(stores2):
        if u.op is Ops.LOAD and u.src[0].op is Ops.DEFINE_GLOBAL and u.src[0].arg in value1:
            if u.src[1].arg.simplify() != view1 or u.dtype != value1[u.src[0].arg].dtype:
                return None
            repl[u] = value1[u.src[0].arg]
    stores = [*stores1, *_substitute(stores2, repl)]
    written = {st.src[0].arg: st.src[1].arg.simplify() for st in stores}
    for u in toposort(stores):  # what is read of a written buffer is the element being written (its old value)
        if u.op is Ops.LOAD and u.src[0].arg in written and u.src[1].arg.simplify() != written[u.src[0].arg]:
            return None
    if len(toposort(stores)) > _KERNEL_COST_LIMIT:  # (compile time grows faster than the kernel)
        return None
    k2.slots[:] = slots
    return UOp(Ops.SINK, _void(), tuple(stores))


def _merge_updates(kernels: list[KernelSpec]) -> list[KernelSpec]:
    """Multi-output kernels, over elementwise kernels of the same loop space:
    - an in-place update (an ASSIGN: an optimizer's moment) whose value a later kernel reads element for
      element (the parameter's update) becomes one more store of that kernel, at the reader's place: safe when
      no kernel in between reads what it writes or writes what it reads;
    - two independent ones (the step counts of several parameters) become one kernel at the earlier one's
      place: safe when no kernel in between writes what the later reads or touches what it writes.
    The kernel that gives up its own kernel writes input buffers only (its writes need no planned memory)."""
    out: list[KernelSpec] = []
    ew: dict[int, bool] = {}

    def elementwise(k: KernelSpec) -> bool:
        if id(k) not in ew:
            ew[id(k)] = _elementwise_stores(k)
        return ew[id(k)]

    for k2 in kernels:
        i = len(out) - 1
        while elementwise(k2) and i >= 0:
            k1 = out[i]
            w1, w2, s1, s2 = set(k1.written), set(k2.written), set(k1.slots), set(k2.slots)
            if k1.ast.src[-1].src[1] is not k2.ast.src[-1].src[1] or w1 & w2 or any(s[0] != "in" for s in w1) \
                    or not elementwise(k1):
                i -= 1
                continue
            between = out[i + 1:]
            if w1 & s2:  # k2 reads what k1 writes
                merged = not any(w1 & set(b.slots) or set(b.written) & s1 for b in between) and _merge_into(k1, k2)
                if merged:
                    k2.ast = merged
                    k2.reads_nodes = (k2.reads_nodes - {k1.node}) | k1.reads_nodes
                    k2.reads_old |= k1.reads_old
                    k2.written = [*k1.written, *k2.written]
                    del out[i]
            elif not w2 & s1 and not any(set(b.written) & s2 or w2 & set(b.slots) for b in between):
                merged = _merge_into(k1, k2)
                if merged:
                    k2.ast = merged
                    k2.reads_nodes |= k1.reads_nodes
                    k2.reads_old |= k1.reads_old
                    k2.written = [*k1.written, *k2.written]
                    out[i] = k2
                    ew[id(k2)] = True
                    k2 = None  # type: ignore[assignment]
                    break
            i -= 1
        if k2 is not None:
            out.append(k2)
    return out


def _plan_memory(kernels: list[KernelSpec], meta: list[tuple[int, Any]],
                 keep: set[Slot]) -> tuple[list[tuple[int, Any]], dict[Slot, Slot]]:
    """Give intermediates that are dead by the time a new one is written the same buffer."""
    last_use: dict[Slot, int] = {}
    for i, k in enumerate(kernels):
        for s in k.slots:
            last_use[s] = i
    free: dict[tuple[int, Any], list[int]] = {}
    out: list[tuple[int, Any]] = []
    remap: dict[Slot, Slot] = {}
    for i, k in enumerate(kernels):
        s = k.out_slot
        if s[0] == "new" and s not in remap:
            size, dt = meta[s[1]]
            key = (size * dt.itemsize, dt)
            pool = free.get(key)
            if s not in keep and pool:
                remap[s] = ("new", pool.pop())
            else:
                remap[s] = ("new", len(out))
                out.append((size, dt))
        for t in k.slots:
            if t[0] == "new" and last_use.get(t) == i and t not in keep and t in remap:
                size, dt = meta[t[1]]
                free.setdefault((size * dt.itemsize, dt), []).append(remap[t][1])
    return out, remap
