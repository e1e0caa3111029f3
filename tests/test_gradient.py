"""Autograd in three layers (ENGINEERING.md "Tests"; issue 3, item 8).

(a) each backward rule of `pm_gradient` alone, on one hand-built UOp, against a hand-derived
    numpy formula (every device, float32);
(b) the full backward of programs in float64 against central differences of a numpy reference
    with a random cotangent (`sum(f(x) * c)`, not a plain sum): every differentiable entry of
    the op table, and composite programs (broadcasting, batched matmul, softmax family, strided
    and negative-step slicing, integer gathers, cat/stack, pad, where, max/min, mean/var/std,
    activations, pow, cumsum);
(c) float32 on every device: the table against the float64 reference, the composite programs
    and edge values against torch (when installed), rtol 1e-4.

Then the graph semantics: diamonds, a value with several consumers, `backward()` twice,
`detach()`, `no_grad()`, `gradient=` for non-scalars, `.grad` accumulation and the errors.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.special

import tinytorch as tt
from tinytorch import Tensor, dtypes
from tinytorch.ops.gradient import NO_GRADIENT, compute_gradients, pm_gradient
from tinytorch.ops.uop import GroupOp, Ops, UOp

from .conftest import EPS, assert_close
from .optable import OPS, np_gelu, np_pad, np_sigmoid, np_softmax, np_softplus, sample, seed_for

F32_RTOL = 1e-4  # the bar: float32 gradients match torch / the float64 reference to ~1e-4
# central differences with Richardson extrapolation: truncation O(h^4), rounding ~eps*|L|/h
FD_H = 1e-3
FD_RTOL = 1e-7

BUG_PROD_ZERO = ("autograd: prod's gradient is prod/x, so an input with a zero gets NaN "
                 "(torch: the product of the other elements)")
BUG_CLAMP_EDGE = ("autograd: clamp is maximum/minimum, so at x == min or x == max the gradient is split in "
                  "half (0.5); torch.clamp passes the whole gradient (1) at the bounds")
BUG_WHERE_NAN = ("autograd: the branch where() does not select still gets 0 * (an inf local derivative) = NaN: "
                 "sigmoid/tanh/silu of x <= -89 and softplus of x > threshold or x < -16 have NaN gradients "
                 "in float32 (torch: finite)")
BUG_ERF_ZERO = ("autograd: erf is sign(x) * f(|x|), so d erf/dx at 0 is 0 (sign'=0, |x|' split); "
                "torch gives 2/sqrt(pi)")
BUG_POW0 = ("autograd: x ** 0 is x.ones_like(), which drops requires_grad: (x ** 0).sum().backward() raises "
            "'does not require grad' (torch: the graph is kept and x.grad is zeros)")


def t64(a: np.ndarray, device: str | None = None, rg: bool = True) -> Tensor:
    return Tensor(np.asarray(a, np.float64), dtype=dtypes.float64, device=device, requires_grad=rg)


def t32(a: np.ndarray, device: str | None = None, rg: bool = True) -> Tensor:
    return Tensor(np.asarray(a, np.float32), dtype=dtypes.float32, device=device, requires_grad=rg)


def grad_np(t: Tensor) -> np.ndarray:
    assert t.grad is not None, "the leaf got no gradient (.grad is None)"
    assert t.grad.shape == t.shape, f".grad shape {t.grad.shape} != the leaf's shape {t.shape}"
    assert t.grad.dtype == t.dtype, f".grad dtype {t.grad.dtype} != the leaf's dtype {t.dtype}"
    return t.grad.numpy()


# =============================================================================================
# (a) one rule, one node
# =============================================================================================
@dataclass(frozen=True)
class Rule:
    name: str
    op: Ops
    build: Callable[..., UOp]  # source UOps -> the one node under test
    inputs: Callable[[np.random.Generator], list[np.ndarray]]
    grads: Callable[..., tuple[Any, ...]]  # (cotangent, *inputs) -> expected gradient per input (None: no grad)
    atol_eps: float = 0.0  # absolute floor in units of eps(float32) * |cotangent| for cancelling formulas


def _u(op: Ops, *src: UOp, arg: Any = None, dtype: Any = None) -> UOp:
    return UOp(op, dtype or src[-1].dtype, tuple(src), arg)


def _real(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda r: r.uniform(-2, 2, shape).astype(np.float32)


def _grid(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Small integers: many ties (for max)."""
    return lambda r: r.integers(-2, 3, shape).astype(np.float32)


