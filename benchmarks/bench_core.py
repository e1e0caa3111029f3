"""Core benchmarks: tinytorch on each device next to numpy, torch eager, torch.compile and tinygrad.

Takes: options (`--quick`, `--devices C,LLVM`, `--peers numpy,torch,torch.compile,tinygrad`,
`--workloads softmax,matmul`, `--rounds N`, `--out FILE`; see --help).
Produces: a markdown report on stdout (and in --out): this machine's limits, then
- per workload and implementation: the first call (tinytorch: a fresh process with a cold compile
  cache, import and input creation excluded; peers: their first call in a fresh process), the
  steady-state median, throughput as a fraction of the machine's limit, the ratios to numpy and to
  torch eager measured in the same run;
- the matmul scaling table (GFLOP/s and % of peak per size and implementation);
- microseconds per eager realize of a 10-op elementwise chain on 16 floats (built, realized, read back);
- the Python overhead of re-realizing an already-seen graph of 9 reduce-broadcast steps.
Every implementation runs in its own process; with --rounds N the implementations alternate round
after round (the machine's speed drifts over minutes) and each figure is the median of the rounds.

Workloads (sizes of the full run; --quick shrinks them):
- ew6        out = (((a + b) * a - b).relu() * 0.5 + a) over 16M float32; bytes = 4 B x 3N.
- sum        a.sum() over 16M float32; bytes = 4 B x N.
- softmax    x.softmax(-1) over 4096 rows of 1024; bytes = 4 B x 2N (read x, write out).
- layer_norm layer_norm(x, (1024,), w, b) over 4096 rows of 1024; bytes = 4 B x 2N.
- matmulN    a @ b, square N = 64, 128, 256, 512, 1024, 2048, 4096; flops = 2N^3 (2 per multiply-add).
- chain16    a = ones(16), b = full(16, 2.0), then 10 elementwise ops, then .numpy(), all eagerly.
numpy's matmul runs with OpenBLAS as the environment sets it and with the other core choice
(OPENBLAS_CORETYPE=Haswell when unset; without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE when set).
Limits: peak FP32 FLOP/s (an FMA loop on all cores, common.peak_fp32_flops) for matmul; copy
bandwidth (numpy copy of 256 MiB, read + write) for the memory-bound workloads.

    python benchmarks/bench_core.py --quick                       # a smoke run in under a minute
    python benchmarks/bench_core.py --workloads matmul --rounds 3 # the scaling table alone
    python benchmarks/bench_core.py --out /tmp/core.md            # everything (about 12 minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
TINYGRAD_MAX_MATMUL = 2048  # tinygrad's CPU matmul runs at ~5 GFLOP/s here: 4096 would take minutes
MATMUL_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)
QUICK_MATMUL_SIZES = (64, 128, 256)
CHAIN_OPS = 10


@dataclass
class Workload:
    name: str
    shapes: list[tuple[int, ...]]
    flops: float
    nbytes: float
    bound: str  # "memory" (compare GB/s with copy bandwidth) or "compute" (GFLOP/s with peak FMA)
    np_fn: Callable[..., Any]
    tt_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    tg_fn: Callable[..., Any]
    interp_elements: int  # elements INTERP would materialize
    formula: str = ""


def _np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    d = x - mean
    return d / np.sqrt((d * d).mean(-1, keepdims=True) + 1e-5) * w + b


def _tt_layer_norm(x: Any, w: Any, b: Any) -> Any:
    import tinytorch.nn.functional as F

    return F.layer_norm(x, (x.shape[-1],), w, b)


def _torch_layer_norm(x: Any, w: Any, b: Any) -> Any:
    import torch.nn.functional as F

    return F.layer_norm(x, (x.shape[-1],), w, b)


def workloads(quick: bool) -> list[Workload]:
    n = 1 << (20 if quick else 24)
    rows, cols = (512, 1024) if quick else (4096, 1024)
    ew = "(((a + b) * a - b).relu() * 0.5 + a)"
    out = [
        Workload("ew6", [(n,), (n,)], 6 * n, 12 * n, "memory",
                 lambda a, b: np.maximum((a + b) * a - b, 0) * 0.5 + a,
                 lambda a, b: (((a + b) * a - b).relu() * 0.5 + a),
                 lambda a, b: ((a + b) * a - b).relu() * 0.5 + a,
                 lambda a, b: ((a + b) * a - b).relu() * 0.5 + a, n,
                 f"{ew}, N = {n:,}: 6 ops/element, bytes = 3 x 4 x N"),
        Workload("sum", [(n,)], n, 4 * n, "memory", lambda a: a.sum(), lambda a: a.sum(), lambda a: a.sum(),
                 lambda a: a.sum(), n, f"a.sum(), N = {n:,}: bytes = 4 x N"),
        Workload("softmax", [(rows, cols)], 5 * rows * cols, 8 * rows * cols, "memory", _np_softmax,
                 lambda x: x.softmax(-1), lambda x: x.softmax(-1), lambda x: x.softmax(-1), rows * cols,
                 f"x.softmax(-1) over {rows} rows x {cols}: bytes = 2 x 4 x N (read x, write out)"),
        Workload("layer_norm", [(rows, cols), (cols,), (cols,)], 8 * rows * cols, 8 * rows * cols, "memory",
                 _np_layer_norm, _tt_layer_norm, _torch_layer_norm,
                 lambda x, w, b: x.layernorm(eps=1e-5) * w + b, rows * cols,
                 f"layer_norm(x, ({cols},), w, b) over {rows} rows x {cols}: bytes = 2 x 4 x N "
                 "(read x, write out; w and b are 2 x 4 KiB)"),
    ]
    for s in QUICK_MATMUL_SIZES if quick else MATMUL_SIZES:
        out.append(Workload(f"matmul{s}", [(s, s), (s, s)], 2 * s ** 3, 12 * s * s, "compute", lambda a, b: a @ b,
                            lambda a, b: a @ b, lambda a, b: a @ b, lambda a, b: a @ b, s ** 3,
                            f"a @ b, {s}x{s} float32: flops = 2 x {s}^3 = {2 * s ** 3:.3g}"))
    return out


def inputs(w: Workload) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s, dtype=np.float32) for s in w.shapes]


# ---------------------------------------------------------------- implementations
def skip_reason(impl: str, w: Workload) -> str | None:
    """Why this implementation does not run this workload, or None."""
    if impl == "tinytorch:INTERP" and w.interp_elements > INTERP_MAX_ELEMENTS:
        return f"skipped: INTERP would materialize {w.interp_elements:.2g} products"
    if impl == "tinygrad" and w.bound == "compute" and w.shapes[0][0] > TINYGRAD_MAX_MATMUL:
        return f"skipped: tinygrad's matmul takes minutes beyond {TINYGRAD_MAX_MATMUL}"
    return None


def prepare(impl: str, w: Workload, arrs: list[np.ndarray]) -> tuple[Callable[[], Any], Callable[[], np.ndarray]]:
    """(run once and wait, result as numpy) for this implementation and workload."""
    if impl == "numpy":
        return (lambda: w.np_fn(*arrs)), (lambda: np.asarray(w.np_fn(*arrs)))
    if impl in ("torch", "torch.compile"):
        import torch

        ts = [torch.from_numpy(a) for a in arrs]
        fn = torch.compile(w.torch_fn, dynamic=False) if impl == "torch.compile" else w.torch_fn

        def run_torch() -> Any:
            with torch.inference_mode():
                return fn(*ts)
        return run_torch, (lambda: run_torch().numpy())
    if impl == "tinygrad":
        from tinygrad import Device as TGDevice
        from tinygrad import Tensor as TGTensor

        tg = [TGTensor(a).realize() for a in arrs]
        dev = TGDevice[TGDevice.DEFAULT]

        def run_tg() -> Any:
            out = w.tg_fn(*tg).realize()
            dev.synchronize()
            return out
        return run_tg, (lambda: run_tg().numpy())
    if impl.startswith("tinytorch:"):
        import tinytorch as tt

        device = impl.split(":", 1)[1]
        tts = [tt.Tensor(a, device=device).realize() for a in arrs]
        return (lambda: w.tt_fn(*tts).realize()), (lambda: w.tt_fn(*tts).numpy())
    raise ValueError(f"unknown implementation {impl!r}")


def check(got: np.ndarray, want: np.ndarray) -> str:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return f"WRONG shape {got.shape}"
    scale = float(np.max(np.abs(want))) if want.size else 1.0
    ok = np.allclose(got, want, rtol=1e-3, atol=1e-4 * scale)
    return "ok" if ok else f"WRONG (max err {np.max(np.abs(got - want)):.2g})"


def _warm_device(impl: str) -> None:
    """Bring the implementation's runtime up (toolchain checks, thread pools) before anything is timed."""
    if impl.startswith("tinytorch:"):
        import tinytorch as tt

        (tt.ones(3, device=impl.split(":", 1)[1]) + 1).numpy()


