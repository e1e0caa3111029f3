"""Reductions and linear algebra against PyTorch, forward and backward, on C and INTERP: max/min in every
form (a tensor, (values, indices) named tuples, the elementwise maximum), amax/amin/aminmax, argmax/argmin,
sum/mean/prod/var/std with dim tuples, keepdim, dtype and correction, var_mean/std_mean, nansum/nanmean,
count_nonzero, cumsum/cumprod/cummax/cummin/logcumsumexp, the matmul family, norms, dist, diff, trace,
cross and tensordot; ties and NaN as PyTorch resolves them, and the errors PyTorch raises."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor

from .conftest import require_device

torch = pytest.importorskip("torch")

NAN, INF = math.nan, math.inf


@pytest.fixture(params=["C", "INTERP"])
def dev(request: pytest.FixtureRequest) -> str:
    return require_device(request.param)


def _flat(out: Any) -> list[Any]:
    return list(out) if isinstance(out, tuple) else [out]


def check(fn: Callable[..., Any], *arrays: np.ndarray, dev: str, grad: bool = True, rtol: float = 1e-5,
          atol: float = 1e-6, exact: bool = False) -> None:
    """fn(lib, *tensors) with lib = tinytorch and torch: same shapes, dtype kinds and values (NaN where torch has
    NaN; exact for selections); for float inputs the gradients of sum(out * c), c random, match too."""
    rg = [grad and a.dtype.kind == "f" for a in arrays]
    ours = [Tensor(a, device=dev, requires_grad=r) for a, r in zip(arrays, rg)]
    theirs = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, rg)]
    got, want = _flat(fn(tt, *ours)), _flat(fn(torch, *theirs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w_np = w.detach().numpy()
        assert tuple(g.shape) == w_np.shape, f"shape {g.shape} != torch {w_np.shape}"
        g_np = g.numpy()
        assert g_np.dtype.kind == w_np.dtype.kind, f"dtype {g.dtype} vs torch {w.dtype}"
        if exact:
            assert np.array_equal(g_np, w_np, equal_nan=True), f"\n{g_np}\n!= torch\n{w_np}"
        else:
            np.testing.assert_allclose(g_np, w_np, rtol=rtol, atol=atol, equal_nan=True)
    if not any(rg) or not want[0].requires_grad:
        return
    rng = np.random.default_rng(0)
    c = rng.standard_normal(want[0].shape).astype(np.float32)
    (got[0] * Tensor(c, device=dev)).sum().backward()
    (want[0] * torch.tensor(c)).sum().backward()
    for o, t, r in zip(ours, theirs, rg):
        if r:
            assert o.grad is not None, "no gradient"
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5, equal_nan=True)


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


TIES = np.array([[1., 5., 5., 2.], [2., 2., 0., NAN], [-1., -3., -3., 7.]], np.float32)


# max / min: the silent difference of issue 8 ---------------------------------------------------------------------
def test_max_dim_unpacks_values_and_indices(dev: str) -> None:
    x = Tensor([[1., 5., 3.], [7., 2., 6.]], device=dev)
    vals, idx = x.max(dim=1)
    assert vals.tolist() == [5., 7.] and idx.tolist() == [1, 0]
    r = x.min(0)
    assert r.values.tolist() == [1., 2., 3.] and r.indices.tolist() == [0, 1, 0]
    assert isinstance(r, tuple) and len(r) == 2 and r[0] is r.values
    assert type(r).__name__ == "min" and repr(r).startswith("tinytorch.return_types.min(\nvalues=tensor(")
    assert idx.dtype == tt.int64 and not idx.requires_grad
    v, i = tt.max(x, 1, keepdim=True)
    assert v.shape == (2, 1) and i.tolist() == [[1], [0]]


@pytest.mark.parametrize("form", ["dim1", "dim0_keep", "dim_neg_kw", "min1", "min_keep"])
def test_max_min_dim_against_torch(dev: str, form: str) -> None:
    """Values, first index of ties, NaN wins (its index), and the gradient to the chosen index only."""
    fn = {"dim1": lambda m, x: x.max(1), "dim0_keep": lambda m, x: x.max(0, True),
          "dim_neg_kw": lambda m, x: x.max(dim=-1, keepdim=False), "min1": lambda m, x: x.min(1),
          "min_keep": lambda m, x: m.min(x, dim=0, keepdim=True)}[form]
    check(lambda m, x: tuple(fn(m, x)), TIES, dev=dev, exact=True)


def test_max_min_all_forms(dev: str) -> None:
    check(lambda m, x: x.max(), TIES[[0, 2]], dev=dev, exact=True)  # ties share the gradient evenly
    check(lambda m, x: x.min(), np.array([1., 1., 2.], np.float32), dev=dev, exact=True)
    check(lambda m, x: x.max(), TIES, dev=dev, exact=True, grad=False)  # NaN propagates
    check(lambda m, x, y: x.max(y), TIES, randn(4), dev=dev, exact=True, grad=False)
    check(lambda m, x, y: m.min(x, y), randn(3, 4), randn(4, seed=1), dev=dev, exact=True)
    check(lambda m, x: x.max(0), np.array(3.0, np.float32), dev=dev, exact=True)  # 0-d with dim 0
    ints = np.array([[3, -7, 3], [0, 9, 9]], np.int64)
    check(lambda m, x: x.max(1), ints, dev=dev, exact=True)
    check(lambda m, x: x.min(), ints, dev=dev, exact=True)
    check(lambda m, x: x.max(1), np.array([[True, False], [False, False]]), dev=dev, exact=True)


def test_max_errors(dev: str) -> None:
    x = Tensor(randn(2, 3), device=dev)
    with pytest.raises(IndexError, match="dim 2"):
        x.max(2)
    with pytest.raises(TypeError, match="amax"):
        x.max((0, 1))  # PyTorch's max takes one dim; several are amax's
    with pytest.raises(IndexError, match="non-zero size"):
        Tensor.zeros(3, 0, device=dev).max(1)
    with pytest.raises(RuntimeError, match="amax"):
        Tensor.zeros(0, device=dev).amax()


def test_amax_amin_aminmax_argmax(dev: str) -> None:
    a = TIES[[0, 2]]
    check(lambda m, x: x.amax((0, 1)), a, dev=dev, exact=True)
    check(lambda m, x: x.amax(-1, keepdim=True), a, dev=dev, exact=True)
    check(lambda m, x: x.amin(dim=()), a, dev=dev, exact=True)
    check(lambda m, x: x.amin(0), a, dev=dev, exact=True)
    check(lambda m, x: tuple(m.aminmax(x, dim=1)), TIES, dev=dev, exact=True, grad=False)
    check(lambda m, x: tuple(x.aminmax()), TIES[[0, 2]], dev=dev, exact=True, grad=False)
    r = Tensor(a, device=dev).aminmax()
    assert r.min.item() == -3.0 and r.max.item() == 7.0 and type(r).__name__ == "aminmax"
    for f in (lambda m, x: x.argmax(), lambda m, x: x.argmax(keepdim=True), lambda m, x: x.argmin(1),
              lambda m, x: x.argmax(dim=0, keepdim=True), lambda m, x: m.argmin(x)):
        check(f, TIES, dev=dev, exact=True, grad=False)


# sum / mean / prod / var / std ------------------------------------------------------------------------------
def test_sum_mean_prod_forms(dev: str) -> None:
    a = randn(2, 3, 4)
    check(lambda m, x: x.sum((0, 2), keepdim=True), a, dev=dev)
    check(lambda m, x: x.sum(dim=()), a, dev=dev)  # () reduces every dim, like torch
    check(lambda m, x: x.sum(1, dtype=m.float64), a, dev=dev)
    check(lambda m, x: x.mean((-1, 0)), a, dev=dev)
    check(lambda m, x: x.mean(1, True, dtype=m.float64), a, dev=dev)
    check(lambda m, x: x.prod(1, keepdim=True), a, dev=dev)
    check(lambda m, x: x.prod(dtype=m.float64), a[0, :2], dev=dev)
    check(lambda m, x: x.sum(1), np.array([[1, 2], [3, 4]], np.int32), dev=dev, exact=True)  # int64 result
    check(lambda m, x: x.prod(0), np.array([[True, False], [True, True]]), dev=dev, exact=True)


def test_var_std_positional_unbiased(dev: str) -> None:
    """var(dim, unbiased, keepdim) is PyTorch's positional order: var(1, False) is the biased variance."""
    a = randn(3, 5)
    check(lambda m, x: x.var(1, False), a, dev=dev)
    check(lambda m, x: x.std(1, True, True), a, dev=dev)
    check(lambda m, x: x.var((0, 1), correction=0), a, dev=dev)
    check(lambda m, x: x.std(0, keepdim=True, correction=2), a, dev=dev)
    check(lambda m, x: x.var(unbiased=False), a, dev=dev)
    check(lambda m, x: m.var_mean(x, 1), a, dev=dev)
    check(lambda m, x: m.std_mean(x, 0, keepdim=True, correction=0), a, dev=dev)
    check(lambda m, x: x.std(1), np.ones((2, 3), np.float32), dev=dev)  # std 0: gradient 0, not NaN


