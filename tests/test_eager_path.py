"""The eager path's shortcuts give what the general path gives.

Elementwise ops on same-shape operands and Python numbers build their UOps directly, interned DTypes
and devices compare by identity, the intern table keys sources by id and sweeps dead entries, and a
cached plan's kernels run in one launcher call over a table of buffer pointers. Each test compares a
shortcut with the general rule it stands for (UOps are interned: equal graphs are the same object),
or the values with numpy/torch.
"""

from __future__ import annotations

import copy
import gc
import math

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import dtypes
from tinytorch.engine import realize as R
from tinytorch.errors import TensorValueError
from tinytorch.ops import uop as U
from tinytorch.ops.uop import Ops, UOp
from tinytorch.tensor.common import _broadcast_pair
from tinytorch.tensor.linalg import _mm_direct

from .conftest import close_to_torch


def _general(a: tt.Tensor, b: object, op: Ops) -> UOp:
    """The UOp the general rule (promotion + broadcast through tensors) builds for a <op> b."""
    x, y = _broadcast_pair(a, b, "test")
    return UOp(op, dtypes.bool if op in (Ops.CMPLT, Ops.CMPNE) else x.dtype, (x.uop, y.uop))


@pytest.mark.parametrize("dt", [tt.float32, tt.float64, tt.float16])
@pytest.mark.parametrize("other", [2.5, -0.0, 3, float("nan"), float("inf")])
def test_number_operand_builds_the_general_graph(dt: object, other: object) -> None:
    a = tt.arange(6, dtype=dt).reshape(2, 3)
    assert (a + other).uop is _general(a, other, Ops.ADD)
    assert (a * other).uop is _general(a, other, Ops.MUL)
    assert (a < other).uop is _general(a, other, Ops.CMPLT)
    assert (other + a).uop is UOp(Ops.ADD, a.dtype, (_general(a, other, Ops.ADD).src[1], a.uop))


def test_cached_constants_keep_the_sign_of_zero_and_nan() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([1.0, -2.0, 0.0], np.float32)
    for v in (0.0, -0.0, np.float64(-0.0), np.float64(0.0), np.float32(-0.0), float("nan"), np.float64("nan")):
        close_to_torch(tt.tensor(x) * v, torch.tensor(x) * float(v))
        assert np.signbit(tt.full((2,), v).numpy()).tolist() == [bool(np.signbit(v))] * 2


def test_repeated_factory_calls_give_what_the_general_path_gives() -> None:
    """full / zeros / ones remember plain calls (creation._FILLED): a repeat gives the node, dtype and device the checks
    give, and the remembered call depends on everything that decides them (the value's type and sign bit, the
    default dtype and device)."""
    from tinytorch.tensor import creation

    calls = [lambda: tt.ones(3), lambda: tt.zeros(2, 3), lambda: tt.zeros((2, 3)), lambda: tt.full((2,), -0.0),
             lambda: tt.full((2,), 0.0), lambda: tt.full(2, 0), lambda: tt.full(2, False), lambda: tt.full(2, math.nan),
             lambda: tt.ones(3, device="INTERP"), lambda: tt.ones([2, 2])]
    for _ in range(2):
        for default in (tt.float64, tt.float32):
            tt.set_default_dtype(default)
            try:
                firsts = [f() for f in calls]
                for f, first in zip(calls, firsts):
                    again = f()
                    assert again.uop is first.uop and again.dtype == first.dtype and again.device == first.device
                    creation._FILLED.clear()
                    assert f().uop is first.uop
            finally:
                tt.set_default_dtype(tt.float32)
            assert [t.dtype for t in firsts[:5]] == [default] * 5
            assert [t.dtype for t in firsts[5:7]] == [tt.int64, tt.bool]
            assert np.signbit(firsts[3].numpy()).all() and not np.signbit(firsts[4].numpy()).any()
            assert np.isnan(firsts[7].numpy()).all() and str(firsts[8].device) == "INTERP"
    with pytest.raises(TensorValueError):
        tt.ones(-1)
    with pytest.raises(TensorValueError):
        tt.ones(-1)  # (a failed call is not remembered)


