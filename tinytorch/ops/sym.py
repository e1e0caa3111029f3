"""Index arithmetic and algebraic simplification, as rewrite rules.

Takes: integer expressions over loop variables (RANGE, DEFINE_VAR) built while lowering
views, and ALU graphs in kernels.
Produces: smaller equivalent expressions. The smart constructors (`add`, `mul`, ...) fold
constants as they build; `pm_simplify` holds the rules that need bounds (`vmin`/`vmax`) or
look deeper, and runs as the named pass "simplify".
"""

from __future__ import annotations

import weakref
from typing import Any

from ..dtype import dtypes
from .rewrite import PatternMatcher, UPat, graph_rewrite
from .uop import Ops, UOp

IDX = dtypes.index


def const(v: Any, dtype: Any = None) -> UOp:
    dt = dtype or (dtypes.bool if isinstance(v, bool) else IDX)
    return UOp(Ops.CONST, dt, (), v)


def _c(u: UOp) -> Any:
    return u.arg if u.op is Ops.CONST else None


def add(a: UOp, b: UOp) -> UOp:
    ca, cb = _c(a), _c(b)
    if ca is not None and cb is not None:
        return const(ca + cb)
    if ca == 0:
        return b
    if cb == 0:
        return a
    if ca is not None:  # constants on the right
        a, b = b, a
    return UOp(Ops.ADD, IDX, (a, b))


def add_all(xs: list[UOp]) -> UOp:
    out = const(0)
    total = 0
    for x in xs:
        if x.op is Ops.CONST:
            total += x.arg
        else:
            out = add(out, x)
    return add(out, const(total))


def mul(a: UOp, b: UOp | int) -> UOp:
    if isinstance(b, int):
        b = const(b)
    ca, cb = _c(a), _c(b)
    if ca is not None and cb is not None:
        return const(ca * cb)
    if ca is not None:
        a, b, ca, cb = b, a, cb, ca
    if cb == 0:
        return const(0)
    if cb == 1:
        return a
    return UOp(Ops.MUL, IDX, (a, b))


