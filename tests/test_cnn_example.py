"""Smoke tests of examples/cnn.py: a few training steps on a tiny subset, evaluation, checkpoint.

Takes: the staged MNIST / CIFAR-10 files in ../shared/data (each test skips where they are absent).
Produces: checks that the jitted step trains (loss finite, accuracy in [0, 1]), that both CIFAR-10
test sets are evaluated and that the saved safetensors checkpoint loads back into the model with
the same values. The MNIST run is a few seconds; the CIFAR-10 one compiles a ResNet step and is
marked slow.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cnn_example", ROOT / "examples" / "cnn.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["cnn_example"] = mod
    spec.loader.exec_module(mod)
    return mod


def check_checkpoint(cnn: ModuleType, model_fn: str, path: Path) -> None:
    import tinytorch as tt
    from tinytorch import nn

    state = nn.state.safe_load(str(path))
    model = getattr(cnn, model_fn)()
    fresh = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    keys = set(model.state_dict())
    assert keys == set(state), "the checkpoint holds exactly the model's parameters and buffers"
    changed = [k for k, v in model.state_dict().items()
               if v.dtype.is_floating_point and not np.array_equal(v.numpy(), fresh[k])]
    assert changed, "loading the checkpoint replaced the fresh initialisation"
    assert all(np.isfinite(t.numpy()).all() for t in state.values() if isinstance(t, tt.Tensor))


@pytest.mark.skipif(not (DATA / "mnist" / "train-images-idx3-ubyte.gz").is_file(), reason="MNIST not staged")
def test_mnist_lenet_few_steps(tmp_path: Path) -> None:
    cnn = load_example()
    ckpt = tmp_path / "lenet.safetensors"
    accs = cnn.main(["--dataset", "mnist", "--limit", "512", "--epochs", "2", "--eval-limit", "1000",
                     "--no-progress", "--checkpoint", str(ckpt), "--data", str(DATA / "mnist")])
    assert set(accs) == {"test"}
    assert 0.3 < accs["test"] <= 1.0, "8 Adam steps on 512 digits already beat chance (10%) by far"
    check_checkpoint(cnn, "lenet5", ckpt)


def test_model_shapes() -> None:
    import tinytorch as tt

    cnn = load_example()
    with tt.no_grad():
        assert tuple(cnn.lenet5()(tt.zeros(2, 1, 28, 28)).shape) == (2, 10)
        net = cnn.resnet((4, 8, 8, 16)).eval()
        assert tuple(net(tt.zeros(2, 3, 32, 32)).shape) == (2, 10)
    n_lenet = sum(p.numel() for p in cnn.lenet5().parameters())
    assert n_lenet == 61706, "LeNet-5: 156 + 2416 + 48120 + 10164 + 850 parameters"


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "cifar10" / "full" / "test_batch.bin.gz").is_file(), reason="CIFAR-10 not staged")
def test_cifar_resnet_few_steps(tmp_path: Path) -> None:
    cnn = load_example()
    ckpt = tmp_path / "resnet.safetensors"
    accs = cnn.main(["--limit", "256", "--epochs", "1", "--batch-size", "64", "--eval-limit", "500",
                     "--no-progress", "--checkpoint", str(ckpt)])
    assert set(accs) == {"lossy full", "exact subset"}
    assert all(0.0 <= a <= 1.0 for a in accs.values())
    check_checkpoint(cnn, "resnet", ckpt)
    assert os.path.getsize(ckpt) > 4 * 100_000
