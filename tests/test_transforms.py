"""Tests of tinytorch.data.transforms (torchvision's names) and of the DataLoader's background loading.

Takes: small random images built here; torch for the reference semantics of ToTensor/Normalize/padding;
colorsys (the standard library's RGB<->HSV) for hue.
Produces: pass/fail.
"""

from __future__ import annotations

import colorsys
import threading
import time

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor
from tinytorch.data import DataLoader, Dataset, TensorDataset
from tinytorch.data import transforms as T


def _imgs(n=8, h=6, w=5, c=3, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)
    return rng.random((n, h, w, c)).astype(dtype)


# ToTensor / Normalize ------------------------------------------------------------------------------------------
def test_to_tensor_layout_and_scaling_match_torch():
    torch = pytest.importorskip("torch")
    x = _imgs(4)
    single = T.ToTensor()(x[0])
    assert isinstance(single, Tensor) and single.shape == (3, 6, 5) and single.dtype == tt.float32
    ref = torch.from_numpy(x[0].transpose(2, 0, 1).copy()).float().div(255)  # torchvision's ToTensor formula
    np.testing.assert_allclose(single.numpy(), ref.numpy(), rtol=1e-6, atol=0)
    batch = T.ToTensor()(x)
    assert batch.shape == (4, 3, 6, 5)
    np.testing.assert_allclose(batch.numpy()[2], T.ToTensor()(x[2]).numpy(), rtol=0, atol=0)
    gray = T.ToTensor()(x[0, :, :, 0])
    assert gray.shape == (1, 6, 5)
    f = x[0].astype(np.float64)  # non-uint8: layout changes, values and dtype do not (as torchvision)
    out = T.ToTensor()(f)
    assert out.dtype == tt.float64
    np.testing.assert_array_equal(out.numpy(), f.transpose(2, 0, 1))
    arr = T.ToTensor().numpy(x)
    assert isinstance(arr, np.ndarray) and arr.shape == (4, 3, 6, 5) and arr.dtype == np.float32


def test_to_tensor_rejects_tensors_and_bad_shapes():
    with pytest.raises(TypeError, match="pic should be a numpy array"):
        T.ToTensor()(Tensor(np.zeros((3, 4, 4), np.float32)))
    with pytest.raises(TypeError, match="pic should be a numpy array"):
        T.ToTensor()([[1, 2]])
    with pytest.raises(ValueError, match="expected an image"):
        T.ToTensor()(np.zeros((1, 2, 3, 4, 5), np.uint8))
    with pytest.raises(TypeError, match="already a tensor image"):
        T.Compose([T.ToTensor(), T.ToTensor()])(_imgs(1)[0])