def test_nan_reductions_and_counting(dev: str) -> None:
    a = np.array([[1., NAN, 2.], [NAN, NAN, NAN], [0., 3., 0.]], np.float32)
    check(lambda m, x: x.nansum(1), a, dev=dev)
    check(lambda m, x: x.nansum(), a, dev=dev)
    check(lambda m, x: x.nanmean(1, keepdim=True), a, dev=dev, grad=False)
    check(lambda m, x: x.count_nonzero(1), a, dev=dev, exact=True)
    check(lambda m, x: x.count_nonzero(), np.array([[0, 1, 2], [0, 0, 3]], np.int32), dev=dev, exact=True)


# running reductions -------------------------------------------------------------------------------------------
def test_cumulative(dev: str) -> None:
    z = np.array([[2., 0., 3., 0., 4.], [1., 2., 0., 5., 6.], [1., 2., 3., 4., 0.5]], np.float32)
    check(lambda m, x: x.cumprod(1), z, dev=dev)  # the gradient through one zero and through two
    check(lambda m, x: x.cumprod(0), z, dev=dev)
    check(lambda m, x: x.cumsum(1, dtype=m.float64), z, dev=dev)
    check(lambda m, x: x.cumprod(0), np.array([3, -2, 5], np.int32), dev=dev, exact=True)
    seq = np.array([1., 3., 3., 2., NAN, 4., NAN], np.float32)
    check(lambda m, x: tuple(x.cummax(0)), seq, dev=dev, exact=True, grad=False)  # last index of ties, NaN sticks
    check(lambda m, x: tuple(m.cummin(x, 0)), -seq, dev=dev, exact=True, grad=False)
    check(lambda m, x: tuple(x.cummax(1)), TIES[[0, 2]], dev=dev, exact=True)
    check(lambda m, x: tuple(x.cummin(0)), randn(4, 3), dev=dev, exact=True)
    check(lambda m, x: tuple(x.cummax(0)), np.array([3, 1, 7, 7, 2], np.int64), dev=dev, exact=True)
    check(lambda m, x: x.logcumsumexp(1), randn(3, 6) * 30, dev=dev)
    check(lambda m, x: x.logcumsumexp(0), np.array([0.5, 1e3, -2., INF, 3.], np.float32), dev=dev, grad=False)
    check(lambda m, x: x.logcumsumexp(0), np.array([-INF, -INF, 1.], np.float32), dev=dev, grad=False)


