"""Autograd entry points on a Tensor: leaves, requires_grad, grad_fn, hooks, retain_grad, backward, and the
gradient engine behind tinytorch.autograd.grad.

Takes: tensors whose graphs reach leaves that require grad.
Produces: lazy gradient tensors (in `.grad` or returned), differentiable themselves with create_graph=True.

A leaf is a tensor the user made (not the result of an op that tracked gradients). Gradients are found
by the identity of a leaf's UOp in the graph, so making a leaf (requires_grad_, Parameter,
Tensor(..., requires_grad=True)) gives a computed value memory of its own: an equal computation elsewhere
is then not taken for the leaf.
"""

from __future__ import annotations

import builtins
import math
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..dtype import to_dtype
from ..errors import DTypeError, TensorValueError
from ..ops.uop import Ops, UOp
from .common import no_grad
from .device import as_device

if TYPE_CHECKING:
    from .core import Tensor


class AutogradMeta:
    """What some tensors carry beyond their value: gradient hooks, the retain_grad flag, and for a view the tensor
    it was made from (weak references to that tensor, its uop then and the view's uop then, so that a view keeps
    no graph alive; see inplace._write_through_view)."""

    __slots__ = ("hooks", "retains", "view_src")

    def __init__(self) -> None:
        self.hooks: dict[int, Callable[[Tensor], Any]] = {}
        self.retains = False
        self.view_src: tuple[weakref.ref[Tensor], weakref.ref[UOp], weakref.ref[UOp]] | None = None


def _meta(t: Tensor) -> AutogradMeta:
    if t._meta is None:
        t._meta = AutogradMeta()
    return t._meta


# grad_fn names: the PyTorch node name for the op at the top of a result's graph
_NAMES = {Ops.ADD: "Add", Ops.MUL: "Mul", Ops.NEG: "Neg", Ops.RECIPROCAL: "Reciprocal", Ops.SQRT: "Sqrt",
          Ops.EXP2: "Exp2", Ops.LOG2: "Log2", Ops.SIN: "Sin", Ops.MAX: "Maximum", Ops.WHERE: "Where",
          Ops.CAST: "ToCopy", Ops.RESHAPE: "View", Ops.PERMUTE: "Permute", Ops.EXPAND: "Expand",
          Ops.PAD: "ConstantPadNd", Ops.SHRINK: "Slice", Ops.FLIP: "Flip", Ops.CONTIGUOUS: "Clone"}
_REDUCE_NAMES = {Ops.ADD: "Sum", Ops.MAX: "Max", Ops.MUL: "Prod"}


def _node_name(u: UOp) -> str:
    """PyTorch's name for the backward node of the op that computed u (`AddBackward0`, `SumBackward0`, ...)."""
    if u.op is Ops.RESHAPE and u.src[0].op is Ops.REDUCE_AXIS and \
            [s for s in u.src[0].shape or () if s != 1] == [s for s in u.shape or () if s != 1]:
        u = u.src[0]  # a reduction that drops its kept axes is the reduction
    if u.op is Ops.REDUCE_AXIS:
        name = _REDUCE_NAMES.get(u.arg[0], "Reduce")
    elif u.op is Ops.ADD and u.src[1].op is Ops.NEG:
        name = "Sub"
    elif u.op is Ops.MUL and u.src[1].op is Ops.RECIPROCAL:
        name = "Div"
    elif u.op is Ops.EXP2 and u.src[0].op is Ops.MUL:
        name = "Exp"
    elif u.op is Ops.MUL and (r := u.src[0].base).op is Ops.REDUCE_AXIS and r.arg[0] is Ops.ADD and \
            u.src[1].base.op is Ops.CONST and u.src[1].base.arg == 1 / builtins.max(1, math.prod(
                (r.src[0].shape or ())[i] for i in r.arg[1])):
        name = "Mean"  # a sum times 1/n
    else:
        name = _NAMES.get(u.op, u.op.name.capitalize())
    return f"{name}Backward0"


