"""The 2017 attention proof: a small transformer learns to reverse, copy and sort digit sequences.

    python examples/attention_proof.py                 # reverse, copy, sort, then mixed: ~30 s on 2 cores
    python examples/attention_proof.py --task reverse  # one task
    python examples/attention_proof.py --quick         # fewer steps, 200 held-out sequences

Takes: nothing from disk. Every training step draws a fresh batch of random sequences (length
`--seq-len` over digits 0..`--vocab`-1); the target of position i is the i-th token of the
reversed / copied / sorted input. The model sees the whole input at once (bidirectional
self-attention, an encoder), so output position i can attend to any input position — for
reversal it must learn to look at position T-1-i, which only attention can route. The mixed task
trains one model on all three: a task token in front of the sequence says which op to apply.
Produces: per task, the exact-match rate (every token of the output sequence right) on 1,000
held-out sequences (never drawn for training), the parameter count, the step time and a few
input -> predicted sequences. Exits with status 1 when a task stays under 95 % exact match.

The model (the course's ReversalTransformer size: d 32, 4 heads): token embedding + learned position
embedding, two pre-LayerNorm blocks of multi-head self-attention and a GELU MLP, a final LayerNorm
and a linear head — 26k parameters. The training step (forward, cross-entropy over every output
position, backward, Adam with warm-up and cosine decay) is one function captured by `tinytorch.jit`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinytorch as tt  # noqa: E402
from tinytorch import nn  # noqa: E402
from tinytorch.nn import functional as F  # noqa: E402
from tinytorch.optim import Adam  # noqa: E402

TASKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "reverse": lambda x: x[:, ::-1],  # y[i] = x[T-1-i]
    "copy": lambda x: x,  # y[i] = x[i]
    "sort": lambda x: np.sort(x, axis=1),  # y = x in ascending order
}
PASS = 0.95  # exact-match rate each task must reach
STEPS = {"reverse": 400, "copy": 400, "sort": 400, "mixed": 800}  # default training steps per task
QUICK_STEPS = {"reverse": 120, "copy": 120, "sort": 300, "mixed": 600}  # --quick: just past 95 % (seeds 0-2)


class SelfAttention(nn.Module):
    """Bidirectional multi-head self-attention: (B, T, C) -> (B, T, C), softmax(q k^T / sqrt(D)) v per head."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads  # H; each head has D = C / H channels
        self.qkv = nn.Linear(d_model, 3 * d_model)  # (B, T, C) -> (B, T, 3C)
        self.proj = nn.Linear(d_model, d_model)  # (B, T, C) -> (B, T, C)

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        """y = proj(concat_h softmax(q_h k_h^T / sqrt(D)) v_h)."""
        B, T, C = x.shape  # batch, positions, model width
        H, D = self.n_heads, C // self.n_heads  # heads, width per head
        qkv = self.qkv(x).reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4)  # (3, B, H, T, D)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (B, H, T, D)
        # softmax(q k^T / sqrt(D)) v with no mask: every position attends to the whole input
        y = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, T) weights @ (B, H, T, D) -> (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C) heads side by side
        return self.proj(y)  # (B, T, C)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then + mlp(ln(x)); (B, T, C) -> (B, T, C)."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)  # (B, T, C) -> (B, T, C)
        self.attn = SelfAttention(d_model, n_heads)  # (B, T, C) -> (B, T, C)
        self.ln2 = nn.LayerNorm(d_model)  # (B, T, C) -> (B, T, C)
        self.fc = nn.Linear(d_model, 4 * d_model)  # (B, T, C) -> (B, T, 4C)
        self.out = nn.Linear(4 * d_model, d_model)  # (B, T, 4C) -> (B, T, C)

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        """x + attn(ln1(x)), then x + out(gelu(fc(ln2(x))))."""
        x = x + self.attn(self.ln1(x))  # (B, T, C)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))  # (B, T, C)