# the matmul family -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "matmul_1d_left",
                                  "matmul_1d_right", "matmul_broadcast", "tensordot_int", "tensordot_lists"])
def test_products(dev: str, name: str) -> None:
    fn, shapes = {
        "mm": (lambda m, a, b: a.mm(b), [(3, 4), (4, 5)]),
        "bmm": (lambda m, a, b: m.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
        "mv": (lambda m, a, b: a.mv(b), [(3, 4), (4,)]),
        "dot": (lambda m, a, b: m.dot(a, b), [(4,), (4,)]),
        "vdot": (lambda m, a, b: a.vdot(b), [(4,), (4,)]),
        "inner": (lambda m, a, b: a.inner(b), [(2, 3, 4), (5, 4)]),
        "outer": (lambda m, a, b: m.outer(a, b), [(3,), (5,)]),
        "matmul_1d_left": (lambda m, a, b: a @ b, [(4,), (2, 4, 3)]),
        "matmul_1d_right": (lambda m, a, b: m.matmul(a, b), [(2, 3, 4), (4,)]),
        "matmul_broadcast": (lambda m, a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)]),
        "tensordot_int": (lambda m, a, b: m.tensordot(a, b, 2), [(3, 4, 5), (4, 5, 2)]),
        "tensordot_lists": (lambda m, a, b: m.tensordot(a, b, dims=([1, 0], [0, 2])), [(3, 4, 5), (4, 6, 3)]),
    }[name]
    check(fn, *[randn(*s, seed=i) for i, s in enumerate(shapes)], dev=dev, rtol=1e-5, atol=1e-5)