def test_normalize_matches_torch_forward_and_backward():
    torch = pytest.importorskip("torch")
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    x = _imgs(2, dtype=np.float32).transpose(0, 3, 1, 2).copy()  # (N, C, H, W)
    xt = Tensor(x, requires_grad=True)
    out = T.Normalize(mean, std)(xt)
    xr = torch.tensor(x, requires_grad=True)
    ref = (xr - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]  # torchvision's F.normalize
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)
    w = np.random.default_rng(1).random(x.shape).astype(np.float32)
    (out * Tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(T.Normalize(mean, std).numpy(x, channels_last=False), ref.detach().numpy(),
                               rtol=1e-6, atol=1e-6)
    hwc = x[0].transpose(1, 2, 0)  # a channels-last numpy image normalizes over its last axis
    np.testing.assert_allclose(T.Normalize(mean, std)(hwc), ref.detach().numpy()[0].transpose(1, 2, 0), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(T.Normalize(0.5, 0.25)(x[0].transpose(1, 2, 0)), (x[0].transpose(1, 2, 0) - 0.5) / 0.25,
                               rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(TypeError, match="float image"):
        T.Normalize((0.5,) * 3, (0.5,) * 3)(_imgs(1)[0])
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,) * 3, (0.5, 0.0, 0.5))(_imgs(1, dtype=np.float32)[0])
    with pytest.raises(ValueError, match="mean has 2 values but the image has 3 channels"):
        T.Normalize((0.5, 0.5), (0.5,))(_imgs(1, dtype=np.float32)[0])
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(Tensor(np.zeros((4, 4), np.float32)))


# RandomCrop / Pad / CenterCrop -----------------------------------------------------------------------------------
def _coord_images(n, h, w):
    """Channel 0 = row + 1, channel 1 = column + 1, channel 2 = image index: every pixel says where it came from."""
    x = np.zeros((n, h, w, 3), np.int64)
    x[..., 0] = np.arange(1, h + 1)[:, None]
    x[..., 1] = np.arange(1, w + 1)[None, :]
    x[..., 2] = np.arange(n)[:, None, None]
    return x


def test_random_crop_each_image_is_a_window_of_its_padded_image():
    n, h, w, pad = 400, 8, 10, 3
    x = _coord_images(n, h, w)
    out = T.RandomCrop((h, w), padding=pad, generator=0)(x)
    assert out.shape == (n, h, w, 3)
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    offsets = set()
    for k in range(n):  # the test loops; the transform does not
        hits = [(i, j) for i in range(2 * pad + 1) for j in range(2 * pad + 1)
                if np.array_equal(padded[k, i:i + h, j:j + w, :2], out[k, :, :, :2])]
        assert len(hits) == 1, f"image {k} is not one window of its padded image"
        assert (out[k, :, :, 2][out[k, :, :, 0] > 0] == k).all(), "pixels stay in their own image"
        offsets.add(hits[0])
    assert len(offsets) == (2 * pad + 1) ** 2, "every offset in 0..2*padding occurs (per-image draws)"


def test_random_crop_padding_forms_and_modes_match_numpy_and_torch():
    torch = pytest.importorskip("torch")
    x = _imgs(3, 5, 7, dtype=np.float32)
    left, top, right, bottom = 1, 2, 3, 4
    full = (5 + top + bottom, 7 + left + right)  # the crop is the whole padded image: deterministic
    for mode, tmode in (("constant", "constant"), ("edge", "replicate"), ("reflect", "reflect"), ("symmetric", None)):
        out = T.RandomCrop(full, padding=(left, top, right, bottom), padding_mode=mode)(x)
        ref = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), mode=mode)
        np.testing.assert_array_equal(out, ref)
        if tmode is not None:  # torch's pad modes with torchvision's (left, right, top, bottom) order on NCHW
            tref = torch.nn.functional.pad(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()),
                                           (left, right, top, bottom), mode=tmode)
            np.testing.assert_array_equal(out.transpose(0, 3, 1, 2), tref.numpy())
    two = T.RandomCrop((5 + 2 * 2, 7 + 2 * 1), padding=(1, 2))(x)  # (left/right, top/bottom)
    np.testing.assert_array_equal(two, np.pad(x, ((0, 0), (2, 2), (1, 1), (0, 0))))
    fill = T.RandomCrop((7, 9), padding=1, fill=(0.25, 0.5, 0.75))(x[0])
    np.testing.assert_array_equal(fill[0, 0], np.float32([0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(fill[1:-1, 1:-1], x[0])


def test_random_crop_on_tensors_single_images_and_errors():
    x = _imgs(4, 6, 6, dtype=np.float32).transpose(0, 3, 1, 2).copy()  # NCHW
    out = T.RandomCrop(4, generator=1)(Tensor(x))
    assert isinstance(out, Tensor) and out.shape == (4, 3, 4, 4)
    o = out.numpy()
    for k in range(4):
        assert any(np.array_equal(x[k, :, i:i + 4, j:j + 4], o[k]) for i in range(3) for j in range(3))
    single = T.RandomCrop(4)(x[0].transpose(1, 2, 0))
    assert single.shape == (4, 4, 3)
    assert T.RandomCrop(8, pad_if_needed=True)(_imgs(1, 5, 6)[0]).shape == (8, 8, 3)
    with pytest.raises(ValueError, match=r"required crop size \(8, 8\) is larger than"):
        T.RandomCrop(8)(_imgs(1)[0])
    with pytest.raises(ValueError, match="padding_mode should be one of"):
        T.RandomCrop(4, padding=1, padding_mode="wrap")
    with pytest.raises(ValueError, match="reflect padding"):
        T.RandomCrop(4, padding=6, padding_mode="reflect")(_imgs(1)[0])
    with pytest.raises(ValueError, match="padding should be"):
        T.RandomCrop(4, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="size should be"):
        T.RandomCrop((1, 2, 3))


def test_pad_and_center_crop():
    x = _imgs(2, 6, 5)
    np.testing.assert_array_equal(T.Pad((1, 2, 3, 4), fill=7)(x), np.pad(x, ((0, 0), (2, 4), (1, 3), (0, 0)),
                                                                       constant_values=7))
    np.testing.assert_array_equal(T.CenterCrop(4)(x), x[:, 1:5, 0:4])  # top round(1.0), left round(0.5) = 0
    np.testing.assert_array_equal(T.CenterCrop((2, 3))(x[0]), x[0, 2:4, 1:4])
    big = T.CenterCrop(8)(x[0])  # zero-padded first, as torchvision
    assert big.shape == (8, 8, 3) and (big[0] == 0).all()
    np.testing.assert_array_equal(big[1:7, 1:6], x[0])


# flips ------------------------------------------------------------------------------------------------------------
def test_horizontal_flip_per_image_and_read_only_input():
    x = _imgs(600, 4, 5)
    x.setflags(write=False)
    out = T.RandomHorizontalFlip(p=0.5, generator=3)(x)
    flipped = np.array([np.array_equal(o, xi[:, ::-1]) for o, xi in zip(out, x)])
    same = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert (flipped | same).all() and not (flipped & same).any()
    assert 240 < flipped.sum() < 360  # Binomial(600, 0.5): 6 sigma
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x[0]), x[0, ::-1])
    nchw = Tensor(x[:3].transpose(0, 3, 1, 2).astype(np.float32))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(nchw).numpy(), nchw.numpy()[..., ::-1])
    with pytest.raises(ValueError, match="probability"):
        T.RandomHorizontalFlip(p=1.5)


