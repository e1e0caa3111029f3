"""Tests of the convolution family against PyTorch: F.conv1d/2d/3d, F.conv_transpose1d/2d, F.pad (every
mode), F.unfold / F.fold, the nn.Conv* / nn.ConvTranspose* / nn.Unfold / nn.Fold modules.

Each case runs forward and backward (input, weight and bias gradients for a random output gradient)
on C, LLVM and INTERP and compares with torch at rtol 1e-4 (float32); the modules load a torch
state_dict and must give torch's outputs; bad arguments must raise the error type torch raises.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import functional as F

from .conftest import require_device

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DEVS = ["C", "LLVM", "INTERP"]


@pytest.fixture(params=DEVS, ids=DEVS)
def dev(request: pytest.FixtureRequest) -> str:
    return require_device(request.param)


def _close(got: Any, want: Any, what: str, rtol: float = 1e-4, atol: float = 1e-4) -> None:
    g = got.numpy() if isinstance(got, tt.Tensor) else np.asarray(got)
    w = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != torch's {w.shape}"
    np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol, err_msg=what)


def _check_fn(dev: str, ours: Any, theirs: Any, shapes: list[tuple[int, ...] | None], seed: int = 0,
              dtype: Any = np.float32, rtol: float = 1e-4, atol: float = 1e-4) -> None:
    """ours(*tensors) vs theirs(*torch tensors), forward and the gradient of every input (None = absent)."""
    rng = np.random.default_rng(seed)
    arrs = [None if s is None else rng.standard_normal(s).astype(dtype) for s in shapes]
    tts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: 'same' with even kernels may copy the input
        ref = theirs(*tts)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(g))
    ins = [None if a is None else tt.Tensor(a, device=dev, requires_grad=True) for a in arrs]
    out = ours(*ins)
    _close(out, ref, "forward", rtol, atol)
    out.backward(tt.Tensor(g, device=dev))
    for i, (a, b) in enumerate(zip(ins, tts)):
        if a is not None:
            assert a.grad is not None, f"input {i} got no gradient"
            _close(a.grad, b.grad, f"gradient of input {i}", rtol, atol)


# convolution ------------------------------------------------------------------------------------------
# (input shape, weight shape, bias?, kwargs)
CONV2D = [
    ((2, 3, 6, 5), (4, 3, 3, 3), True, {}),
    ((2, 3, 6, 5), (4, 3, 1, 1), True, {}),  # 1x1
    ((2, 3, 7, 6), (4, 3, 3, 2), True, {"stride": (2, 1), "padding": (1, 0)}),  # non-square
    ((1, 2, 7, 7), (3, 2, 2, 2), False, {"stride": 3}),  # stride > kernel
    ((2, 4, 6, 6), (6, 2, 3, 3), True, {"padding": 1, "groups": 2}),
    ((1, 4, 6, 5), (4, 1, 3, 3), True, {"padding": 1, "groups": 4}),  # depthwise
    ((2, 3, 8, 7), (4, 3, 3, 3), True, {"dilation": 2, "padding": 2, "stride": 2}),
    ((2, 3, 6, 5), (4, 3, 2, 4), True, {"padding": "same"}),  # even kernels: padded more on the right
    ((2, 3, 7, 6), (4, 3, 2, 3), False, {"padding": "same", "dilation": (1, 2)}),
    ((2, 3, 6, 5), (4, 3, 3, 3), True, {"padding": "valid"}),
    ((3, 6, 5), (4, 3, 3, 3), True, {"padding": 1}),  # unbatched
    ((1, 2, 3, 3), (2, 2, 5, 5), True, {"padding": 1}),  # kernel larger than the unpadded input
]


@pytest.mark.parametrize("case", range(len(CONV2D)))
def test_conv2d(dev: str, case: int) -> None:
    xs, ws, b, kw = CONV2D[case]
    _check_fn(dev, lambda x, w, bb: F.conv2d(x, w, bb, **kw), lambda x, w, bb: TF.conv2d(x, w, bb, **kw),
              [xs, ws, (ws[0],) if b else None], seed=case)


CONV1D = [
    ((2, 3, 9), (4, 3, 3), True, {"stride": 2, "padding": 2, "dilation": 2}),
    ((2, 4, 8), (4, 2, 4), True, {"padding": "same", "groups": 2}),
    ((3, 7), (2, 3, 1), False, {}),
]


@pytest.mark.parametrize("case", range(len(CONV1D)))
def test_conv1d(dev: str, case: int) -> None:
    xs, ws, b, kw = CONV1D[case]
    _check_fn(dev, lambda x, w, bb: F.conv1d(x, w, bb, **kw), lambda x, w, bb: TF.conv1d(x, w, bb, **kw),
              [xs, ws, (ws[0],) if b else None], seed=case)


def test_conv3d(dev: str) -> None:
    kw = {"stride": (1, 2, 1), "padding": (1, 0, 1), "groups": 2}
    _check_fn(dev, lambda x, w, b: F.conv3d(x, w, b, **kw), lambda x, w, b: TF.conv3d(x, w, b, **kw),
              [(1, 4, 4, 5, 3), (2, 2, 2, 3, 2), (2,)])


def test_conv_float64_and_float16() -> None:
    _check_fn("C", lambda x, w, b: F.conv2d(x, w, b, padding=1, stride=2),
              lambda x, w, b: TF.conv2d(x, w, b, padding=1, stride=2),
              [(2, 3, 5, 5), (4, 3, 3, 3), (4,)], dtype=np.float64, rtol=1e-10, atol=1e-10)
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 3, 5, 5)).astype(np.float16), rng.standard_normal((2, 3, 3, 3)).astype(np.float16)
    out = F.conv2d(tt.Tensor(x), tt.Tensor(w), padding=1)
    assert out.dtype == tt.float16
    _close(out, TF.conv2d(torch.tensor(x).float(), torch.tensor(w).float(), padding=1), "float16", 1e-2, 2e-2)


def test_conv_integer_dtypes() -> None:
    """PyTorch convolves integer tensors on the CPU (keeping the dtype) and refuses bool."""
    rng = np.random.default_rng(2)
    for dt in (np.int32, np.int64):
        x, w = rng.integers(-5, 5, (1, 2, 5, 5)).astype(dt), rng.integers(-3, 3, (3, 2, 2, 2)).astype(dt)
        got, want = F.conv2d(tt.Tensor(x), tt.Tensor(w)), TF.conv2d(torch.tensor(x), torch.tensor(w))
        assert got.dtype.name == str(want.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(NotImplementedError):
        TF.conv2d(torch.ones(1, 1, 3, 3, dtype=torch.bool), torch.ones(1, 1, 2, 2, dtype=torch.bool))
    with pytest.raises(NotImplementedError):
        F.conv2d(tt.Tensor(np.ones((1, 1, 3, 3), bool)), tt.Tensor(np.ones((1, 1, 2, 2), bool)))


def test_conv_empty_batch_and_channels() -> None:
    x, w = tt.zeros(0, 3, 5, 5), tt.ones(4, 3, 3, 3)
    assert F.conv2d(x, w).shape == tuple(TF.conv2d(torch.zeros(0, 3, 5, 5), torch.ones(4, 3, 3, 3)).shape)
    got = F.conv_transpose2d(tt.zeros(0, 2, 4, 4), tt.ones(2, 3, 3, 3), stride=2)
    assert got.shape == tuple(TF.conv_transpose2d(torch.zeros(0, 2, 4, 4), torch.ones(2, 3, 3, 3), stride=2).shape)
    with pytest.raises(RuntimeError, match="no channels"):  # torch gives a (1, 0, 2, 2) result here
        F.conv2d(tt.zeros(1, 0, 4, 4), tt.ones(2, 0, 3, 3))


def test_conv_bias_relu_is_one_kernel() -> None:
    """F.conv2d adds nothing between the reduce and its epilogue; a reflect padding_mode stays a view."""
    x, w, b = tt.randn(2, 3, 8, 8).realize(), tt.randn(4, 3, 3, 3).realize(), tt.randn(4).realize()
    assert len(F.conv2d(x, w, b, padding=1).relu().schedule()) == 1
    m = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
    m.weight.realize(), m.bias.realize()
    assert len(F.relu(m(x)).schedule()) == 1


# transposed convolution ---------------------------------------------------------------------------------
CONVT = [
    ((2, 4, 5, 4), (4, 3, 3, 3), True, {"stride": 2, "padding": 1, "output_padding": 1}),
    ((2, 4, 5, 4), (4, 3, 3, 2), True, {"stride": (2, 3), "padding": (0, 1), "output_padding": (1, 2), "groups": 2,
                                        "dilation": (1, 2)}),
    ((2, 4, 5, 4), (4, 3, 3, 3), False, {"padding": 2}),  # padding beyond the kernel's reach crops
    ((1, 2, 3, 3), (2, 3, 1, 1), True, {"stride": 3, "output_padding": 2}),  # 1x1, stride > kernel
    ((2, 3, 3), (2, 2, 4, 4), True, {"stride": 2, "padding": 1}),  # unbatched
    ((1, 2, 3, 4), (2, 2, 2, 3), True, {"stride": 1, "dilation": 3, "output_padding": 2}),  # op < dilation
    ((1, 2, 4, 3), (2, 2, 3, 3), True, {"stride": 2, "dilation": 2, "padding": 1}),  # even phases see no tap
]


@pytest.mark.parametrize("case", range(len(CONVT)))
def test_conv_transpose2d(dev: str, case: int) -> None:
    xs, ws, b, kw = CONVT[case]
    bs = (ws[1] * kw.get("groups", 1),) if b else None
    _check_fn(dev, lambda x, w, bb: F.conv_transpose2d(x, w, bb, **kw),
              lambda x, w, bb: TF.conv_transpose2d(x, w, bb, **kw), [xs, ws, bs], seed=case)


# stride / dilation / padding combinations where phases of the output see no tap, one tap or several
CONVT1D_SWEEP = [(3, 2, 2, 1, 0), (3, 2, 2, 0, 1), (2, 3, 1, 0, 2), (5, 3, 2, 2, 1), (3, 4, 6, 2, 3),
                 (1, 2, 1, 0, 1), (4, 3, 3, 5, 2), (2, 5, 1, 1, 4), (3, 1, 3, 3, 0), (6, 4, 2, 1, 1)]


def test_conv_transpose1d_phases() -> None:
    for i, (k, s, d, p, op) in enumerate(CONVT1D_SWEEP):  # (kernel, stride, dilation, padding, output_padding)
        kw = {"stride": s, "dilation": d, "padding": p, "output_padding": op}
        _check_fn("C", lambda x, w, b, kw=kw: F.conv_transpose1d(x, w, b, **kw),
                  lambda x, w, b, kw=kw: TF.conv_transpose1d(x, w, b, **kw), [(2, 3, 4), (3, 2, k), (2,)], seed=i)


def test_conv_transpose1d(dev: str) -> None:
    kw = {"stride": 3, "padding": 1, "output_padding": 2, "groups": 2}
    _check_fn(dev, lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
              lambda x, w, b: TF.conv_transpose1d(x, w, b, **kw), [(2, 4, 5), (4, 3, 3), (6,)])


def test_conv_transpose_int64_as_torch() -> None:
    rng = np.random.default_rng(6)
    x, w = rng.integers(-4, 4, (1, 2, 3, 3)), rng.integers(-3, 3, (2, 3, 2, 2))
    got = F.conv_transpose2d(tt.Tensor(x), tt.Tensor(w), stride=2, padding=1, output_padding=1)
    want = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1, output_padding=1)
    assert got.dtype == tt.int64
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(NotImplementedError):  # torch has no int32 transposed conv on the CPU
        F.conv_transpose2d(tt.Tensor(x.astype(np.int32)), tt.Tensor(w.astype(np.int32)))


def test_conv_transpose_is_the_adjoint_of_conv() -> None:
    """<conv(x, w), y> == <x, conv_transpose(y, w)> for the same geometry."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    kw = {"stride": 2, "padding": 1, "dilation": (1, 2)}
    cx = F.conv2d(tt.Tensor(x), tt.Tensor(w), **kw)
    y = rng.standard_normal(cx.shape)
    op = tuple(i - o for i, o in zip(x.shape[2:], ((np.array(cx.shape[2:]) - 1) * 2 - 2 + np.array([2, 2]) + 1)))
    ty = F.conv_transpose2d(tt.Tensor(y), tt.Tensor(w), output_padding=op, **kw)
    assert ty.shape == x.shape
    np.testing.assert_allclose((cx.numpy() * y).sum(), (x * ty.numpy()).sum(), rtol=1e-9)


