"""Train a 784-512-512-10 MLP on MNIST, evaluate on the 10k test set, save a checkpoint.

    python examples/mlp.py                      # about a minute on 2 cores, ~98% test accuracy
    DEBUG=3 python examples/mlp.py --steps 20   # the training step's kernels, shown once
    python examples/mlp.py --device LLVM --epochs 1

The whole training step (forward, cross-entropy, backward, Adam) is one function captured
by `tinytorch.jit`: after two calls it replays the compiled kernels with each new batch.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinytorch as tt  # noqa: E402
from tinytorch import nn  # noqa: E402
from tinytorch.data import DataLoader, TensorDataset  # noqa: E402
from tinytorch.data.datasets import MNIST  # noqa: E402
from tinytorch.optim import Adam  # noqa: E402
from tinytorch.optim.lr_scheduler import CosineAnnealingLR  # noqa: E402

MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8, help="passes over the 60k training images (default 8)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (cosine-annealed per epoch)")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--device", default=None, help="C, LLVM or INTERP (default: fastest available)")
    p.add_argument("--steps", type=int, default=None, help="stop after this many training steps (short runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="folder with the MNIST .gz files (default: search path)")
    p.add_argument("--checkpoint", default="checkpoints/mlp.safetensors", help="where to save the weights")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs a line per epoch)")
    return p.parse_args(argv)


def load(train: bool, root: str | None) -> TensorDataset:
    ds = MNIST(root=root, train=train)
    x = ((ds.data.astype(np.float32) / 255.0 - MEAN) / STD).reshape(-1, 784)  # (N, 784)
    return TensorDataset(x, ds.targets.astype(np.int64))


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    tt.manual_seed(args.seed)
    device = (args.device or tt.Device.DEFAULT).upper()
    train, test = load(True, args.data), load(False, args.data)
    model = nn.Sequential(
        nn.Linear(784, args.hidden), nn.ReLU(),  # (B, 784) -> (B, H)
        nn.Linear(args.hidden, args.hidden), nn.ReLU(),  # (B, H) -> (B, H)
        nn.Linear(args.hidden, 10),  # (B, H) -> (B, 10) logits
    ).to(device)
    opt = Adam(model.parameters(), lr=args.lr)
    sched = CosineAnnealingLR(opt, T_max=max(1, args.epochs))
    loss_fn = nn.CrossEntropyLoss()

    @tt.jit
    def train_step(x: tt.Tensor, y: tt.Tensor) -> tt.Tensor:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    @tt.jit
    def predict(x: tt.Tensor) -> tt.Tensor:
        with tt.no_grad():
            return model(x).argmax(-1)

    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True, seed=args.seed, device=device)
    total_steps = args.steps if args.steps is not None else args.epochs * len(loader)
    epochs = max(1, math.ceil(total_steps / len(loader)))
    print(f"training {sum(p.numel() for p in model.parameters()):,} parameters on {device}: "
          f"{epochs} epoch(s), {total_steps} steps of {args.batch_size}")
    bar = None
    if not args.no_progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=total_steps, unit="step", dynamic_ncols=True)
        except ImportError:
            bar = None
    t0 = time.perf_counter()
    step = 0
    model.train()
    for epoch in range(epochs):
        seen, et = 0, time.perf_counter()
        for x, y in loader:
            if step >= total_steps:
                break
            loss = train_step(x, y)
            step += 1
            seen += x.shape[0]
            if bar is not None and (step % 20 == 0 or step == total_steps):
                rate = seen / (time.perf_counter() - et)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}", samples_s=f"{rate:,.0f}")
                bar.update(step - bar.n)
        sched.step()
        if bar is None:
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}, {seen / (time.perf_counter() - et):,.0f} samples/s")
    if bar is not None:
        bar.close()
    train_time = time.perf_counter() - t0

    model.eval()
    correct = 0
    for x, y in DataLoader(test, batch_size=1000, device=device):
        correct += int((predict(x).numpy() == y.numpy()).sum())
    acc = correct / len(test)
    print(f"test accuracy {acc * 100:.2f}% ({correct}/{len(test)}), training took {train_time:.1f} s")
    if args.checkpoint:
        os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
        nn.state.safe_save(model.state_dict(), args.checkpoint, metadata={"test_accuracy": f"{acc:.4f}"})
        print(f"saved {args.checkpoint}")
    return acc


if __name__ == "__main__":
    main()
