"""Pooling, BatchNorm/GroupNorm/InstanceNorm, interpolate and channel dropout against PyTorch.

Forward values and input/parameter gradients are compared with torch on C, LLVM and INTERP (small
shapes); BatchNorm's running statistics, num_batches_tracked, state_dict round trips with torch and
train/eval behaviour; the modules' repr; bad arguments raising when the op is built; and the
schedule shapes the compiler relies on (an eval-mode conv -> BatchNorm -> relu is one kernel).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Context, nn
from tinytorch.nn import functional as F

from .conftest import require_device

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture(params=["C", "LLVM", "INTERP"])
def dev(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A device that is also the default inside the test."""
    name = require_device(request.param)
    with Context(DEVICE=name):
        yield name


def _both(x: np.ndarray, grad: bool = True):  # type: ignore[no-untyped-def]
    return tt.Tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)


def _check(ours, theirs, inputs, rtol=1e-5, atol=1e-5, seed=0):  # type: ignore[no-untyped-def]
    """Values equal; gradients of sum(y * g) for a random g equal for every (ours, theirs) input pair."""
    a = ours[0] if isinstance(ours, tuple) else ours
    b = theirs[0] if isinstance(theirs, tuple) else theirs
    if isinstance(ours, tuple):
        assert ours[1].dtype == tt.int64
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(seed).standard_normal(tuple(b.shape)).astype(np.float32)
    (a * tt.Tensor(g)).sum().backward()
    (b * torch.tensor(g)).sum().backward()
    for mine, ref in inputs:
        assert mine.grad is not None
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=rtol, atol=atol)


# pools -----------------------------------------------------------------------------------------------
MAX2D = [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=3, stride=2, padding=1,
         ceil_mode=True), dict(kernel_size=(2, 3), stride=(1, 2), dilation=2), dict(kernel_size=2, stride=1)]


@pytest.mark.parametrize("kw", MAX2D, ids=lambda kw: "-".join(f"{k}{v}" for k, v in kw.items()))
def test_max_pool2d(dev, kw):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6)).astype(np.float32)
    a, b = _both(x)
    _check(F.max_pool2d(a, **kw, return_indices=True), TF.max_pool2d(b, **kw, return_indices=True), [(a, b)])


@pytest.mark.parametrize("stride", [1, 2])
def test_max_pool_ties_route_to_first_max(dev, stride):
    """Constant and repeated values: each window's gradient goes to its first maximum only, as in PyTorch."""
    x = np.ones((1, 2, 5, 5), np.float32)
    x[0, 1] = np.array([[0, 1, 1, 0, 1]] * 5, np.float32)
    a, b = _both(x)
    _check(F.max_pool2d(a, 3, stride, 1, return_indices=True), TF.max_pool2d(b, 3, stride, 1, return_indices=True),
           [(a, b)])
    a, b = _both(x[0])  # unbatched (C, H, W)
    _check(F.max_pool2d(a, 2, 1), TF.max_pool2d(b, 2, 1), [(a, b)])


def test_max_pool_nan_and_int():
    x = np.array([[[1.0, np.nan, 3.0, np.nan, 2.0, 5.0]]], np.float32)
    v, i = F.max_pool1d(tt.Tensor(x), 3, return_indices=True)
    tv, ti = TF.max_pool1d(torch.tensor(x), 3, return_indices=True)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    xi = np.arange(-12, 24).reshape(1, 2, 3, 6)
    np.testing.assert_array_equal(F.max_pool2d(tt.Tensor(xi), 2, padding=1).numpy(),
                                  TF.max_pool2d(torch.tensor(xi), 2, padding=1).numpy())


def test_max_pool1d_and_3d(dev):
    x = np.random.default_rng(2).standard_normal((2, 3, 9)).astype(np.float32)
    a, b = _both(x)
    _check(F.max_pool1d(a, 3, 2, 1, return_indices=True), TF.max_pool1d(b, 3, 2, 1, return_indices=True), [(a, b)])
    x3 = np.random.default_rng(3).standard_normal((1, 2, 4, 5, 3)).astype(np.float32)
    a, b = _both(x3)
    _check(F.max_pool3d(a, 2, 1, return_indices=True), TF.max_pool3d(b, 2, 1, return_indices=True), [(a, b)])


