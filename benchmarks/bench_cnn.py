"""Convolution benchmark: conv2d forward and backward at CIFAR shapes, and the CIFAR example's training step.

Takes: which implementations to run (tinytorch on each device, torch eager (oneDNN), numpy
im2col + BLAS), `--quick` for fewer repeats.
Produces: a markdown table per workload and implementation — the first call (a fresh process with
an empty compile cache: schedule + compile + run; import and input creation excluded), the
steady-state median after warm-up, GFLOP/s (2 FLOPs per multiply-add) and the fraction of this
machine's peak FP32 rate (an FMA loop on all cores, common.peak_fp32_flops), and the ratio to
torch measured in the same run. Each implementation runs in its own process.

Workloads (batch 64, 3x3 kernels, padding 1, stride 1, no bias):
- conv1 3->32 @ 32x32, conv2 32->64 @ 16x16, conv3 64->128 @ 8x8: forward y = conv2d(x, w);
  backward = both gradients, dx (a transposed convolution) and dw, from dy (twice the forward FLOPs).
- train step: examples/cnn.py's ResNet (batch 256): forward, label-smoothed cross-entropy,
  backward, SGD-Nesterov update; FLOPs counted as 3 x the forward's convolution and linear FLOPs.
tinytorch runs every workload as a `tinytorch.jit` function (replayed kernels).

    python benchmarks/bench_cnn.py            # full run (a few minutes)
    python benchmarks/bench_cnn.py --quick    # fewer repeats
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
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from common import machine_facts, markdown_table, measure, peak_fp32_flops  # noqa: E402

BATCH = 64
SHAPES = [("conv1", 3, 32, 32), ("conv2", 32, 64, 16), ("conv3", 64, 128, 8)]  # name, cin, cout, H (= W)
TRAIN_BATCH = 256


def conv_flops(cin: int, cout: int, hw: int, batch: int = BATCH) -> float:
    """2 * N * Cout * H * W * Cin * 3 * 3 (padding 1 keeps H x W)."""
    return 2.0 * batch * cout * hw * hw * cin * 9


def conv_inputs(cin: int, cout: int, hw: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, cin, hw, hw), dtype=np.float32)
    w = (rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) / np.sqrt(cin * 9)).astype(np.float32)
    g = rng.standard_normal((BATCH, cout, hw, hw), dtype=np.float32)
    return x, w, g


def train_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((TRAIN_BATCH, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, TRAIN_BATCH)


def example() -> Any:
    """examples/cnn.py as a module (its model and hyper-parameters)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cnn_example", os.path.join(HERE, "..", "examples", "cnn.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def model_flops() -> float:
    """Forward FLOPs per image of the example's model: convolutions and the linear layer."""
    from tinytorch import nn

    total, hw = 0.0, 32
    for m in example().resnet().modules():
        if isinstance(m, nn.MaxPool2d):
            hw //= 2
        elif isinstance(m, nn.Conv2d):
            total += 2.0 * m.out_channels * hw * hw * m.in_channels * 9
        elif isinstance(m, nn.Linear):
            total += 2.0 * m.in_features * m.out_features
    return total


