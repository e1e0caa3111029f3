"""VIZ graphs: UOp graphs, schedules and linear programs as networkx DiGraphs ready to draw.

Takes: UOps (a tensor graph, a kernel AST, the two sides of a rewrite pass), a `Plan` from the
scheduler, or a linear program (the ordered UOps codegen emits).
Produces: `networkx.DiGraph`s whose nodes carry drawing attributes — `label` (lines: op and
argument, dtype and shape, extra notes), `cls` (op class, which picks the colour), `shape`,
`tooltip`, `style`, `cluster` (a path of cluster ids) — and whose graph attributes carry
`title`, `clusters` ({id: label}) and `notes` (e.g. the summary of nodes left out).

Readability rules, the same for every graph:
- constants (and movement/VIEW chains over a constant, and the VIEW under a LOAD) are not
  drawn as nodes but written into their consumer's label ("+ const 0.5 (128, 10)");
- a graph with more nodes than `limit` keeps the `limit` nodes nearest its outputs and one
  summary node that counts the rest by op ("... 812 earlier nodes: ADD 210, MUL 190, ...");
- tensor graphs are clustered by the kernel each node will run in; linear programs by loop.
Everything here is iterative (graphs can be 100,000 nodes deep).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..ops.uop import GroupOp, Ops, UOp, toposort

if TYPE_CHECKING:
    import networkx as nx

DEFAULT_LIMIT = 400  # nodes per drawing; dot lays out a few hundred nodes in about a second

# op class -> (fill colour, description); the index page shows this table as the legend
CLASS_COLORS: dict[str, tuple[str, str]] = {
    "buffer": ("#9ec5fe", "buffers and kernel arguments (BUFFER, DEFINE_GLOBAL)"),
    "const": ("#dee2e6", "constants"),
    "unary": ("#c3f0ca", "unary ALU (EXP2, LOG2, SIN, SQRT, RECIPROCAL, NEG, CAST)"),
    "binary": ("#8ce99a", "binary ALU (ADD, MUL, MAX, CMPLT, ...)"),
    "ternary": ("#51cf66", "WHERE"),
    "reduce": ("#ffa8a8", "reductions and accumulators (REDUCE_AXIS, DEFINE_ACC)"),
    "movement": ("#ffec99", "movement ops and views (RESHAPE, PERMUTE, EXPAND, PAD, SHRINK, FLIP, VIEW)"),
    "boundary": ("#d0bfff", "realization boundaries (ASSIGN, CONTIGUOUS, DETACH)"),
    "memory": ("#ffc078", "kernel memory ops (LOAD, STORE, SINK)"),
    "loop": ("#a5d8ff", "loops and vectors (RANGE, ENDRANGE, VECTORIZE, GEP, DEFINE_VAR)"),
    "kernel": ("#ffd8a8", "a kernel of a schedule (E_ elementwise, R_ with a reduce)"),
    "summary": ("#ffffff", "nodes left out of a large graph"),
}


def op_class(op: Ops) -> str:
    if op in (Ops.BUFFER, Ops.DEFINE_GLOBAL):
        return "buffer"
    if op is Ops.CONST:
        return "const"
    if op in GroupOp.Unary or op in (Ops.CAST, Ops.BITCAST):
        return "unary"
    if op in GroupOp.Binary:
        return "binary"
    if op is Ops.WHERE:
        return "ternary"
    if op in (Ops.REDUCE_AXIS, Ops.DEFINE_ACC):
        return "reduce"
    if op in GroupOp.Movement or op is Ops.VIEW:
        return "movement"
    if op in (Ops.ASSIGN, Ops.CONTIGUOUS, Ops.DETACH):
        return "boundary"
    if op in (Ops.LOAD, Ops.STORE, Ops.SINK):
        return "memory"
    return "loop"


def _new_graph(title: str) -> nx.DiGraph:
    import networkx as nx

    g = nx.DiGraph()
    g.graph.update(title=title, clusters={}, notes=[])
    return g


# ---------------------------------------------------------------- labels
def fmt_dtype(u: UOp) -> str:
    dt = u.dtype
    if dt.name == "void":
        return ""
    return dt.name + (f"x{dt.count}" if dt.count > 1 else "") + ("*" if dt.is_ptr else "")


def fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return repr(v)


def fmt_arg(u: UOp) -> str:
    """The static argument in a few characters."""
    a = u.arg
    if a is None:
        return ""
    if u.op is Ops.BUFFER:
        return f"buf{a[0].id}" + (f" v{a[1]}" if a[1] else "")
    if u.op is Ops.CONST:
        return fmt_value(a)
    if u.op is Ops.REDUCE_AXIS:
        return f"{a[0].name} over axes {tuple(a[1])}"
    if u.op is Ops.DEFINE_GLOBAL:
        return f"arg {a}"
    if u.op is Ops.VIEW:
        return _fmt_view(a)
    if u.op in (Ops.RESHAPE, Ops.EXPAND, Ops.PERMUTE):
        return str(tuple(a))
    if u.op in (Ops.PAD, Ops.SHRINK):
        return str(tuple(tuple(x) for x in a))
    s = repr(a)
    return s if len(s) <= 40 else s[:37] + "..."


def _fmt_view(vs: Any) -> str:
    try:
        views = vs.views
        parts = []
        for v in views:
            p = f"strides {v.strides}" + (f" +{v.offset}" if v.offset else "") + (f" mask {v.mask}" if v.mask else "")
            parts.append(p)
        return " | ".join(parts)
    except AttributeError:
        return repr(vs)


def node_lines(u: UOp) -> list[str]:
    """[op and argument, dtype and shape]."""
    arg = fmt_arg(u)
    first = u.op.name + (f" {arg}" if arg and u.op is not Ops.VIEW else "")
    second = " ".join(x for x in (fmt_dtype(u), "" if u.shape is None else str(tuple(u.shape))) if x)
    out = [first]
    if second:
        out.append(second)
    if u.op is Ops.VIEW and arg:
        out.append(arg)
    return out


def _tooltip(u: UOp) -> str:
    return f"{u.op.name} dtype={fmt_dtype(u) or 'void'} shape={u.shape} arg={u.arg!r}"[:300]


# ---------------------------------------------------------------- UOp graphs
def _collapsible(u: UOp, kernel: bool) -> bool:
    """Drawn inside its consumer's label instead of as a node."""
    if u.op is Ops.CONST:
        return True
    if u.op is Ops.VIEW:
        return True
    if u.op in GroupOp.Movement and not kernel:
        b = u.base
        return b.op is Ops.CONST
    return False


