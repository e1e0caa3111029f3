"""The rewrite engine (UPat, PatternMatcher, graph_rewrite) and the simplification rules of
tinytorch/ops/sym.py: each rule's expected form, and a property test that simplification never
changes the value of an index expression."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytorch import dtypes
from tinytorch.ops.rewrite import PatternMatcher, UPat, graph_rewrite
from tinytorch.ops.sym import IDX, bounds, const, pm_algebraic, pm_simplify, simplify
from tinytorch.ops.uop import Ops, UOp


def rng(n: int, i: int = 0, lo: int = 0) -> UOp:
    """A loop variable taking the values lo .. n-1."""
    return UOp(Ops.RANGE, IDX, (const(lo), const(n)), i)


def add(a: UOp, b: UOp | int) -> UOp:  # raw constructors: no folding, so the rules have work to do
    return UOp(Ops.ADD, IDX, (a, const(b) if isinstance(b, int) else b))


def mul(a: UOp, b: UOp | int) -> UOp:
    return UOp(Ops.MUL, IDX, (a, const(b) if isinstance(b, int) else b))


def idiv(a: UOp, b: int) -> UOp:
    return UOp(Ops.IDIV, IDX, (a, const(b)))


def mod(a: UOp, b: int) -> UOp:
    return UOp(Ops.MOD, IDX, (a, const(b)))


def lt(a: UOp, b: UOp | int) -> UOp:
    return UOp(Ops.CMPLT, dtypes.bool, (a, const(b) if isinstance(b, int) else b))


# --- UPat ------------------------------------------------------------------------------------------
def test_upat_op_dtype_arg_and_capture() -> None:
    x = rng(8)
    e = add(x, 3)
    b: dict = {}
    assert UPat(Ops.ADD, src=(UPat.var("a"), UPat.cvar("c"))).match(e, b) and b["a"] is x and b["c"].arg == 3
    assert not UPat(Ops.MUL).match(e, {})
    assert UPat((Ops.MUL, Ops.ADD)).match(e, {})
    assert UPat(Ops.ADD, dtype=IDX).match(e, {}) and not UPat(Ops.ADD, dtype=dtypes.float32).match(e, {})
    assert UPat(Ops.CONST, arg=3).match(const(3), {}) and not UPat(Ops.CONST, arg=4).match(const(3), {})
    assert not UPat(Ops.ADD, src=(UPat.var("a"),)).match(e, {}), "source count must match"
    vec = UOp(Ops.CONST, dtypes.float32.vec(4), (), 1.0)
    assert UPat(Ops.CONST, dtype=dtypes.float32).match(vec, {}), "a vector dtype matches its scalar"


def test_upat_same_name_binds_same_node() -> None:
    x, y = rng(8, 0), rng(8, 1)
    pat = UPat(Ops.ADD, src=(UPat.var("a"), UPat.var("a")))
    assert pat.match(add(x, x), {})
    assert not pat.match(add(x, y), {})


def test_upat_list_src_matches_in_any_order() -> None:
    x = rng(8)
    pat = UPat(Ops.ADD, src=[UPat.cvar("c"), UPat.var("v")])
    b1: dict = {}
    b2: dict = {}
    assert pat.match(add(x, 5), b1) and b1["c"].arg == 5 and b1["v"] is x
    assert pat.match(UOp(Ops.ADD, IDX, (const(5), x)), b2) and b2["c"].arg == 5 and b2["v"] is x
    assert not UPat(Ops.ADD, src=(UPat.cvar("c"), UPat.var("v"))).match(add(x, 5), {}), "a tuple keeps order"


# --- PatternMatcher and graph_rewrite ---------------------------------------------------------------
def test_pattern_matcher_first_non_none_rule_wins() -> None:
    x = rng(4)
    seen = []
    pm = PatternMatcher([
        (UPat(Ops.ADD, name="n"), lambda n: seen.append("decline")),  # returns None: the next rule is tried
        (UPat(Ops.ADD, src=(UPat.var("a"), UPat.cvar("c"))), lambda a, c: mul(a, c.arg)),
        (UPat(Ops.ADD, name="n"), lambda n: const(-1)),
    ])
    out = pm.rewrite(add(x, 2))
    assert seen == ["decline"] and out is mul(x, 2)
    assert pm.rewrite(mul(x, 2)) is None, "no rule for MUL"


def test_pattern_matcher_wildcard_and_ctx_and_add() -> None:
    x = rng(4)
    ctx = {"calls": 0}

    def count(n: UOp, ctx: dict) -> None:
        ctx["calls"] += 1
        return None

    pm = PatternMatcher([(UPat(name="n"), count)]) + PatternMatcher([(UPat(Ops.MOD, name="n"), lambda n: const(0))])
    assert pm.rewrite(mod(x, 3), ctx) is const(0)
    assert ctx["calls"] == 0, "an op's own rules come before the wildcard rules"
    assert pm.rewrite(add(x, 1), ctx) is None
    assert ctx["calls"] == 1, "the wildcard rule runs on ops that have no rule of their own (ctx passed in)"


def test_graph_rewrite_reaches_a_fixed_point_bottom_up() -> None:
    x = rng(10)
    e = x
    for c in (1, 2, 3, 4):
        e = add(e, c)  # ((((x+1)+2)+3)+4)
    out = simplify(e)
    assert out is add(x, 10)
    nested = mul(mul(mul(x, 2), 3), add(const(1), const(1)))  # constant-folded source feeds the next rule
    assert simplify(nested) is mul(x, 12)


def test_graph_rewrite_without_fixed_point_raises() -> None:
    x = rng(4)
    flip = PatternMatcher([
        (UPat(Ops.ADD, src=(UPat.var("a"), UPat.var("b"))), lambda a, b: UOp(Ops.MUL, IDX, (a, b))),
        (UPat(Ops.MUL, src=(UPat.var("a"), UPat.var("b"))), lambda a, b: UOp(Ops.ADD, IDX, (a, b))),
    ])
    with pytest.raises(RuntimeError, match="pingpong.*fixed point"):
        graph_rewrite(add(x, x), flip, name="pingpong", max_steps=1000)


def test_graph_rewrite_leaves_untouched_graphs_identical() -> None:
    x, y = rng(4, 0), rng(5, 1)
    e = add(mul(x, 5), y)
    assert graph_rewrite(e, pm_simplify) is e


# --- index simplification rules (each one's expected form) ------------------------------------------
r10, r4, r3 = rng(10, 0), rng(4, 1), rng(3, 2)
SIMPLIFY_CASES = [
    ("const_add", add(const(2), const(3)), const(5)),
    ("const_mul", mul(const(2), const(3)), const(6)),
    ("add_zero", add(r10, 0), r10),
    ("add_zero_left", UOp(Ops.ADD, IDX, (const(0), r10)), r10),
    ("mul_one", mul(r10, 1), r10),
    ("mul_zero", mul(r10, 0), const(0)),
    ("add_chain", add(add(r10, 1), 2), add(r10, 3)),
    ("mul_chain", mul(mul(r10, 2), 3), mul(r10, 6)),
    ("distribute", mul(add(r10, 2), 3), add(mul(r10, 3), 6)),
    ("div_in_range", idiv(r10, 16), const(0)),
    ("mod_in_range", mod(r10, 16), r10),
    ("div_split", idiv(add(mul(r10, 4), r4), 4), r10),
    ("mod_split", mod(add(mul(r10, 4), r4), 4), r4),
    ("div_multiple", idiv(mul(r10, 8), 4), mul(r10, 2)),
    ("mod_multiple", mod(mul(r10, 8), 4), const(0)),
    ("unravel_ravel", add(mul(idiv(add(mul(r10, 3), r3), 3), 3), mod(add(mul(r10, 3), r3), 3)), add(mul(r10, 3), r3)),
    ("lt_true", lt(r10, 10), const(True)),
    ("lt_false", lt(r10, 0), const(False)),
    ("lt_unknown", lt(r10, 5), lt(r10, 5)),
    ("and_true", UOp(Ops.AND, dtypes.bool, (lt(r10, 5), const(True))), lt(r10, 5)),
    ("and_false", UOp(Ops.AND, dtypes.bool, (lt(r10, 5), const(False))), const(False)),
    ("and_self", UOp(Ops.AND, dtypes.bool, (lt(r10, 5), lt(r10, 5))), lt(r10, 5)),
    ("div_not_folded_when_negative", idiv(add(mul(r10, 4), rng(4, 5, lo=-2)), 4),
     idiv(add(mul(r10, 4), rng(4, 5, lo=-2)), 4)),
]


@pytest.mark.parametrize("name,expr,want", SIMPLIFY_CASES, ids=[c[0] for c in SIMPLIFY_CASES])
def test_simplify_rule(name: str, expr: UOp, want: UOp) -> None:
    got = simplify(expr)
    assert got is want, f"{name}: simplify gave\n{got}\nexpected\n{want}"


def test_bounds() -> None:
    assert bounds(r10) == (0, 9)
    assert bounds(add(mul(r10, 4), r4)) == (0, 39)
    assert bounds(idiv(r10, 3)) == (0, 3) and bounds(mod(r10, 3)) == (0, 2) and bounds(mod(r4, 10)) == (0, 3)
    assert bounds(lt(r10, 3)) == (0, 1)


# --- the property: simplification preserves values ---------------------------------------------------
def evaluate(u: UOp, env: dict[int, int]) -> int:
    """Value of an index expression (C semantics: truncating division) for loop values env[id]."""
    from tinytorch.ops.uop import toposort

    vals: dict[int, int] = {}
    for n in toposort([u]):
        s = [vals[id(x)] for x in n.src]
        if n.op is Ops.CONST:
            v = n.arg
        elif n.op is Ops.RANGE:
            v = env[n.arg]
        elif n.op is Ops.ADD:
            v = s[0] + s[1]
        elif n.op is Ops.MUL:
            v = s[0] * s[1]
        elif n.op is Ops.IDIV:
            v = abs(s[0]) // abs(s[1]) * (1 if (s[0] >= 0) == (s[1] > 0) else -1)
        elif n.op is Ops.MOD:
            v = s[0] - s[1] * (abs(s[0]) // abs(s[1]) * (1 if (s[0] >= 0) == (s[1] > 0) else -1))
        elif n.op is Ops.CMPLT:
            v = s[0] < s[1]
        elif n.op is Ops.AND:
            v = bool(s[0]) and bool(s[1])
        else:
            raise NotImplementedError(n.op)
        vals[id(n)] = v
    return vals[id(u)]


SIZES = (3, 4, 5)  # loop i runs over range(SIZES[i])


@st.composite
def index_exprs(draw: st.DrawFn, depth: int = 4) -> UOp:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            i = draw(st.integers(0, len(SIZES) - 1))
            return rng(SIZES[i], i)
        return const(draw(st.integers(0, 12)))
    op = draw(st.sampled_from(["add", "mul", "idiv", "mod", "add", "mul"]))
    a = draw(index_exprs(depth - 1))
    if op == "add":
        return add(a, draw(index_exprs(depth - 1)))
    if op == "mul":
        return mul(a, draw(st.integers(0, 6)) if draw(st.booleans()) else draw(index_exprs(depth - 1)))
    c = draw(st.integers(1, 8))
    return idiv(a, c) if op == "idiv" else mod(a, c)


@given(expr=index_exprs(), cmp=st.one_of(st.none(), st.integers(-2, 30)))
def test_simplify_preserves_value(expr: UOp, cmp: int | None) -> None:
    e = expr if cmp is None else lt(expr, cmp)
    s = simplify(e)
    for vals in itertools.product(*[range(n) for n in SIZES]):
        env = dict(enumerate(vals))
        assert evaluate(s, env) == evaluate(e, env), f"simplify changed the value at {env}:\n{e}\n->\n{s}"
    lo, hi = bounds(expr)
    seen = [evaluate(expr, dict(enumerate(v))) for v in itertools.product(*[range(n) for n in SIZES])]
    assert lo <= min(seen) and max(seen) <= hi, f"bounds {lo, hi} do not contain {min(seen), max(seen)}"


# --- algebraic rules on kernel values -------------------------------------------------------------------
def test_algebraic_rules_are_exact() -> None:
    x = UOp(Ops.DEFINE_VAR, dtypes.float32, (), ("x", 0, 1))
    i = UOp(Ops.DEFINE_VAR, dtypes.int32, (), ("i", 0, 1))
    f = lambda v, dt=dtypes.float32: UOp(Ops.CONST, dt, (), v)  # noqa: E731
    rw = lambda u: graph_rewrite(u, pm_algebraic)  # noqa: E731
    assert rw(UOp(Ops.MUL, dtypes.float32, (x, f(1.0)))) is x
    assert rw(UOp(Ops.ADD, dtypes.float32, (x, f(-0.0)))) is x, "x + (-0.0) == x for every x"
    plus_zero = UOp(Ops.ADD, dtypes.float32, (x, f(0.0)))
    assert rw(plus_zero) is plus_zero, "x + 0.0 is not x when x = -0.0: must not fold"
    assert rw(UOp(Ops.ADD, dtypes.int32, (i, f(0, dtypes.int32)))) is i
    assert rw(UOp(Ops.NEG, dtypes.float32, (UOp(Ops.NEG, dtypes.float32, (x,)),))) is x
    assert rw(UOp(Ops.CAST, dtypes.float32, (x,))) is x
    keep = UOp(Ops.CAST, dtypes.float16, (x,))
    assert rw(keep) is keep
    times2 = UOp(Ops.MUL, dtypes.float32, (x, f(2.0)))
    assert rw(times2) is times2