def test_same_shape_operand_builds_the_general_graph() -> None:
    a, b = tt.randn(3, 4), tt.randn(3, 4)
    assert (a + b).uop is _general(a, b, Ops.ADD)
    assert (a * b).uop is _general(a, b, Ops.MUL)
    assert (a - b).uop is UOp(Ops.ADD, a.dtype, (a.uop, UOp(Ops.NEG, a.dtype, (b.uop,))))
    assert (a / b).uop is UOp(Ops.MUL, a.dtype, (a.uop, UOp(Ops.RECIPROCAL, a.dtype, (b.uop,))))
    assert (a - b).uop is a._binop(Ops.ADD, b.neg()).uop and (a / b).uop is a._binop(Ops.MUL, b.reciprocal()).uop
    assert a.exp().uop is a.mul(1 / np.log(2)).exp2().uop
    # operands that require grad: the same graph and gradients; under no_grad the general rule (it detaches)
    x, y = tt.randn(3, 4, requires_grad=True), tt.randn(3, 4, requires_grad=True)
    assert (x - y).uop is x._binop(Ops.ADD, y.neg()).uop and (x - y).requires_grad
    ((x - y) * (x / y) + x.exp()).sum().backward()
    xn, yn = x.detach().numpy().astype(np.float64), y.detach().numpy().astype(np.float64)
    assert np.allclose(x.grad.numpy(), xn / yn + (xn - yn) / yn + np.exp(xn), rtol=1e-4)
    assert np.allclose(y.grad.numpy(), -xn / yn - (xn - yn) * xn / yn**2, rtol=1e-4)
    with tt.no_grad():
        for t in (x - y, x / y, x.exp()):
            assert not t.requires_grad


