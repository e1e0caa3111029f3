"""The IR: `Ops` (the primitive op set) and `UOp` (one immutable, interned graph node).

Takes: an op, a dtype, source UOps and a static argument.
Produces: the unique UOp with those fields (building an equal UOp returns the existing
object, so `a is b` <=> `a == b`), with its `shape` inferred at construction.

Three layers of the pipeline use the same node type:
- tensor graphs: BUFFER, CONST, ALU ops, REDUCE_AXIS, movement ops, ASSIGN, CONTIGUOUS;
- kernel ASTs (made by the scheduler): SINK, STORE, LOAD, DEFINE_GLOBAL, VIEW, CONST, ALU;
- linear programs (made by codegen): RANGE, ENDRANGE, DEFINE_ACC, VECTORIZE, GEP, ...
"""

from __future__ import annotations

import struct
import weakref
from enum import Enum, auto
from typing import Any

from ..dtype import DType, dtypes


class Ops(Enum):
    # leaves
    BUFFER = auto()  # arg: (Buffer, version); shape: (buffer.size,)
    CONST = auto()  # arg: Python value; shape: () (tensor graph) or view src (kernel)
    # unary
    EXP2 = auto()
    LOG2 = auto()
    SIN = auto()
    SQRT = auto()
    RECIPROCAL = auto()
    NEG = auto()
    CAST = auto()
    BITCAST = auto()
    # binary
    ADD = auto()
    MUL = auto()
    MAX = auto()
    MOD = auto()
    IDIV = auto()
    CMPLT = auto()
    CMPNE = auto()
    AND = auto()
    OR = auto()
    XOR = auto()
    SHL = auto()
    SHR = auto()
    # ternary
    WHERE = auto()
    # reduce: arg (Ops.ADD | Ops.MAX, axes); keeps reduced axes as size 1
    REDUCE_AXIS = auto()
    # movement: free until a kernel reads through them
    RESHAPE = auto()
    PERMUTE = auto()
    EXPAND = auto()
    PAD = auto()
    SHRINK = auto()
    FLIP = auto()
    # realization boundaries
    ASSIGN = auto()  # src: (target view of a BUFFER, value)
    CONTIGUOUS = auto()
    DETACH = auto()  # identity that stops gradients; removed before scheduling
    # kernel AST
    SINK = auto()
    DEFINE_GLOBAL = auto()  # arg: buffer slot index; dtype: pointer
    VIEW = auto()  # arg: ViewStack
    LOAD = auto()
    STORE = auto()
    # linear program (codegen only)
    DEFINE_VAR = auto()  # arg: name
    RANGE = auto()  # src: (start, end); arg: loop id
    ENDRANGE = auto()
    DEFINE_ACC = auto()  # src: (initial value,); arg: id
    DEFINE_LOCAL = auto()  # a kernel's scratch array (a packed operand panel); arg: (id, elements)
    VECTORIZE = auto()  # build a vector from scalars
    GEP = auto()  # one lane of a vector; arg: lane
    NOOP = auto()

    # members are singletons: hashing by identity is exact and, unlike Enum's hash of the name, runs in C
    # (every UOp built looks its key up in the intern table)
    __hash__ = object.__hash__


class GroupOp:
    Unary = frozenset({Ops.EXP2, Ops.LOG2, Ops.SIN, Ops.SQRT, Ops.RECIPROCAL, Ops.NEG})
    Binary = frozenset({Ops.ADD, Ops.MUL, Ops.MAX, Ops.MOD, Ops.IDIV, Ops.CMPLT, Ops.CMPNE,
                        Ops.AND, Ops.OR, Ops.XOR, Ops.SHL, Ops.SHR})
    ALU = Unary | Binary | {Ops.WHERE, Ops.CAST, Ops.BITCAST}
    Movement = frozenset({Ops.RESHAPE, Ops.PERMUTE, Ops.EXPAND, Ops.PAD, Ops.SHRINK, Ops.FLIP})
    Commutative = frozenset({Ops.ADD, Ops.MUL, Ops.MAX, Ops.CMPNE, Ops.AND, Ops.OR, Ops.XOR})
    Comparison = frozenset({Ops.CMPLT, Ops.CMPNE})
    Transcendental = frozenset({Ops.EXP2, Ops.LOG2, Ops.SIN, Ops.SQRT, Ops.RECIPROCAL, Ops.IDIV, Ops.MOD})
    # ops f with f(0, ..., 0) == 0: a PAD (zero fill) may be pushed through them
    ZeroPreserving = frozenset({Ops.ADD, Ops.MUL, Ops.NEG, Ops.MAX, Ops.CAST, Ops.BITCAST, Ops.SQRT, Ops.SIN,
                                Ops.CMPLT, Ops.CMPNE, Ops.AND, Ops.OR, Ops.XOR, Ops.SHL, Ops.SHR, Ops.WHERE})