AVG = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, padding=1,
       ceil_mode=True), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
       dict(kernel_size=(3, 2), stride=1, padding=(1, 0), count_include_pad=False), dict(kernel_size=2,
       divisor_override=3)]


@pytest.mark.parametrize("kw", AVG, ids=lambda kw: "-".join(f"{k}{v}" for k, v in kw.items()))
def test_avg_pool2d(dev, kw):
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 6)).astype(np.float32)
    a, b = _both(x)
    _check(F.avg_pool2d(a, **kw), TF.avg_pool2d(b, **kw), [(a, b)])


def test_avg_pool1d(dev):
    x = np.random.default_rng(5).standard_normal((2, 3, 8)).astype(np.float32)
    a, b = _both(x)
    _check(F.avg_pool1d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False),
           TF.avg_pool1d(b, 3, 2, 1, ceil_mode=True, count_include_pad=False), [(a, b)])
    a, b = _both(x[0])
    _check(F.avg_pool1d(a, 2), TF.avg_pool1d(b, 2), [(a, b)])


@pytest.mark.parametrize("size", [1, (3, 4), (7, None), (2, 3)])
def test_adaptive_pools(dev, size):
    x = np.random.default_rng(6).standard_normal((2, 3, 7, 6)).astype(np.float32)
    a, b = _both(x)
    _check(F.adaptive_avg_pool2d(a, size), TF.adaptive_avg_pool2d(b, size), [(a, b)])
    a, b = _both(x)
    _check(F.adaptive_max_pool2d(a, size, return_indices=True), TF.adaptive_max_pool2d(b, size, return_indices=True),
           [(a, b)])


def test_adaptive_pools_1d_and_ties():
    x = np.random.default_rng(7).standard_normal((2, 3, 10)).astype(np.float32)
    for size in (1, 3, 5):
        a, b = _both(x)
        _check(F.adaptive_avg_pool1d(a, size), TF.adaptive_avg_pool1d(b, size), [(a, b)])
        a, b = _both(x)
        _check(F.adaptive_max_pool1d(a, size, return_indices=True),
               TF.adaptive_max_pool1d(b, size, return_indices=True), [(a, b)])
    ones = np.ones((1, 2, 5, 5), np.float32)  # overlapping bins full of ties
    a, b = _both(ones)
    _check(F.adaptive_max_pool2d(a, 3, return_indices=True), TF.adaptive_max_pool2d(b, 3, return_indices=True),
           [(a, b)])


def test_pool_modules_match_torch():
    x = np.random.default_rng(8).standard_normal((2, 3, 8, 8)).astype(np.float32)
    pairs = [(nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)), (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
             (nn.AdaptiveAvgPool2d((3, 5)), torch.nn.AdaptiveAvgPool2d((3, 5))),
             (nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2))]
    for ours, theirs in pairs:
        a, b = _both(x)
        _check(ours(a), theirs(b), [(a, b)])
        assert repr(ours) == repr(theirs)
    a, b = _both(x[0])
    _check(nn.MaxPool1d(2)(a), torch.nn.MaxPool1d(2)(b), [(a, b)])
    a, b = _both(x[0])
    _check(nn.AvgPool1d(3, 1, 1)(a), torch.nn.AvgPool1d(3, 1, 1)(b), [(a, b)])
    v, i = nn.MaxPool2d(2, return_indices=True)(tt.Tensor(x))
    np.testing.assert_array_equal(i.numpy(), torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))[1].numpy())


# normalization --------------------------------------------------------------------------------------------
def _stats_input(shape, seed=9):  # type: ignore[no-untyped-def]
    """Mean 10, std 1: a one-pass variance would lose digits here."""
    return (np.random.default_rng(seed).standard_normal(shape) + 10).astype(np.float32)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_functional(dev, training):
    rng = np.random.default_rng(10)
    x = _stats_input((4, 3, 5, 6))
    w, bias = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    rm0, rv0 = rng.standard_normal(3).astype(np.float32), (rng.random(3) + 0.5).astype(np.float32)
    rm, rv, trm, trv = tt.Tensor(rm0), tt.Tensor(rv0), torch.tensor(rm0), torch.tensor(rv0)
    a, b = _both(x)
    wa, wb = _both(w)
    ba, bb = _both(bias)
    _check(F.batch_norm(a, rm, rv, wa, ba, training, 0.2, 1e-3), TF.batch_norm(b, trm, trv, wb, bb, training, 0.2,
           1e-3), [(a, b), (wa, wb), (ba, bb)], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5)


