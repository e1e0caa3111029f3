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
