"""The profiler: `with tinytorch.profile() as prof:` times every kernel call of a block.

Takes: the kernel calls of the block (runtime/device.py KERNEL_HOOKS: every call passes
`Runner.__call__`, JIT replays included) and its realizes (engine/realize.py REALIZE_HOOKS).
Produces:
- `prof.table()` (also `print(prof)`): one row per kernel — name, device, calls, total and
  mean time, GFLOP/s (2 per multiply-add), GB/s (bytes moved, `kernel_bytes`), the fraction
  of this machine's peak FLOP/s and bandwidth (runtime/limits.py, measured once and cached),
  and the user source line that created it —
  then the block's totals: kernel time against wall time, peak bytes allocated, live buffers;
- `prof.export_chrome_trace(path)`: Chrome trace-event JSON (Perfetto, chrome://tracing):
  one complete event per kernel call, one per realize (schedule + compile + run), and a
  counter of live memory;
- `prof.kernels`, `prof.total_kernel_time`, `prof.wall_time`, `prof.peak_bytes`, ...

A kernel's time is measured around the call itself (threads included), so the sum of the
rows is the time spent in kernels. Source lines are recorded for tensors built while a
profile (or DEBUG>=2, or VIZ) is on.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from .helpers import SOURCE_LINES, user_line


@dataclass
class KernelStats:
    name: str
    device: str
    calls: int
    total: float  # seconds
    min: float
    max: float
    flops: int  # per call: 2 per multiply-add (codegen/kernel.py Kernel.flops)
    nbytes: int  # per call: bytes moved (kernel_bytes)
    tag: str | None

    @property
    def mean(self) -> float:
        return self.total / self.calls

    @property
    def gflops(self) -> float:
        return self.flops * self.calls / self.total * 1e-9 if self.total > 0 else 0.0

    @property
    def gbs(self) -> float:
        return self.nbytes * self.calls / self.total * 1e-9 if self.total > 0 else 0.0


class profile:  # noqa: N801 (used like a function: `with tinytorch.profile() as prof`)
    """Time every kernel call inside the block. `limits=False` skips the machine-peak columns
    (which measure the machine on first use, about a second, then come from the cache)."""

    def __init__(self, limits: bool = True):
        self.limits = limits
        self.events: list[tuple[Any, float, float, int, int]] = []  # runner, start, end, bytes, live bytes
        self.realizes: list[tuple[float, float, int, str, str | None]] = []  # start, end, kernels, device, line
        self.start = self.end = 0.0
        self.peak_bytes = self.start_bytes = self.end_bytes = 0
        self.live_buffers = self.start_buffers = 0
        self._old_lines: Any = 0
        self._old_peak = 0
        self._stats: list[KernelStats] | None = None

    # ------------------------------------------------------------ recording
    def __enter__(self) -> profile:
        from .engine.realize import REALIZE_HOOKS
        from .runtime.buffer import ALLOCATOR
        from .runtime.device import KERNEL_HOOKS

        self._old_lines, SOURCE_LINES.value = SOURCE_LINES.value, 1
        self._old_peak = ALLOCATOR.peak_bytes
        ALLOCATOR.peak_bytes = ALLOCATOR.live_bytes  # the block's own peak
        self.start_bytes, self.start_buffers = ALLOCATOR.live_bytes, ALLOCATOR.live_count
        KERNEL_HOOKS.append(self._on_kernel)
        REALIZE_HOOKS.append(self._on_realize)
        self.start = time.perf_counter()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        from .engine.realize import REALIZE_HOOKS
        from .runtime.buffer import ALLOCATOR
        from .runtime.device import KERNEL_HOOKS

        self.end = time.perf_counter()
        pairs: list[tuple[list[Any], Any]] = [(KERNEL_HOOKS, self._on_kernel), (REALIZE_HOOKS, self._on_realize)]
        for hooks, fn in pairs:
            if fn in hooks:
                hooks.remove(fn)
        SOURCE_LINES.value = self._old_lines
        self.peak_bytes = ALLOCATOR.peak_bytes
        ALLOCATOR.peak_bytes = max(self._old_peak, ALLOCATOR.peak_bytes)
        self.end_bytes, self.live_buffers = ALLOCATOR.live_bytes, ALLOCATOR.live_count
        self._stats = None

    def _on_kernel(self, runner: Any, bufs: list[Any], st: float, et: float) -> None:
        from .runtime.buffer import ALLOCATOR

        self.events.append((runner, st, et, kernel_bytes(runner, bufs), ALLOCATOR.live_bytes))

    def _on_realize(self, targets: list[Any], plan: Any, dev: Any, t0: float) -> None:
        where = user_line()
        self.realizes.append((t0, time.perf_counter(), len(plan.kernels), dev.name, where))
        for k in plan.kernels:  # the kernel rows name the line that created them, else the line that realized them
            r = dev.runners.get(k.ast)
            if r is not None and r.tag is None:
                r.tag = k.tag or (f"{where} (realize)" if where else None)

    # ------------------------------------------------------------ results
    @property
    def wall_time(self) -> float:
        return (self.end or time.perf_counter()) - self.start

    @property
    def total_kernel_time(self) -> float:
        return sum(et - st for _, st, et, _, _ in self.events)

    @property
    def kernels(self) -> list[KernelStats]:
        """Per-kernel statistics, most total time first."""
        if self._stats is not None and self.end:
            return self._stats
        devs, tags = _runner_facts()
        rows: dict[int, KernelStats] = {}
        for r, st, et, nbytes, _ in self.events:
            dt = et - st
            s = rows.get(id(r))
            if s is None:
                rows[id(r)] = KernelStats(r.name, devs.get(id(r), "?"), 1, dt, dt, dt, int(r.flops), nbytes,
                                          r.tag or tags.get(id(r)))
            else:
                s.calls += 1
                s.total += dt
                s.min, s.max = min(s.min, dt), max(s.max, dt)
        self._stats = sorted(rows.values(), key=lambda s: -s.total)
        return self._stats

    def table(self, top: int | None = None) -> str:
        """The per-kernel table and the block's totals, as text."""
        lim = None
        if self.limits:
            from .runtime.limits import machine_limits

            try:
                lim = machine_limits()
            except Exception:  # a failed measurement only blanks the %-of-peak columns
                lim = None
        stats = self.kernels
        shown = stats if top is None else stats[:top]
        head = ["kernel", "device", "calls", "total ms", "mean us", "GFLOP/s", "GB/s", "%peak FLOP", "%peak BW",
                "source line"]
        rows = []
        for s in shown:
            pf = f"{100 * s.gflops * 1e9 / lim.flops:.1f}%" if lim and lim.flops else "-"
            pb = f"{100 * s.gbs * 1e9 / lim.bandwidth:.1f}%" if lim and lim.bandwidth else "-"
            rows.append([s.name, s.device, str(s.calls), f"{s.total * 1e3:.3f}", f"{s.mean * 1e6:.1f}",
                         f"{s.gflops:.2f}", f"{s.gbs:.2f}", pf, pb, s.tag or "-"])
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
        left = {0, 1, 9}

        def line(vals: list[str]) -> str:
            return "  ".join(v.ljust(w) if i in left else v.rjust(w) for i, (v, w) in enumerate(zip(vals, widths)))

        out = [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]
        if top is not None and len(stats) > top:
            out.append(f"... {len(stats) - top} more kernels ({sum(s.total for s in stats[top:]) * 1e3:.3f} ms)")
        total, wall = self.total_kernel_time, self.wall_time
        calls = len(self.events)
        out.append("")
        out.append(f"kernel time {total * 1e3:.3f} ms in {calls} calls of {len(stats)} kernels; wall time "
                   f"{wall * 1e3:.3f} ms ({100 * total / wall if wall > 0 else 0:.1f}% in kernels); "
                   f"{len(self.realizes)} realizes")
        out.append(f"memory: peak {_mib(self.peak_bytes)} allocated (at entry {_mib(self.start_bytes)}); live at exit "
                   f"{_mib(self.end_bytes)} in {self.live_buffers} buffers (at entry {self.start_buffers})")
        if lim is not None:
            f = f"{lim.flops / 1e9:.1f} GFLOP/s" if lim.flops else "FLOP/s not measured"
            b = f"{lim.bandwidth / 1e9:.1f} GB/s" if lim.bandwidth else "bandwidth not measured"
            out.append(f"machine peak: {f}, {b} ({lim.detail})")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def print(self, top: int | None = None) -> None:  # noqa: A003
        print(self.table(top), flush=True)

    def chrome_trace(self) -> dict[str, Any]:
        """The trace as a dict in the trace-event format (microseconds from the block's start)."""
        pid = os.getpid()
        devs, tags = _runner_facts()
        t0 = self.start

        def us(t: float) -> float:
            return round((t - t0) * 1e6, 3)

        ev: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "tinytorch"}},
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": 1, "args": {"name": "kernels"}},
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": 2,
             "args": {"name": "realize (schedule + compile + run)"}},
        ]
        for st, et, n, dev, where in self.realizes:
            ev.append({"name": f"realize {n} kernels", "cat": "realize", "ph": "X", "pid": pid, "tid": 2,
                       "ts": us(st), "dur": round((et - st) * 1e6, 3),
                       "args": {"kernels": n, "device": dev, "source": where or ""}})
        for r, st, et, nbytes, live in self.events:
            dur = et - st
            ev.append({"name": r.name, "cat": "kernel", "ph": "X", "pid": pid, "tid": 1, "ts": us(st),
                       "dur": round(dur * 1e6, 3),
                       "args": {"device": devs.get(id(r), "?"), "flops": int(r.flops), "bytes": nbytes,
                                "GFLOP/s": round(r.flops / dur * 1e-9, 3) if dur > 0 else 0.0,
                                "GB/s": round(nbytes / dur * 1e-9, 3) if dur > 0 else 0.0,
                                "source": r.tag or tags.get(id(r)) or ""}})
            ev.append({"name": "live memory", "ph": "C", "pid": pid, "tid": 0, "ts": us(st),
                       "args": {"MiB": round(live / (1 << 20), 3)}})
        return {"traceEvents": ev, "displayTimeUnit": "ms",
                "otherData": {"producer": "tinytorch.profile", "wall_ms": round(self.wall_time * 1e3, 3),
                              "kernel_ms": round(self.total_kernel_time * 1e3, 3),
                              "peak_bytes": self.peak_bytes}}

    def export_chrome_trace(self, path: str) -> str:
        """Write the Chrome trace-event JSON to `path` (open it in ui.perfetto.dev or chrome://tracing)."""
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.chrome_trace(), f)
        return path


