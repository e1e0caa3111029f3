"""Tests of tinytorch.data: TensorDataset, DataLoader batching/shuffling, and MNIST / Fashion-MNIST parsing.

Takes: small arrays built here; the real MNIST files in ../shared/data/mnist (skipped where that folder
is absent); Debian's Fashion-MNIST in /usr/share/datasets/fashion-mnist (skipped where the package is
not installed); temporary folders and a loopback HTTP server for the search-path and download logic.
Produces: pass/fail.
"""

from __future__ import annotations

import gzip
import http.server
import re
import shutil
import struct
import threading
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor
from tinytorch.data import DataLoader, Dataset, Subset, TensorDataset, datasets, random_split
from tinytorch.data.datasets import MNIST, FashionMNIST, inflate_idx, parse_idx

SHARED_MNIST = Path(tt.__file__).resolve().parents[2] / "shared" / "data" / "mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# TensorDataset and DataLoader ---------------------------------------------------------------------------------
def test_tensor_dataset_indexing_and_errors():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ds = TensorDataset(Tensor(x), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, [6.0, 7.0])
    assert yi == 3
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (9, 3, True), (2, 5, False),
                                            (2, 5, True), (7, 1, False)])
def test_batches_cover_dataset(n, bs, drop_last):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64)
    dl = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop_last)
    batches = list(dl)
    expected_batches = n // bs if drop_last else -(-n // bs)
    assert len(dl) == expected_batches == len(batches)
    seen = []
    for i, (xb, yb) in enumerate(batches):
        assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
        assert xb.dtype == tt.float32 and yb.dtype == tt.int64
        size = bs if (i < len(batches) - 1 or drop_last or n % bs == 0) else n % bs
        assert xb.shape == (size, 2) and yb.shape == (size,)
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])  # fields stay aligned
        seen.extend(yb.numpy().tolist())
    assert seen == list(range(len(seen)))  # no shuffle: in order
    assert len(seen) == (n // bs) * bs if drop_last else n


def test_shuffle_is_a_permutation_and_deterministic():
    n = 50
    ds = TensorDataset(np.arange(n))

    def epoch_orders(dl, epochs=3):
        return [np.concatenate([b[0].numpy() for b in dl]).tolist() for _ in range(epochs)]

    a = epoch_orders(DataLoader(ds, batch_size=8, shuffle=True, seed=123))
    b = epoch_orders(DataLoader(ds, batch_size=8, shuffle=True, seed=123))
    c = epoch_orders(DataLoader(ds, batch_size=8, shuffle=True, seed=124))
    assert a == b, "the same seed gives the same epochs"
    assert a != c, "another seed gives other orders"
    assert all(sorted(order) == list(range(n)) for order in a), "each epoch is a permutation"
    assert a[0] != a[1] != a[2], "each epoch reshuffles"
    assert a[0] != list(range(n))
    # seed=None draws from tinytorch's generator: manual_seed makes it reproducible
    tt.manual_seed(7)
    d = epoch_orders(DataLoader(ds, batch_size=8, shuffle=True), 1)
    tt.manual_seed(7)
    e = epoch_orders(DataLoader(ds, batch_size=8, shuffle=True), 1)
    assert d == e


def test_shuffle_drop_last_drops_a_random_remainder():
    ds = TensorDataset(np.arange(10))
    dl = DataLoader(ds, batch_size=4, shuffle=True, drop_last=True, seed=0)
    dropped = set()
    for _ in range(10):
        got = np.concatenate([b[0].numpy() for b in dl])
        assert len(got) == 8 and len(set(got.tolist())) == 8
        dropped |= set(range(10)) - set(got.tolist())
    assert len(dropped) > 2


def test_dtypes_preserved():
    fields = [np.zeros((4, 2), np.float64), np.zeros(4, np.uint8), np.zeros(4, np.bool_), np.zeros(4, np.int32)]
    xb = next(iter(DataLoader(TensorDataset(*fields), batch_size=4)))
    assert [t.dtype for t in xb] == [tt.float64, tt.uint8, tt.bool, tt.int32]
    bf = Tensor(np.array([1.5, 2.5, -3.0], np.float32), dtype="bfloat16")
    (bb,) = next(iter(DataLoader(TensorDataset(bf), batch_size=3)))
    assert bb.dtype == tt.bfloat16
    np.testing.assert_array_equal(bb.numpy(), [1.5, 2.5, -3.0])


def test_one_tensor_per_field_not_per_sample(monkeypatch):
    import tinytorch.data.dataset as mod

    made = []
    real = mod.Tensor

    class Counting(real):
        __slots__ = ()

        def __init__(self, *a, **k):
            made.append(1)
            super().__init__(*a, **k)

    monkeypatch.setattr(mod, "Tensor", Counting)

    class PerSample(Dataset):  # a generic dataset: samples are stacked with numpy first
        def __len__(self):
            return 64

        def __getitem__(self, i):
            return np.full((3,), i, np.float32), i

    batches = list(DataLoader(PerSample(), batch_size=16))
    assert len(made) == 4 * 2  # 4 batches x 2 fields
    xb, yb = batches[1]
    np.testing.assert_array_equal(xb.numpy()[:, 0], np.arange(16, 32))
    assert yb.dtype == tt.int64
    made.clear()
    list(DataLoader(TensorDataset(np.zeros((64, 3)), np.zeros(64)), batch_size=16))
    assert len(made) == 8


def test_generic_dataset_single_field_and_errors():
    class Single(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i + 1])

    batches = list(DataLoader(Single(), batch_size=2))
    assert isinstance(batches[0], Tensor) and batches[0].shape == (2, 2) and batches[-1].shape == (1, 2)

    class Ragged(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.zeros(i + 1), 0

    with pytest.raises(ValueError, match="field 0 of the samples can't be stacked"):
        list(DataLoader(Ragged(), batch_size=2))
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(Single(), batch_size=0)
    with pytest.raises(TypeError, match="must define __len__ and __getitem__"):
        DataLoader(object())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_subset_and_random_split():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [9, 0, 5])
    assert len(sub) == 3 and sub[0][0] == 90
    (b,) = next(iter(DataLoader(sub, batch_size=3)))
    np.testing.assert_array_equal(b.numpy(), [90, 0, 50])
    a, c = random_split(ds, [7, 3], seed=0)
    got = sorted([a[i][0] for i in range(7)] + [c[i][0] for i in range(3)])
    assert got == list(range(0, 100, 10))
    with pytest.raises(ValueError, match="sum of lengths"):
        random_split(ds, [5, 6])


