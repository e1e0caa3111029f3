"""Core benchmarks: tinytorch on each device next to numpy (and torch / tinygrad when importable).

Takes: options (`--quick`, `--devices C,LLVM`, `--peers numpy,torch,tinygrad`, `--out FILE`; see --help).
Produces: a markdown report on stdout (and in --out): this machine's limits, then per workload and
implementation the first-call time (a fresh process with a cold compile cache: import excluded,
schedule + compile + run included), the steady-state median after warm-up, throughput as a fraction
of the machine's limit, and the ratio to numpy measured in the same run; then the Python overhead of
re-realizing an already-seen 10-kernel graph.

Workloads (sizes of the full run; --quick shrinks them):
- ew6      out = (((a + b) * a - b).relu() * 0.5 + a) over 16M float32: 6 ops/element
           (add, mul, sub, relu, mul, add); bytes = 4 B x 3N (read a and b, write out).
- sum      a.sum() over 16M float32; bytes = 4 B x N read.
- softmax  x.softmax(-1) over 4096 rows of 1024; bytes = 4 B x 2N (read x, write out), ~5 flops/element.
- matmul   a @ b, square N = 256, 1024, 2048; flops = 2N^3.
Limits: peak FP32 FLOP/s (an FMA loop on all cores, common.peak_fp32_flops) for matmul; copy
bandwidth (numpy copy of 256 MiB, read + write) for the memory-bound workloads.

    python benchmarks/bench_core.py --quick          # a smoke run in well under a minute
    python benchmarks/bench_core.py --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    copy_bandwidth,
    fmt_time,
    import_tinygrad,
    import_torch,
    machine_facts,
    markdown_table,
    measure,
    peak_fp32_flops,
)

INTERP_MAX_ELEMENTS = 1 << 26  # INTERP materializes a matmul's N^3 products: skip it beyond this


@dataclass
class Workload:
    name: str
    shapes: list[tuple[int, ...]]
    flops: float
    nbytes: float
    bound: str  # "memory" (compare GB/s with copy bandwidth) or "compute" (GFLOP/s with peak FMA)
    np_fn: Callable[..., Any]
    tt_fn: Callable[..., Any]  # also used for tinygrad: same method names
    torch_fn: Callable[..., Any]
    interp_elements: int  # elements INTERP would materialize
    positive: bool = False


def _np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def workloads(quick: bool) -> list[Workload]:
    n = 1 << (20 if quick else 24)
    rows, cols = (512, 1024) if quick else (4096, 1024)
    mm = (64, 128, 256) if quick else (256, 1024, 2048)
    out = [
        Workload("ew6", [(n,), (n,)], 6 * n, 12 * n, "memory",
                 lambda a, b: np.maximum((a + b) * a - b, 0) * 0.5 + a,
                 lambda a, b: (((a + b) * a - b).relu() * 0.5 + a),
                 lambda a, b: ((a + b) * a - b).relu() * 0.5 + a, n),
        Workload("sum", [(n,)], n, 4 * n, "memory", lambda a: a.sum(), lambda a: a.sum(), lambda a: a.sum(), n),
        Workload("softmax", [(rows, cols)], 5 * rows * cols, 8 * rows * cols, "memory", _np_softmax,
                 lambda x: x.softmax(-1), lambda x: x.softmax(-1), rows * cols),
    ]
    for s in mm:
        out.append(Workload(f"matmul{s}", [(s, s), (s, s)], 2 * s ** 3, 12 * s * s, "compute", lambda a, b: a @ b,
                            lambda a, b: a @ b, lambda a, b: a @ b, s ** 3))
    return out


def inputs(w: Workload) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s, dtype=np.float32) for s in w.shapes]


# ---------------------------------------------------------------- implementations
# each prepares its inputs and returns (run once and wait, result as numpy)
def prepare(impl: str, w: Workload, arrs: list[np.ndarray]) -> tuple[Callable[[], Any], Callable[[], np.ndarray]]:
    if impl == "numpy":
        return (lambda: w.np_fn(*arrs)), (lambda: np.asarray(w.np_fn(*arrs)))
    if impl == "torch":
        import torch

        ts = [torch.from_numpy(a) for a in arrs]

        def run_torch() -> Any:
            with torch.inference_mode():
                return w.torch_fn(*ts)
        return run_torch, (lambda: run_torch().numpy())
    if impl == "tinygrad":
        from tinygrad import Device as TGDevice
        from tinygrad import Tensor as TGTensor

        tg = [TGTensor(a).realize() for a in arrs]
        dev = TGDevice[TGDevice.DEFAULT]

        def run_tg() -> Any:
            out = w.tt_fn(*tg).realize()
            dev.synchronize()
            return out
        return run_tg, (lambda: run_tg().numpy())
    if impl.startswith("tinytorch:"):
        import tinytorch as tt

        device = impl.split(":", 1)[1]
        ts = [tt.Tensor(a, device=device).realize() for a in arrs]
        return (lambda: w.tt_fn(*ts).realize()), (lambda: w.tt_fn(*ts).numpy())
    raise ValueError(f"unknown implementation {impl!r}")


def check(w: Workload, got: np.ndarray, want: np.ndarray) -> str:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return f"WRONG shape {got.shape}"
    scale = float(np.max(np.abs(want))) if want.size else 1.0
    ok = np.allclose(got, want, rtol=1e-3, atol=1e-4 * scale)
    return "ok" if ok else f"WRONG (max err {np.max(np.abs(got - want)):.2g})"


def child(impl: str, name: str, mode: str, quick: bool, repeats: int) -> None:
    """Runs in a fresh process, so that no library's worker threads (OpenMP, OpenBLAS, tinygrad's
    CPU workers spin after a call) steal the cores of the next measurement. Prints one JSON line."""
    w = next(x for x in workloads(quick) if x.name == name)
    arrs = inputs(w)
    run, result = prepare(impl, w, arrs)
    if mode == "first":
        st = time.perf_counter()
        run()
        print(json.dumps({"seconds": time.perf_counter() - st}))
        return
    status = check(w, result(), np.asarray(w.np_fn(*arrs)))
    t = measure(run, repeats=repeats, warmup=2, budget_s=0.5 if quick else 3.0)
    print(json.dumps({"seconds": t.median, "spread": t.spread, "check": status}))


def run_child(impl: str, w: Workload, mode: str, quick: bool, repeats: int,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", impl, w.name, mode, "--repeats", str(repeats)]
    p = subprocess.run(cmd + (["--quick"] if quick else []), capture_output=True, text=True,
                       env=env or dict(os.environ), timeout=1800)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    err = (p.stderr.strip().splitlines() or [f"exit code {p.returncode}"])[-1][:100]
    return {"error": err}


def peer_status(peers: list[str]) -> dict[str, tuple[bool, str]]:
    """Which peers import and run here — asked in a child process (tinygrad's workers would linger here)."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-peers", ",".join(peers)],
                       capture_output=True, text=True, timeout=600)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return {k: (bool(v[0]), str(v[1])) for k, v in json.loads(line).items()}
    return {k: (False, "probe failed: " + (p.stderr.strip().splitlines() or ["?"])[-1][:100]) for k in peers}


