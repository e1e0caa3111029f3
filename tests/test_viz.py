"""VIZ: graphs drawn from the real pipeline, VIZ=1 on a short MNIST run, DEBUG=6, headless Chromium.

Takes: small tensor programs built here; examples/mlp.py with the MNIST files in ../shared/data/mnist
(that test is skipped where the files are absent); graphviz's `dot` (CI installs it; the SVG tests
skip without it, the .dot fallback is tested everywhere); Debian's `chromium` for the browser check
(skipped without it; `python -m tinytorch.viz.browser viz/index.html` is the same check by hand).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import viz
from tinytorch.engine.realize import REALIZE_HOOKS
from tinytorch.ops.rewrite import REWRITE_HOOKS, PatternMatcher, UPat, graph_rewrite
from tinytorch.ops.uop import Ops, UOp
from tinytorch.runtime.device import KERNEL_HOOKS
from tinytorch.viz import dot as viz_dot
from tinytorch.viz.browser import check_page, find_chromium
from tinytorch.viz.graphs import CLASS_COLORS, linear_graph, schedule_graph, tensor_graph, uop_graph

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(not viz.have_dot(), reason="graphviz `dot` not installed (.ci/run installs it)")
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="no chromium (apt-get install chromium)")


def svg_nodes(path: str | Path) -> list[tuple[str, str]]:
    """(label text joined by '|', fill colour) of every node of an SVG that dot wrote."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    out = []
    for g in root.iter(SVG + "g"):
        if g.get("class") != "node":
            continue
        texts = "|".join(t.text or "" for t in g.iter(SVG + "text"))
        shape = next((e for e in g.iter() if e.tag in (SVG + "polygon", SVG + "ellipse", SVG + "path")), None)
        out.append((texts, shape.get("fill", "") if shape is not None else ""))
    return out