# ---------------------------------------------------------------- implementations
def numpy_impl() -> dict[str, Callable[..., Callable[[], Any]]]:
    """im2col with a strided view, one BLAS matmul; backward: dw = dy_col^T @ cols, dx = col2im(dy_col @ w)."""
    def cols_of(x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # (N, C, H, W, 3, 3)
        return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * 9)  # (N*H*W, C*9), copied

    def fwd(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
        n, _, h, wd = x.shape
        wm = w.reshape(w.shape[0], -1).T  # (C*9, Cout)

        def run() -> np.ndarray:
            return (cols_of(x) @ wm).reshape(n, h, wd, -1).transpose(0, 3, 1, 2)  # (N, Cout, H, W) view
        return run

    def bwd(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
        n, c, h, wd = x.shape
        wm = w.reshape(w.shape[0], -1)  # (Cout, C*9)

        def run() -> tuple[np.ndarray, np.ndarray]:
            gc = g.transpose(0, 2, 3, 1).reshape(n * h * wd, -1)  # (N*H*W, Cout)
            dw = (gc.T @ cols_of(x)).reshape(w.shape)
            dcols = (gc @ wm).reshape(n, h, wd, c, 3, 3)
            dxp = np.zeros((n, c, h + 2, wd + 2), np.float32)
            for i in range(3):
                for j in range(3):
                    dxp[:, :, i:i + h, j:j + wd] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
            return dxp[:, :, 1:-1, 1:-1], dw
        return run

    return {"fwd": fwd, "bwd": bwd}


def torch_impl() -> dict[str, Callable[..., Callable[[], Any]]]:
    import torch
    import torch.nn.functional as F

    def fwd(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)

        def run() -> Any:
            with torch.no_grad():
                return F.conv2d(tx, tw, padding=1)
        return run

    def bwd(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
        tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        y = F.conv2d(tx, tw, padding=1)
        tg = torch.from_numpy(g)

        def run() -> Any:
            return torch.autograd.grad(y, (tx, tw), tg, retain_graph=True)
        return run

    def train() -> Callable[[], Any]:
        torch.manual_seed(0)
        model = torch_resnet()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
        x, y = train_batch()
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def run() -> float:
            opt.zero_grad()
            loss = F.cross_entropy(model(tx), ty, label_smoothing=0.2)
            loss.backward()
            opt.step()
            return float(loss.item())
        return run

    return {"fwd": fwd, "bwd": bwd, "train": train}


def torch_resnet() -> Any:
    """The example's ResNet in torch, module for module."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.f = nn.Sequential(*conv_bn(c, c), *conv_bn(c, c))

        def forward(self, x: Any) -> Any:
            return x + self.f(x)

    class Scale(nn.Module):
        def forward(self, x: Any) -> Any:
            return x * 0.125

    def conv_bn(i: int, o: int) -> list[Any]:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

    def down(i: int, o: int) -> list[Any]:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(o), nn.ReLU()]

    w0, w1, w2, w3 = example().WIDTHS
    torch.manual_seed(0)
    return nn.Sequential(*conv_bn(3, w0), *down(w0, w1), Residual(w1), *down(w1, w2), *down(w2, w3), Residual(w3),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(w3, 10, bias=False), Scale())


def tinytorch_impl(device: str) -> dict[str, Callable[..., Callable[[], Any]]]:
    import tinytorch as tt
    import tinytorch.nn.functional as F

    def fwd(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
        tx, tw = tt.Tensor(x, device=device), tt.Tensor(w, device=device)

        @tt.jit
        def step(a: tt.Tensor, b: tt.Tensor) -> tt.Tensor:
            return F.conv2d(a, b, padding=1).realize()

        return lambda: step(tx, tw)

    def bwd(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> Callable[[], Any]:
        tx, tw = tt.Tensor(x, device=device), tt.Tensor(w, device=device)
        tg = tt.Tensor(g, device=device)

        @tt.jit
        def step(a: tt.Tensor, b: tt.Tensor, dy: tt.Tensor) -> tuple[tt.Tensor, tt.Tensor]:
            a, b = a.detach().requires_grad_(), b.detach().requires_grad_()
            dx, dw = tt.autograd.grad(F.conv2d(a, b, padding=1), (a, b), dy)
            assert dx is not None and dw is not None
            return dx.realize(), dw.realize()

        return lambda: step(tx, tw, tg)

    def train() -> Callable[[], Any]:
        from tinytorch import nn
        from tinytorch.optim import SGD

        tt.manual_seed(0)
        model = example().resnet().to(device)
        model.load_state_dict({k: tt.Tensor(v.numpy()) for k, v in torch_resnet().state_dict().items()
                               if not k.endswith("num_batches_tracked")}, strict=False)
        opt = SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2)
        x, y = train_batch()
        tx, ty = tt.Tensor(x, device=device), tt.Tensor(y, device=device)

        @tt.jit
        def step(a: tt.Tensor, b: tt.Tensor) -> tt.Tensor:
            opt.zero_grad()
            loss = loss_fn(model(a), b)
            loss.backward()
            opt.step()
            return loss

        return lambda: float(step(tx, ty).item())

    return {"fwd": fwd, "bwd": bwd, "train": train}


# ---------------------------------------------------------------- one implementation per process
def child(impl: str, quick: bool) -> None:
    if impl == "torch":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    fns = numpy_impl() if impl == "numpy" else torch_impl() if impl == "torch" else tinytorch_impl(impl.split(":")[1])
    out: dict[str, Any] = {}
    repeats = 5 if quick else 20
    for name, cin, cout, hw in SHAPES:
        for kind in ("fwd", "bwd"):
            run = fns[kind](*conv_inputs(cin, cout, hw))
            st = time.perf_counter()
            run()
            first = time.perf_counter() - st
            t = measure(run, repeats=repeats, warmup=3, budget_s=2.0 if quick else 5.0)
            out[f"{name} {kind}"] = {"first": first, "median": t.median, "spread": t.spread}
    if "train" in fns:
        run = fns["train"]()
        st = time.perf_counter()
        loss0 = run()
        first = time.perf_counter() - st
        t = measure(run, repeats=5 if quick else 15, warmup=3, budget_s=10.0 if quick else 30.0)
        out["train step"] = {"first": first, "median": t.median, "spread": t.spread, "loss0": loss0}
    print(json.dumps(out))


def run_child(impl: str, quick: bool) -> dict[str, Any]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cold:
        env["TINYTORCH_CACHE"] = cold
        cmd = [sys.executable, os.path.abspath(__file__), "--child", impl] + (["--quick"] if quick else [])
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {"error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:160]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--devices", default="C,LLVM", help="tinytorch devices (comma-separated)")
    ap.add_argument("--peers", default="torch,numpy", help="comparison implementations")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.quick)
        return 0
    facts = machine_facts()
    peak = peak_fp32_flops()
    impls = [f"tinytorch:{d}" for d in args.devices.split(",") if d] + [p for p in args.peers.split(",") if p]
    results = {impl: run_child(impl, args.quick) for impl in impls}
    flops = {f"{n} fwd": conv_flops(ci, co, hw) for n, ci, co, hw in SHAPES}
    flops.update({f"{n} bwd": 2 * conv_flops(ci, co, hw) for n, ci, co, hw in SHAPES})
    flops["train step"] = 3 * TRAIN_BATCH * model_flops()
    print(f"# Convolutions at CIFAR shapes (batch {BATCH}, 3x3, padding 1) and the CIFAR example's training step "
          f"(batch {TRAIN_BATCH})\n")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
    print(f"peak FP32: {peak.flops / 1e9:.1f} GFLOP/s ({peak.detail})\n" if peak.flops else f"peak: {peak.detail}\n")
    rows = []
    for work, fl in flops.items():
        ref = results.get("torch", {}).get(work, {}).get("median")
        for impl, r in results.items():
            if "error" in r:
                rows.append([work, impl, "-", "-", "-", "-", "-", r["error"]])
                continue
            if work not in r:
                continue
            m = r[work]["median"]
            gf = fl / m / 1e9
            rows.append([work, impl, f"{r[work]['first'] * 1e3:.1f}", f"{m * 1e3:.2f}", f"{gf:.1f}",
                         f"{gf * 1e9 / peak.flops * 100:.0f}%" if peak.flops else "-",
                         f"{ref / m:.2f}x" if ref else "-", f"spread {r[work]['spread'] * 100:.0f}%"])
    print(markdown_table(["workload", "implementation", "first call (ms)", "steady (ms)", "GFLOP/s", "of peak",
                          "vs torch", "note"], rows, left_last=True))
    print(f"\nGFLOP: conv = 2 x N x Cout x H x W x Cin x 9; backward = dx + dw = 2 x forward; train step = "
          f"3 x {model_flops() / 1e6:.1f} MFLOP/image x {TRAIN_BATCH}. vs torch: torch's median / this median "
          "(> 1 is faster than torch).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