# pad ------------------------------------------------------------------------------------------------------
PADS = [
    ("constant", (2, 3, 4), (1, 2)),
    ("constant", (2, 3, 4), (1, -1, 2, 0)),
    ("reflect", (2, 3, 5), (2, 4)),
    ("reflect", (2, 3, 4, 5), (1, 2, 2, 1)),
    ("reflect", (2, 3, 5), (-1, 4)),  # a crop and a pad: reflected about the original edge
    ("reflect", (1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2)),
    ("replicate", (2, 3, 5), (3, 1)),
    ("replicate", (2, 3, 4, 5), (1, 2, 3, 0)),
    ("replicate", (2, 3, 5), (2, -1)),
    ("replicate", (2, 3, 3, 4), (2, 1, 1, 2, 1, 1)),
    ("circular", (2, 3, 5), (2, 5)),
    ("circular", (2, 3, 4, 5), (1, 2, 2, 1)),
    ("circular", (2, 3, 5), (-1, 2)),  # cropped first, then wrapped around what is left
    ("circular", (1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2)),
]


@pytest.mark.parametrize("case", range(len(PADS)))
def test_pad(dev: str, case: int) -> None:
    mode, shape, p = PADS[case]
    _check_fn(dev, lambda x: F.pad(x, p, mode), lambda x: TF.pad(x, p, mode), [shape], seed=case)


