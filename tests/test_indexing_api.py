"""Indexing ops against PyTorch, forward and backward, on C and INTERP: gather/scatter and the index_*
family, take, masked_fill/select, nonzero, unique, bincount, bucketize/searchsorted, multinomial,
advanced indexing (x[idx], x[mask], x[[0, 2]], x[:, [1, 0]], x[i, j]) and assignment through it,
and the errors for bad indices (out of range, wrong dtype, shapes that do not fit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import Tensor

from .conftest import assert_close, require_device

torch = pytest.importorskip("torch")

DEVS = ["C", "INTERP"]


@pytest.fixture(params=DEVS)
def dev(request: pytest.FixtureRequest) -> str:
    return require_device(request.param)


def _ours(a: Any, dev: str, grad: bool) -> Any:
    if isinstance(a, np.ndarray):
        return Tensor(a, device=dev, requires_grad=grad and a.dtype.kind == "f")
    return a


def _theirs(a: Any, grad: bool) -> Any:
    if isinstance(a, np.ndarray):
        return torch.tensor(a, requires_grad=grad and a.dtype.kind == "f")
    return a


def _flat(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(fn: Callable[..., Any], *args: Any, dev: str, grad: bool = True, rtol: float = 1e-5) -> None:
    """fn(lib, *tensors) with lib = tinytorch and torch: same values, dtypes' kinds and shapes; for float
    inputs the gradients of sum(out * c) with a random cotangent c are the same too."""
    ours_in = [_ours(a, dev, grad) for a in args]
    theirs_in = [_theirs(a, grad) for a in args]
    got, want = _flat(fn(tt, *ours_in)), _flat(fn(torch, *theirs_in))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape), f"shape {g.shape} != torch {tuple(w.shape)}"
        assert np.dtype(g.numpy().dtype).kind == w.detach().numpy().dtype.kind, f"{g.dtype} vs {w.dtype}"
        assert_close(g, w.detach().numpy(), rtol=rtol, atol=1e-6, device=dev)
    floats = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    if not grad or not floats or not all(w.dtype.is_floating_point for w in want):
        return
    rng = np.random.default_rng(0)
    cots = [rng.standard_normal(tuple(w.shape)).astype(np.float32) for w in want]
    sum(((g * Tensor(c, device=dev)).sum() for g, c in zip(got, cots)), Tensor(0.0, device=dev)).backward()
    sum((w * torch.tensor(c)).sum() for w, c in zip(want, cots)).backward()
    for i in floats:
        tg, wg = ours_in[i].grad, theirs_in[i].grad
        expected = np.zeros(args[i].shape, np.float32) if wg is None else wg.numpy()
        got_g = np.zeros(args[i].shape, np.float32) if tg is None else tg.numpy()
        assert_close(got_g, expected, op=f"grad of input {i}", rtol=1e-5, atol=1e-6, device=dev)


R = np.random.default_rng(1234)
X = R.standard_normal((3, 4)).astype(np.float32)
X3 = R.standard_normal((2, 3, 4)).astype(np.float32)
I34 = np.array([[0, 3], [2, 2], [1, 0]])
SRC = R.standard_normal((3, 2)).astype(np.float32)


# gather / scatter / index_* ----------------------------------------------------------------------------
CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "gather1": (lambda m, x, i: x.gather(1, i), (X, I34)),
    "gather0": (lambda m, x, i: m.gather(x, 0, i), (X, np.array([[2, 0, 1, 1], [0, 0, 2, 1]]))),
    "gather_small": (lambda m, x, i: x.gather(2, i), (X3, np.array([[[3], [0]]]))),
    "take_along_dim": (lambda m, x, i: m.take_along_dim(x, i, 1), (X, np.array([[-1, 0], [2, 3], [1, 1]]))),
    "take_along_dim_flat": (lambda m, x, i: m.take_along_dim(x, i), (X, np.array([11, 0, 5]))),
    "take": (lambda m, x, i: x.take(i), (X, np.array([[0, -1], [5, 11]]))),
    "index_select": (lambda m, x, i: x.index_select(1, i), (X, np.array([3, 0, 0]))),
    "index_select0": (lambda m, x, i: m.index_select(x, 0, i), (X3, np.array([1]))),
    "scatter": (lambda m, x, i, s: x.scatter(1, i, s), (X, np.array([[0, 3], [2, 1], [1, 0]]), SRC)),
    "scatter_value": (lambda m, x, i: x.scatter(1, i, 2.5), (X, I34)),
    "scatter_add": (lambda m, x, i, s: x.scatter_add(1, i, s), (X, I34, SRC)),
    "scatter_add0": (lambda m, x, i, s: m.scatter_add(x, 0, i, s), (X, np.array([[0, 0, 2, 1]]), X[:1] * 2)),
    "scatter_reduce_sum": (lambda m, x, i, s: x.scatter_reduce(1, i, s, "sum"), (X, I34, SRC)),
    "scatter_reduce_sum_noself": (lambda m, x, i, s: x.scatter_reduce(1, i, s, "sum", include_self=False),
                                  (X, I34, SRC)),
    "scatter_reduce_prod": (lambda m, x, i, s: x.scatter_reduce(1, i, s, "prod"), (X, I34, SRC)),
    "scatter_reduce_mean": (lambda m, x, i, s: x.scatter_reduce(1, i, s, "mean"), (X, I34, SRC)),
    "scatter_reduce_mean_noself": (lambda m, x, i, s: x.scatter_reduce(1, i, s, "mean", include_self=False),
                                   (X, I34, SRC)),
    "scatter_reduce_amax": (lambda m, x, i, s: x.scatter_reduce(1, i, s, "amax"), (X, I34, SRC)),
    "scatter_reduce_amin_noself": (lambda m, x, i, s: x.scatter_reduce(1, i, s, "amin", include_self=False),
                                   (X, I34, SRC)),
    "index_add": (lambda m, x, i, s: x.index_add(1, i, s, alpha=2.0), (X, np.array([2, 0, 2]), X[:, :3])),
    "index_copy": (lambda m, x, i, s: x.index_copy(0, i, s), (X, np.array([2, 0]), X[:2] * 3)),
    "index_fill": (lambda m, x, i: x.index_fill(1, i, -1.5), (X, np.array([1, 3]))),
    "masked_fill": (lambda m, x, k: x.masked_fill(k, 0.5), (X, X > 0)),
    "masked_fill_bcast": (lambda m, x, k: x.masked_fill(k, float("-inf")), (X3, X3[0, 0] > 0)),
    "masked_fill_int": (lambda m, x, k: x.masked_fill(k, 7), (np.arange(12).reshape(3, 4), X > 0)),
    "masked_fill_bigger_mask": (lambda m, x, k: x.masked_fill(k, 1.0), (X[0], X > 0)),
    "masked_select": (lambda m, x, k: x.masked_select(k), (X, X > 0)),
    "masked_select_bcast": (lambda m, x, k: m.masked_select(x, k), (X3, X3[0, 0] > 0)),
    "masked_select_none": (lambda m, x, k: x.masked_select(k), (X, X > 100)),
    # advanced indexing
    "idx_tensor": (lambda m, x, i: x[i], (X, np.array([2, -1, 0]))),
    "idx_2d": (lambda m, x, i: x[i], (X, np.array([[0, 1], [2, 2]]))),
    "idx_list": (lambda m, x: x[[0, 2]], (X,)),
    "idx_col_list": (lambda m, x: x[:, [1, 0]], (X,)),
    "idx_pair": (lambda m, x, i, j: x[i, j], (X, np.array([0, 2, 1]), np.array([3, -4, 1]))),
    "idx_none_ellipsis": (lambda m, x: x[None, ..., 1], (X3,)),
    "idx_separated": (lambda m, x: x[[0, 1], :, [1, 3]], (X3,)),
    "idx_middle": (lambda m, x: x[:, [0, 2], [1, 3]], (X3,)),
    "idx_int_list": (lambda m, x: x[1, [0, 2]], (X3,)),
    "idx_mask": (lambda m, x, k: x[k], (X, X > 0)),
    "idx_mask_rows": (lambda m, x, k: x[k], (X3, np.array([True, False]))),
    "idx_mask_col": (lambda m, x, k: x[:, k], (X, np.array([True, False, True, True]))),
    "idx_mask_2of3": (lambda m, x, k: x[k], (X3, X3[:, :, 0] > 0)),
    "idx_list_of_lists": (lambda m, x: x[[[0, 1], [1, 2]]], (X,)),  # still read as a tuple by PyTorch
    "idx_uint8_mask": (lambda m, x, k: x[k.to(m.uint8) if m is torch else k.cast(m.uint8)], (X, X[:, 0] > 0)),
    "idx_empty": (lambda m, x, i: x[i], (X, np.zeros(0, np.int64))),
    "nonzero": (lambda m, x: (x > 0).nonzero(), (X,)),
    "nonzero_tuple": (lambda m, x: m.nonzero(x > 0, as_tuple=True), (X3,)),
    "argwhere": (lambda m, x: m.argwhere(x > 0), (X,)),
    "where_one_arg": (lambda m, x: m.where(x > 0), (X,)),
    "bucketize": (lambda m, x, b: m.bucketize(x, b), (X, np.array([-1.0, 0.0, 0.5]))),
    "bucketize_right": (lambda m, x, b: m.bucketize(x, b, right=True), (np.array([0.0, 1.0, 2.5, 3.0]),
                                                                          np.array([0.0, 1.0, 3.0]))),
    "searchsorted": (lambda m, s, v: m.searchsorted(s, v), (np.array([1.0, 2.0, 2.0, 5.0]),
                                                             np.array([[0.0, 2.0], [6.0, 2.5]]))),
    "searchsorted_nd_right": (lambda m, s, v: m.searchsorted(s, v, side="right"),
                              (np.sort(X, 1), np.array([[0.0], [1.0], [-1.0]], np.float32))),
    "searchsorted_nan": (lambda m, s, v: m.searchsorted(s, v), (np.array([1.0, 2.0, 3.0]),
                                                                 np.array([np.nan, np.inf, 2.0, -np.inf]))),
    "searchsorted_nan_right": (lambda m, s, v: m.searchsorted(s, v, right=True), (np.array([1.0, 2.0, 3.0]),
                                                                                   np.array([np.nan, 2.0]))),
    "bincount": (lambda m, x: m.bincount(x), (np.array([0, 3, 3, 1, 0, 0]),)),
    "bincount_w": (lambda m, x, w: x.bincount(w, minlength=6), (np.array([0, 3, 3, 1]),
                                                                np.array([0.5, 1.0, 2.0, -1.0], np.float32))),
    "histc": (lambda m, x: x.histc(5, -1, 1), (X,)),
    "unique": (lambda m, x: m.unique(x, return_inverse=True, return_counts=True), (np.array([[3, 1], [3, 2]]),)),
    "unique_dim": (lambda m, x: x.unique(dim=0, return_counts=True), (np.array([[1, 2], [0, 5], [1, 2]]),)),
}


NO_GRAD = {"bincount_w", "histc"}  # PyTorch defines no derivative for these


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name: str, dev: str) -> None:
    fn, args = CASES[name]
    check(fn, *args, dev=dev, grad=name not in NO_GRAD)


def test_lazy_index_and_int32_index(dev: str) -> None:
    """An index computed lazily and an int32 index gather like PyTorch."""
    x = Tensor(X, device=dev)
    idx = Tensor(I34, device=dev) * 1
    assert_close(x.gather(1, idx), torch.tensor(X).gather(1, torch.tensor(I34)).numpy(), device=dev)
    i32 = Tensor(I34.astype(np.int32), device=dev)
    assert_close(x.gather(1, i32), torch.tensor(X).gather(1, torch.tensor(I34)).numpy(), device=dev)


def test_scatter_duplicates_last_wins(dev: str) -> None:
    """Repeated positions in scatter and index assignment: the last write wins (PyTorch's CPU order)."""
    x = torch.zeros(5)
    idx, src = torch.tensor([1, 1, 3, 1]), torch.tensor([1.0, 2.0, 3.0, 4.0])
    got = Tensor.zeros(5, device=dev).scatter(0, Tensor(idx.numpy(), device=dev), Tensor(src.numpy(), device=dev))
    assert_close(got, x.scatter(0, idx, src).numpy(), device=dev)
    ours = Tensor.zeros(5, device=dev)
    ours[Tensor(idx.numpy(), device=dev)] = Tensor(src.numpy(), device=dev)
    theirs = torch.zeros(5)
    theirs[idx] = src
    assert_close(ours, theirs.numpy(), device=dev)


def test_inplace_variants(dev: str) -> None:
    """scatter_, scatter_add_, index_add_, index_fill_, masked_fill_ change the tensor itself."""
    for name, args in [("scatter_", (1, I34, SRC)), ("scatter_add_", (1, I34, SRC)),
                       ("index_add_", (0, np.array([2, 0]), X[:2])), ("index_copy_", (0, np.array([2, 0]), X[:2])),
                       ("index_fill_", (1, np.array([0]), 3.0)), ("masked_fill_", (X > 0, -2.0)),
                       ("scatter_reduce_", (1, I34, SRC, "amax"))]:
        ours, theirs = Tensor(X, device=dev), torch.tensor(X)
        ret = getattr(ours, name)(*[Tensor(a, device=dev) if isinstance(a, np.ndarray) else a for a in args])
        getattr(theirs, name)(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
        assert ret is ours
        assert_close(ours, theirs.numpy(), op=name, device=dev)


SETITEM: dict[str, Callable[[Any], Any]] = {
    "mask": lambda k: k,
    "mask_col": lambda k: (slice(None), k[0, :, 0]),
    "list": lambda k: [1, 0],
    "col_list": lambda k: (slice(None), [2, 0]),
    "pair": lambda k: ([0, 1], [2, 0]),
    "separated": lambda k: ([0, 1], slice(None), [1, 3]),
    "ellipsis_mask": lambda k: (Ellipsis, k[0, 0]),
    "tensor_neg": lambda k: np.array([-1]),
    "mask_2of3": lambda k: k[:, :, 0],
}


@pytest.mark.parametrize("name", list(SETITEM))
@pytest.mark.parametrize("value", ["scalar", "tensor"])
def test_setitem_advanced(name: str, value: str, dev: str) -> None:
    """x[index] = value with tensors, lists and masks in the index, as PyTorch."""
    ix = SETITEM[name](X3 > 0)
    def conv(v: Any, lib: Any) -> Any:
        return (torch.tensor(v) if lib is torch else Tensor(v, device=dev)) if isinstance(v, np.ndarray) else v

    t_ix = tuple(conv(v, torch) for v in ix) if isinstance(ix, tuple) else conv(ix, torch)
    o_ix = tuple(conv(v, tt) for v in ix) if isinstance(ix, tuple) else conv(ix, tt)
    theirs = torch.tensor(X3)
    shape = theirs[t_ix].shape
    val = -3.0 if value == "scalar" else np.arange(float(np.prod(shape)), dtype=np.float32).reshape(shape)
    theirs[t_ix] = torch.tensor(val) if value == "tensor" else val
    ours = Tensor(X3, device=dev)
    ours[o_ix] = Tensor(val, device=dev) if value == "tensor" else val
    assert_close(ours, theirs.numpy(), op=f"setitem {name}", device=dev)


def test_setitem_reads_before_write(dev: str) -> None:
    """x[m] = x[m] * 2 and x[idx] = x[idx2] read the old values (PyTorch evaluates the right side first)."""
    ours, theirs = Tensor(X, device=dev), torch.tensor(X)
    ours[ours > 0] = ours[ours > 0] * 2
    theirs[theirs > 0] = theirs[theirs > 0] * 2
    ours[[0, 1]] = ours[[1, 0]]
    theirs[[0, 1]] = theirs[[1, 0]]
    assert_close(ours, theirs.numpy(), device=dev)


def test_setitem_through_view(dev: str) -> None:
    """An advanced write into a view reaches its base."""
    base, theirs = Tensor(X, device=dev), torch.tensor(X)
    row = base[1]
    row[[0, 3]] = 9.0
    trow = theirs[1]
    trow[[0, 3]] = 9.0
    assert_close(base, theirs.numpy(), device=dev)


# errors --------------------------------------------------------------------------------------------------
def _raises_like(ours: Callable[[], Any], theirs: Callable[[], Any], *words: str) -> None:
    """Both raise; ours an instance of torch's exception class, naming the given words."""
    with pytest.raises(Exception) as ref:
        theirs()
    with pytest.raises(type(ref.value)) as got:
        ours()
    for w in words:
        assert w in str(got.value), f"{w!r} not in {got.value}"


def test_out_of_range_errors(dev: str) -> None:
    x, tx = Tensor(X, device=dev), torch.tensor(X)
    lazy_bad = Tensor(np.array([0, 1]), device=dev) + 3  # computed lazily: still checked (the index is computed)
    _raises_like(lambda: x[lazy_bad], lambda: tx[torch.tensor([3, 4])], "index 3 is out of bounds", "size 3")
    _raises_like(lambda: x[[0, -4]], lambda: tx[[0, -4]], "index -4", "size 3")
    _raises_like(lambda: x[:, [4]], lambda: tx[:, [4]], "index 4", "dimension 1", "size 4")
    _raises_like(lambda: x.gather(1, Tensor(I34, device=dev) + 2), lambda: tx.gather(1, torch.tensor(I34) + 2),
                 "index 5", "size 4")
    _raises_like(lambda: x.gather(1, Tensor(-I34, device=dev) - 1), lambda: tx.gather(1, -torch.tensor(I34) - 1),
                 "index -1")
    _raises_like(lambda: x.scatter(1, Tensor(I34 + 4, device=dev), 1.0), lambda: tx.scatter(1, torch.tensor(I34 + 4),
                 1.0), "index 4", "size 4")
    _raises_like(lambda: x.index_select(0, Tensor([3], device=dev)), lambda: tx.index_select(0, torch.tensor([3])),
                 "index 3")
    _raises_like(lambda: x.take(Tensor([12], device=dev)), lambda: tx.take(torch.tensor([12])), "12")
    ours = Tensor(X, device=dev)
    with pytest.raises(IndexError, match="index 7 is out of bounds"):
        ours[[7]] = 1.0
    assert_close(ours, X, device=dev)  # the failed write left it alone


def test_bad_arguments(dev: str) -> None:
    x, tx = Tensor(X, device=dev), torch.tensor(X)
    _raises_like(lambda: x.gather(1, Tensor([0, 1], device=dev)), lambda: tx.gather(1, torch.tensor([0, 1])),
                 "same number of dimensions")
    _raises_like(lambda: x.gather(1, Tensor(np.zeros((4, 1), np.int64), device=dev)),
                 lambda: tx.gather(1, torch.zeros(4, 1, dtype=torch.long)), "[4, 1]", "[3, 4]")
    _raises_like(lambda: x.gather(1, Tensor(I34.astype(np.float32), device=dev)),
                 lambda: tx.gather(1, torch.tensor(I34, dtype=torch.float)), "int64")
    _raises_like(lambda: x.masked_fill(Tensor(X, device=dev), 0.0), lambda: tx.masked_fill(tx, 0.0),
                 "only supports boolean masks")
    _raises_like(lambda: x.masked_fill(x > 0, Tensor([1.0], device=dev)), lambda: tx.masked_fill(tx > 0,
                 torch.tensor([1.0])), "0-dimensional value tensor")
    _raises_like(lambda: x.index_add(0, Tensor([0], device=dev), Tensor.ones(2, 4, device=dev)),
                 lambda: tx.index_add(0, torch.tensor([0]), torch.ones(2, 4)), "[2, 4]")
    _raises_like(lambda: x[Tensor([True, False], device=dev)], lambda: tx[torch.tensor([True, False])],
                 "shape of the mask", "[2]", "[3, 4]")
    _raises_like(lambda: x.index_select(0, Tensor([[0]], device=dev)), lambda: tx.index_select(0,
                 torch.tensor([[0]])), "vector")
    with pytest.raises(RuntimeError, match="reduce argument must be one of"):
        x.scatter_reduce(1, Tensor(I34, device=dev), Tensor(SRC, device=dev), "max")


# losses and one_hot: class indices are checked even when computed lazily ----------------------------------
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_class_target_out_of_range_raises(fn: str, dev: str) -> None:
    """Silent difference (issue 8): a lazily computed out-of-range class index used to give a loss."""
    logits = Tensor(X, device=dev)
    target = Tensor(np.array([0, 1, 2]), device=dev) + 5  # [5, 6, 7], not yet computed
    theirs = getattr(torch.nn.functional, fn)
    _raises_like(lambda: getattr(F, fn)(logits, target), lambda: theirs(torch.tensor(X), torch.tensor([5, 6, 7])),
                 "Target 5 is out of bounds.")
    neg = Tensor(np.array([0, 1, 1]), device=dev) - 2
    _raises_like(lambda: getattr(F, fn)(logits, neg), lambda: theirs(torch.tensor(X), torch.tensor([-2, -1, -1])),
                 "Target -2 is out of bounds.")
    # ignore_index is allowed outside the range, like PyTorch
    tgt = np.array([0, -100, 3])
    got = getattr(F, fn)(logits, Tensor(tgt, device=dev) * 1)
    assert_close(got, theirs(torch.tensor(X), torch.tensor(tgt)).numpy(), rtol=1e-5, device=dev)


def test_one_hot_requires_int64(dev: str) -> None:
    t32 = Tensor(np.array([0, 2], np.int32), device=dev)
    _raises_like(lambda: F.one_hot(t32, 3), lambda: torch.nn.functional.one_hot(torch.tensor([0, 2],
                 dtype=torch.int32), 3), "one_hot is only applicable to index tensor of type LongTensor")
    got = F.one_hot(t32.long(), 3)
    assert_close(got, torch.nn.functional.one_hot(torch.tensor([0, 2]), 3).numpy(), device=dev)


# multinomial and bernoulli: distributions with a fixed seed ----------------------------------------------
def _chi2_ok(counts: np.ndarray, probs: np.ndarray) -> bool:
    """Pearson's chi-square below the 0.999 quantile for len(probs) - 1 degrees of freedom."""
    from scipy.stats import chi2

    n = counts.sum()
    exp = probs * n
    keep = exp > 0
    stat = float((((counts - exp) ** 2)[keep] / exp[keep]).sum())
    return stat < chi2.ppf(0.999, int(keep.sum()) - 1) and bool((counts[~keep] == 0).all())


def test_multinomial_with_replacement(dev: str) -> None:
    tt.manual_seed(0)
    w = np.array([1.0, 0.0, 3.0, 6.0], np.float32)
    s = Tensor(w, device=dev).multinomial(20000, replacement=True)
    assert s.dtype == tt.int64 and s.shape == (20000,)
    assert _chi2_ok(np.bincount(s.numpy(), minlength=4), w / w.sum())
    rows = tt.multinomial(Tensor(np.stack([w, w[::-1].copy()]), device=dev), 5000, True)
    assert rows.shape == (2, 5000)
    assert _chi2_ok(np.bincount(rows.numpy()[1], minlength=4), w[::-1] / w.sum())


def test_multinomial_without_replacement(dev: str) -> None:
    """Each row has distinct categories; the first draw follows the weights; a full draw is a permutation."""
    tt.manual_seed(1)
    w = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    s = Tensor(np.tile(w, (4000, 1)), device=dev).multinomial(2).numpy()
    assert s.shape == (4000, 2) and (s[:, 0] != s[:, 1]).all()
    assert _chi2_ok(np.bincount(s[:, 0], minlength=4), w / w.sum())
    # second draw: P(j second) = sum_i p_i p_j / (1 - p_i)
    p = w / w.sum()
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j) for j in range(4)])
    assert _chi2_ok(np.bincount(s[:, 1], minlength=4), second)
    full = Tensor(w, device=dev).multinomial(4).numpy()
    assert sorted(full.tolist()) == [0, 1, 2, 3]


