"""repr/str of tensors against PyTorch's text for the same values (dtype names spelled tinytorch.*)."""

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
CASES = {
    "float": np.array([1.0, 2.0, 3.0], np.float32),
    "scalar": np.array(3.5, np.float32),
    "scalar_int_valued": np.array(-2.0, np.float32),
    "sci_big": np.array([1e10, 1.0], np.float32),
    "sci_small": np.array([0.1, 1e-5], np.float32),
    "mixed_2d": np.array([[1.5, -2.25], [1000.5, 3]], np.float32),
    "nonfinite_int": np.array([np.inf, -np.inf, np.nan, 1.0], np.float32),
    "nonfinite_frac": np.array([np.inf, np.nan, 1.5], np.float32),
    "only_nan": np.array([np.nan], np.float32),
    "zeros_signed": np.array([0.0, -0.0], np.float32),
    "int64": np.array([1, 2, 3]),
    "int32": np.array([1, -20], np.int32),
    "uint8": np.array([1, 255], np.uint8),
    "int8": np.array([-1, 2], np.int8),
    "bool": np.array([True, False]),
    "bool_0d": np.array(True),
    "big_2d": rng.standard_normal((40, 40)).astype(np.float32),
    "big_1d": rng.standard_normal(2000).astype(np.float32),
    "3d": rng.standard_normal((3, 4, 5)).astype(np.float32),
    "big_3d": rng.standard_normal((5, 30, 40)).astype(np.float32),
    "arange_wrap": np.arange(100),
    "big_int": np.arange(2000).reshape(20, 100),
    "float64": rng.standard_normal((3, 30)),
    "float64_span": np.array([1e-10, 1e10]),
    "int_valued_1e8": np.array([1.0, 1e8]),
    "int_valued_1e9": np.array([1.0, 1e9]),
    "large_frac": (rng.standard_normal(20) * 1e5).astype(np.float32),
    "empty": np.zeros((0,), np.float32),
    "empty_int": np.zeros((0,), np.int64),
    "empty_3d": np.zeros((2, 0, 3), np.float32),
    "empty_f64": np.zeros((0, 3)),
}


def _same(a, b):
    assert repr(b) == repr(a).replace("torch.", "tinytorch.")
    assert str(b) == str(a).replace("torch.", "tinytorch.")


@pytest.mark.parametrize("name", list(CASES))
def test_repr_matches_torch(name):
    c = CASES[name]
    _same(torch.from_numpy(c.copy()), tt.from_numpy(c.copy()))


@pytest.mark.parametrize("name", ["float", "mixed_2d", "sci_small", "nonfinite_frac", "big_2d", "scalar"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_repr_half_types(name, dtype):
    c = CASES[name]
    _same(torch.from_numpy(c.copy()).to(getattr(torch, dtype)), tt.from_numpy(c.copy()).cast(getattr(tt, dtype)))


def test_lazy_result_prints_values():
    a = tt.Tensor([1, 2, 3]) + 1
    assert repr(a) == "tensor([2, 3, 4])"
    assert "lazy" not in repr(tt.Tensor([1.0]).exp())


def test_requires_grad_and_parameter():
    _same(torch.tensor([[1.0, 2.0]], requires_grad=True), tt.Tensor([[1.0, 2.0]], requires_grad=True))
    w = rng.standard_normal((2, 3)).astype(np.float32)
    _same(torch.nn.Parameter(torch.from_numpy(w.copy())), tt.nn.Parameter(tt.from_numpy(w.copy())))
    assert repr(tt.nn.Parameter(tt.Tensor([1.0]))) == "Parameter containing:\ntensor([1.], requires_grad=True)"


def test_grad_fn_suffix():
    x = tt.Tensor([1.0, 2.0], requires_grad=True)
    y = x + 1
    if getattr(y, "grad_fn", None) is None:  # before grad_fn exists the suffix is requires_grad
        assert repr(y) == "tensor([2., 3.], requires_grad=True)"
    else:
        tx = torch.tensor([1.0, 2.0], requires_grad=True)
        _same(tx + 1, y)


def test_long_suffix_wraps():
    c = rng.standard_normal(7).astype(np.float64)
    _same(torch.from_numpy(c.copy()).requires_grad_(), tt.from_numpy(c.copy()).requires_grad_())


def test_device_suffix():
    from tinytorch.tensor.common import _default_device

    other = next(d for d in ("INTERP", "LLVM", "C") if d != _default_device())
    assert repr(tt.Tensor([1.0, 2.0], device=other)) == f"tensor([1., 2.], device='{other}')"
    assert repr(tt.Tensor([1.0, 2.0])) == "tensor([1., 2.])"


@pytest.mark.parametrize("opts", [dict(precision=2), dict(threshold=5), dict(edgeitems=1, threshold=5),
                                  dict(linewidth=30), dict(sci_mode=True), dict(sci_mode=False),
                                  dict(profile="short"), dict(profile="full"), dict(edgeitems=0, threshold=5)])
def test_set_printoptions(opts):
    c = (rng.standard_normal((6, 8)) * 100).astype(np.float32)
    big = np.arange(12, dtype=np.float32) * 1e-6
    try:
        torch.set_printoptions(**opts)
        tt.set_printoptions(**opts)
        assert tt.get_printoptions() == {k: v for k, v in torch._tensor_str.get_printoptions().items()
                                         if k in tt.get_printoptions()}
        for arr in (c, big, np.arange(10), c[0]):
            _same(torch.from_numpy(arr.copy()), tt.from_numpy(arr.copy()))
    finally:
        torch.set_printoptions(profile="default")
        tt.set_printoptions(profile="default")


def test_printoptions_context_restores():
    with tt.printoptions(precision=1):
        assert repr(tt.Tensor([1.25])) == "tensor([1.2])"
    assert repr(tt.Tensor([1.25])) == "tensor([1.2500])"
    with pytest.raises(ValueError):
        tt.set_printoptions(profile="nope")


def test_print_shows_values_of_results_and_gradients(capsys):
    """Issue 8: print(a + 1) and print(x.grad) showed tensor(<lazy ADD>); they print values like PyTorch."""
    for lib in (tt, torch):
        a = lib.tensor([1.0, 2.0])
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        print(a + 1)
        print(x.grad)
        print(x * 2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [ln.replace("torch.", "tinytorch.") for ln in lines[3:]]
    assert lines[0] == "tensor([2., 3.])" and lines[1] == "tensor([2., 4.])" and "lazy" not in "".join(lines)