class GradFn:
    """The backward node of a result: `name()` and repr like PyTorch's (`<MulBackward0 object at 0x...>`)."""

    __slots__ = ("_name",)

    def __init__(self, uop: UOp):
        self._name = _node_name(uop)

    def name(self) -> str:
        """The node's PyTorch name, e.g. 'AddBackward0'."""
        return self._name

    @property
    def next_functions(self) -> tuple[()]:
        """Not tracked: the graph is the lazy UOp graph (see Tensor.uop)."""
        return ()

    def __repr__(self) -> str:
        return f"<{self._name} object at {id(self):#x}>"


_NODE_CLASSES: dict[str, type[GradFn]] = {}


def grad_fn(self: Tensor) -> GradFn | None:
    """None for a leaf; else a node named after the op that made this tensor (its class too: MulBackward0)."""
    if self.is_leaf:
        return None
    name = _node_name(self.uop)
    cls = _NODE_CLASSES.get(name)
    if cls is None:
        cls = _NODE_CLASSES[name] = type(name, (GradFn,), {"__slots__": ()})
    return cls(self.uop)


def _make_leaf(t: Tensor) -> None:
    """Give t memory of its own unless it already owns a buffer no other tensor views (see module doc)."""
    from ..engine.realize import realize_uops, shares_buffer

    u = t.uop
    if u.op is not Ops.ASSIGN and u.base.op is Ops.BUFFER and not shares_buffer(t):
        return
    src = u.src[0] if u.op is Ops.DETACH else u
    res = realize_uops([UOp(Ops.CONTIGUOUS, u.dtype, (UOp(Ops.DETACH, u.dtype, (src,)),))], t.device)[0]
    t.uop = res


def set_requires_grad(self: Tensor, requires_grad: builtins.bool) -> None:
    """The `requires_grad` setter: a leaf starts or stops tracking gradients (a result raises, as PyTorch)."""
    requires_grad = builtins.bool(requires_grad)
    if self._rg and self._nonleaf:
        raise RuntimeError("you can only change requires_grad flags of leaf variables." + (
            "" if requires_grad else " If you want to use a computed variable in a subgraph that doesn't require "
            "differentiation use var_no_grad = var.detach()."))
    if requires_grad and not self._rg:
        if not self.dtype.is_float:
            raise DTypeError(f"only Tensors of floating point dtype can require gradients (this one is {self.dtype})")
        _make_leaf(self)
    self._rg, self._nonleaf = requires_grad, False


def requires_grad_(self: Tensor, requires_grad: builtins.bool = True) -> Tensor:
    """Make this tensor a leaf that tracks gradients (realizing a computed value into its own memory); returns self."""
    if self._rg and self._nonleaf and requires_grad:
        return self  # a result already tracks gradients (PyTorch allows this no-op)
    set_requires_grad(self, requires_grad)
    return self


def retain_grad(self: Tensor) -> None:
    """Have backward() fill `.grad` of this non-leaf too (a no-op for a leaf)."""
    if not self._rg:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self._nonleaf:
        _meta(self).retains = True


def retains_grad(self: Tensor) -> builtins.bool:
    """Whether backward() fills `.grad` of this non-leaf (retain_grad() was called)."""
    return self._meta is not None and self._meta.retains


class RemovableHandle:
    """What register_hook returns: `remove()` unregisters the hook."""

    def __init__(self, meta: AutogradMeta, key: int):
        self._meta, self._key = meta, key

    def remove(self) -> None:
        """Unregister the hook."""
        self._meta.hooks.pop(self._key, None)


def register_hook(self: Tensor, hook: Callable[[Tensor], Any]) -> RemovableHandle:
    """Call hook(grad) when this tensor's gradient is computed; a returned tensor replaces the gradient."""
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    m = _meta(self)
    key = builtins.max(m.hooks, default=-1) + 1
    m.hooks[key] = hook
    return RemovableHandle(m, key)


def get_data(self: Tensor) -> Tensor:
    """`.data`: the value as a tensor that does not require grad (shares memory like detach())."""
    return detach(self)


def set_data(self: Tensor, value: Any) -> None:
    """`.data = value`: this tensor takes value's value (and memory, when value has some), keeping its flags."""
    from ..engine.realize import note_view

    if not isinstance(value, Tensor):
        raise TypeError(f"data: assigned data must be a Tensor, got {type(value).__name__}")
    u = value.uop.src[0] if value.uop.op is Ops.DETACH else value.uop
    if u.op is Ops.ASSIGN or u.base.op is not Ops.BUFFER:
        value.realize()
        u = value.uop.src[0] if value.uop.op is Ops.DETACH else value.uop
        if u.op is Ops.ASSIGN or u.base.op is not Ops.BUFFER:
            from ..engine.realize import realize_uops

            u = realize_uops([UOp(Ops.CONTIGUOUS, u.dtype, (UOp(Ops.DETACH, u.dtype, (u,)),))], value.device)[0]
    self.uop, self.device = u, value.device
    note_view(self, value)


