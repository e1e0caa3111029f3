"""Regression tests for wrong results a differential fuzzer found, each checked against PyTorch on
every device: rounding of NaN/inf/-0.0, argmax of computed half tensors, index bounds of lazy
index tensors, one_hot's class checks, out-of-range scalars at creation, cos of large arguments
and element counts past int64.

Takes: the `device` fixture (tests/conftest.py) and torch as the reference.
Produces: pass/fail per device; a failure names the op, the device and the first differing value.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinytorch as tt
import tinytorch.nn.functional as F
from tests.conftest import assert_close

FLOATS = ["float32", "float64", "float16", "bfloat16"]


def _tt(t: torch.Tensor, device: str) -> tt.Tensor:
    """The torch tensor's values in tinytorch, same dtype (bfloat16 goes through float32, exactly)."""
    name = str(t.dtype).removeprefix("torch.")
    if name == "bfloat16":
        return tt.Tensor(t.float().numpy(), device=device).cast("bfloat16")
    return tt.Tensor(t.numpy(), dtype=name, device=device)


def _np(t: torch.Tensor) -> np.ndarray:
    return (t.double() if t.dtype == torch.bfloat16 else t).numpy()


def _same_bits(got: tt.Tensor, expected: torch.Tensor, op: str, device: str) -> None:
    """Equal values, NaN where NaN, and the same sign of zero."""
    g = got.cast("float64").numpy() if got.dtype.is_float else got.numpy()
    e = expected.double().numpy() if expected.dtype.is_floating_point else expected.numpy()
    assert g.shape == e.shape, f"{op} on {device}: shape {g.shape} != {e.shape}"
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    if g.dtype.kind == "f":
        same &= np.isnan(e) | (np.signbit(g) == np.signbit(e))
    assert same.all(), f"{op} on {device}: at {np.argwhere(~same)[0]} expected {e[~same][0]!r}, got {g[~same][0]!r}"


# rounding ------------------------------------------------------------------------------------------
ROUNDING_INPUTS = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 0.4, -0.4, 0.5, -0.5, 1.5, -1.5, 2.5,
                   -2.5, 1023.5, 65504.0, 2.0**23 + 0.5, 2.0**23 - 0.5, -(2.0**23) - 1, 1e10, -1e10, 3e38,
                   2.0**52 + 1, -(2.0**52) - 1, 4503599627370495.5, -4503599627370495.5, 1e300, -1e-30]


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op", ["floor", "ceil", "round", "trunc"])
def test_rounding_nan_inf_signed_zero(device: str, op: str, dt: str) -> None:
    ref = torch.tensor(ROUNDING_INPUTS, dtype=torch.float64).to(getattr(torch, dt))
    _same_bits(getattr(_tt(ref, device), op)(), getattr(ref, op)(), op, device)


# one_hot ---------------------------------------------------------------------------------------------
def _same_error(ours: object, theirs: object, match: str) -> None:
    """Both calls raise; ours with torch's exception type and a message containing `match`."""
    with pytest.raises(Exception) as ref:
        theirs()  # type: ignore[operator]
    assert match in str(ref.value), f"torch's message changed: {ref.value}"
    with pytest.raises(type(ref.value), match=match):
        ours()  # type: ignore[operator]


@pytest.mark.parametrize("classes, num_classes, match", [
    ([-1, 0], -1, "Class values must be non-negative."),
    ([0, -1], 3, "Class values must be non-negative."),
    ([3, 0], 2, "Class values must be smaller than num_classes."),
    ([], -1, "Can not infer total number of classes from empty tensor."),
])
def test_one_hot_bad_classes_raise(device: str, classes: list[int], num_classes: int, match: str) -> None:
    ref = torch.tensor(classes, dtype=torch.int64)
    lazy = tt.Tensor(classes, dtype="int64", device=device) + 0  # not yet computed: still checked
    _same_error(lambda: F.one_hot(lazy, num_classes), lambda: torch.nn.functional.one_hot(ref, num_classes), match)


