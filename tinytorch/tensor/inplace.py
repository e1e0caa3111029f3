"""In-place writes: PyTorch's in-place methods (add_, mul_, zero_, fill_, copy_, clamp_, exp_, ... and the augmented
assignments += -= *= /=), assign (lazy, or now when a view shares the memory), and the write-target checks.

Takes: a tensor and the operands of the op. Produces: the same tensor (self), holding the op's result.
- Outside no_grad, an in-place op on a leaf that requires grad raises, as PyTorch does.
- When the result tracks gradients (self or an operand requires grad, outside no_grad), self becomes the
  result in the graph (a non-leaf whose gradient flows to self's old value and the operands).
- Otherwise the value is written into self's memory (lazily; now when another tensor views that memory,
  e.g. `x[0].add_(1)` writes into x, and through detach() and `.data` into the tensor they came from).
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..dtype import dtypes
from ..engine import realize as _rz
from ..errors import DTypeError, TensorValueError
from ..ops.uop import GroupOp, Ops, UOp
from .autograd import _meta
from .common import _rng, no_grad

if TYPE_CHECKING:
    from .core import Tensor


LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation."


def _inplace(self: Tensor, new: Any, op: str) -> Tensor:
    """Make self hold `new` (the result of op on self) with PyTorch's in-place rules (see the module doc)."""
    tracking = no_grad.enabled
    if tracking and self._rg and not self._nonleaf:
        raise RuntimeError(LEAF_ERROR)
    if not isinstance(new, Tensor):
        new = Tensor.full(self.shape, new, self.dtype, self.device)
    if new.shape != self.shape:
        try:
            new = new._broadcast_to(self.shape, op)
        except ValueError:
            raise TensorValueError(f"{op}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                                   f"{list(new.shape)}") from None
    if new.dtype != self.dtype:
        if (new.dtype.is_float and not self.dtype.is_float) or (not new.dtype.is_bool and self.dtype.is_bool):
            raise DTypeError(f"{op}: result type {new.dtype} can't be cast to the desired output type {self.dtype}")
        new = new.cast(self.dtype)
    if tracking and new._rg:
        from ..engine.realize import shares_buffer

        if not _write_through_view(self, new, op) and shares_buffer(self):
            raise RuntimeError(f"{op}: an in-place op whose result requires grad, on a tensor that shares memory with "
                               f"another (detach() or .data of it), is not supported; compute it out of place")
        self.uop, self._rg, self._nonleaf = new.uop, True, True
        return self
    if new._rg:  # under no_grad the result must not carry the graph
        new = new.detach()
    u = self.uop
    mem = _rz.detached_view(u, through_assign=True)
    if mem is not None:
        self.uop = mem
        self.assign(new)
        # write now through a detached alias of another tensor's memory (so that tensor sees it), into a leaf
        # that requires grad (a manual SGD step: the next forward pass reads the new value, not a growing graph)
        # and into memory numpy shares (from_numpy, numpy()): the array shows the write at once, as in PyTorch
        if mem is not u or self._rg or _rz.shared_with_numpy(_rz._viewed_buffer(mem)):
            self.realize()
        if mem is not u:  # still cut from the graph of the tensor whose memory it shares
            self.uop = UOp(Ops.DETACH, self.dtype, (self.uop,))
    else:  # a lazily computed value has no memory to write to: it becomes the new value (and so does its base)
        _write_through_view(self, new, op)
        self.uop = new.uop
    return self


def note_view(view: Tensor, src: Tensor) -> None:
    """Record that view was made from src by movement ops (see _write_through_view and engine.realize.note_view)."""
    _rz.note_view(view, src)
    if view.uop.op is Ops.EXPAND:  # (a write through an expanded view raises)
        return
    rec = src._meta.view_src if src._meta is not None else None
    if rec is not None:  # a view of a view: record the first tensor (the intermediate one may not live on)
        root, root_uop, src_view_uop = rec[0](), rec[1](), rec[2]()
        if root is not None and root.uop is root_uop and src.uop is src_view_uop:
            src = root
    _meta(view).view_src = (weakref.ref(src), weakref.ref(src.uop), weakref.ref(view.uop))


def _inverse_perm(order: tuple[int, ...]) -> tuple[int, ...]:
    out = [0] * len(order)
    for i, o in enumerate(order):
        out[o] = i
    return tuple(out)


def _undo_move(m: UOp, v: UOp) -> UOp:
    """v (shaped like m) moved back to the shape of m's source: the elements m took, zeros (False) elsewhere."""
    s = m.src[0].shape
    assert s is not None
    if m.op is Ops.RESHAPE:
        return UOp(Ops.RESHAPE, v.dtype, (v,), s)
    if m.op is Ops.PERMUTE:
        return UOp(Ops.PERMUTE, v.dtype, (v,), _inverse_perm(m.arg))
    if m.op is Ops.SHRINK:
        return UOp(Ops.PAD, v.dtype, (v,), tuple((b, n - e) for (b, e), n in zip(m.arg, s)))
    if m.op is Ops.PAD:
        return UOp(Ops.SHRINK, v.dtype, (v,), tuple((b, b + n) for (b, _), n in zip(m.arg, s)))
    if m.op is Ops.FLIP:
        return UOp(Ops.FLIP, v.dtype, (v,), m.arg)
    raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a single "
                       "memory location (it is an expanded view). Please clone() the tensor before performing the "
                       "operation.")


