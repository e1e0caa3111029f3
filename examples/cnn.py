"""Train a CNN: LeNet-5 on MNIST, or a small ResNet-style net on the full CIFAR-10; save a checkpoint.

    python examples/cnn.py                      # CIFAR-10 (full lossy copy), about 30 min on 2 cores, ~86%
    python examples/cnn.py --dataset mnist      # LeNet-5 (1998; ReLU + max-pool variant), ~99% in minutes
    DEBUG=3 python examples/cnn.py --limit 256 --epochs 1   # the convolution kernels as loops, shown once

The training step (forward, label-smoothed cross-entropy, backward, SGD with Nesterov momentum)
is one function captured by `tinytorch.jit`; the learning rate follows a one-cycle schedule
(linear warm-up, then linear decay), stepped once per batch. Batches are cropped and flipped in a
background thread while the step runs. CIFAR-10 is evaluated twice: on the complete but lossy
(JPEG q75) 10,000-image test set and on the exact 1,000-image subset, each averaging the logits of
the image and its mirror image.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinytorch as tt  # noqa: E402
from tinytorch import nn  # noqa: E402
from tinytorch.data import DataLoader, Subset, TensorDataset, datasets, transforms  # noqa: E402
from tinytorch.optim import SGD, Adam  # noqa: E402
from tinytorch.optim.lr_scheduler import OneCycleLR  # noqa: E402

CIFAR_MEAN, CIFAR_STD = (0.4913, 0.4821, 0.4465), (0.2452, 0.2428, 0.2606)  # of the lossy train set
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

WIDTHS = (16, 32, 64, 128)  # channels of the ResNet's prep layer and three stages

# per dataset: epochs, batch size, peak learning rate, label smoothing, weight decay
DEFAULTS = {"cifar10": (10, 256, 0.2, 0.2, 5e-4), "mnist": (4, 128, 3e-3, 0.0, 0.0)}


def lenet5() -> nn.Module:
    """LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling in place of tanh and subsampling."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(),  # (B, 1, 28, 28) -> (B, 6, 28, 28)
        nn.MaxPool2d(2),  # (B, 6, 28, 28) -> (B, 6, 14, 14)
        nn.Conv2d(6, 16, 5), nn.ReLU(),  # (B, 6, 14, 14) -> (B, 16, 10, 10)
        nn.MaxPool2d(2),  # (B, 16, 10, 10) -> (B, 16, 5, 5)
        nn.Flatten(),  # (B, 16, 5, 5) -> (B, 400)
        nn.Linear(400, 120), nn.ReLU(),  # (B, 400) -> (B, 120)
        nn.Linear(120, 84), nn.ReLU(),  # (B, 120) -> (B, 84)
        nn.Linear(84, 10),  # (B, 84) -> (B, 10) logits
    )


def conv_bn(cin: int, cout: int) -> list[nn.Module]:
    """3x3 convolution (no bias: BatchNorm follows), BatchNorm, ReLU: (B, cin, H, W) -> (B, cout, H, W)."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Residual(nn.Module):
    """x + f(x), f = two conv-BatchNorm-ReLU layers of c channels: (B, c, H, W) -> (B, c, H, W)."""

    def __init__(self, c: int):
        super().__init__()
        self.f = nn.Sequential(*conv_bn(c, c), *conv_bn(c, c))  # (B, c, H, W) -> (B, c, H, W)

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        """x + f(x)."""
        return x + self.f(x)  # (B, c, H, W)


class Scale(nn.Module):
    """y = k * x (keeps the initial logits small, as a lower softmax temperature would)."""

    def __init__(self, k: float):
        super().__init__()
        self.k = k

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        """k * x."""
        return x * self.k


def down(cin: int, cout: int) -> list[nn.Module]:
    """Convolution, 2x2 max-pool, BatchNorm, ReLU: (B, cin, H, W) -> (B, cout, H/2, W/2)."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False),  # (B, cin, H, W) -> (B, cout, H, W)
            nn.MaxPool2d(2),  # (B, cout, H, W) -> (B, cout, H/2, W/2)
            nn.BatchNorm2d(cout), nn.ReLU()]  # (B, cout, H/2, W/2)