@pytest.mark.parametrize("num_classes", [-1, 5])
def test_one_hot_matches_torch(device: str, num_classes: int) -> None:
    ref = torch.tensor([[0, 3], [2, 1]])
    got = F.one_hot(tt.Tensor(ref.numpy(), device=device) * 1, num_classes)
    assert_close(got, torch.nn.functional.one_hot(ref, num_classes).numpy(), "one_hot", device=device)
    empty = F.one_hot(tt.Tensor(np.zeros(0, np.int64), device=device), 3)
    assert_close(empty, torch.nn.functional.one_hot(torch.zeros(0, dtype=torch.int64), 3).numpy(), "one_hot",
                 device=device)


# index bounds ----------------------------------------------------------------------------------------
def _lazy_index(values: list[int], device: str) -> tt.Tensor:
    """An int64 index tensor that is not computed yet (the bounds check used to skip these)."""
    return tt.Tensor(values, device=device) * 1


BAD_INDEX = [
    ("rows", lambda x, i: x[i], [0, 5]),
    ("rows-neg", lambda x, i: x[i], [-4]),
    ("rows-wrap32", lambda x, i: x[i], [2**32 + 1]),
    ("cols", lambda x, i: x[:, i], [0, 5]),
    ("cols-neg", lambda x, i: x[:, i], [-6, 1]),
    ("pair", lambda x, i: x[i, i], [1, 3]),
    ("lookup-2d", lambda x, i: x[i.reshape(2, 1)], [2, 3]),
]


@pytest.mark.parametrize("case", BAD_INDEX, ids=[c[0] for c in BAD_INDEX])
def test_lazy_index_out_of_bounds_raises(device: str, case: tuple) -> None:
    _, fn, idx = case
    ref = torch.arange(12.0).reshape(3, 4)
    x = tt.Tensor(ref.numpy(), device=device)
    _same_error(lambda: fn(x, _lazy_index(idx, device)).numpy(), lambda: fn(ref, torch.tensor(idx)),
                "out of bounds")


GOOD_INDEX = [
    ("rows-neg", lambda x, i: x[i], [-1, -3, 2]),
    ("cols-neg", lambda x, i: x[:, i], [-4, 3, -1]),
    ("pair", lambda x, i: x[i, i], [-3, 2, 0]),
    ("lookup-2d", lambda x, i: x[i.reshape(3, 1)], [2, -1, 0]),
]


@pytest.mark.parametrize("case", GOOD_INDEX, ids=[c[0] for c in GOOD_INDEX])
def test_lazy_index_negative_wraps_like_torch(device: str, case: tuple) -> None:
    _, fn, idx = case
    ref = torch.arange(12.0).reshape(3, 4)
    got = fn(tt.Tensor(ref.numpy(), device=device), _lazy_index(idx, device))
    assert_close(got, fn(ref, torch.tensor(idx)).numpy(), "index", device=device)


def test_lazy_class_target_out_of_bounds_raises(device: str) -> None:
    logits = torch.zeros(3, 4)
    target = [0, 5, 1]
    _same_error(lambda: F.cross_entropy(tt.Tensor(logits.numpy(), device=device), _lazy_index(target, device)),
                lambda: torch.nn.functional.cross_entropy(logits, torch.tensor(target)), "out of bounds")


# argmax / argmin of computed tensors ---------------------------------------------------------------
ARG_INPUTS = {
    "mul": lambda x: x * 1.5,
    "add": lambda x: x + x * 0.5,
    "exp": lambda x: x.exp(),
    "sub": lambda x: x - 0.25,
}


ARG_CASES = [(e, d) for e in ARG_INPUTS for d in ("float16", "bfloat16", "float32")] + [
    (e, d) for e in ("add", "sub") for d in ("int8", "uint8", "int32")]


@pytest.mark.parametrize("expr, dt", ARG_CASES)
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_of_computed_tensor(device: str, op: str, expr: str, dt: str, rng: np.random.Generator) -> None:
    """argmax compares x with a stored max(x): in half, x is recomputed in float32 in the comparing
    kernel and used to match no element (the result was n, one past the end)."""
    if dt in ("float16", "bfloat16", "float32"):
        base = torch.tensor(rng.standard_normal((300, 37)), dtype=torch.float32).to(getattr(torch, dt))
    else:
        info = np.iinfo(dt)
        base = torch.tensor(rng.integers(max(info.min, -50), min(info.max, 50), (300, 37)), dtype=getattr(torch, dt))
    f = ARG_INPUTS[expr]
    for dim in (1, 0, None):
        got = getattr(f(_tt(base, device)), op)(dim)
        assert_close(got, getattr(f(base), op)(dim).numpy(), f"{op}({expr}, dim={dim})", base.shape, device)