def test_shortcuts_keep_promotion_and_broadcasting() -> None:
    torch = pytest.importorskip("torch")
    cases = [
        (np.arange(6, dtype=np.int32).reshape(2, 3), 2.5),  # int tensor * float -> float32
        (np.arange(6, dtype=np.float32).reshape(2, 3), np.float64(2.0)),
        (np.arange(3, dtype=np.float32), np.arange(6, dtype=np.float32).reshape(2, 3)),  # broadcast
        (np.arange(6, dtype=np.float16).reshape(2, 3), 3),
    ]
    for x, y in cases:
        tx, ty = tt.tensor(x), tt.tensor(y) if isinstance(y, np.ndarray) else y
        rx, ry = torch.tensor(x), torch.tensor(y) if isinstance(y, np.ndarray) else y
        for f in (lambda p, q: p + q, lambda p, q: p * q, lambda p, q: p - q, lambda p, q: p / q,
                  lambda p, q: q - p, lambda p, q: q / p):
            got, want = f(tx, ty), f(rx, ry)
            assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
            close_to_torch(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("shape,small", [((3,), ()), ((2, 3), ()), ((1, 1), ()), ((2, 3), (3,)), ((4, 3), (1, 3)),
                                         ((4, 3), (4, 1)), ((2, 4, 3), (4, 1)), ((2, 1, 3), (1, 1, 3)),
                                         ((2, 3), (2, 1, 1)), ((2, 1), (3,))])
def test_broadcast_tensor_operand_builds_the_general_graph(shape: tuple[int, ...], small: tuple[int, ...]) -> None:
    """An operand that broadcasts to the other's shape (a bias, a learning rate) builds the general rule's nodes,
    with it on either side; shapes where both sides grow ((2, 1) with (3,)) take the general rule."""
    a, s = tt.randn(*shape), tt.randn(*small) if small else tt.tensor(0.5)
    for op, f in ((Ops.ADD, lambda p, q: p + q), (Ops.MUL, lambda p, q: p * q), (Ops.CMPLT, lambda p, q: p < q)):
        assert f(a, s).uop is _general(a, s, op)
        y, x = _broadcast_pair(s, a, "test")  # the small operand on the left
        assert f(s, a).uop is UOp(op, dtypes.bool if op is Ops.CMPLT else a.dtype, (y.uop, x.uop))
        assert np.allclose(f(a, s).numpy(), f(a.numpy(), s.numpy()))
    for name, f in (("sub", lambda p, q: p - q), ("div", lambda p, q: p / q)):  # built as ADD(NEG) and MUL(RECIPROCAL)
        for p, q in ((a, s), (s, a)):
            x, y = _broadcast_pair(p, q, name)
            op, inv = (Ops.ADD, Ops.NEG) if name == "sub" else (Ops.MUL, Ops.RECIPROCAL)
            assert f(p, q).uop is UOp(op, a.dtype, (x.uop, UOp(inv, a.dtype, (y.uop,)))), name
            assert np.allclose(f(p, q).numpy(), f(p.numpy(), q.numpy()), equal_nan=True)
    shape = small if len(small) > len(shape) else shape
    # operands that require grad take the shortcut too (the training case), gradients flow to both, and under
    # no_grad the result is cut from the graph as the general rule does
    w = tt.tensor(2.0, requires_grad=True)
    x = tt.randn(*shape, requires_grad=True)
    assert (x * w).uop is _general(x, w, Ops.MUL) and (x * w).requires_grad
    (x * w).sum().backward()
    assert np.allclose(w.grad.numpy(), x.detach().numpy().sum()) and np.allclose(x.grad.numpy(), 2.0)
    with tt.no_grad():
        assert not (x * w).requires_grad


def test_eager_matmul_builds_the_general_graph() -> None:
    """An eager 2-D float matmul builds the UOps of (a.reshape(n, 1, k) * b.T.reshape(1, m, k)).sum(-1)."""
    rng = np.random.default_rng(0)
    for (n, k, m) in [(1, 1, 1), (1, 5, 1), (3, 1, 4), (1, 7, 9), (9, 7, 1), (16, 32, 8)]:
        for dt in (tt.float32, tt.float64):
            for transposed in (False, True):
                for rg in ((False, False), (True, False), (False, True), (True, True)):
                    x = tt.tensor(rng.standard_normal((n, k)), dtype=dt, requires_grad=rg[0])
                    y = tt.tensor(rng.standard_normal((m, k) if transposed else (k, m)), dtype=dt,
                                  requires_grad=rg[1])
                    if transposed:
                        y = y.T
                    got = _mm_direct(x, y, n, k, m)
                    want = (x.reshape(n, 1, k) * y.T.reshape(1, m, k)).sum(-1)
                    assert got.uop is want.uop, (n, k, m, dt, transposed, rg)
                    assert got.requires_grad == want.requires_grad
                    with tt.no_grad():
                        got_ng = _mm_direct(x, y, n, k, m)
                        want_ng = (x.reshape(n, 1, k) * y.T.reshape(1, m, k)).sum(-1)
                    assert not got_ng.requires_grad and not want_ng.requires_grad
                    assert np.allclose(got_ng.numpy(), want_ng.numpy())
                    # against the float64 product: float32 sums of 32 terms in another order differ by a few
                    # ulps of the terms, more than rtol=1e-5 of an output near 0
                    ref = x.detach().numpy().astype(np.float64) @ y.detach().numpy().astype(np.float64)
                    atol = 1e-5 if dt == tt.float32 else 1e-12
                    assert np.allclose((x @ y).numpy(), ref, rtol=1e-5, atol=atol), (n, k, m, dt, transposed, rg)


def test_adam_builds_the_factors_a_group_shares_once_per_step() -> None:
    """The graph of 1 - beta1, log2(beta1), ... is built once per step() for all of a group's parameters,
    and each parameter's update reads the same nodes (checked by the values against torch elsewhere)."""
    from tinytorch.optim import Adam

    ps = [tt.randn(3, 4, requires_grad=True), tt.randn(4, requires_grad=True), tt.randn(2, requires_grad=True)]
    opt = Adam(ps, lr=0.01)
    calls = []
    real = opt.shared

    def counting(key: object, build: object) -> object:
        calls.append(key)
        return real(key, build)  # type: ignore[arg-type]
    opt.shared = counting  # type: ignore[method-assign]
    for _ in range(2):
        for p in ps:
            p.grad = tt.ones(*p.shape)
        opt.step()
    assert len(calls) == 6 and len(set(calls)) == 1 and len(opt._shared) == 1
    assert all(np.isfinite(p.numpy()).all() for p in ps)


def test_mixed_dtypes_and_devices_take_the_general_path() -> None:
    a = tt.ones(3, dtype=tt.float32)
    assert (a + tt.ones(3, dtype=tt.float64)).dtype == tt.float64
    assert (a + tt.ones(3, dtype=tt.int64)).dtype == tt.float32
    assert (a * tt.tensor(2.0, dtype=tt.float64)).dtype == tt.float32  # a 0-d tensor does not widen
    with pytest.raises(Exception, match="broadcast"):
        a + tt.ones(4)


def test_relu_keeps_nan_and_zero_gradient_at_zero() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, 0.0, 2.0, np.nan, -0.0, np.inf], np.float32)
    t = tt.tensor(x, requires_grad=True)
    r = torch.tensor(x, requires_grad=True)
    out, ref = t.relu(), r.relu()
    close_to_torch(out, ref)
    out.sum().backward()
    ref.sum().backward()
    close_to_torch(t.grad, r.grad)
    assert tt.tensor([-3, 0, 4]).relu().tolist() == [0, 0, 4]  # integers take the composition


