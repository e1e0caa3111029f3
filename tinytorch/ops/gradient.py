"""Autograd as graph rewrites: one backward rule per primitive op.

Takes: a UOp graph, the root whose gradient is given, and that gradient (a UOp).
Produces: gradient UOps for the nodes on a path from the root to the leaves that need them —
ordinary lazy nodes that the scheduler fuses with the forward pass and the optimizer update.

`pm_gradient` is a table: each rule matches one op and, given the incoming gradient as
`ctx`, returns one gradient per source (None where the source gets none). The walk in
`compute_gradients` is one pass in reverse topological order; nodes reached twice sum their
gradients.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

from ..dtype import DType, dtypes
from .rewrite import PatternMatcher, UPat
from .uop import GroupOp, Ops, UOp, toposort

# small UOp builders (the Tensor API is not used here so the rules read as math on nodes)


def const_like(u: UOp, value: Any, dtype: DType | None = None) -> UOp:
    dt = dtype or u.dtype
    c = UOp(Ops.CONST, dt, (), float(value) if dt.is_float else value)
    assert u.shape is not None
    if not u.shape:
        return c
    c = UOp(Ops.RESHAPE, dt, (c,), (1,) * len(u.shape))
    return UOp(Ops.EXPAND, dt, (c,), u.shape) if any(s != 1 for s in u.shape) else c


def mul(a: UOp, b: UOp) -> UOp:
    return UOp(Ops.MUL, a.dtype, (a, b))


def add(a: UOp, b: UOp) -> UOp:
    return UOp(Ops.ADD, a.dtype, (a, b))


def neg(a: UOp) -> UOp:
    return UOp(Ops.NEG, a.dtype, (a,))


def _cos(x: UOp) -> UOp:
    """cos x = 1 - 2 sin^2(x/2), accurate to a few ulps of 1 for every finite x."""
    h = UOp(Ops.SIN, x.dtype, (mul(x, const_like(x, 0.5)),))
    return add(const_like(x, 1.0), neg(mul(const_like(x, 2.0), mul(h, h))))


def recip(a: UOp) -> UOp:
    return UOp(Ops.RECIPROCAL, a.dtype, (a,))


def where(c: UOp, a: UOp, b: UOp) -> UOp:
    return UOp(Ops.WHERE, a.dtype, (c, a, b))


def cmpne(a: UOp, b: UOp) -> UOp:
    return UOp(Ops.CMPNE, dtypes.bool, (a, b))


def eq(a: UOp, b: UOp) -> UOp:
    return UOp(Ops.CMPNE, dtypes.bool, (cmpne(a, b), const_like(a, True, dtypes.bool)))


def reshape(a: UOp, shape: tuple[int, ...]) -> UOp:
    return a if a.shape == shape else UOp(Ops.RESHAPE, a.dtype, (a,), shape)


def expand(a: UOp, shape: tuple[int, ...]) -> UOp:
    return a if a.shape == shape else UOp(Ops.EXPAND, a.dtype, (a,), shape)


def reduce_sum(a: UOp, axes: tuple[int, ...]) -> UOp:
    return UOp(Ops.REDUCE_AXIS, a.dtype, (a,), (Ops.ADD, axes)) if axes else a


def _unexpand(g: UOp, src_shape: tuple[int, ...]) -> UOp:
    """Gradient of EXPAND: sum over the axes that were broadcast."""
    assert g.shape is not None
    axes = tuple(i for i, (s, n) in enumerate(zip(src_shape, g.shape)) if s != n)
    return reduce_sum(g, axes)


def _max_reduce_grad(ctx: UOp, node: UOp) -> tuple[UOp]:
    """d max / dx: the gradient is shared evenly between the tied maxima (like torch.amax)."""
    x = node.src[0]
    assert x.shape is not None
    hit = eq(x, expand(node, x.shape))
    hitf = UOp(Ops.CAST, x.dtype, (hit,))
    count = expand(reduce_sum(hitf, node.arg[1]), x.shape)
    return (mul(mul(hitf, recip(count)), expand(ctx, x.shape)),)


def _maximum_grad(ctx: UOp, node: UOp) -> tuple[UOp, UOp]:
    """d max(a,b): to the larger; a tie splits the gradient in half (like torch.maximum)."""
    a, b = node.src
    half = mul(ctx, const_like(ctx, 0.5))
    zero = const_like(ctx, 0.0)
    a_gt = UOp(Ops.CMPLT, dtypes.bool, (b, a))
    b_gt = UOp(Ops.CMPLT, dtypes.bool, (a, b))
    return where(a_gt, ctx, where(b_gt, zero, half)), where(b_gt, ctx, where(a_gt, zero, half))


def _prod_grad(ctx: UOp, node: UOp) -> tuple[UOp]:
    """d prod / dx_i = product of the other elements: prod / x_i without zeros; with one zero,
    the product of the non-zeros at the zero and 0 elsewhere; with more, 0 (like PyTorch)."""
    x = node.src[0]
    assert x.shape is not None
    axes = node.arg[1]
    is_zero = eq(x, const_like(x, 0.0))
    zeros = expand(UOp(Ops.REDUCE_AXIS, x.dtype, (UOp(Ops.CAST, x.dtype, (is_zero,)),), (Ops.ADD, axes)), x.shape)
    nonzero_prod = expand(UOp(Ops.REDUCE_AXIS, x.dtype, (where(is_zero, const_like(x, 1.0), x),), (Ops.MUL, axes)),
                          x.shape)
    safe_x = where(is_zero, const_like(x, 1.0), x)
    none = eq(zeros, const_like(zeros, 0.0))
    one_here = UOp(Ops.AND, dtypes.bool, (eq(zeros, const_like(zeros, 1.0)), is_zero))
    local = where(none, mul(expand(node, x.shape), recip(safe_x)), where(one_here, nonzero_prod, const_like(x, 0.0)))
    return (mul(expand(ctx, x.shape), local),)


def _reduce_grad(ctx: UOp, node: UOp) -> tuple[UOp]:
    op = node.arg[0]
    assert node.src[0].shape is not None
    if op is Ops.ADD:
        return (expand(ctx, node.src[0].shape),)
    if op is Ops.MAX:
        return _max_reduce_grad(ctx, node)
    return _prod_grad(ctx, node)


def _inverse(order: tuple[int, ...]) -> tuple[int, ...]:
    out = [0] * len(order)
    for i, o in enumerate(order):
        out[o] = i
    return tuple(out)


LN2 = math.log(2)
pm_gradient = PatternMatcher([
    (UPat(Ops.ADD), lambda ctx: (ctx, ctx)),
    (UPat(Ops.MUL, name="node"), lambda ctx, node: (mul(ctx, node.src[1]), mul(ctx, node.src[0]))),
    (UPat(Ops.NEG), lambda ctx: (neg(ctx),)),
    # d(1/x) = -1/x^2
    (UPat(Ops.RECIPROCAL, name="node"), lambda ctx, node: (neg(mul(ctx, mul(node, node))),)),
    # d sqrt(x) = 1 / (2 sqrt(x))
    (UPat(Ops.SQRT, name="node"), lambda ctx, node: (mul(ctx, recip(mul(node, const_like(node, 2.0)))),)),
    # d 2^x = 2^x ln 2
    (UPat(Ops.EXP2, name="node"), lambda ctx, node: (mul(ctx, mul(node, const_like(node, LN2))),)),
    # d log2(x) = 1 / (x ln 2)
    (UPat(Ops.LOG2, name="node"), lambda ctx, node: (mul(ctx, recip(mul(node.src[0], const_like(node, LN2)))),)),
    # d sin(x) = cos(x) = 1 - 2 sin^2(x/2): x/2 is exact, where pi/2 - x rounds away the low bits of a
    # large x (the slope at x = 1e10 had the wrong sign)
    (UPat(Ops.SIN, name="node"), lambda ctx, node: (mul(ctx, _cos(node.src[0])),)),
    (UPat(Ops.MAX, name="node"), _maximum_grad),
    (UPat(Ops.WHERE, name="node"), lambda ctx, node: (
        None, where(node.src[0], ctx, const_like(ctx, 0.0)), where(node.src[0], const_like(ctx, 0.0), ctx))),
    (UPat(Ops.CAST, name="node"), lambda ctx, node: (UOp(Ops.CAST, node.src[0].dtype, (ctx,))
                                                     if node.src[0].dtype.is_float else None,)),
    (UPat(Ops.REDUCE_AXIS, name="node"), _reduce_grad),
    # movement ops: the inverse movement
    (UPat(Ops.RESHAPE, name="node"), lambda ctx, node: (reshape(ctx, node.src[0].shape),)),
    (UPat(Ops.PERMUTE, name="node"), lambda ctx, node: (UOp(Ops.PERMUTE, ctx.dtype, (ctx,), _inverse(node.arg)),)),
    (UPat(Ops.EXPAND, name="node"), lambda ctx, node: (_unexpand(ctx, node.src[0].shape),)),
    (UPat(Ops.PAD, name="node"), lambda ctx, node: (UOp(Ops.SHRINK, ctx.dtype, (ctx,), tuple(
        (b, b + s) for (b, _), s in zip(node.arg, node.src[0].shape))),)),
    (UPat(Ops.SHRINK, name="node"), lambda ctx, node: (UOp(Ops.PAD, ctx.dtype, (ctx,), tuple(
        (b, s - e) for (b, e), s in zip(node.arg, node.src[0].shape))),)),
    (UPat(Ops.FLIP, name="node"), lambda ctx, node: (UOp(Ops.FLIP, ctx.dtype, (ctx,), node.arg),)),
    (UPat(Ops.CONTIGUOUS), lambda ctx: (ctx,)),
])
# node -> f(node, gradient of node) -> [(input node, its gradient)]: the gradient of a composition given as a whole, for
# ops whose edge values (0, inf, negative bases) the chain rule through their primitives gets wrong (pow)
CUSTOM_GRADIENTS: weakref.WeakKeyDictionary[UOp, Callable[[UOp, UOp], list[tuple[UOp, UOp | None]]]] = \
    weakref.WeakKeyDictionary()
NO_GRADIENT = GroupOp.Comparison | {Ops.AND, Ops.OR, Ops.XOR, Ops.SHL, Ops.SHR, Ops.MOD, Ops.IDIV, Ops.BITCAST,
                                    Ops.BUFFER, Ops.CONST, Ops.DETACH, Ops.ASSIGN}


def compute_gradients(root: UOp | list[tuple[UOp, UOp]], root_grad: UOp | None, wanted: set[UOp],
                      hooks: Callable[[UOp, UOp], UOp] | None = None,
                      hooked: set[UOp] | frozenset[UOp] = frozenset()) -> dict[UOp, UOp]:
    """Gradients of `root` (seeded with root_grad), or of the sum over a list of (root, seed) pairs, for every
    node on a path to `wanted`. hooks(node, grad) may replace the complete gradient of a node in `hooked`
    before it flows on (tensor hooks)."""
    roots = root if isinstance(root, list) else [(root, root_grad)]
    nodes = toposort([r for r, _ in roots], stop=lambda u: u.op is Ops.DETACH or u.op is Ops.ASSIGN)
    needs: set[UOp] = set()
    for u in nodes:
        if u in wanted or (u.op is not Ops.DETACH and any(s in needs for s in u.src)):
            needs.add(u)
    grads: dict[UOp, UOp] = {}
    for r, rg in roots:
        assert rg is not None
        grads[r] = add(grads[r], rg) if r in grads else rg
    for u in reversed(nodes):
        g = grads.get(u)
        if g is None or u not in needs:
            continue
        if hooks is not None and u in hooked:
            g = grads[u] = hooks(u, g)
        if u.op in NO_GRADIENT or not u.src:
            continue
        custom = CUSTOM_GRADIENTS.get(u)
        if custom is not None:  # an op composed of primitives whose gradient is given as a whole (pow)
            for s, sg in custom(u, g):
                if sg is not None and s in needs:
                    grads[s] = add(grads[s], sg) if s in grads else sg
            continue
        src_grads: Any = pm_gradient.rewrite(u, ctx=g)
        if src_grads is None:
            raise NotImplementedError(f"backward: no gradient rule for {u.op.name}")
        for s, sg in zip(u.src, src_grads):
            if sg is None or s not in needs:
                continue
            grads[s] = add(grads[s], sg) if s in grads else sg
    return grads