def test_add_products(dev: str) -> None:
    check(lambda m, i, a, b: i.addmm(a, b, beta=0.5, alpha=2.0), randn(5), randn(3, 4), randn(4, 5), dev=dev)
    check(lambda m, i, a, b: m.addmv(i, a, b, alpha=-1.0), randn(3), randn(3, 4), randn(4), dev=dev)
    check(lambda m, i, a, b: i.baddbmm(a, b, beta=2.0), randn(2, 3, 5), randn(2, 3, 4), randn(2, 4, 5), dev=dev)
    check(lambda m, i, a, b: i.addbmm(a, b), randn(3, 5), randn(2, 3, 4), randn(2, 4, 5), dev=dev)
    check(lambda m, i, a, b: i.addr(a, b), randn(3, 5), randn(3), randn(5), dev=dev)
    nan_in = np.full((3, 5), NAN, np.float32)  # beta=0: the input is not read, its NaNs do not propagate
    check(lambda m, i, a, b: m.addmm(i, a, b, beta=0), nan_in, randn(3, 4), randn(4, 5), dev=dev, grad=False)


def test_product_errors(dev: str) -> None:
    a, v = Tensor(randn(3, 4), device=dev), Tensor(randn(4), device=dev)
    with pytest.raises(RuntimeError, match="mm"):
        a.mm(v)
    with pytest.raises(RuntimeError, match=r"3x4 and 3x4"):
        a.mm(a)
    with pytest.raises(RuntimeError, match="bmm"):
        a.bmm(a)
    with pytest.raises(RuntimeError, match="same dtype"):
        v.dot(v.double())
    with pytest.raises(RuntimeError, match="dot"):
        v.dot(Tensor(randn(5), device=dev))


# norms and friends ---------------------------------------------------------------------------------------------
ZROW = np.array([[0., 1.5, -2.], [0., 0., 0.], [3., -3., 1.]], np.float32)


@pytest.mark.parametrize("p", ["fro", 2, 1, INF, -INF, 0, 3, 0.5])
def test_norm(dev: str, p: Any) -> None:
    """Gradients at zero entries and zero rows are 0, like PyTorch's."""
    check(lambda m, x: x.norm(p, dim=1, keepdim=True), ZROW, dev=dev, grad=p != 0)
    check(lambda m, x: m.norm(x, p, dim=(0, 1)), ZROW, dev=dev, grad=p != 0)


def test_norm_whole_and_linalg(dev: str) -> None:
    check(lambda m, x: x.norm(), ZROW, dev=dev)
    check(lambda m, x: x.norm(1), ZROW, dev=dev)
    check(lambda m, x: x.norm(dim=(0, 2)), randn(2, 3, 4), dev=dev)
    check(lambda m, x: x.norm(), np.zeros(3, np.float32), dev=dev)  # gradient 0 at the zero vector
    check(lambda m, x: m.linalg.vector_norm(x, 3, dim=-1), randn(2, 3, 4), dev=dev)
    check(lambda m, x: m.linalg.norm(x), randn(2, 3, 4), dev=dev)
    check(lambda m, x: m.linalg.norm(x, dim=1), randn(2, 3, 4), dev=dev)
    for o in ("fro", 1, -1, INF, -INF):
        check(lambda m, x, o=o: m.linalg.matrix_norm(x, o), randn(2, 3, 4), dev=dev)
    check(lambda m, x: m.linalg.norm(x, INF), randn(3, 4), dev=dev)
    with pytest.raises(NotImplementedError, match="SVD"):
        tt.linalg.matrix_norm(Tensor(randn(3, 3), device=dev), 2)
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor([1, 2], device=dev).norm()


