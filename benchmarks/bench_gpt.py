"""GPT benchmark: training tokens/s and generation tokens/s, tinytorch next to torch eager.

Takes: `--quick` for fewer repeats, `--impls` to choose implementations.
Produces: markdown tables:
- training: tokens per second of a full step (forward, cross-entropy, backward, AdamW) for nanoGPT's
  "baby GPT" (n_layer 4, n_head 4, n_embd 128, block_size 64, batch 12) and for examples/gpt.py's
  default model (4, 4, 192, block_size 128, batch 32); tinytorch's step is a `tinytorch.jit` function on
  each device, torch's runs eagerly; medians after warm-up, and the ratio to torch of the same run;
- generation at 256 tokens of context (the example's model with block_size 256, a 224-token prompt,
  32 new tokens, greedy): tokens per second with the KV cache and without it (each token a full
  forward of the window), torch eager without a cache (nanoGPT's generate), and the cache's memory.
Each measurement runs in its own process (torch's and tinytorch's thread pools never share one).

    python benchmarks/bench_gpt.py            # full run (a few minutes)
    python benchmarks/bench_gpt.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from common import machine_facts, markdown_table, measure  # noqa: E402

# name -> (n_layer, n_head, n_embd, block_size, batch)
TRAIN = {"baby GPT (4x4x128, T 64, B 12)": (4, 4, 128, 64, 12),
         "example default (4x4x192, T 128, B 32)": (4, 4, 192, 128, 32)}
GEN = (4, 4, 192, 256)  # n_layer, n_head, n_embd, block_size
PROMPT, NEW = 224, 32
VOCAB = 65


def _batch(rng: np.random.Generator, B: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, VOCAB, (B, T + 1))
    return a[:, :-1], a[:, 1:]


def tinytorch_train(device: str, cfg: tuple[int, ...], repeats: int) -> float:
    import tinytorch as tt
    from tinytorch.models import GPT, GPTConfig

    L, H, E, T, B = cfg
    tt.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=L, n_head=H, n_embd=E)).to(device)
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95))

    @tt.jit
    def step(x: tt.Tensor, y: tt.Tensor) -> tt.Tensor:
        opt.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        return loss

    rng = np.random.default_rng(0)

    def run() -> float:
        x, y = _batch(rng, B, T)
        return step(tt.tensor(x, device=device), tt.tensor(y, device=device)).item()

    return measure(run, repeats=repeats, warmup=3, budget_s=30).median


def torch_model(L: int, H: int, E: int, T: int) -> Any:
    import torch

    from tests.test_gpt import TorchGPT  # nanoGPT's model, as the tests compare against it
    from tinytorch.models import GPTConfig

    torch.manual_seed(0)
    return TorchGPT(GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=L, n_head=H, n_embd=E))


def torch_train(cfg: tuple[int, ...], repeats: int) -> float:
    import torch

    L, H, E, T, B = cfg
    model = torch_model(L, H, E, T)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    rng = np.random.default_rng(0)

    def run() -> float:
        x, y = _batch(rng, B, T)
        opt.zero_grad()
        _, loss = model(torch.tensor(x), torch.tensor(y))
        loss.backward()
        opt.step()
        return float(loss.item())

    return measure(run, repeats=repeats, warmup=3, budget_s=30).median


def tinytorch_generate(device: str, use_cache: bool) -> dict[str, float]:
    import tinytorch as tt
    from tinytorch.models import GPT, GPTConfig, KVCache

    L, H, E, T = GEN
    tt.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=L, n_head=H, n_embd=E)).to(device)
    prompt = np.random.default_rng(0).integers(0, VOCAB, (1, PROMPT))
    list(model.generate_tokens(prompt, 3, top_k=1, use_cache=use_cache))  # compile once
    t0 = time.perf_counter()
    it = model.generate_tokens(prompt, NEW, top_k=1, use_cache=use_cache)
    next(it)  # the prompt's pass (prefill) and the first token
    t1 = time.perf_counter()
    for _ in it:
        pass
    t2 = time.perf_counter()
    mem = KVCache(1, T, L, H, E // H).memory_bytes()
    return {"tok_s": (NEW - 1) / (t2 - t1), "prefill_s": t1 - t0, "cache_bytes": mem}


def torch_generate() -> dict[str, float]:
    import torch

    L, H, E, T = GEN
    model = torch_model(L, H, E, T).eval()
    idx = torch.tensor(np.random.default_rng(0).integers(0, VOCAB, (1, PROMPT)))
    with torch.no_grad():
        model.greedy(idx, 3)
        t0 = time.perf_counter()
        model.greedy(idx, NEW)
        t = time.perf_counter() - t0
    return {"tok_s": NEW / t}


def worker(kind: str, impl: str, key: str, repeats: int) -> Any:
    if kind == "train":
        cfg = TRAIN[key]
        return torch_train(cfg, repeats) if impl == "torch" else tinytorch_train(impl, cfg, repeats)
    if impl == "torch":
        return torch_generate()
    device, mode = impl.split(":")
    return tinytorch_generate(device, mode == "cache")


def run_worker(kind: str, impl: str, key: str, repeats: int) -> Any:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps([kind, impl, key, repeats])]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"{kind} {impl} {key}: failed\n{p.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--impls", default="C,LLVM,torch")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))))
        return ""
    impls = args.impls.split(",")
    repeats = 8 if args.quick else 20
    facts = machine_facts()
    out = [f"Machine: {facts.get('cpu', '?')}, {facts.get('cores', '?')} cores, SIMD {facts.get('simd', '?')}", ""]
    rows = []
    rounds = 2 if args.quick else 3
    for name, cfg in TRAIN.items():
        tokens = cfg[3] * cfg[4]
        # implementations alternate, round after round: the machine's speed drifts over minutes
        runs: dict[str, list[float]] = {i: [] for i in impls}
        for _ in range(rounds):
            for i in impls:
                t = run_worker("train", i, name, repeats)
                if t is not None:
                    runs[i].append(t)
        times = {i: float(np.median(v)) if v else None for i, v in runs.items()}
        base = times.get("torch")
        for i in impls:
            t = times[i]
            if t is None:
                continue
            label = "torch eager" if i == "torch" else f"tinytorch {i} (jit)"
            ratio = f"{base / t:.2f}x" if base else "-"
            rows.append([name, label, f"{t * 1e3:.1f} ms", f"{tokens / t:,.0f}", ratio])
    out += [f"Training step (forward, backward, AdamW): medians of {rounds} alternating rounds, each a median of "
            f"up to {repeats} steps:", "",
            markdown_table(["model", "implementation", "step", "tokens/s", "vs torch"], rows), ""]
    grow = []
    gen_impls = [f"{d}:{m}" for d in impls if d != "torch" for m in ("cache", "nocache")] + \
        (["torch"] if "torch" in impls else [])
    res = {i: run_worker("gen", i, "", repeats) for i in gen_impls}
    tref = res.get("torch")
    for i in gen_impls:
        r = res[i]
        if r is None:
            continue
        if i == "torch":
            label, extra = "torch eager, no cache (full forward per token)", "-"
        else:
            d, m = i.split(":")
            how = "KV cache (jitted decode step)" if m == "cache" else "no cache (full forward)"
            label = f"tinytorch {d}, {how}"
            extra = f"{r['cache_bytes'] / 2**20:.2f} MiB" if m == "cache" else "-"
        vs = f"{r['tok_s'] / tref['tok_s']:.2f}x" if tref else "-"
        grow.append([label, f"{r['tok_s']:,.1f}", vs, extra])
    speedups = [f"{d}: {res[d + ':cache']['tok_s'] / res[d + ':nocache']['tok_s']:.1f}x" for d in impls
                if d != "torch" and res.get(d + ":cache") and res.get(d + ":nocache")]
    out += [f"Generation at {PROMPT}-{PROMPT + NEW} tokens of context (n_layer {GEN[0]}, n_head {GEN[1]}, "
            f"n_embd {GEN[2]}, block_size {GEN[3]}, greedy, batch 1):", "",
            markdown_table(["implementation", "tokens/s", "vs torch", "cache memory"], grow), "",
            "KV cache speed-up over no cache: " + ", ".join(speedups), ""]
    text = "\n".join(out)
    print(text)
    return text


if __name__ == "__main__":
    main()
