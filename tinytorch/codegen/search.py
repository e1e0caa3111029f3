"""BEAM search: choose a kernel's optimizations by compiling and timing candidates.

Takes: a kernel AST and a compiled device (its renderer, compiler and loader), with BEAM=n
set (`with Context(BEAM=2)` in Python).
Produces: the `Opts` to lower the kernel with: the heuristic's (codegen/opt.py
`choose_opts`) or a faster variant found by a beam search of width n; the choice is kept
on disk (runtime/cache.py, entry kind "beam") under the kernel's structure and the
machine, so a later process reuses it without searching.

The search:
1. the heuristic's Opts is the first beam; each step makes the neighbours of every Opts in
   the beam, each with one choice changed (table MOVES: an axis's unroll factor — register
   tile rows and columns, split accumulators —, the lane axis and width, the outermost loop,
   any extra Opts field turned off), keeps those lower.py accepts, and compiles them (one compiler run per
   batch where the renderer batches);
2. every candidate runs on scratch buffers of the kernel's sizes (random inputs; the user's
   buffers are never touched); one whose outputs differ from the heuristic's, or that fails
   to lower or compile, is discarded; the rest are timed (median of a few runs, each after
   the L2 cache is flushed: in a step a kernel's inputs come from other kernels);
3. the n fastest seen so far are the next beam; the search stops when a step finds nothing
   faster, after STEPS steps, or past BEAM_TIME seconds for the kernel;
4. the fastest is timed again against the heuristic, runs alternating, and replaces it only
   when its median is at least MARGIN faster: the heuristic is always a candidate, and the
   result is never slower than it as measured.
A kernel that runs shorter than BEAM_MIN_US keeps the heuristic (its call costs dominate);
that decision is remembered on disk too. INTERP and NOOPT ignore BEAM.

`STATS` counts searches, disk-cache hits and candidates; DEBUG>=2 prints one line per
kernel: what won and the speed-up over the heuristic, or that the choice came from the cache.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..dtype import DType, dtypes
from ..helpers import BEAM, BEAM_MIN_US, BEAM_TIME, DEBUG, num_threads, prod, vector_bytes
from ..ops.uop import Ops, UOp, pretty, toposort
from ..ops.view import View
from .kernel import Kernel, analyze, packs_args
from .lower import lower
from .opt import Opts, choose_opts

SEARCH_VERSION = "beam-3"  # part of every cache key: a new search rule set searches again
STEPS = 4  # beam steps at most
MARGIN = 0.10  # a candidate replaces the heuristic only when at least this much faster (noise, and what a kernel
# timed alone gains but loses among a step's other kernels)
FLUSH_BYTES = 2 << 20  # written before each timed run: the kernel's data is not left in L2 by the run before
MAX_UNROLL = 64  # product of all unroll factors at most (code size, registers), unless the heuristic's is larger
SCRATCH_BYTES = 1 << 30  # kernels needing more scratch memory than this keep the heuristic
RUN_BUDGET = 0.03  # seconds of timed runs per candidate (at least MIN_RUNS, at most MAX_RUNS)
MIN_RUNS, MAX_RUNS = 5, 15
CONFIRM_RUNS = 7  # alternating runs of heuristic and winner in the final comparison

# unroll factors tried on an output axis (register tile rows or columns; a ragged last step is guarded)
# and on a reduce axis (independent accumulators, or a longer loop body; must divide the axis)
OUTPUT_UNROLLS = (1, 2, 3, 4, 5, 6, 8)
REDUCE_UNROLLS = (1, 2, 4, 8, 16)

# searched: kernels searched; cache_hits: choices read from the disk cache instead; kept_small: searched kernels
# under BEAM_MIN_US; unsearchable: kernels left to the heuristic (see beam_opts); candidates: built and run;
# failed / mismatched: candidates that did not build / gave other outputs; speedups: searches won by a candidate
STATS = {"searched": 0, "cache_hits": 0, "kept_small": 0, "unsearchable": 0, "candidates": 0, "failed": 0,
         "mismatched": 0, "speedups": 0}
_LOCK = threading.Lock()  # one search at a time: timings of two at once would disturb each other
_IDS = iter(range(1 << 62))  # candidate function names, unique in the process (the LLVM JIT needs that)


# -------------------------------------------------------------------- the machine and the cache key
def machine_key(dev: Any) -> list[str]:
    """What a choice depends on besides the kernel: device, CPU model and flags, vector width, threads,
    compiler version and flags."""
    from ..runtime.cpu import cpu_model

    comp = dev.compiler
    return [dev.name, cpu_model(), str(vector_bytes()), str(num_threads()), comp.version(), " ".join(comp.flags())]


@functools.cache
def _codegen_digest() -> str:
    """A digest of the code generator's source: a choice made for other lowering rules is not reused."""
    h = hashlib.sha256()
    folder = os.path.dirname(os.path.abspath(__file__))
    for fn in sorted(os.listdir(folder)):
        if fn.endswith(".py"):
            with open(os.path.join(folder, fn), "rb") as f:
                h.update(fn.encode() + f.read())
    return h.hexdigest()