def svg_clusters(path: str | Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["|".join(t.text or "" for t in g.iter(SVG + "text")) for g in root.iter(SVG + "g")
            if g.get("class") == "cluster"]


def mlp_graph() -> tt.Tensor:
    rng = np.random.default_rng(0)
    x = tt.Tensor(rng.standard_normal((8, 16)).astype(np.float32))
    w = tt.Tensor(rng.standard_normal((16, 4)).astype(np.float32))
    b = tt.Tensor(rng.standard_normal(4).astype(np.float32))
    return ((x @ w + b).relu() * 0.5).sum(1)  # (8,)


# ---------------------------------------------------------------- graphs (no dot needed)
def test_tensor_graph_labels_colours_and_collapsed_constants() -> None:
    y = mlp_graph()
    g = tensor_graph([y.uop])
    labels = {n: a["label"] for n, a in g.nodes(data=True)}
    ops = [lines[0].split()[0] for lines in labels.values()]
    assert "REDUCE_AXIS" in ops and "WHERE" in ops and "MUL" in ops and "ADD" in ops
    assert "CONST" not in ops, "constants are folded into their users"
    assert any("+ const 0.5" in line for lines in labels.values() for line in lines)
    reduces = [a for _, a in g.nodes(data=True) if a["label"][0].startswith("REDUCE_AXIS")]
    assert {a["label"][1] for a in reduces} == {"float32 (8, 4, 1)", "float32 (8, 1)"}  # matmul, then sum(1)
    assert all(a["cls"] == "reduce" for a in reduces)
    assert all(a["cls"] == "binary" for _, a in g.nodes(data=True) if a["label"][0].split()[0] in ("ADD", "MUL"))
    assert all(a["cls"] == "ternary" for _, a in g.nodes(data=True) if a["label"][0].startswith("WHERE"))
    # every edge goes from a source to its consumer: the graph is a DAG with one sink (y)
    import networkx as nx

    assert nx.is_directed_acyclic_graph(g)
    assert sum(1 for n in g if g.out_degree(n) == 0) == 1


def test_tensor_graph_clusters_follow_the_schedule() -> None:
    y = mlp_graph()
    kernels = y.schedule()
    g = tensor_graph([y.uop], kernels=kernels)
    used = {a["cluster"] for _, a in g.nodes(data=True) if a.get("cluster")}
    assert len(used) == len(kernels) >= 2  # matmul+bias+relu+mul in one kernel, the sum in another (or more)
    # the reduce of the matmul and its epilogue sit in the same cluster
    by_op: dict[str, set] = {}
    for _, a in g.nodes(data=True):
        by_op.setdefault(a["label"][0].split()[0], set()).add(a.get("cluster"))
    assert None not in by_op["WHERE"] and None not in by_op["REDUCE_AXIS"]


def test_node_limit_summarizes_instead_of_hanging() -> None:
    x = tt.Tensor(np.ones(4, np.float32))
    for i in range(3000):
        x = x * 1.001 + 0.5 if i % 2 else x.exp2()
    st = time.perf_counter()
    g = uop_graph([x.uop], limit=50)
    assert time.perf_counter() - st < 5
    assert len(g) == 51  # 50 nodes + the summary
    summary = g.nodes["summary"]["label"]
    assert re.search(r"\d+ earlier nodes not drawn", summary[0]) and "EXP2" in summary[1]
    assert g.graph["notes"] and "limit 50" in g.graph["notes"][0]


def test_schedule_graph_is_kernels_and_buffers_in_run_order() -> None:
    y = mlp_graph()
    _, plan = __import__("tinytorch.engine.realize", fromlist=["x"]).schedule_tensors([y])
    g = schedule_graph(plan)
    kernels = [n for n, a in g.nodes(data=True) if a["cls"] == "kernel"]
    assert len(kernels) == len(plan.kernels)
    for i, k in enumerate(plan.kernels):  # reads go into the kernel, its one write comes out
        assert g.in_degree(f"k{i}") == len(k.slots) - 1 and g.out_degree(f"k{i}") == 1
    import networkx as nx

    order = [n for n in nx.topological_sort(g) if n in kernels]
    assert order == [f"k{i}" for i in range(len(plan.kernels))]


def test_linear_graph_clusters_loops() -> None:
    from tinytorch.codegen import lower_kernel

    rng = np.random.default_rng(0)  # big enough to keep loops (the 8x16 @ 16x4 of mlp_graph is unrolled whole)
    x, w = (tt.Tensor(rng.standard_normal(s).astype(np.float32)) for s in ((64, 32), (32, 16)))
    ast = (x @ w).relu().schedule()[0].ast
    _, _, prog, _ = lower_kernel(ast)
    g = linear_graph(prog)
    ranges = [i for i, u in enumerate(prog) if u.op is Ops.RANGE]
    assert ranges and set(g.graph["clusters"]) == {f"loop{i}" for i in ranges}
    stores = [a for _, a in g.nodes(data=True) if "STORE" in a["label"][0]]
    assert stores and all(len(a["cluster"]) >= 1 for a in stores)  # the store is inside a loop


def test_rewrite_graphs_mark_removed_and_new_nodes() -> None:
    from tinytorch.viz.graphs import rewrite_graphs

    a = UOp(Ops.DEFINE_VAR, tt.dtypes.int32, (), ("a", 0, 10))
    two = UOp.const(tt.dtypes.int32, 2)
    expr = a.alu(Ops.MUL, two).alu(Ops.MUL, two)  # (a*2)*2 -> a*4
    pm = PatternMatcher([(UPat(Ops.MUL, src=(UPat(Ops.MUL, src=(UPat.var("x"), UPat.cvar("c1"))), UPat.cvar("c2"))),
                          lambda x, c1, c2: x.alu(Ops.MUL, UOp.const(x.dtype, c1.arg * c2.arg)))])
    fired: dict[str, int] = {}
    seen: list[tuple] = []
    REWRITE_HOOKS.append(lambda *args: seen.append(args))
    try:
        out = graph_rewrite(expr, pm, name="fold")
    finally:
        REWRITE_HOOKS.pop()
    assert len(seen) == 1 and seen[0][0] == "fold" and seen[0][1] is expr and seen[0][2] is out
    fired = seen[0][3]
    assert sum(fired.values()) == 1
    gb, ga = rewrite_graphs("fold", expr, out, fired)
    removed = [a["label"][0] for _, a in gb.nodes(data=True) if a.get("mark") == "removed"]
    new = [a["label"][0] for _, a in ga.nodes(data=True) if a.get("mark") == "new"]
    assert removed == ["MUL", "MUL"] and new == ["MUL"]
    assert any("+ const 4" in line for _, a in ga.nodes(data=True) for line in a["label"])
    assert "rules fired" in ga.graph["title"]


def test_dot_text_escapes_quotes_and_backslashes() -> None:
    g = uop_graph([UOp.const(tt.dtypes.int32, 1)])
    g.add_node("weird", label=['say "hi" \\ <b>', "x" * 200], cls="binary")
    text = viz.to_dot(g)
    assert 'say \\"hi\\" \\\\ <b>' in text and "x" * 100 not in text
    if viz.have_dot():
        p = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        ET.fromstring(p.stdout)


# ---------------------------------------------------------------- drawing to files
@needs_dot
def test_draw_writes_valid_svgs(tmp_path: Path) -> None:
    y = mlp_graph()
    out = viz.draw(y, str(tmp_path / "graph.svg"))
    assert out == str(tmp_path / "graph.svg") and not (tmp_path / "graph.dot").exists()
    nodes = svg_nodes(out)
    reduce_fill = [fill for text, fill in nodes if text.startswith("REDUCE_AXIS")]
    assert reduce_fill and all(f == CLASS_COLORS["reduce"][0] for f in reduce_fill)
    assert any("float32|" in t or "float32 (" in t for t, _ in nodes)
    assert len(svg_clusters(out)) == len(y.schedule())
    files = viz.draw_kernel(y, str(tmp_path / "k"))
    assert len(files) == 2 * len(y.schedule())
    for f in files:
        assert svg_nodes(f)
    sched = viz.draw_schedule(y, str(tmp_path / "kernels.svg"))
    assert sum(1 for t, _ in svg_nodes(sched) if t.startswith("#")) == len(y.schedule())


def test_without_dot_writes_dot_files_and_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(viz_dot, "dot_path", lambda: None)
    with pytest.warns(UserWarning, match="apt-get install graphviz"):
        out = viz.draw(mlp_graph(), str(tmp_path / "g.svg"))
    assert out.endswith(".dot") and "digraph" in Path(out).read_text()
    with viz.record(str(tmp_path / "v")):
        (tt.Tensor(np.ones((3, 3), np.float32)) * 2).sum().numpy()
    index = (tmp_path / "v" / "index.html").read_text()
    assert "apt-get install graphviz" in index
    assert list((tmp_path / "v").glob("*.dot")) and not list((tmp_path / "v").glob("*.svg"))


@needs_dot
def test_record_block_in_process(tmp_path: Path) -> None:
    n_hooks = (len(REALIZE_HOOKS), len(REWRITE_HOOKS), len(KERNEL_HOOKS))
    with viz.record(str(tmp_path)) as s:
        # (a shape and constant no other test uses: a graph the process has rewritten before is not rewritten again)
        a = tt.Tensor(np.arange(91, dtype=np.float32).reshape(7, 13))
        (a * 1 + 2.375).sum(1).numpy()  # `* 1` is removed by the algebraic pass: a pass that changed a graph
    assert (len(REALIZE_HOOKS), len(REWRITE_HOOKS), len(KERNEL_HOOKS)) == n_hooks
    assert len(s.entries) == 1 and len(s.kernels) >= 1
    changed = [p for p in s.passes.values() if p.changed]
    assert any(p.name == "algebraic" for p in changed)
    for p in changed:
        page = (tmp_path / f"pass_{p.id:04d}.html").read_text()
        assert f'p{p.id:04d}_before.svg' in page and f'p{p.id:04d}_after.svg' in page
    for f in tmp_path.glob("*.svg"):
        ET.parse(f)


# ---------------------------------------------------------------- VIZ=1 on the MNIST example
@pytest.fixture(scope="module")
def mnist_viz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST files are not staged at {MNIST}")
    if not viz.have_dot():
        pytest.skip("graphviz `dot` not installed (.ci/run installs it)")
    out = tmp_path_factory.mktemp("viz")
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DEVICE")}
    env.update(VIZ="1", VIZ_DIR=str(out), PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "examples/mlp.py", "--steps", "3", "--no-progress", "--checkpoint", "",
                        "--data", str(MNIST)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "viz: wrote" in p.stderr
    return out


def test_viz_mnist_index_links_every_svg_in_order(mnist_viz: Path) -> None:
    index = (mnist_viz / "index.html").read_text()
    svgs = sorted(f.name for f in mnist_viz.glob("*.svg"))
    assert len(svgs) > 20
    linked = [f for f in re.findall(r'(?:src|href)="([^"]+)"', index) if not f.startswith("#")]
    for f in linked:
        assert (mnist_viz / f).is_file(), f"index.html links a missing file {f}"
    linked_svgs = {f for f in linked if f.endswith(".svg")}
    pass_pages = sorted({f for f in linked if f.startswith("pass_")})
    for page in pass_pages:
        linked_svgs |= set(re.findall(r'src="([^"]+\.svg)"', (mnist_viz / page).read_text()))
    assert linked_svgs == set(svgs), "every SVG is reachable from index.html"
    # sections in execution order, each with its tensor and kernel graph
    sections = [int(x) for x in re.findall(r'<section id="s(\d+)">', index)]
    assert sections == list(range(1, len(sections) + 1)) and len(sections) >= 3
    for i in sections:
        assert f"e{i:04d}_tensor.svg" in svgs and f"e{i:04d}_kernels.svg" in svgs
    # one AST and one linearized form per kernel
    asts = [f for f in svgs if f.endswith("_ast.svg")]
    assert len(asts) == len([f for f in svgs if f.endswith("_linear.svg")]) >= 10


def test_viz_mnist_svgs_are_valid_xml(mnist_viz: Path) -> None:
    for f in mnist_viz.glob("*.svg"):
        root = ET.parse(f).getroot()
        assert root.tag == SVG + "svg", f
    for f in mnist_viz.glob("*.html"):
        assert f.read_text().startswith("<!DOCTYPE html>")


def test_viz_mnist_rewrite_pages_show_before_and_after(mnist_viz: Path) -> None:
    pages = sorted(mnist_viz.glob("pass_*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        m = re.search(r"nodes (\d+) &rarr; (\d+)", text)
        assert m, page
        before, after = re.findall(r'src="(p\d+_(?:before|after)\.svg)"', text)
        assert before.endswith("_before.svg") and after.endswith("_after.svg")
        bnodes, anodes = svg_nodes(mnist_viz / before), svg_nodes(mnist_viz / after)
        assert bnodes and anodes
        assert "rules fired" in ET.parse(mnist_viz / after).getroot().find(SVG + "g").find(SVG + "title").text
        assert re.search(r"<code>\w+:\d+</code></td><td>\d+</td>", text), "the rules that fired are listed"


@needs_chromium
def test_viz_mnist_renders_in_headless_chromium(mnist_viz: Path) -> None:
    r = check_page(str(mnist_viz / "index.html"))
    assert r.ok, r.problems
    assert r.graphs_loaded is not None and r.graphs_loaded[0] == r.graphs_loaded[1] > 20
    page = sorted(mnist_viz.glob("pass_*.html"))[0]
    r = check_page(str(page))
    assert r.ok and r.graphs_loaded == (2, 2), r.problems


@needs_chromium
def test_chromium_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "bad.svg").write_text("<svg><not-closed></svg>")
    html = (ROOT / "tinytorch" / "viz" / "session.py").read_text()
    script = html[html.index("<script>"):html.index("</script>") + 9]
    (tmp_path / "index.html").write_text(f'<!DOCTYPE html><html><body><img class="graph" src="bad.svg">{script}'
                                         "</body></html>")
    r = check_page(str(tmp_path / "index.html"))
    assert not r.ok and r.graphs_loaded == (0, 1)
    assert any("did not load" in p for p in r.problems)


# ---------------------------------------------------------------- DEBUG=6
def test_debug6_prints_every_pass_with_rules_and_sizes() -> None:
    code = ("import numpy as np, tinytorch as tt\n"
            "a = tt.Tensor(np.ones((4, 6), np.float32))\n"
            "print((a * 1 + 2).sum(1).numpy())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "VIZ")}
    env.update(DEBUG="6", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [m for m in (re.match(r"pass (\w+)\s+fired\s+(\d+) rules (\{.*\})\s+nodes (\d+) -> (\d+)$", line)
                         for line in p.stdout.splitlines()) if m]
    names = {m.group(1) for m in lines}
    assert {"algebraic", "simplify"} <= names
    alg = [m for m in lines if m.group(1) == "algebraic"]
    assert any(int(m.group(2)) >= 1 and int(m.group(5)) < int(m.group(4)) and "sym:" in m.group(3) for m in alg)
    for m in lines:
        if int(m.group(2)) == 0:
            assert m.group(4) == m.group(5) and m.group(3) == "{}"


def test_import_is_quiet_and_does_not_load_graph_libraries() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "VIZ")}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run([sys.executable, "-c", "import sys, tinytorch\n"
                        "print([m for m in ('networkx', 'graphviz', 'tinytorch.viz') if m in sys.modules])"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and p.stdout == "[]\n" and p.stderr == "", (p.stdout, p.stderr)