def _inline_text(u: UOp) -> str:
    if u.op is Ops.VIEW:
        return f"view {tuple(u.arg.shape)} {_fmt_view(u.arg)}"
    base = u.base if u.op in GroupOp.Movement else u
    shape = "" if u.shape in (None, ()) else f" {tuple(u.shape)}"
    return f"const {fmt_value(base.arg)}{shape}"


def uop_graph(roots: Iterable[UOp], title: str = "", limit: int = DEFAULT_LIMIT, kernel: bool | None = None,
              cluster_of: Callable[[UOp], tuple[str, ...] | None] | None = None,
              stop: Callable[[UOp], bool] | None = None, highlight: dict[UOp, str] | None = None) -> nx.DiGraph:
    """The graph under `roots`: one node per UOp (constants folded into consumers), edges from
    source to consumer. `kernel` (default: guessed from a SINK root) treats movement ops as
    nodes. `cluster_of(u)` puts a node in a (nested) cluster. `stop(u)` makes u a leaf.
    `highlight[u]` is "new" or "removed" (rewrite pass diffs)."""
    roots = list(roots)
    if kernel is None:
        kernel = any(r.op is Ops.SINK for r in roots)
    nodes = toposort(roots, stop=stop)
    g = _new_graph(title)
    # a chain of movement ops (each the only user of the one below) is one node in tensor graphs
    merged: dict[UOp, UOp] = {}  # lower node of a chain -> the node above it
    if not kernel:
        users: dict[UOp, int] = {}
        for u in nodes:
            if stop is None or not stop(u):
                for x in u.src:
                    users[x] = users.get(x, 0) + 1
        for u in nodes:
            if u.op in GroupOp.Movement and (stop is None or not stop(u)):
                x = u.src[0]
                if x.op in GroupOp.Movement and users.get(x) == 1 and x not in roots and not _collapsible(x, kernel):
                    merged[x] = u
    drawn = [u for u in nodes if (not _collapsible(u, kernel) or u in roots) and u not in merged]
    dropped: list[UOp] = []
    if len(drawn) > limit:
        dropped, drawn = drawn[:len(drawn) - limit], drawn[len(drawn) - limit:]
    ids = {u: f"n{i}" for i, u in enumerate(drawn)}
    if dropped:
        counts = Counter(u.op.name for u in dropped)
        top = ", ".join(f"{k} {v}" for k, v in counts.most_common(6))
        more = f", {len(counts) - 6} more ops" if len(counts) > 6 else ""
        note = f"{len(dropped)} earlier nodes not drawn (limit {limit}): {top}{more}"
        g.graph["notes"].append(note)
        g.add_node("summary", label=[f"... {len(dropped)} earlier nodes not drawn", top + more], cls="summary",
                   shape="note", tooltip=note, style="dashed")

    def chain(u: UOp) -> list[UOp]:
        """u and the movement ops merged under it, lowest first."""
        out = [u]
        while out[-1].op in GroupOp.Movement and out[-1].src and merged.get(out[-1].src[0]) is out[-1]:
            out.append(out[-1].src[0])
        return out[::-1]

    for u in drawn:
        ch = chain(u)
        if len(ch) > 1:
            lines = [" > ".join(f"{c.op.name} {fmt_arg(c)}" for c in ch[i:i + 2]) for i in range(0, len(ch), 2)]
            lines.append(" ".join(x for x in (fmt_dtype(u), str(tuple(u.shape)) if u.shape is not None else "") if x))
        else:
            lines = node_lines(u)
        low = ch[0]
        consts = [s for s in low.src if s not in ids and _collapsible(s, kernel)] + \
                 [s for s in u.src if s not in ids and _collapsible(s, kernel) and low is not u]
        for s in consts:
            lines.append("+ " + _inline_text(s))
        if any(s not in ids and not _collapsible(s, kernel) for s in low.src) and dropped:
            lines.append("+ inputs not drawn")
        if stop is not None and stop(u) and u.src:
            lines.append("(computed earlier)")
        tag = getattr(u, "_tag", None)
        if tag and not kernel:
            lines.append(f"@ {tag}")
        attrs: dict[str, Any] = dict(label=lines, cls=op_class(u.op), tooltip=_tooltip(u),
                                     shape="box" if u.op in (Ops.BUFFER, Ops.DEFINE_GLOBAL) else "ellipse"
                                     if u.op in GroupOp.ALU else "box", style="rounded" if u.op not in
                                     (Ops.BUFFER, Ops.DEFINE_GLOBAL) else "")
        if highlight and any(c in highlight for c in ch):
            attrs["mark"] = next(highlight[c] for c in ch if c in highlight)
        if cluster_of is not None:
            c = cluster_of(u)
            if c:
                attrs["cluster"] = c
        g.add_node(ids[u], **attrs)
    for u in drawn:
        if stop is not None and stop(u):
            continue
        low = chain(u)[0]
        multi = len(low.src) > 1 and low.op not in GroupOp.Commutative
        for i, s in enumerate(low.src):
            if s in ids:
                g.add_edge(ids[s], ids[u], label=str(i) if multi else "")
    return g