class SeqTransformer(nn.Module):
    """Encoder-only transformer mapping a token sequence to per-position logits: (B, T) -> (B, T, V).

    `in_vocab` may exceed `vocab` by extra input-only tokens (the task tokens of the mixed task)."""

    def __init__(self, vocab: int, seq_len: int, d_model: int, n_heads: int, n_layers: int, in_vocab: int = 0):
        super().__init__()
        self.tok = nn.Embedding(max(in_vocab, vocab), d_model)  # (B, T) -> (B, T, C)
        self.pos = nn.Embedding(seq_len, d_model)  # (T,) -> (T, C) learned positions
        self.blocks = nn.Sequential(*[Block(d_model, n_heads) for _ in range(n_layers)])  # (B, T, C)
        self.ln_f = nn.LayerNorm(d_model)  # (B, T, C) -> (B, T, C)
        self.head = nn.Linear(d_model, vocab)  # (B, T, C) -> (B, T, V)
        self.register_buffer("positions", tt.arange(seq_len))  # (T,) 0..T-1

    def forward(self, idx: tt.Tensor) -> tt.Tensor:
        """logits = head(ln_f(blocks(tok(idx) + pos(0..T-1))))."""
        x = self.tok(idx) + self.pos(self.positions)  # (B, T, C) + (T, C) -> (B, T, C)
        x = self.blocks(x)  # (B, T, C)
        return self.head(self.ln_f(x))  # (B, T, V)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=[*TASKS, "mixed", "all"], default="all",
                   help="what to learn; all: reverse, copy, sort, then mixed, one after the other (default)")
    p.add_argument("--seq-len", type=int, default=8)
    p.add_argument("--vocab", type=int, default=10, help="tokens are 0..vocab-1")
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per task (default: reverse, copy, sort 400, mixed 800; "
                        "--quick: 120, 120, 300, 600)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3, help="Adam peak learning rate (warm-up, then cosine decay)")
    p.add_argument("--eval-size", type=int, default=None, help="held-out sequences (default 1000, --quick 200)")
    p.add_argument("--device", default=None, help="C, LLVM or INTERP (default: fastest available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a short run for tests: fewer steps, smaller eval")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs a few lines per task)")
    args = p.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be at least 1")
    if args.eval_size is None:
        args.eval_size = 200 if args.quick else 1000
    return args


def progress(total: int, want: bool, desc: str) -> Any:
    """A tqdm bar when tqdm is installed and wanted, else None."""
    if not want:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="step", desc=desc, dynamic_ncols=True)


