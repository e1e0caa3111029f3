"""Forward tests driven by the op table (tests/optable.py) on every device and dtype, plus the
parts of the Tensor API that are not ops of tensors: creation, properties, realize/numpy/item,
repr, assign and __setitem__ (with PyTorch's eager semantics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytorch as tt
from tinytorch import Tensor, dtypes
from tinytorch.dtype import DType

from .conftest import EPS, assert_close, assert_equal, dirty_memory, rtol_for
from .optable import OPS, OpSpec, bf16_round, round_to, sample, seed_for


def run_op(op: OpSpec, dt: DType, device: str) -> None:
    rng = np.random.default_rng(seed_for(op.name, dt.name))
    arrays = [sample(d, s, dt, rng) for d, s in zip(op.domains(), op.shapes)]
    tensors = [Tensor(a, dtype=dt, device=device) for a in arrays]
    out = op.fn(*tensors, **op.kwargs)
    # the reference computes in float64 (numpy would give float16 for sqrt of int8, say)
    as_float = dt.is_float or op.out_dtype(dt).is_float and op.out not in (dtypes.float16, dtypes.bfloat16)
    ref_in = [a.astype(np.float64) if as_float and a.dtype != np.bool_ else a for a in arrays]
    with np.errstate(all="ignore"):
        expected = op.reference()(*ref_in, **op.kwargs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    exps = expected if isinstance(expected, (tuple, list)) else (expected,)
    assert len(outs) == len(exps), f"{op.name}: {len(outs)} results, reference gave {len(exps)}"
    want_dt = op.out_dtype(dt)
    shapes = tuple(op.shapes)
    for o, e in zip(outs, exps):
        assert isinstance(o, Tensor), f"{op.name}: result is {type(o).__name__}, not a Tensor"
        assert o.dtype == want_dt, f"{op.name} on {dt.name} inputs {shapes}: result dtype {o.dtype}, expected {want_dt}"
        assert o.device == device, f"{op.name}: result on device {o.device}, inputs on {device}"
        e = np.asarray(e)
        if want_dt == dtypes.bfloat16 and op.out == dtypes.bfloat16:
            e = bf16_round(e.astype(np.float32))
        assert tuple(o.shape) == e.shape, f"{op.name} {shapes}: shape {o.shape}, reference {e.shape}"
        if want_dt.is_float:
            mult = op.rtol_mult * (op.lowp_mult if want_dt in (dtypes.float16, dtypes.bfloat16) else 1)
            scale = max([1.0] + [float(np.nanmax(np.abs(np.where(np.isfinite(a), a, 0)))) for a in ref_in
                                 if a.size and a.dtype.kind == "f"])
            atol = max(op.atol, op.atol_eps * EPS[want_dt] * scale)
            # results rounded to a narrow dtype are compared with the reference rounded the same way
            if want_dt in (dtypes.float16, dtypes.bfloat16):
                atol = max(atol, 2 * op.atol_eps * EPS[want_dt])
            assert_close(o, e, op.name, shapes, device, rtol=rtol_for(want_dt) * mult, atol=atol)
        else:
            assert_equal(o, e.astype(want_dt.np) if e.dtype.kind in "biuf" else e, op.name, shapes, device)


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
def test_forward(op: OpSpec, device: str) -> None:
    run_op(op, op.primary_dtype(), device)


DTYPE_CASES = [pytest.param(op, dt, id=f"{op.name}-{dt.name}") for op in OPS for dt in op.dtypes()
               if dt != op.primary_dtype()]


@pytest.mark.parametrize("op,dt", DTYPE_CASES)
def test_forward_dtype(op: OpSpec, dt: DType, device: str) -> None:
    run_op(op, dt, device)


def test_op_table_is_complete() -> None:
    """Every op the issue lists has an entry (so it is covered on every device and dtype)."""
    names = {o.name.split("_")[0] for o in OPS} | {o.name for o in OPS}
    required = ("add sub mul div pow lt gt le ge eq ne logical_and logical_or logical_xor logical_not where maximum "
                "minimum clip clamp abs sign neg reciprocal sqrt rsqrt exp exp2 log log2 sin cos tan tanh sigmoid "
                "relu leaky_relu elu gelu silu softplus erf cast sum mean max min prod var std argmax argmin any all "
                "logsumexp softmax log_softmax cumsum reshape view flatten unflatten squeeze unsqueeze permute "
                "transpose T expand broadcast_to flip repeat cat stack split chunk pad getitem matmul dot").split()
    missing = [r for r in required if r not in names]
    assert not missing, f"op table lacks entries for {missing}"
    assert any(o.grad for o in OPS) and any(not o.grad for o in OPS)


# --- creation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("data,dtype,np_dtype", [
    ([1, 2, 3], dtypes.int64, np.int64),
    ([1.0, 2.5], dtypes.float32, np.float32),
    ([[True, False]], dtypes.bool, np.bool_),
    ([[1, 2], [3, 4]], dtypes.int64, np.int64),
    (3.5, dtypes.float32, np.float32),
    (7, dtypes.int64, np.int64),
    (True, dtypes.bool, np.bool_),
])
def test_tensor_from_python(data, dtype, np_dtype, device: str) -> None:
    t = Tensor(data, device=device)
    assert t.dtype == dtype and t.device == device
    assert t.shape == np.shape(data)
    got = t.numpy()
    assert got.dtype == np_dtype
    assert_equal(got, np.array(data, dtype=np_dtype), "Tensor(data)", np.shape(data), device)


@pytest.mark.parametrize("dt", [dtypes.float32, dtypes.float16, dtypes.float64, dtypes.int8, dtypes.uint8,
                                dtypes.int32, dtypes.int64, dtypes.bool, dtypes.bfloat16])
def test_tensor_from_numpy_roundtrip(dt: DType, device: str) -> None:
    rng = np.random.default_rng(0)
    a = sample("real", (3, 5), dt, rng)
    t = Tensor(a, dtype=dt, device=device)
    assert t.dtype == dt and t.shape == (3, 5)
    got = t.numpy()
    assert_equal(got, a, "Tensor(ndarray)", (3, 5), device)
    # the array's own dtype is kept when no dtype is given (bfloat16 has no numpy dtype)
    if dt != dtypes.bfloat16:
        assert Tensor(a, device=device).dtype == dt


def test_tensor_dtype_argument_forms(device: str) -> None:
    for spec, want in [("float16", dtypes.float16), (tt.int8, dtypes.int8), (np.int32, dtypes.int32),
                       (np.dtype("float64"), dtypes.float64), (float, dtypes.float32), (int, dtypes.int64),
                       (bool, dtypes.bool), ("half", dtypes.float16), ("long", dtypes.int64)]:
        t = Tensor([1, 0, 2], dtype=spec, device=device)
        assert t.dtype == want, f"dtype={spec!r} gave {t.dtype}, expected {want}"
        assert_equal(t.numpy().astype(np.float64), np.array([1.0, 0.0, 2.0]) if want != dtypes.bool
                     else np.array([1.0, 0.0, 1.0]), f"Tensor(dtype={spec})", (3,), device)


def test_tensor_scalar_with_dtype(device: str) -> None:
    t = Tensor(2.5, dtype=tt.float16, device=device)
    assert t.shape == () and t.dtype == dtypes.float16 and t.ndim == 0 and t.numel() == 1
    assert t.item() == 2.5
    t2 = Tensor(3.7, dtype=tt.int32, device=device)
    assert t2.item() == 3 and isinstance(t2.item(), int)


def test_bfloat16_storage_rounds_to_nearest_even(device: str) -> None:
    # 1 + 2^-8 is halfway between bf16 neighbours 1 and 1+2^-7: ties go to even (1.0)
    vals = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.14159, -2.71828, 1e-20, 65504.0, 3e38], np.float32)
    t = Tensor(vals, dtype=tt.bfloat16, device=device)
    want = np.array([1.0, 1.0, 1 + 2 ** -6, 3.140625, -2.71875], np.float32)  # by hand
    assert_equal(t[:5], want, "bf16 rounding", vals.shape, device)
    assert t[6].item() == 65536.0  # 65504 = 0x477FE000 rounds up to 0x4780
    assert_equal(t, bf16_round(vals), "bf16 rounding", vals.shape, device)


def test_tensor_from_tensor_copies(device: str) -> None:
    a = Tensor([1.0, 2.0], device=device)
    b = Tensor(a, dtype=tt.float64, device=device)
    assert b.dtype == dtypes.float64
    assert_equal(b, np.array([1.0, 2.0]), "Tensor(Tensor)", (2,), device)


@pytest.mark.parametrize("name,fn,shape,dtype,value", [
    ("zeros", lambda d: Tensor.zeros(2, 3, device=d), (2, 3), dtypes.float32, 0.0),
    ("zeros_tuple", lambda d: Tensor.zeros((4,), device=d), (4,), dtypes.float32, 0.0),
    ("zeros_int", lambda d: Tensor.zeros(3, dtype=tt.int32, device=d), (3,), dtypes.int32, 0),
    ("ones", lambda d: Tensor.ones(3, 1, 2, device=d), (3, 1, 2), dtypes.float32, 1.0),
    ("ones_f16", lambda d: tt.ones(2, 2, dtype="float16", device=d), (2, 2), dtypes.float16, 1.0),
    ("ones_bool", lambda d: Tensor.ones(2, dtype=tt.bool, device=d), (2,), dtypes.bool, True),
    ("full_float", lambda d: Tensor.full((2, 3), 2.5, device=d), (2, 3), dtypes.float32, 2.5),
    ("full_int", lambda d: Tensor.full((3,), 7, device=d), (3,), dtypes.int64, 7),
    ("full_bool", lambda d: Tensor.full((2,), True, device=d), (2,), dtypes.bool, True),
    ("full_dtype", lambda d: tt.full((2, 2), -3, dtype=tt.int8, device=d), (2, 2), dtypes.int8, -3),
    ("full_scalar_shape", lambda d: Tensor.full((), 4.0, device=d), (), dtypes.float32, 4.0),
    ("zeros_empty", lambda d: Tensor.zeros(0, 3, device=d), (0, 3), dtypes.float32, 0.0),
])
def test_constant_factories(name, fn, shape, dtype, value, device: str) -> None:
    t = fn(device)
    assert t.shape == shape and t.dtype == dtype and t.device == device
    assert_equal(t, np.full(shape, value, dtype=dtype.np), name, shape, device)


def test_empty_has_shape_and_dtype(device: str) -> None:
    t = Tensor.empty(3, 4, dtype=tt.int32, device=device)
    assert t.shape == (3, 4) and t.dtype == dtypes.int32
    assert t.numpy().shape == (3, 4)
    t2 = Tensor.empty(5, device=device)
    assert t2.dtype == dtypes.float32 and t2.numpy().shape == (5,)


@pytest.mark.parametrize("args,kwargs,expected", [
    ((5,), {}, np.arange(5)),
    ((1, 10, 3), {}, np.arange(1, 10, 3)),
    ((10, 0, -3), {}, np.arange(10, 0, -3)),
    ((0, 1, 0.25), {}, np.arange(0, 1, 0.25, dtype=np.float32)),
    ((-1.5, 2.0), {}, np.arange(-1.5, 2.0, dtype=np.float32)),
    ((4,), {"dtype": tt.float32}, np.arange(4, dtype=np.float32)),
    ((3, 3), {}, np.arange(3, 3)),
])
def test_arange(args, kwargs, expected, device: str) -> None:
    t = Tensor.arange(*args, **kwargs, device=device)
    want_dt = dtypes.float32 if expected.dtype.kind == "f" else dtypes.int64
    assert t.dtype == want_dt, f"arange{args}: dtype {t.dtype}, torch gives {want_dt}"
    assert_close(t, expected.astype(want_dt.np), f"arange{args}", t.shape, device)


@pytest.mark.parametrize("args", [(0.0, 1.0, 5), (-2, 3, 11), (1.0, 1.0, 1), (3.0, -1.0, 4), (0.0, 1.0, 0)])
def test_linspace(args, device: str) -> None:
    t = Tensor.linspace(*args, device=device)
    assert t.dtype == dtypes.float32 and t.shape == (args[2],)
    assert_close(t, np.linspace(*args), f"linspace{args}", t.shape, device)


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 1), (1,)])
def test_eye(args, device: str) -> None:
    t = Tensor.eye(*args, device=device)
    assert t.dtype == dtypes.float32
    assert_equal(t, np.eye(*args), f"eye{args}", t.shape, device)
    ti = Tensor.eye(*args, dtype=tt.int32, device=device)
    assert ti.dtype == dtypes.int32
    assert_equal(ti, np.eye(*args, dtype=np.int32), f"eye{args}", t.shape, device)


def test_random_factories_shapes_ranges_and_statistics(device: str) -> None:
    tt.manual_seed(1234)
    n = 20000
    r = Tensor.rand(n, device=device).numpy()
    assert r.dtype == np.float32 and r.shape == (n,)
    assert r.min() >= 0.0 and r.max() < 1.0
    assert abs(r.mean() - 0.5) < 0.02 and abs(r.var() - 1 / 12) < 0.01
    g = Tensor.randn(100, 200, device=device).numpy()
    assert g.shape == (100, 200)
    assert abs(g.mean()) < 0.03 and abs(g.std() - 1) < 0.03
    u = Tensor.uniform(n, low=-2.0, high=6.0, device=device).numpy()
    assert u.min() >= -2.0 and u.max() < 6.0 and abs(u.mean() - 2.0) < 0.1
    m = Tensor.normal(n, mean=3.0, std=0.5, device=device).numpy()
    assert abs(m.mean() - 3.0) < 0.02 and abs(m.std() - 0.5) < 0.02
    i = Tensor.randint(-3, 4, (50, 40), device=device)
    assert i.dtype == dtypes.int64 and i.shape == (50, 40)
    iv = i.numpy()
    assert iv.min() == -3 and iv.max() == 3  # 2000 draws over 7 values hit both ends
    i2 = Tensor.randint(5, size=(100,), device=device).numpy()
    assert i2.min() >= 0 and i2.max() <= 4
    h = Tensor.rand(3, 4, dtype=tt.float16, device=device)
    assert h.dtype == dtypes.float16 and h.shape == (3, 4)


def test_manual_seed_reproducibility(device: str) -> None:
    tt.manual_seed(7)
    a = [Tensor.randn(3, 4, device=device).numpy(), Tensor.rand(5, device=device).numpy(),
         Tensor.randint(0, 100, (6,), device=device).numpy()]
    tt.manual_seed(7)
    b = [Tensor.randn(3, 4, device=device).numpy(), Tensor.rand(5, device=device).numpy(),
         Tensor.randint(0, 100, (6,), device=device).numpy()]
    for x, y in zip(a, b):
        assert_equal(x, y, "manual_seed", x.shape, device)
    tt.manual_seed(8)
    c = Tensor.randn(3, 4, device=device).numpy()
    assert not np.array_equal(a[0], c), "a different seed must give different numbers"
    # consecutive draws differ
    assert not np.array_equal(Tensor.randn(3, 4, device=device).numpy(), c)


def test_like_factories(device: str) -> None:
    x = Tensor(np.arange(6, dtype=np.float16).reshape(2, 3), device=device)
    for name, t, val in [("zeros_like", x.zeros_like(), 0), ("ones_like", x.ones_like(), 1),
                         ("full_like", x.full_like(2.5), 2.5)]:
        assert t.shape == (2, 3) and t.dtype == dtypes.float16 and t.device == device, name
        assert_equal(t, np.full((2, 3), val, np.float16), name, (2, 3), device)
    e = x.empty_like()
    assert e.shape == (2, 3) and e.dtype == dtypes.float16 and e.device == device
    zi = x.zeros_like(dtype=tt.int32)
    assert zi.dtype == dtypes.int32
    tt.manual_seed(3)
    r = x.rand_like()
    assert r.shape == (2, 3) and r.dtype == dtypes.float16 and r.device == device
    rv = r.numpy()
    assert (rv >= 0).all() and (rv <= 1).all()
    rn = x.float().randn_like()
    assert rn.shape == (2, 3) and rn.dtype == dtypes.float32


# --- properties, realization, repr ---------------------------------------------------------------
def test_properties(device: str) -> None:
    x = Tensor.zeros(2, 3, 4, device=device)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple)
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and len(x) == 2
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dtype == dtypes.float32 and x.device == device
    s = Tensor(5.0, device=device)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1
    with pytest.raises(TypeError):
        len(s)


def test_realize_numpy_item_tolist(device: str) -> None:
    a = Tensor([[1.5, -2.0], [3.0, 4.25]], device=device)
    b = a * 2
    assert b.realize() is b
    assert_equal(b, np.array([[3.0, -4.0], [6.0, 8.5]]), "realize", (2, 2), device)
    assert b.tolist() == [[3.0, -4.0], [6.0, 8.5]]
    assert (a.sum()).item() == pytest.approx(6.75, rel=1e-6)
    assert isinstance(a[0, 0].item(), float)
    i = Tensor([[3]], device=device)
    assert i.item() == 3 and isinstance(i.item(), int)
    assert isinstance(Tensor([True], device=device).item(), bool)
    assert Tensor([1, 2], device=device).tolist() == [1, 2]
    assert Tensor(2.0, device=device).tolist() == 2.0
    assert bool(Tensor([1.0], device=device) > 0)
    # realize of several tensors at once
    c, d = a + 1, a - 1
    c.realize(d)
    assert_equal(d, np.array([[0.5, -3.0], [2.0, 3.25]]), "realize(*others)", (2, 2), device)


def test_numpy_of_views(device: str) -> None:
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    a = Tensor(base, device=device).realize()
    for name, t, want in [("permute", a.permute(2, 0, 1), base.transpose(2, 0, 1)),
                          ("slice", a[:, 1:, ::2], base[:, 1:, ::2]),
                          ("flip", a.flip(1), base[:, ::-1]),
                          ("expand", a[:, :1].expand(2, 5, 4), np.broadcast_to(base[:, :1], (2, 5, 4))),
                          ("pad", a.pad((1, 1)), np.pad(base, ((0, 0), (0, 0), (1, 1))))]:
        got = t.numpy()
        assert_equal(got, want, name, base.shape, device)
    # results of numpy() are independent of later writes to the tensor
    snap = a.numpy().copy()
    a[0, 0, 0] = 100.0
    assert_equal(a.numpy()[0, 0, 0], np.float32(100.0), "setitem", base.shape, device)
    assert snap[0, 0, 0] == 0.0


def test_contiguous_and_clone(device: str) -> None:
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = Tensor(base, device=device)
    c = a.T.contiguous()
    assert c.shape == (4, 3)
    assert_equal(c, base.T, "contiguous", (3, 4), device)
    assert_equal(a.clone(), base, "clone", (3, 4), device)


def test_repr(device: str) -> None:
    a = Tensor([[1.0, 2.0], [3.0, 4.5]], device=device)
    r = repr(a)
    assert r.startswith("tensor(") and "4.5" in r and "1." in r
    assert (device in r) == (device != tt.Device.DEFAULT)
    h = Tensor([1.0], dtype=tt.float16, device=device)
    assert "float16" in repr(h)
    i = Tensor([1, 2, 3], device=device)
    assert "1, 2, 3" in repr(i)
    lazy = a + 1
    assert "tensor(" in repr(lazy)
    g = Tensor([1.0], device=device, requires_grad=True)
    assert "requires_grad=True" in repr(g)


def test_iteration_and_len(device: str) -> None:
    a = Tensor(np.arange(6).reshape(3, 2), device=device)
    rows = [r.tolist() for r in a]
    assert rows == [[0, 1], [2, 3], [4, 5]]


def test_to_device_and_dtype(device: str) -> None:
    a = Tensor([1.5, -2.5], device=device)
    b = a.to(tt.float64)
    assert b.dtype == dtypes.float64 and b.device == device
    c = a.to("int32")
    assert c.dtype == dtypes.int32
    assert_equal(c, np.array([1, -2], np.int32), "to(int32)", (2,), device)


# --- assign / __setitem__ ------------------------------------------------------------------------
def test_assign_eager_semantics(device: str) -> None:
    """b = a * 2; a.assign(a + 1) leaves b equal to the OLD a doubled (readers built before see old)."""
    old = np.array([1.0, 2.0, 3.0], np.float32)
    a = Tensor(old, device=device).realize()
    b = a * 2
    a.assign(a + 1)
    assert_equal(a, old + 1, "assign", (3,), device)
    assert_equal(b, old * 2, "reader built before assign", (3,), device)
    # and after the assign has run, new readers see the new value
    assert_equal(a * 2, (old + 1) * 2, "reader built after assign", (3,), device)


def test_assign_reader_realized_after(device: str) -> None:
    old = np.arange(4, dtype=np.float32)
    a = Tensor(old, device=device).realize()
    b = (a * 2).sum()
    c = a + 10
    a.assign(a * a)
    a.realize()
    assert_close(b, np.float32(old.sum() * 2), "sum reader", (4,), device)
    assert_equal(c, old + 10, "reader", (4,), device)
    assert_equal(a, old * old, "assign", (4,), device)


def test_assign_twice_and_chained(device: str) -> None:
    a = Tensor([1.0, 2.0], device=device).realize()
    b = a + 0.5
    a.assign(a * 10)
    c = a + 0.5
    a.assign(a + 1)
    assert_equal(a, np.array([11.0, 21.0]), "assign twice", (2,), device)
    assert_equal(b, np.array([1.5, 2.5]), "reader before both", (2,), device)
    assert_equal(c, np.array([10.5, 20.5]), "reader between", (2,), device)


def test_assign_scalar_broadcast_and_cast(device: str) -> None:
    a = Tensor(np.zeros((2, 3), np.float32), device=device).realize()
    a.assign(4)
    assert_equal(a, np.full((2, 3), 4.0), "assign scalar", (2, 3), device)
    a.assign(Tensor([1, 2, 3], device=device))  # int64 row broadcast and cast to float32
    assert a.dtype == dtypes.float32
    assert_equal(a, np.array([[1.0, 2.0, 3.0]] * 2), "assign broadcast", (2, 3), device)


@pytest.mark.parametrize("name,fn", [
    ("flip", lambda a: a.flip(0)),
    ("transpose", lambda a: a.T),
    ("shifted", lambda a: tt.cat([a[1:], a[:1]])),
    ("reduce", lambda a: a - a.sum(0, keepdim=True)),
])
def test_assign_reading_itself_through_another_view(name, fn, device: str) -> None:
    """In-place hazards: the value reads the target's old contents in another order."""
    old = np.arange(9, dtype=np.float32).reshape(3, 3)
    a = Tensor(old, device=device).realize()
    a.assign(fn(a))
    want = {"flip": old[::-1], "transpose": old.T, "shifted": np.concatenate([old[1:], old[:1]]),
            "reduce": old - old.sum(0, keepdims=True)}[name]
    assert_equal(a, want, f"assign({name})", (3, 3), device)


