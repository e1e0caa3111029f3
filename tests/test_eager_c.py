"""The C fast path of eager tensors (`install_tensor` in tinytorch/engine/walk_c.py).

Takes: tensors built with the C `Tensor._from` and the C `+ - * /` (and add, sub, mul, div), next to the Python
methods they stand in for (walk_c.PY_TENSOR, the reference).
Produces: pass/fail on their promises: the same graph node as the Python method for every operand kind (or the
Python method's own result when the C path hands the call over), right values, fresh tensors recorded among the live
ones without grad, the user line recorded when DEBUG >= 2 or SOURCE_LINES asks, errors as the Python methods raise
them, and no reference or memory left behind.
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.engine import walk_c
from tinytorch.helpers import Context
from tinytorch.tensor.common import LIVE


@pytest.fixture(scope="module")
def py() -> dict[str, Any]:
    """The Python methods (the C ones are installed); skipped only when this interpreter has no Python.h."""
    if not os.path.exists(walk_c.headers()):
        pytest.skip(f"no {walk_c.headers()}: the C path cannot be built")
    if not walk_c.TENSOR_C:
        fn, why = walk_c.build()
        assert fn is not None, why
    assert type(tt.Tensor.__dict__["__add__"]).__name__ == "method_descriptor"
    return walk_c.PY_TENSOR


NAMES = {"+": ("__add__", "add"), "-": ("__sub__", "sub"), "*": ("__mul__", "mul"), "/": ("__truediv__", "div")}
WANT = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


def _operands() -> list[tuple[str, Any, Any]]:
    """(what, a, b): the fast cases and the ones handed to Python."""
    x = np.array([1.5, -2.0, 0.25, 3.0], np.float32)
    y = np.array([2.0, 0.5, -4.0, 1.0], np.float32)
    a, b = tt.tensor(x), tt.tensor(y)
    return [
        ("same shape", a, b),
        ("lazy operands", a * 1.0, b + 0.0),
        ("float", a, 2.5),
        ("int", a, 3),
        ("negative zero", a, -0.0),
        ("broadcast", a.reshape(2, 2), tt.tensor(y[:2])),
        ("float64", tt.tensor(x.astype(np.float64)), tt.tensor(y.astype(np.float64))),
        ("int tensor", tt.tensor([1, 2, 3, 4]), tt.tensor([5, 6, 7, 8])),
        ("bool scalar", a, True),
        ("numpy operand", a, y),
        ("requires grad", tt.tensor(x, requires_grad=True), b),
        ("parameter", tt.nn.Parameter(tt.tensor(x)), b),
        ("mixed dtypes", a, tt.tensor(y.astype(np.float64))),
    ]


@pytest.mark.parametrize("sym", list(NAMES))
def test_same_graph_and_values_as_the_python_methods(py: dict[str, Any], sym: str) -> None:
    dunder, named = NAMES[sym]
    for what, a, b in _operands():
        for name in (dunder, named):
            got = getattr(a, name)(b)
            ref = py[name](a, b)
            if not isinstance(b, np.ndarray):  # (an array becomes a new buffer at each call)
                assert got.uop is ref.uop, f"{what}: {name} built another graph"
            assert got.dtype is ref.dtype and got.shape == ref.shape and got.device == ref.device
            assert got.requires_grad == ref.requires_grad, what
            an = a.detach().numpy() if isinstance(a, tt.Tensor) else a
            bn = b.detach().numpy() if isinstance(b, tt.Tensor) else b
            with np.errstate(divide="ignore"):
                want = WANT[sym](an, bn)
            np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-6, err_msg=f"{what}: {name}")


def test_fresh_tensors_are_live_without_grad(py: dict[str, Any]) -> None:
    a, b = tt.ones(3), tt.full((3,), 2.0)
    for t in (a + b, a - b, a * 0.5, a / 3, a.sub(1.0), a.div(b)):
        assert type(t) is tt.Tensor and not t.requires_grad and t.grad is None and t.grad_fn is None and t.is_leaf
        assert t.device == a.device and any(x is t for x in LIVE.values())
    c = tt.Tensor._from((a + b).uop, a.device, True)  # the C _from with requires_grad
    assert c.requires_grad and not c.is_leaf and c.grad is None


def test_keywords_gradients_and_errors_take_the_python_path(py: dict[str, Any]) -> None:
    a, b = tt.tensor([1.0, 2.0]), tt.tensor([3.0, 5.0])
    np.testing.assert_allclose(a.add(b, alpha=2).numpy(), [7.0, 12.0])
    np.testing.assert_allclose(a.sub(b, alpha=0.5).numpy(), [-0.5, -0.5])
    np.testing.assert_allclose(b.div(a, rounding_mode="floor").numpy(), [3.0, 2.0])
    w = tt.tensor([1.0, 2.0], requires_grad=True)
    ((w - a) * b / a + 1.0).sum().backward()
    assert w.grad is not None
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 2.5])
    with pytest.raises(RuntimeError, match="broadcastable"):
        tt.ones(3) + tt.ones(4)
    with pytest.raises(TypeError):
        tt.ones(3) + "x"
    with pytest.raises(TypeError):
        tt.ones(3).add()  # type: ignore[call-arg]


def test_the_user_line_is_recorded_when_asked(py: dict[str, Any]) -> None:
    a, b = tt.tensor([1.0, 2.0]), tt.tensor([3.0, 5.0])
    with Context(SOURCE_LINES=1):
        t = a * b - 0.75  # (a node built here for the first time: its line is recorded)
    assert t.uop._tag is not None and t.uop._tag.startswith("test_eager_c.py:")


def test_no_leak(py: dict[str, Any]) -> None:
    a, b = tt.ones(16), tt.full((16,), 2.0)
    watched = [a, b, a.uop, b.uop]
    for _ in range(100):  # warm
        ((((a + b) * b - a) / b).mul(0.5).add(1.0) - 0.25).div(3)
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    # measured between two passes: the first may resize the process-wide intern table (see
    # test_uop_intern.test_no_leak_over_100k_nodes), a leak grows on every pass
    tracemalloc.start()
    try:
        marks = []
        for _ in range(2):
            for _ in range(20_000):  # (constants the warm-up made: the constant cache does not churn)
                ((((a + b) * b - a) / b).mul(0.5).add(1.0) - 0.25).div(3)
            gc.collect()
            LIVE.values()  # (the dead tensors' references swept)
            marks.append(tracemalloc.get_traced_memory()[0])
        grown = marks[1] - marks[0]
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(o) for o in watched] == before
    assert grown < 256 * 1024, f"{grown} bytes more after 20k expressions"


def test_c_methods_keep_docs_and_signatures(py: dict[str, Any]) -> None:
    """help() and inspect.signature read the Python method's docstring and parameters off the C method, and the
    generated API reference (docs/api.md) lists the methods as before they were installed."""
    import inspect

    from tinytorch.docs import API_MD, render

    for name in walk_c.TENSOR_METHODS:
        c, p = tt.Tensor.__dict__[name], py[name]
        assert type(c).__name__ == "method_descriptor"
        assert c.__doc__ == p.__doc__, name
        assert list(inspect.signature(c).parameters) == list(inspect.signature(p).parameters), name
    assert inspect.signature(tt.Tensor.add).parameters["alpha"].default == 1
    assert render() == API_MD.read_text(), "docs/api.md misses methods the C extension stands in for"