_cache: dict[tuple, weakref.ref] = {}


def _source_shape(src: tuple[UOp, ...], arg: Any) -> tuple[int, ...] | None:
    return src[0].shape


def _permuted(src: tuple[UOp, ...], arg: Any) -> tuple[int, ...] | None:
    s = src[0].shape
    return None if s is None else tuple([s[i] for i in arg])


def _padded(src: tuple[UOp, ...], arg: Any) -> tuple[int, ...] | None:
    s = src[0].shape
    return None if s is None else tuple([d + b + e for d, (b, e) in zip(s, arg)])


def _reduced(src: tuple[UOp, ...], arg: Any) -> tuple[int, ...] | None:
    s = src[0].shape
    if s is None:
        return None
    axes = arg[1]
    return tuple([1 if i in axes else d for i, d in enumerate(s)])


# how a node's shape follows from its sources and argument, per op (ops not listed have none: kernel and
# program ops). Most nodes built are ALU ops and reshapes, so two rules are tags handled inline in UOp.__new__
# rather than functions: _LAST_SOURCE (the shape of the last source) and _ARG (the argument, a shape).
_LAST_SOURCE, _ARG = "last source", "arg"
_SHAPE_RULES: dict[Ops, Any] = {
    **{op: _LAST_SOURCE for op in GroupOp.ALU - {Ops.WHERE} | {Ops.CONTIGUOUS, Ops.DETACH}},
    Ops.WHERE: lambda src, arg: src[1].shape,
    Ops.BUFFER: lambda src, arg: (arg[0].size,),
    Ops.CONST: lambda src, arg: src[0].arg.shape if src else (),
    Ops.RESHAPE: _ARG,
    Ops.EXPAND: _ARG,
    Ops.VIEW: lambda src, arg: arg.shape,
    Ops.LOAD: lambda src, arg: src[1].shape,
    Ops.PERMUTE: _permuted,
    Ops.PAD: _padded,
    Ops.SHRINK: lambda src, arg: tuple([e - b for b, e in arg]) if src[0].shape is not None else None,
    Ops.FLIP: _source_shape,
    Ops.ASSIGN: _source_shape,
    Ops.REDUCE_AXIS: _reduced,
}
_pack_double = struct.Struct("<d").pack
_new_object = object.__new__
_weak = weakref.ref
_keep = _cache.setdefault