def test_multinomial_errors(dev: str) -> None:
    w = Tensor([0.2, 0.8], device=dev)
    _raises_like(lambda: w.multinomial(3), lambda: torch.tensor([0.2, 0.8]).multinomial(3),
                 "cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    _raises_like(lambda: Tensor([-1.0, 2.0], device=dev).multinomial(1), lambda: torch.tensor([-1.0, 2.0]).multinomial(
        1), "probability tensor contains either `inf`, `nan` or element < 0")
    with pytest.raises(RuntimeError, match="not enough non-negative category"):
        Tensor([0.0, 1.0, 0.0], device=dev).multinomial(2)


def test_bernoulli(dev: str) -> None:
    tt.manual_seed(2)
    p = Tensor(np.full(20000, 0.3, np.float32), device=dev)
    b = p.bernoulli().numpy()
    assert set(np.unique(b).tolist()) <= {0.0, 1.0}
    assert _chi2_ok(np.array([(b == 0).sum(), (b == 1).sum()]), np.array([0.7, 0.3]))
    assert tt.bernoulli(Tensor([0.0, 1.0], device=dev)).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("kind", ["mask", "list", "cols", "pair"])
def test_setitem_advanced_in_graph(kind: str, dev: str) -> None:
    """y = f(x); y[index] = v keeps the graph: gradients reach x (zero where overwritten) and v, as in PyTorch."""
    idx: dict[str, Callable[[Any], Any]] = {"mask": lambda t: t > 0, "list": lambda t: [0, 2],
                                            "cols": lambda t: (slice(None), [3, 1]), "pair": lambda t: ([0, 2], [1, 1])}
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    x, tx = Tensor(X, device=dev, requires_grad=True), torch.tensor(X, requires_grad=True)
    v, tv = Tensor(np.float32(1.5), device=dev, requires_grad=True), torch.tensor(1.5, requires_grad=True)
    y, ty = x * 2, tx * 2
    i, ti = idx[kind](y), idx[kind](ty)
    y[i] = v * 3
    ty[ti] = tv * 3
    (y * Tensor(w, device=dev)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    assert_close(y.detach(), ty.detach().numpy(), device=dev)
    assert x.grad is not None and v.grad is not None
    assert_close(x.grad, tx.grad.numpy(), device=dev)
    assert_close(v.grad, tv.grad.numpy(), rtol=1e-5, device=dev)


def test_setitem_advanced_leaf_rules(dev: str) -> None:
    """On a leaf that requires grad an advanced write raises (PyTorch's error); under no_grad it writes."""
    w = Tensor(X, device=dev, requires_grad=True)
    for index in ([0], w > 0):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w[index] = 0.0
    with tt.no_grad():
        w[w > 0] = 0.0
        w[[0, 1], [0, 0]] = Tensor([5.0, 6.0], device=dev)
    ref = torch.tensor(X)
    ref[ref > 0] = 0.0
    ref[[0, 1], [0, 0]] = torch.tensor([5.0, 6.0])
    assert_close(w.detach(), ref.numpy(), device=dev)
    assert w.requires_grad and w.is_leaf


def test_repeated_index_gradients(dev: str) -> None:
    """With repeated indices the last value wins, and every value still gets the gradient of the position it
    lands on (PyTorch's backward of scatter, index_copy and index_put)."""
    idx = np.array([1, 1, 2])
    w = np.arange(4, dtype=np.float32)

    def run(lib: Any, mk: Callable[..., Any]) -> tuple[Any, Any]:
        s = mk(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
        z4, z41 = mk(np.zeros(4, np.float32)), mk(np.zeros((4, 1), np.float32))
        outs = [z4.scatter(0, mk(idx), s), z41.index_copy(0, mk(idx), s.reshape(3, 1)).reshape(4)]
        y = z4 * mk(np.float32(1.0), requires_grad=True)
        y[mk(idx)] = s
        outs.append(y)
        sum((o * mk(w)).sum() for o in outs).backward()
        return [o.detach().numpy() for o in outs], s.grad.numpy()

    got, gg = run(tt, lambda a, **k: Tensor(a, device=dev, **k))
    want, wg = run(torch, lambda a, **k: torch.tensor(a, **k))
    for g, e in zip(got, want):
        assert_close(g, e, device=dev)
    assert_close(gg, wg, device=dev)