# trigonometry of large arguments ---------------------------------------------------------------------
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op", ["sin", "cos", "tan"])
def test_trig_large_arguments(device: str, op: str, dt: str, rng: np.random.Generator) -> None:
    """cos was sin(pi/2 - x): forming pi/2 - x rounds away x's low bits (cos(1e10) had the wrong sign)."""
    hi = {"float16": 4.8, "bfloat16": 38, "float32": 38, "float64": 300}[dt]
    mags = 10 ** rng.uniform(-6, hi, 4000)
    special = [0.0, -0.0, 1.0, 1e10, 3e38, np.inf, -np.inf, np.nan]
    vals = np.concatenate([mags * rng.choice([-1, 1], mags.size), special])
    with np.errstate(over="ignore"):
        ref = torch.tensor(vals, dtype=torch.float64).to(getattr(torch, dt))
    got = getattr(_tt(ref, device), op)()
    expected = getattr(ref, op)()
    # a few units in the last place of the dtype (torch's own float32 results are within ~1 ulp)
    assert_close(got, _np(expected), op, ref.shape, device, rtol=8 * {"float16": 9.8e-4, "bfloat16": 7.8e-3,
                                                                      "float32": 1.2e-7, "float64": 2.2e-16}[dt])


def test_cos_gradient_large_arguments(device: str) -> None:
    vals = torch.tensor([0.0, 0.5, -3.0, 1e4, 1e10, -2.5e20], dtype=torch.float32, requires_grad=True)
    vals.cos().sum().backward()
    x = tt.Tensor(vals.detach().numpy(), device=device, requires_grad=True)
    x.cos().sum().backward()
    assert x.grad is not None
    assert_close(x.grad, vals.grad.numpy(), "cos backward", vals.shape, device, rtol=8 * 1.2e-7, atol=1e-30)


# element counts past int64 ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2**32, 2**32), (2**31, 2**33), (3, 2**62)])
def test_expand_past_int64_raises(device: str, shape: tuple[int, int]) -> None:
    """The count wrapped to 0 in int64 and the sum of 2**64 ones was 0."""
    x = tt.ones(1, 1, device=device)
    _same_error(lambda: x.expand(*shape).sum().numpy(), lambda: torch.ones(1, 1).expand(*shape).sum(),
                "numel: integer multiplication overflow")
    big = tt.zeros(shape[0], 1, device=device)  # a constant: no memory behind it
    with pytest.raises(RuntimeError, match=r"expand: shape .* more than the 2\*\*63 - 1"):
        big.expand(*shape)


def test_creation_and_pad_past_int64_raise(device: str) -> None:
    with pytest.raises(RuntimeError, match=r"full: shape \(4294967296, 4294967296\)"):
        tt.zeros(2**32, 2**32, device=device)
    with pytest.raises(RuntimeError, match=r"pad: shape \(2, 4611686018427387906\)"):
        tt.ones(2, 2, device=device).pad((0, 2**62))
    fits = tt.ones(1, device=device).expand(2**31, 2**31)  # 2**62 elements: a valid (lazy) shape, as in torch
    assert fits.shape == tuple(torch.ones(1).expand(2**31, 2**31).shape)


# out-of-range scalars at creation ----------------------------------------------------------------------
FILL_CASES = [(300, "uint8"), (-256, "uint8"), (-1.0, "uint8"), (255.9, "uint8"), (-129, "int8"), (2**31, "int32"),
              (2**63, "int64"), (float("nan"), "int32"), (float("inf"), "int64"), (1e300, "float32")]


@pytest.mark.parametrize("value, dt", FILL_CASES, ids=[f"{v}-{d}" for v, d in FILL_CASES])
def test_full_out_of_range_raises(device: str, value: object, dt: str) -> None:
    _same_error(lambda: tt.full((2,), value, dtype=dt, device=device).numpy(),
                lambda: torch.full((2,), value, dtype=getattr(torch, dt)), "without overflow")