def cache_parts(dev: Any, ast: UOp) -> list[str]:
    """The disk-cache key of a kernel's choice: the kernel's structure (its whole AST) and the machine."""
    return [SEARCH_VERSION, pretty(ast, max_lines=1 << 30), *machine_key(dev), _codegen_digest()]


def _to_json(o: Opts) -> dict[str, Any]:
    return {f.name: getattr(o, f.name) for f in dataclasses.fields(o) if f.name != "notes"}


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def _from_json(d: dict[str, Any]) -> Opts:
    return Opts(**{k: _tuples(v) for k, v in d.items()})


# -------------------------------------------------------------------- describing a choice
# the Opts fields the moves below vary (any other field is only turned off, by _other_moves)
_SEARCHED = {"vec_axis", "width", "unroll", "split_acc", "order", "threads", "notes"}


def parts(k: Kernel, o: Opts) -> dict[str, str]:
    """The choices of o by name, readable: the register tile over the output axes (6x16: 6 rows of
    16 lanes), the lanes, unrolled reduce axes, loop order, threads, and any other field that is on."""
    ng = k.n_global
    out = {"tile": "x".join(str(o.factor(a)) for a in range(ng) if o.factor(a) > 1) or "1",
           "lanes": f"a{o.vec_axis}x{o.width}" if o.vec_axis is not None else "none",
           "reduce unroll": " ".join(f"a{a}x{o.unroll_of(a)}" for a in range(ng, len(k.shape))
                                    if o.unroll_of(a) > 1) or "none",
           "order": ",".join(map(str, o.order)) or "-", "threads": str(o.threads)}
    for f in dataclasses.fields(o):
        if f.name not in _SEARCHED and f.default is not dataclasses.MISSING:
            out[f.name] = str(getattr(o, f.name)) if getattr(o, f.name) != f.default else "off"
    return out


def describe(k: Kernel, o: Opts) -> str:
    """All choices of o in one line: `tile 6x16, lanes a1x8, reduce unroll none, order 1,0, threads 2`."""
    return ", ".join(f"{n} {v}" for n, v in parts(k, o).items())


def describe_change(k: Kernel, old: Opts, new: Opts) -> str:
    """Only what differs: `tile 6x16 -> 5x16, order 1,0 -> 0,1`."""
    a, b = parts(k, old), parts(k, new)
    return ", ".join(f"{n} {a[n]} -> {b[n]}" for n in a if a[n] != b[n]) or "same choices"


# -------------------------------------------------------------------- candidates
def _canon(o: Opts) -> Opts:
    """Unrolls sorted by axis, factors of 1 dropped, no notes: equal choices compare equal."""
    return dataclasses.replace(o, unroll=tuple(sorted((a, f) for a, f in o.unroll if f > 1)), notes=())


def _with_unroll(o: Opts, axis: int, factor: int) -> Opts:
    return dataclasses.replace(o, unroll=tuple([(a, f) for a, f in o.unroll if a != axis] + [(axis, factor)]))


def _lane_axes(k: Kernel) -> list[int]:
    """Axes along which the store or a load is contiguous: the ones worth reading as SIMD vectors."""
    strides = [k.store_view().real_strides()] + [k.views[ld.src[1]].index_strides() for ld in k.loads()]
    return [a for a in range(len(k.shape)) if any(s[a] == 1 for s in strides)]