class UOp:
    """One node of the graph. Never build with __init__ arguments you would mutate later."""

    __slots__ = ("op", "dtype", "src", "arg", "shape", "_key", "_realized", "_tag", "__weakref__")
    op: Ops
    dtype: DType
    src: tuple[UOp, ...]
    arg: Any
    shape: tuple[int, ...] | None
    _key: tuple[Any, ...]
    _realized: UOp | None
    _tag: str | None

    def __new__(cls, op: Ops, dtype: DType = dtypes.void,
                src: tuple[UOp, ...] = (), arg: Any = None) -> UOp:
        # floats are keyed by their bits: -0.0 is not 0.0, and NaN equals itself
        key = (op, dtype, src, ("f", _pack_double(arg)) if type(arg) is float else arg)
        ref = _cache.get(key)
        if ref is not None and (u := ref()) is not None:
            return u
        u = _new_object(cls)
        u.op = op
        u.dtype = dtype
        u.src = src
        u.arg = arg
        u._key = key
        rule = _SHAPE_RULES.get(op)
        if rule is _LAST_SOURCE:
            u.shape = src[-1].shape
        elif rule is _ARG:
            u.shape = arg if type(arg) is tuple else tuple(arg)
        else:
            u.shape = None if rule is None else rule(src, arg)
        u._realized = None  # a tensor-graph node that was realized keeps its Buffer here
        u._tag = None  # user source line that created it (for DEBUG), set by Tensor
        ref = _weak(u)
        held = _keep(key, ref)
        if held is not ref:  # another thread stored an equal node since the lookup, or a collected node's is left
            if (v := held()) is not None:
                u._key = ()  # (so that its __del__ leaves the table alone)
                return v
            _cache[key] = ref
        return u

    # (no __init__: all work is in __new__, and object.__init__ accepts __new__'s arguments without a Python call)

    def __del__(self) -> None:
        # the entry is this node's, unless the collector cleared this node's weak reference first and an equal
        # node took the key meanwhile: that one's entry goes back
        try:
            key = self._key
            ref = _cache.pop(key, None)
        except (AttributeError, TypeError):  # made without __new__, or the module is torn down at exit
            return
        if ref is not None:
            u = ref()
            if u is not None and u is not self:
                _cache[key] = ref

    def __reduce__(self) -> Any:
        raise TypeError("UOps are not picklable")

    def __repr__(self) -> str:
        return pretty(self)

    # convenience constructors -------------------------------------------------
    @staticmethod
    def const(dtype: DType, value: Any) -> UOp:
        return UOp(Ops.CONST, dtype, (), value)

    def alu(self, op: Ops, *srcs: UOp, dtype: DType | None = None) -> UOp:
        out = dtype or (dtypes.bool if op in GroupOp.Comparison else self.dtype)
        return UOp(op, out, (self, *srcs))

    def cast(self, dtype: DType) -> UOp:
        return self if self.dtype == dtype else UOp(Ops.CAST, dtype, (self,))

    def reshape_to(self, shape: tuple[int, ...]) -> UOp:
        return self if self.shape == shape else UOp(Ops.RESHAPE, self.dtype, (self,), tuple(shape))

    def movement_chain(self) -> list[UOp]:
        """The movement ops above `base`, outermost first."""
        out, u = [], self
        while u.op in GroupOp.Movement:
            out.append(u)
            u = u.src[0]
        return out

    @property
    def base(self) -> UOp:
        """The node under a chain of movement ops."""
        u = self
        while u.op in GroupOp.Movement:
            u = u.src[0]
        return u

    def toposort(self) -> list[UOp]:
        return toposort([self])


# The Python construction and removal, the reference: engine/walk_c.py may replace UOp.__new__ and UOp.__del__
# with C functions over the same table and keys (NODES_C=0 keeps these), which hand back to py_new what they
# do not take themselves.
py_new = UOp.__new__
py_del = UOp.__del__


def toposort(roots: list[UOp], stop: Any = None) -> list[UOp]:
    """Nodes under `roots` in dependency order (sources first), iteratively.

    `stop(u)` may return True to treat u as a leaf (its sources are not visited).
    Order is deterministic: sources are visited in their order in `src`.
    """
    order: list[UOp] = []
    seen: set[int] = set()
    stack: list[tuple[UOp, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        u, done = stack.pop()
        if done:
            order.append(u)
            continue
        if id(u) in seen:
            continue
        seen.add(id(u))
        stack.append((u, True))
        if stop is None or not stop(u):
            for s in reversed(u.src):
                if id(s) not in seen:
                    stack.append((s, False))
    return order


def pretty(root: UOp, max_lines: int = 400) -> str:
    """Readable multi-line form: one node a line, shared nodes named once."""
    nodes = toposort([root])
    names = {id(u): f"x{i}" for i, u in enumerate(nodes)}
    lines = []
    for u in nodes[-max_lines:]:
        srcs = ", ".join(names[id(s)] for s in u.src)
        arg = "" if u.arg is None else f" arg={_fmt_arg(u.arg)}"
        shape = "" if u.shape is None else f" {u.shape}"
        vec = f"x{u.dtype.count}" if u.dtype.count > 1 else ""
        lines.append(f"{names[id(u)]} = {u.op.name}:{u.dtype.name}{vec}"
                     f"{shape}({srcs}){arg}")
    if len(nodes) > max_lines:
        lines.insert(0, f"... {len(nodes) - max_lines} earlier nodes")
    return "\n".join(lines)


def _fmt_arg(arg: Any) -> str:
    if isinstance(arg, tuple) and arg and type(arg[0]).__name__ == "Buffer":
        return f"buf{arg[0].id}v{arg[1]}"
    if isinstance(arg, tuple) and arg and isinstance(arg[0], Ops):
        return f"({arg[0].name}, {arg[1]})"
    return repr(arg)