def _write_through_view(self: Tensor, new: Tensor, op: str) -> builtins.bool:
    """If self is a view of a tensor that has no memory to share (a lazy value, or a result in the gradient
    graph), make that tensor (and the ones it views, in turn) hold the write too, as PyTorch's views do:
    base = where(in the view, new moved back, base). Returns whether self is such a view."""
    from .common import _const_uop

    view, value, found = self, new.uop, False
    while view._meta is not None and (rec := view._meta.view_src) is not None:
        src, src_uop, view_uop = rec[0](), rec[1](), rec[2]()
        if src is None or view_uop is None or src.uop is not src_uop:  # gone, or changed since: nothing to update
            break
        if no_grad.enabled and src._rg and not src._nonleaf:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
        mask = _const_uop(True, dtypes.bool, view.shape)
        u = view_uop
        while u is not src_uop and (u.op in GroupOp.Movement or u.op is Ops.DETACH):
            if u.op is not Ops.DETACH:
                value, mask = _undo_move(u, value), _undo_move(u, mask)
            u = u.src[0]
        if u is not src_uop:
            break
        value = UOp(Ops.WHERE, src.dtype, (mask, value, src_uop))
        src.uop = value
        if new._rg and no_grad.enabled:
            src._rg, src._nonleaf = True, True
        found, view = True, src
    return found


def assign(self: Tensor, x: Any) -> Tensor:
    """Overwrite this tensor's memory with x: lazily, or now when another tensor views the same memory
    (so that view sees the write, as in PyTorch). Readers built before see the old value."""
    x = x if isinstance(x, Tensor) else Tensor.full(self.shape, x, self.dtype, self.device)
    if x.shape != self.shape:
        try:
            x = x._broadcast_to(self.shape, "assign")
        except ValueError:
            raise TensorValueError(f"assign: value of shape {x.shape} does not fit a tensor of shape "
                             f"{self.shape}") from None
    if x.dtype != self.dtype:
        x = x.cast(self.dtype)
    target = self._write_target("assign")
    self.uop = UOp(Ops.ASSIGN, self.dtype, (target, x.uop))
    if _rz.shares_buffer(self):  # another tensor views this memory: write now, so it sees the write (as in PyTorch)
        self.realize()
    return self


def _write_target(self: Tensor, op: str) -> UOp:
    """The view of a buffer that an in-place write through this tensor changes (a lazy tensor is
    computed into a buffer first). Raises when two elements share memory or some have none."""
    target = self.uop
    while target.op is Ops.ASSIGN or target.op is Ops.DETACH:
        target = target.src[0]
    if target.base.op is Ops.DETACH:  # a view of a detached view (p.detach().view(-1)[0], a view made under
        target = _rz.detached_view(target) or target  # no_grad): it writes the memory it views, as in PyTorch
    if target.base.op is not Ops.BUFFER:
        self.realize()
        target = _rz.resolve_views(self.uop)
    why = _rz.view_of(target)[1].write_conflict()
    if why == "overlap":
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to tensor refers "
                           f"to a single memory location (it is an expanded view). Please clone() the tensor "
                           f"before performing the operation.")
    if why == "padding":
        raise RuntimeError(f"{op}: unsupported operation: some elements of the written-to tensor are padding "
                           f"with no memory behind them (it is a padded view). Please clone() the tensor before "
                           f"performing the operation.")
    return target