def test_dtypes_are_interned() -> None:
    assert dtypes.float32.vec(8) is dtypes.float32.vec(8)
    assert dtypes.float32.ptr() is dtypes.float32.ptr()
    assert copy.deepcopy(dtypes.float16) is dtypes.float16 and copy.copy(dtypes.int8) is dtypes.int8
    assert tt.float32 == dtypes.float32 and hash(tt.float32) == hash(dtypes.float32)
    assert dtypes.float32.vec(4) != dtypes.float32.vec(8)


def test_default_device_object_is_shared() -> None:
    assert tt.ones(2).device is tt.zeros(3).device is tt.full((1,), 2.0).device
    assert tt.ones(2).device == "cpu"


def test_intern_table_forgets_dead_nodes_and_never_confuses_new_ones() -> None:
    base = tt.randn(4).realize()
    vals = []
    for i in range(100):  # many short-lived graphs whose node ids get reused
        vals.append(((base + float(i)) * 2.0).numpy()[0])
        if i % 10 == 0:
            gc.collect()
    assert np.allclose(vals, [(base.numpy()[0] + i) * 2.0 for i in range(100)], rtol=1e-6)
    assert all(r() is not None for r in list(U._cache.values()))


def test_eager_realize_of_a_cached_plan_runs_in_one_launcher_call() -> None:
    from tinytorch.runtime import launch

    if launch.library() is None or tt.Tensor([1.0]).device.name not in ("C", "LLVM"):
        pytest.skip("the launcher needs a C compiler")
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((8, 16)).astype(np.float32) for _ in range(4)]

    def step(x: np.ndarray) -> np.ndarray:
        t = tt.tensor(x)
        return ((t * 2.0 + 1.0).relu().sum(1) / 3.0).numpy()

    step(xs[0])
    step(xs[1])  # the second run binds the plan
    runs: list[int] = []
    orig = R.BoundPlan.run

    def counting(self: R.BoundPlan, inputs: list, new: list) -> None:
        runs.append(self.count)
        orig(self, inputs, new)

    R.BoundPlan.run = counting  # type: ignore[method-assign]
    try:
        got = [step(x) for x in xs]
    finally:
        R.BoundPlan.run = orig  # type: ignore[method-assign]
    assert runs and all(c >= 1 for c in runs)
    for x, g in zip(xs, got):
        np.testing.assert_allclose(g, np.maximum(x * 2 + 1, 0).sum(1) / 3, rtol=1e-5)


