"""The plan cache's structural walk in C (engine/walk_c.py) against the Python walk it replaces (`_Walk.add_py`).

On random elementwise/reduce/movement graphs, shared subgraphs, realized nodes, in-place writes, several roots,
walks continued with more roots and float arguments such as -0.0 and NaN, the C walk leaves the same index, nodes,
parts (numbered in the same table), leaves, leaf positions and flags as the Python walk; a 20k-node chain walks
without a crash; 10k walks leak no reference; bad input raises as the Python walk raises; and the C walk is the one
realize uses when Python.h exists (Python otherwise, said at DEBUG>=1).
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tracemalloc
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.engine import realize as R
from tinytorch.engine import walk_c
from tinytorch.helpers import Context
from tinytorch.ops.uop import Ops, UOp


@pytest.fixture(scope="module")
def cwalk() -> Any:
    """The C walk function; skipped only when this interpreter has no Python.h."""
    if not os.path.exists(walk_c.headers()):
        pytest.skip(f"no {walk_c.headers()}: the C walk cannot be built")
    fn, why = walk_c.build()
    assert fn is not None, why
    return fn


def _walk_both(cwalk: Any, root_lists: list[list[UOp]], c_first: bool) -> tuple[R._Walk, R._Walk]:
    """Walk the same roots (one add per list) in Python and in C; the one walked second must number no new part."""
    wp, wc = R._Walk(), R._Walk()
    for roots in root_lists:
        if c_first:
            cwalk(wc, roots, R._PART_IDS, R._PART_NUMBERS)
            n = len(R._PART_IDS)
            wp.add_py(roots)
        else:
            wp.add_py(roots)
            n = len(R._PART_IDS)
            cwalk(wc, roots, R._PART_IDS, R._PART_NUMBERS)
        assert len(R._PART_IDS) == n, "the second walk found a part the first did not make"
    return wp, wc


def _same(wp: R._Walk, wc: R._Walk, targets: list[UOp]) -> None:
    assert len(wc.nodes) == len(wp.nodes) and all(a is b for a, b in zip(wc.nodes, wp.nodes))
    assert wc.index == wp.index
    assert wc.parts == wp.parts
    assert len(wc.leaves) == len(wp.leaves) and all(a is b for a, b in zip(wc.leaves, wp.leaves))
    assert wc.leaf_pos == wp.leaf_pos
    assert (wc.has_assign, wc.has_realized) == (wp.has_assign, wp.has_realized)
    assert wc.key(targets) == wp.key(targets)


def _check(cwalk: Any, root_lists: list[list[UOp]]) -> R._Walk:
    targets = [u for roots in root_lists for u in roots]
    for c_first in (True, False):
        wp, wc = _walk_both(cwalk, root_lists, c_first)
        _same(wp, wc, targets)
    return wp


def _random_graph(rng: random.Random) -> list[tt.Tensor]:
    """A few tensors built from shared inputs by random elementwise, reduce and movement ops."""
    base = [tt.tensor(np.arange(24, dtype=np.float32).reshape(4, 6) * (i + 1) - 3) for i in range(3)]
    pool = list(base)
    ops = [
        lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: a.maximum(b),
        lambda a, b: a.where(a < b, b), lambda a, b: a.exp2(), lambda a, b: a.relu(),
        lambda a, b: a + a.sum(axis=1, keepdim=True), lambda a, b: a * a.amax(axis=0, keepdim=True),
        lambda a, b: a.permute(1, 0).permute(1, 0) + b, lambda a, b: a.reshape(6, 4).reshape(4, 6) * 0.5,
        lambda a, b: a[1:3].sum(axis=0).expand(4, 6) + b, lambda a, b: a.flip(1) - b,
        lambda a, b: a * -0.0, lambda a, b: a + float("nan"), lambda a, b: a.cast(tt.float16).cast(tt.float32),
    ]
    for _ in range(rng.randint(3, 12)):
        a, b = rng.choice(pool), rng.choice(pool)
        pool.append(rng.choice(ops)(a, b))
    return pool[3:] or pool


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_walk_alike(cwalk: Any, seed: int) -> None:
    rng = random.Random(seed)
    ts = _random_graph(rng)
    roots = [t.uop for t in rng.sample(ts, rng.randint(1, len(ts)))]
    w = _check(cwalk, [roots])
    assert len(w.nodes) > len(roots)
    more = [t.uop for t in ts]  # continued with more roots, some walked already
    _check(cwalk, [roots, more])


def test_shared_subgraphs_and_several_roots(cwalk: Any) -> None:
    a, b = tt.tensor(np.ones((3, 5), np.float32)), tt.tensor(np.full((3, 5), 2.0, np.float32))
    s = (a * b + 1.0).exp2()
    outs = [s + s, s * a, (s - b).sum(axis=1), s]
    w = _check(cwalk, [[t.uop for t in outs]])
    assert len(w.leaves) == 2 and w.nodes.count(s.uop) == 1
    _check(cwalk, [[outs[0].uop], [outs[1].uop, outs[2].uop], [outs[3].uop, outs[0].uop]])


def test_float_arguments_keep_sign_and_nan(cwalk: Any) -> None:
    a = tt.tensor(np.arange(4, dtype=np.float32))
    roots = [(a * -0.0).uop, (a * 0.0).uop, (a + float("nan")).uop, (a + float("inf")).uop, (a - float("inf")).uop]
    w = _check(cwalk, [roots])
    assert len({w.parts[w.index[r]] for r in roots}) == len(roots)


def test_realized_nodes(cwalk: Any) -> None:
    a = tt.tensor(np.arange(6, dtype=np.float32))
    c = a + 1.0
    d = (c * 2.0).sum()
    old = c.uop
    c.realize()
    assert old._realized is not None
    w = _check(cwalk, [[d.uop, (c * 3.0).uop]])
    assert w.has_realized and old in w.index and old._realized in w.index


def test_in_place_writes(cwalk: Any) -> None:
    x = tt.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    x.realize()
    # (tensor operands, not 2.0 and 1.0: broadcast constant nodes are shared process-wide and may be realized already)
    y = x * tt.tensor(np.full((2, 3), 2.0, np.float32))
    x.add_(tt.tensor(np.ones((2, 3), np.float32)))
    x.mul_(y)
    assert x.uop.op is Ops.ASSIGN
    w = _check(cwalk, [[x.uop, y.uop]])
    assert w.has_assign and not w.has_realized


def test_deep_chain(cwalk: Any) -> None:
    a = tt.tensor(np.zeros(4, np.float32))
    u = a.uop
    one = UOp.const(u.dtype, 1.0)
    for _ in range(20_000):
        u = UOp(Ops.ADD, u.dtype, (u, one))
    wc = R._Walk()
    cwalk(wc, [u], R._PART_IDS, R._PART_NUMBERS)
    wp = R._Walk()
    wp.add_py([u])
    _same(wp, wc, [u])
    assert len(wc.nodes) == 20_002


def test_no_reference_leak(cwalk: Any) -> None:
    a = tt.tensor(np.arange(8, dtype=np.float32))
    b = a - 1.0
    c = b.uop
    user = b * 3.0
    b.realize()  # (user reads c, now a realized node)
    mid = (a * 2.0 + 1.0)
    x = tt.tensor(np.ones(8, np.float32))
    x.realize()
    x.add_(1.0)
    roots = [(mid.exp2() + mid).sum().uop, x.uop, user.uop]
    watched = [roots[0], mid.uop, a.uop, a.uop.arg[0], x.uop, c]
    for _ in range(50):  # warm: every part numbered, every lazy attribute made
        cwalk(R._Walk(), roots, R._PART_IDS, R._PART_NUMBERS)
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            w = R._Walk()
            cwalk(w, roots, R._PART_IDS, R._PART_NUMBERS)
            cwalk(w, roots[:1], R._PART_IDS, R._PART_NUMBERS)
        del w
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(o) for o in watched] == before
    assert grown < 64 * 1024, f"{grown} bytes more after 10k walks"


def test_bad_input_raises_like_python(cwalk: Any) -> None:
    a = tt.tensor(np.arange(3, dtype=np.float32))
    good = (a + 1.0).uop
    for roots in ([object()], [good, 5]):
        with pytest.raises(AttributeError):
            R._Walk().add_py(roots)  # type: ignore[list-item]
        with pytest.raises(AttributeError):
            cwalk(R._Walk(), roots, R._PART_IDS, R._PART_NUMBERS)
    w = R._Walk()
    w.index = []  # type: ignore[assignment]
    with pytest.raises(TypeError):
        cwalk(w, [good], R._PART_IDS, R._PART_NUMBERS)
    with pytest.raises(TypeError):
        cwalk(R._Walk(), 7, R._PART_IDS, R._PART_NUMBERS)
    with pytest.raises(TypeError):
        cwalk(R._Walk(), [good], [], R._PART_NUMBERS)
    with pytest.raises(TypeError):
        cwalk(R._Walk(), [good])
    refs = sys.getrefcount(good)
    for _ in range(1000):
        with pytest.raises(AttributeError):
            cwalk(R._Walk(), [object(), good], R._PART_IDS, R._PART_NUMBERS)  # (good is still on the stack)
    assert sys.getrefcount(good) == refs


def test_realize_uses_the_c_walk(cwalk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get("WALK_C") == "0":
        pytest.skip("WALK_C=0 in the environment")
    assert walk_c.walker() is not None and walk_c.STATUS == ["C"]

    def no_python_walk(self: R._Walk, roots: list[UOp]) -> None:
        raise AssertionError("the Python walk ran")

    monkeypatch.setattr(R._Walk, "add_py", no_python_walk)
    x = tt.tensor(np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal((x * 2.0 + 1.0).numpy(), np.arange(5, dtype=np.float32) * 2 + 1)


def test_fallback_to_python(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ran: list[int] = []
    py_walk = R._Walk.add_py

    def counted(self: R._Walk, roots: list[UOp]) -> None:
        ran.append(len(roots))
        py_walk(self, roots)

    monkeypatch.setattr(R._Walk, "add_py", counted)
    monkeypatch.setattr(walk_c, "STATUS", [])
    monkeypatch.setattr(walk_c, "_OFF_SAID", [])
    with Context(WALK_C=0, DEBUG=1):
        assert walk_c.walker() is None
    assert "structural walk runs in Python (WALK_C=0)" in capsys.readouterr().out
    with Context(WALK_C=0):
        x = tt.tensor(np.arange(5, dtype=np.float32))
        np.testing.assert_array_equal((x - 1.0).numpy(), np.arange(5, dtype=np.float32) - 1)
    assert ran
    import tinytorch.runtime.cpu as cpu

    monkeypatch.setattr(cpu, "find_cc", lambda: None)
    fn, why = walk_c.build()
    assert fn is None and "no C compiler" in why
    monkeypatch.setattr(walk_c, "headers", lambda: "/nonexistent/include/Python.h")
    fn, why = walk_c.build()
    assert fn is None and "/nonexistent/include/Python.h" in why
    monkeypatch.setattr(walk_c, "_FN", [])
    with Context(DEBUG=1):
        assert walk_c.walker() is None
    out = capsys.readouterr().out
    assert "walk: the plan cache's structural walk runs in Python (no /nonexistent/include/Python.h" in out
    assert walk_c.STATUS[0].startswith("Python: no /nonexistent")
