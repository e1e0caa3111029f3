"""BEAM search benchmark: the jitted MLP training step with the heuristic's kernels and with BEAM=2's.

Takes: a device (default C), rounds and steps; every run is a process of its own, all sharing
one temporary compile cache (TINYTORCH_CACHE) so that only the first BEAM run searches.
Produces: a markdown table: per configuration, the first step (compile, and for the first
BEAM run the search), the steady-state median ms/step, and the search counters
(kernels searched, choices read from the disk cache, candidates); then the steady-state
ratio BEAM / heuristic from alternating rounds of fresh processes (the second BEAM process
onwards reuses the cached choices without searching).

    python benchmarks/bench_beam.py                 # 3 alternating rounds, 200 steps each
    python benchmarks/bench_beam.py --quick         # 1 round, 60 steps
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchmarks.bench_mlp import SIZES, B, batches, step_tinytorch  # noqa: E402
from benchmarks.common import machine_facts, markdown_table  # noqa: E402


def child(device: str, steps: int) -> None:
    from tinytorch.codegen import search

    data = batches(4)
    run = step_tinytorch(device)
    st = time.perf_counter()
    run(*data[0])
    first = time.perf_counter() - st
    for i in range(1, 5):  # warm-up (the JIT captures on the second call)
        run(*data[i % 4])
    times = []
    for i in range(steps):
        st = time.perf_counter()
        run(*data[i % 4])
        times.append(time.perf_counter() - st)
    print(json.dumps({"first": first, "median": float(np.median(times)), **search.STATS}))


def run_child(device: str, steps: int, env: dict[str, str]) -> dict[str, Any]:
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", device, "--steps", str(steps)],
                       capture_output=True, text=True, env=env, timeout=7200)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"child failed: {(p.stderr.strip().splitlines() or [f'exit {p.returncode}'])[-1]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 alternating round, 60 measured steps")
    ap.add_argument("--device", default="C", help="tinytorch device (default: %(default)s)")
    ap.add_argument("--rounds", type=int, help="alternating rounds after the first BEAM run (default 3, --quick 1)")
    ap.add_argument("--steps", type=int, help="measured steps per process (default 200, --quick 60)")
    ap.add_argument("--beam", type=int, default=2, help="beam width (default: %(default)s)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    steps = args.steps or (60 if args.quick else 200)
    if args.child:
        child(args.child, steps)
        return 0
    rounds = args.rounds or (1 if args.quick else 3)
    print(f"# BEAM search on the MLP training step: {'-'.join(map(str, SIZES))} ReLU, batch {B}, cross-entropy, "
          f"Adam, jitted, device {args.device}\n")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine_facts().items())
          + f"; {steps} measured steps per process, {rounds} alternating round(s), {time.strftime('%Y-%m-%d %H:%M')}\n")
    base = {k: v for k, v in os.environ.items() if k not in ("BEAM", "DEBUG", "NOOPT")}
    rows = []
    heur: list[float] = []
    beam: list[float] = []
    with tempfile.TemporaryDirectory() as cache:
        h_env = dict(base, TINYTORCH_CACHE=cache)
        b_env = dict(h_env, BEAM=str(args.beam))

        def row(what: str, r: dict[str, Any]) -> None:
            rows.append([what, f"{r['first'] * 1e3:.0f}", f"{r['median'] * 1e3:.2f}", r.get("searched", 0),
                         r.get("cache_hits", 0), r.get("candidates", 0), r.get("speedups", 0)])

        def log(what: str) -> None:
            print(f"  [{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)

        log("heuristic, cold compile cache")
        r = run_child(args.device, steps, h_env)
        row("heuristic (first process: compiles)", r)
        heur.append(r["median"])
        log(f"BEAM={args.beam}, first process (searches)")
        r = run_child(args.device, steps, b_env)
        row(f"BEAM={args.beam} first process (searches)", r)
        beam.append(r["median"])
        pair = [("heuristic", h_env, heur), (f"BEAM={args.beam}", b_env, beam)]
        for i in range(rounds):  # alternating: the machine's speed drifts over minutes
            for name, env, out in (pair if i % 2 == 0 else pair[::-1]):
                log(f"round {i + 1}/{rounds}: {name}")
                r = run_child(args.device, steps, env)
                out.append(r["median"])
                if i == 0:
                    row(f"{name} next process" + (" (cached choices)" if env is b_env else ""), r)
    print(markdown_table(["run", "first step (ms)", "steady ms/step", "kernels searched", "choices from cache",
                          "candidates timed", "kernels changed"], rows, left=1))
    h, b = float(np.median(heur)), float(np.median(beam))
    print(f"\nsteady state over {len(heur)} heuristic and {len(beam)} BEAM processes (medians of per-process medians): "
          f"heuristic {h * 1e3:.2f} ms, BEAM={args.beam} {b * 1e3:.2f} ms, BEAM / heuristic {b / h:.3f} "
          f"(< 1: BEAM faster)")
    print(f"per-process medians: heuristic {', '.join(f'{x * 1e3:.2f}' for x in heur)}; "
          f"BEAM {', '.join(f'{x * 1e3:.2f}' for x in beam)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