def test_bound_plan_with_many_buffers_and_threads() -> None:
    """A kernel of more than 64 buffers takes them packed in one array; a large kernel runs on threads."""
    from tinytorch.runtime import launch

    if launch.library() is None:
        pytest.skip("the launcher needs a C compiler")
    rng = np.random.default_rng(1)
    for _ in range(3):  # the third realize of the same structure runs bound
        arrs = [rng.standard_normal(8).astype(np.float32) for _ in range(70)]
        ts = [tt.tensor(a) for a in arrs]
        total = ts[0]
        for t in ts[1:]:
            total = total + t
        np.testing.assert_allclose(total.numpy(), np.sum(arrs, axis=0), rtol=1e-4, atol=1e-5)
    for _ in range(3):
        big = rng.standard_normal(1 << 21).astype(np.float32)
        np.testing.assert_allclose((tt.tensor(big) * 3.0 + 1.0).numpy(), big * 3 + 1, rtol=1e-6, atol=1e-6)


def test_shortcuts_are_taken_for_tensors_that_require_grad(monkeypatch: pytest.MonkeyPatch) -> None:
    """A training step's matmuls and 0-d operands (weights that require grad) build their UOps directly: the
    general rule's Tensor ops are not called."""
    from tinytorch.tensor import common, elementwise

    calls = []
    real = common._broadcast_pair

    def counting(*args: object, **kw: object) -> object:
        calls.append(args)
        return real(*args, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(common, "_broadcast_pair", counting)
    monkeypatch.setattr(elementwise, "_broadcast_pair", counting)
    x = tt.randn(32, 16)
    w = tt.randn(8, 16, requires_grad=True)
    s = tt.tensor(0.5, requires_grad=True)
    out = (x @ w.T) * s  # (32, 8)
    assert not calls
    out.sum().backward()
    ref = (x.numpy() @ w.detach().numpy().T)
    assert np.allclose(s.grad.numpy(), ref.sum(), rtol=1e-4)
    assert np.allclose(w.grad.numpy(), np.full((32, 8), 0.5, np.float32).T @ x.numpy(), rtol=1e-4)


@pytest.mark.parametrize("chunks", [1, 3, 4, 7])
def test_threaded_launches_in_chunks_cover_every_iteration_once(chunks: int) -> None:
    """The launcher hands out a threaded kernel's outer loop in chunks taken in turn (chunks per thread); with
    trip counts that no chunk count divides, every output is written once: elementwise, matmul, row kernels."""
    from tinytorch.runtime import launch

    lib = launch.library()
    if lib is None:
        pytest.skip("the launcher needs a C compiler")
    old = lib.tt_set_chunks(chunks)
    try:
        rng = np.random.default_rng(chunks)
        big = rng.standard_normal((1 << 21) + 37).astype(np.float32)
        np.testing.assert_allclose((tt.tensor(big) * 3.0 + 1.0).numpy(), big * 3 + 1, rtol=1e-6, atol=1e-6)
        a, b = rng.standard_normal((389, 263)).astype(np.float32), rng.standard_normal((263, 520)).astype(np.float32)
        np.testing.assert_allclose((tt.tensor(a) @ tt.tensor(b)).numpy(), a @ b, rtol=1e-4, atol=1e-3)
        x = rng.standard_normal((2003, 1000)).astype(np.float32)
        e = np.exp(x - x.max(-1, keepdims=True))
        np.testing.assert_allclose(tt.tensor(x).softmax(-1).numpy(), e / e.sum(-1, keepdims=True), rtol=1e-5,
                                   atol=1e-7)
    finally:
        lib.tt_set_chunks(old)


@pytest.mark.parametrize("name", ["log2", "tanh", "sigmoid"])
def test_kept_compositions_build_the_general_graph(name: str) -> None:
    """log2, tanh and sigmoid are built once per dtype and shape and then by substitution: each call gives the
    very nodes the Tensor ops give (UOps are interned), the same requires_grad, values and gradients as torch."""
    torch = pytest.importorskip("torch")
    general = getattr(tt.Tensor, name).__wrapped__
    rng = np.random.default_rng(0)
    for dt in (tt.float32, tt.float64, tt.float16, tt.int32):
        for shape in ((7,), (3, 5), ()):
            for rg in (False, True):
                if rg and dt is tt.int32:
                    continue
                x = tt.tensor((rng.standard_normal(shape) * 3).astype(np.float32)).to(dt).requires_grad_(rg)
                for _ in range(2):  # the first call builds and keeps the graph, the second substitutes
                    got = getattr(x, name)()
                    want = general(x)
                    assert got.uop is want.uop, (name, dt, shape, rg)
                    assert got.requires_grad == want.requires_grad
                with tt.no_grad():
                    got = getattr(x, name)()
                    assert not got.requires_grad and np.array_equal(got.numpy(), general(x).numpy(), equal_nan=True)
    xs = np.array([1e-40, 0.0, -1.0, 3.5, 1e30, -0.2], np.float32)
    t, r = tt.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    getattr(t, name)().sum().backward()
    getattr(r, name)().sum().backward()
    np.testing.assert_allclose(getattr(t, name)().numpy(), getattr(r, name)().detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), rtol=1e-4, atol=1e-30)