# in-place methods ---------------------------------------------------------------------------------------------------

def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """self += alpha * other, in place."""
    return _inplace(self, self.add(other, alpha=alpha), "add_")


def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """self -= alpha * other, in place."""
    return _inplace(self, self.sub(other, alpha=alpha), "sub_")


def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """self /= other, in place (rounding_mode as div)."""
    return _inplace(self, self.div(other, rounding_mode=rounding_mode), "div_")


def zero_(self: Tensor) -> Tensor:
    """Fill with 0, in place."""
    return _inplace(self, Tensor.full(self.shape, 0, self.dtype, self.device), "zero_")


def fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with value (a number or a 0-d tensor), in place."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               f"dimensions.")
        return _inplace(self, value.cast(self.dtype)._broadcast_to(self.shape, "fill_"), "fill_")
    return _inplace(self, Tensor.full(self.shape, value, self.dtype, self.device), "fill_")


def copy_(self: Tensor, src: Any, non_blocking: builtins.bool = False) -> Tensor:
    """Copy src's values (broadcast, cast to self's dtype) into self, in place; gradients flow to src."""
    if not isinstance(src, Tensor):
        src = Tensor(src, dtype=self.dtype, device=self.device)
    if src.device != self.device:
        src = src.to(self.device)
    if src.dtype != self.dtype:
        src = src.cast(self.dtype)
    return _inplace(self, src, "copy_")


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamp to [min, max], in place."""
    return _inplace(self, self.clamp(min, max), "clamp_")


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples of N(mean, std^2), in place."""
    v = _rng[0].normal(mean, std, self.shape)
    return _inplace(self, Tensor(v, dtype=self.dtype, device=self.device), "normal_")


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples of U[a, b), in place."""
    v = _rng[0].uniform(a, b, self.shape)
    return _inplace(self, Tensor(v, dtype=self.dtype, device=self.device), "uniform_")


def _iop(op: str, fn: Callable[[Tensor, Any], Tensor]) -> Callable[[Tensor, Any], Tensor]:
    def f(self: Tensor, other: Any) -> Tensor:
        return _inplace(self, fn(self, other), op)
    f.__name__ = f.__qualname__ = op
    f.__doc__ = f"self {op[2:-2]} other, in place (the augmented assignment)."
    return f


__iadd__ = _iop("__iadd__", lambda a, b: a + b)
__isub__ = _iop("__isub__", lambda a, b: a - b)
__imul__ = _iop("__imul__", lambda a, b: a * b)
__itruediv__ = _iop("__itruediv__", lambda a, b: a / b)
__ifloordiv__ = _iop("__ifloordiv__", lambda a, b: a // b)
__imod__ = _iop("__imod__", lambda a, b: a % b)
__ipow__ = _iop("__ipow__", lambda a, b: a ** b)
__imatmul__ = _iop("__imatmul__", lambda a, b: a @ b)
__iand__ = _iop("__iand__", lambda a, b: a & b)
__ior__ = _iop("__ior__", lambda a, b: a | b)
__ixor__ = _iop("__ixor__", lambda a, b: a ^ b)
__ilshift__ = _iop("__ilshift__", lambda a, b: a << b)
__irshift__ = _iop("__irshift__", lambda a, b: a >> b)

# PyTorch's in-place twins `name_` of out-of-place methods: self.name_(*args) makes self hold self.name(*args)
INPLACE_OF = """mul pow remainder fmod floor_divide true_divide maximum minimum fmax fmin atan2 hypot copysign xlogy
lerp addcmul addcdiv clamp_min clamp_max clip exp exp2 expm1 log log2 log10 log1p sqrt rsqrt abs absolute neg negative
reciprocal sign sgn sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh arcsin arccos arctan arcsinh arccosh
arctanh relu sigmoid floor ceil round trunc frac fix square erf nan_to_num deg2rad rad2deg logical_not logical_and
logical_or logical_xor bitwise_not bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift
masked_fill index_fill index_add index_copy scatter scatter_add scatter_reduce tril triu lt gt le ge eq ne
leaky_relu elu gelu silu hardtanh hardsigmoid hardswish relu6 selu celu mish softplus""".split()


def _make_inplace(name: str) -> Callable[..., Tensor]:
    def f(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return _inplace(self, getattr(self, name)(*args, **kwargs), name + "_")
    f.__name__ = f.__qualname__ = name + "_"
    f.__doc__ = f"{name} in place: self holds self.{name}(...); returns self."
    return f


def bind_inplace(cls: type) -> None:
    """Give cls the in-place twin `name_` of each method in INPLACE_OF it has (one defined already is kept)."""
    for names, make in ((INPLACE_OF, _make_inplace), (INPLACE_VIEWS, _make_inplace_view)):
        for name in names:
            if (hasattr(cls, name) or name == "t") and not hasattr(cls, name + "_"):
                setattr(cls, name + "_", make(name))
    if not hasattr(cls, "fill_diagonal_"):
        cls.fill_diagonal_ = fill_diagonal_  # type: ignore[attr-defined]


def fill_diagonal_(self: Tensor, fill_value: Any, wrap: builtins.bool = False) -> Tensor:
    """Fill the main diagonal (all indices equal; dims of equal size past 2-D) with fill_value, in place; wrap=True
    restarts it below a tall matrix's square part every (cols + 1) rows, as PyTorch."""
    import numpy as np

    if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
        raise RuntimeError(f"fill_diagonal_: dimensions must larger than 1 and, past 2-D, all of equal length; got "
                           f"shape {tuple(self.shape)}")
    n, step = self.numel(), builtins.sum(int(np.prod(self.shape[i + 1:])) for i in range(self.ndim))
    stop = n if wrap and self.ndim == 2 else builtins.min(self.shape) * step
    mask = np.zeros(n, np.bool_)
    mask[0:stop:step] = True
    m = Tensor(mask.reshape(self.shape), device=self.device)
    return _inplace(self, m._where(Tensor.full((), fill_value, self.dtype, self.device), self), "fill_diagonal_")


