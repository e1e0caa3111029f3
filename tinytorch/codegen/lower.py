"""Lowering: a kernel AST plus its `Opts` becomes a linear program of UOps.

Takes: `Kernel` (codegen/kernel.py) and `Opts` (codegen/opt.py).
Produces: an ordered list of UOps — DEFINE_GLOBAL/DEFINE_VAR parameters, RANGE ... ENDRANGE
loops, DEFINE_ACC accumulators, LOAD/STORE with index arithmetic from the views, ALU ops
on scalars or SIMD vectors — that a renderer turns into text line by line.

Unrolled axes are expanded into straight-line code per unroll position ("combo"); the
vector axis becomes lanes. A load whose view has stride 1 along the lane axis is one vector
load, stride 0 is a scalar load broadcast, anything else is gathered lane by lane.
Half-precision values are computed in float32 and rounded when stored. A LOAD of dtype void is a
prefetch: the cache line of its address is fetched (to be written), no value comes of it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from ..dtype import DType, dtypes
from ..ops import sym
from ..ops.uop import GroupOp, Ops, UOp, toposort
from .kernel import Kernel
from .opt import Opts, partials_fit_output

IDX = dtypes.index
_HALF = (dtypes.float16, dtypes.bfloat16)


def compute_dtype(dt: DType) -> DType:
    return dtypes.float32 if dt.scalar in _HALF else dt.scalar


def identity(op: Ops, dt: DType) -> Any:
    if op is Ops.ADD:
        return 0.0 if dt.is_float else 0
    if op is Ops.MUL:
        return 1.0 if dt.is_float else 1
    return dt.min


# A row kernel's output pass reads a value of its last reduce pass back from the output instead of computing it
# again when that costs more than _KEEP_ABOVE: ALU ops count 1 each, except these (a polynomial or a divide).
_RECOMPUTE_COST = {Ops.EXP2: 24, Ops.LOG2: 24, Ops.SIN: 24, Ops.SQRT: 8, Ops.RECIPROCAL: 8, Ops.IDIV: 8, Ops.MOD: 8}
_KEEP_ABOVE = 3

# bytes of a cache line: what one prefetch fetches
CACHE_LINE = 64

# values that may be computed once before the loops when every source is loop-invariant
_HOISTABLE = GroupOp.ALU | {Ops.LOAD, Ops.CONST, Ops.VECTORIZE, Ops.GEP}


class Emitter:
    """Appends UOps in dependency order; a loop's body is a scope, forgotten at its end.

    A value that depends on no loop (a scalar read with a constant index, math on such reads: an
    optimizer's bias correction, a norm's scale) goes to the preamble, computed once per call instead of
    once per element. `hoist_from` is the program length at which the preamble starts (None: no hoisting)."""

    def __init__(self) -> None:
        self.prog: list[UOp] = []
        self.scopes: list[set[UOp]] = [set()]
        self.pre: list[UOp] = []
        self.invariant: set[UOp] = set()
        self.hoist_from: int | None = None
        self.no_hoist: set[UOp] = set()  # the buffer the kernel writes: its reads stay where they are

    def visible(self, u: UOp) -> bool:
        return any(u in s for s in self.scopes)

    def _is_invariant(self, n: UOp) -> bool:
        if n.op in (Ops.DEFINE_GLOBAL, Ops.DEFINE_VAR):
            return True
        if self.hoist_from is None or n.op not in _HOISTABLE or (n.op is Ops.LOAD and n.src[0] in self.no_hoist):
            return False
        return all(s in self.invariant for s in n.src)

    def emit(self, u: UOp) -> UOp:
        if self.visible(u):
            return u
        for n in toposort([u], stop=self.visible):
            if not self.visible(n):
                if self._is_invariant(n):
                    self.invariant.add(n)
                    if n.op not in (Ops.DEFINE_GLOBAL, Ops.DEFINE_VAR):  # (the parameters come first anyway)
                        self.pre.append(n)
                        self.scopes[0].add(n)
                        continue
                self.prog.append(n)
                self.scopes[-1].add(n)
        return u

    def program(self) -> list[UOp]:
        """The program with the preamble placed after the parameters."""
        if self.hoist_from is None:
            return self.prog
        return self.prog[:self.hoist_from] + self.pre + self.prog[self.hoist_from:]

    def statement(self, u: UOp) -> None:
        for s in u.src:
            self.emit(s)
        self.prog.append(u)
        self.scopes[-1].add(u)

    def open(self, rng: UOp) -> None:
        for s in rng.src:
            self.emit(s)
        self.prog.append(rng)
        self.scopes.append({rng})

    def close(self, rng: UOp) -> None:
        self.prog.append(UOp(Ops.ENDRANGE, dtypes.void, (rng,)))
        self.scopes.pop()

    def begin(self) -> None:
        """A scope without a loop: what is emitted until `end` is not reused after it."""
        self.scopes.append(set())

    def end(self) -> None:
        self.scopes.pop()


@dataclass
class _Ahead:
    """A row kernel's first pass over the next row, run inside a later pass over this one (lower_rows_pipelined)."""
    red: UOp  # the first reduce
    pre: list[UOp]  # its values over the row
    at: UOp  # the index of the next row
    carry: UOp  # the accumulator that carries its total from each row to the next
    accs: list[UOp] = field(default_factory=list)  # its accumulators in the pass that runs it