def kernel_bytes(runner: Any, bufs: list[Any]) -> int:
    """Bytes one call of the kernel moves: each buffer it reads counted once, at most at its real size (a
    broadcast operand at its own size, a slice at the part it reaches), plus each output written once;
    a runner that does not know its traffic counts every buffer once, whole."""
    traffic = getattr(runner, "traffic", None)
    if traffic is None:
        return sum(b.nbytes for b in bufs)
    total = 0
    for i, read, written in traffic:
        b = bufs[i]
        total += min(b.nbytes, read * b.dtype.itemsize) + min(b.nbytes, written * b.dtype.itemsize)
    return int(total)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.2f} MiB"


def _runner_facts() -> tuple[dict[int, str], dict[int, str]]:
    """id(runner) -> device name, and -> the source line recorded in any cached plan."""
    from .engine.realize import PLAN_CACHE
    from .runtime import device as _dev

    devs: dict[int, str] = {}
    by_ast: dict[Any, int] = {}
    for name, d in list(_dev._INSTANCES.items()):
        for ast, r in list(d.runners.items()):
            devs[id(r)] = name
            by_ast[ast] = id(r)
    tags: dict[int, str] = {}
    for plan, _ in list(PLAN_CACHE.values()):
        for k in plan.kernels:
            rid = by_ast.get(k.ast)
            if rid is not None and k.tag and rid not in tags:
                tags[rid] = k.tag
    return devs, tags