def _make_inplace_view(name: str) -> Callable[..., Tensor]:
    def f(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if no_grad.enabled and self._rg and not self._nonleaf:
            raise RuntimeError(LEAF_ERROR)
        if name == "t":  # torch.t: a transpose of at most 2 dims
            if self.ndim > 2:
                raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
            self.uop = self.T.uop
        else:
            self.uop = getattr(self, name)(*args, **kwargs).uop
        return self
    f.__name__ = f.__qualname__ = name + "_"
    f.__doc__ = f"{name} in place: self becomes the view self.{name}(...) of the same memory; returns self."
    return f


# in-place twins of view ops: self.t_() makes self the view self.t()
INPLACE_VIEWS = "t transpose squeeze unsqueeze swapdims swapaxes".split()


def setitem_in_graph(self: Tensor, index: Any, value: Any) -> builtins.bool:
    """`self[index] = value` where gradients are tracked (self or value requires grad, outside no_grad): raises for a
    leaf, as PyTorch; else self becomes where(in the slice, value, self) in the graph. Returns whether it did it
    (False: a plain write to memory, done by __setitem__)."""
    if not no_grad.enabled or not (self._rg or (isinstance(value, Tensor) and value._rg)):
        return False
    if self._rg and not self._nonleaf:
        raise RuntimeError(LEAF_ERROR)
    from .indexing import _is_advanced

    if _is_advanced(index):
        return False
    view = self[index]
    v = value if isinstance(value, Tensor) else Tensor.full((), value, self.dtype, self.device)
    copy_(view, v._broadcast_to(view.shape, "__setitem__") if v.shape != view.shape else v)
    return True
