"""VIZ=1: record a whole program run as SVG graphs plus one index.html, in execution order.

Takes: the hooks of the pipeline — every realize (engine/realize.py REALIZE_HOOKS), every
named rewrite pass (ops/rewrite.py REWRITE_HOOKS), every kernel call (runtime/device.py
KERNEL_HOOKS, only counted).
Produces, in `$VIZ_DIR` (default ./viz/), when the run ends (atexit, or the end of
`with viz.record(dir):`):
- `index.html`: one section per distinct schedule, in the order they first ran, with the
  tensor graph (clustered by kernel) and the kernel graph; per kernel its AST, its linearized
  form (SVG, listing and rendered source); every rewrite pass that ran for it, before and
  after, with the rules that fired; a legend of node colours. Plain HTML and relative links:
  it opens offline in any browser.
- `pass_NNNN.html`: one page per distinct rewrite pass that changed a graph (before | after).
- `*.svg` (with graphviz's `dot` on PATH) or `*.dot` files and a note on installing graphviz.
A schedule that runs again (the plan cache) is counted, not drawn again; kernels replayed by
the JIT are counted.
"""

from __future__ import annotations

import atexit
import datetime
import html
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ..helpers import user_line
from ..ops.uop import UOp
from . import dot as _dot
from .graphs import (
    CLASS_COLORS,
    DEFAULT_LIMIT,
    linear_graph,
    linear_text,
    rewrite_graphs,
    schedule_graph,
    tensor_graph,
    uop_graph,
)

MAX_PASS_PAGES = 400  # distinct graph-changing passes drawn per run; the rest are listed only
MAX_KERNELS = 400  # distinct kernels drawn per run
_OUR_FILES = re.compile(r"^((e|k|p)\d+_\w+\.(svg|dot)|pass_\d+\.html)$")
_GENERATOR = '<meta name="generator" content="tinytorch.viz">'


@dataclass
class PassRecord:
    id: int
    name: str
    before: UOp
    after: UOp
    fired: dict[str, int]
    n_before: int
    n_after: int
    runs: int = 1
    kernel: int | None = None  # which kernel's lowering ran it, when known
    drawn: bool = False

    @property
    def changed(self) -> bool:
        return self.before is not self.after


@dataclass
class KernelRecord:
    id: int
    name: str
    tag: str | None
    opts: str
    linear: str
    source: str
    passes: list[PassRecord] = field(default_factory=list)
    error: str = ""


@dataclass
class Entry:
    id: int
    where: str | None
    device: str
    n_ops: int
    kernels: list[tuple[int, KernelRecord | None]]  # (index in plan, record)
    passes: list[PassRecord]
    seconds: float
    runs: int = 1
    notes: list[str] = field(default_factory=list)


