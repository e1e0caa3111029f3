"""Training-step benchmark: a 784-512-512-10 ReLU MLP, batch 128, cross-entropy, Adam.

Takes: which implementations to run: tinytorch on each device, its step captured by `tinytorch.jit`
and the same step run eagerly (no jit); torch eager, torch.compile and tinygrad TinyJit when they
are installed.
Produces: a markdown table of milliseconds per step — the first step with a cold compile
cache, the first step with a warm cache, and the steady-state median — with the ratio to torch
eager measured in the same run and the RSS growth over the measured steps. Every implementation
runs in its own process; with --rounds N they alternate round after round and the steady figure is
the median of the rounds' medians.

    python benchmarks/bench_mlp.py            # full run (about 5 minutes)
    python benchmarks/bench_mlp.py --quick    # fewer steps, C only, torch eager only (under a minute)
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


def step_tinytorch(device: str, jitted: bool = True) -> Any:
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

    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if jitted:
        step = tt.jit(step)

    def run(x: np.ndarray, y: np.ndarray) -> float:
        return float(step(tt.from_numpy(x, device=device), tt.from_numpy(y, device=device)).item())
    return run


def step_torch(compiled: bool = False) -> Any:
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

    def forward(x: Any, y: Any) -> Any:
        return loss_fn(model(x), y)

    # torch.compile: forward and loss compiled by inductor, their backward by AOTAutograd; Adam runs eagerly
    fwd = torch.compile(forward, dynamic=False) if compiled else forward

    def run(x: np.ndarray, y: np.ndarray) -> float:
        opt.zero_grad()
        loss = fwd(torch.from_numpy(x), torch.from_numpy(y))
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
                assert lin.bias is not None
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
    if impl.startswith("tinytorch"):
        run = step_tinytorch(impl.split(":")[1].split()[0], jitted=not impl.endswith(" eager"))
    else:
        run = step_torch(impl == "torch.compile") if impl.startswith("torch") else step_tinygrad()
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
    ap.add_argument("--quick", action="store_true", help="100 measured steps, one round, C and torch eager only")
    ap.add_argument("--devices", help="tinytorch devices (comma-separated; default C,LLVM, --quick C)")
    ap.add_argument("--modes", default="jit,eager", help="tinytorch steps: jit, eager or both (default: %(default)s)")
    ap.add_argument("--peers", help="comparison frameworks, when installed (default torch,torch.compile,tinygrad; "
                                    "--quick torch)")
    ap.add_argument("--rounds", type=int, help="alternating rounds (default 3, --quick 1)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None, help="measured steps per process (default 300, --quick 100)")
    args = ap.parse_args(argv)
    steps = args.steps or (100 if args.quick else 300)
    if args.child:
        child(args.child, steps)
        return 0
    rounds = args.rounds or (1 if args.quick else 3)
    devices = (args.devices if args.devices is not None else "C" if args.quick else "C,LLVM").split(",")
    peers = (args.peers if args.peers is not None else "torch" if args.quick else "torch,torch.compile,tinygrad")
    modes = [m for m in args.modes.split(",") if m]
    facts = machine_facts()
    print(f"# MLP training step: {'-'.join(map(str, SIZES))} ReLU, batch {B}, cross-entropy, Adam\n")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items())
          + f"; {steps} measured steps per process, {rounds} alternating round(s), {time.strftime('%Y-%m-%d %H:%M')}\n")
    base = dict(os.environ)
    impls = [f"tinytorch:{d}" + ("" if m == "jit" else " eager") for d in devices if d for m in modes]
    impls += [p for p in peers.split(",") if p]
    results: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
    firsts: dict[str, tuple[Any, Any]] = {}
    for r in range(rounds):
        for impl in impls if r % 2 == 0 else impls[::-1]:  # alternate: the machine's speed drifts over minutes
            print(f"  [{time.strftime('%H:%M:%S')}] round {r + 1}/{rounds}: {impl}", file=sys.stderr, flush=True)
            if impl.startswith("tinytorch") and r == 0:
                with tempfile.TemporaryDirectory() as cold:
                    env = dict(base, TINYTORCH_CACHE=cold)
                    r_cold = run_child(impl, steps, env)
                    res = run_child(impl, steps, env)  # same cache dir, now filled
                firsts[impl] = (r_cold.get("first"), res.get("first"))
                if "error" in res and "error" in r_cold:
                    res = r_cold
            else:
                res = run_child(impl, steps, dict(base))
                if r == 0:
                    firsts[impl] = (res.get("first"), None)
            results[impl].append(res)
    torch_ms = _median([x["median"] for x in results.get("torch", []) if "median" in x])
    rows = []
    for impl in impls:
        ok = [x for x in results[impl] if "error" not in x]
        if not ok:
            rows.append([impl, "—", "—", "—", "—", "—", "—", results[impl][0]["error"] if results[impl] else "—"])
            continue
        meds = [x["median"] for x in ok]
        med = float(np.median(meds))
        spread = (max(meds) - min(meds)) / med if med else 0.0
        cold, warm = firsts.get(impl, (None, None))
        last = ok[-1]
        growth = (last["rss1"] - last["rss0"]) / last["rss0"] * 100 if last.get("rss0") else 0.0
        rows.append([impl, f"{cold * 1e3:.0f}" if cold is not None else "—",
                     f"{warm * 1e3:.0f}" if warm is not None else "—", f"{med * 1e3:.2f}", f"{spread:.0%}",
                     f"{med / torch_ms:.2f}x" if torch_ms else "—",
                     f"{last['rss0']:.0f} -> {last['rss1']:.0f} MB ({growth:+.1f}%)", _note(impl)])
    print(markdown_table(["implementation", "first step cold (ms)", "first step warm cache (ms)",
                          "steady ms/step (median)", "spread", "time / torch eager", f"RSS over {steps} steps",
                          "note"], rows, left=1, left_last=True))
    print("\ntime / torch eager: < 1 is faster than torch eager. spread: (max - min) / median of the rounds' "
          "medians.")
    return 0


def _median(xs: list[float]) -> float | None:
    return float(np.median(xs)) if xs else None


def _note(impl: str) -> str:
    if impl.startswith("tinytorch"):
        return "eager: no jit, every op built and realized as it runs" if impl.endswith(" eager") \
            else "step captured by tinytorch.jit"
    return {"torch": "eager", "torch.compile": "forward + loss compiled (inductor), Adam eager",
            "tinygrad": "TinyJit"}.get(impl, "")


if __name__ == "__main__":
    sys.exit(main())
