"""Views: random chains of movement ops (hypothesis) and odd shapes, compared with numpy.

A chain is drawn as a list of (op, arg) steps over a random base shape; the same steps are
applied to a Tensor and to a numpy array, sometimes realizing the Tensor mid-chain (so later
ops are views of a real buffer), then the result is realized alone, inside an elementwise
kernel, and inside a reduce. Values are small integers stored as floats, so every comparison
is exact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinytorch as tt
from tinytorch import Tensor, dtypes

from .conftest import assert_close, assert_equal, dirty_memory

# device is a plain string fixture: safe to share across hypothesis examples
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
hyp = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --- the strategy --------------------------------------------------------------------------------
def _factor_shapes(draw: st.DrawFn, n: int) -> tuple[int, ...]:
    """A random shape with n elements (1 to 4 dims, size-1 dims sprinkled in)."""
    if n == 0:
        k = draw(st.integers(1, 3))
        dims = [draw(st.integers(1, 4)) for _ in range(k)]
        dims[draw(st.integers(0, k - 1))] = 0
        return tuple(dims)
    primes, m, p = [], n, 2
    while m > 1:
        while m % p == 0:
            primes.append(p)
            m //= p
        p += 1
    k = draw(st.integers(1, 4))
    dims = [1] * k
    for q in primes:
        dims[draw(st.integers(0, k - 1))] *= q
    return tuple(dims)


@st.composite
def view_chains(draw: st.DrawFn, max_ops: int = 6, allow_zero: bool = False) -> tuple[tuple[int, ...], list]:
    ndim = draw(st.integers(1, 4))
    lo = 0 if allow_zero else 1
    shape = tuple(draw(st.integers(lo, 5)) for _ in range(ndim))
    steps: list[tuple[str, object]] = []
    cur = shape
    for _ in range(draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from(["permute", "reshape", "expand", "shrink", "pad", "flip", "slice", "realize",
                                     "unsqueeze", "squeeze"]))
        nd = len(cur)
        if kind == "permute" and nd > 1:
            order = tuple(draw(st.permutations(range(nd))))
            steps.append(("permute", order))
            cur = tuple(cur[i] for i in order)
        elif kind == "reshape":
            new = _factor_shapes(draw, math.prod(cur))
            if math.prod(new) == math.prod(cur):
                steps.append(("reshape", new))
                cur = new
        elif kind == "expand" and 1 in cur:
            new = tuple(draw(st.integers(1, 3)) if d == 1 else d for d in cur)
            lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
            steps.append(("expand", lead + new))
            cur = lead + new
        elif kind == "shrink" and nd:
            arg = []
            for d in cur:
                b = draw(st.integers(0, d))
                e = draw(st.integers(b, d))
                arg.append((b, e))
            steps.append(("shrink", tuple(arg)))
            cur = tuple(e - b for b, e in arg)
        elif kind == "pad" and nd:
            pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in cur)
            steps.append(("pad", pads))
            cur = tuple(d + b + e for d, (b, e) in zip(cur, pads))
        elif kind == "flip" and nd:
            axes = tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))
            steps.append(("flip", axes))
        elif kind == "slice" and nd:
            sl = []
            for d in cur:
                step = draw(st.sampled_from([1, 2, 3, -1, -2]))
                start = draw(st.one_of(st.none(), st.integers(-d - 1, d + 1)))
                stop = draw(st.one_of(st.none(), st.integers(-d - 1, d + 1)))
                sl.append(slice(start, stop, step))
            steps.append(("slice", tuple(sl)))
            cur = tuple(len(range(*s.indices(d))) for s, d in zip(sl, cur))
        elif kind == "realize":
            steps.append(("realize", None))
        elif kind == "unsqueeze":
            d = draw(st.integers(0, nd))
            steps.append(("unsqueeze", d))
            cur = cur[:d] + (1,) + cur[d:]
        elif kind == "squeeze" and 1 in cur:
            steps.append(("squeeze", None))
            cur = tuple(d for d in cur if d != 1)
    return shape, steps


def apply_np(a: np.ndarray, steps: list) -> np.ndarray:
    for op, arg in steps:
        if op == "permute":
            a = a.transpose(arg)
        elif op == "reshape":
            a = a.reshape(arg)
        elif op == "expand":
            a = np.broadcast_to(a, arg)
        elif op == "shrink":
            a = a[tuple(slice(b, e) for b, e in arg)]
        elif op == "pad":
            a = np.pad(a, arg)
        elif op == "flip":
            a = np.flip(a, arg)
        elif op == "slice":
            a = a[arg]
        elif op == "unsqueeze":
            a = np.expand_dims(a, arg)
        elif op == "squeeze":
            a = a.reshape(tuple(d for d in a.shape if d != 1))
    return a


def apply_tt(t: Tensor, steps: list) -> Tensor:
    for op, arg in steps:
        if op == "permute":
            t = t.permute(*arg)
        elif op == "reshape":
            t = t.reshape(*arg)
        elif op == "expand":
            t = t.expand(*arg)
        elif op == "shrink":
            t = t[tuple(slice(b, e) for b, e in arg)]
        elif op == "pad":
            t = t.pad(tuple(p for b, e in reversed(arg) for p in (b, e)))
        elif op == "flip":
            t = t.flip(*arg)
        elif op == "slice":
            t = t[arg]
        elif op == "realize":
            t = t.realize()
        elif op == "unsqueeze":
            t = t.unsqueeze(arg)
        elif op == "squeeze":
            t = t.squeeze()
    return t


def base(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """Distinct small integers (exact in every dtype we test), none of them zero (so a pad is visible)."""
    n = math.prod(shape)
    return (np.arange(n) % 97 + 1).astype(dtype).reshape(shape)


def describe(shape: tuple[int, ...], steps: list) -> str:
    return f"{shape} -> " + " -> ".join(f"{op}{'' if arg is None else arg}" for op, arg in steps)


# --- property tests ------------------------------------------------------------------------------
@hyp
@given(chain=view_chains())
def test_view_chain_matches_numpy(device: str, chain) -> None:
    shape, steps = chain
    a = base(shape)
    got = apply_tt(Tensor(a, device=device), steps)
    want = apply_np(a, steps)
    assert got.shape == want.shape, f"{describe(shape, steps)}: shape {got.shape}, numpy {want.shape}"
    assert_equal(got, want, describe(shape, steps), shape, device)


@hyp
@given(chain=view_chains(), realize_base=st.booleans())
def test_view_chain_in_elementwise_kernel(device: str, chain, realize_base: bool) -> None:
    """The view is read inside a kernel (through its index expression), combined with a flipped copy."""
    shape, steps = chain
    a = base(shape)
    t = Tensor(a, device=device)
    if realize_base:
        t = t.realize()
    v = apply_tt(t, steps)
    w = apply_np(a, steps)
    flip_axes = tuple(range(w.ndim))
    got = v * 3 - v.flip(*flip_axes) if w.ndim else v * 3 - v
    want = w * 3 - (np.flip(w, flip_axes) if w.ndim else w)
    assert_equal(got, want, "3*v - flip(v) for " + describe(shape, steps), shape, device)


@hyp
@given(chain=view_chains(max_ops=4), data=st.data())
def test_view_chain_in_reduce(device: str, chain, data) -> None:
    shape, steps = chain
    a = base(shape)
    v = apply_tt(Tensor(a, device=device), steps)
    w = apply_np(a, steps)
    if w.ndim == 0:
        axes = None
    else:
        axes = tuple(sorted(data.draw(st.lists(st.integers(0, w.ndim - 1), min_size=1, max_size=w.ndim,
                                               unique=True), label="axes")))
    keep = data.draw(st.booleans(), label="keepdim")
    desc = f"sum{axes} keepdim={keep} of " + describe(shape, steps)
    assert_close(v.sum(axes, keepdim=keep), np.sum(w, axis=axes, keepdims=keep), desc, shape, device)
    if w.size and w.ndim:
        assert_equal(v.amax(axes, keepdim=keep), np.max(w, axis=axes, keepdims=keep), "max " + desc, shape, device)


@hyp
@given(chain=view_chains(max_ops=4, allow_zero=True),
       dt=st.sampled_from([dtypes.float16, dtypes.bfloat16, dtypes.int8, dtypes.uint8, dtypes.int64, dtypes.bool,
                           dtypes.float64]))
def test_view_chain_other_dtypes_and_empty(device: str, chain, dt) -> None:
    """1-, 2- and 8-byte elements through the same index arithmetic; size-0 dims allowed."""
    shape, steps = chain
    a = (base(shape, np.int64) % 50).astype(dt.np if dt != dtypes.bfloat16 else np.float32)
    if dt.is_bool:
        a = base(shape, np.int64) % 3 == 0
    got = apply_tt(Tensor(a, dtype=dt, device=device), steps)
    want = apply_np(a, steps)
    assert got.dtype == dt
    assert_equal(got.contiguous(), want, describe(shape, steps), shape, device)


@hyp
@given(chain_a=view_chains(max_ops=3), chain_b=view_chains(max_ops=3))
def test_two_views_broadcast_together(device: str, chain_a, chain_b) -> None:
    """Two independently viewed tensors meet in one kernel when their shapes broadcast."""
    (sa, steps_a), (sb, steps_b) = chain_a, chain_b
    a, b = base(sa), base(sb) * 10
    wa, wb = apply_np(a, steps_a), apply_np(b, steps_b)
    try:
        want = wa + wb
    except ValueError:
        with pytest.raises(ValueError, match="broadcast"):
            apply_tt(Tensor(a, device=device), steps_a) + apply_tt(Tensor(b, device=device), steps_b)
        return
    got = apply_tt(Tensor(a, device=device), steps_a) + apply_tt(Tensor(b, device=device), steps_b)
    assert_equal(got, want, describe(sa, steps_a) + " + " + describe(sb, steps_b), (sa, sb), device)


# --- explicit edge shapes --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 5), (2, 0, 1)], ids=lambda s: "x".join(map(str, s)))
def test_size_zero(shape, device: str) -> None:
    a = np.zeros(shape, np.float32)
    x = Tensor(a, device=device)
    dirty_memory(device, shape[:-1], shape[:-1])
    assert_equal(x.sum(-1), a.sum(-1), "sum last", shape, device)
    assert_equal(x + 1, a + 1, "add", shape, device)
    assert_equal((x * 2).exp(), np.exp(a * 2), "exp", shape, device)
    assert_equal(x.permute(*reversed(range(len(shape)))), a.T, "permute", shape, device)
    assert_equal(x.reshape(-1), a.reshape(-1), "reshape", shape, device)
    assert_equal(x.pad((1, 2)), np.pad(a, [(0, 0)] * (len(shape) - 1) + [(1, 2)]), "pad", shape, device)
    assert_equal(tt.cat([x, x], 0), np.concatenate([a, a]), "cat", shape, device)
    y = Tensor(np.ones((1, *shape[1:]), np.float32), device=device)
    assert_equal(tt.cat([x, y], 0), np.concatenate([a, np.ones((1, *shape[1:]), np.float32)]), "cat empty+1",
                 shape, device)


def test_size_zero_reductions(device: str) -> None:
    a = np.ones((3, 0), np.float32)
    x = Tensor(a, device=device)
    dirty_memory(device, (3,), (3,))
    assert_equal(x.sum(1), np.zeros(3, np.float32), "sum over empty axis", (3, 0), device)
    assert_equal(x.prod(1), np.ones(3, np.float32), "prod over empty axis", (3, 0), device)
    assert_equal(x.sum(0), np.zeros(0, np.float32), "sum of empty", (3, 0), device)
    assert_equal(x.any(1), np.zeros(3, bool), "any over empty axis", (3, 0), device)
    assert_equal(x.all(1), np.ones(3, bool), "all over empty axis", (3, 0), device)
    assert x.mean(1).shape == (3,) and np.isnan(x.mean(1).numpy()).all()
    with pytest.raises(RuntimeError, match=r"max.*zero-size|zero-size.*max"):
        x.amax(1)
    with pytest.raises(IndexError, match=r"max.*non-zero size"):
        x.max(1)


BUG_EMPTY_AXES = ("core: C/LLVM sum of a (2, 0, 0) tensor over both empty axes writes only the first output "
                  "element (the rest is whatever memory held)")


def test_sum_over_several_empty_axes(device: str) -> None:
    y = Tensor(np.ones((2, 0, 0), np.float32), device=device)
    dirty_memory(device, (2,), (2,))
    assert_equal(y.sum((1, 2)), np.zeros(2, np.float32), "sum over two empty axes", (2, 0, 0), device)
    dirty_memory(device, (2,), (2,))
    assert_equal(y.sum((1, 2), keepdim=True), np.zeros((2, 1, 1), np.float32), "sum keepdim", (2, 0, 0), device)
    dirty_memory(device, (), ())
    assert_equal(y.sum(), np.float32(0), "sum all", (2, 0, 0), device)


@pytest.mark.parametrize("shape", [(1,), (1, 1, 1), (1, 5), (5, 1)], ids=str)
def test_size_one(shape, device: str) -> None:
    a = base(shape)
    x = Tensor(a, device=device)
    big = (4,) + tuple(3 if d == 1 else d for d in shape)
    assert_equal(x.expand(*big), np.broadcast_to(a, big), "expand", shape, device)
    assert_equal(x.expand(*big) * 2 + x, np.broadcast_to(a, big) * 2 + a, "expand+add", shape, device)
    assert_equal(x.sum(), np.float32(a.sum()), "sum", shape, device)
    assert_equal(x.amax(0, keepdim=True), a.max(0, keepdims=True), "max", shape, device)
    assert_equal(x.squeeze(), a.squeeze(), "squeeze", shape, device)
    assert_equal(x[..., None], a[..., None], "None index", shape, device)


@pytest.mark.parametrize("shape", [(7,), (13, 17), (3, 5, 7), (31, 37)], ids=str)
def test_prime_shapes(shape, device: str) -> None:
    a = base(shape)
    x = Tensor(a, device=device)
    rev = tuple(reversed(range(len(shape))))
    assert_equal(x * 2 + 1, a * 2 + 1, "elementwise", shape, device)
    assert_equal(x.permute(*rev) + 1, a.transpose(rev) + 1, "permute+add", shape, device)
    for ax in range(len(shape)):
        assert_close(x.sum(ax), a.sum(ax), f"sum({ax})", shape, device)
        assert_equal(x.max(ax).values, a.max(ax), f"max({ax})", shape, device)
    assert_equal(x[::3], a[::3], "step slice", shape, device)
    assert_equal(x.flip(0), np.flip(a, 0), "flip", shape, device)


def test_prime_matmul(device: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((13, 17)).astype(np.float32)
    b = rng.standard_normal((17, 19)).astype(np.float32)
    got = Tensor(a, device=device) @ Tensor(b, device=device)
    assert_close(got, a.astype(np.float64) @ b, "matmul", ((13, 17), (17, 19)), device, rtol=1e-5,
                 atol=1.2e-7 * 4 * (np.abs(a) @ np.abs(b)))


def test_72x73x74(device: str) -> None:
    """Sizes that are multiples of no vector width or tile size."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((72, 73, 74)).astype(np.float32)
    b = rng.standard_normal((73, 1)).astype(np.float32)
    x, y = Tensor(a, device=device), Tensor(b, device=device)
    a64 = a.astype(np.float64)
    shape = (72, 73, 74)
    assert_close(x + y, a + b, "add broadcast", shape, device)
    assert_close((x * 2).relu() - y, np.maximum(a * 2, 0) - b, "chain", shape, device)
    assert_close(x.permute(2, 0, 1) * 3, a.transpose(2, 0, 1) * 3, "permute", shape, device)
    for axes in [0, 1, 2, (0, 2), None]:
        # a float32 sum of mixed signs is accurate to ~eps * sum|x| (not to eps * |sum x|)
        assert_close(x.sum(axes), a64.sum(axes), f"sum{axes}", shape, device, rtol=1e-5,
                     atol=1.2e-7 * np.abs(a64).sum(axes))
    assert_close(x.amax(1), a.max(1), "max(1)", shape, device)
    assert_close(x.softmax(-1), np.exp(a64 - a64.max(-1, keepdims=True)) /
                 np.exp(a64 - a64.max(-1, keepdims=True)).sum(-1, keepdims=True), "softmax", shape, device,
                 rtol=4e-5)
    m, n = np.ascontiguousarray(a[:, :, 0]), rng.standard_normal((73, 74)).astype(np.float32)
    assert_close(Tensor(m, device=device) @ Tensor(n, device=device), m.astype(np.float64) @ n, "matmul 72x73x74",
                 ((72, 73), (73, 74)), device, rtol=1e-5, atol=1.2e-7 * 4 * (np.abs(m) @ np.abs(n)))
    assert_equal(x[::7, 1::5, ::-3], a[::7, 1::5, ::-3], "strided slice", shape, device)