def resnet(widths: tuple[int, int, int, int] = WIDTHS) -> nn.Module:
    """A narrow ResNet-9-style net (D. Page's DAWNBench layout): prep conv, three pooling stages,
    residual blocks after the first and last, global max-pool, a linear classifier."""
    w0, w1, w2, w3 = widths
    return nn.Sequential(
        *conv_bn(3, w0),  # (B, 3, 32, 32) -> (B, w0, 32, 32)
        *down(w0, w1),  # (B, w0, 32, 32) -> (B, w1, 16, 16)
        Residual(w1),  # (B, w1, 16, 16)
        *down(w1, w2),  # (B, w1, 16, 16) -> (B, w2, 8, 8)
        *down(w2, w3),  # (B, w2, 8, 8) -> (B, w3, 4, 4)
        Residual(w3),  # (B, w3, 4, 4)
        nn.AdaptiveMaxPool2d(1),  # (B, w3, 4, 4) -> (B, w3, 1, 1)
        nn.Flatten(),  # (B, w3, 1, 1) -> (B, w3)
        nn.Linear(w3, 10, bias=False),  # (B, w3) -> (B, 10)
        Scale(0.125),  # (B, 10) logits
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=("cifar10", "mnist"), default="cifar10")
    p.add_argument("--epochs", type=int, default=None, help="passes over the training set (cifar10 10, mnist 4)")
    p.add_argument("--batch-size", type=int, default=None, help="cifar10 256, mnist 128")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate of the one-cycle schedule "
                   "(cifar10: SGD 0.2, mnist: Adam 3e-3)")
    p.add_argument("--device", default=None, help="C, LLVM or INTERP (default: LLVM for cifar10 when llvmlite "
                   "is installed — the device of the measured 28-minute run — else the fastest available)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only (smoke tests)")
    p.add_argument("--eval-limit", type=int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="data folder (default: the search path of the dataset)")
    p.add_argument("--checkpoint", default=None, help="where to save the weights "
                   "(default checkpoints/<lenet5|resnet>.safetensors; '' to skip)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs a line per epoch)")
    return p.parse_args(argv)