# ColorJitter ------------------------------------------------------------------------------------------------------
def _gray(x):
    return 0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def test_color_jitter_fixed_factors_match_the_formulas():
    xf = _imgs(3, dtype=np.float32)
    np.testing.assert_allclose(T.ColorJitter(brightness=(1.5, 1.5))(xf), np.clip(1.5 * xf, 0, 1), rtol=1e-6)
    mean = _gray(xf).mean(axis=(1, 2))[:, None, None, None]
    np.testing.assert_allclose(T.ColorJitter(contrast=(0.3, 0.3))(xf), np.clip(0.3 * xf + 0.7 * mean, 0, 1),
                               rtol=1e-5, atol=1e-6)
    g = _gray(xf)[..., None]
    np.testing.assert_allclose(T.ColorJitter(saturation=(2.0, 2.0))(xf), np.clip(2 * xf - g, 0, 1), rtol=1e-5,
                               atol=1e-6)
    xu = _imgs(3)  # uint8: float math, clamp to 255, truncate (as torchvision's _blend)
    np.testing.assert_array_equal(T.ColorJitter(brightness=(1.3, 1.3))(xu),
                                  np.clip(np.float32(1.3) * xu.astype(np.float32), 0, 255).astype(np.uint8))
    hue = T.ColorJitter(hue=(0.2, 0.2))(xf[:1])[0]
    for i, j in [(0, 0), (2, 3), (5, 4)]:
        h, s, v = colorsys.rgb_to_hsv(*xf[0, i, j].astype(np.float64))
        np.testing.assert_allclose(hue[i, j], colorsys.hsv_to_rgb((h + 0.2) % 1.0, s, v), rtol=1e-5, atol=1e-6)
    hue_u8 = T.ColorJitter(hue=(-0.3, -0.3))(xu[:1])[0]  # uint8: via [0, 1] and back as x * 255.999, truncated
    for i, j in [(0, 0), (1, 4), (5, 2)]:
        h, s, v = colorsys.rgb_to_hsv(*(xu[0, i, j] / 255.0))
        np.testing.assert_array_equal(hue_u8[i, j], (np.array(colorsys.hsv_to_rgb((h - 0.3) % 1.0, s, v)) * 255.999)
                                      .astype(np.uint8))
    assert T.ColorJitter(saturation=(0.0, 0.0))(xf[0, :, :, :1]).shape == (6, 5, 1)  # 1 channel: left alone


def test_color_jitter_random_order_per_image_and_errors():
    x = _imgs(200, 2, 2, dtype=np.float32) * 0.5
    out = T.ColorJitter(brightness=(2.0, 2.0), contrast=(0.5, 0.5), generator=0)(x)
    b_then_c = np.clip(0.5 * np.clip(2 * x, 0, 1) + 0.5 * _gray(np.clip(2 * x, 0, 1)).mean(axis=(1, 2))[:, None, None,
                                                                                                        None], 0, 1)
    m = _gray(x).mean(axis=(1, 2))[:, None, None, None]
    c_then_b = np.clip(2 * np.clip(0.5 * x + 0.5 * m, 0, 1), 0, 1)
    first = np.isclose(out, b_then_c, atol=1e-5).all(axis=(1, 2, 3))
    second = np.isclose(out, c_then_b, atol=1e-5).all(axis=(1, 2, 3))
    assert (first | second).all() and first.sum() > 50 and second.sum() > 50
    factors = T.ColorJitter(brightness=0.5, generator=1)(np.full((500, 1, 1, 3), 0.5, np.float32))[:, 0, 0, 0] / 0.5
    assert 0.5 <= factors.min() < 0.6 and 1.4 < factors.max() <= 1.5
    with pytest.raises(ValueError, match="non negative"):
        T.ColorJitter(brightness=-0.1)
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(TypeError, match="single number or a list/tuple of length 2"):
        T.ColorJitter(contrast=(1, 2, 3))