def test_pad_constant_value_and_dtypes() -> None:
    x = np.arange(12).reshape(3, 4)
    for arr, v in ((x.astype(np.float32), 2.5), (x.astype(np.int64), 7), (x > 5, None)):
        got = F.pad(tt.Tensor(arr), (1, 2, 0, 1), value=v)
        want = TF.pad(torch.tensor(arr), (1, 2, 0, 1), value=v)
        assert got.numpy().dtype == want.numpy().dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    got = F.pad(tt.Tensor(x.astype(np.int64)).reshape(1, 3, 4), (2, 1), "reflect")
    np.testing.assert_array_equal(got.numpy(), TF.pad(torch.tensor(x).reshape(1, 3, 4), (2, 1), "reflect").numpy())


PAD_ERRORS = [
    ((2, 3, 4), (1, 1, 1), "constant", None),  # odd length
    ((3, 4), (1, 1, 1, 1, 1, 1), "constant", None),  # more pairs than dims
    ((2, 3, 4), (-3, -2), "constant", None),  # negative size
    ((2, 3, 4), (1, 1), "mirror", None),  # unknown mode
    ((1, 3, 5), (1, 1), "reflect", 1.0),  # a value for a non-constant mode
    ((1, 3, 5), (5, 0), "reflect", None),  # reflect must be < the size
    ((1, 3, 5), (-3, -2), "replicate", None),  # output size 0
    ((1, 3, 5), (6, 0), "circular", None),  # wraps around more than once
    ((1, 3, 5), (-3, -3), "circular", None),  # negative size
    ((5,), (1, 1), "reflect", None),  # 1-D input: not supported
    ((2, 3, 4, 5), (1, 1), "replicate", None),  # 4-D input with one pair: not supported
    ((1, 0, 5), (1, 1), "reflect", None),  # an empty non-batch dim
    ((2, 3, 4), (1.0, 1), "constant", None),  # float padding
]


