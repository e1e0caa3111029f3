"""The top-level namespace against PyTorch: module functions from the table, creation, dtypes, devices,
conversions, and tinytorch.utils.data."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.functions import FUNCTIONS, METHODS
from tinytorch.tensor.common import _default_device

torch = pytest.importorskip("torch")


def _t(x, dtype=None):
    return torch.from_numpy(np.asarray(x.numpy() if isinstance(x, tt.Tensor) else x).copy())


def _close(ours, theirs, **kw):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **kw)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "tinytorch.")
    assert tuple(ours.shape) == tuple(theirs.shape)


# the function table --------------------------------------------------------------------------
def test_every_table_name_has_its_method():
    missing = [n for n in METHODS if not hasattr(tt.Tensor, n)]
    assert not missing, f"tinytorch.functions.METHODS names without a Tensor method: {missing}"


def test_every_table_name_is_exported_and_a_torch_function():
    for name, fn in FUNCTIONS.items():
        assert getattr(tt, name) is fn, name
        assert hasattr(torch, name), f"{name} is not a torch function"


def test_table_functions_match_methods_and_torch():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 2)).astype(np.float32)
    x, tx = tt.from_numpy(a.copy()), torch.from_numpy(a.copy())
    _close(tt.sin(x), torch.sin(tx), rtol=1e-6)
    _close(tt.matmul(x, tt.from_numpy(b)), torch.matmul(tx, torch.from_numpy(b)), rtol=1e-5)
    _close(tt.sum(x, 1), torch.sum(tx, 1), rtol=1e-6)
    _close(tt.sum(input=x, dim=0), torch.sum(input=tx, dim=0), rtol=1e-6)
    _close(tt.clamp(x, -0.5, 0.5), torch.clamp(tx, -0.5, 0.5))
    _close(tt.pow(2, x), torch.pow(2, tx), rtol=1e-6)
    v, i = tt.max(x, 1)
    tv, ti = torch.max(tx, 1)
    _close(v, tv)
    _close(i, ti)
    _close(tt.where(x > 0, x, 0.0), torch.where(tx > 0, tx, 0.0))
    _close(tt.cat([x, x], 1), torch.cat([tx, tx], 1))
    _close(tt.concat([x, x]), torch.concat([tx, tx]))
    _close(tt.stack([x, x]), torch.stack([tx, tx]))
    _close(tt.einsum("ij,jk->ik", x, tt.from_numpy(b)), torch.einsum("ij,jk->ik", tx, torch.from_numpy(b)), rtol=1e-5)
    assert tt.equal(x, x) is torch.equal(tx, tx)
    assert tt.allclose(x, x + 1e-9) == torch.allclose(tx, tx + 1e-9)
    rows, cols = tt.where(x > 0)
    trows, tcols = torch.where(tx > 0)
    _close(rows, trows)
    _close(cols, tcols)
    with pytest.raises(TypeError):
        tt.sin(1.0)
    assert tt.sin.__doc__ == tt.Tensor.sin.__doc__


def test_is_tensor_numel_is_floating_point():
    x = tt.zeros(2, 3)
    assert tt.is_tensor(x) and not tt.is_tensor([1.0])
    assert tt.numel(x) == 6 and tt.is_floating_point(x) and not tt.is_floating_point(x.long())
    assert x.is_floating_point() and not x.long().is_floating_point()


# creation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [[1, 2, 3], [1.0, 2.0], [[1, 2.5]], 3.5, 7, True, [True, False], [],
                                  np.array([1.0, 2.0]), np.array([1, 2], np.int32), np.float64(2.5)],
                         ids=repr)
def test_tensor_infers_dtype_like_torch(data):
    _close(tt.tensor(data), torch.tensor(data))


def test_tensor_from_tensors_copies():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = tt.tensor(x)
    assert not y.requires_grad and y.is_leaf and y.dtype == tt.float32
    y[0] = 5.0
    assert x.tolist() == [1.0, 2.0]
    z = tt.tensor([tt.tensor(1.0), tt.tensor(2.0)])
    _close(z, torch.tensor([torch.tensor(1.0), torch.tensor(2.0)]))
    assert tt.tensor([1, 2], dtype=tt.float64).dtype == tt.float64
    assert tt.tensor([1.0], requires_grad=True).requires_grad
    assert tt.as_tensor(x) is x
    assert tt.as_tensor(x, dtype=tt.float64).dtype == tt.float64
    _close(tt.as_tensor([1, 2]), torch.as_tensor([1, 2]))


def test_shapes_three_ways():
    for f in ("zeros", "ones", "empty", "rand", "randn"):
        for args, kw in (((2, 3), {}), (((2, 3),), {}), ((), {"size": (2, 3)}), (([2, 3],), {})):
            assert tuple(getattr(tt, f)(*args, **kw).shape) == (2, 3), (f, args, kw)
    assert tuple(tt.zeros(()).shape) == () and tuple(tt.ones(0).shape) == (0,)
    with pytest.raises(TypeError):
        tt.zeros(2, out=tt.zeros(2))


def test_factories_match_torch():
    _close(tt.zeros(2, 3), torch.zeros(2, 3))
    _close(tt.ones(2, dtype=tt.int32), torch.ones(2, dtype=torch.int32))
    _close(tt.full((2,), 3), torch.full((2,), 3))
    _close(tt.full((2,), True), torch.full((2,), True))
    _close(tt.full((2, 2), 1.5), torch.full((2, 2), 1.5))
    _close(tt.arange(5), torch.arange(5))
    _close(tt.arange(5.0), torch.arange(5.0))
    _close(tt.arange(1, 10, 3), torch.arange(1, 10, 3))
    _close(tt.arange(0, 1, 0.1), torch.arange(0, 1, 0.1), rtol=1e-6)
    _close(tt.arange(0, end=4), torch.arange(0, end=4))
    _close(tt.linspace(-1, 1, 7), torch.linspace(-1, 1, 7), rtol=1e-6, atol=1e-7)
    _close(tt.linspace(0, 1, 5, dtype=tt.float64), torch.linspace(0, 1, 5, dtype=torch.float64))
    _close(tt.logspace(0, 2, 3), torch.logspace(0, 2, 3), rtol=1e-6)
    _close(tt.logspace(0, 3, 4, base=2), torch.logspace(0, 3, 4, base=2), rtol=1e-6)
    _close(tt.eye(3), torch.eye(3))
    _close(tt.eye(2, 3, dtype=tt.int64), torch.eye(2, 3, dtype=torch.int64))
    x = tt.ones(2, 3, dtype=tt.float64)
    tx = torch.ones(2, 3, dtype=torch.float64)
    for f in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"):
        o, t = getattr(tt, f)(x), getattr(torch, f)(tx)
        assert o.dtype == tt.float64 and tuple(o.shape) == tuple(t.shape), f
    _close(tt.full_like(x, 7), torch.full_like(tx, 7))
    _close(tt.zeros_like(x, dtype=tt.int32), torch.zeros_like(tx, dtype=torch.int32))
    assert tt.zeros(2, requires_grad=True).requires_grad and tt.randn(2, requires_grad=True).is_leaf


def test_random_factories():
    tt.manual_seed(0)
    a = tt.randint(10, (200,))
    tt.manual_seed(0)
    assert tt.randint(10, (200,)).tolist() == a.tolist()
    assert a.dtype == tt.int64 and 0 <= a.min().item() and a.max().item() < 10
    b = tt.randint(3, 7, (4, 5), dtype=tt.int32)
    assert b.dtype == tt.int32 and tuple(b.shape) == (4, 5) and 3 <= b.min().item() and b.max().item() < 7
    assert sorted(tt.randperm(50).tolist()) == list(range(50)) and tt.randperm(3).dtype == tt.int64
    r = tt.rand(4000)
    assert 0 <= r.min().item() and r.max().item() < 1
    n = tt.normal(2.0, 3.0, (20000,))
    assert abs(n.mean().item() - 2.0) < 0.1 and abs(n.std().item() - 3.0) < 0.1
    m = tt.normal(tt.zeros(3, 1), tt.ones(1, 4))
    assert tuple(m.shape) == (3, 4)
    assert tt.randint_like(b, 5).dtype == tt.int32
    assert tt.rand(2, generator=None).shape == (2,)
    with pytest.raises(TypeError):
        tt.rand(2, generator=object())


# dtypes ---------------------------------------------------------------------------------------
NAMES = ["long", "float", "int", "half", "double", "bfloat16", "bool", "uint8", "int8", "int16", "short", "int32",
         "int64", "float16", "float32", "float64", "uint16", "uint32", "uint64"]


@pytest.mark.parametrize("name", NAMES)
def test_dtype_names_match_torch(name):
    d, td = getattr(tt, name), getattr(torch, name)
    assert repr(d) == repr(td).replace("torch.", "tinytorch.")
    assert d.is_floating_point == td.is_floating_point and d.itemsize == td.itemsize
    assert d.is_signed == td.is_signed
    assert tt.zeros(2, dtype=d).dtype == d and tt.zeros(2).to(d).dtype == d


@pytest.mark.parametrize("device", ["C", "LLVM", "INTERP"])
@pytest.mark.parametrize("name", ["int16", "uint16", "uint32", "uint64"])
def test_storage_dtypes_create_print_cast_compare(device, name):
    from tinytorch.runtime.device import Device

    if not Device.get(device).available()[0]:
        pytest.skip(f"{device} is not available here")
    d, td = getattr(tt, name), getattr(torch, name)
    vals = [0, 1, 7, 200, min(tt.iinfo(d).max, 2**63 - 1)]
    x, tx = tt.tensor(vals, dtype=d, device=device), torch.tensor(vals, dtype=td)
    ours = repr(x).replace("\n", "").replace(" ", "").replace(f"device='{device}',", "")
    assert ours == repr(tx).replace("torch.", "tinytorch.").replace("\n", "").replace(" ", "")
    _close(x.float(), tx.float())
    _close(x.to(tt.int64), tx.to(torch.int64))
    _close(x * 2, tx * 2)
    _close(x & x, tx & tx)
    _close(x + 1.5, tx + 1.5)
    _close(x.sum(), tx.sum())
    _close(tt.tensor([1.5, 300.0, 7.0], device=device).to(d), torch.tensor([1.5, 300.0, 7.0]).to(td))
    assert (x == x).all().item() and (x.to(tt.int64) == 7).sum().item() == 1
    if name != "int16":
        with pytest.raises(RuntimeError, match="Promotion for uint16, uint32, uint64"):
            x + tt.tensor([1, 2, 3, 4, 5], device=device)


def test_promote_types_and_result_type():
    pairs = [("uint8", "int8"), ("int16", "uint8"), ("int32", "float16"), ("bfloat16", "float16"),
             ("bool", "int64"), ("int64", "float64"), ("uint32", "float32")]
    for a, b in pairs:
        assert repr(tt.promote_types(getattr(tt, a), getattr(tt, b))) == \
            repr(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", "tinytorch.")
    with pytest.raises(TypeError):
        tt.promote_types(tt.uint32, tt.int32)
    cases = [(tt.tensor([1], dtype=tt.int32), 2.5), (tt.tensor(1.0, dtype=tt.float64), tt.tensor([1])),
             (2, 3.0), (True, 2), (tt.tensor([1.0]), tt.tensor(2.0, dtype=tt.float64)),
             (tt.tensor([1], dtype=tt.int8), tt.tensor([1], dtype=tt.uint8))]
    for a, b in cases:
        ta = _t(a) if isinstance(a, tt.Tensor) else a
        tb = _t(b) if isinstance(b, tt.Tensor) else b
        assert repr(tt.result_type(a, b)) == repr(torch.result_type(ta, tb)).replace("torch.", "tinytorch.")


def test_finfo_iinfo():
    for name in ("float16", "bfloat16", "float32", "float64"):
        f, tf = tt.finfo(getattr(tt, name)), torch.finfo(getattr(torch, name))
        for k in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(f, k) == getattr(tf, k), (name, k)
    assert tt.finfo().eps == torch.finfo().eps
    for name in ("uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64"):
        i, ti = tt.iinfo(getattr(tt, name)), torch.iinfo(getattr(torch, name))
        assert (i.bits, i.min, i.max) == (ti.bits, ti.min, ti.max), name
    with pytest.raises(TypeError):
        tt.iinfo(tt.float32)
    with pytest.raises(TypeError):
        tt.finfo(tt.int32)


def test_default_dtype():
    assert tt.get_default_dtype() == tt.float32
    try:
        tt.set_default_dtype(tt.float64)
        assert tt.tensor([1.5]).dtype == tt.float64 and tt.zeros(2).dtype == tt.float64
        assert tt.get_default_dtype() == tt.float64
    finally:
        tt.set_default_dtype(tt.float32)
    assert tt.tensor([1.5]).dtype == tt.float32
    with pytest.raises(TypeError):
        tt.set_default_dtype(tt.int64)


# devices and conversions ----------------------------------------------------------------------
def test_device_is_cpu_and_our_name():
    x = tt.zeros(2)
    d = x.device
    assert d == "cpu" and d == tt.device("cpu") and d == _default_device() and d.type == "cpu"
    assert str(d) == "cpu" and str(tt.device("cpu")) == str(torch.device("cpu"))
    assert repr(tt.device("cpu")) == repr(torch.device("cpu")) and tt.device("cpu").index is None
    assert tt.zeros(2, device=x.device).device == d and tt.tensor([1.0], device=str(d)).device == d
    assert x.to(x.device) is x and x.to("cpu") is x and x.cpu() is x and x.to(device="cpu") is x
    assert {d: 1}[_default_device()] == 1
    other = next(n for n in ("INTERP", "LLVM", "C") if n != _default_device())
    y = tt.ones(2, device=other)
    assert y.device == other and y.device != "cpu" and str(y.device) == other and y.device.type == "cpu"
    assert y.cpu().device == "cpu" and (y.cpu() + x).tolist() == [1.0, 1.0]
    assert y.to(x).device == d and tt.device(other.lower()) == other
    with pytest.raises(RuntimeError, match="GPU"):
        tt.device("cuda")
    with pytest.raises(RuntimeError, match="GPU"):
        x.cuda()
    with pytest.raises(RuntimeError, match="GPU"):
        x.to("cuda:0")
    assert tt.cuda.is_available() is False and tt.cuda.device_count() == 0
    dev = "cuda" if tt.cuda.is_available() else "cpu"
    assert tt.randn(2, device=dev).device == "cpu"


def test_to_forms():
    x = tt.tensor([1.7, -2.5])
    assert x.to(tt.float64).dtype == tt.float64 and x.to(dtype=tt.int32).tolist() == [1, -2]
    assert x.to("cpu", tt.float64).dtype == tt.float64 and x.to(tt.zeros(1, dtype=tt.int64)).dtype == tt.int64
    assert x.to(device="cpu", dtype=tt.float16).dtype == tt.float16
    assert x.double().type() == "tinytorch.DoubleTensor" and x.type() == torch.tensor([1.0]).type().replace("torch",
                                                                                                            "tinytorch")
    assert x.type(tt.int64).dtype == tt.int64 and x.type("tinytorch.DoubleTensor").dtype == tt.float64


def test_python_number_conversions():
    assert float(tt.tensor([2.5])) == 2.5 and int(tt.tensor(-2.7)) == int(torch.tensor(-2.7)) == -2
    assert bool(tt.tensor([0.0])) is False and int(tt.tensor([7], dtype=tt.int32)) == 7
    assert list(range(10))[tt.tensor(3)] == 3 and range(tt.tensor(4)) == range(4)
    with pytest.raises(TypeError):
        list(range(10))[tt.tensor(3.0)]
    with pytest.raises(RuntimeError):
        float(tt.tensor([1.0, 2.0]))


def test_layout_queries_match_torch():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x, tx = tt.from_numpy(a.copy()), torch.from_numpy(a.copy())
    for f in (lambda t: t, lambda t: t.transpose(0, 2), lambda t: t[:, 1:], lambda t: t[0], lambda t: t[:, 0],
              lambda t: t.unsqueeze(1), lambda t: t.expand(5, 2, 3, 4), lambda t: t.reshape(6, 4), lambda t: t + 1,
              lambda t: t.permute(1, 0, 2).contiguous()):
        o, t = f(x), f(tx)
        assert o.stride() == t.stride() and o.is_contiguous() == t.is_contiguous()
        assert o.stride(-1) == t.stride(-1)
    assert tt.zeros(2, 3).T.stride() == torch.zeros(2, 3).T.stride() and tt.ones(3).stride() == (1,)
    for d in ("float64", "float16", "int8", "bool", "int64"):
        o, t = x.to(getattr(tt, d)), tx.to(getattr(torch, d))
        assert (o.element_size(), o.itemsize, o.nbytes) == (t.element_size(), t.itemsize, t.nbytes)


def test_utils_data_alias():
    import tinytorch.utils.data as tud
    from tinytorch.utils.data import DataLoader, Dataset, TensorDataset, random_split

    assert tud is tt.data and DataLoader is tt.data.DataLoader and Dataset is tt.data.Dataset
    ds = TensorDataset(tt.arange(10).float(), tt.arange(10))
    a, b = random_split(ds, [7, 3])
    assert len(a) == 7 and len(b) == 3 and sum(1 for _ in DataLoader(ds, batch_size=4)) == 3


def test_size_array_format_new_and_type_as():
    x, tx = tt.ones(2, 3), torch.ones(2, 3)
    assert str(x.shape) == str(tx.shape).replace("torch.", "tinytorch.") and x.shape == (2, 3)
    assert str(x.size()) == str(tx.size()).replace("torch.", "tinytorch.") and x.size() == tt.Size([2, 3])
    assert str(x.shape[1:]) == str(tx.shape[1:]).replace("torch.", "tinytorch.") and x.shape.numel() == 6
    assert np.array(tt.tensor([1.0, 2.0])).dtype == np.array(torch.tensor([1.0, 2.0])).dtype
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert f"{tt.tensor(2.5):.1f}" == f"{torch.tensor(2.5):.1f}" and f"{x}" == f"{tx}"
    with pytest.raises(TypeError):
        f"{x:.1f}"
    for ours, theirs in ((x.new_zeros(4), tx.new_zeros(4)), (x.new_ones((2,)), tx.new_ones((2,))),
                         (x.long().new_full((2,), 3), tx.long().new_full((2,), 3)),
                         (x.new_tensor([1, 2]), tx.new_tensor([1, 2])),
                         (tt.tensor([1.5, 2.5]).type_as(tt.tensor([1])),
                          torch.tensor([1.5, 2.5]).type_as(torch.tensor([1])))):
        _close(ours, theirs)
    assert tuple(x.new_empty(2, 2).shape) == (2, 2) and x.new_zeros(2, dtype=tt.int32).dtype == tt.int32


@pytest.mark.parametrize("a,b,kw", [([1, 2, 3], [2, 3], {}), ([[1.0, 5.0], [2.0, 3.0]], [2.0, 9.0], {"invert": True}),
                                    ([1, 2], [], {}), ([1, 2], 2, {})])
def test_isin(a, b, kw):
    tb, ob = (torch.tensor(b), tt.tensor(b)) if isinstance(b, list) else (b, b)
    _close(tt.isin(tt.tensor(a), ob, **kw), torch.isin(torch.tensor(a), tb, **kw))


def test_tensor_dataset_items_are_tensors():
    from tinytorch.utils.data import Subset, TensorDataset

    ds = TensorDataset(tt.arange(10.0).reshape(5, 2), tt.arange(5))
    tds = torch.utils.data.TensorDataset(torch.arange(10.0).reshape(5, 2), torch.arange(5))
    for (a, b), (ta, tb) in ((ds[0], tds[0]), (ds[4], tds[4])):
        _close(a, ta)
        _close(b, tb)
    s = Subset(TensorDataset(tt.arange(10) * 10), [1, 3])
    _close(s[1][0], torch.tensor(30))


# docs -----------------------------------------------------------------------------------------
def test_every_public_method_and_function_has_a_docstring():
    from tinytorch.docs import missing_docstrings

    missing = missing_docstrings()
    assert not missing, f"{len(missing)} public names without a docstring: {', '.join(missing)}"


def test_api_md_is_up_to_date():
    from tinytorch.docs import API_MD, render

    assert API_MD.read_text() == render(), "docs/api.md is stale: run python -m tinytorch.docs"


def test_uint64_past_int64():
    vals = [2**63 + 5, 1, 2**64 - 1]
    x, tx = tt.tensor(vals, dtype=tt.uint64), torch.tensor(vals, dtype=torch.uint64)
    assert repr(x) == repr(tx).replace("torch.", "tinytorch.") and x.tolist() == tx.tolist()
    with pytest.raises(RuntimeError):
        tt.tensor([-1], dtype=tt.uint64)
    with pytest.raises(RuntimeError):
        tt.tensor([2**64], dtype=tt.uint64)


def test_where_a_tensor_lives_and_backend_switches():
    x, tx = tt.ones(2), torch.ones(2)
    for f in (lambda t: t.is_cuda, lambda t: t.is_cpu, lambda t: t.is_sparse, lambda t: t.is_meta,
              lambda t: t.get_device(), lambda t: t.is_complex(), lambda t: t.is_signed(),
              lambda t: t.bool().is_signed(), lambda t: t[0].is_nonzero(), lambda t: t.is_same_size(t),
              lambda t: t.ndimension(), lambda t: t.nelement(), lambda t: t.is_pinned()):
        assert f(x) == f(tx)
    assert x.pin_memory() is x
    import tinytorch.backends.cudnn as cudnn

    cudnn.deterministic, cudnn.benchmark = True, False
    assert tt.backends.cudnn.deterministic and not tt.backends.mps.is_available()
    m = tt.nn.Linear(2, 2)
    assert tt.compile(m) is m and tt.compile()(m) is m


def test_module_to_device_and_dtype_forms():
    net = tt.nn.Linear(2, 2)
    w = net.weight
    assert net.to("cpu") is net and net.to(tt.device("cpu")) is net and net.cpu() is net and net.weight is w
    device = "cuda" if tt.cuda.is_available() else "cpu"
    assert net.to(device).weight.device == "cpu"
    other = next(n for n in ("INTERP", "LLVM", "C") if n != _default_device())
    assert net.to(other).weight.device == other and net.to("cpu").weight.device == "cpu"
    assert net.to(tt.float64).weight.dtype == tt.float64 and net.to("cpu", tt.float32).weight.dtype == tt.float32
    assert net.to(device="cpu", dtype=tt.float16).weight.dtype == tt.float16
    assert net.to(tt.zeros(1, dtype=tt.float64)).weight.dtype == tt.float64 and net.weight is w
    with pytest.raises(RuntimeError, match="GPU"):
        net.to("cuda")
    with pytest.raises(RuntimeError, match="GPU"):
        net.cuda()
    with pytest.raises(TypeError):
        net.to(tt.int64)


def test_legacy_tensor_types():
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ByteTensor", "BoolTensor", "HalfTensor"):
        ours, theirs = getattr(tt, name), getattr(torch, name)
        _close(ours([1, 0, 2]), theirs([1, 0, 2]))
        assert tuple(ours(2, 3).shape) == (2, 3) and ours(2, 3).dtype == ours.dtype
        assert isinstance(ours([1]), ours) and not isinstance(tt.tensor([1.0], dtype=tt.int8), ours)
        _close(tt.tensor([1.5, 2.0]).type(ours), torch.tensor([1.5, 2.0]).type(theirs))


def test_generators():
    assert tt.manual_seed(3) is tt.default_generator and tt.default_generator.initial_seed() == 3
    tt.manual_seed(1)
    a = tt.rand(4)
    tt.manual_seed(1)
    assert tt.rand(4).tolist() == a.tolist()
    g = tt.Generator().manual_seed(0)
    draws = [tt.rand(3, generator=g), tt.randn(3, generator=g), tt.randint(10, (3,), generator=g),
             tt.randperm(5, generator=g), tt.normal(0.0, 1.0, (3,), generator=g)]
    g.manual_seed(0)
    again = [tt.rand(3, generator=g), tt.randn(3, generator=g), tt.randint(10, (3,), generator=g),
             tt.randperm(5, generator=g), tt.normal(0.0, 1.0, (3,), generator=g)]
    assert all(x.tolist() == y.tolist() for x, y in zip(draws, again)) and g.initial_seed() == 0
    assert tt.Generator().manual_seed(0) is not None and isinstance(tt.Generator().seed(), int)


def test_num_threads():
    n = tt.get_num_threads()
    try:
        tt.set_num_threads(1)
        assert tt.get_num_threads() == 1 and (tt.ones(5000) * 2).sum().item() == 10000
    finally:
        tt.set_num_threads(n)
    with pytest.raises(ValueError):
        tt.set_num_threads(0)


def test_block_diag_forward_and_backward():
    rng = np.random.default_rng(3)
    arrs = [rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal(2).astype(np.float32),
            np.array(1.5, np.float32), rng.standard_normal((1, 1)).astype(np.float32)]
    ours = [tt.tensor(a, requires_grad=True) for a in arrs]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrs]
    o, t = tt.block_diag(*ours), torch.block_diag(*theirs)
    _close(o, t)
    w = rng.standard_normal(tuple(t.shape)).astype(np.float32)
    (o * tt.tensor(w)).sum().backward()
    (t * torch.tensor(w)).sum().backward()
    for a, b in zip(ours, theirs):
        _close(a.grad, b.grad)
    mixed = torch.block_diag(torch.ones(1, 1, dtype=torch.int64), torch.ones(1, 1))
    _close(tt.block_diag(tt.ones(1, 1, dtype=tt.int64), tt.ones(1, 1)), mixed)


@pytest.mark.parametrize("n,r,rep", [(3, 2, False), (3, 2, True), (4, 3, False), (2, 3, False), (3, 0, False)])
def test_combinations_forward_and_backward(n, r, rep):
    a = np.arange(1.0, n + 1, dtype=np.float32)
    x, tx = tt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    o, t = tt.combinations(x, r, rep), torch.combinations(tx, r, rep)
    _close(o, t)
    if t.numel():
        (o * o).sum().backward()
        (t * t).sum().backward()
        _close(x.grad, tx.grad)
    _close(tt.combinations(tt.tensor([1, 2, 3]), r=r, with_replacement=rep),
           torch.combinations(torch.tensor([1, 2, 3]), r=r, with_replacement=rep))


def test_more_free_functions_match_torch():
    assert tuple(tt.broadcast_shapes((2, 1), (3,))) == tuple(torch.broadcast_shapes((2, 1), (3,)))
    assert str(tt.broadcast_shapes((2, 1), 3)) == str(torch.broadcast_shapes((2, 1), 3)).replace("torch.", "tinytorch.")
    for o, t in zip(tt.broadcast_tensors(tt.ones(2, 1), tt.arange(3)), torch.broadcast_tensors(torch.ones(2, 1),
                                                                                              torch.arange(3))):
        _close(o, t)
    _close(tt.scalar_tensor(3), torch.scalar_tensor(3))
    _close(tt.t(tt.ones(2, 3)), torch.t(torch.ones(2, 3)))
    _close(tt.row_stack([tt.ones(2), tt.zeros(2)]), torch.row_stack([torch.ones(2), torch.zeros(2)]))
    _close(tt.asarray([1, 2]), torch.asarray([1, 2]))
    names = ["float64", "float32", "float16", "int64", "int32", "int8", "uint8", "bool"]
    for a in names:
        for b in names:
            assert tt.can_cast(getattr(tt, a), getattr(tt, b)) == torch.can_cast(getattr(torch, a), getattr(torch, b))
    x1, x2 = [[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]
    _close(tt.cosine_similarity(tt.tensor(x1), tt.tensor(x2)), torch.cosine_similarity(torch.tensor(x1),
                                                                                       torch.tensor(x2)), rtol=1e-6)
    assert tt.is_signed(tt.ones(1)) and tt.get_device(tt.ones(1)) == -1 and not tt.is_complex(tt.ones(1))


def test_import_does_not_pick_the_default_device():
    """Picking the default device runs the C canaries, which import tinytorch: at import time they would
    see a half-initialised module, fail, and refuse C. Nothing at import may name the default device."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DEVICE"}
    code = "import tinytorch\nfrom tinytorch.runtime.device import Device\nprint(Device._default)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "None", out.stdout + out.stderr


def test_constants_and_global_switches():
    assert (tt.inf, tt.pi, tt.e) == (torch.inf, torch.pi, torch.e) and tt.nan != tt.nan
    assert tt.typename(tt.ones(2)) == torch.typename(torch.ones(2)).replace("torch", "tinytorch")
    assert tt.typename(3) == torch.typename(3)
    assert str(tt.get_default_device()) == str(torch.get_default_device())
    from tinytorch.helpers import DEVICE

    old = DEVICE.value
    other = next(n for n in ("INTERP", "LLVM", "C") if n != _default_device())
    try:
        tt.set_default_device(other)
        assert tt.ones(2).device.name == other and tt.get_default_device() == "cpu"
    finally:
        DEVICE.value = old
    assert tt.ones(2).device.name != other
    tt.use_deterministic_algorithms(True)
    assert tt.are_deterministic_algorithms_enabled()
    tt.use_deterministic_algorithms(False)
    tt.set_float32_matmul_precision("high")
    assert tt.get_float32_matmul_precision() == "high"
    tt.set_float32_matmul_precision("highest")