# Compose, seeding, batches vs single images ---------------------------------------------------------------------
def test_compose_batch_equals_single_images_and_plain_callables():
    x = _imgs(5, 8, 8)
    def halve(a):  # a plain callable sees one image at a time, even when the pipeline runs on a batch
        assert a.shape == (6, 6, 3)
        return a // 2

    pipe = T.Compose([T.CenterCrop(6), halve, T.ToTensor(), T.Normalize((0.1, 0.2, 0.3), (0.5, 0.5, 0.5))])
    batch = pipe(x)
    assert isinstance(batch, Tensor) and batch.shape == (5, 3, 6, 6)
    singles = np.stack([pipe(xi).numpy() for xi in x])
    np.testing.assert_allclose(batch.numpy(), singles, rtol=1e-6)
    expected = ((x[:, 1:7, 1:7] // 2).astype(np.float32) / 255).transpose(0, 3, 1, 2)
    expected = (expected - np.float32([0.1, 0.2, 0.3])[:, None, None]) / np.float32(0.5)
    np.testing.assert_allclose(pipe.numpy(x), expected, rtol=1e-5, atol=1e-6)
    gray = T.Compose([T.RandomCrop(4, padding=1), T.ToTensor()]).numpy(_imgs(6, 5, 5, 1)[..., 0], batched=True)
    assert gray.shape == (6, 1, 4, 4)  # (N, H, W) with batched=True: single-channel images
    with pytest.raises(TypeError, match="must be callable"):
        T.Compose([T.ToTensor(), 3])


def test_seeding():
    x = _imgs(64)
    aug = [T.RandomCrop(4, padding=2), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4, 0.1)]
    a = T.Compose([type(t)(**kw) for t, kw in zip(aug, ({"size": 4, "padding": 2, "generator": 5}, {"generator": 6},
                                                         {"brightness": 0.4, "hue": 0.1, "generator": 7}))])(x)
    b = T.Compose([T.RandomCrop(4, padding=2, generator=5), T.RandomHorizontalFlip(generator=6),
                   T.ColorJitter(brightness=0.4, hue=0.1, generator=7)])(x)
    np.testing.assert_array_equal(a, b)
    tt.manual_seed(11)
    c = T.Compose(aug)(x)
    tt.manual_seed(11)
    d = T.Compose(aug)(x)
    tt.manual_seed(12)
    e = T.Compose(aug)(x)
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(c, e)
    g = tt.Generator().manual_seed(3)
    f1 = T.RandomCrop(4, padding=2, generator=g)(x)
    g.manual_seed(3)
    np.testing.assert_array_equal(T.RandomCrop(4, padding=2, generator=g)(x), f1)
    with pytest.raises(TypeError, match="generator should be"):
        T.RandomCrop(4, generator="abc")


# DataLoader: batch transforms and background threads ------------------------------------------------------------
class _Recording(Dataset):
    """Images (N, 4, 4, 3) uint8 = the index; get_batch records the order it was called in and may fail."""

    def __init__(self, n=40, fail_at=None):
        self.n, self.fail_at, self.calls = n, fail_at, []
        self.lock = threading.Lock()
        self.data = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 4, 4, 3))
        self.targets = np.arange(n)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.data[i], int(self.targets[i])

    def get_batch(self, idx):
        with self.lock:
            self.calls.append(int(idx[0]))
        if self.fail_at is not None and self.fail_at in idx:
            raise KeyError(f"sample {self.fail_at} is broken")
        return self.data[idx], self.targets[idx]