# ---------------------------------------------------------------- tensor graphs
def tensor_graph(roots: list[UOp], title: str = "tensor graph", limit: int = DEFAULT_LIMIT,
                 kernels: list[Any] | None = None, kernel_names: list[str] | None = None) -> nx.DiGraph:
    """The lazy graph under tensors. With the `kernels` of their schedule (KernelSpecs), nodes are
    clustered by the kernel they will be computed in."""
    def stop(u: UOp) -> bool:
        return u._realized is not None or u.op is Ops.BUFFER

    cluster_of = None
    g_clusters: dict[str, str] = {}
    if kernels:
        by_id = {k.node: i for i, k in enumerate(kernels)}
        nodes = toposort(roots, stop=stop)
        consumers: dict[UOp, list[UOp]] = {}
        for u in nodes:
            if stop(u):
                continue
            for s in u.src:
                consumers.setdefault(s, []).append(u)
        where: dict[UOp, int] = {}
        for u in reversed(nodes):  # consumers first: a node runs in the kernel of its nearest realized consumer
            if id(u) in by_id and not stop(u):
                where[u] = by_id[id(u)]
            elif u.op is not Ops.BUFFER:
                for c in consumers.get(u, ()):
                    if c in where:
                        where[u] = where[c]
                        break
        for i, k in enumerate(kernels):
            name = kernel_names[i] if kernel_names and i < len(kernel_names) else f"kernel {i}"
            g_clusters[f"k{i}"] = f"kernel {i}: {name}" + (f" @ {k.tag}" if k.tag else "")

        def cluster_of(u: UOp) -> tuple[str, ...] | None:  # noqa: F811
            i = where.get(u)
            return None if i is None else (f"k{i}",)

    g = uop_graph(roots, title=title, limit=limit, kernel=False, cluster_of=cluster_of, stop=stop)
    g.graph["clusters"].update(g_clusters)
    return g