def test_dist_diff_trace_cross(dev: str) -> None:
    check(lambda m, a, b: a.dist(b), randn(3, 4), randn(4, seed=1), dev=dev)
    check(lambda m, a, b: m.dist(a, b, 1), randn(3, 4), randn(4, seed=1), dev=dev)
    check(lambda m, x: x.diff(), randn(3, 5), dev=dev)
    check(lambda m, x, y: x.diff(n=2, dim=0, prepend=y), randn(3, 5), randn(2, 5, seed=1), dev=dev)
    check(lambda m, x: m.diff(x, append=x[:1]), randn(4), dev=dev)
    check(lambda m, x: x.diff(), np.array([3, 1, 4, 1, 5], np.int64), dev=dev, exact=True)
    check(lambda m, x: x.diff(), np.array([True, False, False, True]), dev=dev, exact=True)
    check(lambda m, x: x.trace(), randn(3, 5), dev=dev)
    check(lambda m, x: m.trace(x), np.arange(12, dtype=np.int32).reshape(4, 3), dev=dev, exact=True)
    check(lambda m, a, b: a.cross(b, dim=1), randn(2, 3), randn(2, 3, seed=1), dev=dev)
    check(lambda m, a, b: m.linalg.cross(a, b), randn(2, 4, 3), randn(1, 4, 3, seed=1), dev=dev)
    with pytest.raises(RuntimeError, match="size 3"):
        Tensor(randn(2, 4), device=dev).cross(Tensor(randn(2, 4), device=dev), dim=1)


def test_numpy_style_aliases(dev: str) -> None:
    """PyTorch also takes axis= for dim= and keepdims= for keepdim= (its argument parser's aliases)."""
    a = TIES[[0, 2]]
    for fn in (lambda m, x: x.sum(axis=1, keepdims=True), lambda m, x: x.mean(axis=0),
               lambda m, x: tuple(x.max(axis=1, keepdims=True)), lambda m, x: x.amax(axis=(0, 1)),
               lambda m, x: x.std(axis=1), lambda m, x: x.cumsum(axis=1), lambda m, x: x.cumprod(axis=0),
               lambda m, x: tuple(x.cummax(axis=1)), lambda m, x: x.logcumsumexp(axis=0),
               lambda m, x: x.diff(axis=0),
               lambda m, x: tuple(m.sort(x, axis=0, stable=True)), lambda m, x: tuple(x.median(axis=1)),
               lambda m, x: x.quantile(0.5, axis=1), lambda m, x: x.argmax(axis=1)):
        check(fn, a, dev=dev, grad=False)
    with pytest.raises(TypeError, match="alias"):
        Tensor(a, device=dev).sum(dim=0, axis=1)


def test_half_mean_var_std_accumulate_in_float32() -> None:
    """float16/bfloat16 mean, var and std are computed in float32 and rounded once, as PyTorch does: a half sum
    of 1000 squares of 30 (9e5) would overflow to inf before the division."""
    torch = pytest.importorskip("torch")
    x = (np.random.default_rng(0).standard_normal((4, 1000)) * 30).astype(np.float32)
    for dt, tdt in ((tt.float16, torch.float16), (tt.bfloat16, torch.bfloat16)):
        t, r = tt.tensor(x).to(dt), torch.tensor(x).to(tdt)
        for name, f in (("mean of squares", lambda a: (a * a).mean(-1)), ("var", lambda a: a.var(-1)),
                        ("std", lambda a: a.std(-1)), ("mean", lambda a: a.mean()),
                        ("var(0, unbiased=False)", lambda a: a.var(0, unbiased=False))):
            got, want = f(t), f(r)
            assert got.dtype == dt, name
            g, w = got.float().numpy(), want.float().numpy()
            assert np.isfinite(g).all(), f"{name} {dt}: {g}"
            np.testing.assert_allclose(g, w, rtol=1e-2, err_msg=f"{name} {dt}")