@pytest.mark.slow
def test_large_transpose_add_reduce(device: str) -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2048, 2053)).astype(np.float32)
    b = rng.standard_normal((2053, 2048)).astype(np.float32)
    x, y = Tensor(a, device=device), Tensor(b, device=device)
    out = x + y.T
    assert_close(out, a + b.T, "transpose add", (2048, 2053), device)
    s = out.sum(0)
    ref = (a.astype(np.float64) + b.T).sum(0)
    assert_close(s, ref, "column sums", (2048, 2053), device, rtol=1e-5,
                 atol=1.2e-7 * np.abs(a.astype(np.float64) + b.T).sum(0))


# --- in-place writes through views, against PyTorch's eager semantics ---------------------------------
def _base(lib: Any, device: str) -> Any:
    a = np.arange(30, dtype=np.float32).reshape(5, 6)
    if lib is tt:
        return Tensor(a, device=device).realize()
    import torch

    return torch.tensor(a)


# each case runs the same code on a tinytorch tensor and on a torch tensor, and returns the tensors to
# compare; values are read only at the end, so a write that has not reached a view shows
WRITE_CASES: dict[str, Any] = {
    "slice_iadd_read_base": lambda b: (v := b[1:3], v.__iadd__(1), b, b * 2, v)[2:],
    "slice_iadd_twice_then_other_view": lambda b: (v := b[1:3], v.__iadd__(1), v.__iadd__(1),
                                                   w := b[0:2], w.__imul__(2), b, v, w)[5:],
    "step_slice_iadd_odd_dim": lambda b: (v := b[::2], v.__iadd__(1), b, v)[2:],
    "step_slice_both_dims": lambda b: (v := b[1::2, ::3], v.__isub__(100), b, v.sum())[2:],
    "setitem_step_slice": lambda b: (b.__setitem__((slice(None, None, 2), slice(1, None, 4)), -1.0), b)[1:],
    "setitem_slice_scalar": lambda b: (b.__setitem__(slice(1, 3), 5.0), b)[1:],
    "permute_iadd": lambda b: (v := b.permute(1, 0), v.__iadd__(1), b, v)[2:],
    "transpose_setitem_row": lambda b: (v := b.T, v.__setitem__(0, 7.0), b, v)[2:],
    "reshape_iadd_row": lambda b: (v := b.reshape(3, 10), w := v[0], w.__iadd__(1), b, v)[3:],
    "chained_views_iadd": lambda b: (v := b[1:][::2], v.__iadd__(1), b, v)[2:],
    "view_of_view_iadd": lambda b: (v := b[1:4], w := v[:, ::2], w.__iadd__(10), b, v, w)[3:],
    "base_iadd_read_view": lambda b: (v := b[1:3], b.__iadd__(1), v, v * 3, b)[2:],
    "base_setitem_read_view": lambda b: (v := b[1:3], b.__setitem__((1, 1), 100.0), v, v + 0, b)[2:],
    "readers_before_see_old": lambda b: (v := b[:, 1:3], y := v * 1, s := b.sum(), v.__iadd__(1), y, s,
                                         b.sum(), b)[4:],
    "write_value_reads_other_view": lambda b: (v := b[1:], v.__iadd__(b[:-1] * 1), b, v)[2:],
    "int_row_of_reshape": lambda b: (v := b.reshape(30)[5:11], v.__imul__(-1), b)[2:],
}


