"""einsum: Einstein summation over tensors described by a subscript string ("ij,jk->ik").

Takes: the equation (implicit or explicit output, '...' for broadcast dims, a letter repeated in one
operand for a diagonal or trace) and the operands.
Produces: one lazy expression: each operand's repeated letters become diagonals, every operand is
permuted and reshaped onto the common list of letters (size 1 where it lacks one), the operands are
multiplied with broadcasting and the letters absent from the output are summed, so the whole
contraction fuses into the kernels of a product and a sum (and differentiates through them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import TensorValueError

if TYPE_CHECKING:
    from .core import Tensor


def _labels(sub: str, ndim: int, n_ell: int, op: str) -> list[str]:
    """The label of each dim of an operand: its letters, with '...' expanded to right-aligned ellipsis labels."""
    if "..." in sub:
        head, _, tail = sub.partition("...")
        if "." in head or "." in tail:
            raise TensorValueError(f"{op}: found more than one ellipsis or a stray '.' in subscript {sub!r}")
        k = ndim - len(head) - len(tail)
        if k < 0:
            raise TensorValueError(f"{op}: the subscript {sub!r} has more letters than the operand has dims ({ndim})")
        return list(head) + [f"...{n_ell - k + i}" for i in range(k)] + list(tail)
    if "." in sub:
        raise TensorValueError(f"{op}: invalid subscript {sub!r} ('.' only as part of '...')")
    if len(sub) != ndim:
        raise TensorValueError(f"{op}: the number of subscripts in the equation ({len(sub)}) does not match the "
                               f"number of dimensions ({ndim}) for operand {sub!r}")
    return list(sub)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sum over the letters missing from the output of the product of the operands indexed by their letters."""
    op = "einsum()"
    ops: list[Tensor] = list(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else list(
        operands)
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(ops):
        raise TensorValueError(f"{op}: more operands were provided than specified in the equation" if len(ops) > len(
            subs) else f"{op}: fewer operands were provided than specified in the equation")
    for s in subs + [rhs]:
        bad = [c for c in s if not (c.isalpha() or c == ".")]
        if bad:
            raise TensorValueError(f"{op}: invalid subscript given at index {eq.index(bad[0])} in the equation string, "
                                   f"subscripts must be in [a-zA-Z]")
    n_ell = max((t.ndim - len(s.replace("...", "")) for s, t in zip(subs, ops) if "..." in s), default=0)
    labels = [_labels(s, t.ndim, n_ell, op) for s, t in zip(subs, ops)]
    ell = [f"...{i}" for i in range(n_ell)]
    if arrow:
        out = _labels(rhs, len(rhs.replace("...", "")) + n_ell, n_ell, op) if "..." in rhs else list(rhs)
        for c in out:
            if out.count(c) > 1:
                raise TensorValueError(f"{op}: output subscript {c} appears more than once in the output")
            if not any(c in lab for lab in labels):
                raise TensorValueError(f"{op}: output subscript {c} does not appear in the equation for any input "
                                       f"operand")
    else:
        counts: dict[str, int] = {}
        for lab in labels:
            for c in lab:
                counts[c] = counts.get(c, 0) + 1
        out = [e for e in ell if e in counts] + sorted(c for c, k in counts.items() if k == 1 and not c.startswith("."))
    # repeated letters within an operand: take the diagonal (it moves to the last dim)
    xs: list[Tensor] = []
    for t, lab in zip(ops, labels):
        lab = list(lab)
        while True:
            rep = next((c for c in lab if lab.count(c) > 1), None)
            if rep is None:
                break
            i = lab.index(rep)
            j = lab.index(rep, i + 1)
            if t.shape[i] != t.shape[j]:
                raise TensorValueError(f"{op}: subscript {rep} is repeated for operand {len(xs)} but the sizes don't "
                                       f"match, {t.shape[i]} != {t.shape[j]}")
            t = t.diagonal(0, i, j)
            lab = [c for k, c in enumerate(lab) if k not in (i, j)] + [rep]
        xs.append(t)
        labels[len(xs) - 1] = lab
    summed = [c for lab in labels for c in lab if c not in out]
    order = out + list(dict.fromkeys(summed))
    sizes: dict[str, int] = {}
    for k, (t, lab) in enumerate(zip(xs, labels)):
        for c, n in zip(lab, t.shape):
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise TensorValueError(f"{op}: operands do not broadcast with remapped shapes (original->remapped): "
                                       f"subscript {c} has size {sizes[c]} in an earlier operand and {n} in operand "
                                       f"{k} of shape {tuple(t.shape)}")
            sizes[c] = n if n != 1 else sizes.get(c, 1)
    prod: Tensor | None = None
    for t, lab in zip(xs, labels):
        perm = sorted(range(len(lab)), key=lambda i: order.index(lab[i]))
        t = t.permute(*perm) if lab else t
        t = t.reshape(*[t.shape[[lab[i] for i in perm].index(c)] if c in lab else 1 for c in order])
        prod = t if prod is None else prod * t
    assert prod is not None
    prod = prod.expand(*[sizes.get(c, 1) for c in order]) if prod.shape != tuple(sizes.get(c, 1) for c in order) \
        else prod
    n_out = len(out)
    if len(order) == n_out:
        return prod
    return prod.sum(tuple(range(n_out, len(order))), dtype=None if prod.dtype.is_bool else prod.dtype)