class Session:
    """Collects what VIZ shows while a program runs; `finish()` renders and writes the pages."""

    def __init__(self, out_dir: str, limit: int = DEFAULT_LIMIT):
        self.out = os.path.abspath(out_dir)
        self.limit = limit
        self.entries: list[Entry] = []
        self.plan_entry: dict[int, Entry] = {}
        self.plans: list[Any] = []  # keeps each recorded plan alive, so its id stays unique
        self.kernels: dict[UOp, KernelRecord] = {}
        self.passes: dict[tuple[str, UOp, UOp], PassRecord] = {}
        self.pending: list[PassRecord] = []
        self.capture: list[PassRecord] | None = None
        self.dot_files: list[str] = []
        self.kernel_calls = 0
        self.pass_runs = 0
        self.started = time.time()
        self.finished = False
        self.errors: list[str] = []
        os.makedirs(self.out, exist_ok=True)
        for f in os.listdir(self.out):  # earlier runs' files would be listed nowhere
            if _OUR_FILES.match(f) or (f == "index.html" and _ours(os.path.join(self.out, f))):
                try:
                    os.remove(os.path.join(self.out, f))
                except OSError:
                    pass

    # ------------------------------------------------------------ hooks
    def on_rewrite(self, name: str, root: UOp, result: UOp, fired: dict[str, int]) -> None:
        self.pass_runs += 1
        key = (name, root, result)
        rec = self.passes.get(key)
        if rec is None:
            rec = PassRecord(len(self.passes) + 1, name, root, result, dict(fired),
                             len(root.toposort()), len(result.toposort()))
            self.passes[key] = rec
        else:
            rec.runs += 1
        target = self.capture if self.capture is not None else self.pending
        if rec not in target:
            target.append(rec)

    def on_kernel(self, runner: Any, bufs: list[Any], st: float, et: float) -> None:
        self.kernel_calls += 1

    def on_realize(self, targets: list[UOp], plan: Any, dev: Any, t0: float) -> None:
        if self.finished:
            return
        e = self.plan_entry.get(id(plan))
        if e is not None:
            e.runs += 1
            self.pending.clear()  # (passes of an already-drawn schedule: nothing new)
            return
        try:
            self._record(targets, plan, dev, t0)
        except Exception as ex:  # VIZ must never break the program it watches
            self.errors.append(f"schedule {len(self.entries) + 1}: {type(ex).__name__}: {ex}")

    def _record(self, targets: list[UOp], plan: Any, dev: Any, t0: float) -> None:
        from ..codegen import kernel_name, lower_kernel

        eid = len(self.entries) + 1
        names = []
        for k in plan.kernels:
            r = dev.runners.get(k.ast)
            names.append(r.name if r is not None else "?")
        kernels: list[tuple[int, KernelRecord | None]] = []
        own_passes: list[PassRecord] = []
        for i, k in enumerate(plan.kernels):
            rec = self.kernels.get(k.ast)
            if rec is None and len(self.kernels) < MAX_KERNELS:
                kid = len(self.kernels) + 1
                self.capture = []
                try:
                    kern, opts, prog, _ = lower_kernel(k.ast)
                    runner = dev.runners.get(k.ast)
                    src = getattr(runner, "src", "") or ""
                    rec = KernelRecord(kid, names[i] if names[i] != "?" else kernel_name(kern, opts), k.tag,
                                       ", ".join(opts.notes) or "none", linear_text(prog), src)
                    self._add(uop_graph([k.ast], title=f"kernel {rec.name}: AST", limit=self.limit),
                              f"k{kid:04d}_ast")
                    self._add(linear_graph(prog, title=f"kernel {rec.name}: linearized ({len(prog)} instructions)",
                                           limit=self.limit), f"k{kid:04d}_linear", rankdir="TB")
                except Exception as ex:
                    rec = KernelRecord(kid, names[i], k.tag, "", "", "", error=f"{type(ex).__name__}: {ex}")
                finally:
                    captured, self.capture = self.capture or [], None
                for p in captured:
                    if p.kernel is None:
                        p.kernel = kid
                rec.passes = captured
                own_passes.extend(captured)
                self.kernels[k.ast] = rec
            kernels.append((i, rec))
        passes = list(self.pending)
        self.pending.clear()
        for p in own_passes:
            if p not in passes:
                passes.append(p)
        e = Entry(eid, user_line(), dev.name, plan.n_ops, kernels, passes, time.perf_counter() - t0)
        self.entries.append(e)
        self.plan_entry[id(plan)] = e
        self.plans.append(plan)
        self._add(tensor_graph(targets, title=f"schedule {eid}: tensor graph ({plan.n_ops} ops)", limit=self.limit,
                               kernels=plan.kernels, kernel_names=names), f"e{eid:04d}_tensor")
        self._add(schedule_graph(plan, names, title=f"schedule {eid}: {_n(len(plan.kernels), 'kernel')} in run order",
                                 limit=self.limit), f"e{eid:04d}_kernels")
        for p in passes:
            if p.changed and not p.drawn and sum(q.drawn for q in self.passes.values()) < MAX_PASS_PAGES:
                gb, ga = rewrite_graphs(p.name, p.before, p.after, p.fired, limit=self.limit)
                self._add(gb, f"p{p.id:04d}_before")
                self._add(ga, f"p{p.id:04d}_after")
                p.drawn = True

    def _add(self, g: Any, stem: str, rankdir: str = "TB") -> None:
        self.dot_files.append(_dot.write_dot(g, os.path.join(self.out, stem + ".dot"), rankdir))

    # ------------------------------------------------------------ output
    def finish(self) -> str:
        """Render every graph and write index.html; returns its path."""
        if self.finished:
            return os.path.join(self.out, "index.html")
        self.finished = True
        have_dot = _dot.dot_path() is not None
        ext = "svg" if have_dot else "dot"
        if have_dot:
            written, errors = _dot.render_files(self.dot_files)
            self.errors.extend(errors)
            for dot_file in self.dot_files:
                if dot_file[:-4] + ".svg" in written:
                    os.remove(dot_file)
        for e in self.entries:
            for p in e.passes:
                if p.drawn:
                    self._write_pass_page(p, ext)
        index = os.path.join(self.out, "index.html")
        with open(index, "w") as f:
            f.write(self._index(ext, have_dot))
        return index

    def _img(self, stem: str, ext: str, alt: str) -> str:
        if ext == "svg":
            return (f'<a href="{stem}.svg" title="open {alt} full size"><img src="{stem}.svg" alt="{html.escape(alt)}" '
                    f'class="graph"></a>')
        return f'<a href="{stem}.dot">{html.escape(alt)} (.dot)</a>'

    def _write_pass_page(self, p: PassRecord, ext: str) -> None:
        rules = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{v}</td></tr>" for k, v in
                        sorted(p.fired.items())) or "<tr><td colspan=2>no rule fired</td></tr>"
        body = f"""<h1>rewrite pass <code>{html.escape(p.name)}</code> #{p.id}</h1>
<p><a href="index.html">&larr; index</a> &middot; ran {p.runs}x on this graph{f" &middot; kernel {p.kernel}" if p.kernel
                                                                              else ""} &middot;
nodes {p.n_before} &rarr; {p.n_after}. Removed nodes are dashed red (before), new nodes bold green (after).</p>
<table class="rules"><tr><th>rule that fired (module:line)</th><th>times</th></tr>{rules}</table>
<div class="pair"><div><h2>before</h2>{self._img(f"p{p.id:04d}_before", ext, "before")}</div>
<div><h2>after</h2>{self._img(f"p{p.id:04d}_after", ext, "after")}</div></div>"""
        with open(os.path.join(self.out, f"pass_{p.id:04d}.html"), "w") as f:
            f.write(_page(f"pass {p.name} #{p.id}", body))

    def _index(self, ext: str, have_dot: bool) -> str:
        n_kernels = len(self.kernels)
        out = [f"<h1>tinytorch VIZ: {html.escape(os.path.basename(sys.argv[0]) or 'python')}</h1>",
               f"<p>{datetime.datetime.fromtimestamp(self.started).strftime('%Y-%m-%d %H:%M:%S')} &middot; "
               f"{len(self.entries)} distinct schedules ({sum(e.runs for e in self.entries)} realizes) &middot; "
               f"{n_kernels} distinct kernels &middot; {self.kernel_calls} kernel calls (JIT replays included) "
               f"&middot; {self.pass_runs} rewrite pass runs, {len(self.passes)} distinct, "
               f"{sum(1 for p in self.passes.values() if p.changed)} changed a graph.</p>"]
        if not have_dot:
            out.append(f'<p class="warn">{html.escape(_dot.INSTALL_HINT)}</p>')
        for err in self.errors:
            out.append(f'<p class="warn">{html.escape(err)}</p>')
        out.append('<details><summary>legend: node colours</summary><table class="legend">' + "".join(
            f'<tr><td style="background:{c}">&nbsp;&nbsp;&nbsp;&nbsp;</td><td>{html.escape(d)}</td></tr>'
            for c, d in CLASS_COLORS.values()) + "</table><p>Constants are written into the node that uses them "
            "(<code>+ const 0.5</code>); dashed boxes group the nodes of one kernel (tensor graphs) or one loop "
            "(linear programs).</p></details>")
        out.append('<nav><b>schedules:</b> ' + " ".join(f'<a href="#s{e.id}">{e.id}</a>' for e in self.entries)
                   + "</nav>")
        for e in self.entries:
            out.append(self._entry_html(e, ext))
        return _page("tinytorch VIZ", "\n".join(out), script=True)

    def _entry_html(self, e: Entry, ext: str) -> str:
        s = f"e{e.id:04d}"
        head = (f'<section id="s{e.id}"><h2>schedule {e.id}: {_n(len(e.kernels), "kernel")} from {e.n_ops} ops on '
                f'{html.escape(e.device)}</h2><p>first realized at <code>{html.escape(e.where or "?")}</code> '
                f'({e.seconds * 1e3:.1f} ms with scheduling and compiling) &middot; ran {e.runs}x</p>')
        graphs = (f'<div class="pair"><div><h3>tensor graph</h3>{self._img(s + "_tensor", ext, "tensor graph")}</div>'
                  f'<div><h3>kernel graph</h3>{self._img(s + "_kernels", ext, "kernel graph")}</div></div>')
        rows = []
        for i, rec in e.kernels:
            if rec is None:
                rows.append(f"<tr><td>{i}</td><td colspan=4>not drawn (more than {MAX_KERNELS} kernels)</td></tr>")
                continue
            k = f"k{rec.id:04d}"
            passes = ", ".join(f'<a href="pass_{p.id:04d}.html">{html.escape(p.name)}</a>' for p in rec.passes
                               if p.drawn)
            n_same = sum(1 for p in rec.passes if not p.changed)
            detail = (f"<details><summary>AST, linearized form, source</summary>"
                      f"{'<p class=warn>' + html.escape(rec.error) + '</p>' if rec.error else ''}"
                      f'<div class="pair"><div><h4>AST</h4>{self._img(k + "_ast", ext, "AST")}</div>'
                      f'<div><h4>linearized</h4>{self._img(k + "_linear", ext, "linear program")}</div></div>'
                      f"<p>optimizations: {html.escape(rec.opts)}</p><pre>{html.escape(rec.linear)}</pre>"
                      + (f"<pre>{html.escape(rec.source)}</pre>" if rec.source else "") + "</details>")
            rows.append(f"<tr><td>{i}</td><td><code>{html.escape(rec.name)}</code> (kernel {rec.id})</td>"
                        f"<td><code>{html.escape(rec.tag or '')}</code></td>"
                        f'<td>{self._link(k + "_ast", ext, "AST")} {self._link(k + "_linear", ext, "linear")}</td>'
                        f"<td>{passes or '-'}{f' ({n_same} passes changed nothing)' if n_same else ''}</td></tr>"
                        f"<tr><td></td><td colspan=4>{detail}</td></tr>")
        table = ("<table class=kernels><tr><th>#</th><th>kernel</th><th>source line</th><th>graphs</th>"
                 "<th>rewrite passes that changed it</th></tr>" + "".join(rows) + "</table>")
        prow = []
        for p in e.passes:
            if not p.changed:
                continue
            rules = ", ".join(f"{html.escape(k)} x{v}" for k, v in sorted(p.fired.items()))
            links = (f'<a href="pass_{p.id:04d}.html">page</a> {self._link(f"p{p.id:04d}_before", ext, "before")} '
                     f'{self._link(f"p{p.id:04d}_after", ext, "after")}' if p.drawn else "not drawn (limit)")
            prow.append(f"<tr><td>{p.id}</td><td><code>{html.escape(p.name)}</code></td><td>{p.kernel or '-'}</td>"
                        f"<td>{p.n_before} &rarr; {p.n_after}</td><td>{rules}</td><td>{links}</td></tr>")
        unchanged: dict[str, int] = {}
        for p in e.passes:
            if not p.changed:
                unchanged[p.name] = unchanged.get(p.name, 0) + 1
        note = ("; ".join(f"{n}: {c} distinct graphs where no rule fired" for n, c in unchanged.items())
                if unchanged else "")
        ptable = (f"<details><summary>rewrite passes of this schedule: {len(prow)} changed a graph"
                  f"{' (' + html.escape(note) + ')' if note else ''}</summary>"
                  "<table class=passes><tr><th>pass</th><th>name</th><th>kernel</th><th>nodes before &rarr; after</th>"
                  "<th>rules fired</th><th>before / after</th></tr>" + "".join(prow) + "</table></details>")
        return head + graphs + table + ptable + "</section>"

    @staticmethod
    def _link(stem: str, ext: str, text: str) -> str:
        return f'<a href="{stem}.{ext}">{html.escape(text)}</a>'


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _ours(path: str) -> bool:
    try:
        with open(path) as f:
            return _GENERATOR in f.read(2000)
    except OSError:
        return False