def test_batch_norm_2d_input_and_no_stats():
    x = _stats_input((6, 4))
    a, b = _both(x)
    _check(F.batch_norm(a, None, None, training=True), TF.batch_norm(b, None, None, training=True), [(a, b)],
           rtol=1e-4, atol=1e-4)


def _torch_bn(cls, c, **kw):  # type: ignore[no-untyped-def]
    m = cls(c, **kw)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        if m.affine:
            m.weight.copy_(torch.randn(c, generator=g))
            m.bias.copy_(torch.randn(c, generator=g))
        if m.track_running_stats:
            m.running_mean.copy_(torch.randn(c, generator=g))
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.num_batches_tracked.fill_(3)
    return m


@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
                                {"momentum": 0.3, "eps": 1e-3}], ids=str)
def test_batchnorm2d_module_train_eval(dev, kw):
    """A torch state_dict loads; three training steps give the same outputs, gradients, running stats and
    num_batches_tracked; eval mode then gives the same outputs."""
    tm = _torch_bn(torch.nn.BatchNorm2d, 3, **kw)
    m = nn.BatchNorm2d(3, **kw)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert list(m.state_dict()) == list(tm.state_dict())
    for step in range(3):
        x = _stats_input((4, 3, 3, 4), seed=step)
        a, b = _both(x)
        ins = [(a, b)] + ([(m.weight, tm.weight), (m.bias, tm.bias)] if m.affine else [])
        if m.affine:
            m.weight.grad, tm.weight.grad, m.bias.grad, tm.bias.grad = None, None, None, None
        _check(m(a), tm(b), ins, rtol=1e-4, atol=1e-4, seed=step)
    for k, v in tm.state_dict().items():
        got = m.state_dict()[k]
        assert got.dtype == (tt.int64 if k == "num_batches_tracked" else tt.float32)
        np.testing.assert_allclose(got.numpy(), v.numpy(), rtol=1e-5, err_msg=k)
    m.eval()
    tm.eval()
    a, b = _both(_stats_input((2, 3, 3, 4), seed=7))
    _check(m(a), tm(b), [(a, b)], rtol=1e-4, atol=1e-4)


def test_batchnorm1d_and_state_dict_round_trip():
    tm = _torch_bn(torch.nn.BatchNorm1d, 4)
    m = nn.BatchNorm1d(4)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    for shape in [(8, 4), (3, 4, 5)]:
        a, b = _both(_stats_input(shape))
        _check(m(a), tm(b), [(a, b)], rtol=1e-4, atol=1e-4)
    back = torch.nn.BatchNorm1d(4)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    for k, v in back.state_dict().items():
        np.testing.assert_allclose(v.numpy(), tm.state_dict()[k].numpy(), rtol=1e-6)
    assert int(m.num_batches_tracked.item()) == 5
    m.reset_running_stats()
    assert float(m.running_mean.abs().sum().item()) == 0 and int(m.num_batches_tracked.item()) == 0


