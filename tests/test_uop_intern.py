"""The intern table of graph nodes (`UOp`, `tinytorch/ops/uop.py`), built by the Python `UOp.__new__` and by the C
one of engine/walk_c.py (every test runs with each; one test mixes them).

Takes: UOps built straight from ops, dtypes, sources and arguments.
Produces: pass/fail on the table's promises: equal fields give the one live node, different fields never share
one (floats keyed by their bits), a node built again after the first died is new and right, dead nodes neither
stay in the table nor keep their buffers, deep chains free without recursion, threads agree on one node.
"""

from __future__ import annotations

import gc
import math
import os
import struct
import sys
import threading
import tracemalloc
import weakref
from typing import Any

import pytest

from tinytorch.dtype import dtypes
from tinytorch.engine import walk_c
from tinytorch.ops import uop as U
from tinytorch.ops.uop import Ops, UOp
from tinytorch.runtime.buffer import Buffer

f32 = dtypes.float32


def _c_methods() -> list[Any]:
    """The C __new__ and __del__ (built and installed once); skipped only when this interpreter has no Python.h."""
    if not os.path.exists(walk_c.headers()):
        pytest.skip(f"no {walk_c.headers()}: the C construction cannot be built")
    if not walk_c.NODE_METHODS:
        fn, why = walk_c.build()
        assert fn is not None, why
    assert len(walk_c.NODE_METHODS) == 2
    return walk_c.NODE_METHODS


@pytest.fixture(autouse=True, params=["python", "c"])
def construction(request: pytest.FixtureRequest) -> Any:
    """Build nodes with the Python or the C methods during the test; the ones installed before come back after."""
    new, delete = (U.py_new, U.py_del) if request.param == "python" else _c_methods()
    saved = UOp.__dict__["__new__"], UOp.__dict__["__del__"]
    UOp.__new__ = staticmethod(new)  # type: ignore[method-assign,assignment]
    UOp.__del__ = delete  # type: ignore[method-assign]
    try:
        yield request.param
    finally:
        UOp.__new__, UOp.__del__ = saved  # type: ignore[method-assign]


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


def test_shapes_and_the_calls_the_c_path_hands_to_python(construction: str) -> None:
    a, b = UOp.const(f32, 1.0), UOp.const(f32, 2.0)
    class Shape(tuple):  # type: ignore[type-arg]
        pass

    fresh = UOp.const(f32, -271.828)  # (a source no other test reshapes: the node below is built here)
    r = UOp(Ops.RESHAPE, f32, (fresh,), Shape((1, 1)))  # the argument as a shape: a tuple subclass becomes a tuple
    assert r.shape == (1, 1) and type(r.shape) is tuple and type(r.arg) is Shape
    e = UOp(Ops.EXPAND, f32, (r,), (3, 4))
    assert e.shape == (3, 4) and UOp(Ops.NEG, f32, (e,)).shape == (3, 4)  # the last source's shape
    assert UOp(Ops.PERMUTE, f32, (e,), (1, 0)).shape == (4, 3)  # a rule that is a function
    assert UOp(Ops.SINK, dtypes.void, (e,)).shape is None  # an op without a shape rule
    assert UOp(op=Ops.ADD, dtype=f32, src=(a, b)) is UOp(Ops.ADD, f32, (a, b))  # keywords
    assert UOp(Ops.CONST, f32) is UOp(Ops.CONST, f32, (), None)  # defaults
    with pytest.raises(TypeError):
        UOp(Ops.ADD, f32, [a, b])  # type: ignore[arg-type]  # a list of sources is not a key
    with pytest.raises(TypeError):
        UOp(Ops.RESHAPE, f32, (a,), None)  # no shape from a missing argument
    with pytest.raises(IndexError):
        UOp(Ops.NEG, f32, ())  # the last source of none
    assert UOp(Ops.ADD, f32, (a, b)).shape == ()


def test_nodes_from_both_constructions_share_one_table(construction: str) -> None:
    c_new, c_del = _c_methods()
    a = UOp.const(f32, 7.0)
    x = UOp(Ops.EXP2, f32, (a,))
    assert c_new(UOp, Ops.EXP2, f32, (a,)) is x and U.py_new(UOp, Ops.EXP2, f32, (a,)) is x
    key = x._key
    del x
    assert key not in U._cache
    y = c_new(UOp, Ops.SQRT, f32, (a,), None)
    assert U.py_new(UOp, Ops.SQRT, f32, (a,)) is y and y.shape == () and y._realized is None and y._tag is None


def test_no_leak_over_100k_nodes(construction: str) -> None:
    c = UOp.const(f32, 1.0)
    watched = [c, f32, Ops.ADD]
    for i in range(100):  # warm
        UOp(Ops.ADD, f32, (c, UOp.const(f32, float(i))), 0.5)
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    entries = len(U._cache)
    # Two passes, measured between them: the intern table is a dict shared with every other test, and
    # churning keys through it resizes it; the first resize under the tracer counts a whole new table
    # (the old one was allocated before tracing began), a real leak grows on every pass.
    tracemalloc.start()
    try:
        marks = []
        for _ in range(2):
            for i in range(100_000):  # new nodes with float and tuple arguments, freed at once
                u = UOp(Ops.RESHAPE, f32, (UOp(Ops.ADD, f32, (c, UOp.const(f32, i + 0.5)), 0.25),), (1,))
            del u
            gc.collect()
            marks.append(tracemalloc.get_traced_memory()[0])
        grown = marks[1] - marks[0]
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(o) for o in watched] == before
    assert len(U._cache) <= entries
    assert grown < 64 * 1024, f"{grown} bytes more after 100k nodes"