@pytest.mark.parametrize("case", list(WRITE_CASES))
def test_inplace_write_through_view_like_torch(case: str, device: str) -> None:
    fn = WRITE_CASES[case]
    got = fn(_base(tt, device))
    want = fn(_base(__import__("torch"), device))
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_equal(g, w.numpy(), f"{case} result {i}", (5, 6), device)


@pytest.mark.parametrize("name,write", [
    ("setitem_all", lambda b: b.__setitem__(Ellipsis, b.zeros_like())),
    ("setitem_column", lambda b: b.__setitem__((slice(None), 0), 5.0)),
    ("iadd", lambda b: b.__iadd__(1)),
    ("setitem_rows", lambda b: b.__setitem__(slice(0, 2), 7.0)),
])
def test_write_through_expanded_view_raises_like_torch(name, write, device: str) -> None:
    """Two elements of the written view share memory: PyTorch refuses, and so do we (the last row
    written must not silently win)."""
    import torch

    a = Tensor(np.arange(4, dtype=np.float32), device=device).realize()
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single "
                                           "memory location"):
        write(a.expand(3, 4))
    ta = torch.arange(4.0)
    tb = ta.expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        write(_TorchShim(tb))
    assert_equal(a, np.arange(4, dtype=np.float32), f"expanded {name} left the base alone", (4,), device)