def test_batchnorm_running_stats_are_realized_each_step():
    """The in-place updates run with the step's next realize; when nothing is realized between steps, at most
    one update is pending (a lazy chain would grow with every step otherwise), and the values are torch's."""
    from tinytorch.ops.uop import Ops, toposort

    bn, tbn = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    for i in range(3):
        x = _stats_input((5, 3)) + i
        bn(tt.Tensor(x)).sum().backward()
        tbn(torch.tensor(x)).sum().backward()
        for t in (bn.running_mean, bn.running_var):
            assert sum(u.op is Ops.ASSIGN and u._realized is None for u in toposort([t.uop])) <= 1
    np.testing.assert_allclose(bn.running_mean.numpy(), tbn.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 3
    bn(tt.Tensor(_stats_input((5, 3)))).sum().item()  # a realize carries the pending updates with it
    for t in (bn.running_mean, bn.running_var, bn.num_batches_tracked):
        assert t.uop.base.op.name == "BUFFER"


def test_group_and_instance_norm(dev):
    x = _stats_input((2, 6, 3, 4))
    rng = np.random.default_rng(11)
    w, bias = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    a, b = _both(x)
    wa, wb = _both(w)
    ba, bb = _both(bias)
    _check(F.group_norm(a, 3, wa, ba), TF.group_norm(b, 3, wb, bb), [(a, b), (wa, wb), (ba, bb)], rtol=1e-4,
           atol=1e-4)
    a, b = _both(x)
    rm, trm = tt.Tensor(np.zeros(6, np.float32)), torch.zeros(6)
    rv, trv = tt.Tensor(np.ones(6, np.float32)), torch.ones(6)
    _check(F.instance_norm(a, rm, rv), TF.instance_norm(b, trm, trv), [(a, b)], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5)


def test_norm_modules():
    x = _stats_input((2, 4, 3, 3))
    for ours, theirs in [(nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
                         (nn.InstanceNorm2d(4, affine=True), torch.nn.InstanceNorm2d(4, affine=True))]:
        assert repr(ours) == repr(theirs)
        a, b = _both(x)
        _check(ours(a), theirs(b), [(a, b), (ours.weight, theirs.weight)], rtol=1e-4, atol=1e-4)
    m, tm = nn.InstanceNorm2d(4, track_running_stats=True), torch.nn.InstanceNorm2d(4, track_running_stats=True)
    a, b = _both(x)
    _check(m(a), tm(b), [(a, b)], rtol=1e-4, atol=1e-4)
    m.eval()
    tm.eval()
    np.testing.assert_allclose(m(tt.Tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-4)


# resampling and dropout -----------------------------------------------------------------------------------
INTERP = [("nearest", None, dict(scale_factor=2)), ("nearest", None, dict(size=(7, 4))),
          ("nearest", None, dict(scale_factor=0.5)), ("nearest-exact", None, dict(scale_factor=(1.7, 0.6))),
          ("bilinear", False, dict(scale_factor=2)), ("bilinear", True, dict(scale_factor=2)),
          ("bilinear", False, dict(size=(7, 4))), ("bilinear", True, dict(size=(2, 9))),
          ("bicubic", False, dict(scale_factor=(1.7, 0.6))), ("bicubic", True, dict(size=(4, 8))),
          ("area", None, dict(size=(2, 4)))]


@pytest.mark.parametrize("mode,align,kw", INTERP, ids=lambda v: str(v))
def test_interpolate(dev, mode, align, kw):
    x = np.random.default_rng(12).standard_normal((2, 3, 5, 6)).astype(np.float32)
    a, b = _both(x)
    _check(F.interpolate(a, mode=mode, align_corners=align, **kw), TF.interpolate(b, mode=mode, align_corners=align,
           **kw), [(a, b)], rtol=1e-4, atol=1e-5)


def test_interpolate_1d_and_upsample_modules():
    x = np.random.default_rng(13).standard_normal((2, 3, 5)).astype(np.float32)
    a, b = _both(x)
    _check(F.interpolate(a, scale_factor=1.5, mode="linear"), TF.interpolate(b, scale_factor=1.5, mode="linear"),
           [(a, b)], rtol=1e-4)
    x4 = np.random.default_rng(14).standard_normal((1, 2, 3, 4)).astype(np.float32)
    for ours, theirs in [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                         (nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
                          torch.nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True)),
                         (nn.UpsamplingBilinear2d(scale_factor=2), torch.nn.UpsamplingBilinear2d(scale_factor=2))]:
        assert repr(ours) == repr(theirs)
        a, b = _both(x4)
        _check(ours(a), theirs(b), [(a, b)], rtol=1e-4)


def test_interpolate_nearest_upscale_is_a_view():
    x = tt.Tensor(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4))
    y = F.interpolate(x, scale_factor=2)
    assert y.uop.base.op.name == "BUFFER" and not y.schedule()  # a broadcast view of x: no kernel
    np.testing.assert_array_equal(y.numpy(), TF.interpolate(torch.tensor(x.numpy()), scale_factor=2).numpy())


def test_dropout2d():
    x = tt.Tensor(np.ones((8, 16, 3, 3), np.float32))
    y = F.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))  # whole channels, scaled 1/(1-p)
    assert 0 < (per_channel[..., 0] == 0).sum() < 128
    np.testing.assert_array_equal(F.dropout2d(x, 0.5, training=False).numpy(), x.numpy())
    assert float(F.dropout2d(x, 1.0).abs().sum().item()) == 0
    m = nn.Dropout2d(0.25)
    assert repr(m) == repr(torch.nn.Dropout2d(0.25))
    m.eval()
    np.testing.assert_array_equal(m(x).numpy(), x.numpy())
    y1 = F.dropout1d(tt.Tensor(np.ones((4, 10, 5), np.float32)), 0.5).numpy()
    assert np.all((y1 == 0).all(-1) | (y1 == 2).all(-1))
    xg = tt.Tensor(np.ones((4, 6, 2, 2), np.float32), requires_grad=True)
    out = F.dropout2d(xg, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), (out.numpy() != 0) * 2.0)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        F.dropout2d(tt.Tensor(np.ones((2, 3, 4), np.float32)))