# ---------------------------------------------------------------- schedules
def _slot_name(slot: tuple[str, int]) -> str:
    return f"{'input' if slot[0] == 'in' else 'buffer'} {slot[1]}"


def schedule_graph(plan: Any, names: list[str] | None = None, title: str = "kernel graph",
                   limit: int = DEFAULT_LIMIT) -> nx.DiGraph:
    """Kernels (boxes, in run order) and the buffers between them (one node per buffer version:
    the memory plan reuses buffers, a rewrite of one is a new version)."""
    g = _new_graph(title)
    kernels = list(plan.kernels)
    if len(kernels) > limit:
        g.graph["notes"].append(f"{len(kernels) - limit} later kernels not drawn (limit {limit})")
        kernels = kernels[:limit]
    version: dict[tuple[str, int], int] = {}

    def buf_node(slot: tuple[str, int], dtype: str, write: bool) -> str:
        v = version.get(slot, 0) + (1 if write else 0)
        if write or slot not in version:
            version[slot] = v
        nid = f"{slot[0]}{slot[1]}_{v}"
        if nid not in g:
            size = ""
            if slot[0] == "new" and slot[1] < len(plan.new_bufs):
                n, dt = plan.new_bufs[slot[1]]
                size = f"{dt.name}[{n}]"
            label = [_slot_name(slot) + (f" (v{v})" if v > 1 or (slot[0] == "in" and v > 0) else ""), size or dtype]
            g.add_node(nid, label=label, cls="buffer", shape="box", style="",
                       tooltip=f"{_slot_name(slot)} {size or dtype}")
        return nid

    for i, k in enumerate(kernels):
        dts = {u.arg: fmt_dtype(u).rstrip("*") for u in k.ast.toposort() if u.op is Ops.DEFINE_GLOBAL}
        kid = f"k{i}"
        name = names[i] if names and i < len(names) else f"kernel {i}"
        label = [f"#{i} {name}"]
        if getattr(k, "tag", None):
            label.append(f"@ {k.tag}")
        n_ops = sum(1 for u in k.ast.toposort() if u.op in GroupOp.ALU or u.op is Ops.REDUCE_AXIS)
        label.append(f"{n_ops} ALU/reduce ops, {len(k.slots)} buffers")
        g.add_node(kid, label=label, cls="kernel", shape="box", style="rounded,bold", tooltip=" ".join(label))
        for j, s in enumerate(k.slots[1:], start=1):
            g.add_edge(buf_node(s, dts.get(j, ""), False), kid, label="")
        g.add_edge(kid, buf_node(k.slots[0], dts.get(0, ""), True), label="")
    return g


