"""Regressions found by the differential fuzzer, compared with PyTorch on every device: exp-normalizing
ops (softmax, log_softmax, logsumexp) over empty dims and with infinities, and cat of 0-d tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinytorch as tt
from tinytorch import Tensor

from .conftest import assert_close


@pytest.mark.parametrize("shape,dim", [((3, 0), -1), ((3, 0), 0), ((0, 3), 0), ((0,), 0), ((2, 0, 4), 1),
                                       ((2, 0, 4), 2)])
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_exp_normalizing_ops_over_empty_dims(device: str, shape, dim, op) -> None:
    """softmax of a size-0 dim is an empty tensor of the same shape; logsumexp of nothing is -inf."""
    a = np.zeros(shape, np.float32)
    got = getattr(Tensor(a, device=device), op)(dim)
    want = getattr(torch.tensor(a), op)(dim).numpy()
    assert_close(got, want, op, shape, device)


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_exp_normalizing_ops_with_infinities(device: str, op) -> None:
    a = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    a[0, 1], a[1, :] = np.inf, -np.inf
    a[2, 3] = -np.inf
    got = getattr(Tensor(a, device=device), op)(-1)
    assert_close(got, getattr(torch.tensor(a), op)(-1).numpy(), op, a.shape, device)


def test_functional_softmax_over_empty_dim(device: str) -> None:
    a = np.zeros((2, 0), np.float32)
    got = tt.nn.functional.softmax(Tensor(a, device=device), dim=1)
    assert_close(got, torch.nn.functional.softmax(torch.tensor(a), dim=1).numpy(), "F.softmax", a.shape, device)


@pytest.mark.parametrize("pos", [0, 1])
def test_cat_of_zero_dim_tensors_raises_like_torch(device: str, pos: int) -> None:
    ts = [Tensor([1.0], device=device), Tensor([2.0], device=device)]
    ts[pos] = Tensor(5.0, device=device)
    with pytest.raises(RuntimeError, match=rf"cat: zero-dimensional tensor \(at position {pos}\) cannot be "
                                           "concatenated"):
        tt.cat(ts)
    with pytest.raises(RuntimeError, match=rf"zero-dimensional tensor \(at position {pos}\) cannot be concatenated"):
        torch.cat([torch.tensor([1.0]) if i != pos else torch.tensor(5.0) for i in range(2)])


def test_stack_of_zero_dim_tensors(device: str) -> None:
    got = tt.stack([Tensor(1.5, device=device), Tensor(-2.0, device=device)])
    assert_close(got, torch.stack([torch.tensor(1.5), torch.tensor(-2.0)]).numpy(), "stack 0-d", (), device)