def test_reprs_match_torch():
    pairs = [(nn.MaxPool2d(2), torch.nn.MaxPool2d(2)), (nn.MaxPool2d((3, 2), 1, 1, ceil_mode=True),
             torch.nn.MaxPool2d((3, 2), 1, 1, ceil_mode=True)), (nn.MaxPool1d(3), torch.nn.MaxPool1d(3)),
             (nn.AvgPool2d(3, 1, 1), torch.nn.AvgPool2d(3, 1, 1)), (nn.AvgPool1d(3), torch.nn.AvgPool1d(3)),
             (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
             (nn.AdaptiveAvgPool2d((2, None)), torch.nn.AdaptiveAvgPool2d((2, None))),
             (nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3)),
             (nn.AdaptiveMaxPool2d((2, 3), True), torch.nn.AdaptiveMaxPool2d((2, 3), True)),
             (nn.BatchNorm2d(16), torch.nn.BatchNorm2d(16)),
             (nn.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False),
              torch.nn.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False)),
             (nn.GroupNorm(4, 16), torch.nn.GroupNorm(4, 16)), (nn.GroupNorm(2, 4, affine=False),
                                                                torch.nn.GroupNorm(2, 4, affine=False)),
             (nn.Upsample(scale_factor=(2, 3), mode="bilinear"),
              torch.nn.Upsample(scale_factor=(2, 3), mode="bilinear")),
             (nn.Dropout1d(0.2), torch.nn.Dropout1d(0.2)), (nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    model = nn.Sequential(nn.BatchNorm2d(3), nn.MaxPool2d(2))
    assert repr(model) == repr(torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.MaxPool2d(2)))