def detach(self: Tensor) -> Tensor:
    """The same value, cut from the gradient graph; shares memory with self (an in-place write through either
    is seen by the other) when self has memory, i.e. is not a lazily computed value."""
    from ..engine.realize import note_view

    d = Tensor._from(self.uop if not self._rg else UOp(Ops.DETACH, self.dtype, (self.uop,)), self.device)
    if not self._rg:
        note_view(d, self)
    if not self._rg and self.uop.base.op is not Ops.BUFFER:  # a write through d into a lazy self reaches self
        _meta(d).view_src = (weakref.ref(self), weakref.ref(self.uop), weakref.ref(d.uop))
    return d


def detach_(self: Tensor) -> Tensor:
    """Cut this tensor from the gradient graph in place: it becomes a leaf that does not require grad."""
    if self._rg:
        self.uop = UOp(Ops.DETACH, self.dtype, (self.uop,))
    self._rg, self._nonleaf = False, False
    return self


# the gradient engine ----------------------------------------------------------------------------------------------

def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _run(outputs: Sequence[Tensor], grad_outputs: Sequence[Any], inputs: Sequence[Tensor],
         create_graph: builtins.bool, op: str) -> list[Tensor | None]:
    """The gradients of sum(outputs[i] * grad_outputs[i]) with respect to each of inputs (None: not reached)."""
    from ..ops.gradient import compute_gradients

    roots: list[tuple[UOp, UOp]] = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: outputs must be Tensors, got {type(out).__name__} at index {i}")
        if not out._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (element {i} has shape "
                                   f"{tuple(out.shape)}); pass the gradient of the output")
            g = Tensor.full(out.shape, 1.0, out.dtype, out.device)
        elif not isinstance(g, Tensor):
            g = Tensor.full(out.shape, g, out.dtype, out.device)
        if g.shape != out.shape:
            raise TensorValueError(f"{op}: Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                                   f"output[{i}] has a shape of {tuple(out.shape)}")
        gu = g.uop if create_graph else UOp(Ops.DETACH, g.dtype, (g.uop,))
        roots.append((out.uop, gu if g.dtype == out.dtype else UOp(Ops.CAST, out.dtype, (gu,))))
    hooks: dict[UOp, list[Callable[[Tensor], Any]]] = {}
    for t in list(Tensor.live.values()):
        if t._meta is not None and t._meta.hooks and t._rg:
            hooks.setdefault(t.uop, []).extend(t._meta.hooks.values())

    def run_hooks(u: UOp, g: UOp) -> UOp:
        for h in hooks[u]:
            gt = Tensor._from(g, outputs[0].device, create_graph)
            r = h(gt)
            if r is not None:
                if not isinstance(r, Tensor) or r.shape != gt.shape:
                    raise RuntimeError(f"hook: a hook must return None or a tensor of the gradient's shape "
                                       f"{tuple(gt.shape)}, got {getattr(r, 'shape', type(r).__name__)}")
                g = r.uop if r.dtype == u.dtype else UOp(Ops.CAST, u.dtype, (r.uop,))
        return g

    grads = compute_gradients(roots, None, {t.uop for t in inputs}, hooks=run_hooks if hooks else None,
                              hooked=set(hooks))
    res: list[Tensor | None] = []
    for t in inputs:
        g = grads.get(t.uop)
        if g is None:
            res.append(None)
            continue
        if g.dtype != t.dtype:
            g = UOp(Ops.CAST, t.dtype, (g,))
        res.append(Tensor._from(g, t.device, True) if create_graph else
                   Tensor._from(UOp(Ops.DETACH, t.dtype, (g,)), t.device))
    return res


def backward(self: Tensor, gradient: Tensor | None = None, retain_graph: builtins.bool | None = None,
             create_graph: builtins.bool = False, inputs: Any = None) -> None:
    """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad (and of non-leaves that
    retain_grad()); `inputs=` limits it to those tensors. The gradients are lazy: they fuse with whatever
    realizes them (usually optimizer.step()). The graph is never freed, so retain_graph changes nothing."""
    if not self._rg:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn (no input "
                           "of its graph has requires_grad=True, or it was built under no_grad())")
    _accumulate([self], [gradient], inputs, create_graph)


def _accumulate(tensors: list[Tensor], grads: list[Any], inputs: Any, create_graph: builtins.bool) -> None:
    """Add the gradients of tensors (seeded with grads) into `.grad` of the leaves, or of `inputs`."""
    if inputs is None:
        targets = [t for t in list(Tensor.live.values()) if t._rg and (not t._nonleaf or (
            t._meta is not None and t._meta.retains))]
    else:
        targets = _as_list(inputs)
        if not targets:
            raise RuntimeError("backward: inputs argument to backward() cannot be empty")
    if inputs is None and not create_graph and len(tensors) == 1 and grads[0] is None and tensors[0].numel() == 1:
        from . import kept_backward

        def build() -> list[Tensor | None]:
            with no_grad():
                return _run(tensors, grads, targets, False, "backward")
        if kept_backward.backward(tensors[0], targets, build):
            return
    with no_grad() if not create_graph else _Nothing():
        res = _run(tensors, grads, targets, create_graph, "backward")
        for t, g in zip(targets, res):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g


class _Nothing:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *args: Any) -> None:
        pass


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: builtins.bool | None = None,
         create_graph: builtins.bool = False, only_inputs: builtins.bool = True,
         allow_unused: builtins.bool | None = None, is_grads_batched: builtins.bool = False,
         materialize_grads: builtins.bool = False) -> tuple[Tensor | None, ...]:
    """d(sum outputs_i * grad_outputs_i)/d(inputs), as a tuple (not accumulated into .grad); with
    create_graph=True the gradients are differentiable (higher-order derivatives)."""
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported; loop over the batch")
    outs, ins = _as_list(outputs), _as_list(inputs)
    gos = [None] * len(outs) if grad_outputs is None else _as_list(grad_outputs)
    if len(gos) != len(outs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(gos)} for {len(outs)} outputs")
    for t in ins:
        if not isinstance(t, Tensor) or not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    with no_grad() if not create_graph else _Nothing():
        res = _run(outs, gos, ins, create_graph, "grad")
    for i, (t, g) in enumerate(zip(ins, res)):
        if g is None:
            if materialize_grads:
                res[i] = t.zeros_like()
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   f"graph. Set allow_unused=True if this is the desired behavior.")
    return tuple(res)


