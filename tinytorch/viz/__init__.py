"""tinytorch.viz: draw what the compiler does, as SVG files rendered by graphviz from networkx graphs.

Takes: tensors (their lazy UOp graphs), schedules, kernel ASTs, rewrite passes.
Produces: SVG files (or .dot files when graphviz's `dot` is missing, with a note on how to
install it):

    import tinytorch as tt
    from tinytorch import viz
    y = (x @ w + b).relu().sum()
    viz.draw(y, "graph.svg")              # the UOp graph under y, clustered by kernel
    viz.draw_schedule(y, "kernels.svg")   # the kernels a realize would run, and their buffers
    viz.draw_kernel(y, "kernel")          # each kernel's AST and linearized form
    with viz.record("viz/"):              # like VIZ=1: everything a block runs, with index.html
        y.numpy()

`VIZ=1 python script.py` records a whole run into $VIZ_DIR (default ./viz/); so does
`tinytorch viz script.py`. See viz/session.py for what the pages hold, viz/graphs.py for
how graphs stay readable (constants folded, clusters per kernel, a node limit), viz/dot.py for
DOT text and rendering.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from ..ops.uop import Ops, UOp
from .dot import INSTALL_HINT, have_dot, render, to_dot
from .graphs import DEFAULT_LIMIT, linear_graph, rewrite_graphs, schedule_graph, tensor_graph, uop_graph
from .session import Session, start, stop

__all__ = ["draw", "draw_schedule", "draw_kernel", "draw_rewrite", "record", "start", "stop", "have_dot",
           "INSTALL_HINT", "Session", "tensor_graph", "schedule_graph", "uop_graph", "linear_graph",
           "rewrite_graphs", "to_dot", "render", "DEFAULT_LIMIT"]


def _targets(obj: Any) -> list[UOp]:
    from ..engine.schedule import resolve
    from ..tensor import Tensor

    items = obj if isinstance(obj, (list, tuple)) else [obj]
    out = []
    for x in items:
        if isinstance(x, Tensor):
            out.append(resolve(x.uop))
        elif isinstance(x, UOp):
            out.append(x)
        else:
            raise TypeError(f"viz: expected a Tensor, a UOp or a list of them, got {type(x).__name__}")
    return out


def _plan(targets: list[UOp]) -> Any:
    from ..engine.schedule import schedule

    return schedule(targets)[0]


def _names(plan: Any) -> list[str]:
    from ..codegen import kernel_name
    from ..codegen.kernel import analyze
    from ..codegen.opt import choose_opts

    out = []
    for k in plan.kernels:
        try:
            kern = analyze(k.ast)
            out.append(kernel_name(kern, choose_opts(kern)))
        except Exception as e:  # a drawing must not fail on a kernel codegen cannot handle
            out.append(f"? ({type(e).__name__})")
    return out


def draw(obj: Any, path: str = "graph.svg", limit: int = DEFAULT_LIMIT, clusters: bool = True) -> str:
    """Draw the UOp graph under a tensor (or UOp, or list of them) to `path`; nodes are clustered
    by the kernel a realize would compute them in. A kernel AST (SINK) is drawn as it is.
    Returns the file written (.svg, or .dot without graphviz)."""
    targets = _targets(obj)
    if targets and targets[0].op is Ops.SINK:
        return render(uop_graph(targets, title="kernel AST", limit=limit), path)
    kernels = names = None
    if clusters and targets:
        try:
            plan = _plan(targets)
            kernels, names = plan.kernels, _names(plan)
        except Exception:  # a graph the scheduler rejects is still drawn, without clusters
            kernels = names = None
    title = f"tensor graph: {', '.join(str(tuple(t.shape)) if t.shape is not None else '?' for t in targets)}"
    return render(tensor_graph(targets, title=title, limit=limit, kernels=kernels, kernel_names=names), path)


def draw_schedule(obj: Any, path: str = "kernels.svg", limit: int = DEFAULT_LIMIT) -> str:
    """Draw the kernel graph of what realizing `obj` (tensors, or a Plan) would run: kernels in
    run order and the buffers they read and write."""
    plan = obj if hasattr(obj, "kernels") and hasattr(obj, "new_bufs") else _plan(_targets(obj))
    return render(schedule_graph(plan, _names(plan), title=f"kernel graph: {len(plan.kernels)} kernels", limit=limit),
                  path)


def draw_kernel(obj: Any, prefix: str = "kernel", limit: int = DEFAULT_LIMIT) -> list[str]:
    """Draw each kernel's AST and linearized form: `obj` is a kernel AST (SINK UOp), a
    KernelSpec, or tensors (every kernel of their schedule). Writes `<prefix>[_<i>]_ast.svg`
    and `<prefix>[_<i>]_linear.svg`; returns the files written."""
    from ..codegen import kernel_name, lower_kernel

    if isinstance(obj, UOp) and obj.op is Ops.SINK:
        asts = [obj]
    elif hasattr(obj, "ast") and hasattr(obj, "slots"):
        asts = [obj.ast]
    else:
        asts = [k.ast for k in _plan(_targets(obj)).kernels]
    out = []
    for i, ast in enumerate(asts):
        kern, opts, prog, _ = lower_kernel(ast)
        name = kernel_name(kern, opts)
        stem = prefix if len(asts) == 1 else f"{prefix}_{i}"
        out.append(render(uop_graph([ast], title=f"kernel {name}: AST", limit=limit), stem + "_ast.svg"))
        out.append(render(linear_graph(prog, title=f"kernel {name}: linearized ({len(prog)} instructions)",
                                       limit=limit), stem + "_linear.svg"))
    return out


def draw_rewrite(name: str, before: UOp, after: UOp, fired: dict[str, int] | None = None,
                 prefix: str = "pass", limit: int = DEFAULT_LIMIT) -> list[str]:
    """Draw one rewrite pass: `<prefix>_before.svg` and `<prefix>_after.svg`."""
    gb, ga = rewrite_graphs(name, before, after, fired or {}, limit=limit)
    return [render(gb, prefix + "_before.svg"), render(ga, prefix + "_after.svg")]


@contextlib.contextmanager
def record(out_dir: str | None = None, limit: int = DEFAULT_LIMIT) -> Iterator[Session]:
    """Record everything the block realizes, as VIZ=1 does for a whole run; the pages are written
    when the block ends (to `out_dir`, default $VIZ_DIR or ./viz/)."""
    s = start(out_dir, limit)
    try:
        yield s
    finally:
        stop()


def index_path(out_dir: str | None = None) -> str:
    from ..helpers import VIZ_DIR

    return os.path.join(out_dir or str(VIZ_DIR.value), "index.html")