def test_iadd_is_assign(device: str) -> None:
    old = np.array([1.0, 2.0], np.float32)
    a = Tensor(old, device=device).realize()
    b = a * 3
    a += 1
    a *= 2
    a -= 0.5
    a /= 2
    assert_equal(a, ((old + 1) * 2 - 0.5) / 2, "in-place operators", (2,), device)
    assert_equal(b, old * 3, "reader before +=", (2,), device)


@pytest.mark.parametrize("name,index,value", [
    ("int_row", 1, 5.0),
    ("slice_cols", (slice(None), slice(1, 3)), -1.0),
    ("step_rows", slice(None, None, 2), 0.0),
    ("neg_step", (0, slice(None, None, -2)), 9.0),
    ("ellipsis", (Ellipsis, 0), 7.0),
    ("scalar_elem", (2, 3), 3.5),
    ("tensor_value_bcast", (slice(0, 2),), np.array([10.0, 20.0, 30.0, 40.0], np.float32)),
    ("tensor_value_full", (slice(1, 3), slice(0, 2)), np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)),
])
def test_setitem(name, index, value, device: str) -> None:
    old = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = Tensor(old, device=device).realize()
    before = a + 0  # lazy reader built before the write sees the old value
    v = Tensor(value, device=device) if isinstance(value, np.ndarray) else value
    a[index] = v
    want = old.copy()
    want[index] = value
    assert_equal(a, want, f"__setitem__ {name}", (3, 4), device)
    assert_equal(before, old, f"reader before __setitem__ {name}", (3, 4), device)