def autograd_backward(tensors: Any, grad_tensors: Any = None, retain_graph: builtins.bool | None = None,
                      create_graph: builtins.bool = False, inputs: Any = None) -> None:
    """Accumulate the gradients of sum(tensors_i * grad_tensors_i) into `.grad` of the leaves (or of inputs)."""
    ts = _as_list(tensors)
    gs = [None] * len(ts) if grad_tensors is None else _as_list(grad_tensors)
    if len(gs) != len(ts):
        raise RuntimeError(f"backward: got {len(gs)} grad_tensors for {len(ts)} tensors")
    _accumulate(ts, gs, inputs, create_graph)


def clone(self: Tensor) -> Tensor:
    """A copy in memory of its own; gradients flow back to self."""
    return self._new(UOp(Ops.CONTIGUOUS, self.dtype, (self.uop,)), self)


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """`to(device)`, `to(dtype)`, `to(device, dtype)`, `to(other)`: self when nothing changes, as PyTorch."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None), kwargs.pop("copy", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, str):  # a device name or a tinytorch.device; a dtype name ("int32") is a dtype
            try:
                dtype = to_dtype(a)
            except (TypeError, ValueError, KeyError):
                device = a
        elif a is not None:
            dtype = a
    t = self
    if device is not None and (dev := as_device(device)) != t.device:
        t = Tensor._from(t.uop if no_grad.enabled or not t._rg else UOp(Ops.DETACH, t.dtype, (t.uop,)), dev,
                         t._rg and no_grad.enabled)
    return t if dtype is None else t.cast(dtype)