class Problems:
    """(input, target) pairs of one task on random sequences; training inputs never equal a held-out one.

    Plain tasks: input = the sequence x (N, T), target = op(x) (N, T). Mixed: each row picks one of
    the ops; its input is [vocab + op id, x] (N, T + 1) and its target op(x) (N, T)."""

    def __init__(self, task: str, vocab: int, seq_len: int, eval_size: int, seed: int):
        self.task, self.vocab, self.seq_len = task, vocab, seq_len
        self.rng = np.random.default_rng(seed)
        self.held_in, self.held_out, self.held_ops = self._pairs(eval_size)  # (N, T'), (N, T), (N,)
        self.held_keys = {row.tobytes() for row in self.held_in}
        if len(self.held_keys) >= vocab ** seq_len * (len(TASKS) if task == "mixed" else 1):
            raise ValueError(f"{eval_size} held-out sequences leave no {seq_len}-token sequence over {vocab} "
                             "tokens to train on: lower --eval-size or raise --vocab / --seq-len")

    def _pairs(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self.rng.integers(0, self.vocab, (n, self.seq_len), dtype=np.int64)  # (N, T)
        if self.task != "mixed":
            return x, TASKS[self.task](x).copy(), np.full(n, list(TASKS).index(self.task))
        ops = self.rng.integers(0, len(TASKS), n)  # (N,) which op each row asks for
        every = np.stack([f(x) for f in TASKS.values()])  # (3, N, T) each op's answer
        y = every[ops, np.arange(n)]  # (N, T) the asked-for answer
        return np.concatenate([(self.vocab + ops)[:, None], x], axis=1), y, ops  # (N, T + 1), (N, T), (N,)

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n fresh training pairs; rows whose input is a held-out input are drawn again."""
        x, y, _ = self._pairs(n)
        for i in range(n):
            while x[i].tobytes() in self.held_keys:
                x[i:i + 1], y[i:i + 1], _ = self._pairs(1)
        return x, y


def lr_at(step: int, total: int, peak: float) -> float:
    """Linear warm-up over the first 5 % of steps, then cosine decay to 0."""
    warm = max(1, total // 20)
    if step < warm:
        return peak * (step + 1) / warm
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def run_task(task: str, args: argparse.Namespace, device: str) -> dict[str, float]:
    """Train a fresh model on one task and evaluate it on the held-out pairs; returns its metrics."""
    steps = args.steps if args.steps is not None else (QUICK_STEPS if args.quick else STEPS)[task]
    T, V = args.seq_len, args.vocab
    extra = 1 if task == "mixed" else 0  # the task token in front of a mixed input
    tt.manual_seed(args.seed)
    data = Problems(task, V, T, args.eval_size, args.seed + 1)
    model = SeqTransformer(V, T + extra, args.d_model, args.heads, args.layers, in_vocab=V + extra * len(TASKS))
    model.to(device)
    opt = Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())

    @tt.jit
    def train_step(x: tt.Tensor, y: tt.Tensor) -> tt.Tensor:
        opt.zero_grad()
        logits = model(x)[:, extra:]  # (B, T, V): no prediction at the task token
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))  # mean over the B*T output tokens
        loss.backward()
        opt.step()
        return loss

    @tt.jit
    def predict(x: tt.Tensor) -> tt.Tensor:
        with tt.no_grad():
            return model(x)[:, extra:].argmax(-1)  # (B, T) the most likely token per output position

    print(f"[{task}] {n_params:,} parameters on {device}: {steps} steps of {args.batch_size} sequences "
          f"(length {T}, vocab {V}), chance loss {math.log(V):.3f}")
    bar = progress(steps, not args.no_progress, task)
    model.train()
    t0 = time.perf_counter()
    t_steady, loss_v = t0, float("nan")
    for step in range(steps):
        if step == 2:
            t_steady = time.perf_counter()  # steps 0 and 1 compile and capture the jitted step
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, args.lr)
        x, y = data.draw(args.batch_size)  # (B, T'), (B, T)
        loss = train_step(tt.tensor(x, device=device), tt.tensor(y, device=device))
        if step % 25 == 0 or step == steps - 1:
            loss_v = loss.item()
            if bar is not None:
                bar.set_postfix(loss=f"{loss_v:.4f}")
                bar.update(step + 1 - bar.n)
            elif step % 100 == 0 or step == steps - 1:
                print(f"[{task}] step {step + 1}/{steps}: loss {loss_v:.4f}")
    if bar is not None:
        bar.close()
    train_time = time.perf_counter() - t0
    step_ms = 1000 * (time.perf_counter() - t_steady) / max(1, steps - 2)

    model.eval()
    x, y = data.held_in, data.held_out  # (N, T'), (N, T)
    chunk = 500  # one fixed batch shape, so the jitted predict replays (the last chunk is padded)
    pred = np.concatenate([
        predict(tt.tensor(np.resize(x[i:i + chunk], (chunk, x.shape[1])), device=device)).numpy()[:len(x) - i].copy()
        for i in range(0, len(x), chunk)])  # (N, T)
    right = (pred == y).all(axis=1)  # (N,) whole sequence correct
    exact, token = float(right.mean()), float((pred == y).mean())
    per_op = ""
    if task == "mixed":
        per_op = " (" + ", ".join(f"{name} {right[data.held_ops == i].mean() * 100:.1f}%"
                                  for i, name in enumerate(TASKS)) + ")"
    print(f"[{task}] exact match {exact * 100:.1f}% of {len(x)} held-out sequences{per_op}, token accuracy "
          f"{token * 100:.2f}%, final loss {loss_v:.4f}; training {train_time:.1f} s, {step_ms:.1f} ms/step")
    for i in range(min(3, len(x))):
        op = f"{list(TASKS)[data.held_ops[i]]}: " if task == "mixed" else ""
        print(f"[{task}]   {op}{' '.join(map(str, x[i, extra:]))} -> {' '.join(map(str, pred[i]))}  "
              f"({'ok' if right[i] else 'WRONG, want ' + ' '.join(map(str, y[i]))})")
    return {"exact": exact, "token": token, "loss": loss_v, "params": float(n_params),
            "train_s": train_time, "step_ms": step_ms}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Train and evaluate every requested task; returns {task: metrics}."""
    args = parse_args(argv)
    device = (args.device or tt.Device.DEFAULT).upper()
    tasks = [*TASKS, "mixed"] if args.task == "all" else [args.task]
    results = {t: run_task(t, args, device) for t in tasks}
    print("summary: " + ", ".join(f"{t} {r['exact'] * 100:.1f}%" for t, r in results.items())
          + f" exact match (pass: >= {PASS * 100:.0f}% each)")
    return results


def cli(argv: list[str] | None = None) -> int:
    """Run main; the exit status is 0 when every task reached the pass mark, else 1."""
    return 0 if all(r["exact"] >= PASS for r in main(argv).values()) else 1


if __name__ == "__main__":
    sys.exit(cli())
