"""Optimization choices for one kernel: which axis becomes SIMD lanes, what is unrolled
into registers, the loop order, and whether the outer loop is split across threads.

Takes: a `Kernel` (codegen/kernel.py) and the device's vector width.
Produces: `Opts`, applied by codegen/lower.py. Each choice is a small readable rule:

- vectorize (upcast to SIMD lanes) the output axis that is contiguous in memory, or, when
  the output has none, the innermost reduce axis when the inputs are contiguous along it;
- matmul-shaped reduces (one input broadcast along the lane axis, another along a second
  output axis) get a register tile: rows unrolled x vectors unrolled, and the lane axis
  becomes the outer loop so a column panel of the right operand stays in cache (tiling);
- a packed product whose panel over the whole reduce would not fit the L2, or whose other operand would not fit
  a quarter of the L3, is cache-blocked: the reduce runs in chunks (a chunk of the panel fills half an L1, or is
  longer with wide vectors: BLOCK_STEPS_PER_LANE), the rows in blocks (a block of the left operand, packed per
  chunk where the chunk is the L1's, fills an eighth of an L2), the lanes in blocks whose packed panels fit
  BLOCK_PACK_BYTES; cache sizes are read from the host;
- reduces over a contiguous axis keep several accumulators (instruction-level parallelism);
- small reduces (<= 16 elements, e.g. a 3x3 window) are fully unrolled;
- kernels with enough work split their outermost loop across threads.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

from ..dtype import dtypes
from ..helpers import NOOPT, num_threads, prod, vector_bytes
from ..ops.uop import Ops
from .kernel import Kernel


@dataclass(frozen=True)
class Opts:
    vec_axis: int | None = None  # axis whose iterations become SIMD lanes
    width: int = 1  # lanes
    unroll: tuple[tuple[int, int], ...] = ()  # (axis, factor) unrolled into straight-line code
    split_acc: int = 1  # independent accumulators along the vector reduce axis
    order: tuple[int, ...] = ()  # order of the global loops, outermost first
    threads: int = 1
    # loads (indices into Kernel.loads()) whose panel — the reduce axis by the tile's lanes — is copied once per
    # panel into a contiguous scratch array that the reduce loop then reads in order (matmul's B); () is off
    pack: tuple[int, ...] = ()
    # cache blocking of a packed 2-d product (0: off): the reduce loop runs in chunks of `kc` steps (partial sums
    # wait in the output between chunks), the rows axis in blocks of `mc` register tiles and the lane axis in
    # blocks of `nc` tiles (0: one block per thread); the lane operand is packed per lane block and chunk, the
    # broadcast operand (named in `pack` too) per rows block and chunk
    kc: int = 0
    mc: int = 0
    nc: int = 0
    notes: tuple[str, ...] = field(default=(), compare=False)

    def factor(self, axis: int) -> int:
        f = self.width if axis == self.vec_axis else 1
        for a, u in self.unroll:
            if a == axis:
                f *= u
        return f

    def unroll_of(self, axis: int) -> int:
        return dict(self.unroll).get(axis, 1)


# operations (ALU ops + loads, per element) before a kernel is worth splitting across threads: a
# 128K-element elementwise kernel runs in ~16 us, and a hand-off costs a few us with the C launcher
# (runtime/launch.py; ~35 us through the Python pool without it)
THREAD_MIN_WORK = 1 << 21

# a core's L1 data cache and L2, and the last-level cache, where the host does not say (AMD Zen 2-4: 32 KiB,
# 512 KiB-1 MiB, 16-32 MiB per CCX; Intel: 32-48 KiB, 1-2 MiB, 1.5-2.5 MiB per core)
DEFAULT_CACHES = (32 << 10, 512 << 10, 16 << 20)
_SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@functools.cache
def cache_bytes() -> tuple[int, int, int]:
    """(L1 data, L2, L3) bytes (L1 and L2 of one core, the L3 its core shares): Linux's sysfs, else sysconf, else
    DEFAULT_CACHES."""
    l1, l2, l3 = 0, 0, 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in sorted(os.listdir(base)):
            if not d.startswith("index"):
                continue
            with open(f"{base}/{d}/level") as f1, open(f"{base}/{d}/type") as f2, open(f"{base}/{d}/size") as f3:
                level, kind, size = f1.read().strip(), f2.read().strip(), f3.read().strip()
            n = int(size[:-1]) * _SIZE_UNITS[size[-1]] if size[-1:] in _SIZE_UNITS else int(size)
            if level == "1" and kind in ("Data", "Unified"):
                l1 = n
            elif level == "2" and kind in ("Data", "Unified"):
                l2 = n
            elif level == "3" and kind in ("Data", "Unified"):
                l3 = n
    except (OSError, ValueError, KeyError):
        pass
    sizes = [l1, l2, l3]
    for i, name in enumerate(("SC_LEVEL1_DCACHE_SIZE", "SC_LEVEL2_CACHE_SIZE", "SC_LEVEL3_CACHE_SIZE")):
        if sizes[i] <= 0 and name in os.sysconf_names:
            try:
                sizes[i] = os.sysconf(name)
            except (OSError, ValueError):
                pass
    l1, l2, l3 = sizes
    return (l1 if l1 >= 4096 else DEFAULT_CACHES[0]), (l2 if l2 >= 65536 else DEFAULT_CACHES[1]), \
        (l3 if l3 >= l2 and l3 >= 1 << 20 else DEFAULT_CACHES[2])


def _lanes_for(size: int, width: int) -> int:
    """SIMD lanes for an axis of `size`: the full width if it divides size, else the widest of its halvings (down
    to 4) that does — a short contiguous axis (a 4x4 feature map, 12 reduce steps) gets narrower vectors rather
    than none, with 16 float lanes as with 8 — else the full width (which does not divide: no vectors)."""
    lanes = width
    while lanes > 4 and size % lanes:
        lanes //= 2
    return lanes if size % lanes == 0 else width


def choose_opts(k: Kernel, vbytes: int | None = None, caches: tuple[int, ...] | None = None) -> Opts:
    """The heuristic's Opts for k on vbytes-wide SIMD (default: this CPU's) with (L1 data, L2[, L3]) cache sizes
    `caches` (default: this host's, cache_bytes; an L3 not given is this host's)."""
    shape, ng = k.shape, k.n_global
    order = tuple(range(ng))
    if NOOPT:
        return Opts(order=order, notes=("NOOPT",))
    vbytes = vbytes or vector_bytes()
    if k.row:
        return row_opts(k, vbytes)
    itemsize = max(d.itemsize for d in k.dtypes if d.itemsize > 0)
    width = max(1, vbytes // max(itemsize, 4))
    notes: list[str] = []
    vec_axis: int | None = None
    unroll: list[tuple[int, int]] = []
    split_acc = 1
    pack: tuple[int, ...] = ()
    kc = mc = nc = 0
    store_strides = k.store_view().real_strides()
    loads = k.loads()
    load_strides = [k.views[ld.src[1]].index_strides() for ld in loads]

    # 1. SIMD lanes on the contiguous output axis (if the loads are contiguous or broadcast along
    #    it too), else on the reduce axis when the loads are contiguous along that
    # the reduce loop's own loads decide between output and reduce lanes (an epilogue load runs once per output)
    reduce_strides = [k.views[ld.src[1]].index_strides() for ld in loads if ld in k.pre_reduce] \
        if k.reduce is not None else load_strides

    panels_ok = ng > 0 and transposed_panels_pay(shape[ng - 1], shape[-1], itemsize, vbytes)

    def friendly(axis: int) -> int:  # loads that read lanes as one vector or one broadcast scalar (or are packed)
        return sum(1 for s in reduce_strides if s[axis] in (0, 1) or
                   axis < ng and panels_ok and _transposed_panel(k, s, axis))

    full_width = width
    if ng and store_strides[ng - 1] == 1:
        width = _lanes_for(shape[ng - 1], full_width)
    if ng and store_strides[ng - 1] == 1 and shape[ng - 1] % width == 0 and width > 1 and (
            k.reduce is None or len(shape) == ng or friendly(ng - 1) >= friendly(len(shape) - 1)):
        vec_axis = ng - 1
        notes.append(f"vectorize output axis {vec_axis} x{width}")
    elif k.reduce is not None and len(shape) > ng and width > 1:
        last = len(shape) - 1
        width = _lanes_for(shape[last], full_width)
        contiguous = [s[last] == 1 for s in reduce_strides]
        if shape[last] % width == 0 and contiguous and sum(contiguous) * 2 >= len(contiguous):
            vec_axis = last
            notes.append(f"vectorize reduce axis {last} x{width}")
            chunks = shape[last] // width
            for acc in (4, 2):
                if chunks % acc == 0 and chunks >= 4 * acc:
                    split_acc = acc
                    unroll.append((last, acc))
                    notes.append(f"{acc} accumulators")
                    break

    # 2. register tile for matmul-shaped kernels
    if k.reduce is not None and vec_axis is not None and vec_axis < ng and prod(k.reduce_shape) >= 16:
        bcast_on_vec = any(s[vec_axis] == 0 for s in load_strides)
        # rows: an axis along which every vector-loaded operand stays put, so each vector load feeds
        # all rows (matmul: B's panel across rows of A; convolution: an input row across output channels)
        # (only loads inside the reduce loop count: the epilogue's run once per output)
        inner = [k.views[ld.src[1]].index_strides() for ld in loads if ld in k.pre_reduce]
        vector_loads = [s for s in inner if s[vec_axis] != 0]
        row_axis = next((a for a in range(ng - 1, -1, -1) if a != vec_axis and shape[a] >= 4 and vector_loads and
                         all(s[a] == 0 for s in vector_loads) and any(s[a] != 0 for s in inner)), None)
        if row_axis is None:
            row_axis = next((a for a in range(ng - 1, -1, -1) if a != vec_axis and
                             any(s[a] == 0 for s in load_strides) and shape[a] >= 4), None)
        if bcast_on_vec and row_axis is not None:
            # accumulators rows*vecs, plus vecs loaded right-hand vectors and one broadcast must fit
            # the vector registers (16 with AVX2, 32 with AVX-512); 6x2 measured best on AVX2
            tiles = ((6, 4), (8, 3), (6, 2), (4, 2)) if vbytes >= 64 else ((6, 2), (4, 3), (4, 2))
            chunks = shape[vec_axis] // width
            rows, vecs = next(((r, v) for r, v in tiles if chunks % v == 0), (0, 1))
            # one vector per row (an 8-wide output row of a conv): the tile's second dimension is another
            # output axis along which the vector operand moves and the broadcast one stays (the next output
            # row), else more rows
            bcast_loads = [s for s in inner if s[vec_axis] == 0 and s[row_axis] != 0]
            col_axis = next((a for a in range(ng - 1, -1, -1) if a not in (vec_axis, row_axis) and shape[a] >= 2 and
                             all(s[a] == 0 for s in bcast_loads) and all(s[a] != 0 for s in vector_loads)), None) \
                if rows == 0 and vector_loads else None
            cols = next((c for c in ((3, 2) if vbytes >= 64 else (2,)) if shape[col_axis] % c == 0), 0) \
                if col_axis is not None else 0
            if rows == 0:
                rows = (8 if vbytes >= 64 else 6) if cols else (12 if vbytes >= 64 else 8)
            rows = min(rows, shape[row_axis])
            if rows > 1:
                unroll.append((row_axis, rows))
            if vecs > 1:
                unroll.append((vec_axis, vecs))
            if cols and col_axis is not None:
                unroll.append((col_axis, cols))
                notes.append(f"register tile {rows}x{cols}x{width} (axes {row_axis},{col_axis},{vec_axis})")
            else:
                notes.append(f"register tile {rows}x{vecs * width} (axes {row_axis},{vec_axis})")
            # the lane axis outermost: a panel of the vector operand stays in cache (matmul's B) while the
            # broadcast operand (A) streams past it once per panel, which pays while A is small; a large A
            # read with a stride along the reduce (A^T of a weight gradient: one cache line per row per
            # step) is better read once, rows outermost
            a_bytes = sum(prod(shape[a] for a in range(len(shape)) if st[a] != 0) * itemsize
                          for st in inner if st[vec_axis] == 0)
            strided_a = any(st[vec_axis] == 0 and st[-1] not in (0, 1) for st in inner) if len(shape) > ng else False
            if chunks // vecs >= 2 * num_threads() and not (strided_a and a_bytes > cache_bytes()[1]):
                order = (vec_axis, *[a for a in range(ng) if a != vec_axis])
                notes.append("lane axis outermost")
                pack = _pack_choice(k, vec_axis, row_axis, rows, vecs * width, itemsize) if not cols else ()
                if pack:
                    kc, mc, nc, a_pack = _blocking(k, row_axis, vec_axis, rows, vecs * width, itemsize,
                                                   caches or cache_bytes(), vbytes)
                    if kc:
                        pack = (*pack, *a_pack)
                        notes.append(f"cache blocks: reduce chunks of {kc}, rows blocks of {mc * rows}, lane blocks "
                                     f"of {nc * vecs * width}, operands {', '.join(map(str, pack))} packed")
                    elif shape[-1] * vecs * width * itemsize > PACK_MAX_BYTES:
                        pack = ()
                    else:
                        notes.append(f"pack a {shape[-1]}x{vecs * width} panel of operand {pack[0]}")

    # 2b. the same idea when the lanes run along the reduce axis (x @ W.T: both operands
    #     contiguous in k): a tile of outputs, each a vector accumulator, summed across lanes
    #     at the end; 4x2 accumulators measured best on AVX2 (53 vs 21 GFLOP/s untiled)
    if k.reduce is not None and vec_axis is not None and vec_axis >= ng and ng >= 2 and prod(k.global_shape) >= 64:
        bcast_axes = [a for a in range(ng) if any(s[a] == 0 for s in load_strides) and shape[a] >= 2]
        # best: rows where one operand stays put and columns where another does, so each vector load
        # is shared by a whole row or column of the tile (weight gradient of a conv: output x input channels)
        pairs = [(a, b) for a in bcast_axes for b in bcast_axes if a < b and shape[a] >= 4 and shape[b] >= 2 and any(
            s[a] == 0 and s[b] != 0 for s in load_strides) and any(s[b] == 0 and s[a] != 0 for s in load_strides)]
        if pairs:
            best = max(pairs, key=lambda p: (min(shape[p[0]], 4) * min(shape[p[1]], 4), p))
            bcast_axes = [best[0], best[1]]
        if len(bcast_axes) >= 2:
            ra, ca = bcast_axes[-2], bcast_axes[-1]
            rows, cols = (4, 2) if vbytes < 64 else (4, 4)
            unroll = [(ra, min(rows, shape[ra])), (ca, min(cols, shape[ca]))]
            split_acc = 1
            notes.append(f"register tile {rows}x{cols} outputs over the lane (reduce) axis")

    # 3. small reduces are unrolled completely
    if k.reduce is not None and vec_axis is None or (vec_axis is not None and vec_axis < ng):
        for a in range(ng, len(shape)):
            if prod(k.reduce_shape) <= 16 and shape[a] > 1:
                unroll.append((a, shape[a]))
        if prod(k.reduce_shape) <= 16 and len(shape) > ng:
            notes.append("unroll small reduce")

    # 4. threads on the outermost loop
    threads = 1
    work = max(k.flops, prod(shape) * max(1, len(loads)))
    if order:
        outer = order[0]
        f = (width if outer == vec_axis else 1) * dict(unroll).get(outer, 1)
        iters = shape[outer] // f
        if work >= THREAD_MIN_WORK and iters >= 2:
            threads = min(num_threads(), iters)
    if threads > 1:
        notes.append(f"{threads} threads on axis {order[0]}")
    return Opts(vec_axis, width if vec_axis is not None else 1, tuple(unroll), split_acc, order, threads, pack, kc, mc,
                nc, tuple(notes))


# a packed panel lives on the stack of the thread that runs the kernel: at most this many bytes (half an L2)
PACK_MAX_BYTES = 256 << 10


def _pack_choice(k: Kernel, vec_axis: int, row_axis: int, rows: int, panel: int, itemsize: int) -> tuple[int, ...]:
    """The vector operand of a register-tiled reduce to copy into a contiguous panel, if it pays: one reduce
    axis along which it is read with a stride (each step of the reduce loop then touches a new cache line, and
    a stride of a power of two maps them all to the same few cache sets), lanes contiguous, no mask, rows of
    the tile that reuse the panel (whether the panel fits PACK_MAX_BYTES, or is packed a chunk at a time, is the
    caller's)."""
    if len(k.shape) != k.n_global + 1 or k.shape[row_axis] < 2 * rows:
        return ()
    red = len(k.shape) - 1
    if k.shape[red] <= 16:
        return ()
    for i, ld in enumerate(k.loads()):
        if ld not in k.pre_reduce:
            continue
        vs = k.views[ld.src[1]]
        st = vs.index_strides()
        if st[row_axis] == 0 and not vs.masked and ld.dtype.itemsize == itemsize and \
                (st[vec_axis] == 1 and st[red] not in (0, 1) or _transposed_panel(k, st, vec_axis)):
            return (i,)
    return ()


def transposed_panels_pay(lanes: int, reduce: int, itemsize: int, vbytes: int | None = None) -> bool:
    """Whether a transposed operand's packed panels will be taken for an output row of `lanes` over a reduce of
    `reduce`: a reduce longer than 16 (shorter ones are unrolled whole), enough panels for every thread at the
    widest tile (2 vectors, 4 with 64-byte vectors), each within PACK_MAX_BYTES. (linalg copies a transposed
    operand first where they will not.)"""
    vbytes = vbytes or vector_bytes()
    panel = max(1, vbytes // max(itemsize, 4)) * (4 if vbytes >= 64 else 2)
    return reduce > 16 and lanes // panel >= 2 * num_threads() and reduce * panel * itemsize <= PACK_MAX_BYTES


def _transposed_panel(k: Kernel, strides: tuple[int | None, ...], lane_axis: int) -> bool:
    """Whether a load of a product (2-d, or batched: q @ k.T) with these strides is a transposed operand (x @ W.T's
    W.T: read with a stride along the output lanes, contiguously along the one long reduce, and the same for every
    row of another output axis) that a packed panel can take: copied lane by lane, each lane a run of the reduce,
    the product then runs with whole vectors along the lanes like any other (instead of dot products along the
    reduce, or a transposed copy of the operand first)."""
    shape, ng = k.shape, k.n_global
    if ng < 2 or len(shape) != ng + 1 or strides[ng] != 1 or strides[lane_axis] in (0, 1):
        return False
    return any(strides[a] == 0 and shape[a] >= 16 for a in range(ng) if a != lane_axis)  # (batch axes: any)



# blocking starts where the lane panel over the whole reduce exceeds this share of the L2, or where the broadcast
# operand (A), which the unblocked loop reads once per lane panel, exceeds this share of the L3 (beyond it, each
# panel reads A from memory, or from an L3 that other cores share: 4096 squares, 139 -> 159 GFLOP/s same-run medians
# on a 2-core Zen 3 with a 32 MiB L3; 2048 squares (A of 16 MiB), 105.6 -> 118.3 interleaved medians, while 1024
# squares (4 MiB) run fastest unblocked: 125.9 against 107-123 for blocked variants)
BLOCK_PANEL_L2_SHARE = 1.0
BLOCK_ROWS_L3_SHARE = 0.25

# a packed rows block (the broadcast operand over a reduce chunk, re-read from the L2 by every lane tile) fills this
# share of the L2: on a Zen 3 (512 KiB L2), 2048 squares with 60-row blocks ran 125 GFLOP/s against 113-116 with
# 144-246 rows (half an L2), interleaved same-run medians; 4096 squares alike within 1 %
BLOCK_ROWS_L2_SHARE = 0.125

# the lane operand's packed block (reduce chunk by lane block) lives on the stack of the thread that runs the
# kernel, next to the rows block (half an L2): at most this many bytes
BLOCK_PACK_BYTES = 512 << 10

# a reduce chunk is at least this many steps per float32 lane of a vector (256 with AVX2, 512 with AVX-512), as far as
# the lane panel over the chunk fits BLOCK_CHUNK_L2_SHARE of the L2. Each chunk reads and writes the output's partial
# sums once (4 / chunk bytes per float32 flop) and a core's flops per cycle grow with its lanes, so the chunk grows
# with them. The half-L1 rule gives the chunk where it is longer: on AVX2 with an L1 of 32 KiB or more (every AVX2
# x86 core) this floor never binds, and those choices are unchanged. A 6x64 AVX-512 tile's panel (four cache lines a
# step) fills half a 48 KiB L1 in 96 steps: on a 2-core Zen 5 (1 MiB L2), 4096 squares ran 331 GFLOP/s in 96-step
# chunks, 450-486 in 256-512-step ones (same-process medians; the panel's chunk then sits in the L2, 128 KiB)
BLOCK_STEPS_PER_LANE = 32
BLOCK_CHUNK_L2_SHARE = 0.125


def partials_fit_output(k: Kernel) -> bool:
    """Whether a reduce's partial sums can wait in its output between reduce chunks without rounding: one
    float32/float64 store of a sum of the same type, unmasked, and no load reading the buffer it writes."""
    if k.reduce is None or k.reduce.arg[0] is not Ops.ADD or len(k.stores) != 1 or \
            k.reduce.dtype.scalar not in (dtypes.float32, dtypes.float64):
        return False
    buf = k.store.src[0]
    return buf.dtype.scalar == k.reduce.dtype.scalar and not k.store_view().masked and \
        all(ld.src[0].arg != buf.arg for ld in k.loads())


def _blocking(k: Kernel, row_axis: int, vec_axis: int, rows: int, panel: int, itemsize: int,
              caches: tuple[int, ...], vbytes: int) -> tuple[int, int, int, tuple[int, ...]]:
    """Cache blocking of a packed 2-d product: (reduce chunk, rows block and lane block in tiles, the broadcast
    operand to pack), or zeros while the lane panel over the whole reduce fits the L2 and the broadcast operand
    BLOCK_ROWS_L3_SHARE of the L3: the unblocked loop keeps the panel in the L2 and streams the other operand past
    it from the L3, which measured faster than blocking on a Zen 3 host (1024 squares; blocking gained 2-3 % at a
    reduce of 16384, 12 % at a 2048 square, 14 % at a 4096 square). A chunk of a lane panel fills half an L1, or is
    BLOCK_STEPS_PER_LANE steps per lane of a `vbytes` vector long where that is longer and fits the L2's share; a
    packed rows block fills BLOCK_ROWS_L2_SHARE of an L2, a packed lane block at most BLOCK_PACK_BYTES; chunks and
    blocks are balanced (171 row tiles: 5 blocks of 35, not 4 of 42 and 1 of 3).

    The broadcast operand's rows block is packed where the chunk is the L1's (its rows then come from one contiguous
    block in the L2 while the panel's chunk stays in the L1). Where the chunk is longer than the L1 holds, a row
    contiguous along the reduce is read in place: the panel's chunk is re-read from the L2 by every row tile either
    way, and the pack would be a pass over A from memory that no arithmetic overlaps (4096 squares on a 2-core Zen 5,
    512-step chunks: 432-445 GFLOP/s packed, 468-476 read in place)."""
    shape = k.shape
    if k.n_global != 2 or len(shape) != 3 or (row_axis, vec_axis) != (0, 1) or not partials_fit_output(k):
        return 0, 0, 0, ()
    l1, l2 = caches[:2]
    l3 = caches[2] if len(caches) > 2 else cache_bytes()[2]
    m, red = shape[0], shape[2]
    if red * panel * itemsize <= l2 * BLOCK_PANEL_L2_SHARE and m * red * itemsize <= l3 * BLOCK_ROWS_L3_SHARE:
        return 0, 0, 0, ()
    l1_steps = max(16, l1 // 2 // (panel * itemsize))
    long_steps = min(BLOCK_STEPS_PER_LANE * vbytes // 4, int(l2 * BLOCK_CHUNK_L2_SHARE) // (panel * itemsize))
    chunks = -(-red // max(l1_steps, long_steps))
    kc = min(red, (-(-red // chunks) + 15) // 16 * 16)
    tiles = -(-m // rows)
    blocks = -(-tiles // max(1, int(l2 * BLOCK_ROWS_L2_SHARE) // (rows * kc * itemsize)))
    lane_tiles = shape[vec_axis] // panel
    per_thread = -(-lane_tiles // max(1, num_threads()))
    lane_blocks = -(-per_thread // max(1, BLOCK_PACK_BYTES // (kc * panel * itemsize)))
    a_pack = tuple(i for i, ld in enumerate(k.loads()) if ld in k.pre_reduce and ld.dtype.itemsize == itemsize and
                   (st := k.views[ld.src[1]].index_strides())[vec_axis] == 0 and st[row_axis] != 0 and
                   not k.views[ld.src[1]].masked and (long_steps <= l1_steps or st[2] != 1))
    return kc, -(-tiles // blocks), -(-per_thread // lane_blocks), a_pack[:1]


def row_opts(k: Kernel, vbytes: int) -> Opts:
    """A row kernel (several passes over each output row): SIMD lanes and accumulators along the innermost row
    axis where every load and the store run along it contiguously (or stay put), threads over the rows."""
    shape, ng = k.shape, k.n_global
    order, notes = tuple(range(ng)), ["row kernel"]
    last = len(shape) - 1
    itemsize = max(d.itemsize for d in k.dtypes if d.itemsize > 0)
    width = _lanes_for(shape[last], max(1, vbytes // max(itemsize, 4)))
    strides = [k.views[ld.src[1]].index_strides()[last] for ld in k.loads()]
    store = k.store_view().real_strides()[last]
    vec_axis, unroll, split_acc = None, [], 1
    if width > 1 and shape[last] % width == 0 and all(s in (0, 1) for s in strides) and store in (0, 1):
        vec_axis = last
        notes.append(f"vectorize row axis {last} x{width}")
        chunks = shape[last] // width
        split_acc = next((a for a in (4, 2) if chunks % a == 0 and chunks >= 4 * a), 1)
        if split_acc > 1:
            unroll.append((last, split_acc))
            notes.append(f"{split_acc} accumulators")
    threads = 1
    if ng and prod(shape) * max(1, len(strides)) * len(k.reduces) >= THREAD_MIN_WORK and shape[0] >= 2:
        threads = min(num_threads(), shape[0])
        notes.append(f"{threads} threads on axis 0")
    return Opts(vec_axis=vec_axis, width=width if vec_axis is not None else 1, unroll=tuple(unroll),
                split_acc=split_acc, order=order, threads=threads, notes=tuple(notes))