_CSS = """body{font-family:system-ui,Helvetica,Arial,sans-serif;margin:1.5em;color:#212529}
img.graph{max-width:100%;border:1px solid #dee2e6;background:#fff}
.pair{display:flex;gap:1em;flex-wrap:wrap}.pair>div{flex:1 1 45%;min-width:300px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #dee2e6;padding:2px 6px;vertical-align:top;
text-align:left}pre{background:#f8f9fa;padding:.5em;overflow:auto;max-height:30em;font-size:85%}
section{border-top:2px solid #adb5bd;margin-top:1.5em}.warn{background:#fff3bf;padding:.5em}nav a{margin-right:.4em}"""

# checks (for people and for the headless-browser test) that every graph loaded: a failure is a console error
_SCRIPT = """<script>
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img.graph"), ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
    else console.error("viz: graph did not load: " + imgs[i].getAttribute("src"));
  }
  document.body.setAttribute("data-graphs-loaded", ok + "/" + imgs.length);
});
</script>"""


def _page(title: str, body: str, script: bool = True) -> str:
    return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>{_GENERATOR}<title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n{body}\n{_SCRIPT if script else ''}</body></html>\n")


# ---------------------------------------------------------------- the active session
_ACTIVE: list[Session] = []


def start(out_dir: str | None = None, limit: int = DEFAULT_LIMIT) -> Session:
    """Begin recording (VIZ=1 does this at import). Returns the session; `stop()` writes it."""
    from ..engine.realize import REALIZE_HOOKS
    from ..helpers import SOURCE_LINES, VIZ_DIR
    from ..ops.rewrite import REWRITE_HOOKS
    from ..runtime.device import KERNEL_HOOKS

    if _ACTIVE:
        raise RuntimeError("viz: a recording is already running (VIZ=1 or viz.record()); stop it first")
    s = Session(out_dir or str(VIZ_DIR.value) or "viz", limit)
    s._old_lines = SOURCE_LINES.value  # type: ignore[attr-defined]
    SOURCE_LINES.value = 1
    REALIZE_HOOKS.append(s.on_realize)
    REWRITE_HOOKS.append(s.on_rewrite)
    KERNEL_HOOKS.append(s.on_kernel)
    _ACTIVE.append(s)
    return s