def _expand_grad(c: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    axes = tuple(i for i, (s, n) in enumerate(zip(shape, c.shape)) if s != n)
    return c.sum(axis=axes, keepdims=True)


def _max_ties(c: np.ndarray, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    hit = (x == x.max(axis=axes, keepdims=True)).astype(np.float64)
    return c * hit / hit.sum(axis=axes, keepdims=True)


S = (3, 4, 5)
RULES: list[Rule] = [
    Rule("add", Ops.ADD, lambda a, b: _u(Ops.ADD, a, b), lambda r: [_real(*S)(r), _real(*S)(r)],
         lambda c, a, b: (c, c)),
    Rule("mul", Ops.MUL, lambda a, b: _u(Ops.MUL, a, b), lambda r: [_real(*S)(r), _real(*S)(r)],
         lambda c, a, b: (c * b, c * a)),
    Rule("neg", Ops.NEG, lambda a: _u(Ops.NEG, a), lambda r: [_real(*S)(r)], lambda c, a: (-c,)),
    Rule("reciprocal", Ops.RECIPROCAL, lambda a: _u(Ops.RECIPROCAL, a),
         lambda r: [(r.uniform(0.5, 2, S) * r.choice([-1, 1], S)).astype(np.float32)], lambda c, a: (-c / a ** 2,)),
    Rule("sqrt", Ops.SQRT, lambda a: _u(Ops.SQRT, a), lambda r: [r.uniform(0.1, 4, S).astype(np.float32)],
         lambda c, a: (c / (2 * np.sqrt(a)),)),
    Rule("exp2", Ops.EXP2, lambda a: _u(Ops.EXP2, a), lambda r: [_real(*S)(r)],
         lambda c, a: (c * np.exp2(a) * np.log(2),)),
    Rule("log2", Ops.LOG2, lambda a: _u(Ops.LOG2, a), lambda r: [r.uniform(0.1, 4, S).astype(np.float32)],
         lambda c, a: (c / (a * np.log(2)),)),
    # cos computed as sin(pi/2 - x): the argument is rounded to float32 before sin
    Rule("sin", Ops.SIN, lambda a: _u(Ops.SIN, a), lambda r: [r.uniform(-4, 4, S).astype(np.float32)],
         lambda c, a: (c * np.cos(a),), atol_eps=8),
    # torch.maximum: a tie sends half the gradient to each side
    Rule("maximum_ties", Ops.MAX, lambda a, b: _u(Ops.MAX, a, b), lambda r: [_grid(*S)(r), _grid(*S)(r)],
         lambda c, a, b: (c * np.where(a > b, 1, np.where(a < b, 0, 0.5)),
                          c * np.where(b > a, 1, np.where(a > b, 0, 0.5)))),
    Rule("where", Ops.WHERE, lambda m, a, b: _u(Ops.WHERE, m, a, b),
         lambda r: [r.random(S) < 0.5, _real(*S)(r), _real(*S)(r)],
         lambda c, m, a, b: (None, np.where(m, c, 0), np.where(m, 0, c))),
    Rule("cast_f32_f64", Ops.CAST, lambda a: _u(Ops.CAST, a, dtype=dtypes.float64), lambda r: [_real(*S)(r)],
         lambda c, a: (c,)),
    Rule("cast_from_int", Ops.CAST, lambda a: _u(Ops.CAST, a, dtype=dtypes.float32),
         lambda r: [r.integers(-5, 5, S).astype(np.int32)], lambda c, a: (None,)),
    Rule("sum_axes_0_2", Ops.REDUCE_AXIS, lambda a: _u(Ops.REDUCE_AXIS, a, arg=(Ops.ADD, (0, 2))),
         lambda r: [_real(*S)(r)], lambda c, a: (np.broadcast_to(c, a.shape),)),
    Rule("sum_all", Ops.REDUCE_AXIS, lambda a: _u(Ops.REDUCE_AXIS, a, arg=(Ops.ADD, (0, 1, 2))),
         lambda r: [_real(*S)(r)], lambda c, a: (np.broadcast_to(c, a.shape),)),
    # torch.amax: tied maxima share the gradient evenly
    Rule("max_axis_1_ties", Ops.REDUCE_AXIS, lambda a: _u(Ops.REDUCE_AXIS, a, arg=(Ops.MAX, (1,))),
         lambda r: [_grid(*S)(r)], lambda c, a: (_max_ties(c, a, (1,)),)),
    Rule("max_axes_0_2_ties", Ops.REDUCE_AXIS, lambda a: _u(Ops.REDUCE_AXIS, a, arg=(Ops.MAX, (0, 2))),
         lambda r: [_grid(*S)(r)], lambda c, a: (_max_ties(c, a, (0, 2)),)),
    Rule("max_with_neg_inf", Ops.REDUCE_AXIS, lambda a: _u(Ops.REDUCE_AXIS, a, arg=(Ops.MAX, (1,))),
         lambda r: [np.where(r.random(S) < 0.3, -np.inf, _grid(*S)(r)).astype(np.float32)],
         lambda c, a: (_max_ties(c, a, (1,)),)),
    Rule("prod_axis_2", Ops.REDUCE_AXIS, lambda a: _u(Ops.REDUCE_AXIS, a, arg=(Ops.MUL, (2,))),
         lambda r: [(r.uniform(0.5, 1.5, S) * r.choice([-1, 1], S)).astype(np.float32)],
         lambda c, a: (c * np.prod(a, axis=2, keepdims=True) / a,), atol_eps=4),
    Rule("reshape", Ops.RESHAPE, lambda a: _u(Ops.RESHAPE, a, arg=(5, 12)), lambda r: [_real(*S)(r)],
         lambda c, a: (c.reshape(a.shape),)),
    Rule("permute", Ops.PERMUTE, lambda a: _u(Ops.PERMUTE, a, arg=(2, 0, 1)), lambda r: [_real(*S)(r)],
         lambda c, a: (c.transpose(1, 2, 0),)),
    Rule("expand", Ops.EXPAND, lambda a: _u(Ops.EXPAND, a, arg=(3, 4, 5)), lambda r: [_real(1, 4, 1)(r)],
         lambda c, a: (_expand_grad(c, a.shape),)),
    Rule("pad", Ops.PAD, lambda a: _u(Ops.PAD, a, arg=((1, 0), (0, 2), (3, 1))), lambda r: [_real(*S)(r)],
         lambda c, a: (c[1:4, 0:4, 3:8],)),
    Rule("shrink", Ops.SHRINK, lambda a: _u(Ops.SHRINK, a, arg=((1, 3), (0, 4), (2, 3))), lambda r: [_real(*S)(r)],
         lambda c, a: (np.pad(c, ((1, 0), (0, 0), (2, 2))),)),
    Rule("flip", Ops.FLIP, lambda a: _u(Ops.FLIP, a, arg=(True, False, True)), lambda r: [_real(*S)(r)],
         lambda c, a: (c[::-1, :, ::-1],)),
    Rule("contiguous", Ops.CONTIGUOUS, lambda a: _u(Ops.CONTIGUOUS, a), lambda r: [_real(*S)(r)],
         lambda c, a: (c,)),
]


def test_every_differentiable_op_has_a_rule_and_a_single_node_test() -> None:
    """A new primitive op must come with a backward rule (or be declared non-differentiable) and
    with a single-node test above."""
    differentiable = (GroupOp.ALU | GroupOp.Movement | {Ops.REDUCE_AXIS, Ops.CONTIGUOUS}) - NO_GRADIENT
    tested = {r.op for r in RULES}
    assert differentiable - tested == set(), f"ops with a gradient but no single-node test: {differentiable - tested}"
    for op in differentiable:
        x = UOp(Ops.CONST, dtypes.float32, (), 1.0)
        srcs = (UOp(Ops.CONST, dtypes.bool, (), True), x, x) if op is Ops.WHERE else (x, x) \
            if op in GroupOp.Binary else (x,)
        arg = {Ops.REDUCE_AXIS: (Ops.ADD, ()), Ops.PERMUTE: (), Ops.RESHAPE: (), Ops.EXPAND: (), Ops.PAD: (),
               Ops.SHRINK: (), Ops.FLIP: ()}.get(op)
        assert pm_gradient.rewrite(UOp(op, dtypes.float32, srcs, arg), ctx=x) is not None, f"no rule for {op.name}"


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_on_one_node(rule: Rule, device: str) -> None:
    rng = np.random.default_rng(seed_for("rule", rule.name))
    arrays = rule.inputs(rng)
    leaves = [Tensor(a, device=device) for a in arrays]
    node = rule.build(*[t.uop for t in leaves])
    assert node.op is rule.op and node.src == tuple(t.uop for t in leaves), "the case must be one node"
    c = rng.uniform(-1.5, 1.5, node.shape)
    ct = Tensor(c.astype(node.dtype.np), dtype=node.dtype, device=device)
    grads = compute_gradients(node, ct.uop, {t.uop for t in leaves})
    c_used = np.asarray(ct.numpy(), np.float64)
    with np.errstate(all="ignore"):
        expected = rule.grads(c_used, *[a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays])
    assert len(expected) == len(leaves)
    for i, (t, e) in enumerate(zip(leaves, expected)):
        g = grads.get(t.uop)
        if e is None:
            assert g is None, f"{rule.name}: input {i} ({t.dtype}) must get no gradient, got {g.op}"
            continue
        assert g is not None, f"{rule.name}: input {i} got no gradient"
        assert g.shape == t.shape, f"{rule.name}: gradient shape {g.shape} != input shape {t.shape}"
        assert g.dtype == t.dtype, f"{rule.name}: gradient dtype {g.dtype} != input dtype {t.dtype}"
        atol = rule.atol_eps * EPS[dtypes.float32] * 1.5
        assert_close(Tensor._from(g, device), np.asarray(e), f"d {rule.name} / d input{i}", t.shape, device,
                     rtol=4 * EPS[dtypes.float32], atol=atol)


# =============================================================================================
# central differences
# =============================================================================================
def _outs(r: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(o, np.float64) for o in (r if isinstance(r, (tuple, list)) else (r,)))


def central_diff(f: Callable[..., Any], arrays: list[np.ndarray], cots: tuple[np.ndarray, ...],
                 wrt: tuple[int, ...]) -> dict[int, np.ndarray]:
    """d/dx_i of L = sum_k sum(f(x)_k * c_k), per element: Richardson-extrapolated central differences."""
    arrays = [np.array(a, np.float64) for a in arrays]

    def loss() -> float:
        with np.errstate(all="ignore"):
            return math.fsum(float(np.sum(o * c)) for o, c in zip(_outs(f(*arrays)), cots))

    def d(a: np.ndarray, j: tuple[int, ...], step: float) -> float:
        x0 = a[j]
        a[j] = x0 + step
        lp = loss()
        a[j] = x0 - step
        lm = loss()
        a[j] = x0
        return (lp - lm) / (2 * step)

    out = {}
    for i in wrt:
        a = arrays[i]
        g = np.zeros(a.shape)
        for j in np.ndindex(a.shape):
            h = FD_H * max(1.0, abs(a[j]))
            g[j] = (4 * d(a, j, h / 2) - d(a, j, h)) / 3
        out[i] = g
    return out


def fd_close(got: Any, expected: np.ndarray, what: str, shapes: Any, device: str | None, rtol: float,
             scale_frac: float) -> None:
    """Relative comparison; elements that cancel to ~0 get an absolute floor proportional to the
    gradient's own scale (its largest element), never a fixed number."""
    scale = float(np.max(np.abs(expected[np.isfinite(expected)]), initial=0.0))
    assert_close(got, expected, what, shapes, device, rtol=rtol, atol=scale_frac * scale)


# =============================================================================================
# (b) + (c) driven by the op table
# =============================================================================================
GRAD_OPS = [o for o in OPS if o.grad and o.floats]
# inputs that are conditions (or where the reference is undefined) get no central-difference check
NOT_WRT = {"where": (0,), "where_bcast": (0,), "where_cond_float": (0,), "where_scalars": (0,),
           "pow_neg_base_int_exp": (1,)}
ERF_LIKE = {"erf": 4e-6, "gelu": 4e-6}  # A&S 7.1.26: the derivative of the approximation is off by ~1e-6


KEEP_DOMAIN = {"pow_neg_base_int_exp"}  # integer exponents of negative bases


def _grad_domain(name: str, d: str) -> str:
    """No ties and no kinks under the finite-difference step."""
    return "real" if d in ("grid", "halves") and name not in KEEP_DOMAIN else d


@functools.cache
def table_case(name: str) -> tuple[list[np.ndarray], tuple[np.ndarray, ...], dict[int, np.ndarray]]:
    """(inputs as float32-representable float64, cotangents, float64 reference gradients)."""
    op = next(o for o in GRAD_OPS if o.name == name)
    rng = np.random.default_rng(seed_for("grad", name))
    arrays = [sample(_grad_domain(name, d), s, dtypes.float32, rng).astype(np.float64)
              for d, s in zip(op.domains(), op.shapes)]
    with np.errstate(all="ignore"):
        outs = _outs(op.reference()(*arrays, **op.kwargs))
    cots = tuple(rng.standard_normal(o.shape) for o in outs)
    wrt = tuple(i for i, d in enumerate(op.domains()) if d != "bool" and i not in NOT_WRT.get(name, ()))
    ref = central_diff(lambda *a: op.reference()(*a, **op.kwargs), arrays, cots, wrt)
    return arrays, cots, ref


def run_table_grad(name: str, dt: Any, device: str) -> dict[int, np.ndarray | None]:
    op = next(o for o in GRAD_OPS if o.name == name)
    arrays, cots, _ = table_case(name)
    leaves = [Tensor(a.astype(dt.np), dtype=dt, device=device, requires_grad=True) for a in arrays]
    out = op.fn(*leaves, **op.kwargs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    loss = None
    for o, c in zip(outs, cots):
        term = (o * Tensor(c.astype(o.dtype.np), dtype=o.dtype, device=device)).sum()
        loss = term if loss is None else loss + term
    assert loss is not None
    loss.backward()
    return {i: (None if t.grad is None else grad_np(t)) for i, t in enumerate(leaves)}


def _table_params() -> list[Any]:
    out = []
    for o in GRAD_OPS:
        if o.out_dtype(dtypes.float64) != dtypes.float64:
            continue  # a cast to a narrower float: central differences of a rounded function say nothing
        out.append(pytest.param(o.name, id=o.name))
    return out


@pytest.mark.parametrize("name", _table_params())
def test_table_backward_float64_vs_central_differences(name: str) -> None:
    device = tt.Device.DEFAULT
    _, _, ref = table_case(name)
    got = run_table_grad(name, dtypes.float64, device)
    rtol = FD_RTOL + ERF_LIKE.get(name, 0.0)
    for i, e in ref.items():
        g = got[i]
        if g is None:  # the input does not reach the output through a differentiable path
            assert np.all(e == 0), f"{name}: input {i} got no gradient, central differences say {e}"
            continue
        fd_close(g, e, f"d {name} / d input{i} (float64 vs central differences)", e.shape, device, rtol, rtol)


@pytest.mark.parametrize("name", _table_params())
def test_table_backward_float32_every_device(name: str, device: str) -> None:
    op = next(o for o in GRAD_OPS if o.name == name)
    if op.out_dtype(dtypes.float32) not in (dtypes.float32, dtypes.float64):
        pytest.skip("output rounded to a 16-bit float")
    _, _, ref = table_case(name)
    got = run_table_grad(name, dtypes.float32, device)
    for i, e in ref.items():
        g = got[i]
        if g is None:
            assert np.all(e == 0), f"{name}: input {i} got no gradient, central differences say {e}"
            continue
        fd_close(g, e, f"d {name} / d input{i} (float32 vs float64 reference)", e.shape, device, F32_RTOL,
                 64 * EPS[dtypes.float32])


# =============================================================================================
# (b) + (c): composite programs (float64 vs central differences; float32 vs torch)
# =============================================================================================
@dataclass(frozen=True)
class Program:
    name: str
    fn: Callable[..., Any]  # tinytorch
    ref: Callable[..., Any]  # numpy, float64
    torch_fn: Callable[..., Any] | None  # torch (None: fn works on torch tensors as is)
    shapes: tuple[tuple[int, ...], ...]
    domain: tuple[str, ...] | str = "real"

    def domains(self) -> tuple[str, ...]:
        return self.domain if isinstance(self.domain, tuple) else (self.domain,) * len(self.shapes)


def _tidx(x: Any, data: Any) -> Any:
    """An int64 index on x's framework: tinytorch Tensor, torch tensor or numpy array."""
    if isinstance(x, Tensor):
        return Tensor(np.asarray(data, np.int64), device=x.device)
    if isinstance(x, np.ndarray):
        return np.asarray(data)
    import torch

    return torch.tensor(np.asarray(data, np.int64))


def _torch():  # type: ignore[no-untyped-def]
    import torch

    return torch


def _np_logsumexp(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    return scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)


def _layernorm(x: Any) -> Any:
    m = x.mean(-1, keepdim=True) if not isinstance(x, np.ndarray) else x.mean(-1, keepdims=True)
    d = x - m
    v = (d * d).mean(-1, keepdim=True) if not isinstance(x, np.ndarray) else (d * d).mean(-1, keepdims=True)
    return d / (v + 1e-5) ** 0.5


IDX_ROWS = [[0, 2, 2], [1, 0, 2]]  # repeated rows: their gradients must add up
IDX_I, IDX_J = [0, 2, 1, 2, 2], [1, 1, 3, 1, 4]  # the pair (2, 1) twice
LABELS = [3, 0, 4, 4, 1, 0]

PROGRAMS: list[Program] = [
    Program("bcast_arith", lambda a, b, c: (a * b + c) / (b * b + 1) - a * 0.5,
            lambda a, b, c: (a * b + c) / (b * b + 1) - a * 0.5, None, ((3, 1, 4), (5, 1), (4,))),
    Program("bcast_scalar_tensor", lambda a, b: a * b - b / (a * a + 2), lambda a, b: a * b - b / (a * a + 2), None,
            ((), (3, 4))),
    Program("matmul_2d_bias_relu", lambda x, w, b: (x @ w + b).relu(), lambda x, w, b: np.maximum(x @ w + b, 0),
            lambda x, w, b: (x @ w + b).relu(), ((4, 6), (6, 5), (5,))),
    Program("matmul_batched", lambda x, y: x @ y, lambda x, y: x @ y, None, ((2, 3, 4), (2, 4, 5))),
    Program("matmul_bcast_batch", lambda x, y: x @ y, lambda x, y: x @ y, None, ((2, 1, 3, 4), (5, 4, 2))),
    Program("matmul_vec", lambda x, y: x @ y, lambda x, y: x @ y, None, ((2, 3, 4), (4,))),
    Program("mlp2", lambda x, w1, w2: ((x @ w1).tanh() @ w2).sigmoid(),
            lambda x, w1, w2: np_sigmoid(np.tanh(x @ w1) @ w2), None, ((5, 4), (4, 6), (6, 3))),
    Program("softmax", lambda x: x.softmax(1), lambda x: np_softmax(x, 1), lambda x: x.softmax(1), ((3, 6, 2),)),
    Program("log_softmax", lambda x: x.log_softmax(-1), lambda x: x - _np_logsumexp(x, -1, True),
            lambda x: x.log_softmax(-1), ((4, 7),)),
    Program("logsumexp", lambda x: x.logsumexp(1), lambda x: _np_logsumexp(x, 1), lambda x: x.logsumexp(1),
            ((3, 5, 2),)),
    Program("softmax_large_logits", lambda x: (x * 30).softmax(-1), lambda x: np_softmax(x * 30, -1),
            lambda x: (x * 30).softmax(-1), ((3, 5),)),
    Program("slice_steps", lambda x: x[1::2, ::-1] * x[::3, :], lambda x: x[1::2, ::-1] * x[::3, :],
            lambda x: x[1::2].flip(1) * x[::3, :], ((7, 6),)),
    Program("slice_neg_range", lambda x: x[5:0:-2, -3:], lambda x: x[5:0:-2, -3:],
            lambda x: x.flip(0)[1:6:2, -3:], ((7, 5),)),
    Program("gather_rows_repeated", lambda x: x[_tidx(x, IDX_ROWS)], lambda x: x[np.asarray(IDX_ROWS)],
            lambda x: x[_tidx(x, IDX_ROWS)], ((3, 5),)),
    Program("gather_pairs_repeated", lambda x: x[_tidx(x, IDX_I), _tidx(x, IDX_J)],
            lambda x: x[np.asarray(IDX_I), np.asarray(IDX_J)], lambda x: x[_tidx(x, IDX_I), _tidx(x, IDX_J)],
            ((3, 5),)),
    Program("gather_dim1", lambda x: x[:, _tidx(x, [3, 0, 3])] * 2, lambda x: x[:, [3, 0, 3]] * 2,
            lambda x: x[:, _tidx(x, [3, 0, 3])] * 2, ((2, 4, 3),)),
    Program("cross_entropy_gather",
            lambda x: -x.log_softmax(-1)[_tidx(x, range(6)), _tidx(x, LABELS)].mean(),
            lambda x: -(x - _np_logsumexp(x, -1, True))[np.arange(6), LABELS].mean(),
            lambda x: -x.log_softmax(-1)[_tidx(x, range(6)), _tidx(x, LABELS)].mean(), ((6, 5),)),
    Program("cat", lambda a, b: tt.cat([a * 2, b.exp(), a], dim=1),
            lambda a, b: np.concatenate([a * 2, np.exp(b), a], 1),
            lambda a, b: _torch().cat([a * 2, b.exp(), a], dim=1), ((2, 3), (2, 4))),
    Program("stack", lambda a, b: tt.stack([a, a * b, b], dim=1), lambda a, b: np.stack([a, a * b, b], 1),
            lambda a, b: _torch().stack([a, a * b, b], dim=1), ((3, 4), (3, 4))),
    Program("pad", lambda x: x.pad((1, 2, 0, 1)) * x.pad((0, 3, 1, 0), value=2.0),
            lambda x: np_pad(x, (1, 2, 0, 1)) * np_pad(x, (0, 3, 1, 0), 2.0),
            lambda x: _torch().nn.functional.pad(x, (1, 2, 0, 1)) * _torch().nn.functional.pad(x, (0, 3, 1, 0),
                                                                                              value=2.0),
            ((3, 4),)),
    Program("pad_negative", lambda x: x.pad((-1, 2, 1, -1)).exp(), lambda x: np.exp(np_pad(x, (-1, 2, 1, -1))),
            lambda x: _torch().nn.functional.pad(x, (-1, 2, 1, -1)).exp(), ((4, 5),)),
    Program("where", lambda a, b: tt.where(a > b, a * b, a - b), lambda a, b: np.where(a > b, a * b, a - b),
            lambda a, b: _torch().where(a > b, a * b, a - b), ((4, 5), (5,))),
    Program("max_min_axes", lambda x: x.amax(1) * x.amin(0).sum() + x.amax((0, 2)).sum(),
            lambda x: x.max(1) * x.min(0).sum() + x.max((0, 2)).sum(),
            lambda x: x.amax(1) * x.amin(0).sum() + x.amax((0, 2)).sum(), (S,)),
    Program("max_keepdim_sub", lambda x: x - x.amax(-1, keepdim=True), lambda x: x - x.max(-1, keepdims=True),
            lambda x: x - x.amax(-1, keepdim=True), ((4, 6),)),
    Program("mean", lambda x: x.mean((0, 2)), lambda x: x.mean((0, 2)), None, (S,)),
    Program("var", lambda x: x.var(1), lambda x: x.var(1, ddof=1), lambda x: x.var(1), (S,)),
    Program("var_biased_keepdim", lambda x: x.var(-1, keepdim=True, correction=0),
            lambda x: x.var(-1, keepdims=True), lambda x: x.var(-1, keepdim=True, correction=0), (S,)),
    Program("std", lambda x: x.std(0), lambda x: x.std(0, ddof=1), lambda x: x.std(0), (S,)),
    Program("layernorm", _layernorm, _layernorm, _layernorm, ((4, 8),)),
    Program("tanh", lambda x: x.tanh(), np.tanh, None, ((4, 7),), "wide"),
    Program("sigmoid", lambda x: x.sigmoid(), np_sigmoid, None, ((4, 7),), "wide"),
    Program("gelu", lambda x: x.gelu(), np_gelu, lambda x: _torch().nn.functional.gelu(x), ((4, 7),)),
    Program("gelu_tanh", lambda x: x.gelu(approximate="tanh"),
            lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
            lambda x: _torch().nn.functional.gelu(x, approximate="tanh"), ((4, 7),)),
    Program("silu", lambda x: x.silu(), lambda x: x * np_sigmoid(x), lambda x: _torch().nn.functional.silu(x),
            ((4, 7),), "wide"),
    Program("softplus", lambda x: x.softplus(), np_softplus, lambda x: _torch().nn.functional.softplus(x),
            ((4, 7),)),
    Program("erf", lambda x: x.erf(), scipy.special.erf, None, ((4, 7),)),
    Program("pow_tensor", lambda a, b: a ** b, np.power, None, ((3, 4), (3, 4)), ("pos", "real")),
    Program("pow_scalars", lambda a: a ** 2.5 + 2 ** a + a ** -2 + a ** 3, lambda a: a ** 2.5 + 2 ** a + a ** -2.0
            + a ** 3, None, ((3, 4),), "pos"),
    Program("cumsum", lambda x: x.cumsum(1) * x.cumsum(-1)[:, :1], lambda x: np.cumsum(x, 1) * np.cumsum(x, -1)[:, :1],
            None, ((3, 5, 4),)),
    Program("diamond_chain", lambda x: (x * x + x).exp() * (x * x + x), lambda x: np.exp(x * x + x) * (x * x + x),
            None, ((3, 4),), "unit"),
]
FP64_PROGRAM_TOL = {"erf": 4e-6, "gelu": 4e-6}  # A&S erf: the derivative of the approximation


def _sample_prog(p: Program) -> tuple[list[np.ndarray], tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed_for("prog", p.name))
    arrays = [sample(d, s, dtypes.float32, rng).astype(np.float64) for d, s in zip(p.domains(), p.shapes)]
    with np.errstate(all="ignore"):
        outs = _outs(p.ref(*arrays))
    return arrays, tuple(rng.standard_normal(o.shape) for o in outs)


@functools.cache
def program_reference(name: str) -> dict[int, np.ndarray]:
    p = next(q for q in PROGRAMS if q.name == name)
    arrays, cots = _sample_prog(p)
    return central_diff(p.ref, arrays, cots, tuple(range(len(arrays))))


def _run_program(p: Program, dt: Any, device: str) -> list[np.ndarray]:
    arrays, cots = _sample_prog(p)
    leaves = [Tensor(a.astype(dt.np), dtype=dt, device=device, requires_grad=True) for a in arrays]
    outs = _outs_t(p.fn(*leaves))
    loss = outs[0].mul(Tensor(cots[0].astype(dt.np), dtype=dt, device=device)).sum()
    for o, c in zip(outs[1:], cots[1:]):
        loss = loss + (o * Tensor(c.astype(dt.np), dtype=dt, device=device)).sum()
    assert loss.requires_grad
    loss.backward()
    return [grad_np(t) for t in leaves]


def _outs_t(r: Any) -> tuple[Any, ...]:
    return tuple(r) if isinstance(r, (tuple, list)) else (r,)


@pytest.mark.parametrize("p", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_program_backward_float64_vs_central_differences(p: Program, device: str) -> None:
    ref = program_reference(p.name)
    got = _run_program(p, dtypes.float64, device)
    rtol = FD_RTOL + FP64_PROGRAM_TOL.get(p.name, 0.0)
    for i, g in enumerate(got):
        fd_close(g, ref[i], f"d {p.name} / d input{i} (float64)", p.shapes, device, rtol, rtol)


@pytest.mark.parametrize("p", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_program_backward_float32_vs_torch(p: Program, device: str) -> None:
    torch = pytest.importorskip("torch")
    arrays, cots = _sample_prog(p)
    tl = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    tout = _outs_t((p.torch_fn or p.fn)(*tl))
    tloss = sum((o * torch.tensor(c.astype(np.float32))).sum() for o, c in zip(tout, cots))
    tloss.backward()
    got = _run_program(p, dtypes.float32, device)
    for i, (g, t) in enumerate(zip(got, tl)):
        e = t.grad.numpy().astype(np.float64)
        fd_close(g, e, f"d {p.name} / d input{i} (float32 vs torch)", p.shapes, device, F32_RTOL,
                 64 * EPS[dtypes.float32])


# edge values where a naive rule gives NaN or the wrong tie convention (float32, against torch)
EDGES: list[tuple[str, Callable[..., Any], Callable[..., Any] | None, list[float]]] = [
    ("relu_at_0", lambda x: x.relu(), None, [0.0, -1.0, 2.0, -0.0]),
    ("abs_at_0", lambda x: x.abs(), None, [0.0, -1.0, 2.0]),
    ("maximum_with_0_ties", lambda x: x.maximum(x * 0), lambda x: x.maximum(x * 0), [0.0, -1.0, 2.0]),
    ("max_ties_and_neg_inf", lambda x: x.max(), lambda x: x.amax(), [-math.inf, 1.0, 1.0, 1.0, 0.5]),
    ("min_ties", lambda x: x.min(), lambda x: x.amin(), [1.0, 1.0, 2.0]),
    ("sqrt_at_0", lambda x: x.sqrt(), None, [0.0, 1.0, 4.0]),
    ("log_at_0", lambda x: x.log(), None, [0.0, 1.0, 2.0]),
    ("softmax_huge_logits", lambda x: x.softmax(-1), None, [1000.0, 0.0, -1000.0, 999.0]),
    ("log_softmax_huge_logits", lambda x: x.log_softmax(-1), None, [1000.0, 0.0, -1000.0, 999.0]),
    ("logsumexp_huge", lambda x: x.logsumexp(0), None, [1000.0, 0.0, -1000.0, 999.0]),
    ("exp_overflow", lambda x: x.exp(), None, [100.0, 80.0, 1.0]),
    ("sigmoid_saturated", lambda x: x.sigmoid(), None, [-100.0, -50.0, 0.0, 50.0, 100.0]),
    ("tanh_saturated", lambda x: x.tanh(), None, [-50.0, -0.1, 0.0, 0.2, 50.0]),
    ("silu_saturated", lambda x: x.silu(), lambda x: _torch().nn.functional.silu(x), [-100.0, -50.0, 0.0, 50.0]),
    ("softplus_tails", lambda x: x.softplus(), lambda x: _torch().nn.functional.softplus(x),
     [-100.0, -30.0, 0.0, 10.0, 30.0]),
    ("pow_2_5_at_0", lambda x: x ** 2.5, None, [0.0, 1.0, 2.0]),
    ("prod_with_a_zero", lambda x: x.prod(), None, [2.0, 0.0, 3.0]),
    ("prod_with_two_zeros", lambda x: x.prod(), None, [2.0, 0.0, 0.0]),
    ("clamp_at_bounds", lambda x: x.clamp(0.0, 1.0), None, [0.0, 0.5, 1.0, 2.0]),
    ("erf_at_0", lambda x: x.erf(), None, [0.0, 1.0, -2.0]),
    ("std_of_constant", lambda x: x.std(), None, [1.0, 1.0, 1.0]),
]


@pytest.mark.parametrize("name,fn,torch_fn,vals", EDGES, ids=[e[0] for e in EDGES])
def test_edge_values_vs_torch(name: str, fn: Callable[..., Any], torch_fn: Any, vals: list[float],
                              device: str) -> None:
    torch = pytest.importorskip("torch")
    x = t32(np.array(vals), device)
    out = fn(x)
    c = np.resize(np.array([0.3, -0.7, 1.1, 0.5, 0.9]), out.shape).astype(np.float32)
    out.backward(Tensor(c, device=device))
    tx = torch.tensor(vals, dtype=torch.float32, requires_grad=True)
    (torch_fn or fn)(tx).backward(torch.tensor(c))
    e = tx.grad.numpy().astype(np.float64)
    # torch computes saturated tails as exactly 0 where the true value is ~1e-22 (or a denormal): an
    # absolute floor of 1e-6 of the gradient's scale; NaN and a wrong convention still fail
    fd_close(grad_np(x), e, f"d {name}", (len(vals),), device, F32_RTOL, 1e-6)


# =============================================================================================
# graph semantics
# =============================================================================================
def test_diamond_node_reuse(device: str) -> None:
    """y = x*x + x: x reaches y along three edges; dy/dx = 2x + 1."""
    xv = np.array([[1.5, -2.0, 0.25], [3.0, 0.0, -0.5]])
    c = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    x = t64(xv, device)
    y = x * x + x
    y.backward(t64(c, device, rg=False))
    assert_close(grad_np(x), c * (2 * xv + 1), "diamond x*x+x", xv.shape, device)


def test_shared_intermediate_feeds_several_consumers(device: str) -> None:
    rng = np.random.default_rng(1)
    xv, av = rng.uniform(-1, 1, (4, 5)), rng.uniform(-1, 1, (4, 5))
    x, a = t64(xv, device), t64(av, device)
    z = x.exp()  # one node, four consumers (one of them through two views)
    loss = (z * a).sum() + z.max() + (z[1:] * z[:-1]).sum() + z.T.sum(0).mean()
    loss.backward()
    ez = np.exp(xv)
    g = ez * av
    gm = np.zeros_like(xv)
    gm[np.unravel_index(np.argmax(ez), ez.shape)] = 1
    g += gm * ez
    gp = np.zeros_like(xv)
    gp[1:] += ez[:-1]
    gp[:-1] += ez[1:]
    g += gp * ez + ez / 4
    assert_close(grad_np(x), g, "exp shared by 4 consumers", xv.shape, device, rtol=1e-12)
    assert_close(grad_np(a), ez, "d/da", xv.shape, device, rtol=1e-12)


def test_same_leaf_on_both_sides(device: str) -> None:
    x = t64(np.array([1.0, -2.0, 3.0]), device)
    (x + x).sum().backward()
    assert_close(grad_np(x), np.full(3, 2.0), "x + x", (3,), device)
    y = t64(np.array([1.0, -2.0, 3.0]), device)
    (y * y * y).sum().backward()
    assert_close(grad_np(y), 3 * np.array([1.0, 4.0, 9.0]), "y*y*y", (3,), device)


def test_backward_twice_accumulates_like_torch(device: str) -> None:
    """torch: loss.backward(retain_graph=True) twice leaves 2 * dloss/dx in .grad."""
    xv = np.array([0.5, -1.0, 2.0])
    x = t64(xv, device)
    loss = (x * x.sin()).sum()
    loss.backward()
    first = grad_np(x).copy()
    loss.backward()
    expected = np.sin(xv) + xv * np.cos(xv)
    assert_close(first, expected, "first backward", (3,), device, rtol=1e-12)
    assert_close(grad_np(x), 2 * expected, "second backward accumulates", (3,), device, rtol=1e-12)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(xv, requires_grad=True)
    tl = (tx * tx.sin()).sum()
    tl.backward(retain_graph=True)
    tl.backward()
    assert_close(grad_np(x), tx.grad.numpy(), "vs torch retain_graph", (3,), device, rtol=1e-12)


def test_grad_accumulates_across_graphs_and_resets(device: str) -> None:
    x = t64(np.array([1.0, 2.0]), device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert_close(grad_np(x), np.array([3 + 2.0, 3 + 4.0]), "3x then x^2", (2,), device)
    x.grad = None
    (x * x).sum().backward()
    assert_close(grad_np(x), np.array([2.0, 4.0]), "after grad = None", (2,), device)


def test_backward_after_realizing_the_loss(device: str) -> None:
    """loss.item() (or print(loss)) before backward must not cut the graph."""
    x = t64(np.array([1.0, 2.0, 3.0]), device)
    loss = (x * x).sum()
    assert loss.item() == 14.0
    loss.backward()
    assert_close(grad_np(x), np.array([2.0, 4.0, 6.0]), "backward after loss.item()", (3,), device)


def test_backward_through_a_realized_intermediate(device: str) -> None:
    x = t64(np.array([1.0, 2.0, 3.0]), device)
    y = x * 2
    y.realize()
    assert not y.is_leaf, "a realized result of an op on a tensor requiring grad is not a leaf (torch)"
    (y * y).sum().backward()
    assert_close(grad_np(x), 8 * np.array([1.0, 2.0, 3.0]), "through realized y", (3,), device)
    assert y.grad is None, "a non-leaf does not keep .grad (torch, without retain_grad)"


BUG_SHARED_CONST_LEAF = ("autograd: leaves made by Tensor.zeros/ones/full(..., requires_grad=True) with the same "
                         "shape and value share one interned CONST UOp, so backward() gives each of them the sum of "
                         "all their gradients")


def test_constant_initialized_leaves_are_distinct(device: str) -> None:
    a = Tensor.zeros(3, device=device, requires_grad=True)
    b = Tensor.zeros(3, device=device, requires_grad=True)
    (a * 2 + b * 5).sum().backward()
    assert_close(grad_np(a), np.full(3, 2.0), "zeros leaf a", (3,), device)
    assert_close(grad_np(b), np.full(3, 5.0), "zeros leaf b", (3,), device)


def test_factory_leaves(device: str) -> None:
    """Leaves made by the random factories and tt.tensor are leaves and get their gradient."""
    for name, t in [("randn", Tensor.randn(2, 3, device=device, requires_grad=True)),
                    ("uniform", Tensor.uniform(2, 3, low=-1, high=1, device=device, requires_grad=True)),
                    ("tt.tensor", tt.tensor(np.ones((2, 3), np.float32), device=device, requires_grad=True)),
                    ("requires_grad_", Tensor(np.ones((2, 3), np.float32), device=device).requires_grad_())]:
        assert t.is_leaf and t.requires_grad, name
        w = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device=device)
        (t * w).sum().backward()
        assert_close(grad_np(t), np.arange(6.0).reshape(2, 3), f"{name} leaf", (2, 3), device)


def test_detach_blocks_gradient(device: str) -> None:
    xv = np.array([1.0, -2.0, 3.0])
    x = t64(xv, device)
    d = x.detach()
    assert not d.requires_grad and d.grad is None
    (x * d).sum().backward()  # d/dx x * const(x) = const(x): x, not 2x
    assert_close(grad_np(x), xv, "x * x.detach()", (3,), device)
    assert d.grad is None


def test_no_grad_blocks_gradient(device: str) -> None:
    x = t64(np.array([1.0, -2.0]), device)
    with tt.no_grad():
        z = x * 2
        assert not z.requires_grad
    y = (x * 3 + z * z).sum()
    y.backward()
    assert_close(grad_np(x), np.array([3.0, 3.0]), "x*3 + (no_grad x*2)^2", (2,), device)
    assert z.grad is None

    @tt.no_grad()
    def f(t: Tensor) -> Tensor:
        return t * t

    assert not f(x).requires_grad
    with tt.no_grad():
        with pytest.raises(RuntimeError):
            (x * 2).sum().backward()
    w = (x * 1).sum()
    assert w.requires_grad, "no_grad must be restored on exit"


def test_non_differentiable_path_gives_no_gradient(device: str) -> None:
    xv = np.array([1.5, -2.0, 0.5])
    x = t64(xv, device)
    ((x > 0).cast(dtypes.float64) * 5 + x.floor() * 0 + x * 2).sum().backward()
    assert_close(grad_np(x), np.full(3, 2.0), "comparison/cast paths carry no gradient", (3,), device)


def test_backward_non_scalar_with_gradient(device: str) -> None:
    xv = np.array([[1.0, 2.0], [3.0, 4.0]])
    c = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = t64(xv, device)
    y = x * x * 3
    y.backward(gradient=t64(c, device, rg=False))
    assert_close(grad_np(x), 6 * xv * c, "backward(gradient=)", xv.shape, device)


def test_backward_gradient_dtype_follows_leaf(device: str) -> None:
    """A float32 leaf used in a float64 program gets a float32 .grad (torch)."""
    x = t32(np.array([1.0, 2.0]), device)
    (x.double() * t64(np.array([3.0, 4.0]), device, rg=False)).sum().backward()
    assert x.grad is not None and x.grad.dtype == dtypes.float32
    assert_close(x.grad, np.array([3.0, 4.0]), "cast f32->f64", (2,), device)


def test_broadcast_leaf_gets_its_own_shape(device: str) -> None:
    b = t64(np.array([[1.0], [2.0]]), device)
    x = t64(np.ones((2, 3)), device, rg=False)
    ((x * b) * t64(np.arange(6.0).reshape(2, 3), device, rg=False)).sum().backward()
    assert_close(grad_np(b), np.array([[3.0], [12.0]]), "broadcast (2,1) against (2,3)", (2, 1), device)


def test_unused_leaf_and_intermediates_get_no_grad(device: str) -> None:
    x, unused = t64(np.array([1.0, 2.0]), device), t64(np.array([5.0]), device)
    h = x * 2
    (h * h).sum().backward()
    assert unused.grad is None
    assert h.grad is None, "non-leaf tensors do not get .grad (torch without retain_grad)"
    assert x.is_leaf and not h.is_leaf and unused.is_leaf


def test_errors() -> None:
    a = Tensor(np.array([1.0, 2.0], np.float32))
    with pytest.raises(RuntimeError, match="does not require grad"):
        (a * 2).sum().backward()
    x = t32(np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    with pytest.raises((ValueError, RuntimeError)):
        (x * 2).backward(gradient=Tensor(np.ones(3, np.float32)))
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor(np.array([1, 2])).requires_grad_()
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_gradients_stay_lazy() -> None:
    """backward() builds graph nodes; nothing runs until a gradient is read."""
    from tinytorch.engine import realize as R

    x = t32(np.array([1.0, 2.0, 3.0]))
    loss = (x * x).sum()
    before = R.STATS["kernels_run"]
    loss.backward()
    assert R.STATS["kernels_run"] == before, "backward() ran kernels"
    assert x.grad is not None
    assert_close(x.grad, np.array([2.0, 4.0, 6.0]), "lazy grad", (3,), None)