def progress(total: int, enabled: bool) -> Any:
    """A tqdm bar when tqdm is installed and wanted, else None."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="step", dynamic_ncols=True)


def mnist_data(args: argparse.Namespace) -> tuple[Any, dict[str, Any], Any]:
    """MNIST as (N, 1, 28, 28) normalised float32: (train set, {name: test set}, batch transform)."""
    def load(train: bool) -> TensorDataset:
        ds = datasets.MNIST(root=args.data, train=train)
        x = ((ds.data.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[:, None]  # (N, 1, 28, 28)
        return TensorDataset(x, ds.targets.astype(np.int64))
    return load(True), {"test": load(False)}, None


def cifar_data(args: argparse.Namespace) -> tuple[Any, dict[str, Any], Any]:
    """CIFAR-10 uint8 images; the batch transform crops (reflect-padded by 4), flips and normalises."""
    norm = [transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)]
    train = datasets.CIFAR10(root=args.data, train=True)
    tests = {"lossy full": datasets.CIFAR10(root=args.data, train=False, transform=transforms.Compose(norm)),
             "exact subset": datasets.CIFAR10(root=args.data, train=False, exact=True,
                                              transform=transforms.Compose(norm))}
    augment = transforms.Compose([transforms.RandomCrop(32, padding=4, padding_mode="reflect"),
                                  transforms.RandomHorizontalFlip(), *norm])
    return train, tests, augment


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    tt.manual_seed(args.seed)
    cifar = args.dataset == "cifar10"
    device = (args.device or ("LLVM" if cifar and tt.Device.get("LLVM").available()[0] else tt.Device.DEFAULT)).upper()
    epochs, batch, lr, smoothing, wd = DEFAULTS[args.dataset]
    epochs = args.epochs or epochs
    batch = args.batch_size or batch
    lr = args.lr or lr
    train, tests, augment = (cifar_data if cifar else mnist_data)(args)
    if args.limit:
        train = Subset(train, range(min(args.limit, len(train))))
    model = (resnet() if cifar else lenet5()).to(device)
    if cifar:
        opt: Any = SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    else:
        opt = Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
    loader = DataLoader(train, batch_size=batch, shuffle=True, drop_last=True, seed=args.seed, device=device,
                        num_workers=1, batch_transform=augment)
    steps = epochs * len(loader)
    # (a schedule of at least 10 steps: a one-cycle of fewer has no room for its warm-up)
    sched = OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 10), pct_start=0.2, anneal_strategy="linear",
                       cycle_momentum=False, div_factor=10.0, final_div_factor=100.0)

    @tt.jit
    def train_step(x: tt.Tensor, y: tt.Tensor) -> tuple[tt.Tensor, tt.Tensor]:
        opt.zero_grad()
        out = model(x)  # (B, 10)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        return loss, (out.argmax(-1) == y).sum()

    def predict(x: tt.Tensor) -> tt.Tensor:
        with tt.no_grad():
            out = model(x)  # (B, 10)
            if cifar:  # test-time augmentation: the mirror image's logits too
                out = out + model(x.flip(3))
            return out.argmax(-1)  # (B,)

    name = "resnet" if cifar else "lenet5"
    print(f"training {name} ({sum(p.numel() for p in model.parameters()):,} parameters) on {args.dataset} "
          f"({len(train):,} images) on {device}: {epochs} epoch(s), {steps} steps of {batch}")
    bar = progress(steps, not args.no_progress)
    t0 = time.perf_counter()
    step = 0
    model.train()
    for epoch in range(epochs):
        seen, correct, loss_sum, sampled, et = 0, 0, 0.0, 0, time.perf_counter()
        for x, y in loader:
            loss, hits = train_step(x, y)
            sched.step()
            step += 1
            seen += x.shape[0]
            if step % 10 == 0 or step == steps:  # every 10th step: read loss and hits back (a sync)
                correct += int(hits.item())
                loss_sum += float(loss.item())
                sampled += 1
                if bar is not None:
                    rate = seen / (time.perf_counter() - et)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / sampled:.3f}",
                                    acc=f"{correct / (sampled * batch) * 100:.1f}%", img_s=f"{rate:,.0f}")
                    bar.update(step - bar.n)
        if bar is None:
            print(f"epoch {epoch + 1}: loss {loss_sum / max(sampled, 1):.4f}, "
                  f"train accuracy {correct / max(sampled * batch, 1) * 100:.1f}%, "
                  f"{seen / (time.perf_counter() - et):,.0f} images/s, {time.perf_counter() - t0:.0f} s")
    if bar is not None:
        bar.close()
    train_time = time.perf_counter() - t0

    model.eval()
    accs = {}
    for label, ds in tests.items():
        if args.eval_limit:
            ds = Subset(ds, range(min(args.eval_limit, len(ds))))
        hit = total = 0
        run = tt.jit(predict)  # one captured program per test set (each has its own batch shape)
        for x, y in DataLoader(ds, batch_size=500 if len(ds) % 500 == 0 else len(ds), device=device):
            hit += int((run(x).numpy() == y.numpy()).sum())
            total += y.shape[0]
        accs[label] = hit / total
    shown = " / ".join(f"{a * 100:.2f}% ({k})" for k, a in accs.items())
    print(f"test accuracy {shown}; training took {train_time:.0f} s, "
          f"{time.perf_counter() - t0:.0f} s in all")
    path = args.checkpoint if args.checkpoint is not None else f"checkpoints/{name}.safetensors"
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        nn.state.safe_save(model.state_dict(), path,
                           metadata={k.replace(" ", "_"): f"{a:.4f}" for k, a in accs.items()})
        print(f"saved {path}")
    return accs


if __name__ == "__main__":
    main()