# ---------------------------------------------------------------- linear programs
def linear_graph(prog: list[UOp], title: str = "linear program", limit: int = DEFAULT_LIMIT) -> nx.DiGraph:
    """The linearized kernel: nodes numbered in program order, loops as nested clusters, constants
    folded into their users."""
    g = _new_graph(title)
    pos = {u: i for i, u in enumerate(prog)}
    scope: list[str] = []
    cluster_of: dict[UOp, tuple[str, ...]] = {}
    for i, u in enumerate(prog):
        if u.op is Ops.RANGE:  # the loop header sits inside its loop's cluster, so does its ENDRANGE
            cid = f"loop{i}"
            end = u.src[1] if len(u.src) > 1 else None
            g.graph["clusters"][cid] = f"loop {i}" + (f": 0 .. {fmt_value(end.arg)}" if end is not None and
                                                      end.op is Ops.CONST else ": per-thread range")
            scope.append(cid)
        cluster_of[u] = tuple(scope)
        if u.op is Ops.ENDRANGE and scope:
            scope.pop()
    drawn = [u for u in prog if u.op is not Ops.CONST]
    if len(drawn) > limit:
        g.graph["notes"].append(f"{len(drawn) - limit} later instructions not drawn (limit {limit})")
        drawn = drawn[:limit]
    shown = set(drawn)
    for u in drawn:
        i = pos[u]
        arg = fmt_arg(u)
        lines = [f"{i}: {u.op.name}" + (f" {arg}" if arg else ""), fmt_dtype(u)]
        for s in u.src:
            if s.op is Ops.CONST:
                lines.append(f"+ const {fmt_value(s.arg)}")
        attrs: dict[str, Any] = dict(label=[x for x in lines if x], cls=op_class(u.op), tooltip=_tooltip(u),
                                     shape="box", style="rounded")
        if cluster_of.get(u):
            attrs["cluster"] = cluster_of[u]
        g.add_node(f"i{i}", **attrs)
    for u in drawn:
        for j, s in enumerate(u.src):
            if s in shown:
                g.add_edge(f"i{pos[s]}", f"i{pos[u]}", label=str(j) if len(u.src) > 1 and u.op not in
                           GroupOp.Commutative else "")
    return g


def linear_text(prog: list[UOp]) -> str:
    """The program one instruction a line (what DEBUG=5 prints)."""
    pos = {u: i for i, u in enumerate(prog)}
    out = []
    for i, u in enumerate(prog):
        srcs = ", ".join(str(pos[s]) if s in pos else s.op.name for s in u.src)
        arg = fmt_arg(u)
        out.append(f"{i:4d} {u.op.name:<12s} {fmt_dtype(u) or 'void':<12s} [{srcs}] {arg}")
    return "\n".join(out)


# ---------------------------------------------------------------- rewrite passes
def rewrite_graphs(name: str, before: UOp, after: UOp, fired: dict[str, int],
                   limit: int = DEFAULT_LIMIT) -> tuple[nx.DiGraph, nx.DiGraph]:
    """Both sides of one pass; nodes the pass removed are dashed on the left, nodes it built are
    bold on the right."""
    b_nodes, a_nodes = set(before.toposort()), set(after.toposort())
    kernel = before.op is Ops.SINK
    rules = ", ".join(f"{k} x{v}" for k, v in sorted(fired.items())) or "no rule fired"
    gb = uop_graph([before], title=f"{name}: before ({len(b_nodes)} nodes)", limit=limit, kernel=kernel,
                   highlight={u: "removed" for u in b_nodes - a_nodes})
    ga = uop_graph([after], title=f"{name}: after ({len(a_nodes)} nodes); rules fired: {rules}", limit=limit,
                   kernel=kernel, highlight={u: "new" for u in a_nodes - b_nodes})
    return gb, ga
