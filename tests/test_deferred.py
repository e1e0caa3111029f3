"""Deferred in-place updates (engine.realize.defer): they run with the next realize, in its schedule."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch.engine import realize as R


def test_deferred_assign_runs_with_the_next_realize() -> None:
    stat = tt.zeros(4).realize()
    x = tt.arange(8, dtype=tt.float32).reshape(2, 4).realize()
    mean = x.mean(0)
    stat.assign(stat * 0.9 + mean * 0.1)
    R.defer(stat)
    before = R.STATS["realizes"]
    y = (x - mean).abs().sum()
    assert y.item() == float(np.abs(x.numpy() - x.numpy().mean(0)).sum())
    assert R.STATS["realizes"] == before + 1  # the update rode along: one realize, not two
    np.testing.assert_allclose(stat.numpy(), x.numpy().mean(0) * 0.1, rtol=1e-6)
    assert not R.DEFERRED


def test_deferred_update_is_captured_by_the_jit() -> None:
    stat = tt.zeros(3).realize()

    @tt.jit
    def step(x: tt.Tensor) -> tt.Tensor:
        m = x.mean(0)
        stat.assign(stat + m)
        R.defer(stat)
        return (x * 2).sum()

    total = np.zeros(3, np.float32)
    for i in range(5):
        xv = np.full((2, 3), float(i), np.float32)
        total += xv.mean(0)
        assert step(tt.tensor(xv)).item() == float(xv.sum() * 2)
    np.testing.assert_allclose(stat.numpy(), total)


def test_a_deferred_update_read_directly_is_computed() -> None:
    stat = tt.ones(2).realize()
    stat.assign(stat * 3)
    R.defer(stat)
    np.testing.assert_array_equal(stat.numpy(), [3.0, 3.0])
    R.DEFERRED.clear()