def idiv(a: UOp, b: int) -> UOp:
    if b == 1:
        return a
    if a.op is Ops.CONST:
        return const(a.arg // b)
    return UOp(Ops.IDIV, IDX, (a, const(b)))


def mod(a: UOp, b: int) -> UOp:
    if b == 1:
        return const(0)
    if a.op is Ops.CONST:
        return const(a.arg % b)
    return UOp(Ops.MOD, IDX, (a, const(b)))


def lt(a: UOp, b: UOp) -> UOp:
    if a.op is Ops.CONST and b.op is Ops.CONST:
        return const(bool(a.arg < b.arg))
    return UOp(Ops.CMPLT, dtypes.bool, (a, b))


def and_(a: UOp | None, b: UOp | None) -> UOp | None:
    if a is None:
        return b
    if b is None:
        return a
    if _c(a) is True:
        return b
    if _c(b) is True:
        return a
    if _c(a) is False or _c(b) is False:
        return const(False)
    return UOp(Ops.AND, dtypes.bool, (a, b))


def unravel(index: UOp, shape: tuple[int, ...]) -> list[UOp]:
    """Row-major coordinates of a linear index in `shape`."""
    out = []
    acc = 1
    for d in reversed(shape):
        out.append(const(0) if d == 1 else mod(idiv(index, acc), d))
        acc *= d
    return list(reversed(out))


# bounds --------------------------------------------------------------------------------
_bounds: weakref.WeakKeyDictionary[UOp, tuple[int, int]] = weakref.WeakKeyDictionary()


def bounds(u: UOp) -> tuple[int, int]:
    """Smallest and largest value an index expression can take (conservative)."""
    got = _bounds.get(u)
    if got is not None:
        return got
    from .uop import toposort

    for n in toposort([u], stop=lambda x: x in _bounds):
        if n in _bounds:
            continue
        _bounds[n] = _bounds_of(n)
    return _bounds[u]


_BIG = 1 << 62


def _bounds_of(u: UOp) -> tuple[int, int]:
    s = [_bounds.get(x, (-_BIG, _BIG)) for x in u.src]
    if u.op is Ops.CONST:
        return (int(u.arg), int(u.arg)) if not isinstance(u.arg, float) else (-_BIG, _BIG)
    if u.op is Ops.RANGE:
        return s[0][0], s[1][1] - 1
    if u.op is Ops.DEFINE_VAR:
        return u.arg[1], u.arg[2]
    if u.op is Ops.ADD:
        return s[0][0] + s[1][0], s[0][1] + s[1][1]
    if u.op is Ops.MUL:
        c = [a * b for a in s[0] for b in s[1]]
        return min(c), max(c)
    if u.op is Ops.IDIV and s[1][0] == s[1][1] and s[1][0] > 0 and s[0][0] >= 0:
        return s[0][0] // s[1][0], s[0][1] // s[1][0]
    if u.op is Ops.MOD and s[1][0] == s[1][1] and s[1][0] > 0 and s[0][0] >= 0:
        return (s[0][0], s[0][1]) if s[0][1] < s[1][0] else (0, s[1][0] - 1)
    if u.op in (Ops.CMPLT, Ops.CMPNE, Ops.AND, Ops.OR):
        return 0, 1
    if u.op is Ops.WHERE:
        return min(s[1][0], s[2][0]), max(s[1][1], s[2][1])
    return -_BIG, _BIG


def linear_terms(x: UOp) -> tuple[list[tuple[UOp, int]], int]:
    """x as a sum of (term, coefficient) pairs plus a constant (ADD trees of MULs by constants)."""
    terms: list[tuple[UOp, int]] = []
    const_part = 0
    stack: list[tuple[UOp, int]] = [(x, 1)]
    while stack:
        u, c = stack.pop()
        if u.op is Ops.CONST:
            const_part += c * int(u.arg)
        elif u.op is Ops.ADD:
            stack.extend((s, c) for s in u.src)
        elif u.op is Ops.MUL and u.src[1].op is Ops.CONST:
            stack.append((u.src[0], c * int(u.src[1].arg)))
        else:
            terms.append((u, c))
    return terms, const_part


def _split(x: UOp, c: int) -> tuple[UOp, UOp, tuple[int, int]] | None:
    """x = c*q + r with q, r sums of x's terms (each coefficient a split into c*(a//c) + a%c):
    q, r and the bounds of r; None when nothing splits off."""
    terms, k = linear_terms(x)
    q_terms, r_terms = [], []
    for t, a in terms:
        if a // c:
            q_terms.append(mul(t, a // c))
        if a % c:
            r_terms.append(mul(t, a % c))
    if not q_terms and k // c == 0:
        return None
    r = add_all([*r_terms, const(k % c)])
    return add_all([*q_terms, const(k // c)]), r, bounds(r)


def _div_fold(x: UOp, c: UOp) -> UOp | None:
    """x // c by bounds: 0 when 0 <= x < c; with x = c*q + r, q + r//c where r//c is one value
    over all of r's range (what makes unravelled multi-view indices collapse again)."""
    lo, hi = bounds(x)
    if lo >= 0 and hi < c.arg:
        return const(0)
    if lo >= 0 and lo // c.arg == hi // c.arg:
        return const(lo // c.arg)
    sp = _split(x, c.arg)
    if sp is None:
        return None
    q, r, (rlo, rhi) = sp
    if rlo >= 0 and rlo // c.arg == rhi // c.arg and (q.op is not Ops.CONST or r.op is Ops.CONST):
        return add(q, const(rlo // c.arg))
    if rlo >= 0 and bounds(q)[0] >= 0 and r is not x:  # (x - r) // c == q exactly; keep r // c for the rest
        return add(q, idiv(r, c.arg)) if r.op is not Ops.CONST or r.arg else q
    return None


def _mod_fold(x: UOp, c: UOp) -> UOp | None:
    """x % c by bounds: x when 0 <= x < c; with x = c*q + r (r >= 0), r % c."""
    lo, hi = bounds(x)
    if lo >= 0 and hi < c.arg:
        return x
    if lo >= 0 and lo // c.arg == hi // c.arg:
        return add(x, const(-(lo // c.arg) * c.arg))
    sp = _split(x, c.arg)
    if sp is None:
        return None
    q, r, (rlo, rhi) = sp
    if rlo >= 0 and bounds(q)[0] >= 0 and r is not x:
        return mod(r, c.arg) if rhi >= c.arg else r
    return None


def _cmp_fold(a: UOp, b: UOp) -> UOp | None:
    """a < b decided by bounds."""
    (alo, ahi), (blo, bhi) = bounds(a), bounds(b)
    if ahi < blo:
        return const(True)
    if alo >= bhi:
        return const(False)
    return None


_idx = UPat.var("x", dtype=IDX)
pm_simplify = PatternMatcher([
    # constant folding of index arithmetic
    (UPat(Ops.ADD, src=(UPat.cvar("a", IDX), UPat.cvar("b", IDX))), lambda a, b: const(a.arg + b.arg)),
    (UPat(Ops.MUL, src=(UPat.cvar("a", IDX), UPat.cvar("b", IDX))), lambda a, b: const(a.arg * b.arg)),
    (UPat(Ops.ADD, src=[_idx, UPat(Ops.CONST, arg=0)]), lambda x: x),
    (UPat(Ops.MUL, src=[_idx, UPat(Ops.CONST, arg=1)]), lambda x: x),
    (UPat(Ops.MUL, src=[_idx, UPat(Ops.CONST, arg=0)]), lambda x: const(0)),
    # (x + c1) * c2 -> x * c2 + c1 * c2: keeps indices in the form base + offset
    (UPat(Ops.MUL, src=(UPat(Ops.ADD, src=(_idx, UPat.cvar("c1"))), UPat.cvar("c2"))),
     lambda x, c1, c2: add(mul(x, c2.arg), const(c1.arg * c2.arg))),
    # (x + c1) + c2 -> x + (c1 + c2);  (x * c1) * c2 -> x * (c1 * c2)
    (UPat(Ops.ADD, src=(UPat(Ops.ADD, src=(_idx, UPat.cvar("c1"))), UPat.cvar("c2"))),
     lambda x, c1, c2: add(x, const(c1.arg + c2.arg))),
    (UPat(Ops.MUL, src=(UPat(Ops.MUL, src=(_idx, UPat.cvar("c1"))), UPat.cvar("c2"))),
     lambda x, c1, c2: mul(x, c1.arg * c2.arg)),
    # div and mod by bounds: what makes unravelled multi-view indices collapse again
    (UPat(Ops.IDIV, src=(_idx, UPat.cvar("c"))), _div_fold),
    (UPat(Ops.MOD, src=(_idx, UPat.cvar("c"))), _mod_fold),
    (UPat(Ops.CMPLT, src=(UPat.var("a", IDX), UPat.var("b", IDX))), _cmp_fold),
    # a clamp whose condition the bounds decided
    (UPat(Ops.WHERE, src=(UPat(Ops.CONST, arg=True), UPat.var("a"), UPat.var("b"))), lambda a, b: a),
    (UPat(Ops.WHERE, src=(UPat(Ops.CONST, arg=False), UPat.var("a"), UPat.var("b"))), lambda a, b: b),
    # boolean identities in validity masks
    (UPat(Ops.AND, src=[UPat.var("x"), UPat(Ops.CONST, arg=True)]), lambda x: x),
    (UPat(Ops.AND, src=[UPat.var("x"), UPat(Ops.CONST, arg=False)]), lambda x: const(False)),
    (UPat(Ops.AND, src=(UPat.var("x"), UPat.var("x"))), lambda x: x),
])


def simplify(u: UOp) -> UOp:
    return graph_rewrite(u, pm_simplify, name="simplify")


def _is_const(u: UOp, v: Any) -> bool:
    """A constant equal to v everywhere (in a kernel AST: an unmasked CONST)."""
    if u.op is not Ops.CONST or type(u.arg) is bool or u.arg != v:
        return False
    return not u.src or (u.src[0].arg.view.mask is None and len(u.src[0].arg.views) == 1)


# algebra on kernel values; only rewrites that are exact for every input (NaN and -0.0 too)
pm_algebraic = PatternMatcher([
    (UPat(Ops.MUL, src=[UPat.var("x"), UPat(Ops.CONST, name="c")]), lambda x, c: x if _is_const(c, 1) and
     c.dtype == x.dtype else None),
    (UPat(Ops.ADD, src=[UPat.var("x"), UPat(Ops.CONST, name="c")]), lambda x, c: x if _is_const(c, 0) and
     c.dtype == x.dtype and (not x.dtype.is_float or (c.arg == 0 and str(c.arg).startswith("-"))) else None),
    (UPat(Ops.NEG, src=(UPat(Ops.NEG, src=(UPat.var("x"),)),)), lambda x: x),
    # (a half-to-half cast is kept: kernels compute half values in float32, and it rounds them to half)
    (UPat(Ops.CAST, name="c", src=(UPat.var("x"),)), lambda c, x: x if c.dtype == x.dtype and c.dtype.scalar
     not in (dtypes.float16, dtypes.bfloat16) else None),
])
