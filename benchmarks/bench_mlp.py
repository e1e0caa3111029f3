"""Training-step benchmark: a 784-512-512-10 ReLU MLP, batch 128, cross-entropy, Adam.

Takes: which implementations to run (tinytorch JIT on each device, torch eager, tinygrad
TinyJit when they are installed).
Produces: a markdown table of milliseconds per step — the first step with a cold compile
cache, the first step with a warm cache, and the steady-state median — plus the RSS growth
of tinytorch over the measured steps. Every implementation runs in its own process.

    python benchmarks/bench_mlp.py            # full run
    python benchmarks/bench_mlp.py --quick    # fewer steps
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchmarks.common import machine_facts, markdown_table  # noqa: E402

B, SIZES = 128, (784, 512, 512, 10)


def batches(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((B, 784), dtype=np.float32), rng.integers(0, 10, B).astype(np.int64))
            for _ in range(n)]


def init_weights() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    out = []
    for i, o in zip(SIZES[:-1], SIZES[1:]):
        k = 1 / np.sqrt(i)
        out.append((rng.uniform(-k, k, (o, i)).astype(np.float32), rng.uniform(-k, k, (o,)).astype(np.float32)))
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_tinytorch(device: str) -> Any:
    import tinytorch as tt
    from tinytorch import nn
    from tinytorch.optim import Adam

    layers: list[Any] = []
    for w, b in init_weights():
        lin = nn.Linear(w.shape[1], w.shape[0]).to(device)
        lin.weight.assign(tt.Tensor(w, device=device)).realize()
        lin.bias.assign(tt.Tensor(b, device=device)).realize()
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    @tt.jit
    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def run(x: np.ndarray, y: np.ndarray) -> float:
        return float(step(tt.Tensor(x, device=device), tt.Tensor(y, device=device)).item())
    return run


def step_torch() -> Any:
    import torch

    layers: list[Any] = []
    for w, b in init_weights():
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(x: np.ndarray, y: np.ndarray) -> float:
        opt.zero_grad()
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        return float(loss.item())
    return run


def step_tinygrad() -> Any:
    from tinygrad import Tensor, TinyJit, nn
    from tinygrad.helpers import Context

    class MLP:
        def __init__(self) -> None:
            self.layers = []
            for w, b in init_weights():
                lin = nn.Linear(w.shape[1], w.shape[0])
                lin.weight.assign(Tensor(w)).realize()
                lin.bias.assign(Tensor(b)).realize()
                self.layers.append(lin)

        def __call__(self, x: Any) -> Any:
            for i, lin in enumerate(self.layers):
                x = lin(x)
                x = x.relu() if i < len(self.layers) - 1 else x
            return x

    model = MLP()
    opt = nn.optim.Adam(nn.state.get_parameters(model), lr=1e-3)

    @TinyJit
    def step(x: Any, y: Any) -> Any:
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y).backward()
            opt.step()
            return loss.realize()

    def run(x: np.ndarray, y: np.ndarray) -> float:
        return float(step(Tensor(x), Tensor(y.astype(np.int32))).item())
    return run


def child(impl: str, steps: int) -> None:
    data = batches(4)
    st = time.perf_counter()
    run = step_tinytorch(impl.split(":")[1]) if impl.startswith("tinytorch") else \
        step_torch() if impl == "torch" else step_tinygrad()
    setup = time.perf_counter() - st
    st = time.perf_counter()
    first_loss = run(*data[0])
    first = time.perf_counter() - st
    for i in range(1, 5):  # warm-up (the JIT captures on the second call)
        run(*data[i % 4])
    rss0 = rss_mb()
    times = []
    for i in range(steps):
        st = time.perf_counter()
        run(*data[i % 4])
        times.append(time.perf_counter() - st)
    rss1 = rss_mb()
    print(json.dumps({"setup": setup, "first": first, "median": float(np.median(times)),
                      "p10": float(np.percentile(times, 10)), "rss0": rss0, "rss1": rss1, "loss0": first_loss}))


def run_child(impl: str, steps: int, env: dict[str, str]) -> dict[str, Any]:
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", impl, "--steps", str(steps)],
                       capture_output=True, text=True, env=env, timeout=3600)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:120]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 measured steps instead of 1000")
    ap.add_argument("--devices", default="C,LLVM", help="tinytorch devices (comma-separated)")
    ap.add_argument("--peers", default="torch,tinygrad", help="comparison frameworks, when installed")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None)
    args = ap.parse_args(argv)
    steps = args.steps or (100 if args.quick else 1000)
    if args.child:
        child(args.child, steps)
        return 0
    facts = machine_facts()
    print(f"# MLP training step: {'-'.join(map(str, SIZES))} ReLU, batch {B}, cross-entropy, Adam\n")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()) + f"; {steps} measured steps\n")
    rows = []
    base = dict(os.environ)
    impls = [f"tinytorch:{d}" for d in args.devices.split(",") if d] + [p for p in args.peers.split(",") if p]
    results: dict[str, dict[str, Any]] = {}
    for impl in impls:
        env = dict(base)
        if impl.startswith("tinytorch"):
            with tempfile.TemporaryDirectory() as cold:
                env["TINYTORCH_CACHE"] = cold
                r_cold = run_child(impl, steps, env)
                r_warm = run_child(impl, steps, env)  # same cache dir, now filled
            r = r_warm if "error" not in r_warm else r_cold
            r["first_cold"] = r_cold.get("first")
            r["first_warm"] = r_warm.get("first")
        else:
            r = run_child(impl, steps, env)
            r["first_cold"] = r.get("first")
            r["first_warm"] = None
        results[impl] = r
    torch_ms = results.get("torch", {}).get("median")
    for impl, r in results.items():
        if "error" in r:
            rows.append([impl, "—", "—", "—", "—", "—", r["error"]])
            continue
        ratio = f"{r['median'] / torch_ms:.2f}x" if torch_ms else "—"
        growth = (r["rss1"] - r["rss0"]) / r["rss0"] * 100 if r.get("rss0") else 0.0
        rows.append([impl, f"{r['first_cold'] * 1e3:.0f}",
                     f"{r['first_warm'] * 1e3:.0f}" if r.get("first_warm") is not None else "—",
                     f"{r['median'] * 1e3:.2f}", ratio, f"{r['rss0']:.0f} -> {r['rss1']:.0f} MB ({growth:+.1f}%)", ""])
    print(markdown_table(["implementation", "first step cold (ms)", "first step warm cache (ms)",
                          "steady ms/step (median)", "vs torch", f"RSS over {steps} steps", "note"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