def stop(quiet: bool = False) -> str | None:
    """Stop recording, render the graphs, write index.html; returns its path (None if not recording)."""
    from ..engine.realize import REALIZE_HOOKS
    from ..helpers import SOURCE_LINES
    from ..ops.rewrite import REWRITE_HOOKS
    from ..runtime.device import KERNEL_HOOKS

    if not _ACTIVE:
        return None
    s = _ACTIVE.pop()
    pairs: list[tuple[list[Any], Any]] = [(REALIZE_HOOKS, s.on_realize), (REWRITE_HOOKS, s.on_rewrite),
                                          (KERNEL_HOOKS, s.on_kernel)]
    for hooks, fn in pairs:
        if fn in hooks:
            hooks.remove(fn)
    SOURCE_LINES.value = s._old_lines  # type: ignore[attr-defined]
    st = time.perf_counter()
    index = s.finish()
    if not quiet:
        n_svg = sum(1 for f in os.listdir(s.out) if f.endswith(".svg"))
        what = f"{n_svg} SVGs" if _dot.dot_path() else \
            f"{len(s.dot_files)} .dot files (no `dot`: apt-get install graphviz)"
        print(f"viz: wrote {index} ({_n(len(s.entries), 'schedule')}, {_n(len(s.kernels), 'kernel')}, {what}) in "
              f"{time.perf_counter() - st:.1f} s", file=sys.stderr)
    return index


def enable_from_env() -> None:
    """VIZ=1 at import: record the whole run and write the pages at exit."""
    start()
    atexit.register(stop)
