"""The intern table of graph nodes (`UOp`, `tinytorch/ops/uop.py`).

Takes: UOps built straight from ops, dtypes, sources and arguments.
Produces: pass/fail on the table's promises: equal fields give the one live node, different fields never share
one (floats keyed by their bits), a node built again after the first died is new and right, dead nodes neither
stay in the table nor keep their buffers, deep chains free without recursion, threads agree on one node.
"""

from __future__ import annotations

import gc
import math
import struct
import sys
import threading
import weakref
from typing import Any

import pytest

from tinytorch.dtype import dtypes
from tinytorch.ops import uop as U
from tinytorch.ops.uop import Ops, UOp
from tinytorch.runtime.buffer import Buffer

f32 = dtypes.float32


def _live_entries() -> int:
    """Entries of the intern table whose node is alive."""
    return sum(r() is not None for r in list(U._cache.values()))


def _check_fields(u: UOp, op: Ops, dtype: Any, src: tuple[UOp, ...], arg: Any) -> None:
    assert u.op is op and u.dtype is dtype and len(u.src) == len(src)
    assert all(a is b for a, b in zip(u.src, src))
    assert u.arg is arg or u.arg == arg or (isinstance(arg, float) and math.isnan(arg) and math.isnan(u.arg))


def test_equal_fields_give_one_node_and_any_difference_another() -> None:
    a, b = UOp.const(f32, 1.0), UOp.const(f32, 2.0)
    x = UOp(Ops.ADD, f32, (a, b))
    assert UOp(Ops.ADD, f32, (a, b)) is x
    assert UOp(Ops.ADD, f32, tuple([a, b])) is x  # an equal source tuple that is another object
    fields = [(Ops.ADD, f32, (b, a), None), (Ops.MUL, f32, (a, b), None), (Ops.ADD, dtypes.float16, (a, b), None),
              (Ops.ADD, f32, (a, b), 0), (Ops.ADD, f32, (a,), None), (Ops.ADD, f32, (a, b, b), None)]
    others = [UOp(*f) for f in fields]
    assert len({id(u) for u in [x, *others]}) == 1 + len(fields)
    for u, f in zip(others, fields):
        _check_fields(u, *f)
        assert UOp(*f) is u


def test_float_arguments_are_keyed_by_their_bits() -> None:
    zero, neg_zero = UOp.const(f32, 0.0), UOp.const(f32, -0.0)
    assert zero is not neg_zero
    assert math.copysign(1.0, zero.arg) == 1.0 and math.copysign(1.0, neg_zero.arg) == -1.0
    nan = UOp.const(f32, float("nan"))
    assert UOp.const(f32, float("nan")) is nan and math.isnan(nan.arg)  # NaN finds itself
    other_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    assert UOp.const(f32, other_nan) is not nan  # another NaN payload is another constant
    as_int, as_float = UOp.const(f32, 1), UOp.const(f32, 1.0)
    assert as_int is not as_float and type(as_int.arg) is int and type(as_float.arg) is float
    # the plan cache of the realizer reads op, dtype and the keyed argument at _key[0], [1], [3]
    for u in (zero, neg_zero, nan, as_int, as_float):
        assert u._key[0] is u.op and u._key[1] is u.dtype
    assert zero._key[3] != neg_zero._key[3] and as_int._key[3] != as_float._key[3]
    assert nan._key[3] == UOp.const(f32, float("nan"))._key[3]


def test_a_node_built_again_after_the_first_died_is_new_and_right() -> None:
    c = UOp.const(f32, 3.0)
    x = UOp(Ops.ADD, f32, (c, c))
    dead, key = weakref.ref(x), x._key
    del x
    assert dead() is None and key not in U._cache
    for i in range(3000):  # short-lived sources: their addresses come back for the next ones
        s = UOp(Ops.NEG, f32, (UOp.const(f32, float(i % 7)),))
        y = UOp(Ops.MUL, f32, (s, c))
        assert y.src[0] is s and y.src[1] is c and s.src[0].arg == float(i % 7)
        del s, y
    again = UOp(Ops.ADD, f32, (c, c))
    _check_fields(again, Ops.ADD, f32, (c, c), None)
    assert again.shape == () and again._realized is None and again._tag is None


def test_a_dropped_buffer_node_releases_its_buffer_at_once() -> None:
    buf = Buffer("C", 4, f32)
    kept = weakref.ref(buf)
    u = UOp(Ops.BUFFER, f32, (), (buf, 0))
    y = UOp(Ops.ADD, f32, (u, u))
    assert u.shape == (4,) and y.shape == (4,)
    del buf, u, y
    assert kept() is None  # by reference counts alone: the table holds no key of a dead node


def test_table_stays_near_the_live_count_after_200k_nodes_come_and_go() -> None:
    gc.collect()
    kept = []
    for i in range(2000):  # 2000 chains of 100 nodes; every 100th chain stays alive
        u = UOp.const(f32, float(i))
        for _ in range(100):
            u = UOp(Ops.ADD, f32, (u, u))
        if i % 100 == 0:
            kept.append(u)
    live = _live_entries()
    assert live >= 20 * 101
    assert len(U._cache) <= 2 * live + 1024
    del kept, u
    assert len(U._cache) <= 2 * _live_entries() + 1024


def test_a_deep_chain_frees_without_recursion(monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", errors.append)  # an error in __del__ is reported here
    u = UOp(Ops.NEG, f32, (UOp.const(f32, 5.0),))
    first = weakref.ref(u)
    for _ in range(20_000):
        u = UOp(Ops.NEG, f32, (u,))
    del u
    assert first() is None and errors == []
    assert len(U._cache) <= 2 * _live_entries() + 1024


def test_threads_building_the_same_nodes_get_one_object() -> None:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: lookups and stores interleave
    n, threads = 2000, 4
    start = threading.Barrier(threads)
    got: list[list[UOp]] = [[] for _ in range(threads)]
    c = UOp.const(f32, 1.0)

    def build(t: int) -> None:
        start.wait()
        got[t] = [UOp(Ops.ADD, f32, (c, UOp.const(f32, float(i) + 0.5))) for i in range(n)]

    try:
        workers = [threading.Thread(target=build, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    for i in range(n):
        first = got[0][i]
        assert all(g[i] is first for g in got), i
        _check_fields(first.src[1], Ops.CONST, f32, (), float(i) + 0.5)
        assert UOp(Ops.ADD, f32, (c, first.src[1])) is first