def test_setitem_on_lazy_and_int_tensor(device: str) -> None:
    a = Tensor(np.arange(6, dtype=np.int32).reshape(2, 3), device=device) * 2  # lazy: realized first
    a[1, 1:] = 1.9  # float value cast to int32 (truncation), like torch
    assert a.dtype == dtypes.int32
    assert_equal(a, np.array([[0, 2, 4], [6, 1, 1]], np.int32), "__setitem__ lazy int", (2, 3), device)


def test_setitem_then_compute(device: str) -> None:
    a = Tensor.zeros(4, 4, device=device).contiguous().realize()
    for i in range(4):
        a[i, i] = float(i + 1)
    assert_equal(a.sum(1), np.arange(1, 5, dtype=np.float32), "diag via setitem", (4, 4), device)
    assert_equal(a @ a, np.diag(np.arange(1, 5, dtype=np.float32) ** 2), "diag matmul", (4, 4), device)


# --- special values ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn,ref", [pytest.param(*p, id=p[0]) for p in [
    ("exp", lambda x: x.exp(), np.exp),
    ("log", lambda x: x.log(), np.log),
    ("log2", lambda x: x.log2(), np.log2),
    ("sqrt", lambda x: x.sqrt(), np.sqrt),
    ("reciprocal", lambda x: x.reciprocal(), lambda x: 1 / x),
    ("relu", lambda x: x.relu(), lambda x: np.where(np.isnan(x), x, np.maximum(x, 0))),
    ("sigmoid", lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", lambda x: x.tanh(), np.tanh),
    ("abs", lambda x: x.abs(), np.abs),
    ("neg", lambda x: -x, np.negative),
    ("maximum0", lambda x: x.maximum(0.0), lambda x: np.maximum(x, 0.0)),
    ("mul0", lambda x: x * 0, lambda x: x * 0),
    ("sin", lambda x: x.sin(), np.sin),
]])
def test_special_values(name, fn, ref, device: str) -> None:
    """inf, -inf, nan, -0.0 and denormal-adjacent inputs follow IEEE/numpy (and torch)."""
    vals = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 1e30, -1e30], np.float32)
    x = Tensor(vals, device=device)
    with np.errstate(all="ignore"):
        want = ref(vals.astype(np.float64))
    assert_close(fn(x), want.astype(np.float32), name, vals.shape, device, rtol=2e-6)


