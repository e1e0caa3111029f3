"""Sorting and order statistics against PyTorch, forward and backward, on C and INTERP: sort/argsort (stable,
NaN last ascending and first descending), msort, topk, kthvalue, median/nanmedian (the lower median; NaN
rows), mode (smallest of the most frequent, its last index), quantile/nanquantile (every interpolation,
scalar and 1-D q); ties, integers, bools, 0-d inputs, gradients to the selected positions, the host path for
long rows, the named tuples and the errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor
from tinytorch.tensor import sorting

from .conftest import require_device

torch = pytest.importorskip("torch")

NAN = math.nan


@pytest.fixture(params=["C", "INTERP"])
def dev(request: pytest.FixtureRequest) -> str:
    return require_device(request.param)


def grid(*shape: int, seed: int = 0, nans: bool = True) -> np.ndarray:
    """Small integers (many ties) as float32, with a few NaNs and one all-NaN row."""
    a = np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float32)
    if nans:
        a.reshape(-1)[[2, 7, 11]] = NAN
        a[(1,) * (a.ndim - 1)] = NAN
    return a


def same(got: Tensor, want: Any) -> None:
    w = want.detach().numpy()
    assert tuple(got.shape) == w.shape, f"shape {got.shape} != torch {w.shape}"
    g = got.numpy()
    assert g.dtype.kind == w.dtype.kind, f"dtype {got.dtype} vs torch {want.dtype}"
    assert np.array_equal(g, w, equal_nan=True), f"\n{g}\n!= torch\n{w}"


def picks(x: np.ndarray, d: int, values: Tensor, indices: Tensor, keepdim: bool) -> None:
    """indices point at values: x.take_along(d, indices) == values (ties may pick another index than torch's)."""
    idx = indices.numpy() if keepdim or x.ndim == 0 else np.expand_dims(indices.numpy(), d)
    got = np.take_along_axis(x, idx, d) if x.ndim else x
    assert np.array_equal(got.reshape(values.shape), values.numpy(), equal_nan=True)


def grad_check(fn: Callable[[Any], Any], a: np.ndarray, dev: str) -> None:
    """The gradient of sum(fn(x) * c) for a random c, against torch's."""
    x, t = Tensor(a, device=dev, requires_grad=True), torch.tensor(a, requires_grad=True)
    o, r = fn(x), fn(t)
    c = np.random.default_rng(1).standard_normal(tuple(r.shape)).astype(np.float32)
    (o * Tensor(c, device=dev)).sum().backward()
    (r * torch.tensor(c)).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("d", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_stable_with_nan(dev: str, d: int, descending: bool) -> None:
    a = grid(3, 5, 6)
    x, t = Tensor(a, device=dev), torch.tensor(a)
    r, w = x.sort(d, descending=descending), t.sort(dim=d, descending=descending, stable=True)
    same(r.values, w.values)
    same(r.indices, w.indices)
    same(x.argsort(d, descending), t.argsort(dim=d, descending=descending, stable=True))
    same(tt.sort(x, dim=d, descending=descending, stable=True).values, w.values)


def test_sort_forms(dev: str) -> None:
    v, i = Tensor([3.0, 1.0, 2.0], device=dev).sort()
    assert v.tolist() == [1.0, 2.0, 3.0] and i.tolist() == [1, 2, 0]
    r = Tensor([2, 1], device=dev).sort(descending=True)
    assert type(r).__name__ == "sort" and repr(r).startswith("tinytorch.return_types.sort(\nvalues=tensor([2, 1]")
    ai = np.random.default_rng(3).integers(-5, 5, (4, 7))
    same(Tensor(ai, device=dev).sort(1, descending=True).indices,
         torch.tensor(ai).sort(dim=1, descending=True, stable=True).indices)
    b = np.array([True, False, True, False])
    same(Tensor(b, device=dev).sort().values, torch.tensor(b).sort(stable=True).values)
    same(Tensor(3.0, device=dev).sort().indices, torch.tensor(3.0).sort().indices)
    a = grid(4, 3, nans=False)
    same(Tensor(a, device=dev).msort(), torch.tensor(a).msort())
    e = Tensor.zeros(2, 0, device=dev).sort(1)
    assert e.values.shape == (2, 0) and e.indices.shape == (2, 0)


@pytest.mark.parametrize("d", [0, 1, -1])
def test_topk_kthvalue(dev: str, d: int) -> None:
    a = grid(3, 5, 6)
    x, t = Tensor(a, device=dev), torch.tensor(a)
    for k, largest in ((3, True), (2, False), (1, True)):
        r, w = x.topk(k, d, largest=largest), t.topk(k, d, largest=largest)
        same(r.values, w.values)  # NaN counts as the largest, as torch
        picks(a, d, r.values, r.indices, True)
    for k in (1, 2, a.shape[d]):
        r, w = x.kthvalue(k, d, keepdim=True), t.kthvalue(k, d, keepdim=True)
        same(r.values, w.values)
        picks(a, d, r.values, r.indices, True)
    r = tt.topk(x, 2, dim=d, sorted=False)
    same(r.values, t.topk(2, d).values)


def test_topk_ties_take_the_first(dev: str) -> None:
    r = Tensor([1.0, 3.0, 3.0, 2.0, 3.0], device=dev).topk(2)
    assert r.values.tolist() == [3.0, 3.0] and r.indices.tolist() == [1, 2]
    r = Tensor([[5, 1, 1, 2]], device=dev).topk(2, largest=False)
    assert r.values.tolist() == [[1, 1]] and r.indices.tolist() == [[1, 2]]


@pytest.mark.parametrize("d", [0, 1, -1])
def test_median_and_nanmedian(dev: str, d: int) -> None:
    a = grid(3, 5, 6)
    x, t = Tensor(a, device=dev), torch.tensor(a)
    for keepdim in (False, True):
        r, w = x.median(d, keepdim), t.median(d, keepdim)
        same(r.values, w.values)  # a NaN in the row: NaN and the index of its first NaN
        picks(a, d, r.values, r.indices, keepdim)
        r, w = x.nanmedian(d, keepdim=keepdim), t.nanmedian(d, keepdim=keepdim)
        same(r.values, w.values)
        picks(a, d, r.values, r.indices, keepdim)
    same(x.median(), t.median())
    same(x.nanmedian(), t.nanmedian())
    b = grid(4, 5, nans=False)
    same(tt.median(Tensor(b, device=dev)), torch.median(torch.tensor(b)))  # the lower of the two middle values
    ai = np.array([[4, 1, 3, 2], [7, 7, 7, 1]], np.int64)
    same(Tensor(ai, device=dev).median(), torch.tensor(ai).median())
    same(Tensor(ai, device=dev).median(1).values, torch.tensor(ai).median(1).values)
    same(Tensor(2.0, device=dev).median(0).indices, torch.tensor(2.0).median(0).indices)


def test_mode(dev: str) -> None:
    """The smallest of the most frequent values and the last index where it occurs (torch's CPU result)."""
    for a in (np.array([3., 1., 1., 3., 2.], np.float32), np.array([[1., 2., 1., 2.], [5., 4., 4., 0.]], np.float32),
              grid(3, 6, 5, nans=False), np.random.default_rng(2).integers(-2, 3, (4, 9))):
        for d in range(a.ndim):
            for keepdim in (False, True):
                r, w = Tensor(a, device=dev).mode(d, keepdim), torch.tensor(a).mode(d, keepdim)
                same(r.values, w.values)
                same(r.indices, w.indices)
    r = Tensor(7.0, device=dev).mode()
    assert r.values.item() == 7.0 and r.indices.item() == 0 and type(r).__name__ == "mode"


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile(dev: str, interpolation: str) -> None:
    a = grid(3, 5, 6)
    x, t = Tensor(a, device=dev), torch.tensor(a)
    for q in (0.3, [0.0, 0.25, 0.5, 1.0]):
        qt = torch.tensor(q)
        for d, keepdim in ((0, False), (1, True), (-1, False), (None, False), (None, True)):
            for ours, theirs in ((x.quantile(q, d, keepdim, interpolation=interpolation),
                                  t.quantile(qt, d, keepdim, interpolation=interpolation)),
                                 (tt.nanquantile(x, q, d, keepdim, interpolation=interpolation),
                                  t.nanquantile(qt, d, keepdim, interpolation=interpolation))):
                w = theirs.numpy()
                assert ours.shape == w.shape
                np.testing.assert_allclose(ours.numpy(), w, rtol=1e-6, atol=1e-6, equal_nan=True)
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        x.quantile(1.5)
    with pytest.raises(RuntimeError, match="float"):
        Tensor([1, 2], device=dev).quantile(0.5)


@pytest.mark.parametrize("name", ["sort", "topk", "median_dim", "median_all_ties", "kthvalue", "mode",
                                  "quantile", "msort"])
def test_gradients_flow_to_selected_positions(dev: str, name: str) -> None:
    a = np.random.default_rng(4).standard_normal((4, 6)).astype(np.float32)
    a[0, :3] = 1.0  # ties
    a[2, 1] = a[2, 4] = a[3, 0] = a[3, 5] = -0.5
    fn = {"sort": lambda z: z.sort(1, descending=True)[0], "topk": lambda z: z.topk(2, 0).values,
          "median_dim": lambda z: z.median(1).values, "median_all_ties": lambda z: z[:, :4].median().reshape(1),
          "kthvalue": lambda z: z.kthvalue(3, 1).values, "mode": lambda z: z.mode(1).values,
          "quantile": lambda z: z.quantile(0.7, 1), "msort": lambda z: z.msort()}[name]
    if name == "kthvalue":  # torch's pick among tied values is not documented (not the stable order)
        a = np.random.default_rng(5).standard_normal((4, 6)).astype(np.float32)
    grad_check(fn, a, dev)


def test_long_rows_sort_on_the_host(dev: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past HOST_SORT_MIN a row without gradient is sorted by numpy (stable, NaN placed as torch places it)."""
    monkeypatch.setattr(sorting, "HOST_SORT_MIN", 8)
    a = grid(3, 20)
    x, t = Tensor(a, device=dev), torch.tensor(a)
    for desc in (False, True):
        r, w = x.sort(1, descending=desc), t.sort(dim=1, descending=desc, stable=True)
        same(r.values, w.values)
        same(r.indices, w.indices)
    same(x.topk(5, 1).values, t.topk(5, 1).values)
    grad_check(lambda z: z.sort(1)[0], grid(2, 12, nans=False), dev)  # with a gradient: the lazy sort


def test_errors(dev: str) -> None:
    x = Tensor(grid(3, 4), device=dev)
    with pytest.raises(RuntimeError, match="k=5"):
        x.topk(5)
    with pytest.raises(RuntimeError, match="k=0"):
        x.kthvalue(0)
    with pytest.raises(IndexError, match="dim 2"):
        x.sort(2)
    with pytest.raises(IndexError, match="non-zero size"):
        Tensor.zeros(2, 0, device=dev).median(1)