def _probe_peers(peers: list[str]) -> None:
    res: dict[str, tuple[bool, str]] = {}
    for name, probe in (("torch", import_torch), ("tinygrad", import_tinygrad)):
        if name in peers:
            mod, note = probe()
            res[name] = (mod is not None, note)
    print(json.dumps(res))


# ---------------------------------------------------------------- re-realize overhead
def rerealize_overhead(device: str, quick: bool) -> list[Any]:
    """Build 9 chained reduce-broadcast steps on a 32x32 tensor (10 kernels), realize once, then time
    building + realizing the same structure again on the same inputs."""
    import tinytorch as tt
    from tinytorch.engine.realize import STATS

    x = tt.Tensor(np.random.default_rng(0).standard_normal((32, 32), dtype=np.float32), device=device).realize()

    def build() -> Any:
        y = x
        for _ in range(9):
            y = y - y.sum(1, keepdim=True) * (1 / 32)
        return y

    nk = len(build().schedule())
    with tempfile.TemporaryDirectory() as cache, tt.Context(TINYTORCH_CACHE=cache):
        st = time.perf_counter()
        build().realize()
        first = time.perf_counter() - st
    hits0, real0 = STATS["plan_hits"], STATS["realizes"]
    total = measure(lambda: build().realize(), repeats=50 if quick else 300, warmup=5, budget_s=5)
    hits = (STATS["plan_hits"] - hits0) / max(1, STATS["realizes"] - real0)
    only_build = measure(build, repeats=50 if quick else 300, warmup=5, budget_s=3)
    return [f"tinytorch:{device}", nk, fmt_time(first), f"{total.median * 1e6:.0f} us",
            f"{only_build.median * 1e6:.0f} us", f"{(total.median - only_build.median) * 1e6:.0f} us",
            f"{hits:.0%}"]