@pytest.mark.parametrize("case", range(len(PAD_ERRORS)))
def test_pad_errors_as_torch(case: int) -> None:
    shape, p, mode, value = PAD_ERRORS[case]
    with pytest.raises(Exception) as theirs:
        TF.pad(torch.zeros(shape), p, mode, value)
    with pytest.raises(type(theirs.value)):
        F.pad(tt.zeros(*shape), p, mode, value)


# unfold / fold -------------------------------------------------------------------------------------------
FOLDS = [
    ((2, 3, 5, 6), {"kernel_size": 2}),
    ((2, 3, 7, 6), {"kernel_size": (3, 2), "dilation": (1, 2), "padding": 1, "stride": (2, 1)}),
    ((1, 2, 5, 5), {"kernel_size": 1, "stride": 2}),
    ((3, 5, 6), {"kernel_size": (2, 3), "stride": 3, "padding": (1, 0)}),  # unbatched, stride > kernel
]


@pytest.mark.parametrize("case", range(len(FOLDS)))
def test_unfold_fold(dev: str, case: int) -> None:
    shape, kw = FOLDS[case]
    _check_fn(dev, lambda x: F.unfold(x, **kw), lambda x: TF.unfold(x, **kw), [shape], seed=case)
    cols = TF.unfold(torch.zeros(shape), **kw).shape
    out = shape[-2:]
    _check_fn(dev, lambda c: F.fold(c, out, **kw), lambda c: TF.fold(c, out, **kw), [tuple(cols)], seed=case)