class _Lowerer:
    def __init__(self, k: Kernel, opts: Opts):
        self.k, self.o = k, opts
        self.em = Emitter()
        self.n = len(k.shape)
        # an unrolled (non-lane) axis may be ragged: its last step runs past the end, so loads
        # clamp that coordinate and stores are guarded
        self.count = [-(-k.shape[a] // opts.factor(a)) for a in range(self.n)]
        self.ragged = {a for a in range(self.n) if k.shape[a] % opts.factor(a)}
        assert opts.vec_axis not in self.ragged or opts.vec_axis is None
        self.rng: dict[int, UOp | None] = {}
        self.outer_count = 1
        self.acc_id = 0
        self.in_epilogue = False
        self.packed: dict[UOp, UOp] = {}  # a packed load -> the scratch array holding its panel
        self.packed_rows: dict[UOp, UOp] = {}  # a packed broadcast load (cache blocking) -> its block's scratch array
        self.panel_k: UOp | None = None  # a lane panel's reduce step in its packed block (cache blocking), else None
        self.chunk_k: UOp | None = None  # the step within a reduce chunk (cache blocking)
        self.row_in_block: UOp | None = None  # the register tile within a rows block (cache blocking)
        self.chunk = 0  # reduce steps per chunk (cache blocking)
        self._bool_views = {u.src[1] for u in k.loads() if u.dtype.is_bool}
        if k.store.src[0].dtype.scalar.is_bool:
            self._bool_views.add(k.store.src[1])
        self.pack = self.packable(opts.pack)
        self.blocked = self.blockable()

    # indices -------------------------------------------------------------------------------
    def axis_idx(self, a: int, u: int, lane: int) -> UOp:
        r = self.rng.get(a)
        base = sym.mul(r, self.o.factor(a)) if r is not None else sym.const(0)
        step = self.o.width if a == self.o.vec_axis else 1
        return sym.add(base, sym.const(u * step + lane))

    def idxs(self, combo: dict[int, int], lane: int = 0) -> list[UOp]:
        out = [self.axis_idx(a, combo.get(a, 0), lane if a == self.o.vec_axis else 0) for a in range(self.n)]
        if self.in_epilogue:  # after the reduce loops: their axes are at 0 (views there are broadcast along them)
            out[self.k.n_global:] = [sym.const(0)] * (self.n - self.k.n_global)
        for a in self.ragged:  # clamp: min(i, size-1)
            last = sym.const(self.k.shape[a] - 1)
            out[a] = UOp(Ops.WHERE, IDX, (sym.lt(out[a], sym.const(self.k.shape[a])), out[a], last))
        return out

    def ragged_guard(self, combo: dict[int, int]) -> UOp | None:
        g = None
        for a in sorted(self.ragged):
            g = sym.and_(g, sym.lt(self.axis_idx(a, combo.get(a, 0), 0), sym.const(self.k.shape[a])))
        return sym.simplify(g) if g is not None else None

    def lane_mode(self, view: UOp, store: bool = False) -> str:
        if self.o.vec_axis is None:
            return "scalar"
        vs = self.k.views[view]
        # a store writes whole vectors only where its view is one unmasked run along the lanes
        st = vs.real_strides()[self.o.vec_axis] if store else vs.index_strides()[self.o.vec_axis]
        if st == 1 and view in self._bool_views:
            return "gather"  # bool lanes are wider in registers than in memory
        if st == 0 and vs.masked and vs.real_strides()[self.o.vec_axis] != 0:
            return "gather"  # one address, but the mask may differ lane by lane
        return "bcast" if st == 0 else "vec" if st == 1 else "gather"

    def lane_valid(self, view: UOp, combo: dict[int, int], valid: UOp | None) -> UOp | None:
        """The validity of a vector access whose lanes are consecutive elements: one condition when all
        lanes share it, else a vector of per-lane conditions (a masked vector load)."""
        if not self.k.views[view].masked:
            return valid
        lanes = [valid] + [self.index(view, combo, lane)[1] for lane in range(1, self.o.width)]
        if all(v is lanes[0] for v in lanes):
            return valid
        true = sym.const(True)
        return UOp(Ops.VECTORIZE, dtypes.bool.vec(self.o.width), tuple(true if v is None else v for v in lanes))

    def index(self, view: UOp, combo: dict[int, int], lane: int = 0) -> tuple[UOp, UOp | None]:
        idx, valid = self.k.views[view].expr(self.idxs(combo, lane))
        idx = sym.simplify(idx)
        if valid is not None:
            valid = sym.simplify(valid)
            if valid.op is Ops.CONST and valid.arg is True:
                valid = None
        return idx, valid

    # values ---------------------------------------------------------------------------------
    def vec(self, u: UOp) -> UOp:
        """Broadcast a scalar to the lane count."""
        if u.dtype.count > 1 or self.o.width == 1:
            return u
        return UOp(Ops.VECTORIZE, u.dtype.vec(self.o.width), (u,) * self.o.width)

    def load(self, node: UOp, combo: dict[int, int]) -> UOp:
        buf, view = node.src
        dt = node.dtype.scalar
        mode = self.lane_mode(view)
        if node in self.packed and not self.in_epilogue:
            out = UOp(Ops.LOAD, dt.vec(self.o.width), (self.packed[node], self.panel_index(combo)))
        elif node in self.packed_rows and not self.in_epilogue:
            out = UOp(Ops.LOAD, dt, (self.packed_rows[node], self.block_index(combo)))
        elif mode == "gather":
            out = self.gather(buf, dt, view, combo)
        else:
            idx, valid = self.index(view, combo)
            ldt = dt.vec(self.o.width) if mode == "vec" else dt
            if mode == "vec":
                valid = self.lane_valid(view, combo, valid)
            out = self._load1(buf, ldt, idx, valid)
        cdt = compute_dtype(dt)
        return UOp(Ops.CAST, cdt.vec(out.dtype.count), (out,)) if cdt != dt else out

    def _load1(self, buf: UOp, dt: DType, idx: UOp, valid: UOp | None) -> UOp:
        if valid is not None and valid.op is Ops.CONST and valid.arg is False:
            return UOp(Ops.CONST, dt, (), identity(Ops.ADD, dt) if dt.count == 1 else 0) if dt.count == 1 else \
                UOp(Ops.VECTORIZE, dt, (UOp(Ops.CONST, dt.scalar, (), 0),) * dt.count)
        return UOp(Ops.LOAD, dt, (buf, idx) if valid is None else (buf, idx, valid))

    def gather(self, buf: UOp, dt: DType, view: UOp, combo: dict[int, int]) -> UOp:
        """A vector of dt read lane by lane (each lane its own address)."""
        return UOp(Ops.VECTORIZE, dt.vec(self.o.width),
                   tuple(self._load1(buf, dt, *self.index(view, combo, lane)) for lane in range(self.o.width)))

    def const(self, node: UOp, combo: dict[int, int]) -> UOp:
        dt = compute_dtype(node.dtype)
        c = UOp(Ops.CONST, dt, (), node.arg if not dt.is_float else float(node.arg))
        if not node.src or self.k.views[node.src[0]].view.mask is None and len(self.k.views[node.src[0]].views) == 1:
            return c
        view = node.src[0]
        zero = UOp(Ops.CONST, dt, (), 0.0 if dt.is_float else (False if dt.is_bool else 0))
        if self.lane_mode(view) == "gather":
            lanes = []
            for lane in range(self.o.width):
                _, valid = self.index(view, combo, lane)
                lanes.append(c if valid is None else UOp(Ops.WHERE, dt, (valid, c, zero)))
            return UOp(Ops.VECTORIZE, dt.vec(self.o.width), tuple(lanes))
        _, valid = self.index(view, combo)
        return c if valid is None else UOp(Ops.WHERE, dt, (valid, c, zero))

    def alu(self, node: UOp, srcs: list[UOp]) -> UOp:
        w = max(s.dtype.count for s in srcs)
        if w > 1:
            srcs = [self.vec(s) for s in srcs]
        out = compute_dtype(node.dtype)
        if node.op is Ops.CAST and node.dtype.scalar in _HALF:  # round through the half type, compute in float32
            half = UOp(Ops.CAST, node.dtype.scalar.vec(w), (srcs[0],))
            return UOp(Ops.CAST, out.vec(w), (half,))
        if node.op is Ops.CAST and srcs[0].dtype.scalar == out:
            return srcs[0]
        return UOp(node.op, out.vec(w), tuple(srcs), node.arg)

    def eval(self, nodes: list[UOp], combo: dict[int, int], vals: dict[UOp, UOp]) -> None:
        for u in nodes:
            if u in vals or u.op is Ops.VIEW or u.op is Ops.DEFINE_GLOBAL:
                continue
            if u.op is Ops.LOAD:
                vals[u] = self.load(u, combo)
            elif u.op is Ops.CONST:
                vals[u] = self.const(u, combo)
            elif u.op in GroupOp.ALU:
                vals[u] = self.alu(u, [vals[s] for s in u.src])
            else:
                raise NotImplementedError(f"lower: cannot lower {u.op} inside a kernel")

    # the program -----------------------------------------------------------------------------
    def combos(self, axes: list[int]) -> list[dict[int, int]]:
        ax = [a for a in axes if self.o.unroll_of(a) > 1]
        return [dict(zip(ax, c)) for c in itertools.product(*[range(self.o.unroll_of(a)) for a in ax])]

    def lower(self) -> list[UOp]:
        k, o, em = self.k, self.o, self.em
        globals_ = sorted({u for u in toposort([k.ast]) if u.op is Ops.DEFINE_GLOBAL}, key=lambda u: u.arg)
        for g in globals_:
            em.emit(g)
        # the outer loop's slice [core_start, core_end) lies within its trip count: bounds the index
        # arithmetic can use (x % 8 over an outer axis of 8 folds away)
        trips = next((self.count[a] for a in o.order if self.count[a] != 1), 1 << 40)
        if self.blocked:
            trips = -(-self.count[1] // self.lane_block())
        start = UOp(Ops.DEFINE_VAR, IDX, (), ("core_start", 0, trips))
        end = UOp(Ops.DEFINE_VAR, IDX, (), ("core_end", 0, trips))
        em.emit(start)
        em.emit(end)
        if all(n > 0 for n in k.shape):  # (an empty kernel reads nothing, not even once)
            em.no_hoist = {st.src[0] for st in k.stores}
            em.hoist_from = len(em.prog)
        if self.blocked:
            return self.lower_blocked(start, end)
        if self.row_pipelined():
            return self.lower_rows_pipelined(start, end)
        ng = k.n_global
        opened: list[UOp] = []
        first = True
        pack_after = self.pack_point()
        if pack_after is None:
            self.lower_pack()
        for a in o.order:
            if self.count[a] == 1:  # (a size-0 axis keeps its loop: it runs zero times)
                self.rng[a] = None
                continue
            if first:
                r = UOp(Ops.RANGE, IDX, (start, end), a)
                self.outer_count, first = self.count[a], False
            else:
                r = UOp(Ops.RANGE, IDX, (sym.const(0), sym.const(self.count[a])), a)
            self.rng[a] = r
            em.open(r)
            opened.append(r)
            if a == pack_after:
                self.lower_pack()
        if k.row:  # several passes over each output row
            self.lower_rows()
            for r in reversed(opened):
                em.close(r)
            return em.program()
        gcombos = self.combos(list(range(ng)))
        red_vals: dict[int, UOp] = {}
        if k.reduce is not None:
            red_vals = self.lower_reduce(gcombos)
        self.in_epilogue = True
        for gi, combo in enumerate(gcombos):
            guard = self.ragged_guard(combo)
            if guard is not None and guard.op is Ops.CONST and guard.arg is True:
                guard = None
            vals: dict[UOp, UOp] = {}
            if k.reduce is not None:
                vals[k.reduce] = red_vals[gi]
            self.eval(k.epilogue, combo, vals)
            for buf, view, value in (st.src for st in k.stores):  # (several: an update of a parameter and its state)
                mode = self.lane_mode(view, store=True) if o.vec_axis is not None and o.vec_axis < ng else "scalar"
                self.store(buf, view, vals[value], combo, mode, guard)
        for r in reversed(opened):
            em.close(r)
        return em.program()

    # packed panels ----------------------------------------------------------------------------------
    def packable(self, pack: tuple[int, ...]) -> tuple[int, ...]:
        """The requested loads that a panel can hold (whatever Opts a search tries): read inside the one
        reduce loop, as whole vectors along output lanes, unmasked, with that loop not unrolled."""
        k, o = self.k, self.o
        if not pack or o.vec_axis is None or o.vec_axis >= k.n_global or self.n != k.n_global + 1 or \
                o.unroll_of(self.n - 1) > 1 or any(s == 0 for s in k.shape):
            return ()
        loads = k.loads()
        return tuple(i for i in pack if 0 <= i < len(loads) and loads[i] in k.pre_reduce and
                     loads[i].dtype.count == 1 and not k.views[loads[i].src[1]].masked and
                     self.lane_mode(loads[i].src[1]) in ("vec", "gather"))

    def pack_point(self) -> int | None:
        """The global loop after whose opening the packed panels are copied: the innermost one their
        addresses depend on (None: before every loop)."""
        if not self.pack:
            return None
        loads = self.k.loads()
        strides = [self.k.views[loads[i].src[1]].index_strides() for i in self.pack]
        deps = [a for a in self.o.order if self.count[a] != 1 and any(st[a] != 0 for st in strides)]
        return deps[-1] if deps else None

    def panel_index(self, combo: dict[int, int]) -> UOp:
        """Where a tile's vector sits in a packed panel: reduce step by panel width, then the vector."""
        assert self.o.vec_axis is not None
        red = self.panel_k if self.panel_k is not None else self.rng.get(self.n - 1)
        width = self.o.factor(self.o.vec_axis)
        step = sym.mul(red, width) if red is not None else sym.const(0)
        return sym.add(step, sym.const(combo.get(self.o.vec_axis, 0) * self.o.width))

    def lower_pack(self) -> None:
        """Copy each packed operand's panel (every reduce step by the tile's lanes) into a scratch array, in
        the order the reduce loop reads it: contiguous, so that loop streams through cache lines it uses whole."""
        if not self.pack:
            return
        k, o, em = self.k, self.o, self.em
        assert o.vec_axis is not None
        red = self.n - 1
        loads = k.loads()
        for i in self.pack:
            node = loads[i]
            buf, view = node.src
            dt = node.dtype.scalar
            local = UOp(Ops.DEFINE_LOCAL, dt, (), (len(self.packed), k.shape[red] * o.factor(o.vec_axis)))
            em.statement(local)
            r = UOp(Ops.RANGE, IDX, (sym.const(0), sym.const(k.shape[red])), 1000 + len(self.packed))
            saved = self.rng.get(red)
            self.rng[red] = r
            em.open(r)
            gather = self.lane_mode(view) == "gather"  # (a transposed operand: lane by lane, each read in order)
            for v in range(o.unroll_of(o.vec_axis)):
                combo = {o.vec_axis: v}
                val = self.gather(buf, dt, view, combo) if gather else \
                    self._load1(buf, dt.vec(o.width), *self.index(view, combo))
                em.statement(UOp(Ops.STORE, dtypes.void, (local, self.panel_index(combo), val)))
            em.close(r)
            self.rng[red] = saved
            self.packed[node] = local

    # cache blocking --------------------------------------------------------------------------------
    def blockable(self) -> bool:
        """Whether the Opts' cache blocking applies: a 2-d product (rows, lanes; one reduce axis, not unrolled) with
        its lane operand packed, rows outermost after the lanes, and partial sums that the output can hold between
        reduce chunks (opt.partials_fit_output) when there is more than one chunk."""
        k, o = self.k, self.o
        if o.kc <= 0 or o.mc <= 0 or k.row or k.reduce is None or self.n != 3 or k.n_global != 2 or \
                o.vec_axis != 1 or o.order != (1, 0) or not self.pack or 0 in k.shape or 1 in self.ragged:
            return False
        loads = k.loads()
        if not any(self.lane_mode(loads[i].src[1]) == "vec" for i in self.pack):
            return False
        if -(-k.shape[2] // o.kc) > 1 and not partials_fit_output(k):
            return False
        return self.lane_mode(k.store.src[1], store=True) == "vec"

    def lane_block(self) -> int:
        """Lane tiles per block of the lane axis: Opts.nc, else one block per thread."""
        return self.o.nc if self.o.nc > 0 else -(-self.count[1] // max(1, self.o.threads))

    def block_index(self, combo: dict[int, int]) -> UOp:
        """Where a tile row's value sits in a packed rows block: row of the block, then the step in the chunk."""
        assert self.row_in_block is not None and self.chunk_k is not None
        row = sym.add(sym.mul(self.row_in_block, self.o.factor(0)), sym.const(combo.get(0, 0)))
        return sym.add(sym.mul(row, self.chunk), self.chunk_k)

    def lower_blocked(self, start: UOp, end: UOp) -> list[UOp]:
        """A cache-blocked 2-d product (BLIS's loop nest over the reduce kernel). Loops, outermost first: lane blocks
        (split across threads), reduce chunks (the lane operand's block over the chunk packed, panel after panel),
        rows blocks (the broadcast operand's block packed row by row), lane tiles, row tiles, the chunk's reduce
        steps. A tile's accumulators start from zero while its output lines are prefetched; after its reduce steps,
        a chunk after the first adds the partial sums in the output (so a sum is rounded once more per chunk than
        in the unblocked loop); the epilogue and the final store run after the last chunk."""
        k, o, em = self.k, self.o, self.em
        R, V, K = 0, 1, 2
        size_k, kc, mc, nv = k.shape[K], min(o.kc, k.shape[K]), o.mc, self.lane_block()
        chunks, blocks, rows, panel = -(-size_k // kc), -(-self.count[R] // mc), o.factor(R), o.factor(V)
        self.chunk = kc
        loads = k.loads()
        lane_packs = [i for i in self.pack if self.lane_mode(loads[i].src[1]) == "vec"]
        row_packs = [i for i in o.pack if 0 <= i < len(loads) and i not in lane_packs and loads[i] in k.pre_reduce and
                     self.lane_mode(loads[i].src[1]) == "bcast" and loads[i].dtype.count == 1 and
                     not k.views[loads[i].src[1]].masked]
        self.pack = tuple(lane_packs)

        def upto(n: int, first: UOp, total: int) -> UOp:  # min(n, total - first): a block's trip count
            left = sym.simplify(sym.add(sym.const(total), sym.mul(first, -1)))
            return UOp(Ops.WHERE, IDX, (sym.lt(left, sym.const(n)), left, sym.const(n)))

        def loop(lo: UOp, hi: UOp, arg: int) -> UOp:
            # (bounds simplified now: an index simplified later must find this very loop among its sources)
            r = UOp(Ops.RANGE, IDX, (lo, sym.simplify(hi)), arg)
            em.open(r)
            return r

        def local(node: UOp, size: int) -> UOp:
            u = UOp(Ops.DEFINE_LOCAL, node.dtype.scalar, (), (len(self.packed) + len(self.packed_rows), size))
            em.statement(u)
            return u

        self.outer_count = -(-self.count[V] // nv)
        vb = loop(start, end, 2000 + V)
        kb = loop(sym.const(0), sym.const(chunks), 2000 + K) if chunks > 1 else None
        v0 = sym.mul(vb, nv)
        k0 = sym.mul(kb, kc) if kb is not None else sym.const(0)
        klen = upto(kc, k0, size_k) if chunks > 1 else sym.const(size_k)
        vlen = upto(nv, v0, self.count[V])
        # the lane operand's block over this chunk: panel by panel, each reduce step's lanes side by side
        for i in self.pack:
            node = loads[i]
            buf, view = node.src
            dt = node.dtype.scalar
            buf_local = local(node, nv * kc * panel)
            jv = loop(sym.const(0), vlen, 1000 + i)
            kk = loop(sym.const(0), klen, 1100 + i)
            self.rng[V], self.rng[K], self.panel_k = sym.add(v0, jv), sym.add(k0, kk), sym.add(sym.mul(jv, kc), kk)
            for v in range(o.unroll_of(V)):
                idx, valid = self.index(view, {V: v})
                em.statement(UOp(Ops.STORE, dtypes.void, (buf_local, self.panel_index({V: v}),
                                                           self._load1(buf, dt.vec(o.width), idx, valid))))
            em.close(kk)
            em.close(jv)
            self.packed[node] = buf_local
        rb = loop(sym.const(0), sym.const(blocks), 2000 + R) if blocks > 1 else None
        r0 = sym.mul(rb, mc) if rb is not None else sym.const(0)
        rlen = upto(mc, r0, self.count[R]) if blocks > 1 else sym.const(self.count[R])
        self.rng[V] = v0
        # the broadcast operand's rows block: row by row, the chunk's steps contiguous (whole vectors where the
        # operand runs contiguously along the reduce and every chunk is whole vectors long)
        for i in row_packs:
            node = loads[i]
            buf, view = node.src
            dt = node.dtype.scalar
            row_local = local(node, mc * rows * kc)
            w = o.width if k.views[view].index_strides()[K] == 1 and kc % o.width == 0 and \
                size_k % o.width == 0 and dt in (dtypes.float32, dtypes.float64) else 1
            ir = loop(sym.const(0), rlen, 1200 + i)
            kk = loop(sym.const(0), sym.idiv(klen, w) if w > 1 else klen, 1300 + i)
            self.rng[R], self.rng[K] = sym.add(r0, ir), sym.add(k0, sym.mul(kk, w))
            self.row_in_block, self.chunk_k = ir, sym.mul(kk, w)
            for r in range(rows):
                idx, valid = self.index(view, {R: r})
                em.statement(UOp(Ops.STORE, dtypes.void, (row_local, self.block_index({R: r}),
                                                           self._load1(buf, dt.vec(w) if w > 1 else dt, idx, valid))))
            em.close(kk)
            em.close(ir)
            self.packed_rows[node] = row_local
        jv = loop(sym.const(0), vlen, 3000 + V)
        ir = loop(sym.const(0), rlen, 3000 + R)
        self.rng[V], self.rng[R], self.row_in_block = sym.add(v0, jv), sym.add(r0, ir), ir
        # accumulators: zero, or the partial sums of the chunks before
        red = k.reduce
        assert red is not None
        dt = compute_dtype(red.dtype)
        adt = dt.vec(o.width)
        gcombos = self.combos([R, V])
        buf, view, value = k.store.src
        accs = []
        zero = UOp(Ops.VECTORIZE, adt, (UOp(Ops.CONST, dt, (), identity(red.arg[0], dt)),) * o.width)
        self.rng[K] = None
        self.in_epilogue = True
        for gc in gcombos:  # the tile's output lines, read and written after its reduce loop: on their way meanwhile
            if (gc.get(V, 0) * adt.itemsize) % CACHE_LINE == 0:
                em.statement(UOp(Ops.LOAD, dtypes.void, (buf, self.index(view, gc)[0])))
        self.in_epilogue = False
        for _ in gcombos:  # (from zero: a tile starting from the output's partial sums would wait for them)
            acc = UOp(Ops.DEFINE_ACC, adt, (zero,), self.acc_id)
            self.acc_id += 1
            em.statement(acc)
            accs.append(acc)
        kk = loop(sym.const(0), klen, K)
        self.rng[K], self.panel_k, self.chunk_k = sym.add(k0, kk), sym.add(sym.mul(jv, kc), kk), kk
        for gc, acc in zip(gcombos, accs):
            vals: dict[UOp, UOp] = {}
            self.eval(k.pre_reduce, gc, vals)
            em.statement(UOp(Ops.ASSIGN, adt, (acc, UOp(red.arg[0], adt, (acc, self.vec(vals[red.src[0]]))))))
        em.close(kk)
        # stores: the chunk's sums added to the partial sums of the chunks before, until the last chunk, then the
        # epilogue's value
        self.in_epilogue = True
        before_last = None if kb is None else sym.lt(kb, sym.const(chunks - 1))
        for gc, acc in zip(gcombos, accs):
            guard = self.ragged_guard(gc)
            if guard is not None and guard.op is Ops.CONST and guard.arg is True:
                guard = None
            total = acc
            if kb is not None:
                idx, _ = self.index(view, gc)
                total = UOp(red.arg[0], adt, (UOp(Ops.LOAD, adt, (buf, idx, sym.lt(sym.const(0), kb))), acc))
            vals = {red: total}
            self.eval(k.epilogue, gc, vals)
            if before_last is not None and vals[value] is not total:
                assert kb is not None
                self.store(buf, view, total, gc, "vec", sym.and_(guard, before_last))
                self.store(buf, view, vals[value], gc, "vec", sym.and_(guard, sym.lt(sym.const(chunks - 2), kb)))
            else:
                self.store(buf, view, vals[value], gc, "vec", guard)
        self.in_epilogue = False
        for lp in (ir, jv, rb, kb, vb):
            if lp is not None:
                em.close(lp)
        return em.program()

    def open_reduce_loops(self, first: int) -> list[UOp]:
        """Open a loop for each reduce axis from `first` on (an axis of one step gets none; a size-0 axis keeps its
        loop: it runs zero times); the loops opened, outermost first."""
        opened = []
        for a in range(first, self.n):
            if self.count[a] == 1:
                self.rng[a] = None
                continue
            r = UOp(Ops.RANGE, IDX, (sym.const(0), sym.const(self.count[a])), a)
            self.rng[a] = r
            self.em.open(r)
            opened.append(r)
        return opened

    def lower_reduce(self, gcombos: list[dict[int, int]], red: UOp | None = None, pre: list[UOp] | None = None,
                     known: dict[UOp, UOp] | None = None, keep: UOp | None = None,
                     ahead: _Ahead | None = None) -> dict[int, UOp]:
        """Accumulate a reduce (the kernel's, or `red` over the nodes `pre` with `known` values given) per global
        unroll combo; returns each combo's total. A row kernel's value `keep` (see row_keep) is also stored into
        the output at each step, and the first pass over the next row (`ahead`) runs in the same loop."""
        k, o, em = self.k, self.o, self.em
        red = red or k.reduce
        pre = k.pre_reduce if pre is None else pre
        assert red is not None
        op = red.arg[0]
        dt = compute_dtype(red.dtype)
        w = o.width if o.vec_axis is not None else 1
        adt = dt.vec(w)
        rcombos = self.combos(list(range(k.n_global, self.n)))
        init = UOp(Ops.CONST, dt, (), identity(op, dt))
        init_v = init if w == 1 else UOp(Ops.VECTORIZE, adt, (init,) * w)
        accs: dict[tuple[int, int], UOp] = {}
        for gi in range(len(gcombos)):
            for ri in range(len(rcombos)):
                acc = UOp(Ops.DEFINE_ACC, adt, (init_v,), self.acc_id)
                self.acc_id += 1
                em.statement(acc)
                accs[(gi, ri)] = acc
        if ahead is not None:
            ahead.accs = self.row_accs(ahead.red)
        opened = self.open_reduce_loops(k.n_global)
        # the accumulate body is a scope even when every reduce axis has one step (no loop): a value
        # read from an accumulator there, e.g. acc + x, is not its value after the update, so the
        # epilogue must not reuse it (u.sum(1, keepdim=True) + u with dim 1 of size 1)
        em.begin()
        for gi, gc in enumerate(gcombos):
            for ri, rc in enumerate(rcombos):
                vals: dict[UOp, UOp] = dict(known or {})
                self.eval(pre, {**gc, **rc}, vals)
                if keep is not None:
                    buf, view = k.store.src[:2]
                    self.store(buf, view, vals[keep], {**gc, **rc}, self.row_lane_mode(view))
                v = vals[red.src[0]]
                v = self.vec(v) if w > 1 else v
                acc = accs[(gi, ri)]
                em.statement(UOp(Ops.ASSIGN, adt, (acc, UOp(op, adt, (acc, v)))))
                if ahead is not None:
                    self.ahead_step(ahead, ri, rc)
        em.end()
        for r in reversed(opened):
            em.close(r)
        return {gi: self.accs_total(red, [accs[(gi, ri)] for ri in range(len(rcombos))]) for gi in range(len(gcombos))}

    def accs_total(self, red: UOp, accs: list[UOp]) -> UOp:
        """A reduce's total from its accumulators: combined, then over the lanes when they run along the reduce."""
        o, op = self.o, red.arg[0]
        total = accs[0]
        for a in accs[1:]:
            total = UOp(op, total.dtype, (total, a))
        w = total.dtype.count
        if w > 1 and o.vec_axis is not None and o.vec_axis >= self.k.n_global:  # horizontal reduce over lanes
            lanes = [UOp(Ops.GEP, total.dtype.scalar, (total,), i) for i in range(w)]
            while len(lanes) > 1:
                lanes = [UOp(op, lanes[0].dtype, (lanes[i], lanes[i + 1])) for i in range(0, len(lanes), 2)]
            total = lanes[0]
        return total

    def row_accs(self, red: UOp) -> list[UOp]:
        """Accumulators, at their identity, for a reduce over the row: one per unroll position along it."""
        dt = compute_dtype(red.dtype)
        w = self.o.width if self.o.vec_axis is not None else 1
        init = UOp(Ops.CONST, dt, (), identity(red.arg[0], dt))
        init_v = init if w == 1 else UOp(Ops.VECTORIZE, dt.vec(w), (init,) * w)
        accs = []
        for _ in self.combos(list(range(self.k.n_global, self.n))):
            accs.append(UOp(Ops.DEFINE_ACC, dt.vec(w), (init_v,), self.acc_id))
            self.acc_id += 1
            self.em.statement(accs[-1])
        return accs

    def ahead_step(self, ahead: _Ahead, ri: int, rc: dict[int, int]) -> None:
        """One step of the first pass over the next row: its values at that row, accumulated into ahead.accs[ri]."""
        saved = self.rng[0]
        self.rng[0] = ahead.at
        vals: dict[UOp, UOp] = {}
        self.eval(ahead.pre, rc, vals)
        self.rng[0] = saved
        acc = ahead.accs[ri]
        v = self.vec(vals[ahead.red.src[0]]) if acc.dtype.count > 1 else vals[ahead.red.src[0]]
        self.em.statement(UOp(Ops.ASSIGN, acc.dtype, (acc, UOp(ahead.red.arg[0], acc.dtype, (acc, v)))))

    def row_lane_mode(self, view: UOp) -> str:
        """How a row kernel's output pass stores along the row."""
        return self.lane_mode(view, store=True) if self.o.vec_axis is not None else "scalar"

    def row_keep(self) -> UOp | None:
        """The value of a row kernel that its last reduce pass computes and its output pass needs again (softmax's
        exp(x - max)), when recomputing it costs more than a store and a load (_RECOMPUTE_COST) and the output can
        hold it exactly until then: a row-shaped output of the value's compute dtype, one unmasked view that
        gives each element of the row its own address, a buffer the kernel does not read. The last pass stores it
        there, the output pass reads it back (from L1: the row was just written) instead of computing it again."""
        k = self.k
        buf, view, value = k.store.src
        vs = k.views[view]
        if value.shape != k.reduces[0].src[0].shape or compute_dtype(buf.dtype) != buf.dtype.scalar or vs.masked or \
                len(vs.views) != 1 or 0 in vs.real_strides()[k.n_global:] or any(u.src[0] is buf for u in k.loads()):
            return None
        last = set(toposort([k.reduces[-1].src[0]], stop=lambda u: u.op is Ops.EXPAND))
        top = toposort([value], stop=lambda u: u.op is Ops.EXPAND)
        # the values of the last pass that the output pass uses directly (its frontier with that pass)
        used = {s for u in top if u not in last for s in u.src}
        best, best_cost = None, _KEEP_ABOVE
        for u in top:
            if u not in last or u not in used or u is value or u.op not in GroupOp.ALU or \
                    compute_dtype(u.dtype) != buf.dtype.scalar:
                continue
            cost = sum(_RECOMPUTE_COST.get(n.op, 1) for n in toposort([u], stop=lambda n: n.op is Ops.EXPAND)
                       if n.op in GroupOp.ALU)
            if cost > best_cost:
                best, best_cost = u, cost
        return best

    def row_pipelined(self) -> bool:
        """Whether a row kernel runs its first pass over each row during the previous row's passes: one loop over
        the rows (not unrolled), whose first pass reads no per-row value."""
        k, o = self.k, self.o
        return k.row and k.n_global == 1 and o.order == (0,) and self.count[0] > 1 and 0 not in k.shape and \
            o.unroll_of(0) == 1 and o.vec_axis != 0 and not self.ragged and \
            not any(u.op is Ops.EXPAND for u in toposort([k.reduces[0].src[0]]))

    def lower_rows_pipelined(self, start: UOp, end: UOp) -> list[UOp]:
        """A row kernel whose first pass over row r + 1 (reading the row from memory) runs inside the pass over row r
        with the most arithmetic (on the row in L1), so that the next row's loads overlap this row's work instead of
        waiting for it. The first pass over the slice's first row runs before the loop over rows; each pass's total
        is carried to the next row in an accumulator."""
        k, em = self.k, self.em
        first = k.reduces[0]
        pre = toposort([first.src[0]], stop=lambda u: u.op is Ops.EXPAND)
        rows = self.count[0]
        # (a thread's empty slice may start past the last row: that row is read instead, and its total unused)
        self.rng[0] = UOp(Ops.WHERE, IDX, (sym.lt(start, sym.const(rows)), start, sym.const(rows - 1)))
        total = self.lower_reduce([{}], first, pre, {})[0]
        carry = UOp(Ops.DEFINE_ACC, total.dtype, (total,), self.acc_id)
        self.acc_id += 1
        em.statement(carry)
        r = UOp(Ops.RANGE, IDX, (start, end), 0)
        self.rng[0], self.outer_count = r, rows
        em.open(r)
        nxt = sym.add(r, sym.const(1))
        self.lower_rows(_Ahead(first, pre, UOp(Ops.WHERE, IDX, (sym.lt(nxt, end), nxt, r)), carry))
        em.close(r)
        return em.program()

    def row_host(self, keep: UOp | None) -> int:
        """The pass after the first (a reduce's, or the output's last) with the most arithmetic per element
        (_RECOMPUTE_COST), which runs the next row's first pass: its index among them, a tie to the later."""
        k = self.k
        value = k.store.src[2]
        roots = [r.src[0] for r in k.reduces[1:]] + ([value] if value.shape == k.reduces[0].src[0].shape else [])
        costs = [sum(_RECOMPUTE_COST.get(n.op, 1) for n in toposort([x], stop=lambda n: n.op is Ops.EXPAND or n is keep)
                     if n.op in GroupOp.ALU and not (n is keep and x is value)) for x in roots]
        return max(range(len(costs)), key=lambda i: (costs[i], i))

    def lower_rows(self, ahead: _Ahead | None = None) -> None:
        """A row kernel, inside the loops over output rows: one pass over the row per reduce (a later pass reads
        the earlier results as per-row values, computed once between the passes), then the stores: a last pass
        over the row for an output of the row's shape, else one store per row. The row is read from memory by
        the first pass and from L1 by the others. With `ahead`, the first pass over this row ran during the
        previous row's, and one of the later passes runs it over the next row."""
        k, o, em = self.k, self.o, self.em
        ng = k.n_global
        if self.ragged or any(o.unroll_of(a) > 1 for a in range(ng)) or (o.vec_axis is not None and o.vec_axis < ng):
            raise NotImplementedError("lower: a row kernel takes lanes and unrolls along its row only")
        row: dict[UOp, UOp] = {}  # reduce results and per-row values, already emitted

        def per_row(nodes: list[UOp]) -> None:
            """Compute the per-row values that the EXPANDs among nodes broadcast, before the next pass."""
            for x in nodes:
                if x.op is Ops.EXPAND and x not in row:
                    self.in_epilogue = True  # (indices along the row at 0: per-row views are broadcast along it)
                    vals = dict(row)
                    self.eval(toposort([x.src[0]], stop=lambda u: u in row), {}, vals)
                    self.in_epilogue = False
                    row[x] = em.emit(vals[x.src[0]])
                    if o.vec_axis is not None:
                        em.emit(self.vec(row[x]))

        keep = self.row_keep()
        reduces, host = k.reduces, -1
        if ahead is not None:
            row[k.reduces[0]] = ahead.carry
            reduces = k.reduces[1:]
            keep = keep if reduces else None  # (the last pass over this row ran during the previous row's)
            host = self.row_host(keep)
        for i, red in enumerate(reduces):
            pre = toposort([red.src[0]], stop=lambda u: u in row or u.op is Ops.EXPAND)
            per_row(pre)
            row[red] = em.emit(self.lower_reduce([{}], red, pre, row, keep if red is k.reduces[-1] else None,
                                                 ahead if i == host else None)[0])
        buf, view, value = k.store.src
        top = toposort([value], stop=lambda u: u in row or u.op is Ops.EXPAND)
        per_row(top)
        if value.shape != k.reduces[0].src[0].shape:  # one value per row
            self.in_epilogue = True
            vals = dict(row)
            self.eval(top, {}, vals)
            self.store(buf, view, vals[value], {}, "scalar")
            self.in_epilogue = False
        else:
            if ahead is not None and host == len(reduces):
                ahead.accs = self.row_accs(ahead.red)
            opened = self.open_reduce_loops(ng)
            mode = self.row_lane_mode(view)
            for ri, rc in enumerate(self.combos(list(range(ng, self.n)))):
                vals = dict(row)
                if keep is not None:  # read back where the last reduce pass put it
                    vals[keep] = self.load(UOp(Ops.LOAD, buf.dtype.scalar, (buf, view)), rc)
                self.eval(top, rc, vals)
                self.store(buf, view, vals[value], rc, mode)
                if ahead is not None and host == len(reduces):
                    self.ahead_step(ahead, ri, rc)
            for r in reversed(opened):
                em.close(r)
        if ahead is not None:  # (last: every use of this row's carried total comes before)
            em.statement(UOp(Ops.ASSIGN, ahead.carry.dtype, (ahead.carry, self.accs_total(ahead.red, ahead.accs))))

    def store(self, buf: UOp, view: UOp, v: UOp, combo: dict[int, int], mode: str, guard: UOp | None = None) -> None:
        """Store v at combo: one vector store ("vec"), lane by lane ("gather", or a vector value stored by a
        scalar view), or one scalar; only where `guard` holds (the last step of a ragged unroll)."""
        out_dt = buf.dtype.scalar
        if mode == "gather" or (mode == "scalar" and v.dtype.count > 1):
            v = self.vec(v)
            items = [(UOp(Ops.GEP, v.dtype.scalar, (v,), lane), *self.index(view, combo, lane))
                     for lane in range(self.o.width)]
        else:
            items = [(self.vec(v) if mode == "vec" else v, *self.index(view, combo))]
        for x, idx, valid in items:
            valid = sym.and_(valid, guard)
            x = UOp(Ops.CAST, out_dt.vec(x.dtype.count), (x,)) if x.dtype.scalar != out_dt else x
            self.em.statement(UOp(Ops.STORE, dtypes.void, (buf, idx, x) if valid is None else (buf, idx, x, valid)))


def lower(k: Kernel, opts: Opts) -> tuple[list[UOp], int]:
    """The linear program and the trip count of its outermost (thread-split) loop."""
    lw = _Lowerer(k, opts)
    prog = lw.lower()
    return prog, lw.outer_count
