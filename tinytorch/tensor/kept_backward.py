"""Kept backward passes: an eager `loss.backward()` over a forward graph shaped like an earlier one runs the kernels
kept from that earlier backward, without building or walking the gradient graph.

Takes: the output that backward() starts from, the tensors that receive gradients (leaves that require grad,
non-leaves that retain it), and the live lazy tensors of the output's forward graph (the loss, the model's output).
Produces: all of them computed now, in one plan: the gradients as realized `.grad` tensors, the forward tensors
reading their results (their nodes keep the graph for later backward passes, as after any realize).

The gradient graph is a function of the forward graph's structure (every node's op, dtype, argument and sources,
which nodes receive gradients, which functions give the gradients of softmax, pooling or convolution nodes), so
the structural key of the forward walk (engine/realize.py `_Walk`) names it, and the plan that computed it names
its kernels. The first backward of a structure builds lazy gradients, as always (a one-off backward fuses with
whatever reads it); the second computes its gradients at once and keeps the plan; later ones run the kept plan.
Only in the plain case: a scalar output seeded with 1, no `.grad` to accumulate into, no tensor hooks, no
`create_graph` or `inputs`, no in-place writes or realized nodes in the graph; and not while the JIT captures, the
profiler or VIZ observe, DEBUG >= 2 reports kernels or deferred updates wait (`realize.known_plans_allowed`).
Anything else, or `REUSE_BACKWARD=0`, builds lazy gradients: they fuse with whatever realizes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine import realize
from ..helpers import CACHE_ENTRIES, LRU, REUSE_BACKWARD
from ..ops.gradient import CUSTOM_GRADIENTS
from ..ops.uop import Ops
from . import common

if TYPE_CHECKING:
    from .core import Tensor


class KeptBackward:
    """The plan of one backward: `leaf_map` per plan input its position among the forward walk's buffers, `got`
    the positions (in the list of tensors receiving gradients) of those that got one, in the plan's order."""

    __slots__ = ("plan", "leaf_map", "got", "dev")

    def __init__(self, plan: Any, leaf_map: list[int], got: list[int], dev: Any):
        self.plan, self.leaf_map, self.got, self.dev = plan, leaf_map, got, dev


# forward structure and gradient receivers -> the kept plan (None: this structure is not kept; it builds lazily;
# _SEEN: met once, the next backward of this structure computes at once and keeps its plan)
KEPT: LRU[tuple, Any] = LRU(CACHE_ENTRIES)
_SEEN = "seen"
_SKIP_BASES = (Ops.BUFFER, Ops.CONST)


def backward(out: Tensor, targets: list[Tensor], build: Callable[[], list[Tensor | None]]) -> bool:
    """Compute the gradients of scalar `out` (seed 1) into `.grad` of targets now, by a kept plan when one fits
    (else by `build`, the gradient graph, realized at once and kept, from the second backward of a structure on);
    False, doing nothing, outside the plain case or for a structure met the first time (the caller then builds
    lazy gradients)."""
    if not REUSE_BACKWARD.value or not realize.known_plans_allowed() or not targets:
        return False
    root = out.uop
    fwd: list[Tensor] = []  # the live lazy tensors of the forward graph, found after the walk
    if any(t.grad is not None for t in targets):
        return False
    live = list(common.LIVE.values())
    if any(t._meta is not None and t._meta.hooks and t._rg for t in live):  # (the targets among them)
        return False
    w = realize._Walk()
    w.add([root])
    if w.has_assign or w.has_realized:
        return False
    index = w.index
    # nodes whose gradient a function gives (softmax, pooling, convolution): which function, where (what it
    # captured is the node's own shape and arguments, part of the structure)
    custom = sorted([(index[n], f.__code__) for n, f in list(CUSTOM_GRADIENTS.items()) if n in index],
                    key=lambda c: c[0])
    for t in live:  # the forward tensors in creation order, the output among them
        u = t.uop
        if t is out or (u in index and u._realized is None and u.base.op not in _SKIP_BASES):
            fwd.append(t)
    if not any(t is out for t in fwd):
        fwd.append(out)
    fwd_uops = [t.uop for t in fwd]
    key = (out.device, w.key(fwd_uops), tuple([index.get(t.uop, -1) for t in targets]), tuple(custom))
    kept = KEPT.get(key, False)
    if kept is False:  # a structure met once is built lazily (a one-off backward fuses with what reads it)
        KEPT[key] = _SEEN
        return False
    if kept is None:
        return False
    # (the gradients first, then the forward tensors: the order in which optimizer.step() realizes lazy gradients
    # and the tensors that read the weights, so that the kernels, and their roundings, are the same)
    if isinstance(kept, KeptBackward):
        inputs = [w.leaves[j] for j in kept.leaf_map]
        res, _ = realize.run_kept_plan(kept.plan, inputs, kept.dev, "kept backward",
                                       [*([None] * len(kept.got)), *fwd_uops])
        realize.adopt(fwd, res[len(kept.got):])
        for i, r in zip(kept.got, res):
            t = targets[i]
            t.grad = type(out)._from(r, t.device)
        return True
    grads = build()
    got = [i for i, g in enumerate(grads) if g is not None]
    if not got:
        KEPT[key] = None
        return False
    gts = [grads[i] for i in got]
    keep: list[Any] = []
    res = realize.realize_uops([*[g.uop for g in gts], *fwd_uops], out.device, keep=keep)  # type: ignore[union-attr]
    realize.adopt([*gts, *fwd], res)  # type: ignore[list-item]
    for i, g in zip(got, gts):
        targets[i].grad = g
    KEPT[key] = _kept(keep, w, got)
    return True


def _kept(keep: list[Any], w: Any, got: list[int]) -> KeptBackward | None:
    """The plan of this realize as a kept backward, or None when it cannot run on another step's buffers: it
    read memory outside the forward graph, or a gradient's result is not a buffer of its own."""
    if not keep:  # (more than these targets ran: deferred updates)
        return None
    plan, inputs, dev = keep[0]
    if plan.assigned_inputs:
        return None
    for r in plan.results[:len(got)]:
        if r.kind != "view" or r.slot is None or r.slot[0] != "new":
            return None
    leaf_map = [w.leaf_pos.get(id(b)) for b in inputs]
    if any(j is None for j in leaf_map):
        return None
    return KeptBackward(plan, leaf_map, got, dev)
