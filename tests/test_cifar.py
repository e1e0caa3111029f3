"""Tests of datasets.CIFAR10: the exact subset and the complete lossy copy against the numbers in
shared/data/README.md, the search path, the checksum cache and the errors for missing or corrupt files.

Takes: the staged files in ../shared/data/cifar10 (skipped where that folder is absent); temporary folders
holding copies, truncated or altered, of some of them.
Produces: pass/fail.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor
from tinytorch.data import DataLoader, datasets
from tinytorch.data import transforms as T
from tinytorch.data.datasets import CIFAR10, DatasetCorruptError

SHARED = Path(tt.__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
pytestmark = pytest.mark.skipif(not (SHARED / "batches.meta").is_file(), reason=f"{SHARED} is not staged here")

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
EXACT_TRAIN_FIRST4000 = [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
EXACT_TEST = [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
DATA_BATCH_1 = [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]


def _copy_exact(dst: Path, train: bool = True) -> Path:
    """A cifar10-style folder in dst with batches.meta and the exact subset files of one split."""
    (dst / "subset-bin").mkdir(parents=True)
    shutil.copy(SHARED / "batches.meta", dst / "batches.meta")
    names = [p.name for p in (SHARED / "subset-bin").iterdir() if p.name.startswith("data_batch" if train else "test")]
    for n in names:
        shutil.copy(SHARED / "subset-bin" / n, dst / "subset-bin" / n)
    return dst


@pytest.fixture
def no_shared(monkeypatch, tmp_path):
    """A search path without the staged files: only what a test puts in tmp_path/env."""
    env = tmp_path / "env"
    env.mkdir()
    monkeypatch.setenv("TINYTORCH_DATA", str(env))
    monkeypatch.setattr(datasets, "_shared_data_dir", lambda: tmp_path / "shared")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(datasets, "cache_dir", lambda: str(tmp_path / "cache"))
    return env


def test_exact_subset_matches_the_readme():
    train = CIFAR10(train=True, exact=True)
    assert len(train) == 4656 and train.data.shape == (4656, 32, 32, 3) and train.data.dtype == np.uint8
    assert type(train.targets) is list and type(train.targets[0]) is int  # as torchvision's
    assert train.classes == CLASSES and train.class_to_idx["cat"] == 3
    assert np.bincount(train.targets[:4000], minlength=10).tolist() == EXACT_TRAIN_FIRST4000
    assert train.targets[:10] == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert train.data[0, 0, 0].tolist() == [59, 62, 63]
    test = CIFAR10(train=False, exact=True)
    assert len(test) == 1000 and np.bincount(test.targets, minlength=10).tolist() == EXACT_TEST
    assert test.targets[:10] == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert test.data[0, 0, 0].tolist() == [158, 112, 49]
    assert not train.data.flags.writeable
    img, label = test[0]
    assert isinstance(img, np.ndarray) and img.shape == (32, 32, 3) and type(label) is int and label == 3
    # the image layout: record bytes are 1024 R, 1024 G, 1024 B, row-major
    raw = np.fromfile(SHARED / "subset-bin" / "test_batch.first1000.bin", np.uint8, 3073)
    np.testing.assert_array_equal(img, raw[1:].reshape(3, 32, 32).transpose(1, 2, 0))


def test_full_copy_matches_the_readme_and_loads_once():
    t0 = time.perf_counter()
    train = CIFAR10(train=True)
    first = time.perf_counter() - t0
    assert len(train) == 50000 and train.data.shape == (50000, 32, 32, 3)
    assert np.bincount(train.targets, minlength=10).tolist() == [5000] * 10
    assert np.bincount(train.targets[:10000], minlength=10).tolist() == DATA_BATCH_1
    assert train.data[0, 0, 0].tolist() == [61, 62, 67]
    exact = CIFAR10(train=True, exact=True)
    np.testing.assert_array_equal(train.targets[:4000], exact.targets[:4000])  # same images, same order
    for k in range(1, 5):  # the first 164 of data_batch_2..5
        lo = 10000 * k
        np.testing.assert_array_equal(train.targets[lo:lo + 164], exact.targets[4000 + 164 * (k - 1):4000 + 164 * k])
    mae = np.abs(train.data[:4000].astype(np.int16) - exact.data[:4000]).mean()
    assert 4.0 < mae < 8.0, f"JPEG q75 copy: MAE {mae} grey levels from the exact pixels (README: 5.80)"
    t0 = time.perf_counter()
    again = CIFAR10(train=True)
    second = time.perf_counter() - t0
    assert again.data is train.data, "checked and unpacked once per process"
    assert second < 0.1 and second < first / 5, (first, second)
    test = CIFAR10(train=False)
    assert len(test) == 10000 and np.bincount(test.targets, minlength=10).tolist() == [1000] * 10
    assert test.data[0, 0, 0].tolist() == [167, 107, 47]
    np.testing.assert_array_equal(test.targets[:1000], CIFAR10(train=False, exact=True).targets)


def test_transforms_and_batches():
    norm = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    ds = CIFAR10(train=False, exact=True, transform=norm, target_transform=lambda y: y + 10)
    x, y = ds[7]
    assert isinstance(x, Tensor) and x.shape == (3, 32, 32) and x.dtype == tt.float32 and y == ds.targets[7] + 10
    expected = (ds.data[7].transpose(2, 0, 1) / np.float32(255) - 0.5) / 0.25
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 3, 32, 32) and xb.dtype == tt.float32 and yb.dtype == tt.int64
    np.testing.assert_allclose(xb.numpy()[7], x.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(yb.numpy(), np.array(ds.targets[:16]) + 10)
    plain = CIFAR10(train=False, exact=True)
    xb, yb = next(iter(DataLoader(plain, batch_size=5, num_workers=1)))
    assert xb.dtype == tt.uint8 and xb.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(xb.numpy(), plain.data[:5])
    assert "exact subset" in repr(plain) and "1000" in repr(plain)


def test_vision_aliases():
    from tinytorch.vision import datasets as vd
    from tinytorch.vision import transforms as vt

    assert vd.CIFAR10 is CIFAR10 and vd.MNIST is datasets.MNIST
    assert vt.RandomCrop is T.RandomCrop and vt.ColorJitter is T.ColorJitter and vt.Compose is T.Compose


def test_found_through_root_and_tinytorch_data(no_shared, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        CIFAR10(train=False, exact=True)
    msg = str(e.value)
    assert "test_batch.first1000.bin" in msg and "batches.meta" in msg and str(no_shared) in msg
    _copy_exact(no_shared / "cifar10", train=False)
    ds = CIFAR10(train=False, exact=True)
    assert ds.paths[0] == no_shared / "cifar10" / "subset-bin" / "test_batch.first1000.bin"
    flat = tmp_path / "flat"  # root= a folder holding the files themselves
    flat.mkdir()
    shutil.copy(SHARED / "subset-bin" / "test_batch.first1000.bin", flat)
    shutil.copy(SHARED / "batches.meta", flat)
    ds2 = CIFAR10(root=flat, train=False, exact=True)
    np.testing.assert_array_equal(ds2.data, ds.data)
    with pytest.raises(FileNotFoundError, match="data_batch_1.first4000.bin") as e:
        CIFAR10(root=flat, train=True, exact=True, download=True)
    assert "cannot be downloaded" in str(e.value) and str(flat) in str(e.value)


def test_missing_meta_and_corrupt_files_are_named(tmp_path):
    d = _copy_exact(tmp_path / "c", train=False)
    f = d / "subset-bin" / "test_batch.first1000.bin"
    (d / "batches.meta").unlink()
    with pytest.raises(FileNotFoundError, match="batches.meta"):
        CIFAR10(root=d, train=False, exact=True)
    (d / "batches.meta").write_bytes((SHARED / "batches.meta").read_bytes()[:-1] + b"!")
    with pytest.raises(DatasetCorruptError, match=r"batches\.meta: sha256 does not match"):
        CIFAR10(root=d, train=False, exact=True)
    shutil.copy(SHARED / "batches.meta", d / "batches.meta")
    good = CIFAR10(root=d, train=False, exact=True)
    raw = bytearray(f.read_bytes())
    raw[5000] ^= 1  # one pixel bit: same size, a new mtime
    f.write_bytes(bytes(raw))
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(DatasetCorruptError, match=rf"{f.name}: sha256 .* does not match") as e:
        CIFAR10(root=d, train=False, exact=True)
    assert str(f) in str(e.value) and isinstance(e.value, ValueError) and isinstance(e.value, RuntimeError)
    f.write_bytes(bytes(raw[:3073 * 10]))
    with pytest.raises(DatasetCorruptError, match="30730 bytes, expected 3073000"):
        CIFAR10(root=d, train=False, exact=True)
    assert good.data[0, 0, 0].tolist() == [158, 112, 49]


def test_full_copy_corrupt_gzip_and_uncompressed_copies(tmp_path):
    d = tmp_path / "c"
    (d / "full").mkdir(parents=True)
    shutil.copy(SHARED / "batches.meta", d)
    gz = d / "full" / "test_batch.bin.gz"
    gz.write_bytes((SHARED / "full" / "test_batch.bin.gz").read_bytes()[:200_000])  # truncated download
    with pytest.raises(DatasetCorruptError, match=r"test_batch\.bin\.gz: inflates to \d+ bytes \(truncated stream\)"):
        CIFAR10(root=d, train=False)
    gz.write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(DatasetCorruptError, match="corrupt gzip stream"):
        CIFAR10(root=d, train=False)
    gz.unlink()
    ref = CIFAR10(train=False)  # an unpacked copy (test_batch.bin) is checked against the README's raw digest
    records = np.concatenate([np.array(ref.targets, np.uint8)[:, None],
                              ref.data.transpose(0, 3, 1, 2).reshape(10000, 3072)], axis=1)
    (d / "full" / "test_batch.bin").write_bytes(records.tobytes())
    ds = CIFAR10(root=d, train=False)
    np.testing.assert_array_equal(ds.data, ref.data)
    np.testing.assert_array_equal(ds.targets, ref.targets)
    records[5, 100] ^= 4
    regz = d / "full" / "test_batch.bin.gz"  # a re-compressed file: its .gz digest differs, its content is checked
    regz.write_bytes(gzip.compress(records.tobytes(), compresslevel=0))
    with pytest.raises(DatasetCorruptError, match=r"test_batch\.bin\.gz: sha256 does not match"):
        CIFAR10(root=d, train=False)


def test_exact_none_picks_the_copy_that_is_there():
    sub = CIFAR10(root=SHARED / "subset-bin", train=False)  # exact=None, the default: only the subset is there
    assert sub.exact and len(sub) == 1000 and "exact subset" in repr(sub)
    full = CIFAR10(root=SHARED, train=False, exact=None)
    assert not full.exact and len(full) == 10000
    with pytest.raises(FileNotFoundError, match="test_batch.bin.gz"):
        CIFAR10(root=SHARED / "subset-bin", train=False, exact=False)  # exact=False never falls back


def test_dataset_transform_in_workers_is_seeded_and_ordered():
    aug = T.Compose([T.RandomCrop(32, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip(),
                     T.ColorJitter(0.2, 0.2, 0.2), T.ToTensor()])
    ds = CIFAR10(train=False, exact=True, transform=aug)

    def epoch(nw):
        kw = {"num_workers": nw} if nw else {}
        return [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, batch_size=100, shuffle=True, seed=3, **kw)]

    a, b = epoch(0), epoch(2)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    assert a[0][0].shape == (100, 3, 32, 32) and not np.array_equal(a[0][0], T.ToTensor().numpy(ds.data[:100]))


def test_download_true_uses_the_staged_copies(tmp_path):
    ds = CIFAR10(root=tmp_path / "data", train=False, download=True)  # torchvision's usual call
    assert not ds.exact and len(ds) == 10000 and SHARED in ds.paths[0].parents
    with pytest.raises(FileNotFoundError, match="test_batch.bin.gz"):
        CIFAR10(root=tmp_path / "data", train=False)  # download=False: only root
    sub = _copy_exact(tmp_path / "sub", train=False)
    assert CIFAR10(root=sub, train=False, download=True).exact, "what root holds comes first"


def test_targets_is_a_list_and_relabelling_reaches_batches():
    ds = CIFAR10(train=False, exact=True)
    other = CIFAR10(train=False, exact=True)
    ds.targets = [9 - y for y in ds.targets]  # e.g. a label-noise experiment
    assert ds[0][1] == 9 - 3 and other[0][1] == 3, "instances share the pixels, not the labels"
    _, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert yb.numpy().tolist() == [9 - y for y in other.targets[:4]]
    with pytest.raises(ValueError, match="3 targets for 1000 images"):
        ds.targets = [1, 2, 3]
