"""Kernel analysis: the loop space of one kernel AST.

Takes: a kernel AST from the scheduler (SINK of one STORE; LOADs and CONSTs carry views).
Produces: a `Kernel`: every view expressed over one shape — output (global) axes first,
reduce axes last — with adjacent axes merged wherever every view allows it, plus the facts
the optimizer needs (per-view strides, dtypes, the reduce op).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..dtype import DType
from ..helpers import prod
from ..ops.uop import GroupOp, Ops, UOp, toposort
from ..ops.view import ViewStack

# A kernel with more buffers than this takes them as one array of pointers (`void* const* bufs`)
# instead of one argument each: a call through ctypes allows at most 1024 arguments.
PACKED_ARGS_ABOVE = 64

# ALU ops that convert, reinterpret or flip the sign of a value, not counted as FLOPs (a - b is ADD(a, NEG(b)):
# one FLOP)
NOT_FLOPS = frozenset({Ops.CAST, Ops.BITCAST, Ops.NEG})


def packs_args(nbufs: int) -> bool:
    return nbufs > PACKED_ARGS_ABOVE

@dataclass
class Kernel:
    ast: UOp
    store: UOp
    shape: tuple[int, ...]  # merged loop space: globals then reduces
    n_global: int
    reduce: UOp | None  # the REDUCE_AXIS node, if any
    views: dict[UOp, ViewStack]  # VIEW node -> its view over `shape`
    pre_reduce: list[UOp]  # nodes under the reduce, sources first
    epilogue: list[UOp]  # the rest of the value graph, sources first
    dtypes: list[DType]
    # a row kernel (several reduces over the same rows, results broadcast back by EXPAND): its reduces in
    # run order; pre_reduce then holds the values over the whole row, epilogue the per-row ones
    reduces: tuple[UOp, ...] = ()
    # every STORE of the kernel, `store` first (several: a parameter update that also writes its optimizer state)
    stores: tuple[UOp, ...] = ()

    @property
    def row(self) -> bool:
        return bool(self.reduces)

    @property
    def global_shape(self) -> tuple[int, ...]:
        return self.shape[:self.n_global]

    @property
    def reduce_shape(self) -> tuple[int, ...]:
        return self.shape[self.n_global:]

    def store_view(self) -> ViewStack:
        return self.views[self.store.src[1]]

    def loads(self) -> list[UOp]:
        return [u for u in self.pre_reduce + self.epilogue if u.op is Ops.LOAD]

    @property
    def flops(self) -> int:
        """Arithmetic operations: each ALU op once per element it runs over; each reduce's own op (the add
        of a multiply-add) once per reduced element, so a matmul or conv counts 2 per multiply-add and a
        row kernel (softmax: a max and a sum over each row) counts each of its reduces."""
        pre = sum(1 for u in self.pre_reduce if u.op in GroupOp.ALU and u.op not in NOT_FLOPS)
        post = sum(1 for u in self.epilogue if u.op in GroupOp.ALU and u.op not in NOT_FLOPS)
        return (pre + (len(self.reduces) or 1)) * prod(self.shape) + post * prod(self.global_shape) \
            if self.reduce is not None else (pre + post) * prod(self.shape)

    @property
    def traffic(self) -> tuple[tuple[int, int, int], ...]:
        """(buffer argument, elements read, elements written) per buffer the kernel touches: each LOAD and
        STORE counts the distinct positions its view can reach (a broadcast axis once, a masked axis by
        its valid range), so an operand broadcast across the loop counts at its own size. A buffer both
        read and written (an in-place update) counts both ways."""
        moved: dict[int, list[int]] = {}
        for u in toposort([self.ast]):
            if u.op in (Ops.LOAD, Ops.STORE) and u.src[0].op is Ops.DEFINE_GLOBAL:
                view = (u.src[-1] if u.op is Ops.LOAD else u.src[1]).arg.views[-1]
                extents = [hi - lo for lo, hi in view.mask] if view.mask else view.shape
                reach = prod(e for e, st in zip(extents, view.strides) if st != 0)
                moved.setdefault(u.src[0].arg, [0, 0])[u.op is Ops.STORE] += reach
        return tuple((i, r, w) for i, (r, w) in sorted(moved.items()))


def analyze(ast: UOp) -> Kernel:
    from ..ops.rewrite import graph_rewrite
    from ..ops.sym import pm_algebraic

    ast = graph_rewrite(ast, pm_algebraic, name="algebraic")
    store = ast.src[0]
    value = store.src[2]
    nodes = toposort([st.src[2] for st in ast.src])
    reduces = [u for u in nodes if u.op is Ops.REDUCE_AXIS]
    reduce = reduces[0] if reduces else None
    row = len(reduces) > 1 or any(u.op is Ops.EXPAND for u in nodes)
    if reduce is not None and row:
        full, axes = reduce.src[0].shape, reduce.arg[1]
        pre = [u for u in nodes if u.shape == full and u.op is not Ops.VIEW]
        epi = [u for u in nodes if u.shape != full and u.op is not Ops.VIEW]
    elif reduce is not None:
        pre = toposort([reduce.src[0]])
        # the epilogue is everything above the reduce (a load can sit on both sides when the
        # reduced axes have size 1)
        epi = [u for u in toposort([value], stop=lambda u: u is reduce) if u is not reduce]
        full = reduce.src[0].shape
        axes = reduce.arg[1]
    else:
        pre, epi = [], nodes
        full = store.src[1].arg.shape
        axes = ()
    assert full is not None
    view_nodes = [st.src[1] for st in ast.src] + [u.src[-1] if u.op is Ops.LOAD else u.src[0] for u in nodes
                                   if (u.op is Ops.LOAD or (u.op is Ops.CONST and u.src))]
    views: dict[UOp, ViewStack] = {}
    order = [i for i in range(len(full)) if i not in axes] + list(axes)
    for v in view_nodes:
        vs = v.arg
        if vs.shape != full:
            vs = vs.expand(full)
        views[v] = vs.permute(tuple(order))
    shape = tuple(full[i] for i in order)
    kinds = [i >= len(full) - len(axes) for i in range(len(full))]  # True = reduce axis
    shape, kinds, views = _merge(shape, kinds, views)
    n_global = sum(1 for k in kinds if not k)
    dts = sorted({u.dtype.scalar for u in nodes if u.dtype.count >= 1 and u.dtype.name != "void"},
                 key=lambda d: d.priority) + [store.src[0].dtype.scalar]
    return Kernel(ast, store, shape, n_global, reduce, views, pre, epi, dts, tuple(reduces) if row else (), ast.src)


def _merge(shape: tuple[int, ...], kinds: list[bool], views: dict[UOp, ViewStack]):
    """Drop size-1 axes, then merge neighbours of the same kind where every view allows it.
    (A loop space with a size-0 axis is left alone: reshaping its views would forget strides.)"""
    if 0 in shape:
        return shape, kinds, views
    keep = [i for i, s in enumerate(shape) if s != 1]
    if len(keep) != len(shape):
        new_shape = tuple(shape[i] for i in keep)
        views = {k: _reshape(v, new_shape) for k, v in views.items()}
        shape, kinds = new_shape, [kinds[i] for i in keep]
    i = len(shape) - 2
    while i >= 0:
        if kinds[i] == kinds[i + 1]:
            cand = shape[:i] + (shape[i] * shape[i + 1],) + shape[i + 2:]
            tops = [v.view.reshape(cand) for v in views.values()]
            if all(t is not None for t in tops):
                views = {k: ViewStack((*v.views[:-1], t)) for (k, v), t in zip(views.items(), tops)}  # type: ignore
                shape, kinds = cand, kinds[:i + 1] + kinds[i + 2:]
        i -= 1
    return shape, kinds, views


def _reshape(vs: ViewStack, shape: tuple[int, ...]) -> ViewStack:
    return vs.reshape(shape)
