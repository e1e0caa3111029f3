"""Reused update graphs: a parameter's optimizer update built once as Tensor ops, rebuilt on later steps by
substituting the step's tensors into the kept graph.

Takes: an optimizer's `_update(p, g, group, state)` (built-in optimizers only: their graphs depend on nothing
but the group's settings and the shapes, dtypes and devices of p, g and the state tensors; per-step values
such as the step count live in tensors) and the parameter, gradient and state of one step.
Produces: the same UOps `_update` would build (UOps are interned, so the rebuilt graph is the very graph),
in about one constructor call per node instead of the Python of every Tensor op (an Adam update of one
parameter: ~90 nodes, about 10x less building).

A graph is kept per parameter with the key it was built under: the group's settings except the learning rate
(a buffer the step writes), the tensors' shapes, dtypes, devices and views, the state's layout. Anything
else takes `_update` itself: a different key, a state entry created or dropped by the update (SGD's first
momentum step), a tensor that is not a plain realized buffer, memory another tensor views (its write must
happen at once), a write realized during the update.
"""

from __future__ import annotations

from typing import Any

from ..engine import realize
from ..ops.uop import Ops, UOp
from ..tensor import Tensor
from ..tensor.composite import above, placeholder, rebuild


class UpdateGraph:
    """One parameter's update over placeholders. The inputs are p, each state tensor, then g: `chains` holds the
    views each of the first ones must have, `holders` each input's placeholder nodes (its views over an unallocated
    buffer; g's: one node), `writes` which inputs the update assigns, `order` the nodes above a placeholder
    (sources first), `outputs` the new uop of each written input."""

    __slots__ = ("key", "chains", "holders", "writes", "order", "outputs")

    def __init__(self, key: tuple, chains: list[tuple], holders: list[list[UOp]], writes: list[int],
                 order: list[UOp], outputs: list[UOp]):
        self.key, self.chains, self.holders, self.writes = key, chains, holders, writes
        self.order, self.outputs = order, outputs


def _chain(u: UOp) -> list[UOp]:
    """u's movement ops, outermost first, then the buffer under them."""
    return [*u.movement_chain(), u.base]


def _plain(t: Tensor) -> bool:
    """A tensor whose uop is a view of a realized buffer (no pending write, not cut by DETACH)."""
    u = t.uop
    return u.op is not Ops.ASSIGN and u.op is not Ops.DETACH and u.base.op is Ops.BUFFER


def _chain_key(u: UOp) -> tuple:
    return tuple((m.op, m.arg) for m in u.movement_chain()) + ((u.base.arg[0].size, u.dtype),)


def group_settings(group: dict[str, Any]) -> tuple:
    """The settings of a parameter group an update graph depends on: all but its parameters and learning rate."""
    return tuple(sorted((k, v) for k, v in group.items() if k not in ("params", "lr", "param_names")))


def update_key(p: Tensor, g: Tensor, group: dict[str, Any], state: dict[str, Any],
               settings: tuple | None = None) -> tuple | None:
    """The key an update graph is kept under, or None when this update cannot be reused (settings: the group's,
    when the caller has them already)."""
    if settings is None:
        settings = group_settings(group)
    layout = tuple((name, None if v is None else (v.shape, v.dtype, v.device.name) if isinstance(v, Tensor) else
                    ("value", v)) for name, v in state.items())
    key = (settings, p.shape, p.dtype, p.device.name, g.shape, g.dtype, g.device.name, layout)
    try:
        hash(key)
    except TypeError:  # (an unhashable setting or state value: always build)
        return None
    return key


def capture(update: Any, p: Tensor, g: Tensor, group: Any, state: dict[str, Any], key: tuple) \
        -> tuple[list[Tensor], UpdateGraph | None]:
    """Run update(p, g, group, state); return what it returns and, when it can be reused, its graph."""
    inputs = [p] + [v for v in state.values() if isinstance(v, Tensor)]
    names = list(state)
    reusable = all(_plain(t) for t in inputs) and len({id(t) for t in inputs}) == len(inputs)
    before = [t.uop for t in inputs] + [g.uop]
    out = update(p, g, group, state)
    if not reusable or list(state) != names or [v for v in state.values() if isinstance(v, Tensor)] != inputs[1:]:
        return out, None
    pos = {id(t): i for i, t in enumerate(inputs)}
    if any(id(t) not in pos or t.uop.op is not Ops.ASSIGN for t in out) or len({id(t) for t in out}) != len(out):
        return out, None
    # placeholders: each input's chain of views over an unallocated buffer of its size, and one node in its shape
    # for the gradient (any graph)
    mapping: dict[UOp, UOp] = {}
    holders: list[list[UOp]] = []
    for u in before[:-1]:
        chain = _chain(u)
        ph = _chain(realize.rebuild_views(chain[:-1], placeholder(u.dtype, chain[-1].shape, p.device.name)))
        mapping.update(zip(chain, ph))
        holders.append(ph)
    gu = before[-1]
    mapping[gu] = placeholder(gu.dtype, gu.shape, p.device.name)
    holders.append([mapping[gu]])
    sub = above([t.uop for t in out], mapping)
    assert sub is not None
    new = rebuild(sub, mapping)
    outputs = [new.get(t.uop, t.uop) for t in out]
    order = above(outputs, mapping.values())
    assert order is not None
    chains = [_chain_key(u) for u in before[:-1]]
    return out, UpdateGraph(key, chains, holders, [pos[id(t)] for t in out], order, outputs)