def child(impl: str, names: list[str], mode: str, quick: bool, repeats: int, budget: float) -> None:
    """Runs in a fresh process, so that no library's worker threads (OpenMP, OpenBLAS, tinygrad's CPU
    workers spin after a call) steal the cores of the next measurement. Prints one JSON line per workload.
    The results are checked against numpy after every workload is timed: OpenBLAS's workers spin for about
    0.1 s after a numpy matmul, and a check before the timing halved a 1024 matmul measured inside that time."""
    _warm_device(impl)
    unchecked: list[tuple[str, dict[str, Any], Workload, list[np.ndarray], np.ndarray]] = []
    for name in names:
        if name == "chain16":
            print(json.dumps({"workload": name, **chain16(impl, quick)}), flush=True)
            continue
        w = next(x for x in workloads(quick) if x.name == name)
        arrs = inputs(w)
        try:
            run, result = prepare(impl, w, arrs)
            st = time.perf_counter()
            run()
            first = time.perf_counter() - st
            if mode == "first":
                print(json.dumps({"workload": name, "first": first}), flush=True)
                continue
            got = np.asarray(result())
            t = measure(run, repeats=repeats, warmup=2, budget_s=budget)
        except Exception as e:  # one failing cell is reported, the others still run
            print(json.dumps({"workload": name, "error": f"{type(e).__name__}: {e}".splitlines()[0][:100]}),
                  flush=True)
            continue
        unchecked.append((name, {"seconds": t.median, "spread": t.spread, "first": first}, w, arrs, got))
    for name, res, w, arrs, got in unchecked:
        print(json.dumps({"workload": name, **res, "check": check(got, np.asarray(w.np_fn(*arrs)))}), flush=True)