def test_fold_is_the_adjoint_of_unfold() -> None:
    """<unfold(x), c> == <x, fold(c)>"""
    rng = np.random.default_rng(4)
    kw = {"kernel_size": (3, 2), "dilation": (2, 1), "padding": (1, 2), "stride": (1, 2)}
    x = rng.standard_normal((2, 3, 7, 6))
    u = F.unfold(tt.Tensor(x), **kw)
    c = rng.standard_normal(u.shape)
    fc = F.fold(tt.Tensor(c), (7, 6), **kw)
    np.testing.assert_allclose((u.numpy() * c).sum(), (x * fc.numpy()).sum(), rtol=1e-9)


def test_unfold_modules_match_torch() -> None:
    x = np.random.default_rng(5).standard_normal((2, 2, 5, 5)).astype(np.float32)
    u, tu = nn.Unfold(2, padding=1, stride=2), torch.nn.Unfold(2, padding=1, stride=2)
    assert repr(u) == repr(tu)
    _close(u(tt.Tensor(x)), tu(torch.tensor(x)), "Unfold")
    f, tf_ = nn.Fold((5, 5), 2, padding=1, stride=2), torch.nn.Fold((5, 5), 2, padding=1, stride=2)
    assert repr(f) == repr(tf_)
    _close(f(u(tt.Tensor(x))), tf_(tu(torch.tensor(x))), "Fold")


FOLD_ERRORS = [
    ("unfold", (1, 1, 5, 5, 5), {"kernel_size": 2}),  # 5-D input
    ("unfold", (1, 2, 3, 3), {"kernel_size": 4}),  # no window fits
    ("unfold", (1, 2, 3, 3), {"kernel_size": 0}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": 2, "stride": 0}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": 2, "padding": -1}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": (2, 2, 2)}),
    ("fold", (1, 5, 4), {"output_size": 3, "kernel_size": 2}),  # 5 not divisible by 2*2
    ("fold", (1, 4, 5), {"output_size": 3, "kernel_size": 2}),  # 5 blocks != 2*2
    ("fold", (1, 4, 4, 1), {"output_size": 3, "kernel_size": 2}),  # 4-D input
]


@pytest.mark.parametrize("case", range(len(FOLD_ERRORS)))
def test_unfold_fold_errors_as_torch(case: int) -> None:
    op, shape, kw = FOLD_ERRORS[case]
    with pytest.raises(Exception) as theirs:
        getattr(TF, op)(torch.zeros(shape), **kw)
    with pytest.raises(type(theirs.value)):
        getattr(F, op)(tt.zeros(*shape), **kw)