@pytest.mark.parametrize("value, dt", [(-1, "uint8"), (-255, "uint8"), (-128, "int8"), (2.7, "int32"),
                                       (float("inf"), "float32"), (-(2**63), "int64"), (True, "uint8")])
def test_full_in_range_matches_torch(device: str, value: object, dt: str) -> None:
    got = tt.full((2,), value, dtype=dt, device=device)
    assert_close(got, torch.full((2,), value, dtype=getattr(torch, dt)).numpy(), "full", device=device)


@pytest.mark.parametrize("data, dt, match", [([2**63], None, "Overflow when unpacking long long"),
                                             ([-(2**63) - 1], None, "Overflow when unpacking long long"),
                                             ([300], "uint8", "without overflow"),
                                             ([1, 2**31], "int32", "without overflow"),
                                             ([255.5], "uint8", "without overflow")])
def test_tensor_from_list_out_of_range_raises(device: str, data: list, dt: str | None, match: str) -> None:
    _same_error(lambda: tt.Tensor(data, dtype=dt, device=device).numpy(),
                lambda: torch.tensor(data, dtype=None if dt is None else getattr(torch, dt)), match)


def test_tensor_from_list_big_int_as_float_and_wrapping_operand(device: str) -> None:
    assert_close(tt.Tensor([2**63, 2**64], dtype="float32", device=device),
                 torch.tensor([2**63, 2**64], dtype=torch.float32).numpy(), "Tensor", device=device)
    x = torch.tensor([1, 200], dtype=torch.uint8)
    assert_close(tt.Tensor(x.numpy(), device=device) + 300, (x + 300).numpy(), "add", device=device)  # wraps


def test_interp_bitcast_of_a_0d_value_keeps_its_shape() -> None:
    """INTERP: numpy's ascontiguousarray turns a 0-d value into shape (1,), which the 0-d store could not take
    (x % 2 and norm(p=3) of a 0-d float raised 'cannot broadcast a non-scalar to a scalar array')."""
    y = tt.Tensor(np.float32(3.5), device="INTERP")
    assert (y % 2).numpy().shape == ()
    assert float((y % 2).numpy()) == 1.5
    assert int(y.bitcast(tt.int32).numpy()) == np.float32(3.5).view(np.int32)


def test_integer_pow_stays_integer_as_torch() -> None:
    """int ** int is an int tensor (it was float32), int ** negative int raises, int ** float is float."""
    assert (2 ** tt.arange(4)).tolist() == (2 ** torch.arange(4)).tolist()
    assert (2 ** tt.arange(4)).dtype == tt.int64
    r = tt.tensor([2, 3]) ** tt.tensor([3, 2])
    assert r.dtype == tt.int64 and r.tolist() == [8, 9]
    assert (tt.tensor([3, 5]) ** 13).tolist() == (torch.tensor([3, 5]) ** 13).tolist()
    assert (tt.tensor([3]) ** 2.5).dtype == tt.float32
    with pytest.raises(RuntimeError, match="negative integer powers"):
        tt.tensor([3]) ** -1


@pytest.mark.parametrize("dev", ["C", "LLVM", "INTERP"])
def test_vectorized_bool_comparisons_order_false_before_true(dev: str) -> None:
    """Bool SIMD lanes are masks (true = -1) in the C renderer; a < b compared the masks, so True < False
    held in vector kernels (a sort by ranks put True first). Checked fused with an OR and a sum."""
    rng = np.random.default_rng(3)
    x = rng.random(16) < 0.5
    tri = np.tril(np.ones((16, 16), bool), -1)
    a, b = tt.Tensor(x, device=dev), tt.Tensor(tri, device=dev)
    ops = {"lt": (lambda p, q: p < q), "gt": (lambda p, q: p > q), "le": (lambda p, q: p <= q),
           "ge": (lambda p, q: p >= q)}
    for name, f in ops.items():
        ours = (f(a.unsqueeze(-2), a.unsqueeze(-1)) | b).sum(-1).numpy()
        ref = (f(x[None, :], x[:, None]) | tri).sum(-1)
        np.testing.assert_array_equal(ours, ref, err_msg=name)