def replay(graph: UpdateGraph, p: Tensor, g: Tensor, state: dict[str, Any]) -> list[Tensor] | None:
    """The kept update over this step's tensors (their writes set as `assign` sets them), or None when the
    tensors are not in the form the graph was kept for."""
    inputs = [p] + [v for v in state.values() if isinstance(v, Tensor)]
    if len(inputs) != len(graph.chains):
        return None
    new: dict[UOp, UOp] = {}
    for t, want, holder in zip(inputs, graph.chains, graph.holders):
        if not _plain(t) or _chain_key(t.uop) != want:
            return None
        new.update(zip(holder, _chain(t.uop)))
    writes = [inputs[i] for i in graph.writes]
    if any(realize.shares_buffer(t) for t in writes):  # (assign would realize such a write at once)
        return None
    new[graph.holders[-1][0]] = g.uop
    new = rebuild(graph.order, new)
    for t, out in zip(writes, graph.outputs):
        t.uop = new.get(out, out)
    return writes


class StepPlan:
    """A whole optimizer step's updates as a plan kept from one realize: from then on a step realizes the
    gradients (with the lazy tensors that read the weights, as any in-place write would) and runs the kept kernels
    over this step's buffers, building no graph. `key` is per updated parameter its identity and update key,
    `chains` per parameter the `_chain_key`s of its tensors (p, then the state's) and `grad_chains` its gradient's,
    `roles` per plan input where its buffer comes from: (i, j) the j-th tensor of parameter i, (i, -1) its gradient,
    or a Buffer that every step reads as it is (a hyper-parameter's, a constant's)."""

    __slots__ = ("key", "chains", "grad_chains", "roles", "plan", "dev", "last")

    def __init__(self, key: tuple, chains: list[list[tuple]], grad_chains: list[tuple], roles: list[Any],
                 plan: Any, dev: Any):
        self.key, self.chains, self.grad_chains, self.roles = key, chains, grad_chains, roles
        self.plan, self.dev = plan, dev
        self.last: list[UOp] = []  # the uops the last run left its written tensors with (still those: unchanged)


Work = list[tuple[Tensor, Tensor, Any, dict[str, Any]]]  # a step's (parameter, gradient, group, state) per parameter


def step_tensors(work: Work) -> list[list[Tensor]]:
    """Per parameter of a step: the parameter, then its state's tensors (the tensors an update writes)."""
    return [[p] + [v for v in state.values() if isinstance(v, Tensor)] for p, _, _, state in work]


def capture_step(work: Work, key: tuple, targets: list[Tensor]) -> StepPlan | None:
    """Realize the updates `targets` of this step (every gradient realized already) as a realize of their own;
    return the plan to run on later steps, or None when it cannot be kept."""
    keep: list[Any] = []
    results = realize.realize_uops([t.uop for t in targets], targets[0].device, keep=keep)
    for t, r in zip(targets, results):
        t.uop = r
    if not keep:  # (more than the updates ran: readers of the weights, deferred updates)
        return None
    plan, inputs, dev = keep[0]
    if any(r.kind != "assign" for r in plan.results):
        return None
    tensors = step_tensors(work)
    owner: dict[int, Any] = {}
    for i, ts in enumerate(tensors):
        for j, t in enumerate([*ts, work[i][1]]):
            if not _plain(t):
                return None
            b = id(t.uop.base.arg[0])
            if b in owner:  # (two roles share memory)
                return None
            owner[b] = (i, j if j < len(ts) else -1)
    roles = [owner.get(id(b), b) for b in inputs]
    if any(not isinstance(roles[bi], tuple) or roles[bi][1] < 0 for bi in plan.assigned_inputs):
        return None
    chains = [[_chain_key(t.uop) for t in ts] for ts in tensors]
    grad_chains = [_chain_key(g.uop) for _, g, _, _ in work]
    return StepPlan(key, chains, grad_chains, roles, plan, dev)


def run_step(sp: StepPlan, work: Work) -> bool:
    """One step by the kept plan; False (nothing written yet, gradients perhaps realized) when this step's tensors
    are not in the form the plan was kept for."""
    tensors = step_tensors(work)
    if len(tensors) != len(sp.chains):
        return False
    writes = [t for ts in tensors for t in ts]
    last = sp.last
    # (tensors still holding the uops the last run left them with need no view check)
    if len(last) != len(writes) or any(t.uop is not u for t, u in zip(writes, last)):
        for ts, want in zip(tensors, sp.chains):
            if len(ts) != len(want) or any(not _plain(t) or _chain_key(t.uop) != c for t, c in zip(ts, want)):
                return False
    if any(realize.shares_buffer(t) for t in writes):  # (a view of a weight held elsewhere: the general path)
        return False
    grads = [g for _, g, _, _ in work]
    realize.realize_before_writes(grads, {id(t.uop.base.arg[0]) for t in writes})
    if any(not _plain(g) or _chain_key(g.uop) != c for g, c in zip(grads, sp.grad_chains)):
        return False
    bufs = [[t.uop.base.arg[0] for t in [*ts, g]] for ts, g in zip(tensors, grads)]
    inputs = [bufs[r[0]][r[1]] if isinstance(r, tuple) else r for r in sp.roles]
    _, versions = realize.run_kept_plan(sp.plan, inputs, sp.dev, "kept plan")
    realize.moved_to_versions([t for t in writes if id(t.uop.base.arg[0]) in versions], versions)
    sp.last = [t.uop for t in writes]
    return True