# errors ---------------------------------------------------------------------------------------------------
CONV_ERRORS = [
    ("conv2d", (2, 4, 5, 5), (8, 3, 3, 3), None, {}, "3 channels"),  # wrong channel count
    ("conv2d", (5, 5), (8, 1, 3, 3), None, {}, "input"),  # input of the wrong rank
    ("conv2d", (2, 4, 5, 5), (8, 4, 3), None, {}, "weight"),  # weight of the wrong rank
    ("conv2d", (2, 4, 5, 5), (8, 4, 7, 7), None, {}, "Kernel size"),  # kernel larger than the input
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"dilation": 3}, "Kernel size"),
    ("conv2d", (2, 4, 5, 5), (3, 2, 3, 3), None, {"groups": 2}, "divisible"),  # groups do not divide C_out
    ("conv2d", (2, 5, 5, 5), (4, 2, 3, 3), None, {"groups": 2}, "channels"),  # ... nor C_in
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"groups": 0}, "groups"),
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"stride": 0}, "stride"),
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"padding": -1}, "padding"),
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"dilation": 0}, "dilation"),
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), (7,), {}, "bias"),
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"padding": "full"}, "padding"),
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"padding": "same", "stride": 2}, "strided"),
    ("conv2d", (2, 4, 5, 5), (8, 4, 3, 3), None, {"stride": (1, 1, 1)}, "stride"),
    ("conv2d", (2, 4, 5, 5), (0, 4, 3, 3), None, {}, "weight"),
    ("conv1d", (2, 4, 5), (8, 4), None, {}, "weight"),
    ("conv_transpose2d", (2, 4, 5, 5), (3, 3, 3, 3), None, {}, "channels"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), None, {"stride": 2, "output_padding": 2}, "output padding"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), None, {"output_padding": 1}, "output padding"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), None, {"groups": 3}, "divisible"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), (4,), {}, "bias"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), None, {"padding": -1}, "padding"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), None, {"output_padding": -1}, "output_padding"),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), None, {"padding": "same"}, "padding"),
]


@pytest.mark.parametrize("case", range(len(CONV_ERRORS)))
def test_conv_errors_as_torch(case: int) -> None:
    op, xs, ws, bs, kw, words = CONV_ERRORS[case]
    with pytest.raises(Exception) as theirs:
        getattr(TF, op)(torch.zeros(xs), torch.zeros(ws), None if bs is None else torch.zeros(bs), **kw)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(F, op)(tt.zeros(*xs), tt.zeros(*ws), None if bs is None else tt.zeros(*bs), **kw)
    msg = str(ours.value)
    assert words in msg and op in msg, msg


def test_conv_error_names_the_shapes() -> None:
    with pytest.raises(RuntimeError) as e:
        F.conv2d(tt.zeros(2, 4, 5, 5), tt.zeros(8, 3, 3, 3))
    assert "(2, 4, 5, 5)" in str(e.value) and "(8, 3, 3, 3)" in str(e.value)
    with pytest.raises(RuntimeError) as e:  # torch: "Input type ... and weight type ... should be the same"
        F.conv2d(tt.zeros(1, 1, 4, 4), tt.zeros(1, 1, 3, 3, dtype=tt.float64))
    assert "float64" in str(e.value)


def test_conv_transpose_output_size_too_small() -> None:
    with pytest.raises(RuntimeError, match="output size"):
        F.conv_transpose2d(tt.zeros(1, 2, 3, 3), tt.zeros(2, 1, 1, 1), padding=3)


