"""The Tensor class: a lazy handle on a UOp graph, with PyTorch's names.

Takes: Python lists, numpy arrays, scalars, and calls like `x @ w + b`.
Produces: UOps (nothing runs); shapes and dtypes are checked when an op is built, so a bad call
raises at the user's line. `realize()`, `numpy()`, `item()` and `tolist()` hand the graph to the
scheduler (tinytorch/engine) and return results.

This file holds construction, properties and the operator table; each method lives in the file
of its topic (creation, movement, indexing, elementwise, reduce, linalg, functional, autograd,
inplace, realization) and is bound into the class below. Every math op is a composition of the
primitive ops in tinytorch/ops/uop.py.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..dtype import DType, dtypes, to_dtype
from ..errors import TensorValueError
from ..helpers import DEBUG, SOURCE_LINES, prod
from ..ops.uop import GroupOp, Ops, UOp
from . import (
    autograd,
    common,
    creation,
    elementwise,
    functional,
    indexing,
    inplace,
    linalg,
    movement,
    printing,
    realization,
    reduce,
    scatter,
    search,
    sorting,
)
from .common import (
    _as_tensor,
    _buffer_uop,
    _const_uop,
    _float_to_bf16_bits,
    _infer_dtype,
    _norm_axis,
    _to_numpy,
    _track,
    _user_line,
    no_grad,
)
from .device import as_device
from .device import device as TensorDevice
from .size import SIZES, Size, as_size


class Tensor:
    """An n-dimensional array whose value is computed lazily by compiled kernels."""

    # _rg: requires_grad; _nonleaf: made by an op that tracks gradients (has a grad_fn);
    # _meta: hooks and retain_grad (autograd.AutogradMeta), None for most tensors
    __slots__ = ("uop", "device", "_rg", "grad", "_nonleaf", "_meta", "__weakref__")
    uop: UOp
    device: TensorDevice  # a str subclass: our backend name, equal to 'cpu' when it is the default
    _rg: builtins.bool
    grad: Tensor | None
    _nonleaf: builtins.bool
    _meta: Any
    __array_priority__ = 1000  # numpy defers to our reflected operators
    # every live tensor in creation order (for assign's eager semantics and backward's leaves);
    # ordered, so the order, and with it the schedule a step builds, is the same each step
    live = common.LIVE

    def __init__(self, data: Any, dtype: Any = None, device: str | None = None, requires_grad: builtins.bool = False):
        self.device = as_device(device)  # "cpu" -> the default device; raises for an unknown name
        self._rg, self.grad, self._nonleaf, self._meta = False, None, False, None
        if isinstance(data, UOp):
            self.uop = data
            _track(self)
            if requires_grad:
                self.requires_grad_()
            return
        dt = None if dtype is None else to_dtype(dtype)
        if isinstance(data, Tensor):
            arr = data.numpy()
            dt = dt or data.dtype
        elif isinstance(data, np.ndarray):
            arr = data
            dt = dt or to_dtype(arr.dtype)
        elif isinstance(data, (bool, int, float)) and dt is not None:
            self.uop = _const_uop(data, dt, ())
            _track(self)
            if requires_grad:
                self.requires_grad_()
            return
        else:
            arr = _to_numpy(data, dt)
        if dt is None:
            dt = _infer_dtype(arr)
        if dt == dtypes.bfloat16:
            arr = _float_to_bf16_bits(np.asarray(arr, np.float32))
        else:
            arr = np.asarray(arr).astype(dt.np, copy=False)
        self.uop = _buffer_uop(arr, dt, self.device)
        _track(self)
        if requires_grad:
            self.requires_grad_()

    # construction helpers -------------------------------------------------------------
    @staticmethod
    def _from(uop: UOp, device: str, requires_grad: builtins.bool = False) -> Tensor:
        # (every op of eager code passes here: plain attribute reads, no property or generator)
        t = object.__new__(Tensor)
        t.uop, t._rg, t.grad, t._nonleaf, t._meta = uop, requires_grad, None, requires_grad, None
        t.device = device if type(device) is TensorDevice else as_device(device)
        if (DEBUG.value >= 2 or SOURCE_LINES.value) and uop._tag is None:
            uop._tag = _user_line()
        _track(t)
        return t

    def _new(self, uop: UOp, *parents: Tensor) -> Tensor:
        parent_rg = self._rg
        if not parent_rg:
            for p in parents:
                if p._rg:
                    parent_rg = True
                    break
        if parent_rg and not no_grad.enabled:  # computed under no_grad: gradients must not flow through it
            return Tensor._from(UOp(Ops.DETACH, uop.dtype, (uop,)), self.device, False)
        t = Tensor._from(uop, self.device, parent_rg)
        if uop.op in GroupOp.Movement:  # a view: an in-place write through it or self must reach the other
            inplace.note_view(t, self)
        return t

    # properties ---------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        """The size of each dim, a tinytorch.Size (a tuple of ints)."""
        s = self.uop.shape
        assert s is not None
        return SIZES.get(s) or as_size(s)

    def size(self, dim: builtins.int | None = None) -> Any:
        """The shape (a tinytorch.Size), or the size of dim."""
        return self.shape if dim is None else self.shape[_norm_axis("size", dim, self.ndim)]

    @property
    def dtype(self) -> DType:
        """The element type (tinytorch.float32, ...)."""
        return self.uop.dtype

    @property
    def ndim(self) -> builtins.int:
        """The number of dims."""
        return len(self.shape)

    def dim(self) -> builtins.int:
        """The number of dims."""
        return self.ndim

    def numel(self) -> builtins.int:
        """The number of elements: the product of the sizes."""
        return prod(self.shape)

    def __len__(self) -> builtins.int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        """PyTorch's text for the values (computed now), e.g. `tensor([1., 2.], requires_grad=True)`."""
        return printing.tensor_repr(self)

    def __hash__(self) -> builtins.int:
        return id(self)

    def __bool__(self) -> builtins.bool:
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of a Tensor with {self.numel()} elements is ambiguous")
        return bool(self.item())

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    @property
    def is_leaf(self) -> builtins.bool:
        """A tensor the user made (not the result of an op that tracks gradients)."""
        return not (self._rg and self._nonleaf)

    @property
    def requires_grad(self) -> builtins.bool:
        """Whether backward() computes a gradient for this tensor (settable on leaves)."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: builtins.bool) -> None:
        autograd.set_requires_grad(self, value)

    @property
    def grad_fn(self) -> Any:
        """The node that made this tensor (None for a leaf), named like PyTorch's (`MulBackward0`)."""
        return autograd.grad_fn(self)

    @property
    def data(self) -> Tensor:
        """The same value as a tensor that does not require grad; assigning replaces the value."""
        return autograd.get_data(self)

    @data.setter
    def data(self, value: Tensor) -> None:
        autograd.set_data(self, value)

    def __setitem__(self, index: Any, value: Any) -> None:
        from ..engine.realize import realize_uops, resolve_views

        if indexing._is_advanced(index):  # tensor, list or mask entries: indexing.py writes (graph or memory)
            return self._setitem_advanced(index, value)
        if inplace.setitem_in_graph(self, index, value):  # gradients tracked: a leaf raises, else a graph node
            return
        if self.uop.op is Ops.ASSIGN or self.uop.base.op is not Ops.BUFFER:  # the write goes to a buffer
            self.realize()
            self.uop = resolve_views(self.uop)
        view = self._index_view(index, for_write=True)
        target = view._write_target("__setitem__")
        v = value if isinstance(value, Tensor) else Tensor.full((), value, self.dtype, self.device)
        if v.dtype != self.dtype:
            v = v.cast(self.dtype)
        try:
            v = v._broadcast_to(view.shape, "__setitem__")
        except ValueError:
            raise TensorValueError(f"__setitem__: value of shape {v.shape} cannot be broadcast to the indexed shape "
                             f"{view.shape}") from None
        # the write runs now; every tensor that views the buffer (self too) moves to its new version
        realize_uops([UOp(Ops.ASSIGN, self.dtype, (target, v.uop))])

    @property
    def T(self) -> Tensor:
        """The dims in reverse order (the transpose of a matrix)."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        """The last two dims swapped (a batch of transposed matrices)."""
        return self.transpose(-2, -1)

    def __getitem__(self, index: Any) -> Tensor:
        return self._index(index)

    # elementwise: binary ---------------------------------------------------------------------
    def __add__(self, o: Any) -> Tensor: return self.add(o)
    def __radd__(self, o: Any) -> Tensor: return self._binop(Ops.ADD, o, True)
    def __sub__(self, o: Any) -> Tensor: return self.sub(o)
    def __rsub__(self, o: Any) -> Tensor: return _as_tensor(o, self).sub(self)
    def __mul__(self, o: Any) -> Tensor: return self.mul(o)
    def __rmul__(self, o: Any) -> Tensor: return self._binop(Ops.MUL, o, True)
    def __truediv__(self, o: Any) -> Tensor: return self.div(o)
    def __rtruediv__(self, o: Any) -> Tensor: return _as_tensor(o, self).div(self)
    def __floordiv__(self, o: Any) -> Tensor: return self.floor_divide(o)
    def __rfloordiv__(self, o: Any) -> Tensor: return _as_tensor(o, self).floor_divide(self)
    def __mod__(self, o: Any) -> Tensor: return self.remainder(o)
    def __rmod__(self, o: Any) -> Tensor: return _as_tensor(o, self).remainder(self)
    def __pow__(self, o: Any) -> Tensor: return self.pow(o)
    def __rpow__(self, o: Any) -> Tensor: return _as_tensor(o, self).pow(self)
    def __matmul__(self, o: Any) -> Tensor: return self.matmul(o)
    def __rmatmul__(self, o: Any) -> Tensor: return _as_tensor(o, self).matmul(self)
    def __neg__(self) -> Tensor: return self.neg()
    def __pos__(self) -> Tensor: return self
    def __abs__(self) -> Tensor: return self.abs()
    def __invert__(self) -> Tensor: return self.bitwise_not()
    def __lt__(self, o: Any) -> Tensor: return self._binop(Ops.CMPLT, o, name="lt")
    def __gt__(self, o: Any) -> Tensor: return self._binop(Ops.CMPLT, o, True, name="gt")
    def __le__(self, o: Any) -> Tensor: return self._cmp_or_eq(o, False, "le")
    def __ge__(self, o: Any) -> Tensor: return self._cmp_or_eq(o, True, "ge")
    def __eq__(self, o: Any) -> Tensor: return self._binop(Ops.CMPNE, o, name="eq").logical_not()  # type: ignore[override]
    def __ne__(self, o: Any) -> Tensor: return self.ne(o)  # type: ignore[override]
    def __and__(self, o: Any) -> Tensor: return self._bitop(Ops.AND, o, "bitwise_and")
    def __rand__(self, o: Any) -> Tensor: return self._bitop(Ops.AND, o, "bitwise_and")
    def __or__(self, o: Any) -> Tensor: return self._bitop(Ops.OR, o, "bitwise_or")
    def __ror__(self, o: Any) -> Tensor: return self._bitop(Ops.OR, o, "bitwise_or")
    def __xor__(self, o: Any) -> Tensor: return self._bitop(Ops.XOR, o, "bitwise_xor")
    def __rxor__(self, o: Any) -> Tensor: return self._bitop(Ops.XOR, o, "bitwise_xor")
    def __lshift__(self, o: Any) -> Tensor: return self._bitop(Ops.SHL, o, "bitwise_left_shift")
    def __rshift__(self, o: Any) -> Tensor: return self._bitop(Ops.SHR, o, "bitwise_right_shift")


    def float(self) -> Tensor:
        """self cast to float32."""
        return self.cast(dtypes.float32)

    def half(self) -> Tensor:
        """self cast to float16."""
        return self.cast(dtypes.float16)

    def double(self) -> Tensor:
        """self cast to float64."""
        return self.cast(dtypes.float64)

    def int(self) -> Tensor:
        """self cast to int32."""
        return self.cast(dtypes.int32)

    def long(self) -> Tensor:
        """self cast to int64."""
        return self.cast(dtypes.int64)

    def bool(self) -> Tensor:
        """self cast to bool (nonzero is True)."""
        return self.cast(dtypes.bool)

    def bfloat16(self) -> Tensor:
        """self cast to bfloat16."""
        return self.cast(dtypes.bfloat16)

    # methods, by the file that defines them (tinytorch/tensor/<file>.py) ------------------------
    # creation
    full = staticmethod(creation.full)
    zeros = staticmethod(creation.zeros)
    ones = staticmethod(creation.ones)
    empty = staticmethod(creation.empty)
    full_like = creation.full_like
    zeros_like = creation.zeros_like
    ones_like = creation.ones_like
    empty_like = creation.empty_like
    rand_like = creation.rand_like
    randn_like = creation.randn_like
    arange = staticmethod(creation.arange)
    linspace = staticmethod(creation.linspace)
    eye = staticmethod(creation.eye)
    rand = staticmethod(creation.rand)
    randn = staticmethod(creation.randn)
    randint = staticmethod(creation.randint)
    uniform = staticmethod(creation.uniform)
    normal = staticmethod(creation.normal)
    rand_graph = staticmethod(creation.rand_graph)
    new_tensor = creation.new_tensor
    new_full = creation.new_full
    new_zeros = creation.new_zeros
    new_ones = creation.new_ones
    new_empty = creation.new_empty
    # realization
    schedule = realization.schedule
    realize = realization.realize
    contiguous = realization.contiguous
    numpy = realization.numpy
    __deepcopy__ = realization.deepcopy
    __copy__ = realization.shallow_copy
    __reduce_ex__ = realization.reduce_ex
    item = realization.item
    tolist = realization.tolist
    __float__ = realization.to_float
    __int__ = realization.to_int
    __index__ = realization.to_index
    cpu = realization.cpu
    cuda = realization.cuda
    type = realization.type
    is_floating_point = realization.is_floating_point
    element_size = realization.element_size
    nbytes = property(realization.nbytes)
    itemsize = property(realization.itemsize)
    stride = realization.stride
    is_contiguous = realization.is_contiguous
    __array__ = realization.to_array
    type_as = realization.type_as
    __format__ = printing.tensor_format
    is_cuda = property(realization.is_cuda)
    is_cpu = property(realization.is_cpu)
    is_sparse = is_quantized = is_meta = property(realization.is_false)
    get_device = realization.get_device
    is_complex = realization.is_complex
    is_signed = realization.is_signed
    is_nonzero = realization.is_nonzero
    is_same_size = realization.is_same_size
    pin_memory = realization.pin_memory
    is_pinned = realization.is_pinned
    ndimension = dim
    nelement = numel
    # autograd
    requires_grad_ = autograd.requires_grad_
    backward = autograd.backward
    clone = autograd.clone
    to = autograd.to
    detach = autograd.detach
    detach_ = autograd.detach_
    retain_grad = autograd.retain_grad
    retains_grad = property(autograd.retains_grad)
    register_hook = autograd.register_hook
    # inplace (more: the `name_` twins of the methods in inplace.INPLACE_OF, bound after the class)
    assign = inplace.assign
    _write_target = inplace._write_target
    _inplace = inplace._inplace
    add_ = inplace.add_
    sub_ = inplace.sub_
    div_ = inplace.div_
    zero_ = inplace.zero_
    fill_ = inplace.fill_
    copy_ = inplace.copy_
    clamp_ = inplace.clamp_
    normal_ = inplace.normal_
    uniform_ = inplace.uniform_
    __iadd__ = inplace.__iadd__
    __isub__ = inplace.__isub__
    __imul__ = inplace.__imul__
    __itruediv__ = inplace.__itruediv__
    __ifloordiv__ = inplace.__ifloordiv__
    __imod__ = inplace.__imod__
    __ipow__ = inplace.__ipow__
    __imatmul__ = inplace.__imatmul__
    __iand__ = inplace.__iand__
    __ior__ = inplace.__ior__
    __ixor__ = inplace.__ixor__
    __ilshift__ = inplace.__ilshift__
    __irshift__ = inplace.__irshift__
    # movement
    reshape = movement.reshape
    view = movement.view
    _reshape = movement._reshape
    flatten = movement.flatten
    unflatten = movement.unflatten
    squeeze = movement.squeeze
    unsqueeze = movement.unsqueeze
    permute = movement.permute
    transpose = movement.transpose
    expand = movement.expand
    broadcast_to = movement.broadcast_to
    expand_as = movement.expand_as
    _broadcast_to = movement._broadcast_to
    flip = movement.flip
    repeat = movement.repeat
    pad = movement.pad
    _pad = movement._pad
    _shrink = movement._shrink
    split = movement.split
    chunk = movement.chunk
    view_as = movement.view_as
    reshape_as = movement.reshape_as
    swapaxes = movement.swapaxes
    movedim = movement.movedim
    narrow = movement.narrow
    select = movement.select
    unbind = movement.unbind
    tile = movement.tile
    fliplr = movement.fliplr
    flipud = movement.flipud
    rot90 = movement.rot90
    roll = movement.roll
    repeat_interleave = movement.repeat_interleave
    atleast_1d = movement.atleast_1d
    atleast_2d = movement.atleast_2d
    atleast_3d = movement.atleast_3d
    tensor_split = movement.tensor_split
    _tri_mask = movement._tri_mask
    tril = movement.tril
    triu = movement.triu
    diagonal = movement.diagonal
    diag_embed = movement.diag_embed
    diag = movement.diag
    swapdims = movement.swapaxes
    moveaxis = movement.movedim
    t = movement.t
    # indexing
    _index = indexing._index
    _gather_dims = indexing._gather_dims
    _index_view = indexing._index_view
    _expand_index = indexing._expand_index
    _advanced_dims = indexing._advanced_dims
    _linear_index = indexing._linear_index
    _setitem_advanced = indexing._setitem_advanced
    # scatter
    gather = scatter.gather
    take_along_dim = scatter.take_along_dim
    take = scatter.take
    index_select = scatter.index_select
    scatter_add = scatter.scatter_add
    scatter_reduce = scatter.scatter_reduce
    index_add = scatter.index_add
    index_copy = scatter.index_copy
    index_fill = scatter.index_fill
    masked_fill = scatter.masked_fill
    masked_select = scatter.masked_select
    _take_flat = scatter._take_flat
    scatter = scatter.scatter  # (last: the name is the module until here)
    # search
    nonzero = search.nonzero
    argwhere = search.argwhere
    unique = search.unique
    bincount = search.bincount
    histc = search.histc
    bucketize = search.bucketize
    multinomial = search.multinomial
    bernoulli = search.bernoulli
    # elementwise
    _binop = elementwise._binop
    add = elementwise.add
    sub = elementwise.sub
    mul = elementwise.mul
    div = elementwise.div
    floor_divide = elementwise.floor_divide
    remainder = elementwise.remainder
    maximum = elementwise.maximum
    minimum = elementwise.minimum
    pow = elementwise.pow
    lt = elementwise.lt
    gt = elementwise.gt
    le = elementwise.le
    ge = elementwise.ge
    eq = elementwise.eq
    ne = elementwise.ne
    _cmp_or_eq = elementwise._cmp_or_eq
    _bitop = elementwise._bitop
    logical_not = elementwise.logical_not
    logical_and = elementwise.logical_and
    logical_or = elementwise.logical_or
    logical_xor = elementwise.logical_xor
    bitwise_not = elementwise.bitwise_not
    _where = elementwise.where
    where = elementwise.where_method
    _unop = elementwise._unop
    neg = elementwise.neg
    reciprocal = elementwise.reciprocal
    sqrt = elementwise.sqrt
    rsqrt = elementwise.rsqrt
    exp2 = elementwise.exp2
    log2 = elementwise.log2
    exp = elementwise.exp
    log = elementwise.log
    sin = elementwise.sin
    cos = elementwise.cos
    tan = elementwise.tan
    abs = elementwise.abs
    sign = elementwise.sign
    trunc = elementwise.trunc
    floor = elementwise.floor
    ceil = elementwise.ceil
    round = elementwise.round
    isnan = elementwise.isnan
    isinf = elementwise.isinf
    isfinite = elementwise.isfinite
    tanh = elementwise.tanh
    erf = elementwise.erf
    clamp = elementwise.clamp
    clip = elementwise.clip
    cast = elementwise.cast
    bitcast = elementwise.bitcast
    true_divide = elementwise.true_divide
    fmod = elementwise.fmod
    fmax = elementwise.fmax
    fmin = elementwise.fmin
    atan = elementwise.atan
    atan2 = elementwise.atan2
    arctan2 = elementwise.arctan2
    asin = elementwise.asin
    acos = elementwise.acos
    sinh = elementwise.sinh
    cosh = elementwise.cosh
    asinh = elementwise.asinh
    acosh = elementwise.acosh
    atanh = elementwise.atanh
    arcsin = elementwise.arcsin
    arccos = elementwise.arccos
    arctan = elementwise.arctan
    arcsinh = elementwise.arcsinh
    arccosh = elementwise.arccosh
    arctanh = elementwise.arctanh
    log10 = elementwise.log10
    log1p = elementwise.log1p
    expm1 = elementwise.expm1
    square = elementwise.square
    frac = elementwise.frac
    fix = elementwise.fix
    hypot = elementwise.hypot
    deg2rad = elementwise.deg2rad
    rad2deg = elementwise.rad2deg
    sinc = elementwise.sinc
    xlogy = elementwise.xlogy
    signbit = elementwise.signbit
    copysign = elementwise.copysign
    sgn = elementwise.sgn
    float_power = elementwise.float_power
    lerp = elementwise.lerp
    addcmul = elementwise.addcmul
    addcdiv = elementwise.addcdiv
    clamp_min = elementwise.clamp_min
    clamp_max = elementwise.clamp_max
    nan_to_num = elementwise.nan_to_num
    isclose = elementwise.isclose
    allclose = elementwise.allclose
    equal = elementwise.equal
    isposinf = elementwise.isposinf
    isneginf = elementwise.isneginf
    isreal = elementwise.isreal
    heaviside = elementwise.heaviside
    bitwise_and = elementwise.bitwise_and
    bitwise_or = elementwise.bitwise_or
    bitwise_xor = elementwise.bitwise_xor
    bitwise_left_shift = elementwise.bitwise_left_shift
    bitwise_right_shift = elementwise.bitwise_right_shift
    negative = elementwise.negative
    positive = elementwise.positive
    multiply = elementwise.multiply
    subtract = elementwise.subtract
    divide = elementwise.divide
    absolute = elementwise.absolute
    greater = elementwise.greater
    greater_equal = elementwise.greater_equal
    less = elementwise.less
    less_equal = elementwise.less_equal
    not_equal = elementwise.not_equal
    erfc = elementwise.erfc
    # functional
    relu = functional.relu
    sigmoid = functional.sigmoid
    leaky_relu = functional.leaky_relu
    elu = functional.elu
    gelu = functional.gelu
    silu = functional.silu
    softplus = functional.softplus
    logsumexp = functional.logsumexp
    softmax = functional.softmax
    _shift = functional._shift
    log_softmax = functional.log_softmax
    linear = functional.linear
    selu = functional.selu
    celu = functional.celu
    hardtanh = functional.hardtanh
    relu6 = functional.relu6
    hardsigmoid = functional.hardsigmoid
    hardswish = functional.hardswish
    mish = functional.mish
    softsign = functional.softsign
    softmin = functional.softmin
    tanhshrink = functional.tanhshrink
    softshrink = functional.softshrink
    hardshrink = functional.hardshrink
    threshold = functional.threshold
    logsigmoid = functional.logsigmoid
    glu = functional.glu
    prelu = functional.prelu
    rrelu = functional.rrelu
    logit = functional.logit
    # reduce
    _axes = reduce._axes
    _reduce = reduce._reduce
    sum = reduce.sum
    prod = reduce.prod
    max = reduce.max
    min = reduce.min
    mean = reduce.mean
    var = reduce.var
    std = reduce.std
    argmax = reduce.argmax
    argmin = reduce.argmin
    any = reduce.any
    all = reduce.all
    cumsum = reduce.cumsum
    amax = reduce.amax
    amin = reduce.amin
    aminmax = reduce.aminmax
    _take_along = reduce._take_along
    _values_indices = reduce._values_indices
    _rounded = reduce._rounded
    _window = reduce._window
    _cumulative_extreme = reduce._cumulative_extreme
    var_mean = reduce.var_mean
    std_mean = reduce.std_mean
    nansum = reduce.nansum
    nanmean = reduce.nanmean
    count_nonzero = reduce.count_nonzero
    cumprod = reduce.cumprod
    cummax = reduce.cummax
    cummin = reduce.cummin
    logcumsumexp = reduce.logcumsumexp
    # sorting
    sort = sorting.sort
    argsort = sorting.argsort
    msort = sorting.msort
    topk = sorting.topk
    kthvalue = sorting.kthvalue
    median = sorting.median
    nanmedian = sorting.nanmedian
    mode = sorting.mode
    quantile = sorting.quantile
    nanquantile = sorting.nanquantile
    # linalg
    matmul = linalg.matmul
    dot = linalg.dot
    mm = linalg.mm
    bmm = linalg.bmm
    mv = linalg.mv
    vdot = linalg.vdot
    inner = linalg.inner
    outer = linalg.outer
    addmm = linalg.addmm
    addmv = linalg.addmv
    baddbmm = linalg.baddbmm
    addbmm = linalg.addbmm
    addr = linalg.addr
    tensordot = linalg.tensordot
    norm = linalg.norm
    dist = linalg.dist
    diff = linalg.diff
    trace = linalg.trace
    cross = linalg.cross


# the topic files name Tensor in their bodies (Tensor._from, Tensor.full, isinstance checks); bind it now
for _m in (autograd, common, creation, elementwise, functional, indexing, inplace, linalg, movement, realization,
           reduce, scatter, search, sorting):
    _m.Tensor = Tensor  # type: ignore[attr-defined]
inplace.bind_inplace(Tensor)