class _TorchShim:
    """Runs a test's write on a torch tensor (a tinytorch value argument becomes a torch tensor)."""

    def __init__(self, t: Any):
        self.t = t

    def zeros_like(self) -> Any:
        import torch

        return torch.zeros_like(self.t)

    def __setitem__(self, idx: Any, v: Any) -> None:
        self.t[idx] = v

    def __iadd__(self, v: Any) -> Any:
        self.t += v
        return self


def test_row_of_expanded_view_writes_its_base_like_torch(device: str) -> None:
    """One row of an expanded view has no repeated element: PyTorch writes it into the base."""
    import torch

    a = Tensor(np.arange(4, dtype=np.float32), device=device).realize()
    b = a.expand(3, 4)
    b[0] = 1.0
    ta = torch.arange(4.0)
    ta.expand(3, 4)[0] = 1.0
    assert_equal(a, ta.numpy(), "expand(3, 4)[0] = 1", (4,), device)
    assert_equal(b, ta.expand(3, 4).numpy(), "the expanded view after the write", (3, 4), device)


def test_write_through_padded_view_raises(device: str) -> None:
    a = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device=device).realize()
    with pytest.raises(RuntimeError, match="padding"):
        a.pad((1, 1))[0] = 1.0
    assert_equal(a, np.arange(6, dtype=np.float32).reshape(2, 3), "base untouched", (2, 3), device)