# modules ------------------------------------------------------------------------------------------------
MODULES = [
    ("Conv2d", (3, 8, 3), {"padding": 1}, (2, 3, 6, 6)),
    ("Conv2d", (4, 6, (3, 2)), {"stride": 2, "groups": 2, "bias": False, "dilation": (2, 1)}, (2, 4, 9, 7)),
    ("Conv2d", (3, 4, 4), {"padding": "same", "padding_mode": "reflect"}, (2, 3, 6, 6)),
    ("Conv2d", (3, 4, 3), {"padding": 2, "padding_mode": "circular"}, (3, 6, 5)),
    ("Conv2d", (3, 4, 3), {"padding": (1, 2), "padding_mode": "replicate"}, (2, 3, 6, 5)),
    ("Conv1d", (3, 5, 3), {"padding": 1, "padding_mode": "reflect", "stride": 2}, (2, 3, 9)),
    ("Conv3d", (2, 3, 2), {"padding": 1}, (1, 2, 3, 4, 3)),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, (2, 4, 4, 3)),
    ("ConvTranspose1d", (3, 2, 4), {"stride": 2, "bias": False}, (2, 3, 5)),
    ("ConvTranspose3d", (2, 4, 2), {"stride": (2, 1, 2), "padding": (0, 1, 1), "dilation": (1, 2, 1)}, (1, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("case", range(len(MODULES)))
def test_module_loads_torch_state_dict(case: int) -> None:
    name, args, kw, xs = MODULES[case]
    torch.manual_seed(case)
    tm = getattr(torch.nn, name)(*args, **kw)
    om = getattr(nn, name)(*args, **kw)
    assert repr(om) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in om.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(case).standard_normal(xs).astype(np.float32)
    _close(om(tt.Tensor(x)), tm(torch.tensor(x)), f"{name} forward")


def test_module_backward_matches_torch(dev: str) -> None:
    torch.manual_seed(0)
    tm = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
    om = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect", device=dev)
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    tx, ox = torch.tensor(x, requires_grad=True), tt.Tensor(x, device=dev, requires_grad=True)
    tm(tx).square().sum().backward()
    om(ox).square().sum().backward()
    _close(ox.grad, tx.grad, "dx")
    _close(om.weight.grad, tm.weight.grad, "dweight")
    _close(om.bias.grad, tm.bias.grad, "dbias")


def test_module_init_as_torch() -> None:
    """weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_(a=sqrt(5))), bias likewise."""
    for m, fan_in in ((nn.Conv2d(6, 32, 3, groups=2), 3 * 9), (nn.ConvTranspose2d(6, 32, 3, groups=2), 16 * 9),
                      (nn.Conv1d(4, 64, 5), 4 * 5)):
        b = 1 / np.sqrt(fan_in)
        w = np.concatenate([m.weight.numpy().ravel(), m.bias.numpy().ravel()])
        assert np.abs(w).max() <= b and np.abs(w).max() > 0.8 * b
        assert abs(w.std() - b / np.sqrt(3)) < 0.15 * b / np.sqrt(3)
    assert nn.Conv2d(6, 32, 3, groups=2).weight.shape == (32, 3, 3, 3)
    assert nn.ConvTranspose2d(6, 32, 3, groups=2).weight.shape == (6, 16, 3, 3)


def test_conv_transpose_output_size() -> None:
    torch.manual_seed(0)
    tm = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    om = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    for size in ((8, 8), (1, 3, 7, 8)):
        _close(om(tt.Tensor(x), output_size=size), tm(torch.tensor(x), output_size=size), f"output_size={size}")
    with pytest.raises(ValueError):
        om(tt.Tensor(x), output_size=(9, 9))


MODULE_ERRORS = [
    ("Conv2d", (3, 8, 3), {"groups": 0}),
    ("Conv2d", (3, 8, 3), {"groups": 2}),  # in_channels not divisible
    ("Conv2d", (4, 6, 3), {"groups": 4}),  # out_channels not divisible
    ("Conv2d", (3, 8, 3), {"padding": "full"}),
    ("Conv2d", (3, 8, 3), {"padding": "same", "stride": 2}),
    ("Conv2d", (3, 8, 3), {"padding_mode": "mirror"}),
    ("ConvTranspose2d", (3, 8, 3), {"padding_mode": "reflect"}),
]


@pytest.mark.parametrize("case", range(len(MODULE_ERRORS)))
def test_module_errors_as_torch(case: int) -> None:
    name, args, kw = MODULE_ERRORS[case]
    with pytest.raises(Exception) as theirs:
        getattr(torch.nn, name)(*args, **kw)
    with pytest.raises(type(theirs.value)):
        getattr(nn, name)(*args, **kw)


def test_module_wrong_channels_names_the_shapes() -> None:
    m = nn.Conv2d(3, 8, 3)
    with pytest.raises(RuntimeError) as e:
        m(tt.zeros(1, 4, 8, 8))
    assert "(8, 3, 3, 3)" in str(e.value) and "(1, 4, 8, 8)" in str(e.value) and "3 channels" in str(e.value)
