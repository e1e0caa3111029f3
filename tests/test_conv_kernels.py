"""Convolution in the compiler: windows as views, one reduce per conv, fused epilogues, folded
index arithmetic and masked vector loads — values against PyTorch on every device."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Device, Tensor
from tinytorch.nn.spatial import conv, windows
from tinytorch.ops.uop import Ops

torch = pytest.importorskip("torch")
F = torch.nn.functional

CASES = [  # (N, C, O, spatial, kernel, stride, padding pairs, dilation, groups)
    (2, 4, 6, (9, 8), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    (2, 4, 6, (9, 8), (3, 2), (2, 3), ((2, 2), (0, 0)), (1, 2), 2),
    (1, 6, 6, (7,), (3,), (2,), ((1, 1),), (2,), 3),
    (2, 3, 4, (5, 6, 7), (2, 3, 1), (1, 2, 1), ((0, 0), (1, 1), (0, 0)), (1, 1, 1), 1),
    (3, 2, 2, (10, 10), (5, 5), (3, 3), ((2, 2), (2, 2)), (1, 1), 1),
    (2, 8, 16, (8, 8), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),  # vector-wide rows, masked lanes
    (2, 3, 8, (16, 16), (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
]


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_conv_forward_backward_matches_torch(case, device) -> None:
    N, C, Co, S, K, st, pad, dil, g = case
    rng = np.random.default_rng(len(S) * 10 + Co)
    x = rng.standard_normal((N, C, *S)).astype(np.float32)
    w = rng.standard_normal((Co, C // g, *K)).astype(np.float32)
    b = rng.standard_normal(Co).astype(np.float32)
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    f = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[len(S)]
    ref = f(tx, tw, tb, st, tuple(p[0] for p in pad), dil, g)
    gr = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    (ref * torch.tensor(gr)).sum().backward()
    X, W, B = (Tensor(v, device=device, requires_grad=True) for v in (x, w, b))
    out = conv(X, W, B, st, pad, dil, g)
    (out * Tensor(gr, device=device)).sum().backward()
    for got, want, what in ((out, ref, "output"), (X.grad, tx.grad, "input grad"), (W.grad, tw.grad, "weight grad"),
                            (B.grad, tb.grad, "bias grad")):
        assert got is not None
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-4, err_msg=f"{what} {case}")


def test_windows_is_a_view_with_the_right_values() -> None:
    x = np.arange(2 * 7 * 9, dtype=np.float32).reshape(2, 7, 9)
    w = windows(Tensor(x), (3, 2), (2, 3), (1, 2))  # (2, Oh, Ow, 3, 2)
    assert w.uop.op in (Ops.PERMUTE, Ops.RESHAPE)  # movement ops only: no kernel until read
    assert len(w.schedule()) == 0
    ref = torch.tensor(x).unfold(1, 3, 2)[..., :]  # rows: (2, 3, 9, 3)
    got = w.numpy()
    for oh in range(got.shape[1]):
        for ow in range(got.shape[2]):
            for kh in range(3):
                for kw in range(2):
                    assert got[:, oh, ow, kh, kw].tolist() == x[:, oh * 2 + kh, ow * 3 + kw * 2].tolist()
    assert ref.shape[1] == got.shape[1]


def _schedule(*ts: Tensor) -> list:
    return ts[0].schedule(*ts[1:])


def test_conv_bias_relu_is_one_kernel() -> None:
    x, w, b = (tt.randn(*s).realize() for s in ((2, 4, 8, 8), (6, 4, 3, 3), (6,)))
    out = conv(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), 1).relu()
    assert len(_schedule(out)) == 1


def test_eval_batchnorm_folds_into_the_conv_kernel() -> None:
    x, w = tt.randn(2, 4, 8, 8).realize(), tt.randn(6, 4, 3, 3).realize()
    mean, var, gamma, beta = (tt.randn(6).realize() for _ in range(4))
    y = conv(x, w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    scale = (gamma * (var.abs() + 1e-5).rsqrt()).reshape(1, 6, 1, 1)
    out = ((y - mean.reshape(1, 6, 1, 1)) * scale + beta.reshape(1, 6, 1, 1)).relu()
    assert len(_schedule(out)) == 1


def _sources(t: Tensor, device: str) -> list[str]:
    dev = Device.get(device)
    return [dev.render(item.ast)["src"] for item in t.schedule()]


def test_conv_index_arithmetic_folds_to_affine(device_c: str = "C") -> None:
    """The stacked window views collapse: no division or modulo is left in a padded, strided conv."""
    ok, _ = Device.get("C").available()
    if not ok:
        pytest.skip("C compiler unavailable")
    x, w = tt.randn(2, 8, 16, 16, device="C").realize(), tt.randn(16, 8, 3, 3, device="C").realize()
    for st in ((1, 1), (2, 2)):
        out = conv(x, w, None, st, ((1, 1), (1, 1)), (1, 1), 1)
        (src,) = _sources(out, "C")
        body = src[src.index("void R_"):]
        assert "/(" not in body and "%(" not in body, body[:3000]


def test_padded_conv_uses_masked_vector_loads() -> None:
    ok, _ = Device.get("C").available()
    if not ok:
        pytest.skip("C compiler unavailable")
    x, w = tt.randn(2, 8, 16, 16, device="C").realize(), tt.randn(16, 8, 3, 3, device="C").realize()
    (src,) = _sources(conv(x, w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1), "C")
    assert "tt_maskload_f32x" in src


def test_masked_vector_load_reads_nothing_outside_the_buffer(device) -> None:
    """A padded window at the very start and end of a buffer: the masked lanes lie outside it."""
    x = np.arange(1, 1 + 16, dtype=np.float32).reshape(1, 1, 1, 16)
    w = np.ones((1, 1, 1, 3), np.float32)
    got = conv(Tensor(x, device=device), Tensor(w, device=device), None, (1, 1), ((0, 0), (5, 5)), (1, 1), 1).numpy()
    want = F.conv2d(torch.tensor(x), torch.tensor(w), padding=(0, 5)).numpy()
    np.testing.assert_array_equal(got, want)


def test_reported_flops_count_two_per_multiply_add() -> None:
    """DEBUG/profiler FLOPs: a conv kernel counts 2 per multiply-add (plus its epilogue), as GFLOP/s assumes."""
    from tinytorch.codegen import lower_kernel

    x, w = tt.randn(2, 4, 8, 8).realize(), tt.randn(6, 4, 3, 3).realize()
    (item,) = conv(x, w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1).schedule()
    k = lower_kernel(item.ast)[0]
    assert k.flops == 2 * (2 * 6 * 8 * 8) * (4 * 3 * 3)
    (item,) = (tt.randn(16, 32).realize() @ tt.randn(32, 8).realize()).schedule()
    assert lower_kernel(item.ast)[0].flops == 2 * 16 * 32 * 8


def test_conv_kernel_is_visible_in_viz(tmp_path) -> None:
    """VIZ draws a convolution's kernel like any other: its AST holds the one REDUCE over the window taps."""
    import tinytorch.viz as viz

    x, w, b = (tt.randn(*s).realize() for s in ((2, 3, 8, 8), (4, 3, 3, 3), (4,)))
    out = conv(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), 1).relu()
    files = viz.draw_kernel(out, str(tmp_path / "conv"))
    ast = next(f for f in files if "_ast" in f)
    with open(ast) as fh:
        text = fh.read()
    assert "REDUCE" in text and "MUL" in text