# ---------------------------------------------------------------- main
def tinytorch_devices(requested: str | None) -> tuple[list[str], list[str]]:
    from tinytorch import Device

    names = [d.upper() for d in requested.split(",")] if requested else Device.names()
    ok, notes = [], []
    for n in names:
        try:
            avail, info = Device.get(n).available()
        except Exception as e:
            avail, info = False, f"{type(e).__name__}: {e}"
        if avail:
            ok.append(n)
        notes.append(f"tinytorch:{n}: {info or 'available'}" if avail else f"tinytorch:{n} not measured: {info}")
    return ok, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (a smoke run)")
    ap.add_argument("--devices", help="tinytorch devices, comma-separated (default: every available one)")
    ap.add_argument("--peers", default="numpy,torch,tinygrad", help="comparison libraries (default: %(default)s)")
    ap.add_argument("--workloads", help="comma-separated subset: ew6,sum,softmax,matmul256,... (default: all)")
    ap.add_argument("--no-first-call", action="store_true", help="skip the cold first-call subprocesses")
    ap.add_argument("--repeats", type=int, help="timed runs per cell (default: 10, --quick 3)")
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--child", nargs=3, metavar=("IMPL", "WORKLOAD", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--child-peers", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (3 if quick else 10)
    if args.child:
        child(*args.child, quick=quick, repeats=repeats)
        return 0
    if args.child_peers is not None:
        _probe_peers(args.child_peers.split(","))
        return 0
    lines: list[str] = []

    def out(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    def progress(msg: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    facts = machine_facts()
    load_start = _loadavg()
    progress("measuring this machine's limits (FMA loop, numpy copy)")
    peaks = [peak_fp32_flops(seconds=0.1 if quick else 0.4)]
    bws = [copy_bandwidth(mib=64 if quick else 256, repeats=3 if quick else 7)]
    devices, dev_notes = tinytorch_devices(args.devices)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    status = peer_status([p for p in peers if p != "numpy"])
    peer_notes = [note for _, note in status.values()]
    peers = [p for p in peers if p == "numpy" or status.get(p, (False, ""))[0]]
    # numpy first: every other row's ratio is to the numpy median of the same run
    impls = ["numpy"] if "numpy" in peers else []
    impls += [f"tinytorch:{d}" for d in devices] + [p for p in peers if p != "numpy"]

    selected = workloads(quick)
    if args.workloads:
        want = set(args.workloads.split(","))
        selected = [w for w in selected if w.name in want or w.name.rstrip("0123456789") in want]
    # raw results: (workload, impl, first, steady, spread, numpy median, check) or (workload, impl, message)
    raw: list[tuple[Any, ...]] = []
    for w in selected:
        numpy_median: float | None = None
        variants = list(impls)
        blas_env = dict(os.environ)
        if w.bound == "compute" and "numpy" in peers:  # numpy matmul also with the other OpenBLAS core choice
            if "OPENBLAS_CORETYPE" in blas_env:
                blas_env.pop("OPENBLAS_CORETYPE")
                variants.append("numpy (env -u OPENBLAS_CORETYPE)")
            else:
                blas_env["OPENBLAS_CORETYPE"] = "Haswell"
                variants.append("numpy (OPENBLAS_CORETYPE=Haswell)")
        for impl in variants:
            if impl == "tinytorch:INTERP" and w.interp_elements > INTERP_MAX_ELEMENTS:
                raw.append((w, impl, f"skipped: INTERP would materialize {w.interp_elements:.2g} products"))
                continue
            progress(f"{w.name} on {impl}")
            alt = impl.startswith("numpy (")
            res = run_child("numpy" if alt else impl, w, "steady", quick, repeats, blas_env if alt else None)
            if "error" in res:
                raw.append((w, impl, f"error: {res['error']}"))
                continue
            first = None
            if not args.no_first_call and not alt:
                with tempfile.TemporaryDirectory() as cache:
                    env = dict(os.environ, TINYTORCH_CACHE=cache, CACHELEVEL="0")
                    first = run_child(impl, w, "first", quick, repeats, env).get("seconds")
            if impl == "numpy":
                numpy_median = res["seconds"]
            raw.append((w, impl, first, res["seconds"], res["spread"], numpy_median, res["check"]))
    ov_rows = []
    for d in devices:
        progress(f"re-realize overhead on {d}")
        try:
            ov_rows.append(rerealize_overhead(d, quick))
        except Exception as e:
            ov_rows.append([f"tinytorch:{d}", "-", "-", "-", "-", "-", f"error: {type(e).__name__}: {e}"[:80]])
    progress("measuring the limits again (the best of start and end is the limit)")
    peaks.append(peak_fp32_flops(seconds=0.1 if quick else 0.4))
    bws.append(copy_bandwidth(mib=64 if quick else 256, repeats=3 if quick else 7))
    peak = max((p for p in peaks if p.flops), key=lambda p: p.flops or 0.0, default=peaks[0])
    bw = max(bws)

    out(f"# tinytorch core benchmarks{' (--quick: small sizes, few repeats — not for quoting)' if quick else ''}")
    out()
    out(f"- tinytorch commit {_git_commit()}; machine: {facts['cpu']}, {facts['cores']} cores; {facts['simd']}")
    out(f"- peak FP32: {peak.flops / 1e9:.1f} GFLOP/s ({peak.detail}; start "
        f"{(peaks[0].flops or 0) / 1e9:.1f}, end {(peaks[1].flops or 0) / 1e9:.1f})" if peak.flops
        else f"- peak FP32: {peak.detail}")
    out(f"- copy bandwidth: {bw:.1f} GB/s (numpy copy of {64 if quick else 256} MiB, bytes read + written, median; "
        f"start {bws[0]:.1f}, end {bws[1]:.1f})")
    out(f"- load average at start {load_start}, at end {_loadavg()} (the machine is shared: compare ratios)")
    out(f"- python {facts['python']}, numpy {facts['numpy']}, OPENBLAS_CORETYPE={facts['OPENBLAS_CORETYPE']}")
    for note in dev_notes + peer_notes:
        out(f"- {note}")
    out(f"- {time.strftime('%Y-%m-%d %H:%M')}; steady = median of up to {repeats} runs after 2 warm-up runs, each "
        "implementation and workload in its own process; first call = fresh process, cold TINYTORCH_CACHE "
        "(tinygrad: CACHELEVEL=0), import and input creation excluded")
    out()
    out("## Workloads")
    out()
    rows = [[r[0].name, r[1], "-", "-", "-", "-", "-", "-", r[2]] if len(r) == 3
            else _row(*r[:6], peak.flops, bw, r[6]) for r in raw]
    out(markdown_table(["workload", "implementation", "first call", "steady (median)", "spread", "throughput",
                        "of limit", "vs numpy", "check"], rows, left_last=True))
    out()
    out("throughput: GB/s = (bytes read + written) / time for ew6, sum, softmax (limit: copy bandwidth); "
        "GFLOP/s = 2N^3 / time for matmul (limit: peak FP32). vs numpy: numpy's median / this median, same run "
        "(> 1 is faster than numpy). spread: (max - min) / median of the timed runs.")
    for w in selected:
        out(f"- {w.name}: {_formula(w)}")
    out()
    out("## Re-realize an already-seen 10-kernel graph (Python overhead per realize)")
    out()
    out("9 chained steps `y = y - y.sum(1, keepdim=True) / 32` on a realized 32x32 tensor (10 kernels): realized "
        "once (first, cold compile cache), then the same structure is built and realized again; plan hits = "
        "share of re-realizes served by the structure-keyed plan cache (tinytorch.engine.realize.STATS).")
    out()
    out(markdown_table(["device", "kernels", "first realize", "build + realize (median)", "build only",
                        "realize only", "plan hits"], ov_rows, left=1))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n\nproduced by `python benchmarks/bench_core.py"
                    + (" --quick" if quick else "") + "`\n")
    return 0


def _git_commit() -> str:
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "") if out.returncode == 0 else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def _formula(w: Workload) -> str:
    n = int(np.prod(w.shapes[0]))
    if w.name == "ew6":
        return f"(((a + b) * a - b).relu() * 0.5 + a), N = {n:,}: 6 ops/element, bytes = 3 x 4 x N"
    if w.name == "sum":
        return f"a.sum(), N = {n:,}: bytes = 4 x N"
    if w.name == "softmax":
        return f"x.softmax(-1) over {w.shapes[0][0]} rows x {w.shapes[0][1]}: bytes = 2 x 4 x N (read x, write out)"
    s = w.shapes[0][0]
    return f"a @ b, {s}x{s} float32: flops = 2 x {s}^3 = {2 * s ** 3:.3g}, bytes = 3 x 4 x {s}^2"


def _row(w: Workload, impl: str, first: float | None, steady: float, spread: float, numpy_median: float | None,
         peak: float | None, bw: float, status: str) -> list[Any]:
    if w.bound == "compute":
        rate = w.flops / steady / 1e9
        thr, frac = f"{rate:.1f} GFLOP/s", (f"{rate * 1e9 / peak:.0%} of peak" if peak else "-")
    else:
        rate = w.nbytes / steady / 1e9
        thr, frac = f"{rate:.1f} GB/s", f"{rate / bw:.0%} of copy"
    vs = f"{numpy_median / steady:.2f}x" if numpy_median else "-"
    return [w.name, impl, fmt_time(first), fmt_time(steady), f"{spread:.0%}", thr, frac, vs, status]


if __name__ == "__main__":
    sys.exit(main())
