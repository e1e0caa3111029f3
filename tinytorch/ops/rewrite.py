"""The one rewrite engine: patterns (`UPat`), rule tables (`PatternMatcher`), `graph_rewrite`.

Takes: a UOp graph and a table of (pattern, function) rules.
Produces: the rewritten graph, built bottom-up to a fixed point, iteratively (a chain of
100,000 nodes does not touch Python's recursion limit).

A rule's function receives the captured nodes by name (and `ctx` when it asks for it) and
returns a replacement UOp, or None to decline. Rules are bucketed by the op they match, so
a node is only tried against rules that could fire.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from ..dtype import DType
from .uop import Ops, UOp


class UPat:
    """A pattern over UOps. `name` captures the matched node; `src` matches sources in order
    (a list instead of a tuple means "in any order", for commutative ops)."""

    __slots__ = ("ops", "dtypes", "src", "arg", "name", "any_order")

    def __init__(self, op: Ops | tuple[Ops, ...] | frozenset[Ops] | set[Ops] | None = None,
                 dtype: DType | tuple[DType, ...] | None = None, src: tuple[UPat, ...] | list[UPat] | None = None,
                 arg: Any = None, name: str | None = None):
        self.ops = None if op is None else (frozenset((op,)) if isinstance(op, Ops) else frozenset(op))
        self.dtypes = None if dtype is None else (frozenset((dtype,)) if isinstance(dtype, DType) else frozenset(dtype))
        self.any_order = isinstance(src, list)
        self.src = None if src is None else tuple(src)
        self.arg, self.name = arg, name

    @staticmethod
    def var(name: str | None = None, dtype: DType | tuple[DType, ...] | None = None) -> UPat:
        return UPat(None, dtype=dtype, name=name)

    @staticmethod
    def cvar(name: str | None = None, dtype: DType | tuple[DType, ...] | None = None) -> UPat:
        return UPat(Ops.CONST, dtype=dtype, name=name)

    def match(self, u: UOp, bound: dict[str, UOp]) -> bool:
        if self.ops is not None and u.op not in self.ops:
            return False
        if self.dtypes is not None and u.dtype not in self.dtypes and u.dtype.scalar not in self.dtypes:
            return False
        if self.arg is not None and u.arg != self.arg:
            return False
        if self.name is not None:
            prev = bound.get(self.name)
            if prev is not None and prev is not u:
                return False
            bound[self.name] = u
        if self.src is None:
            return True
        if len(self.src) != len(u.src):
            return False
        if not self.any_order or len(u.src) != 2:
            return all(p.match(s, bound) for p, s in zip(self.src, u.src))
        snapshot = dict(bound)
        if self.src[0].match(u.src[0], bound) and self.src[1].match(u.src[1], bound):
            return True
        bound.clear()
        bound.update(snapshot)
        return self.src[0].match(u.src[1], bound) and self.src[1].match(u.src[0], bound)

    def __repr__(self) -> str:
        ops = "any" if self.ops is None else "|".join(sorted(o.name for o in self.ops))
        return f"UPat({ops}{', ' + self.name if self.name else ''})"


Rule = tuple[UPat, Callable[..., Any]]  # a rule returns a UOp (or, for gradients, a tuple of them) or None


class PatternMatcher:
    """An ordered table of rules. `rewrite(u)` returns the first non-None rule result."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.by_op: dict[Ops, list[tuple[UPat, Callable[..., Any], bool, str]]] = defaultdict(list)
        self.wildcard: list[tuple[UPat, Callable[..., Any], bool, str]] = []
        for pat, fn in rules:
            wants_ctx = "ctx" in inspect.signature(fn).parameters
            entry = (pat, fn, wants_ctx, _rule_name(pat, fn))
            if pat.ops is None:
                self.wildcard.append(entry)
            else:
                for op in pat.ops:
                    self.by_op[op].append(entry)
        for op in list(self.by_op):  # wildcard rules apply to every op, after specific ones
            self.by_op[op].extend(self.wildcard)

    def __add__(self, other: PatternMatcher) -> PatternMatcher:
        return PatternMatcher(self.rules + other.rules)

    def rewrite(self, u: UOp, ctx: Any = None, fired: dict[str, int] | None = None) -> Any:
        for pat, fn, wants_ctx, name in self.by_op.get(u.op, self.wildcard):
            bound: dict[str, UOp] = {}
            if not pat.match(u, bound):
                continue
            out = fn(ctx=ctx, **bound) if wants_ctx else fn(**bound)
            if out is not None and out is not u:
                if fired is not None:
                    fired[name] = fired.get(name, 0) + 1
                return out
        return None


def _rule_name(pat: UPat, fn: Callable[..., Any]) -> str:
    try:
        line = inspect.getsourcelines(fn)[1]
        return f"{fn.__module__.rsplit('.', 1)[-1]}:{line}"
    except (OSError, TypeError):
        return repr(pat)


# DEBUG=6 and VIZ read these: one entry per named pass run (name, rules fired, sizes)
REWRITE_LOG: list[tuple[str, dict[str, int], int, int]] = []
# observers of every pass (VIZ records before/after graphs): f(name, root, result, rules fired)
REWRITE_HOOKS: list[Callable[[str, UOp, UOp, dict[str, int]], None]] = []


def graph_rewrite(root: UOp, pm: PatternMatcher, ctx: Any = None, name: str = "rewrite",
                  max_steps: int = 1_000_000) -> UOp:
    """Rewrite every node bottom-up until no rule fires. Iterative; results are memoized
    per call, so shared subgraphs are rewritten once."""
    from ..helpers import DEBUG

    done: dict[UOp, UOp] = {}
    fired: dict[str, int] = {}
    stack: list[tuple[UOp, int, UOp | None]] = [(root, 0, None)]
    steps = 0
    while stack:
        n, stage, extra = stack.pop()
        if stage == 0:
            if n in done:
                continue
            stack.append((n, 1, None))
            stack.extend((s, 0, None) for s in reversed(n.src) if s not in done)
        elif stage == 1:
            if n in done:
                continue
            new_src = tuple(done[s] for s in n.src)
            nn = n if all(a is b for a, b in zip(new_src, n.src)) else UOp(n.op, n.dtype, new_src, n.arg)
            out = pm.rewrite(nn, ctx, fired)
            if out is None:
                done[n] = nn
            else:
                steps += 1
                if steps > max_steps:
                    raise RuntimeError(f"graph_rewrite({name}): no fixed point after {max_steps} rewrites")
                stack.append((n, 2, out))
                stack.append((out, 0, None))
        else:
            assert extra is not None
            done[n] = done[extra]
    result = done[root]
    if DEBUG >= 6 or _log_enabled[0]:
        before, after = len(root.toposort()), len(result.toposort())
        REWRITE_LOG.append((name, fired, before, after))
        if DEBUG >= 6:
            print(f"pass {name:<24} fired {sum(fired.values()):4d} rules {dict(sorted(fired.items()))}  "
                  f"nodes {before} -> {after}")
    for hook in REWRITE_HOOKS:
        hook(name, root, result, fired)
    return result


_log_enabled = [False]