# bad input ---------------------------------------------------------------------------------------------------
x4 = np.zeros((1, 2, 5, 5), np.float32)
ERRORS = [
    (lambda: F.max_pool2d(tt.Tensor(x4), 3, padding=2), "pad should be at most half"),
    (lambda: F.max_pool2d(tt.Tensor(x4), 6), "Output size is too small"),
    (lambda: F.max_pool2d(tt.Tensor(x4), 3, dilation=3), "Output size is too small"),
    (lambda: F.max_pool2d(tt.Tensor(np.zeros((5, 5), np.float32)), 2), r"max_pool2d.*\(5, 5\)"),
    (lambda: F.max_pool2d(tt.Tensor(x4), 2, stride=0), "stride"),
    (lambda: F.max_pool2d(tt.Tensor(x4), 0), "kernel_size"),
    (lambda: F.avg_pool2d(tt.Tensor(x4), 3, padding=2), "pad should be at most half"),
    (lambda: F.avg_pool2d(tt.Tensor(x4), 2, divisor_override=0), "divisor"),
    (lambda: F.max_pool1d(tt.Tensor(np.zeros(5, np.float32)), 2), "max_pool1d"),
    (lambda: F.adaptive_avg_pool2d(tt.Tensor(np.zeros(5, np.float32)), 2), "adaptive_avg_pool2d"),
    (lambda: F.adaptive_max_pool2d(tt.Tensor(x4), (1, 2, 3)), "output_size"),
    (lambda: F.batch_norm(tt.Tensor(x4), tt.Tensor(np.zeros(3, np.float32)), tt.Tensor(np.ones(3, np.float32))),
     "running_mean should contain 2 elements not 3"),
    (lambda: F.batch_norm(tt.Tensor(x4), None, None), "evaluation mode"),
    (lambda: F.batch_norm(tt.Tensor(np.zeros((1, 2, 1, 1), np.float32)), None, None, training=True),
     "more than 1 value per channel"),
    (lambda: nn.BatchNorm2d(3)(tt.Tensor(x4)), r"BatchNorm2d\(3\).*\(1, 2, 5, 5\)"),
    (lambda: nn.BatchNorm2d(2)(tt.Tensor(np.zeros((2, 5), np.float32))), "expected 4D input"),
    (lambda: nn.BatchNorm1d(2)(tt.Tensor(x4)), "expected 2D or 3D input"),
    (lambda: F.group_norm(tt.Tensor(x4), 3), "divisible by num_groups"),
    (lambda: nn.GroupNorm(3, 4), "divisible by num_groups"),
    (lambda: F.interpolate(tt.Tensor(x4), size=3, scale_factor=2), "only one of size or scale_factor"),
    (lambda: F.interpolate(tt.Tensor(x4)), "either size or scale_factor"),
    (lambda: F.interpolate(tt.Tensor(x4), size=3, align_corners=True), "align_corners option"),
    (lambda: F.interpolate(tt.Tensor(x4), size=(3, 4, 5)), "same number of spatial dimensions"),
    (lambda: F.interpolate(tt.Tensor(x4), size=0), "greater than 0"),
    (lambda: F.dropout2d(tt.Tensor(x4), 1.5), "between 0 and 1"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_bad_input_raises_when_built(i):
    fn, msg = ERRORS[i]
    with pytest.raises((ValueError, RuntimeError)) as e:
        fn()
    import re
    assert re.search(msg, str(e.value)), str(e.value)


def test_bilinear_needs_4d():
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(tt.Tensor(np.zeros((1, 2, 5), np.float32)), size=3, mode="bilinear")


# schedules ---------------------------------------------------------------------------------------------------
def test_eval_batchnorm_fuses_into_conv_and_relu():
    from tinytorch.nn.spatial import conv

    rng = np.random.default_rng(15)
    x = tt.Tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    w = tt.Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    b = tt.Tensor(rng.standard_normal(4).astype(np.float32))
    bn = nn.BatchNorm2d(4)
    bn.eval()
    y = bn(conv(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)).relu()
    assert len(y.schedule()) == 1
    tb = torch.nn.BatchNorm2d(4).eval()
    ref = torch.relu(tb(TF.conv2d(torch.tensor(x.numpy()), torch.tensor(w.numpy()), torch.tensor(b.numpy()),
                                  padding=1)))
    np.testing.assert_allclose(y.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_eval_batchnorm_after_unrealized_training_steps_is_still_one_kernel():
    """Training steps that realize nothing leave one running-stat update pending; eval runs it first, so the
    eval-mode conv -> BatchNorm -> relu is still one kernel, with torch's values."""
    rng = np.random.default_rng(16)
    xs = [rng.standard_normal((2, 3, 6, 6)).astype(np.float32) for _ in range(3)]
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4),
                             torch.nn.ReLU())
    m.load_state_dict({k: tt.Tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    for x in xs[:2]:
        m(tt.Tensor(x)).sum().backward()
        tm(torch.tensor(x)).sum().backward()
    m.eval()
    tm.eval()
    y = m(tt.Tensor(xs[2]))
    assert len(y.schedule()) == 1
    np.testing.assert_allclose(y.numpy(), tm(torch.tensor(xs[2])).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_max_pool_forward_is_one_reduce():
    y = F.max_pool2d(tt.Tensor(np.zeros((2, 3, 8, 8), np.float32)), 2)
    assert len(y.schedule()) == 1