def _full_width(k: Kernel) -> int:
    itemsize = max(d.itemsize for d in k.dtypes if d.itemsize > 0)
    return max(1, vector_bytes() // max(itemsize, 4))


def _unroll_moves(k: Kernel, o: Opts) -> list[Opts]:
    out = []
    for a in range(len(k.shape)):
        for f in (REDUCE_UNROLLS if a >= k.n_global else OUTPUT_UNROLLS):
            if f != o.unroll_of(a):
                out.append(_with_unroll(o, a, f))
    return out


def _lane_moves(k: Kernel, o: Opts) -> list[Opts]:
    full = _full_width(k)
    out = [dataclasses.replace(o, vec_axis=None, width=1)]
    for a in _lane_axes(k):
        for w in (full, full // 2):
            if w > 1:
                out.append(dataclasses.replace(o, vec_axis=a, width=w))
    return out


def _order_moves(k: Kernel, o: Opts) -> list[Opts]:
    return [dataclasses.replace(o, order=(a, *[b for b in o.order if b != a])) for a in o.order]


def _other_moves(k: Kernel, o: Opts) -> list[Opts]:
    """Any other choice Opts carries (a field whose default means "off") turned off."""
    out = []
    for f in dataclasses.fields(o):
        if f.name not in _SEARCHED and f.default is not dataclasses.MISSING and getattr(o, f.name) != f.default:
            out.append(dataclasses.replace(o, **{f.name: f.default}))
    return out


# one choice changed at a time; a beam step applies every move to every Opts in the beam. The thread count is
# the heuristic's: a kernel timed alone, back to back on its own data, favoured one thread or two wrongly for a
# whole step (the MLP step 9.0-9.4 ms with searched thread counts, 7.3-8.4 with the heuristic's, 7.3-8.0 heuristic)
MOVES = (_unroll_moves, _lane_moves, _order_moves, _other_moves)


def valid(k: Kernel, o: Opts, max_unroll: int) -> bool:
    """Can lower.py lower this Opts (and is it worth compiling)? Lanes and reduce axes must divide exactly
    (a ragged reduce step would add clamped elements twice); an output axis may be ragged (its stores are
    guarded) but not unrolled past its size; the loop order names every output axis once."""
    shape, ng = k.shape, k.n_global
    if sorted(o.order) != list(range(ng)) or o.threads < 1:
        return False
    if o.vec_axis is not None and (o.width < 2 or shape[o.vec_axis] % o.factor(o.vec_axis)):
        return False
    if o.vec_axis is None and o.width != 1:
        return False
    for a, f in o.unroll:
        if f < 1 or f > shape[a] or (a >= ng and shape[a] % o.factor(a)):
            return False
    return prod(f for _, f in o.unroll) <= max_unroll


def neighbours(k: Kernel, o: Opts, max_unroll: int) -> list[Opts]:
    """Every valid Opts one move away from o (canonical, without duplicates)."""
    seen: dict[Opts, None] = {}
    for move in MOVES:
        for c in move(k, o):
            c = _canon(c)
            if valid(k, c, max_unroll):
                seen.setdefault(c, None)
    return list(seen)


# -------------------------------------------------------------------- scratch buffers
def _extent(v: View) -> int:
    """Elements of the buffer under a view: one past the largest index a valid element reads."""
    if 0 in v.shape:
        return 0
    ranges = v.mask or tuple((0, d) for d in v.shape)
    if any(lo >= hi for lo, hi in ranges):
        return 0
    top = v.offset + sum(st * (hi - 1) if st > 0 else st * lo for st, (lo, hi) in zip(v.strides, ranges))
    return max(0, top + 1)


def buffer_specs(ast: UOp) -> tuple[list[tuple[DType, int]], set[int], bool]:
    """(dtype, elements) of each kernel argument, the indices of those it writes, and whether a written
    buffer is also read through another view than the one it is written through (then the order of
    iterations matters, and only the heuristic's is known to be right)."""
    specs: dict[int, tuple[DType, int]] = {}
    views: dict[int, set[Any]] = {}
    written: dict[int, Any] = {}
    for u in toposort([ast]):
        if u.op is Ops.DEFINE_GLOBAL:
            specs.setdefault(u.arg, (u.dtype.scalar, 1))
        if u.op in (Ops.LOAD, Ops.STORE) and u.src[0].op is Ops.DEFINE_GLOBAL:
            g, vs = u.src[0], u.src[1].arg
            dt, n = specs.get(g.arg, (g.dtype.scalar, 1))
            specs[g.arg] = (dt, max(n, _extent(vs.views[0])))
            views.setdefault(g.arg, set()).add(vs)
            if u.op is Ops.STORE:
                written[g.arg] = vs
    order_sensitive = any(len(views[i] - {vs}) > 0 for i, vs in written.items())
    return [specs[i] for i in range(len(specs))], set(written), order_sensitive


def _fill(a: np.ndarray, dt: DType, rng: np.random.Generator) -> None:
    """Random values a kernel can take without faults: floats in [-1, 1], integers in [1, 3] (no division by
    zero), random bools."""
    if dt == dtypes.bfloat16:
        a[:] = (rng.uniform(-1, 1, a.size).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    elif dt.is_float:
        a[:] = rng.uniform(-1, 1, a.size)
    elif dt.kind == "b":
        a[:] = rng.integers(0, 2, a.size).astype(bool)
    else:
        a[:] = rng.integers(1, 4, a.size)


def _same(got: np.ndarray, ref: np.ndarray, dt: DType) -> bool:
    if dt == dtypes.bfloat16:
        got, ref = (got.astype(np.uint32) << 16).view(np.float32), (ref.astype(np.uint32) << 16).view(np.float32)
    if not dt.is_float:
        return bool(np.array_equal(got, ref))
    got, ref = got.astype(np.float64), ref.astype(np.float64)
    finite = np.isfinite(ref)
    scale = float(np.abs(ref[finite]).max()) if finite.any() else 0.0
    rtol = 1e-3 if dt.itemsize >= 4 else 2e-2
    return bool(np.allclose(got, ref, rtol=rtol, atol=rtol * 1e-2 * scale, equal_nan=True))


class _Scratch:
    """Buffers of the kernel's sizes with random inputs; written buffers reset to their first contents."""

    def __init__(self, dev: Any, specs: list[tuple[DType, int]], written: set[int]):
        from ..runtime.buffer import Buffer

        rng = np.random.default_rng(0)
        self.bufs = [Buffer(dev.name, n + 64 // dt.itemsize, dt).ensure() for dt, n in specs]  # (+64 bytes slack)
        for b in self.bufs:
            _fill(b.numpy(), b.dtype, rng)
        self.written = sorted(written)
        self.first = {i: self.bufs[i].numpy().copy() for i in self.written}

    def reset(self) -> None:
        for i in self.written:
            self.bufs[i].numpy()[:] = self.first[i]

    def outputs(self) -> list[np.ndarray]:
        return [self.bufs[i].numpy().copy() for i in self.written]


# -------------------------------------------------------------------- compiling and timing
_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=max(1, num_threads()), thread_name_prefix="tinytorch-beam"))
    return _POOL[0]


def _compile_one(dev: Any, name: str, prog: list[UOp]) -> bytes | None:
    try:
        return dev.compiler.compile_uncached(dev.renderer.render(name, prog))  # type: ignore[no-any-return]
    except Exception:
        return None


def _compile_batch(dev: Any, items: list[tuple[str, list[UOp]]]) -> list[bytes | None]:
    """One translation unit for the batch; when it fails, each on its own (the bad ones give None)."""
    if len(items) > 1:
        try:
            lib = dev.compiler.compile_uncached(dev.renderer.render_batch(items))
            return [lib] * len(items)
        except Exception:
            pass
    return [_compile_one(dev, n, p) for n, p in items]


def build(dev: Any, k: Kernel, cands: list[Opts]) -> list[Any]:
    """A Runner per candidate (None where lowering or compiling failed); batches compile in parallel where the
    renderer batches (C), one by one otherwise."""
    from ..runtime.device import Runner

    lowered: list[tuple[str, list[UOp], int] | None] = []
    for o in cands:
        try:
            prog, outer = lower(k, o)
            lowered.append((f"beam_k{next(_IDS)}", prog, outer))
        except Exception:
            lowered.append(None)
    todo = [x for x in lowered if x is not None]
    libs: list[bytes | None]
    if hasattr(dev.renderer, "render_batch") and len(todo) > 1:
        n = min(num_threads(), len(todo))
        chunks = [todo[i::n] for i in range(n)]
        done = list(_pool().map(lambda c: _compile_batch(dev, [(nm, p) for nm, p, _ in c]), chunks))
        by_name = {x[0]: lib for c, libs_c in zip(chunks, done) for x, lib in zip(c, libs_c)}
        libs = [by_name[nm] for nm, _, _ in todo]
    else:
        libs = [_compile_one(dev, nm, p) for nm, p, _ in todo]
    lib_of = {nm: lib for (nm, _, _), lib in zip(todo, libs)}
    out: list[Any] = []
    for o, x in zip(cands, lowered):
        lib = lib_of.get(x[0]) if x is not None else None
        if x is None or lib is None:
            out.append(None)
            continue
        name, prog, outer = x
        nbufs = sum(1 for u in prog if u.op is Ops.DEFINE_GLOBAL)
        try:
            fn = dev.loader(lib, name, nbufs)
        except Exception:
            out.append(None)
            continue
        r = Runner(name, fn, outer, o.threads, k.flops, keepalive=lib)
        r.packed = packs_args(nbufs)
        out.append(r)
    return out


_FLUSH: list[np.ndarray] = []


def _flush() -> None:
    """Evict this core's L2: in a step a kernel's inputs come from other kernels, not from its own last run."""
    if not _FLUSH:
        _FLUSH.append(np.zeros(FLUSH_BYTES // 4, np.float32))
    _FLUSH[0] += 1


def _time_runs(r: Any, s: _Scratch, runs: int) -> list[float]:
    """Seconds of each of `runs` calls, the cache flushed before each. An in-place kernel keeps updating its
    scratch buffers; every candidate sees the same kind of values."""
    ts = []
    for _ in range(runs):
        _flush()
        st = time.perf_counter()
        r._run(s.bufs)
        ts.append(time.perf_counter() - st)
    return ts


def measure(r: Any, s: _Scratch, ref: list[np.ndarray] | None) -> float | None:
    """Median seconds of a candidate on the scratch buffers, or None when its outputs differ from ref."""
    s.reset()
    st = time.perf_counter()
    r._run(s.bufs)
    first = time.perf_counter() - st
    if ref is not None:
        got = s.outputs()
        if not all(_same(g, x, s.bufs[i].dtype) for g, x, i in zip(got, ref, s.written)):
            return None
    runs = max(MIN_RUNS, min(MAX_RUNS, int(RUN_BUDGET / max(first, 1e-7))))
    _time_runs(r, s, 1)  # warm-up: code in cache, threads awake
    return statistics.median(_time_runs(r, s, runs))


# -------------------------------------------------------------------- the search
@dataclasses.dataclass
class Result:
    best: Opts
    best_time: float  # median seconds
    heuristic_time: float
    tried: int  # candidates built and run
    why: str = ""  # why the heuristic was kept without a search


def search(dev: Any, k: Kernel, heuristic: Opts, s: _Scratch, width: int, budget: float) -> Result:
    """Beam search from the heuristic: the fastest Opts found and its time against the heuristic's."""
    st = time.perf_counter()
    h_run = build(dev, k, [heuristic])[0]
    if h_run is None:  # the heuristic itself does not build: nothing to compare against
        return Result(heuristic, 0.0, 0.0, 0, "the heuristic's kernel did not build")
    s.reset()
    h_run._run(s.bufs)
    ref = s.outputs()
    h_time = measure(h_run, s, None)
    assert h_time is not None
    if h_time * 1e6 < float(BEAM_MIN_US.value):
        STATS["kept_small"] += 1
        return Result(heuristic, h_time, h_time, 0, f"runs {h_time * 1e6:.1f} us, under BEAM_MIN_US")
    max_unroll = max(MAX_UNROLL, prod(f for _, f in heuristic.unroll))
    times: dict[Opts, float] = {_canon(heuristic): h_time}
    runners: dict[Opts, Any] = {_canon(heuristic): h_run}
    beam = [_canon(heuristic)]
    tried = 0
    for _ in range(STEPS):
        cands = [c for o in beam for c in neighbours(k, o, max_unroll) if c not in times]
        cands = list(dict.fromkeys(cands))
        if not cands or time.perf_counter() - st > budget:
            break
        best_before = min(times.values())
        for c, r in zip(cands, build(dev, k, cands)):
            tried += 1
            t = measure(r, s, ref) if r is not None else None
            if t is None:
                STATS["failed" if r is None else "mismatched"] += 1
                times[c] = float("inf")
                continue
            times[c], runners[c] = t, r
        beam = sorted((o for o in times if times[o] < float("inf")), key=times.__getitem__)[:width]
        if min(times.values()) >= best_before:
            break
    STATS["candidates"] += tried
    best = min(times, key=times.__getitem__)
    if best == _canon(heuristic):
        return Result(heuristic, h_time, h_time, tried)
    # the final word: heuristic and winner alternating, medians compared
    hs, bs = [], []
    for _ in range(CONFIRM_RUNS):
        hs += _time_runs(h_run, s, 1)
        bs += _time_runs(runners[best], s, 1)
    h_med, b_med = statistics.median(hs), statistics.median(bs)
    if b_med > h_med * (1 - MARGIN):
        return Result(heuristic, h_med, h_med, tried)
    return Result(best, b_med, h_med, tried)


def beam_opts(dev: Any, ast: UOp) -> Opts | None:
    """The Opts BEAM chose for this kernel on this machine: from the disk cache, else searched now (and
    stored). None: lower with the heuristic (a kernel that cannot be searched)."""
    from ..runtime import cache
    from . import kernel_name

    parts = cache_parts(dev, ast)
    k = analyze(ast)
    heuristic = choose_opts(k)
    name = kernel_name(k, heuristic)
    hit = cache.load("beam", parts)
    if hit is not None:
        try:
            got = json.loads(hit.decode())
            o = _from_json(got["opts"])
            lower(k, o)  # (still lowers: else searched again)
        except Exception:
            o = None
        if o is not None:
            STATS["cache_hits"] += 1
            if DEBUG >= 2:
                print(f"BEAM: kernel {name} cached choice: {describe_change(k, heuristic, o)} "
                      f"({got.get('speedup', 1.0):.2f}x over "
                      f"heuristic when searched), no search", flush=True)
            return dataclasses.replace(o, notes=(*heuristic.notes, f"BEAM cached: {describe(k, o)}"))
    specs, written, order_sensitive = buffer_specs(ast)
    why = "an empty loop" if 0 in k.shape or not written else \
        "it reads the buffer it writes elsewhere than where it writes" if order_sensitive else \
        "its buffers exceed SCRATCH_BYTES" if sum(n * dt.itemsize for dt, n in specs) > SCRATCH_BYTES else ""
    if why:
        STATS["unsearchable"] += 1
        if DEBUG >= 2:
            print(f"BEAM: kernel {name} not searched ({why}): heuristic", flush=True)
        return None
    with _LOCK:
        st = time.perf_counter()
        scratch = _Scratch(dev, specs, written)
        res = search(dev, k, heuristic, scratch, max(1, int(BEAM.value)), float(BEAM_TIME.value))
        secs = time.perf_counter() - st
    STATS["searched"] += 1
    best = res.best
    speedup = res.heuristic_time / res.best_time if res.best_time > 0 else 1.0
    changed = _canon(best) != _canon(heuristic)
    STATS["speedups"] += changed
    if DEBUG >= 2:
        what = describe_change(k, heuristic, best) if changed else f"heuristic kept ({describe(k, heuristic)})"
        print(f"BEAM: kernel {name} {what}, {speedup:.2f}x over heuristic{f' ({res.why})' if res.why else ''}, "
              f"{res.tried} candidates, {secs:.1f} s", flush=True)
    if res.heuristic_time > 0:  # (a heuristic that did not build is not remembered)
        record = {"opts": _to_json(best), "speedup": round(speedup, 4), "candidates": res.tried,
                  "heuristic_us": round(res.heuristic_time * 1e6, 2), "best_us": round(res.best_time * 1e6, 2)}
        cache.store("beam", parts, json.dumps(record).encode())
    return dataclasses.replace(best, notes=(*heuristic.notes, f"BEAM: {describe(k, best)}, {speedup:.2f}x"))