def test_nan_propagation_in_reductions(device: str) -> None:
    v = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]], np.float32)
    x = Tensor(v, device=device)
    assert_close(x.max(1).values, np.array([np.nan, 6.0], np.float32), "max with nan", v.shape, device)
    assert_close(x.min(1).values, np.array([np.nan, 4.0], np.float32), "min with nan", v.shape, device)
    assert_close(x.sum(1), np.array([np.nan, 15.0], np.float32), "sum with nan", v.shape, device)
    assert_equal(x.argmax(1), np.array([1, 2]), "argmax with nan (torch: nan is the max)", v.shape, device)


def test_integer_division_semantics(device: str) -> None:
    """floor division and remainder follow Python/PyTorch signs, for every int dtype."""
    a = np.array([7, -7, 7, -7, 0, 5, -1], np.int64)
    b = np.array([2, 2, -2, -2, 3, -5, 4], np.int64)
    for dt in (tt.int8, tt.int32, tt.int64):
        x, y = Tensor(a, dtype=dt, device=device), Tensor(b, dtype=dt, device=device)
        assert_equal(x // y, (a // b).astype(dt.np), f"floordiv {dt.name}", a.shape, device)
        assert_equal(x % y, (a % b).astype(dt.np), f"remainder {dt.name}", a.shape, device)
        assert_equal(x.div(y, rounding_mode="trunc"), np.trunc(a / b).astype(dt.np), f"trunc div {dt.name}",
                     a.shape, device)
        assert_close(x / y, (a / b).astype(np.float32), f"true div {dt.name}", a.shape, device)


def test_integer_overflow_wraps(device: str) -> None:
    a = Tensor(np.array([120, -120, 127], np.int8), device=device)
    assert_equal(a + 10, np.array([120, -120, 127], np.int8) + np.int8(10), "int8 wrap", (3,), device)
    u = Tensor(np.array([250, 3], np.uint8), device=device)
    assert_equal(u + 10, np.array([4, 13], np.uint8), "uint8 wrap", (2,), device)
    assert_equal(u - 5, np.array([245, 254], np.uint8), "uint8 sub wrap", (2,), device)


def test_large_integer_values_exact(device: str) -> None:
    v = np.array([2 ** 40 + 1, -(2 ** 50) + 3, 2 ** 62], np.int64)
    x = Tensor(v, device=device)
    assert_equal(x + 1, v + 1, "int64 add", (3,), device)
    assert_equal(x.max(), np.int64(2 ** 62), "int64 max", (3,), device)
    assert_equal((x // 3), v // 3, "int64 floordiv", (3,), device)


def test_float64_keeps_precision(device: str) -> None:
    v = np.array([1.0 + 2 ** -40, 1e-300, 1e300], np.float64)
    x = Tensor(v, device=device)
    assert x.dtype == dtypes.float64
    assert_close(x * 3, v * 3, "float64 mul", (3,), device, rtol=1e-15)
    assert_close((x - 1.0)[:1], np.array([2 ** -40]), "float64 sub", (3,), device, rtol=1e-15)
    assert_close(x.sqrt(), np.sqrt(v), "float64 sqrt", (3,), device, rtol=1e-15)


def test_half_precision_rounding(device: str) -> None:
    """float16 arithmetic rounds each result to float16 (2049 is not representable)."""
    x = Tensor(np.array([2048.0, 0.1], np.float16), device=device)
    y = x + Tensor(np.array([1.0, 0.2], np.float16), device=device)
    assert y.dtype == dtypes.float16
    want = (np.array([2048.0, 0.1], np.float16) + np.array([1.0, 0.2], np.float16))
    assert_equal(y, want, "f16 add", (2,), device)


@pytest.mark.parametrize("shape", [(), (1,), (0,), (1, 1), (0, 3)], ids=lambda s: "x".join(map(str, s)) or "scalar")
def test_degenerate_shapes_through_ops(shape, device: str) -> None:
    v = np.arange(math.prod(shape), dtype=np.float32).reshape(shape) + 1
    x = Tensor(v, device=device)
    dirty_memory(device, (), ())
    assert_close(x.sum(), np.float32(v.sum()), "sum", shape, device)
    assert_close((x * 2 + 1).exp(), np.exp(v * 2 + 1), "elementwise", shape, device)
    if v.size:
        assert_close(x.max(), np.float32(v.max()), "max", shape, device)


def test_round_trip_bfloat16_ops(device: str) -> None:
    rng = np.random.default_rng(0)
    v = round_to(rng.uniform(-3, 3, (5, 6)), dtypes.bfloat16)
    x = Tensor(v, dtype=tt.bfloat16, device=device)
    y = (x * 2).sum(1)
    assert y.dtype == dtypes.bfloat16
    want = bf16_round((v.astype(np.float64) * 2).sum(1).astype(np.float32))
    assert_close(y, want, "bf16 sum", (5, 6), device)


def test_comparisons_with_nan_and_inf(device: str) -> None:
    """Every comparison with NaN is False except !=, as in IEEE, numpy and torch (so a <= b is not !(a > b))."""
    a = np.array([1.0, np.nan, 2.0, np.inf, -np.inf, np.nan, 0.0, -0.0], np.float32)
    b = np.array([1.0, 1.0, np.nan, np.inf, 3.0, np.nan, -0.0, 1.0], np.float32)
    x, y = Tensor(a, device=device), Tensor(b, device=device)
    for name, got, want in [("lt", x < y, a < b), ("le", x <= y, a <= b), ("gt", x > y, a > b),
                            ("ge", x >= y, a >= b), ("eq", x == y, a == b), ("ne", x != y, a != b),
                            ("le_scalar", x <= 1.5, a <= 1.5), ("ge_rscalar", 2.0 >= x, 2.0 >= a),
                            ("maximum", x.maximum(y), np.maximum(a, b)), ("minimum", x.minimum(y), np.minimum(a, b))]:
        assert_equal(got, want, name, a.shape, device)


# --- broadcasting, as a property ------------------------------------------------------------------
BINARY = [o for o in OPS if len(o.shapes) == 2 and o.kind == "math" and o.floats and o.name in
          ("add", "sub", "mul", "div", "maximum", "minimum", "lt", "eq", "pow", "remainder", "logical_and")]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4))
def test_binary_ops_broadcast_like_numpy(device: str, data, shapes) -> None:
    op = data.draw(st.sampled_from(BINARY), label="op")
    (sa, sb), want_shape = shapes
    rng = np.random.default_rng(seed_for(op.name, sa, sb))
    a, b = (sample(d, s, dtypes.float32, rng) for d, s in zip(op.domains(), (sa, sb)))
    got = op.fn(Tensor(a, device=device), Tensor(b, device=device))
    with np.errstate(all="ignore"):
        want = op.reference()(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want_shape == np.shape(want)
    if got.dtype.is_float:
        assert_close(got, want, op.name, (sa, sb), device, rtol=rtol_for(got.dtype) * op.rtol_mult,
                     atol=op.atol_eps * EPS[got.dtype] * 4)
    else:
        assert_equal(got, want, op.name, (sa, sb), device)
