"""A character-level GPT trained on tiny shakespeare, then sampled.

    python examples/gpt.py                                # train (25 minutes on 2 cores), save, sample
    python examples/gpt.py --bpe                          # the same with a byte-level BPE tokenizer
    python examples/gpt.py --baby                         # nanoGPT's "baby GPT", 2000 steps (about 3 minutes)
    python examples/gpt.py --sample --prompt "ROMEO:"     # load the checkpoint and stream new text
    DEBUG=2 python examples/gpt.py --steps 5              # watch the kernels of a training step

The training step (forward, backward, gradient clipping, AdamW) is captured once by `tinytorch.jit`
and replayed for every batch; the learning rate warms up linearly, then follows a cosine to
--min-lr. Train and validation losses (the last 10 % of the text) are estimated every
--eval-interval steps. The checkpoint is a safetensors file with the model config in its metadata,
next to the tokenizer as JSON. Sampling uses the model's KV cache: every new token is one jitted
decode step.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinytorch as tt  # noqa: E402
from tinytorch import nn  # noqa: E402
from tinytorch.models import GPT, GPTConfig  # noqa: E402
from tinytorch.optim.lr_scheduler import LambdaLR  # noqa: E402
from tinytorch.optim.utils import clip_grad_norm_  # noqa: E402
from tinytorch.text import BPETokenizer, CharTokenizer, TextWindowDataset, load_tokenizer, tinyshakespeare  # noqa: E402

DEFAULT_CHECKPOINT = os.path.join("checkpoints", "gpt.safetensors")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bpe", action="store_true", help="byte-level BPE tokens instead of characters")
    p.add_argument("--vocab-size", type=int, default=512, help="BPE vocabulary size (with --bpe)")
    p.add_argument("--steps", type=int, default=5000, help="training steps (at most)")
    p.add_argument("--time-limit", type=float, default=1500,
                   help="training time in seconds (0: none): the cosine runs over this budget, training stops at it")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--block-size", type=int, default=128, help="context length")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=192)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=float, default=2e-4, help="learning rate at the end of the cosine")
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0, help="clip the gradient norm (0: off)")
    p.add_argument("--eval-interval", type=int, default=250)
    p.add_argument("--eval-iters", type=int, default=10, help="batches per loss estimate (the final one: 4x)")
    p.add_argument("--device", default=None, help="C, LLVM or INTERP (default: tinytorch's default)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="where to save (and --sample: load)")
    p.add_argument("--sample", action="store_true", help="load the checkpoint and generate instead of training")
    p.add_argument("--prompt", default="\n", help="text to continue when sampling")
    p.add_argument("--max-new-tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--no-cache", action="store_true", help="sample without the KV cache")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")
    p.add_argument("--quick", action="store_true", help="a tiny model for a few steps (a smoke test)")
    p.add_argument("--baby", action="store_true",
                   help="nanoGPT's CPU 'baby GPT': 4 layers x 4 heads x 128, context 64, batch 12, 2000 steps")
    args = p.parse_args(argv)
    if args.baby:
        args.n_layer, args.n_head, args.n_embd, args.block_size, args.batch_size = 4, 4, 128, 64, 12
        args.steps, args.time_limit, args.eval_iters = 2000, 0, 20
    if args.quick:
        args.steps, args.batch_size, args.block_size = min(args.steps, 30), 8, 32
        args.n_layer, args.n_head, args.n_embd = 2, 2, 32
        args.eval_interval, args.eval_iters, args.warmup = 15, 2, 5
        args.max_new_tokens, args.time_limit = min(args.max_new_tokens, 60), 0
    return args


def lr_factor(step: int, args: argparse.Namespace, elapsed: float = 0.0) -> float:
    """Linear warm-up to 1, then a cosine from 1 down to min_lr/lr at the last step, or at the end of the
    time budget when that comes first (so a slower machine still ends its run at the low learning rate)."""
    if step < args.warmup:
        return (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    if args.time_limit:
        progress = max(progress, min(1.0, elapsed / args.time_limit))
    floor = args.min_lr / args.lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def tokenizer_path(checkpoint: str) -> str:
    return os.path.splitext(checkpoint)[0] + ".tokenizer.json"


def train(args: argparse.Namespace) -> float:
    tt.manual_seed(args.seed)
    device = (args.device or tt.Device.DEFAULT).upper()
    text = tinyshakespeare()
    n_train = int(0.9 * len(text))  # the first 90 % trains, the rest validates (nanoGPT's split)
    t0 = time.perf_counter()
    tok = BPETokenizer.train(text[:n_train], args.vocab_size) if args.bpe else CharTokenizer(text)
    train_ids, val_ids = np.array(tok.encode(text[:n_train])), np.array(tok.encode(text[n_train:]))
    print(f"{'BPE' if args.bpe else 'character'} tokenizer: vocab {tok.vocab_size}, {len(train_ids):,} train / "
          f"{len(val_ids):,} val tokens ({time.perf_counter() - t0:.1f} s)")
    train_set, val_set = TextWindowDataset(train_ids, args.block_size), TextWindowDataset(val_ids, args.block_size)
    rng = np.random.default_rng(args.seed)

    config = GPTConfig(vocab_size=tok.vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                       n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout, bias=True)
    model = GPT(config).to(device)
    opt = model.configure_optimizers(args.weight_decay, args.lr, (0.9, 0.99))
    clock = {"start": time.perf_counter()}
    sched = LambdaLR(opt, lambda s: lr_factor(s, args, time.perf_counter() - clock["start"]))
    params = [p for p in model.parameters() if p.requires_grad]

    @tt.jit
    def train_step(x: tt.Tensor, y: tt.Tensor) -> tt.Tensor:
        opt.zero_grad()
        _, loss = model(x, y)  # (B, T) -> ()
        loss.backward()
        if args.grad_clip > 0:
            clip_grad_norm_(params, args.grad_clip)
        opt.step()
        return loss

    @tt.jit
    def eval_loss(x: tt.Tensor, y: tt.Tensor) -> tt.Tensor:
        with tt.no_grad():
            return model(x, y)[1]

    def estimate(split: TextWindowDataset, iters: int = args.eval_iters) -> float:
        model.eval()
        losses = [eval_loss(*split.get_batch(args.batch_size, rng, device=device)).item() for _ in range(iters)]
        model.train()
        return float(np.mean(losses))

    print(f"GPT: {model.num_parameters() / 1e6:.2f} M parameters, {config.n_layer} layers x {config.n_head} heads x "
          f"{config.n_embd}, context {config.block_size}; {args.steps} steps of {args.batch_size} x "
          f"{args.block_size} tokens on {device}")
    bar = None
    if not args.no_progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=args.steps, unit="step", dynamic_ncols=True)
        except ImportError:
            bar = None
    t_start = clock["start"] = time.perf_counter()
    val = train_loss = float("nan")
    tokens = 0
    step = 0
    for step in range(args.steps):
        if step % args.eval_interval == 0 and step > 0:
            train_loss, val = estimate(train_set), estimate(val_set)
            line = f"step {step}: train loss {train_loss:.4f}, val loss {val:.4f}"
            print(line) if bar is None else bar.write(line)
        x, y = train_set.get_batch(args.batch_size, rng, device=device)
        loss = train_step(x, y)
        sched.step()
        tokens += x.numel()
        elapsed = time.perf_counter() - t_start
        if step % 10 == 0 or step == args.steps - 1:
            lv = loss.item()
            if not math.isfinite(lv):
                raise FloatingPointError(f"training diverged at step {step}: loss {lv}")
            if bar is not None:
                bar.set_postfix(loss=f"{lv:.4f}", val=f"{val:.4f}", tok_s=f"{tokens / elapsed:,.0f}",
                                lr=f"{sched.get_last_lr()[0]:.2e}")
                bar.update(step + 1 - bar.n)
            elif step % 100 == 0:
                print(f"step {step}: loss {lv:.4f}, {tokens / elapsed:,.0f} tokens/s")
        if args.time_limit and elapsed > args.time_limit:
            print(f"time limit of {args.time_limit:.0f} s reached after {step + 1} steps")
            break
    if bar is not None:
        bar.close()
    train_time = time.perf_counter() - t_start
    train_loss, val = estimate(train_set, 4 * args.eval_iters), estimate(val_set, 4 * args.eval_iters)
    print(f"final: train loss {train_loss:.4f}, val loss {val:.4f} after {step + 1} steps, {train_time:.0f} s "
          f"({tokens / train_time:,.0f} tokens/s)")

    os.makedirs(os.path.dirname(os.path.abspath(args.checkpoint)), exist_ok=True)
    meta = {"config": json.dumps(vars(config)), "val_loss": f"{val:.4f}", "steps": str(step + 1)}
    nn.state.safe_save(model.state_dict(), args.checkpoint, metadata=meta)
    tok.save(tokenizer_path(args.checkpoint))
    print(f"saved {args.checkpoint} and {tokenizer_path(args.checkpoint)}")
    print("--- sample ---")
    sample(model, tok, args)
    return val


def sample(model: GPT, tok: CharTokenizer | BPETokenizer, args: argparse.Namespace) -> str:
    """Continue args.prompt, printing the text as the tokens come."""
    ids = tok.encode(args.prompt) or [0]
    out = [args.prompt]
    sys.stdout.write(args.prompt)
    new = model.generate_tokens([ids], args.max_new_tokens, args.temperature, args.top_k,
                                use_cache=not args.no_cache, generator=args.seed)
    for piece in tok.decode_stream(int(t[0]) for t in new):
        sys.stdout.write(piece)
        sys.stdout.flush()
        out.append(piece)
    sys.stdout.write("\n")
    return "".join(out)


def load(args: argparse.Namespace) -> tuple[GPT, CharTokenizer | BPETokenizer]:
    if not os.path.exists(args.checkpoint):
        raise SystemExit(f"no checkpoint at {args.checkpoint}: train first with `python examples/gpt.py`")
    meta = nn.state.safe_load_metadata(args.checkpoint)
    config = GPTConfig(**json.loads(meta["config"]))
    device = (args.device or tt.Device.DEFAULT).upper()
    model = GPT(config).to(device)
    model.load_state_dict(nn.state.safe_load(args.checkpoint))
    model.eval()
    return model, load_tokenizer(tokenizer_path(args.checkpoint))


def main(argv: list[str] | None = None) -> float | str:
    args = parse_args(argv)
    if args.sample:
        model, tok = load(args)
        return sample(model, tok, args)
    return train(args)


if __name__ == "__main__":
    main()
