"""Regression tests for front-end differences from PyTorch that the differential fuzzer
(tinytorch/testing/fuzz.py) found: type promotion with 0-d tensors, half-precision softmax family,
cumsum of 0-d integer tensors, views of realized zero-size values with gradients, and the
gradient of cos near 0.

Takes: the `device` fixture (tests/conftest.py) and torch as the reference.
Produces: pass/fail per device (the promotion table is front-end only and runs once); a failure
names the op, the device and the first differing value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import tinytorch as tt
import tinytorch.nn.functional as F
from tests.conftest import assert_close

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
SHAPES = {"0d": (), "1d": (3,)}


def _torch_dtype_name(dt: torch.dtype) -> str:
    """torch's dtype under tinytorch's name (the same: uint8 with int8 gives int16 in both)."""
    return str(dt).removeprefix("torch.")


def _values(dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Small exactly representable values of dtype (booleans, 0..5 for integers, halves for floats)."""
    r = np.random.default_rng(seed)
    if dtype == "bool":
        return r.integers(0, 2, shape).astype(bool)
    if dtype in ("uint8", "int8", "int32", "int64"):
        return r.integers(0, 6, shape).astype(dtype)
    return (r.integers(-8, 9, shape) / 2).astype(np.float32)


def _pair(dtype: str, arr: np.ndarray, device: str | None = None) -> tuple[tt.Tensor, torch.Tensor]:
    return tt.Tensor(arr, dtype=dtype, device=device), torch.tensor(arr).to(getattr(torch, dtype))


def _expected(t: torch.Tensor) -> np.ndarray:
    return (t.double() if t.dtype.is_floating_point else t).numpy()


def _got(t: tt.Tensor) -> np.ndarray:
    return np.asarray(t.cast("float64").numpy() if t.dtype.is_float else t.numpy())


# F2: promotion with 0-d tensors --------------------------------------------------------------------
BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "maximum": (lambda a, b: a.maximum(b), torch.maximum),
    "minimum": (lambda a, b: a.minimum(b), torch.minimum),
    "where": (lambda a, b: tt.where(tt.Tensor([True, False, True]), a, b),
              lambda a, b: torch.where(torch.tensor([True, False, True]), a, b)),
}


@pytest.mark.parametrize("shapes", [("0d", "1d"), ("1d", "0d"), ("0d", "0d"), ("1d", "1d")], ids="-".join)
@pytest.mark.parametrize("b", DTYPES)
@pytest.mark.parametrize("a", DTYPES)
def test_promotion_follows_torch_result_type(a: str, b: str, shapes: tuple[str, str]) -> None:
    sa, sb = SHAPES[shapes[0]], SHAPES[shapes[1]]
    xa, ta = _pair(a, _values(a, sa, 1))
    xb, tb = _pair(b, _values(b, sb, 2))
    expected = _torch_dtype_name(torch.result_type(ta, tb))
    for op, (ours, theirs) in BINARY.items():
        assert ours(xa, xb).dtype.name == expected, f"{op}({a}{list(sa)}, {b}{list(sb)})"
        assert _torch_dtype_name(theirs(ta, tb).dtype) == expected  # the reference agrees with itself
    if a != "bool" or b != "bool":
        assert (xa < xb).dtype.name == "bool"


CASES = [  # (dtype of the tensor with dims, dtype of the 0-d tensor)
    ("float32", "float64"), ("float16", "float64"), ("bfloat16", "float32"), ("int32", "int64"),
    ("int8", "int64"), ("uint8", "int32"), ("int32", "float64"), ("int64", "float16"), ("bool", "int32"),
    ("bool", "float64"), ("float16", "bfloat16"),
]