def run_child(impl: str, names: list[str], mode: str, quick: bool, repeats: int, budget: float,
              env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Workload name -> the child's JSON result (or {"error": ...})."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", impl, ",".join(names), mode,
           "--repeats", str(repeats), "--budget", str(budget)]
    p = subprocess.run(cmd + (["--quick"] if quick else []), capture_output=True, text=True,
                       env=env or dict(os.environ), timeout=3600)
    got: dict[str, dict[str, Any]] = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            got[d.pop("workload")] = d
    err = (p.stderr.strip().splitlines() or [f"exit code {p.returncode}"])[-1][:100]
    return {n: got.get(n, {"error": err}) for n in names}


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
    if "torch.compile" in peers:
        res["torch.compile"] = _probe_torch_compile()
    print(json.dumps(res))


def _probe_torch_compile() -> tuple[bool, str]:
    try:
        import torch

        f = torch.compile(lambda x: x * 2 + 1, dynamic=False)
        ok = bool((f(torch.ones(4)) == 3).all())
        return ok, f"torch.compile (inductor, default mode) {'works' if ok else 'gave a wrong result'}"
    except Exception as e:
        return False, f"torch.compile does not work here: {type(e).__name__}: {str(e).splitlines()[0][:100]}"


# ---------------------------------------------------------------- the 10-op chain on 16 floats
def chain16(impl: str, quick: bool) -> dict[str, Any]:
    """Microseconds per eager build + realize + read-back of a = ones(16), b = full(16, 2.0) and 10
    elementwise ops; tinytorch also reports the graph building alone."""
    build: Callable[[], Any] | None = None
    if impl.startswith("tinytorch:"):
        import tinytorch as tt

        dev = impl.split(":", 1)[1]

        def build() -> Any:
            a, b = tt.ones(16, device=dev), tt.full((16,), 2.0, device=dev)
            return (((a + b) * b - a) / b).relu().mul(0.5).add(1.0).exp().sqrt() - a

        def run() -> Any:
            return build().numpy()
    elif impl in ("torch", "torch.compile"):
        import torch

        def run() -> Any:
            a, b = torch.ones(16), torch.full((16,), 2.0)
            return ((((a + b) * b - a) / b).relu().mul(0.5).add(1.0).exp().sqrt() - a).numpy()
    elif impl == "numpy":
        def run() -> Any:
            a, b = np.ones(16, np.float32), np.full(16, 2.0, np.float32)
            return np.sqrt(np.exp(np.maximum(((a + b) * b - a) / b, 0) * 0.5 + 1.0)) - a
    else:
        return {"error": f"not measured for {impl}"}
    want = np.full(16, np.sqrt(np.exp(2.5 * 0.5 + 1.0)) - 1, np.float32)
    status = check(run(), want)
    n = 300 if quick else 2000
    t = measure(run, repeats=n, warmup=20, budget_s=1.0 if quick else 4.0)
    p10, p90 = np.percentile(t.times, [10, 90])  # thousands of runs: the extremes are other processes' noise
    res: dict[str, Any] = {"seconds": t.median, "spread": float((p90 - p10) / t.median), "check": status}
    if build is not None:
        res["build"] = measure(build, repeats=n, warmup=20, budget_s=1.0 if quick else 3.0).median
    return res


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

    names = [d.upper() for d in requested.split(",") if d] if requested is not None else Device.names()
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