def test_worker_runs_ahead_of_the_consumer():
    ds = _Recording(n=40)
    it = iter(DataLoader(ds, batch_size=4, num_workers=1, prefetch_factor=2))
    x0, _ = next(it)
    assert x0.numpy()[:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    deadline = time.monotonic() + 10
    while len(ds.calls) < 3 and time.monotonic() < deadline:  # the consumer asks nothing meanwhile
        time.sleep(0.005)
    assert ds.calls[:3] == [0, 4, 8], "batches 1 and 2 were prepared before the consumer asked for them"
    assert len(ds.calls) == 3, "no more than prefetch_factor batches ahead"
    rest = [b[1].numpy().tolist() for b in it]
    assert sum(rest, []) == list(range(4, 40))
    it.close()


def test_workers_keep_order_and_seeded_augmentation():
    x = _imgs(50, 8, 8)
    y = np.arange(50)
    aug = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.ToTensor()])

    def run(nw, seed):
        kw = {"num_workers": nw} if nw else {}
        dl = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=seed, batch_transform=aug, **kw)
        return [[(b[0].numpy(), b[1].numpy()) for b in dl] for _ in range(2)]

    base = run(0, 4)
    assert base[0][0][0].shape == (8, 3, 8, 8) and base[0][0][0].dtype == np.float32
    for nw in (1, 3):
        got = run(nw, 4)
        for ea, eb in zip(base, got):
            for (xa, ya), (xb, yb) in zip(ea, eb):
                np.testing.assert_array_equal(ya, yb)
                np.testing.assert_array_equal(xa, xb)
    other = run(2, 5)
    assert not np.array_equal(other[0][0][1], base[0][0][1])
    e0, e1 = base  # each epoch reshuffles and draws new augmentations
    assert not np.array_equal(np.concatenate([b[1] for b in e0]), np.concatenate([b[1] for b in e1]))


def test_worker_exception_surfaces_in_the_main_thread():
    ds = _Recording(n=40, fail_at=13)
    got = []
    with pytest.raises(KeyError, match="sample 13 is broken"):
        for _, yb in DataLoader(ds, batch_size=4, num_workers=2):
            got.append(yb.numpy()[0])
    assert got == [0, 4, 8], "the batches before the broken one arrive, in order"
    time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("tinytorch-DataLoader")]


def test_break_stops_the_workers_and_argument_errors():
    ds = _Recording(n=400)
    for _ in DataLoader(ds, batch_size=4, num_workers=2):
        break
    time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("tinytorch-DataLoader")]
    assert len(ds.calls) <= 1 + 4 + 2, "at most the prefetched batches were prepared"
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    assert len(list(DataLoader(ds, batch_size=100, num_workers=1, pin_memory=True, persistent_workers=True))) == 4
    with pytest.raises(TypeError, match="batch_transform should be callable"):
        DataLoader(ds, batch_transform=3)


def test_batch_transform_on_tensor_fields_is_channels_first():
    x = Tensor(_imgs(6, 4, 4, dtype=np.float32).transpose(0, 3, 1, 2).copy())  # NCHW Tensor field
    (xb,) = next(iter(DataLoader(TensorDataset(x), batch_size=6, batch_transform=T.RandomHorizontalFlip(p=1.0))))
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[..., ::-1])


def test_mnist_batches_go_through_the_transform_at_once():
    from tinytorch.data.datasets import MNIST

    try:
        ds = MNIST(train=False, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]), download=False)
    except FileNotFoundError:
        pytest.skip("MNIST is not staged here")
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and x.dtype == tt.float32
    xb, yb = next(iter(DataLoader(ds, batch_size=8)))
    assert xb.shape == (8, 1, 28, 28) and xb.dtype == tt.float32
    np.testing.assert_allclose(xb.numpy()[3], x.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.numpy()[0], (ds.data[3] / np.float32(255) - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)
    assert yb.numpy()[3] == y
    ds2 = MNIST(None, False, T.ToTensor())  # torchvision's positional order: root, train, transform
    assert ds2[0][0].shape == (1, 28, 28)


def test_threads_doing_the_work():
    seen = []

    class Where(Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, i):
            seen.append(threading.current_thread().name)
            return np.full(2, i, np.float32)

    def collate(samples):
        seen.append("collate:" + threading.current_thread().name)
        return Tensor(np.stack(samples))

    out = [b.numpy()[:, 0].tolist() for b in DataLoader(Where(), batch_size=4, collate_fn=collate, num_workers=2)]
    assert out == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert set(seen) == {threading.main_thread().name, "collate:" + threading.main_thread().name}, \
        "with collate_fn (which may make Tensors) samples are read and collated in the main thread"
    seen.clear()
    batches = [b.numpy()[:, 0].tolist() for b in DataLoader(Where(), batch_size=4, num_workers=2)]
    assert batches == out and all(n.startswith("tinytorch-DataLoader") for n in seen), "numpy reads: in the workers"