def test_a_composition_with_a_custom_gradient_is_not_kept() -> None:
    from tinytorch.ops.gradient import CUSTOM_GRADIENTS
    from tinytorch.tensor.composite import composite

    calls = []

    @composite
    def doubled(x: tt.Tensor) -> tt.Tensor:
        calls.append(1)
        out = x * 2.0
        CUSTOM_GRADIENTS[out.uop] = lambda node, ctx: []
        return out

    x = tt.randn(4)
    for _ in range(3):
        doubled(x)
    assert len(calls) == 4  # the check's build, then every call runs the function itself


def test_kept_nll_gives_the_general_values_and_is_reused() -> None:
    """The negative log-likelihood's pick (one-hot of the targets, weights, ignore_index, reductions) is kept per
    shapes and settings: later calls build the same nodes as the first, with the general function's values."""
    from tinytorch.nn import functional as F

    rng = np.random.default_rng(0)
    logp = tt.tensor(rng.standard_normal((16, 5)).astype(np.float32), requires_grad=True).log_softmax(1)
    y = tt.tensor(rng.integers(0, 5, 16))
    y2 = tt.tensor(np.where(rng.random(16) < 0.3, -100, rng.integers(0, 5, 16)))
    for w in (None, tt.rand(5)):
        for red in ("mean", "sum", "none"):
            for t in (y, y2):
                args = (logp, t, w, -100, red, 1, 5)
                first, again = F._nll(*args), F._nll(*args)
                assert again.uop is first.uop and again.requires_grad
                np.testing.assert_allclose(first.numpy(), F._nll.__wrapped__(*args).numpy(), rtol=1e-6)


@pytest.mark.parametrize("shape", [(5,), (2, 3), (1, 1, 4), (3, 1)])
def test_numpy_of_a_whole_buffer_shares_its_memory(shape: tuple[int, ...]) -> None:
    """numpy() of a computed tensor is its memory in its shape (as torch's .numpy()): a write through the array
    shows in the tensor; the memory never goes back to the reuse pool while the array lives."""
    t = (tt.arange(int(np.prod(shape)), dtype=tt.float32).reshape(shape) * 2).realize()
    a = t.numpy()
    assert a.shape == shape and a.dtype == np.float32 and a.flags.c_contiguous
    assert np.array_equal(a, np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 2)
    a.reshape(-1)[0] = 41.0
    assert t.numpy().reshape(-1)[0] == 41.0 and float(t.reshape(-1)[0].item()) == 41.0
    before = a.copy()
    for _ in range(3):  # new results of the same size must not land in the array's memory
        (tt.ones(shape) * 7).realize()
    assert np.array_equal(a, before)