def blas_variant() -> tuple[str, dict[str, str]]:
    """The other OpenBLAS core choice for numpy's matmul: (label, environment)."""
    env = dict(os.environ)
    if "OPENBLAS_CORETYPE" in env:
        env.pop("OPENBLAS_CORETYPE")
        env.pop("OPENBLAS_L2_SIZE", None)
        return "numpy (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)", env
    env["OPENBLAS_CORETYPE"] = "Haswell"
    return "numpy (OPENBLAS_CORETYPE=Haswell)", env


@dataclass
class Cell:
    rounds: list[dict[str, Any]] = field(default_factory=list)
    first: float | None = None
    note: str | None = None  # skipped / error

    @property
    def seconds(self) -> float | None:
        t = [r["seconds"] for r in self.rounds if "seconds" in r]
        return statistics.median(t) if t else None

    @property
    def spread(self) -> float:
        """Across rounds: (max - min) / median of the round medians; one round: that run's own spread."""
        t = [r["seconds"] for r in self.rounds if "seconds" in r]
        if len(t) > 1:
            return (max(t) - min(t)) / statistics.median(t)
        return float(self.rounds[0].get("spread", 0.0)) if self.rounds else 0.0

    @property
    def status(self) -> str:
        bad = [r.get("check") or r.get("error") for r in self.rounds if r.get("check") != "ok"]
        return self.note or (f"{bad[0]}" if bad else "ok")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, one round, few repeats (a smoke run)")
    ap.add_argument("--devices", help="tinytorch devices, comma-separated (default: every available one)")
    ap.add_argument("--peers", help="comparison libraries (default: numpy,torch,torch.compile,tinygrad; "
                                    "--quick: numpy,torch)")
    ap.add_argument("--workloads", help="comma-separated subset: ew6,sum,softmax,layer_norm,matmul (every size), "
                                        "matmul256, ..., chain16 (default: all)")
    ap.add_argument("--rounds", type=int, help="alternating rounds per implementation (default 3, --quick 1)")
    ap.add_argument("--no-first-call", action="store_true", help="skip tinytorch's cold-cache first-call processes")
    ap.add_argument("--no-rerealize", action="store_true", help="skip the re-realize overhead table")
    ap.add_argument("--repeats", type=int, help="timed runs per cell and round (default: 10, --quick 3)")
    ap.add_argument("--budget", type=float, help="seconds of timed runs per cell and round (default 2, --quick 0.5)")
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--child", nargs=3, metavar=("IMPL", "WORKLOADS", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--child-peers", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (3 if quick else 10)
    budget = args.budget or (0.5 if quick else 2.0)
    if args.child:
        child(args.child[0], args.child[1].split(","), args.child[2], quick, repeats, budget)
        return 0
    if args.child_peers is not None:
        _probe_peers(args.child_peers.split(","))
        return 0
    rounds = args.rounds or (1 if quick else 3)
    lines: list[str] = []

    def out(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    def progress(msg: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    t_start = time.time()
    facts = machine_facts()
    load_start = _loadavg()
    progress("measuring this machine's limits (FMA loop, numpy copy)")
    peaks = [peak_fp32_flops(seconds=0.1 if quick else 0.4)]
    bws = [copy_bandwidth(mib=64 if quick else 256, repeats=3 if quick else 7)]
    devices, dev_notes = tinytorch_devices(args.devices)
    peers = [p.strip() for p in (args.peers or ("numpy,torch" if quick else "numpy,torch,torch.compile,tinygrad"))
             .split(",") if p.strip()]
    status = peer_status([p for p in peers if p != "numpy"])
    peer_notes = [note for _, note in status.values()]
    peers = [p for p in peers if p == "numpy" or status.get(p, (False, ""))[0]]
    impls = ["numpy"] if "numpy" in peers else []
    impls += [f"tinytorch:{d}" for d in devices] + [p for p in peers if p != "numpy"]
    alt_label, alt_env = blas_variant()

    selected = workloads(quick)
    want = set(args.workloads.split(",")) if args.workloads else None
    if want is not None:
        selected = [w for w in selected if w.name in want or w.name.rstrip("0123456789") in want]
    with_chain = want is None or "chain16" in want
    # (workload, implementation) -> Cell; the numpy variant is its own implementation label
    cells: dict[tuple[str, str], Cell] = {}
    plan: dict[str, list[str]] = {}  # implementation -> the workloads it runs
    for impl in impls + ([alt_label] if "numpy" in peers else []):
        names = []
        for w in selected:
            if impl == alt_label and w.bound != "compute":
                continue
            why = skip_reason(impl, w)
            cells[(w.name, impl)] = Cell(note=why)
            if why is None:
                names.append(w.name)
        if with_chain and (impl in ("numpy", "torch") or impl.startswith("tinytorch:")):
            cells[("chain16", impl)] = Cell()
            names.append("chain16")
        if names:
            plan[impl] = names
    order = list(plan)
    for r in range(rounds):
        for impl in order if r % 2 == 0 else order[::-1]:  # alternate, so no implementation always runs last
            progress(f"round {r + 1}/{rounds}: {impl} ({len(plan[impl])} workloads)")
            real = "numpy" if impl == alt_label else impl
            env = alt_env if impl == alt_label else dict(os.environ)
            for name, res in run_child(real, plan[impl], "steady", quick, repeats, budget, env).items():
                cells[(name, impl)].rounds.append(res)
                if r == 0 and not impl.startswith("tinytorch:"):
                    cells[(name, impl)].first = res.get("first")
    if not args.no_first_call:
        for impl in [i for i in order if i.startswith("tinytorch:")]:
            names = [n for n in plan[impl] if n != "chain16"]
            if not names:
                continue
            progress(f"first calls with a cold compile cache: {impl}")
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, TINYTORCH_CACHE=cache)
                for name, res in run_child(impl, names, "first", quick, repeats, budget, env).items():
                    cells[(name, impl)].first = res.get("first")
    ov_rows = []
    if not args.no_rerealize:
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
    out(f"- {time.strftime('%Y-%m-%d %H:%M')} UTC, {(time.time() - t_start) / 60:.1f} minutes; steady = median of "
        f"{rounds} alternating round(s), each the median of up to {repeats} runs after 2 warm-up runs, every "
        "implementation in its own process per round; first call: tinytorch in a fresh process with a cold "
        "TINYTORCH_CACHE, peers their first call in a fresh process (torch.compile: its compilation, with "
        "inductor's on-disk cache as found); import and input creation excluded")
    out()
    out("## Workloads")
    out()
    rows = []
    for w in selected:
        base = cells.get((w.name, "numpy"), Cell()).seconds
        ref = cells.get((w.name, "torch"), Cell()).seconds
        for impl in impls + [alt_label]:
            c = cells.get((w.name, impl))
            if c is None:
                continue
            rows.append(_row(w, impl, c, base, ref, peak.flops, bw))
    out(markdown_table(["workload", "implementation", "first call", "steady (median)", "spread", "throughput",
                        "of limit", "vs numpy", "vs torch", "check"], rows, left_last=True))
    out()
    out("throughput: GB/s = bytes / time for ew6, sum, softmax, layer_norm (bytes moved: each input read once, "
        "the output written once; limit: copy bandwidth); GFLOP/s = 2N^3 / time for matmul (limit: peak FP32). "
        "vs numpy / vs torch: that implementation's median / this median, same run (> 1 is faster). "
        "spread: (max - min) / median of the round medians (one round: of its timed runs; the chain: "
        "(p90 - p10) / median).")
    for w in selected:
        out(f"- {w.name}: {w.formula}")
    mm = [w for w in selected if w.bound == "compute"]
    if mm:
        out()
        out("## Matmul scaling (GFLOP/s, % of peak FP32)")
        out()
        cols = [i for i in impls + [alt_label] if any(cells.get((w.name, i)) for w in mm)]
        srows = []
        for w in mm:
            row: list[Any] = [f"{w.shapes[0][0]}"]
            for i in cols:
                s = cells[(w.name, i)].seconds if (w.name, i) in cells else None
                row.append(f"{w.flops / s / 1e9:.1f} ({w.flops / s / (peak.flops or 1):.0%})" if s else "-")
            srows.append(row)
        out(markdown_table(["N"] + cols, srows, left=1))
        out()
        out(f"a @ b, NxN float32, 2N^3 FLOPs; peak FP32 {(peak.flops or 0) / 1e9:.1f} GFLOP/s. tinytorch runs "
            "eagerly (`(a @ b).realize()`, not jitted).")
    if with_chain:
        out()
        out("## The 10-op elementwise chain on 16 floats, built and realized eagerly")
        out()
        ref = cells.get(("chain16", "torch"), Cell()).seconds
        crows = []
        for impl in impls:
            c = cells.get(("chain16", impl))
            if c is None:
                continue
            s = c.seconds
            b = [r["build"] for r in c.rounds if "build" in r]
            crows.append([impl, f"{s * 1e6:.1f} us" if s else "-",
                          f"{statistics.median(b) * 1e6:.1f} us" if b else "-",
                          f"{s / ref:.2f}x" if s and ref else "-", f"{c.spread:.0%}", c.status])
        out(markdown_table(["implementation", "per call (median)", "graph building alone", "time / torch eager",
                            "spread", "check"], crows, left=1, left_last=True))
        out()
        out("`a = ones(16); b = full(16, 2.0); ((((a + b) * b - a) / b).relu().mul(0.5).add(1).exp().sqrt() - a)"
            ".numpy()`: 10 elementwise ops (add, mul, sub, div, relu, mul, add, exp, sqrt, sub), each "
            "implementation building its inputs, running eagerly and reading the result back on every call "
            "(tinytorch: one fused kernel per call). time / torch eager: < 1 is faster than torch.")
    bar_rows = bars(cells, devices, alt_label, peak.flops)
    if bar_rows:
        out()
        out("## The bars of issue 11, as measured in this run")
        out()
        out(markdown_table(["bar", "device", "measured", "met"], bar_rows, left=2))
    if ov_rows:
        out()
        out("## Re-realize an already-seen graph of 9 reduce-broadcast steps (Python overhead per realize)")
        out()
        out("9 chained steps `y = y - y.sum(1, keepdim=True) / 32` on a realized 32x32 tensor (kernels: as "
            "scheduled now): realized once (first, cold compile cache), then the same structure is built and "
            "realized again; plan hits = "
            "share of re-realizes served by the structure-keyed plan cache (tinytorch.engine.realize.STATS).")
        out()
        out(markdown_table(["device", "kernels", "first realize", "build + realize (median)", "build only",
                            "realize only", "plan hits"], ov_rows, left=1))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n\nproduced by `python benchmarks/bench_core.py "
                    + " ".join(argv if argv is not None else sys.argv[1:]) + "`\n")
    return 0


def bars(cells: dict[tuple[str, str], Cell], devices: list[str], alt_label: str,
         peak: float | None) -> list[list[str]]:
    """One row per bar and tinytorch device whose cells were measured: the figure and whether it meets the bar."""
    tuned = alt_label if "OPENBLAS_CORETYPE" in os.environ else "numpy"  # OpenBLAS without the core pin

    def sec(w: str, impl: str) -> float | None:
        c = cells.get((w, impl))
        return c.seconds if c else None

    rows: list[list[str]] = []
    for d in devices:
        tt = f"tinytorch:{d}"
        s, ref = sec("chain16", tt), sec("chain16", "torch")
        if s and ref:
            rows.append(["10-op chain on 16 floats <= 2x torch eager", d, f"{s / ref:.2f}x torch's time",
                         "yes" if s <= 2 * ref else "no"])
        for n in (1024, 2048, 4096):
            s, base = sec(f"matmul{n}", tt), sec(f"matmul{n}", tuned)
            if s and peak:
                frac = 2 * n ** 3 / s / peak
                vs = f", {base / s:.2f}x tuned numpy" if base else ""
                ok = frac >= 0.8 and (base is None or s <= base)
                rows.append([f"matmul {n}: >= 80% of peak and >= tuned numpy", d, f"{frac:.0%} of peak{vs}",
                             "yes" if ok else "no"])
        s, ref = sec("matmul256", tt), sec("matmul256", "torch")
        if s and ref:
            rows.append(["matmul 256 (eager) >= torch eager's GFLOP/s", d, f"{ref / s:.2f}x torch's GFLOP/s",
                         "yes" if s <= ref else "no"])
        for w in ("softmax", "layer_norm"):
            s, ref = sec(w, tt), sec(w, "torch")
            if s and ref:
                rows.append([f"{w} no slower than torch eager", d, f"{s / ref:.2f}x torch's time",
                             "yes" if s <= ref else "no"])
    return rows


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


def _row(w: Workload, impl: str, c: Cell, numpy_s: float | None, torch_s: float | None, peak: float | None,
         bw: float) -> list[Any]:
    s = c.seconds
    if s is None:
        return [w.name, impl, "-", "-", "-", "-", "-", "-", "-", c.status]
    if w.bound == "compute":
        rate = w.flops / s / 1e9
        thr, frac = f"{rate:.1f} GFLOP/s", (f"{rate * 1e9 / peak:.0%} of peak" if peak else "-")
    else:
        rate = w.nbytes / s / 1e9
        thr, frac = f"{rate:.1f} GB/s", f"{rate / bw:.0%} of copy"
    vs_np = f"{numpy_s / s:.2f}x" if numpy_s else "-"
    vs_torch = f"{torch_s / s:.2f}x" if torch_s else "-"
    return [w.name, impl, fmt_time(c.first), fmt_time(s), f"{c.spread:.0%}", thr, frac, vs_np, vs_torch, c.status]


if __name__ == "__main__":
    sys.exit(main())