def test_device_placement(device):
    (b,) = next(iter(DataLoader(TensorDataset(np.ones((4, 2), np.float32)), batch_size=2, device=device)))
    assert b.device == device
    np.testing.assert_array_equal((b * 2).numpy(), np.full((2, 2), 2.0))


# IDX parsing ------------------------------------------------------------------------------------------------------
def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    return struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_parse_idx_valid_and_malformed():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a)), a)
    f = np.arange(6, dtype=">i4").reshape(3, 2)
    np.testing.assert_array_equal(parse_idx(idx_bytes(f, 0x0C)), f)
    good = idx_bytes(a)
    cases = {
        "shorter than the 4-byte magic": good[:3],
        "does not start with two zero bytes": b"\x01" + good[1:],
        "type code 0x07": good[:2] + b"\x07" + good[3:],
        "truncated IDX header": good[:4] + good[4:9],
        "truncated": good[:-1],
        "trailing bytes": good + b"\x00",
    }
    for what, raw in cases.items():
        with pytest.raises(ValueError, match=what.replace("(", r"\(")):
            parse_idx(raw, "f.idx")


def gzip_bomb(head: bytes, megabytes: int) -> bytes:
    """A valid gzip file of head followed by `megabytes` MiB of zeros, built without holding them:
    each MiB is deflated once, after a full flush, so its compressed form (about 1 KiB) repeats."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = bytes(1 << 20)
    seg = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    size = (len(head) + megabytes * len(block)) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip, deflate, no name, no mtime
    return header + first + seg * megabytes + c.flush() + struct.pack("<II", crc, size)


def test_gzip_bomb_helper_builds_what_it_says():
    head = idx_bytes(np.zeros((3, 2), np.uint8))[:12]
    assert gzip.decompress(gzip_bomb(head, 3)) == head + bytes(3 << 20)


def peak_bytes(fn) -> tuple[int, BaseException | None]:
    """(peak traced Python memory while fn runs, the exception it raised)."""
    tracemalloc.start()
    err = None
    try:
        fn()
    except BaseException as e:  # noqa: B036 - returned to the caller, which checks it
        err = e
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, err


@pytest.mark.parametrize("dims,match", [
    ((10000, 28, 28), "inflates to more than the 7840016 bytes its IDX header declares"),  # plausible header
    ((65536, 65536, 256), "declares 1099511627792 bytes, more than"),  # refused from the header alone
    (None, "not an IDX file"),  # no header at all: zeros
])
def test_inflate_idx_refuses_a_1mb_gzip_bomb_without_inflating_it(dims, match):
    head = b"" if dims is None else struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(">3I", *dims)
    bomb = gzip_bomb(head, 1024)  # 1 GiB of zeros
    assert len(bomb) < 1.2e6
    peak, err = peak_bytes(lambda: inflate_idx(bomb, "bomb.gz"))
    assert isinstance(err, ValueError) and "bomb.gz" in str(err), err
    assert re.search(match, str(err)), err
    assert peak < 64 << 20, f"inflating the bomb took {peak / 2**20:.0f} MiB"


def test_inflate_idx_round_trip_and_limits():
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    raw = idx_bytes(a)
    assert bytes(inflate_idx(gzip.compress(raw))) == raw
    assert inflate_idx(raw) == raw  # not gzip: as is
    with pytest.raises(ValueError, match="more than the 100 allowed"):
        inflate_idx(gzip.compress(raw), "f.gz", max_bytes=100)
    with pytest.raises(ValueError, match="truncated"):
        inflate_idx(gzip.compress(raw[:-5]), "f.gz")
    with pytest.raises(ValueError, match="more than the 1584 bytes"):
        inflate_idx(gzip.compress(raw + b"x"), "f.gz")


# MNIST ------------------------------------------------------------------------------------------------------------
needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                                 reason=f"the MNIST files are not staged at {SHARED_MNIST}")


@needs_mnist
def test_mnist_train_real_files():
    ds = MNIST(train=True, download=False)
    assert ds.data.shape == (60000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.shape == (60000,) and ds.targets.dtype == np.int64
    assert np.bincount(ds.targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert ds.targets[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first labels
    assert abs(ds.data.mean() / 255 - 0.1307) < 1e-4 and abs(ds.data.std() / 255 - 0.3081) < 1e-4
    assert ds.data.min() == 0 and ds.data.max() == 255
    img, label = ds[0]
    assert img.shape == (28, 28) and label == 5
    assert len(ds) == 60000
    assert "Number of datapoints: 60000" in repr(ds)
    with pytest.raises(ValueError):
        ds.data[0, 0, 0] = 1  # read-only: instances share one parsed copy


@needs_mnist
def test_mnist_test_split_and_loader():
    ds = MNIST(train=False)
    assert ds.data.shape == (10000, 28, 28)
    assert np.bincount(ds.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    xb, yb = next(iter(DataLoader(ds, batch_size=256, shuffle=True, seed=1)))
    assert xb.shape == (256, 28, 28) and xb.dtype == tt.uint8 and yb.dtype == tt.int64
    idx = np.random.default_rng(1).permutation(10000)[:256]
    np.testing.assert_array_equal(xb.numpy(), ds.data[idx])
    np.testing.assert_array_equal(yb.numpy(), ds.targets[idx])


@needs_mnist
def test_mnist_transform_path():
    ds = MNIST(train=False, transform=lambda im: im.astype(np.float32) / 255, target_transform=lambda t: t + 100)
    img, t = ds[0]
    assert img.dtype == np.float32 and t == ds.targets[0] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.dtype == tt.float32 and xb.shape == (4, 28, 28)
    np.testing.assert_array_equal(yb.numpy(), ds.targets[:4] + 100)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """An empty search path: $TINYTORCH_DATA, shared/data, system dirs, the data dir ("cache", where downloads
    go) and the old location in the compile cache ("legacy") all point into tmp_path."""
    env = tmp_path / "env"
    env.mkdir()
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # the loopback "mirrors" below must be reached directly
    monkeypatch.setenv("TINYTORCH_DATA", str(env))
    monkeypatch.setattr(datasets, "_shared_data_dir", lambda: tmp_path / "shared")
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", [tmp_path / "system"])
    monkeypatch.setattr(datasets._IDXImages, "data_root", classmethod(lambda cls: tmp_path / "cache"))
    monkeypatch.setattr(datasets._IDXImages, "legacy_root", classmethod(lambda cls: tmp_path / "legacy"))
    monkeypatch.setattr(MNIST, "mirrors", ("http://127.0.0.1:9/mnist/",))  # discard port: refused at once
    monkeypatch.setattr(FashionMNIST, "mirrors", ("http://127.0.0.1:9/fashion/",))
    return tmp_path


def test_offline_without_files_names_files_and_folders(isolated):
    with pytest.raises(FileNotFoundError) as e:
        MNIST(train=False)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert str(isolated / "env") in msg and str(isolated / "shared" / "mnist") in msg
    assert str(isolated / "cache" / "mnist") in msg
    assert "Downloading failed" in msg and "127.0.0.1:9" in msg
    assert "TINYTORCH_DATA" in msg
    with pytest.raises(FileNotFoundError, match="Download was not attempted"):
        FashionMNIST(train=True, download=False)


def test_search_order(isolated, monkeypatch):
    dirs = MNIST.search_dirs()
    assert dirs[:3] == [isolated / "env", isolated / "env" / "mnist", isolated / "env" / "MNIST" / "raw"]
    assert dirs[3:6] == [isolated / "shared", isolated / "shared" / "mnist", isolated / "shared" / "MNIST" / "raw"]
    assert dirs[-6] == isolated / "cache" and dirs[-3] == isolated / "legacy"
    assert isolated / "system" not in dirs  # Debian's folder holds Fashion-MNIST only
    fdirs = FashionMNIST.search_dirs()
    assert fdirs.index(isolated / "system") < fdirs.index(isolated / "cache")
    assert fdirs.index(isolated / "shared" / "fashion-mnist") < fdirs.index(isolated / "system")
    monkeypatch.delenv("TINYTORCH_DATA")
    assert MNIST.search_dirs()[0] == isolated / "shared"


@needs_mnist
def test_files_found_in_tinytorch_data_and_corrupt_ones_rejected(isolated):
    env = isolated / "env"
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED_MNIST / name, env / name)
    ds = MNIST(train=False)
    assert ds.paths["t10k-images-idx3-ubyte"] == env / "t10k-images-idx3-ubyte.gz"
    # an uncompressed copy (torchvision's raw/ layout) is accepted by its decompressed digest
    raw_dir = env / "MNIST" / "raw"
    raw_dir.mkdir(parents=True)
    (raw_dir / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress((env / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    (env / "t10k-labels-idx1-ubyte.gz").unlink()
    ds2 = MNIST(train=False)
    assert ds2.paths["t10k-labels-idx1-ubyte"] == raw_dir / "t10k-labels-idx1-ubyte"
    np.testing.assert_array_equal(ds2.targets, ds.targets)
    # a corrupt file is rejected, and the error says why
    data = bytearray(gzip.decompress((env / "t10k-images-idx3-ubyte.gz").read_bytes()))
    data[5000] ^= 0xFF
    (env / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(FileNotFoundError) as e:
        MNIST(train=False)
    assert "rejected" in str(e.value) and "sha256 does not match" in str(e.value)
    (env / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(FileNotFoundError, match="sha256 does not match"):
        MNIST(train=False)
    (env / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b truncated gzip")
    with pytest.raises(FileNotFoundError, match="not a valid gzip file"):
        MNIST(train=False)


def test_mnist_rejects_a_gzip_bomb_naming_the_file(isolated):
    bomb = isolated / "env" / "t10k-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip_bomb(struct.pack(">BBBB3I", 0, 0, 0x08, 3, 10000, 28, 28), 1024))
    peak, err = peak_bytes(lambda: MNIST(train=False, download=False))
    assert isinstance(err, FileNotFoundError), err
    assert f"{bomb}: the gzip stream inflates to more than the 7840016 bytes" in str(err)
    assert peak < 64 << 20, f"reading the bomb took {peak / 2**20:.0f} MiB"
    # a header declaring more than the dataset's largest file is refused before inflating anything
    bomb.write_bytes(gzip_bomb(struct.pack(">BBBB3I", 0, 0, 0x08, 3, 70000, 28, 28), 1024))
    peak, err = peak_bytes(lambda: MNIST(train=False, download=False))
    assert f"{bomb}: its IDX header declares 54880016 bytes, more than the 47040016 allowed" in str(err), err
    assert peak < 16 << 20


def test_downloads_go_to_the_data_dir_not_the_compile_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with tt.Context(TINYTORCH_CACHE=str(tmp_path / "cache")):
        assert MNIST.download_dir() == tmp_path / "data" / "tinytorch" / "datasets" / "mnist"
        dirs = MNIST.search_dirs()
        # files older versions downloaded into the compile cache are still found, after the data dir
        assert dirs.index(tmp_path / "data" / "tinytorch" / "datasets") < dirs.index(tmp_path / "cache" / "datasets")


@needs_mnist
def test_download_from_mirror_with_sha256_check(isolated, monkeypatch):
    """A loopback HTTP server plays the mirror: a good file is downloaded into the cache, a bad one refused."""
    served = isolated / "served"
    served.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED_MNIST / name, served / name)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(served), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(MNIST, "mirrors", ("http://127.0.0.1:9/", url))  # the first mirror is down
        ds = MNIST(train=False)
        cached = isolated / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz"
        assert ds.paths["t10k-images-idx3-ubyte"] == cached and cached.is_file()
        assert ds.data.shape == (10000, 28, 28)
        # a mirror serving other bytes is refused and nothing is cached
        shutil.rmtree(isolated / "cache")
        (served / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(4)))
        with pytest.raises(FileNotFoundError, match="sha256 does not match"):
            MNIST(train=False)
        assert not (isolated / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    finally:
        server.shutdown()
        server.server_close()


# Fashion-MNIST ------------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not (DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_from_debian():
    for train, n in ((True, 60000), (False, 10000)):
        ds = FashionMNIST(train=train, download=False)
        assert ds.data.shape == (n, 28, 28) and ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
        assert np.bincount(ds.targets).tolist() == [n // 10] * 10
        assert len(ds.classes) == 10 and ds.classes[9] == "Ankle boot"
    # the same files must not pass as MNIST
    with pytest.raises(FileNotFoundError, match="sha256 does not match"):
        MNIST(root=DEBIAN_FASHION, train=False)
