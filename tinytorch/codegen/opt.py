"""Optimization choices for one kernel: which axis becomes SIMD lanes, what is unrolled
into registers, the loop order, and whether the outer loop is split across threads.

Takes: a `Kernel` (codegen/kernel.py) and the device's vector width.
Produces: `Opts`, applied by codegen/lower.py. Each choice is a small readable rule:

- vectorize (upcast to SIMD lanes) the output axis that is contiguous in memory, or, when
  the output has none, the innermost reduce axis when the inputs are contiguous along it;
- matmul-shaped reduces (one input broadcast along the lane axis, another along a second
  output axis) get a register tile: rows unrolled x vectors unrolled, and the lane axis
  becomes the outer loop so a column panel of the right operand stays in cache (tiling);
- reduces over a contiguous axis keep several accumulators (instruction-level parallelism);
- small reduces (<= 16 elements, e.g. a 3x3 window) are fully unrolled;
- kernels with enough work split their outermost loop across threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..helpers import NOOPT, num_threads, prod, vector_bytes
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
_L2_BYTES = 512 << 10  # a core's L2 (AMD Zen 2-4: 512 KiB-1 MiB; Intel: 1-2 MiB)


def _lanes_for(size: int, width: int) -> int:
    """SIMD lanes for an axis of `size`: the full width, or half of it (down to 4) when only that divides —
    a short contiguous axis (a 4x4 feature map) still gets half-width vectors rather than none."""
    while width > 4 and size % width and size % (width // 2) == 0:
        width //= 2
    return width


def choose_opts(k: Kernel, vbytes: int | None = None) -> Opts:
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
    store_strides = k.store_view().real_strides()
    loads = k.loads()
    load_strides = [k.views[ld.src[1]].index_strides() for ld in loads]

    # 1. SIMD lanes on the contiguous output axis (if the loads are contiguous or broadcast along
    #    it too), else on the reduce axis when the loads are contiguous along that
    # the reduce loop's own loads decide between output and reduce lanes (an epilogue load runs once per output)
    reduce_strides = [k.views[ld.src[1]].index_strides() for ld in loads if ld in k.pre_reduce] \
        if k.reduce is not None else load_strides

    def friendly(axis: int) -> int:  # loads that read lanes as one vector or one broadcast scalar
        return sum(1 for s in reduce_strides if s[axis] in (0, 1))

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
            if chunks // vecs >= 2 * num_threads() and not (strided_a and a_bytes > _L2_BYTES):
                order = (vec_axis, *[a for a in range(ng) if a != vec_axis])
                notes.append("lane axis outermost")
                pack = _pack_choice(k, vec_axis, row_axis, rows, vecs * width, itemsize) if not cols else ()
                if pack:
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
    return Opts(vec_axis, width if vec_axis is not None else 1, tuple(unroll), split_acc, order, threads, pack,
                tuple(notes))


# a packed panel lives on the stack of the thread that runs the kernel: at most this many bytes (half an L2)
PACK_MAX_BYTES = 256 << 10


def _pack_choice(k: Kernel, vec_axis: int, row_axis: int, rows: int, panel: int, itemsize: int) -> tuple[int, ...]:
    """The vector operand of a register-tiled reduce to copy into a contiguous panel, if it pays: one reduce
    axis along which it is read with a stride (each step of the reduce loop then touches a new cache line, and
    a stride of a power of two maps them all to the same few cache sets), lanes contiguous, no mask, rows of
    the tile that reuse the panel, and a panel that fits PACK_MAX_BYTES."""
    if len(k.shape) != k.n_global + 1 or k.shape[row_axis] < 2 * rows:
        return ()
    red = len(k.shape) - 1
    if k.shape[red] * panel * itemsize > PACK_MAX_BYTES or k.shape[red] <= 16:
        return ()
    for i, ld in enumerate(k.loads()):
        if ld not in k.pre_reduce:
            continue
        vs = k.views[ld.src[1]]
        st = vs.index_strides()
        if st[vec_axis] == 1 and st[row_axis] == 0 and st[red] not in (0, 1) and not vs.masked and \
                ld.dtype.itemsize == itemsize:
            return (i,)
    return ()


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