@pytest.mark.parametrize("dim_dt,zero_dt", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_promotion_with_0d_values(device: str, dim_dt: str, zero_dt: str) -> None:
    """Values (not just dtypes) match torch: the 0-d operand is converted to the result dtype."""
    xa, ta = _pair(dim_dt, _values(dim_dt, (4,), 3), device)
    xb, tb = _pair(zero_dt, np.array(3 if zero_dt != "float16" else 2.5, dtype=np.float64).astype(
        np.float32 if zero_dt in ("float16", "bfloat16", "float32", "float64") else zero_dt), device)
    for op, (ours, theirs) in BINARY.items():
        if op == "where":
            continue  # (cond has 3 elements)
        got, exp = ours(xa, xb), theirs(ta, tb)
        assert got.dtype.name == _torch_dtype_name(exp.dtype), f"{op} on {device}"
        assert_close(_got(got), _expected(exp), op=op, device=device, dtype=got.dtype)
        got, exp = ours(xb, xa), theirs(tb, ta)
        assert got.dtype.name == _torch_dtype_name(exp.dtype), f"{op} reversed on {device}"
        assert_close(_got(got), _expected(exp), op=op, device=device, dtype=got.dtype)


def test_promotion_findings(device: str) -> None:
    """The fuzzer's repros: float32[2,2] + float64[] -> float32; int32 + an argmax (int64[]) -> int32;
    int32[1,1] * int32[1,1].sum() (int64[]) -> int32."""
    a = tt.Tensor(np.ones((2, 2), np.float32), device=device)
    out = a + tt.Tensor(np.array(2.0), dtype=tt.float64, device=device)
    exp = torch.ones(2, 2) + torch.tensor(2.0, dtype=torch.float64)
    assert out.dtype.name == _torch_dtype_name(exp.dtype)
    assert_close(out, exp.numpy(), op="add", device=device)
    ints = np.array([4, 1], np.int32)
    out = a.argmax() + tt.Tensor(ints, device=device)
    exp = torch.ones(2, 2).argmax() + torch.tensor(ints)
    assert out.dtype.name == _torch_dtype_name(exp.dtype)
    assert_close(out, exp.numpy(), op="add", device=device)
    m = np.array([[7]], np.int32)
    out = tt.Tensor(m, device=device) * tt.Tensor(m, device=device).sum()
    exp = torch.tensor(m) * torch.tensor(m).sum()
    assert out.dtype.name == _torch_dtype_name(exp.dtype)
    assert_close(out, exp.numpy(), op="mul", device=device)


# F3: the softmax family in half precision ------------------------------------------------------------
HALVES = ["float16", "bfloat16"]


def _half_input(dtype: str, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    """(6, 5) values up to ~8 in magnitude, exactly representable in dtype, plus a row whose
    log_softmax is tiny (one dominant logit: the fuzzer's bf16 [-5.125, 4.125])."""
    r = np.random.default_rng(seed)
    x = (r.standard_normal((6, 5)) * 4).astype(np.float32)
    x[0] = [-5.125, 4.125, -6.0, -7.5, -5.5]
    t = torch.tensor(x).to(getattr(torch, dtype))
    return t.float().numpy(), t


def _from_f32(x: np.ndarray, dtype: str, device: str) -> tt.Tensor:
    return tt.Tensor(x, device=device).cast(dtype)


@pytest.mark.parametrize("dtype", HALVES)
def test_half_softmax_family_rounds_once(device: str, dtype: str) -> None:
    """softmax, log_softmax and logsumexp of half inputs are computed in float32 and rounded once:
    equal to torch's float32 result rounded to the dtype, within the dtype's tolerance (before, the
    half-precision logsumexp's rounding was the whole result for log-probabilities near 0)."""
    xs, t = _half_input(dtype, 11)
    x = _from_f32(xs, dtype, device)
    for dim in (0, 1, -1):
        for op, ours, theirs in [
            ("softmax", x.softmax(dim), torch.softmax(t.float(), dim)),
            ("log_softmax", x.log_softmax(dim), torch.log_softmax(t.float(), dim)),
            ("F.log_softmax", F.log_softmax(x, dim), torch.log_softmax(t.float(), dim)),
            ("logsumexp", x.logsumexp(dim), torch.logsumexp(t.float(), dim)),
        ]:
            assert ours.dtype.name == dtype, f"{op} on {device}"
            exp = theirs.to(t.dtype)
            assert_close(_got(ours), _expected(exp), op=f"{op}(dim={dim})", device=device, dtype=dtype)
    # the fuzzer's repros (torch's float16 CPU kernel itself gives 0.0 for the first: the float32
    # result rounded is the reference)
    small = tt.Tensor(np.array([-5.125, 4.125], np.float32), device=device).cast(dtype).log_softmax(0)
    ref = torch.log_softmax(torch.tensor([-5.125, 4.125]), 0).to(t.dtype)
    assert_close(_got(small), _expected(ref), op="log_softmax", device=device, dtype=dtype)
    xs = np.array([[3.984375, 2.375], [0.53125, 3.328125]], np.float32)
    ref = torch.log_softmax(torch.tensor(xs).to(t.dtype).float(), 0).to(t.dtype)
    assert_close(_got(_from_f32(xs, dtype, device).log_softmax(0)), _expected(ref), op="log_softmax",
                 device=device, dtype=dtype)


@pytest.mark.parametrize("dtype", HALVES)
def test_half_cross_entropy(device: str, dtype: str) -> None:
    """cross_entropy of half logits (through log_softmax) and its gradient, against torch."""
    xs, t = _half_input(dtype, 12)
    target = np.array([1, 0, 4, 2, 3, 1])
    x = tt.Tensor(xs, dtype=dtype, device=device, requires_grad=True)
    loss = F.cross_entropy(x, tt.Tensor(target, device=device), reduction="sum")
    tl = t.clone().requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(tl, torch.tensor(target), reduction="sum")
    ref.backward()
    assert loss.dtype.name == dtype
    assert_close(_got(loss), _expected(ref.detach()), op="cross_entropy", device=device, dtype=dtype)
    loss.backward()
    assert x.grad is not None
    assert_close(_got(x.grad), _expected(tl.grad), op="cross_entropy backward", device=device, dtype=dtype,
                 atol=float(np.abs(_expected(tl.grad)).max()) * 2 * np.finfo(np.float16).eps)


# F6: cumsum of 0-d tensors -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_cumsum_dtype_of_0d_and_1d(device: str, dtype: str) -> None:
    """cumsum of integer and bool tensors gives int64 for every shape, 0-d included (like torch)."""
    for shape, dim in [((), 0), ((), -1), ((4,), 0)]:
        xs = _values(dtype, shape, 5)
        x, t = _pair(dtype, xs, device)
        got, exp = x.cumsum(dim), torch.cumsum(t, dim)
        assert got.dtype.name == _torch_dtype_name(exp.dtype), f"cumsum of {dtype}{list(shape)} on {device}"
        assert_close(_got(got), _expected(exp), op="cumsum", device=device, dtype=got.dtype)


# F5: views of a realized value that keeps its graph -----------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (2, 3)], ids=["zero-size", "2x2"])
def test_view_of_realized_value_that_requires_grad(device: str, shape: tuple[int, ...]) -> None:
    """A value that requires grad keeps its graph after it is computed; views of it (reshape,
    transpose, slices) read its result (a view of a realized zero-size value raised AssertionError)."""
    xs = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 2
    x = tt.Tensor(xs, device=device, requires_grad=True)
    t = torch.tensor(xs, requires_grad=True)
    a, ta = x[:, 1:] * 2, t[:, 1:] * 2
    assert_close(a, ta.detach().numpy(), op="mul", device=device)  # computes a
    n = int(np.prod(ta.shape))
    for op, ours, theirs in [("reshape", a.reshape(n), ta.reshape(n)), ("transpose", a.T, ta.T),
                             ("slice", a[:, :1], ta[:, :1]), ("flip", a.flip(0), ta.flip(0))]:
        assert_close(ours, theirs.detach().numpy(), op=op, device=device)
    (a.T * a.T).sum().backward()
    (ta.T * ta.T).sum().backward()
    assert x.grad is not None and t.grad is not None
    assert_close(x.grad, t.grad.numpy(), op="backward", device=device)


# F1: the gradient of cos near 0 ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cos_gradient_is_minus_sin_elementwise(device: str, dtype: str) -> None:
    """d cos(x)/dx = -sin(x) with the relative accuracy of sin(x) itself, also for tiny x (it was
    built from the rounded pi/2 - x: 5% off at 1e-6)."""
    xs = np.array([0.0024, 1e-4, 1e-6, -3e-7, 1e-20, 0.0, 0.3, -1.1, 2.5, 40.0], dtype=dtype)
    x = tt.Tensor(xs, dtype=dtype, device=device, requires_grad=True)
    t = torch.tensor(xs, requires_grad=True)
    x.cos().sum().backward()
    t.cos().sum().backward()
    assert x.grad is not None and t.grad is not None
    assert_close(x.grad, t.grad.numpy(), op="cos backward", device=device, rtol=1e-5 if dtype == "float32" else 1e-12)
