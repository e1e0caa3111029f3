"""Linear algebra: the matmul family (a broadcast multiply feeding one reduce), products of vectors, norms,
cross products, differences and the trace.

Takes: tensors with the shapes PyTorch's functions of these names take (mm: matrices, bmm: batches of
matrices, mv: a matrix and a vector, ...).
Produces: lazy compositions of multiply, sum and the reductions; shape and dtype errors name the op and
the shapes, as PyTorch's do.
"""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

from ..codegen.opt import transposed_panels_pay
from ..dtype import dtypes, promote
from ..errors import DTypeError, TensorValueError
from ..helpers import vector_bytes
from ..ops.gradient import CUSTOM_GRADIENTS
from ..ops.uop import Ops, UOp
from .common import _broadcast_shapes, _norm_axis, no_grad
from .reduce import dim_aliases

if TYPE_CHECKING:
    from .core import Tensor


def matmul(self: Tensor, other: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting: (..., n, k) @ (..., k, m); a 1-D side is a vector."""
    if isinstance(other, type(self)):  # (n, k) @ (k, m) of one float dtype, the usual case: no promotion or broadcast
        xs, ys, dt = self.uop.shape, other.uop.shape, self.uop.dtype
        if xs is not None and ys is not None and len(xs) == 2 and len(ys) == 2 and xs[1] == ys[0] \
                and other.uop.dtype is dt and dt.is_float:
            return _mm2d(self, other)
    w = other if isinstance(other, Tensor) else Tensor(other, device=self.device)
    if self.ndim == 0 or w.ndim == 0:
        raise TensorValueError(f"matmul: both arguments need at least 1 dim, got shapes {self.shape} and {w.shape}")
    x = self.unsqueeze(0) if self.ndim == 1 else self
    y = w.unsqueeze(-1) if w.ndim == 1 else w
    if x.shape[-1] != y.shape[-2]:
        raise TensorValueError(f"matmul: shapes {self.shape} and {w.shape} cannot be multiplied "
                               f"({x.shape[-1]} != {y.shape[-2]}: the last dim of the first must equal "
                               f"the {'only' if w.ndim == 1 else 'second-to-last'} dim of the second)")
    dt = promote(x.dtype, y.dtype)
    x, y = x.cast(dt), y.cast(dt)
    try:
        batch = _broadcast_shapes(x.shape[:-2], y.shape[:-2], op="matmul")
    except ValueError:
        raise TensorValueError(f"matmul: shapes {self.shape} and {w.shape} cannot be multiplied (batch dims "
                               f"{x.shape[:-2]} and {y.shape[:-2]} are not broadcastable)") from None
    n, k, m = x.shape[-2], x.shape[-1], y.shape[-1]
    if y.ndim == 2 and x.ndim > 2:  # (..., n, k) @ (k, m): one (prod(...) * n, k) @ (k, m), so that the
        # gradient of the matrix is one reduce over every row instead of a per-batch product summed after
        out = x.reshape(-1, k).matmul(y).reshape(*x.shape[:-1], m)
        return out.squeeze(-1) if w.ndim == 1 else out
    if x.ndim == 2 and y.ndim == 2 and dt.is_float:
        out = _mm2d(x, y)
        out = out.squeeze(-2) if self.ndim == 1 else out
        return out.squeeze(-1) if w.ndim == 1 else out
    xb = x._broadcast_to((*batch, n, k), "matmul").reshape(*batch, n, 1, k)
    yb = y._broadcast_to((*batch, k, m), "matmul").transpose(-1, -2).reshape(*batch, 1, m, k)
    out = (xb * yb).sum(-1, dtype=dt)  # (*batch, n, m); like torch, int @ int stays in its dtype
    if self.ndim == 1:
        out = out.squeeze(-2)
    if w.ndim == 1:
        out = out.squeeze(-1)
    return out


# rows of a long reduce per block (the first that divides it twice or more): a (512, 16) float panel of each
# operand is 32 KiB, an L1; reduces of >= 768 rows are split (a weight gradient over every token)
_K_BLOCKS, _K_SPLIT_FROM = (512, 384), 768
# multiply-adds from which an output row no lane count divides is padded to whole vectors (below, the copy and
# its kernel launch cost more than the scalar code they save)
_PAD_FROM = 1 << 17


def _mm2d(x: Tensor, y: Tensor) -> Tensor:
    """(n, k) @ (k, m) of floats, every product in its fastest layout: the right operand is read in rows of m
    (a transposed one, W^T of a Linear, is copied lane by lane into the kernel's packed panels, codegen/opt.py,
    and the product runs with whole vectors along m instead of dot products along k that each end in a
    horizontal sum; over a short k, or for rows too short to share panels between threads, it is copied whole
    first), and the gradients are products of the same kind: dx = g @ y^T, dy = x^T @ g (for y = W^T:
    dW = g^T @ x, in W's own layout)."""
    (n, k), (_, m) = x.uop.shape, y.uop.shape  # type: ignore[misc]
    yr = y.contiguous() if n >= 16 and m % 4 == 0 and y.uop.op is Ops.PERMUTE and \
        not transposed_panels_pay(m, k, x.dtype.itemsize) else y
    lanes = max(1, vector_bytes() // max(x.dtype.itemsize, 4))
    # a row of m outputs that no lane count divides (517, 1000 + 1 classes) would run in scalar code: the right
    # operand is copied into rows of m + pad (zeros after), the product runs in whole vectors and keeps its
    # first m columns (unless a transposed operand's rows are whole vectors along k: those take dot products)
    pad = -m % lanes if m % 4 and m >= 8 and n >= 4 and n * k * m >= _PAD_FROM and \
        not (y.uop.op is Ops.PERMUTE and k % lanes == 0) else 0
    if pad:
        yr = yr._pad(((0, 0), (0, pad))).contiguous()  # (k, m + pad)
    # (only a transposed left operand, the x^T of a weight gradient: a contiguous one streams its rows past
    # the right operand's packed panels (codegen/opt.py) faster whole than split and summed after)
    split = k >= _K_SPLIT_FROM and n * m >= 4096 and x.uop.op is Ops.PERMUTE
    c = next((b for b in _K_BLOCKS if k % b == 0 and k // b >= 2), k) if split else k
    if c < k:  # a long reduce (a weight gradient over every token) in blocks of k whose panels stay in
        s = k // c  # cache, summed after: (s, n, m) partial products, then a sum over s
        xb = x.reshape(n, s, c).permute(1, 0, 2).reshape(s, n, 1, c)
        yb = yr.reshape(s, c, m + pad).permute(0, 2, 1).reshape(s, 1, m + pad, c)
        out = (xb * yb).sum(-1).sum(0)  # (n, m)
    else:
        out = _mm_direct(x, yr, n, k, m + pad)
    if pad:
        out = out._shrink(((0, n), (0, m)))  # (n, m)
    if not out._rg:
        return out
    x_uop, y_uop, x_rg, y_rg, dev, cls = x.uop, y.uop, x.requires_grad, y.requires_grad, x.device, type(x)

    def grads(node: Any, ctx: Any) -> list[Any]:
        g = cls._from(ctx, dev)  # (n, m)
        xx, yy = cls._from(x_uop, dev), cls._from(y_uop, dev)
        res = []
        if x_rg:
            res.append((x_uop, _mm2d(g, yy.T).uop))  # (n, m) @ (m, k)
        if y_rg:
            dy = _mm2d(g.T, xx).T if y_uop.op is Ops.PERMUTE else _mm2d(xx.T, g)  # (k, m)
            res.append((y_uop, dy.uop))
        return res
    CUSTOM_GRADIENTS[out.uop] = grads
    return out


def _mm_direct(x: Tensor, y: Tensor, n: builtins.int, k: builtins.int, m: builtins.int) -> Tensor:
    """(x.reshape(n, 1, k) * y.T.reshape(1, m, k)).sum(-1): the same UOps, built without the five intermediate
    tensors (and their view bookkeeping) those Tensor ops would make: an eager matmul's building time is that."""
    dt = x.dtype
    rg = x._rg or y._rg
    if (rg and not no_grad.enabled) or dt not in (dtypes.float32, dtypes.float64) or x.device is not y.device:
        return (x.reshape(n, 1, k) * y.T.reshape(1, m, k)).sum(-1)  # (DETACH nodes, a wider accumulator)
    a = x.uop.reshape_to((n, 1, k))  # (n, 1, k)
    b = UOp(Ops.PERMUTE, dt, (y.uop,), (1, 0)).reshape_to((1, m, k))  # (1, m, k)
    if m != 1:
        a = UOp(Ops.EXPAND, dt, (a,), (n, m, k))
    if n != 1:
        b = UOp(Ops.EXPAND, dt, (b,), (n, m, k))
    prod = UOp(Ops.MUL, dt, (a, b))  # (n, m, k)
    red = UOp(Ops.REDUCE_AXIS, dt, (prod,), (Ops.ADD, (2,)))  # (n, m, 1)
    return type(x)._from(red.reshape_to((n, m)), x.device, rg)


def _check(op: str, a: Tensor, b: Any, ndims: tuple[builtins.int, builtins.int], what: str) -> Tensor:
    if not isinstance(b, Tensor):
        raise TypeError(f"{op}(): argument must be a Tensor, not {type(b).__name__}")
    if (a.ndim, b.ndim) != ndims:
        raise TensorValueError(f"{op}: expected {what}, got shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise DTypeError(f"{op}: expected both arguments to have the same dtype, but got {a.dtype} and {b.dtype}")
    return b


def mm(self: Tensor, mat2: Tensor) -> Tensor:
    """Matrix product of two matrices: (n, k) @ (k, m) -> (n, m), out_ij = sum_k a_ik b_kj."""
    _check("mm", self, mat2, (2, 2), "two matrices (2-D)")
    if self.shape[1] != mat2.shape[0]:
        raise TensorValueError(f"mm: mat1 and mat2 shapes cannot be multiplied ({self.shape[0]}x{self.shape[1]} "
                               f"and {mat2.shape[0]}x{mat2.shape[1]})")
    return self.matmul(mat2)


def bmm(self: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product without broadcasting: (b, n, k) @ (b, k, m) -> (b, n, m)."""
    _check("bmm", self, mat2, (3, 3), "two 3-D tensors (batches of matrices)")
    if self.shape[0] != mat2.shape[0] or self.shape[2] != mat2.shape[1]:
        raise TensorValueError(f"bmm: shapes {self.shape} and {mat2.shape} cannot be multiplied (expected "
                               f"(b, n, k) and (b, k, m) with the same b)")
    return self.matmul(mat2)


def mv(self: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product: (n, k) @ (k,) -> (n,), out_i = sum_k a_ik v_k."""
    _check("mv", self, vec, (2, 1), "a matrix and a vector")
    if self.shape[1] != vec.shape[0]:
        raise TensorValueError(f"mv: size mismatch, got matrix {self.shape} and vector {vec.shape}")
    return self.matmul(vec)


def dot(self: Tensor, other: Tensor) -> Tensor:
    """sum_i a_i b_i of two 1-D tensors of the same length and dtype."""
    _check("dot", self, other, (1, 1), "two 1-D tensors")
    if self.shape[0] != other.shape[0]:
        raise TensorValueError(f"dot: inconsistent tensor size, expected tensors of the same length, got "
                               f"{self.shape[0]} and {other.shape[0]}")
    return self.matmul(other)


def vdot(self: Tensor, other: Tensor) -> Tensor:
    """sum_i conj(a_i) b_i; for real tensors the same as dot."""
    return self.dot(other)


def inner(self: Tensor, other: Any) -> Tensor:
    """sum over the last dims: out[i..., j...] = sum_k a[i..., k] b[j..., k]; a 0-d side multiplies."""
    o = other if isinstance(other, Tensor) else Tensor(other, device=self.device)
    if self.ndim == 0 or o.ndim == 0:
        return self * o
    if self.shape[-1] != o.shape[-1]:
        raise TensorValueError(f"inner: the last dims must match, got shapes {self.shape} and {o.shape}")
    return self.tensordot(o, ([self.ndim - 1], [o.ndim - 1]))


def outer(self: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two vectors: out_ij = a_i b_j."""
    if self.ndim != 1 or vec2.ndim != 1:
        raise TensorValueError(f"outer: expected two 1-D tensors, got shapes {self.shape} and {vec2.shape}")
    return self.reshape(-1, 1) * vec2.reshape(1, -1)


def _scaled_sum(inp: Any, prod: Tensor, beta: Any, alpha: Any, op: str) -> Tensor:
    """beta * input + alpha * prod; input is not read when beta is 0 (its NaNs do not propagate)."""
    out = prod if alpha == 1 else prod * alpha
    if beta == 0:
        return out
    i = inp if isinstance(inp, Tensor) else Tensor(inp, device=prod.device)
    try:
        _broadcast_shapes(i.shape, out.shape, op=op)
    except ValueError:
        raise TensorValueError(f"{op}: input of shape {i.shape} cannot be broadcast to the product's shape "
                               f"{out.shape}") from None
    return (i if beta == 1 else i * beta) + out


def addmm(self: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    return _scaled_sum(self, mat1.mm(mat2), beta, alpha, "addmm")


def addmv(self: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_sum(self, mat.mv(vec), beta, alpha, "addmv")


def baddbmm(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2)."""
    return _scaled_sum(self, batch1.bmm(batch2), beta, alpha, "baddbmm")


def addbmm(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]."""
    return _scaled_sum(self, batch1.bmm(batch2).sum(0), beta, alpha, "addbmm")


def addr(self: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    return _scaled_sum(self, vec1.outer(vec2), beta, alpha, "addr")


def tensordot(self: Tensor, other: Tensor, dims: Any = 2) -> Tensor:
    """Contract dims of a with dims of b: dims=n pairs a's last n with b's first n; dims=([i..], [j..])."""
    if isinstance(dims, int):
        if dims < 0 or dims > builtins.min(self.ndim, other.ndim):
            raise TensorValueError(f"tensordot: dims={dims} must be between 0 and the smaller ndim of shapes "
                                   f"{self.shape} and {other.shape}")
        da, db = list(range(self.ndim - dims, self.ndim)), list(range(dims))
    else:
        da_raw, db_raw = dims
        da_raw = [da_raw] if isinstance(da_raw, int) else list(da_raw)
        db_raw = [db_raw] if isinstance(db_raw, int) else list(db_raw)
        if len(da_raw) != len(db_raw):
            raise TensorValueError(f"tensordot: both dim lists must have the same length, got {da_raw} and {db_raw}")
        da = [_norm_axis("tensordot", d, self.ndim) for d in da_raw]
        db = [_norm_axis("tensordot", d, other.ndim) for d in db_raw]
    for i, j in zip(da, db):
        if self.shape[i] != other.shape[j]:
            raise TensorValueError(f"tensordot: contracted dims differ in size: dim {i} of {self.shape} and "
                                   f"dim {j} of {other.shape}")
    fa = [d for d in range(self.ndim) if d not in da]
    fb = [d for d in range(other.ndim) if d not in db]
    k = math.prod(self.shape[d] for d in da)
    a = self.permute(*fa, *da).reshape(math.prod(self.shape[d] for d in fa), k)
    b = other.permute(*db, *fb).reshape(k, math.prod(other.shape[d] for d in fb))
    return a.matmul(b).reshape(*[self.shape[d] for d in fa], *[other.shape[d] for d in fb])


def _float_input(self: Tensor, op: str, dtype: Any) -> Tensor:
    x = self.cast(dtype) if dtype is not None else self
    if not x.dtype.is_float:
        raise DTypeError(f"{op}(): input dtype should be floating point, got {x.dtype}")
    return x


def _vector_norm(x: Tensor, p: Any, dim: Any, keepdim: builtins.bool) -> Tensor:
    """(sum_i |x_i|^p)^(1/p) over dim; p = inf: max |x_i|, -inf: min |x_i|, 0: #{x_i != 0}. The gradient is 0
    where the norm is 0 (and, for 0 < p < 1, at the zero entries), like PyTorch's."""
    if p == 2:
        s = (x * x).sum(dim, keepdim)
        zero = s == 0  # sqrt's slope is infinite at 0
        return zero._where(0.0, zero._where(1.0, s).sqrt())
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == math.inf:
        return x.abs().amax(dim if dim is not None else (), keepdim)
    if p == -math.inf:
        return x.abs().amin(dim if dim is not None else (), keepdim)
    if p == 0:
        return (x != 0).cast(x.dtype).sum(dim, keepdim)
    a = x.abs()
    if p < 0:  # a zero entry makes the sum infinite and the norm 0
        return _pow_nonneg(_pow_nonneg(a, p).sum(dim, keepdim), 1.0 / p)
    nz = a != 0
    s = nz._where(_pow_nonneg(nz._where(a, 1.0), p), 0.0).sum(dim, keepdim)
    pos = s > 0
    return pos._where(_pow_nonneg(pos._where(s, 1.0), 1.0 / p), 0.0)


def _pow_nonneg(a: Tensor, e: builtins.float) -> Tensor:
    """a^e = 2^(e log2 a) for a >= 0 (0^e: 0 for e > 0, inf for e < 0), the magnitude pow computes."""
    return (a.log2() * e).exp2()


def norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False, dtype: Any = None) -> Tensor:
    """Vector p-norm over dim (all elements for None): (sum_i |x_i|^p)^(1/p); 'fro' is p = 2, inf is max |x_i|,
    -inf min |x_i|, 0 the count of non-zeros."""
    x = _float_input(self, "norm", dtype)
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise TensorValueError(f"norm(): p={p!r} is not supported (use 'fro' or a number; the nuclear norm needs "
                               f"an SVD, which tinytorch does not have)")
    return _vector_norm(x, p, dim, keepdim)


def dist(self: Tensor, other: Any, p: Any = 2) -> Tensor:
    """p-norm of the difference: ||a - b||_p."""
    return (self - other).norm(p)


@dim_aliases
def diff(self: Tensor, n: builtins.int = 1, dim: builtins.int = -1, prepend: Any = None,
         append: Any = None) -> Tensor:
    """n-th forward difference along dim: out_i = x_{i+1} - x_i (logical xor for bool), after prepend/append."""
    if self.ndim == 0:
        raise TensorValueError("diff: expected at least a 1-D tensor")
    d = _norm_axis("diff", dim, self.ndim)
    from .movement import cat

    def along(t: Any) -> Tensor:
        u = t if isinstance(t, Tensor) else Tensor(t, dtype=self.dtype, device=self.device)
        if u.ndim == 0:
            u = u.reshape(*[1] * self.ndim).expand(*[1 if i == d else s for i, s in enumerate(self.shape)])
        return u

    x = cat([t for t in (None if prepend is None else along(prepend), self,
                         None if append is None else along(append)) if t is not None], dim=d)
    if n < 0:
        raise TensorValueError(f"diff: order n must be non-negative, got {n}")
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi = x._shrink(tuple((1, m) if i == d else (0, s) for i, s in enumerate(x.shape)))
        lo = x._shrink(tuple((0, m - 1) if i == d else (0, s) for i, s in enumerate(x.shape)))
        x = hi.logical_xor(lo) if x.dtype.is_bool else hi - lo
    return x


def trace(self: Tensor) -> Tensor:
    """sum_i x_ii of a matrix (integers sum in int64)."""
    if self.ndim != 2:
        raise TensorValueError(f"trace: expected a matrix (2-D), got shape {self.shape}")
    return self.diagonal().sum()


@dim_aliases
def cross(self: Tensor, other: Tensor, dim: builtins.int | None = None) -> Tensor:
    """Cross product of 3-vectors along dim (the first dim of size 3 for None):
    (a2 b3 - a3 b2, a3 b1 - a1 b3, a1 b2 - a2 b1)."""
    if self.ndim != other.ndim:
        raise TensorValueError(f"cross: inputs must have the same number of dims, got shapes {self.shape} and "
                               f"{other.shape}")
    shape = _broadcast_shapes(self.shape, other.shape, op="cross")
    if dim is None:
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise TensorValueError(f"cross: no dim of size 3 in shapes {self.shape} and {other.shape}")
    d = _norm_axis("cross", dim, len(shape))
    if shape[d] != 3:
        raise TensorValueError(f"cross: inputs must have size 3 at dim {dim}, got shapes {self.shape} and "
                               f"{other.shape}")
    a, b = self._broadcast_to(shape, "cross"), other._broadcast_to(shape, "cross")

    def comp(t: Tensor, i: builtins.int) -> Tensor:
        return t._shrink(tuple((i, i + 1) if j == d else (0, s) for j, s in enumerate(shape)))

    from .movement import cat

    a1, a2, a3 = (comp(a, i) for i in range(3))
    b1, b2, b3 = (comp(b, i) for i in range(3))
    return cat([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], dim=d)
