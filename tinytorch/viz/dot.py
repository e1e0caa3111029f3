"""VIZ DOT output: networkx graphs (from viz/graphs.py) -> DOT text -> SVG files with graphviz's `dot`.

Takes: DiGraphs whose nodes carry `label` (a list of lines), `cls`, `shape`, `style`, `mark`,
`cluster`, `tooltip`; graph attributes `title`, `clusters`, `notes`.
Produces: `.dot` files, and `.svg` files when the `dot` binary is on PATH. Many graphs are
rendered by a few `dot -O` processes (one per core) instead of one process per graph.
Without `dot`, only the `.dot` files are written and `INSTALL_HINT` says how to get graphviz.

The DOT text is written here (quoting and escaping included) rather than through a binding, so
that what reaches `dot` is exactly this file's output; node colours come from CLASS_COLORS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .graphs import CLASS_COLORS

if TYPE_CHECKING:
    import networkx as nx

INSTALL_HINT = ("graphviz's `dot` is not installed, so only .dot files were written. Install graphviz "
                "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda install "
                "graphviz) and run again, or render one yourself: dot -Tsvg graph.dot -o graph.svg")
MAX_LABEL_LINE = 80
DOT_TIMEOUT_S = 600.0


def dot_path() -> str | None:
    return shutil.which("dot")


def have_dot() -> bool:
    return dot_path() is not None


def _q(s: Any) -> str:
    """A DOT double-quoted string (backslashes and quotes escaped, control characters dropped)."""
    s = str(s).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else " " for c in s) + '"'


def _label(lines: Sequence[str] | str) -> str:
    if isinstance(lines, str):
        lines = [lines]
    out = []
    for line in lines:
        line = str(line)
        if len(line) > MAX_LABEL_LINE:
            line = line[:MAX_LABEL_LINE - 3] + "..."
        out.append(str(line).replace("\\", "\\\\").replace('"', '\\"'))
    return '"' + "\\n".join("".join(c if c >= " " else " " for c in x) for x in out) + '"'


def to_dot(g: nx.DiGraph, rankdir: str = "TB") -> str:
    """DOT text for a graph from viz/graphs.py."""
    title = g.graph.get("title", "")
    notes = g.graph.get("notes", [])
    lines = [f"digraph {_q(title or 'g')} {{",
             f"  graph [rankdir={rankdir}, fontname=Helvetica, fontsize=12, labelloc=t, "
             f"label={_label([title, *notes])}, tooltip={_q(title)}];",
             "  node [fontname=Helvetica, fontsize=10, style=filled, penwidth=1];",
             "  edge [fontname=Helvetica, fontsize=8, color=\"#495057\", arrowsize=0.6];"]
    # nested clusters: a tree of cluster paths
    tree: dict[tuple[str, ...], list[str]] = {}
    for nid, a in g.nodes(data=True):
        tree.setdefault(tuple(a.get("cluster") or ()), []).append(nid)
    labels = g.graph.get("clusters", {})
    paths = sorted(tree, key=lambda p: (len(p), p))
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for p in paths:
        for i in range(1, len(p) + 1):
            parent, child = p[:i - 1], p[:i]
            lst = children.setdefault(parent, [])
            if child not in lst:
                lst.append(child)

    def node_line(nid: str, a: dict[str, Any]) -> str:
        fill, _ = CLASS_COLORS.get(a.get("cls", ""), ("#ffffff", ""))
        style = ["filled", *[s for s in str(a.get("style", "")).split(",") if s]]
        extra = ""
        mark = a.get("mark")
        if mark == "new":
            style.append("bold")
            extra = ', color="#2b8a3e", penwidth=3'
        elif mark == "removed":
            style.append("dashed")
            extra = ', color="#c92a2a", penwidth=2'
        return (f"{_q(nid)} [label={_label(a.get('label', nid))}, shape={a.get('shape', 'box')}, "
                f"style={_q(','.join(dict.fromkeys(style)))}, fillcolor={_q(fill)}, "
                f"tooltip={_q(a.get('tooltip', ''))}{extra}];")

    def emit(path: tuple[str, ...], depth: int) -> None:
        pad = "  " * depth
        for nid in tree.get(path, []):
            lines.append(pad + node_line(nid, g.nodes[nid]))
        for child in children.get(path, []):
            cid = child[-1]
            lines.append(f"{pad}subgraph {_q('cluster_' + '_'.join(child))} {{")
            lines.append(f"{pad}  label={_label(labels.get(cid, cid))}; style=\"rounded,dashed\"; "
                         f"color=\"#868e96\"; fontsize=10;")
            emit(child, depth + 1)
            lines.append(pad + "}")

    emit((), 1)
    for s, d, a in g.edges(data=True):
        lab = a.get("label", "")
        lines.append(f"  {_q(s)} -> {_q(d)}" + (f" [label={_q(lab)}]" if lab else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(g: nx.DiGraph, path: str, rankdir: str = "TB") -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(to_dot(g, rankdir))
    return path


def render_files(dot_files: list[str], jobs: int | None = None) -> tuple[list[str], list[str]]:
    """Render x.dot -> x.svg for each file with a few batched `dot` processes.
    Returns (svg files written, errors). Without `dot`: ([], [INSTALL_HINT])."""
    dot = dot_path()
    if dot is None:
        return [], [INSTALL_HINT]
    if not dot_files:
        return [], []
    jobs = max(1, min(jobs or (os.cpu_count() or 1), len(dot_files)))
    # batches of files per `dot` process, `jobs` processes at a time (plain processes, no thread pool:
    # this also runs from atexit, when Python refuses new threads)
    batch = max(1, min(100, -(-len(dot_files) // jobs)))
    todo = [dot_files[i:i + batch] for i in range(0, len(dot_files), batch)]
    errors: list[str] = []
    running: list[tuple[subprocess.Popen, list[str]]] = []
    while todo or running:
        while todo and len(running) < jobs:
            part = todo.pop(0)
            running.append((subprocess.Popen([dot, "-Tsvg", "-O", *part], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, text=True), part))
        proc, part = running.pop(0)
        try:
            _, err = proc.communicate(timeout=DOT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            errors.append(f"dot took more than {DOT_TIMEOUT_S:.0f} s on {len(part)} files; they are left as .dot")
            continue
        if proc.returncode != 0:  # find the file that failed; the others are rendered one by one
            for f in part:
                q = subprocess.run([dot, "-Tsvg", "-O", f], capture_output=True, text=True, timeout=DOT_TIMEOUT_S)
                if q.returncode != 0:
                    errors.append(f"{f}: {q.stderr.strip()[:300]}")
    written = []
    for f in dot_files:  # dot -O names its output x.dot.svg
        out = f + ".svg"
        if os.path.exists(out):
            final = f[:-4] + ".svg" if f.endswith(".dot") else out
            os.replace(out, final)
            written.append(final)
    return written, errors


def render(g: nx.DiGraph, path: str, rankdir: str = "TB", keep_dot: bool = False) -> str:
    """Draw one graph to `path` (.svg; or .dot). Returns the file written: the .svg, or the .dot
    when `dot` is missing (with a warning that says how to install graphviz)."""
    import warnings

    base = path[:-4] if path.endswith((".svg", ".dot")) else path
    dot_file = write_dot(g, base + ".dot", rankdir)
    if path.endswith(".dot"):
        return dot_file
    written, errors = render_files([dot_file], jobs=1)
    if not written:
        if not have_dot():
            warnings.warn(INSTALL_HINT, stacklevel=2)
            return dot_file
        raise RuntimeError(f"dot failed on {dot_file}: {'; '.join(errors)}")
    if not keep_dot:
        os.remove(dot_file)
    return written[0]
