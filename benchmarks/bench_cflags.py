"""What the C backend's safety flags cost: the same kernels with and without gcc's auto-vectorizer.

Takes: options (`--rounds N`, `--quick`, `--out FILE`).
Produces: a markdown table: per workload, the median kernel time with our flags
(`-fno-tree-vectorize -fno-strict-aliasing`, the default) and with the vectorizer and strict
aliasing turned back on (`TINYTORCH_CFLAGS="-ftree-vectorize -fstrict-aliasing"`), and their
ratio. Each variant runs in its own process with its own fresh compile cache; the variants
alternate for `--rounds` rounds and each cell is the median over rounds of per-process medians,
so load from other work on the machine falls on both alike.

    python benchmarks/bench_cflags.py --rounds 3 --out /tmp/cflags.md
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

VARIANTS = {"ours (default)": "", "with auto-vectorizer": "-ftree-vectorize -fstrict-aliasing"}


def child(quick: bool) -> None:
    import numpy as np

    import tinytorch as tt

    def med(f, n: int = 15) -> float:  # type: ignore[no-untyped-def]
        f(), f()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return sorted(ts)[len(ts) // 2]

    rng = np.random.default_rng(0)
    n = 1 << (20 if quick else 22)
    a = tt.Tensor(rng.standard_normal(n, dtype=np.float32)).realize()
    b = tt.Tensor(rng.standard_normal(n, dtype=np.float32)).realize()
    i = tt.Tensor(rng.integers(-1000, 1000, n).astype(np.int32)).realize()
    m = 512 if quick else 1024
    x = tt.Tensor(rng.standard_normal((m, m), dtype=np.float32)).realize()
    y = tt.Tensor(rng.standard_normal((m, m), dtype=np.float32)).realize()
    work = {
        f"6-op chain, {n >> 20}M": lambda: (((a + b) * a - b).relu() * 0.5 + a).realize(),
        f"sum, {n >> 20}M": lambda: a.sum().realize(),
        f"exp, {n >> 20}M": lambda: a.exp().realize(),
        f"floor, {n >> 20}M": lambda: (a * 3).floor().realize(),
        f"float32 -> int32, {n >> 20}M": lambda: (a * 3).cast(tt.int32).realize(),
        f"float32 -> int64, {n >> 20}M": lambda: (a * 3).cast(tt.int64).realize(),
        f"float32 -> float16, {n >> 20}M": lambda: (a * 3).cast(tt.float16).realize(),
        f"int32 // 7, {n >> 20}M": lambda: (i // 7).realize(),
        f"softmax {m}x{m}": lambda: x.softmax(-1).realize(),
        f"argmax {m}x{m}": lambda: x.argmax(1).realize(),
        f"cat + exp {m}x{m}": lambda: tt.cat([x, y], 1).exp().realize(),
        f"matmul {m}": lambda: (x @ y).realize(),
    }
    print(json.dumps({k: med(f, 7 if "matmul" in k else 15) for k, f in work.items()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.quick)
        return
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for name, flags in VARIANTS.items():
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, TINYTORCH_CFLAGS=flags, TINYTORCH_CACHE=cache, DEVICE="C", CANARY="0")
                cmd = [sys.executable, os.path.abspath(__file__), "--child"] + (["--quick"] if args.quick else [])
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                runs[name].append(json.loads(out.strip().splitlines()[-1]))
    names = list(VARIANTS)
    lines = [f"| workload | {names[0]} | {names[1]} | ratio (ours / with) |", "|---|---|---|---|"]
    for w in runs[names[0]][0]:
        t0 = statistics.median(r[w] for r in runs[names[0]])
        t1 = statistics.median(r[w] for r in runs[names[1]])
        lines.append(f"| {w} | {t0 * 1e3:.3f} ms | {t1 * 1e3:.3f} ms | {t0 / t1:.2f} |")
    report = (f"C compiler flags: medians of {args.rounds} alternating rounds (each a fresh process and cache)\n\n"
              + "\n".join(lines) + "\n")
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
