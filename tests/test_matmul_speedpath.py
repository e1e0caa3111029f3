"""Matmul's fast path (codegen/opt.py + codegen/lower.py): register tiles, the right operand's panel packed
into a contiguous scratch array, ragged edge tiles. Results against numpy (float64) on C and LLVM at sizes
that are not multiples of any tile or vector width, with transposed operands, batches and a fused epilogue —
the shapes where a packing or blocking bug would show — and the choice itself on a known kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.codegen.kernel import analyze
from tinytorch.codegen.opt import BLOCK_CHUNK_L2_SHARE, BLOCK_ROWS_L2_SHARE, choose_opts
from tinytorch.engine.realize import schedule_tensors
from tinytorch.helpers import Context

from .conftest import require_device

COMPILED = ["C", "LLVM"]


@pytest.fixture(params=COMPILED, ids=COMPILED)
def cdev(request: pytest.FixtureRequest) -> str:
    return require_device(request.param)


def _check(got: tt.Tensor, want: np.ndarray, what: str, device: str, k: int) -> None:
    """float32 sums of k products: error grows like sqrt(k) ulps of the largest partial sum."""
    g = got.numpy().astype(np.float64)
    assert g.shape == want.shape, f"{what} on {device}: shape {g.shape}, expected {want.shape}"
    scale = max(float(np.abs(want).max()), 1.0) if want.size else 1.0
    err = np.abs(g - want)
    tol = 1e-5 * max(k, 1) ** 0.5 * scale * 4
    worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
    assert err.size == 0 or err.max() <= tol, \
        f"{what} on {device}: worst {worst} got {g[worst]} want {want[worst]} (tol {tol:.3g}); " \
        f"DEBUG=4 DEVICE={device} shows the kernel"


SQUARE = [1, 7, 16, 65, 257]
SHAPES = [(1, 257, 7), (13, 100, 48), (100, 33, 64), (48, 17, 1000), (97, 130, 40), (12, 64, 24), (31, 520, 72)]


@pytest.mark.parametrize("n", SQUARE)
def test_square(cdev: str, n: int, rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    out = tt.Tensor(a, device=cdev) @ tt.Tensor(b, device=cdev)
    _check(out, a.astype(np.float64) @ b, f"matmul {n}x{n}", cdev, n)


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_rectangular(cdev: str, m: int, k: int, n: int, rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    out = tt.Tensor(a, device=cdev) @ tt.Tensor(b, device=cdev)
    _check(out, a.astype(np.float64) @ b, f"matmul {m}x{k}@{k}x{n}", cdev, k)


@pytest.mark.parametrize("m,k,n", [(65, 130, 48), (24, 1000, 40), (7, 65, 33)])
@pytest.mark.parametrize("form", ["AtB", "ABt", "AtBt"])
def test_transposed(cdev: str, form: str, m: int, k: int, n: int, rng: np.random.Generator) -> None:
    """The products of backward passes: A^T B (weight gradients), A B^T (input gradients, x @ W.T)."""
    a = rng.standard_normal((k, m) if form.startswith("At") else (m, k), np.float32)
    b = rng.standard_normal((n, k) if form.endswith("Bt") else (k, n), np.float32)
    ta, tb = tt.Tensor(a, device=cdev), tt.Tensor(b, device=cdev)
    ta, a64 = (ta.T, a.T.astype(np.float64)) if form.startswith("At") else (ta, a.astype(np.float64))
    tb, b64 = (tb.T, b.T.astype(np.float64)) if form.endswith("Bt") else (tb, b.astype(np.float64))
    _check(ta @ tb, a64 @ b64, f"matmul {form} {m}x{k}@{k}x{n}", cdev, k)


@pytest.mark.parametrize("ash,bsh", [((3, 65, 33), (3, 33, 48)), ((2, 13, 100), (100, 40)), ((65, 33), (2, 33, 24)),
                                     ((4, 1, 20, 64), (3, 64, 17))])
def test_batched(cdev: str, ash: tuple[int, ...], bsh: tuple[int, ...], rng: np.random.Generator) -> None:
    a, b = rng.standard_normal(ash, np.float32), rng.standard_normal(bsh, np.float32)
    out = tt.Tensor(a, device=cdev) @ tt.Tensor(b, device=cdev)
    _check(out, a.astype(np.float64) @ b, f"batched matmul {ash}@{bsh}", cdev, ash[-1])


def test_fused_bias_relu_epilogue(cdev: str, rng: np.random.Generator) -> None:
    """A packed product whose kernel also reads a bias after the reduce (the epilogue's loads are not packed)."""
    a, w, bias = (rng.standard_normal(s, np.float32) for s in ((67, 96), (96, 80), (80,)))
    out = (tt.Tensor(a, device=cdev) @ tt.Tensor(w, device=cdev) + tt.Tensor(bias, device=cdev)).relu()
    _check(out, np.maximum(a.astype(np.float64) @ w + bias, 0), "relu(a @ w + bias)", cdev, 96)


def test_half_operands(cdev: str, rng: np.random.Generator) -> None:
    """float16 operands: the panel holds them as stored, the reduce widens each read to float32."""
    a, b = rng.standard_normal((40, 64), np.float32), rng.standard_normal((64, 48), np.float32)
    a16, b16 = a.astype(np.float16), b.astype(np.float16)
    out = (tt.Tensor(a16, device=cdev) @ tt.Tensor(b16, device=cdev)).float()
    want = a16.astype(np.float64) @ b16.astype(np.float64)
    err = np.abs(out.numpy() - want).max()
    assert err <= 2e-3 * np.abs(want).max(), f"float16 matmul on {cdev}: max error {err}"


def test_gradients_through_packed_products(cdev: str, rng: np.random.Generator) -> None:
    """dA = g B^T and dB = A^T g: both run as register-tiled (and packed) products."""
    a, b, g = (rng.standard_normal(s, np.float32) for s in ((70, 90), (90, 50), (70, 50)))
    ta = tt.Tensor(a, device=cdev, requires_grad=True)
    tb = tt.Tensor(b, device=cdev, requires_grad=True)
    ((ta @ tb) * tt.Tensor(g, device=cdev)).sum().backward()
    assert ta.grad is not None and tb.grad is not None
    _check(ta.grad, g.astype(np.float64) @ b.T, "dA = g @ B^T", cdev, 50)
    _check(tb.grad, a.T.astype(np.float64) @ g, "dB = A^T @ g", cdev, 70)


def _matmul_opts(m: int, k: int, n: int, vbytes: int):
    a, b = tt.Tensor(np.ones((m, k), np.float32)), tt.Tensor(np.ones((k, n), np.float32))
    kernels, _ = schedule_tensors([a @ b])
    return choose_opts(analyze(kernels[-1].ast), vbytes)


@pytest.mark.parametrize("vbytes", [32, 64])
def test_matmul_packs_the_right_operand(vbytes: int) -> None:
    """A product with rows to reuse the panel packs B (AVX2 and AVX-512 tiles alike); a reduce of <= 16
    (unrolled whole) or a single tile of rows does not."""
    with Context(THREADS=2):
        o = _matmul_opts(96, 64, 256, vbytes)
        assert o.pack and any(a == o.vec_axis for a, _ in o.unroll), o.notes
        assert not _matmul_opts(96, 16, 256, vbytes).pack
        assert not _matmul_opts(4, 64, 256, vbytes).pack


@pytest.mark.parametrize("vbytes", [32, 64])
def test_packed_program_reads_b_from_the_panel(vbytes: int) -> None:
    """The lowered program copies B once per panel into a DEFINE_LOCAL and the reduce loop reads only it."""
    from tinytorch.codegen.lower import lower
    from tinytorch.ops.uop import Ops

    a, b = tt.Tensor(np.ones((96, 64), np.float32)), tt.Tensor(np.ones((64, 256), np.float32))
    kernels, _ = schedule_tensors([a @ b])
    k = analyze(kernels[-1].ast)
    with Context(THREADS=2):
        o = choose_opts(k, vbytes)
    prog, _ = lower(k, o)
    locals_ = [u for u in prog if u.op is Ops.DEFINE_LOCAL]
    assert len(locals_) == 1 and locals_[0].arg[1] == 64 * o.factor(o.vec_axis)
    b_buf = k.loads()[o.pack[0]].src[0]
    stores = [u for u in prog if u.op is Ops.STORE and u.src[0] is locals_[0]]
    b_reads = [u for u in prog if u.op is Ops.LOAD and u.src[0] is b_buf]
    assert stores and len(b_reads) == len(stores)  # B is read only by the copy
    ranges = [i for i, u in enumerate(prog) if u.op is Ops.RANGE]
    assert prog.index(locals_[0]) < ranges[-1]  # the copy comes before the reduce loop


# cache blocking (opt._blocking, lower.lower_blocked): forced on small products by pretending the host has tiny
# caches, then run next to the unblocked kernel on the same inputs. Each chunk's sum is added to the partial sums
# waiting in the float32/float64 output, so the two agree to within one rounding per chunk.
TINY_CACHES = (2048, 8192)  # (L1 data, L2): a 16-lane float32 panel blocks beyond a reduce of 128


def _product_kernel(form: str, m: int, k: int, n: int, dtype: str = "float32", epilogue: bool = False):
    a = tt.Tensor(np.ones((k, m) if form == "AtB" else (m, k), dtype))
    b = tt.Tensor(np.ones((k, n), dtype))
    out = (a.T if form == "AtB" else a) @ b
    if epilogue:
        out = (out + tt.Tensor(np.ones((n,), dtype))).relu()
    kernels, _ = schedule_tensors([out])
    return kernels[-1].ast, analyze(kernels[-1].ast)


def _run_both(dev_name: str, ast, k, blocked):
    """Outputs of the heuristic's unblocked kernel and of `blocked` on the same random inputs."""
    import dataclasses

    from tinytorch.codegen.search import _Scratch, buffer_specs, build
    from tinytorch.runtime.device import Device

    dev = Device.get(dev_name)
    plain = dataclasses.replace(blocked, kc=0, mc=0, nc=0, pack=blocked.pack[:1])
    runners = build(dev, k, [plain, blocked])
    assert all(r is not None for r in runners), f"a kernel failed to lower or compile: {blocked.notes}"
    specs, written, _ = buffer_specs(ast)
    s = _Scratch(dev, specs, written)
    outs = []
    for r in runners:
        s.reset()
        r._run(s.bufs)
        outs.append(s.outputs()[0])
    return outs


def _same_sums(plain: np.ndarray, blocked: np.ndarray, k: int, what: str) -> None:
    """The blocked kernel's sums against the unblocked one's: the same up to a few roundings of sums of k products
    (a chunk missing or counted twice, a tile written to the wrong place, differs by whole products)."""
    eps = np.finfo(plain.dtype).eps
    scale = np.abs(plain).max() + np.finfo(plain.dtype).tiny
    diff = np.abs(plain.astype(np.float64) - blocked.astype(np.float64)).max()
    assert plain.shape == blocked.shape and diff <= 4 * k * eps * scale, f"{what}: max diff {diff} (scale {scale})"


BLOCKED = [("AB", 65, 200, 64), ("AB", 97, 130, 80), ("AB", 13, 257, 96), ("AB", 200, 256, 128), ("AtB", 70, 300, 64)]


@pytest.mark.parametrize("form,m,k,n", BLOCKED)
def test_blocked_matches_unblocked(cdev: str, form: str, m: int, k: int, n: int) -> None:
    """Several reduce chunks (ragged last one), rows blocks (a ragged last tile), lane blocks split across two
    threads; the left operand packed whole vectors at a time (k of 200, 256) or element by element (130, 257, and
    A^T read with a stride): the unblocked kernel's result to within the rounding of the chunks' sums."""
    _check_blocked(cdev, form, m, k, n, 32)


@pytest.mark.parametrize("form,m,k,n", [("AB", 97, 200, 256), ("AtB", 70, 300, 320)])
def test_blocked_avx512_tiles(cdev: str, form: str, m: int, k: int, n: int) -> None:
    """The AVX-512 choice (16 lanes, 6x64 tiles), rendered for this CPU (wide vectors split by the compiler)."""
    _check_blocked(cdev, form, m, k, n, 64)


def _check_blocked(cdev: str, form: str, m: int, k: int, n: int, vbytes: int) -> None:
    ast, kern = _product_kernel(form, m, k, n)
    with Context(THREADS=2):
        o = choose_opts(kern, vbytes, caches=TINY_CACHES)
    assert o.kc and o.kc < k and o.mc and o.nc and len(o.pack) == 2, o.notes
    plain, blocked = _run_both(cdev, ast, kern, o)
    _same_sums(plain, blocked, k, f"{form} {m}x{k}x{n} on {cdev}")


# AVX-512 tiles on a host whose L2 holds a chunk of the lane panel far longer than half its L1 does: the chunks run
# BLOCK_STEPS_PER_LANE steps per lane as far as the L2's share allows (here 64: 2 KiB L1, 128 KiB L2), and a left
# operand contiguous along the reduce is read in place instead of packed (A^T, strided along it, is still packed)
WIDE_CHUNK_CACHES = (2048, 128 << 10, 64 << 10)


@pytest.mark.parametrize("form,m,k,n,packs", [("AB", 97, 200, 256, 1), ("AtB", 70, 300, 256, 2)])
def test_blocked_long_chunks(cdev: str, form: str, m: int, k: int, n: int, packs: int) -> None:
    """Chunks longer than the L1's half (A read in place, or packed where strided): the unblocked kernel's sums."""
    ast, kern = _product_kernel(form, m, k, n)
    with Context(THREADS=2):
        o = choose_opts(kern, 64, caches=WIDE_CHUNK_CACHES)
    assert o.kc == 64 and o.mc and o.nc and len(o.pack) == packs, o.notes
    plain, blocked = _run_both(cdev, ast, kern, o)
    _same_sums(plain, blocked, k, f"{form} {m}x{k}x{n}, {o.kc}-step chunks on {cdev}")


@pytest.mark.parametrize("dtype", ["float64", "float32-epilogue"])
def test_blocked_float64_and_epilogue(cdev: str, dtype: str) -> None:
    """float64 (4 lanes on AVX2) and a fused bias + relu, which must run once, after the last chunk."""
    dt, epi = dtype.split("-")[0], dtype.endswith("epilogue")
    ast, kern = _product_kernel("AB", 50, 300, 64, dt, epi)
    with Context(THREADS=2):
        o = choose_opts(kern, 32, caches=TINY_CACHES)
    assert o.kc and o.kc < 300, o.notes
    plain, blocked = _run_both(cdev, ast, kern, o)
    _same_sums(plain, blocked, 300, f"{dtype} on {cdev}")


def test_blocking_follows_the_cache_sizes() -> None:
    """Chunks fill half an L1 with a lane panel, rows blocks BLOCK_ROWS_L2_SHARE of an L2; a product whose panel over
    the whole reduce fits the L2 and whose left operand fits BLOCK_ROWS_L3_SHARE of the L3 is left unblocked; a
    half-precision output (partial sums would be rounded) is never chunked."""
    _, kern = _product_kernel("AB", 600, 16384, 256)  # A: 39 MB, a 16-lane panel over the reduce: 1 MiB
    big_l3 = 1 << 30
    with Context(THREADS=2):
        o = choose_opts(kern, 32, caches=(32 << 10, 512 << 10, big_l3))
        fit = int((512 << 10) * BLOCK_ROWS_L2_SHARE) // (6 * 256 * 4)  # 6-row tiles of a 256-step chunk in the share
        assert o.kc == 256 and o.mc <= fit and -(-100 // o.mc) == -(-100 // fit), o.notes  # 100 tiles, balanced
        assert o.nc * 16 * o.kc * 4 <= 512 << 10 and len(o.pack) == 2, o.notes
        wide = choose_opts(kern, 32, caches=(64 << 10, 512 << 10, big_l3))
        assert wide.kc == 512 and not choose_opts(kern, 32, caches=(32 << 10, 2 << 20, big_l3)).kc, wide.notes
        # the same panel in a 2 MiB L2, but A beyond the share of a 32 MiB L3: each panel would read A from memory
        assert choose_opts(kern, 32, caches=(32 << 10, 2 << 20, 32 << 20)).kc == 256
        _, half = _product_kernel("AB", 600, 16384, 256, "float16")
        assert not choose_opts(half, 32, caches=TINY_CACHES).kc


def test_wide_vectors_chunk_longer() -> None:
    """With 64-byte vectors a 6x64 tile's panel fills half a 48 KiB L1 in 96 steps; the chunk is BLOCK_STEPS_PER_LANE
    steps per lane instead (512) while that chunk of the panel fits BLOCK_CHUNK_L2_SHARE of the L2 (1 MiB: yes;
    256 KiB: 128 steps), and A, read along its rows, is not packed. AVX2 keeps the L1's chunk (256 steps)."""
    _, kern = _product_kernel("AB", 4096, 4096, 4096)
    with Context(THREADS=2):
        wide = choose_opts(kern, 64, caches=(48 << 10, 1 << 20, 32 << 20))
        assert wide.kc == 512 and wide.pack == (1,), wide.notes
        small_l2 = choose_opts(kern, 64, caches=(48 << 10, 256 << 10, 32 << 20))
        assert small_l2.kc == int((256 << 10) * BLOCK_CHUNK_L2_SHARE) // (64 * 4) and small_l2.pack == (1,)
        narrow = choose_opts(kern, 32, caches=(32 << 10, 1 << 20, 32 << 20))
        assert narrow.kc == 256 and len(narrow.pack) == 2, narrow.notes


@pytest.mark.parametrize("n,blocked", [(1024, False), (2048, True), (4096, True)])
def test_square_blocking_by_the_l3(n: int, blocked: bool) -> None:
    """Squares on a 32 KiB / 512 KiB / 32 MiB host: the left operands of 2048 and 4096 squares (16 and 64 MiB) are
    beyond a quarter of the L3, so their products are blocked; 1024 (A of 4 MiB) keeps the panel-outermost loop."""
    _, kern = _product_kernel("AB", n, n, n)
    with Context(THREADS=2):
        o = choose_opts(kern, 32, caches=(32 << 10, 512 << 10, 32 << 20))
    assert bool(o.kc) is blocked and len(o.pack) == (2 if blocked else 1), o.notes


def test_blocked_program_packs_both_operands() -> None:
    """The lowered program holds two scratch arrays (B's block over a chunk, A's rows block), reads A and B only to
    copy them, prefetches each tile's output lines (one per tile row: 16 float32 lanes) before its reduce loop, and
    adds each chunk after the first to the output's partial sums after it."""
    from tinytorch.codegen.lower import lower
    from tinytorch.dtype import dtypes
    from tinytorch.ops.uop import Ops

    _, kern = _product_kernel("AB", 97, 200, 64)
    with Context(THREADS=2):
        o = choose_opts(kern, 32, caches=TINY_CACHES)
    prog, outer = lower(kern, o)
    locals_ = [u for u in prog if u.op is Ops.DEFINE_LOCAL]
    assert sorted(u.arg[1] for u in locals_) == sorted([o.nc * 16 * o.kc, o.mc * 6 * o.kc]), o.notes
    loads = kern.loads()
    a_buf, b_buf, out_buf = loads[o.pack[1]].src[0], loads[o.pack[0]].src[0], kern.store.src[0]
    copies = [u for u in prog if u.op is Ops.STORE and u.src[0] in locals_]
    reads = [u for u in prog if u.op is Ops.LOAD and u.src[0] in (a_buf, b_buf)]
    assert len(reads) == len(copies)  # every read of A or B feeds a copy
    reduce_loop = max(i for i, u in enumerate(prog) if u.op is Ops.RANGE)
    prefetches = [i for i, u in enumerate(prog) if u.op is Ops.LOAD and u.dtype == dtypes.void]
    assert len(prefetches) == 6 and all(prog[i].src[0] is out_buf and i < reduce_loop for i in prefetches)
    partials = [i for i, u in enumerate(prog) if u.op is Ops.LOAD and u.src[0] is out_buf and u.dtype.count > 1]
    assert len(partials) == 12 and min(partials) > reduce_loop  # partial sums read back after the reduce loop
    assert outer == 2  # one lane block per thread


@pytest.mark.parametrize("m,k,n", [(389, 263, 517), (16, 40, 9), (33, 7, 1001), (5, 12, 13)])
def test_odd_output_rows_run_in_vectors(cdev: str, m: int, k: int, n: int, rng: np.random.Generator) -> None:
    """An output row no lane count divides (517, 1001) is computed in rows padded to whole vectors, its first n
    columns kept: the product kernel is vectorized, values and gradients match numpy's, and nothing of the
    padding leaks into the result or the gradients."""
    torch = pytest.importorskip("torch")

    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    ta, tb = tt.Tensor(a, device=cdev, requires_grad=True), tt.Tensor(b, device=cdev, requires_grad=True)
    out = ta @ tb
    kernels = schedule_tensors([out])[0]
    products = [kn for kn in kernels if kn.ast.src and analyze(kn.ast).reduce is not None]
    # this CPU's vectors, and both AVX2's 8 and AVX-512's 16 float lanes (12 reduce steps take 4 of either)
    for vbytes in (None, 32, 64):
        assert products and all(choose_opts(analyze(kn.ast), vbytes).vec_axis is not None for kn in products), \
            f"{m}x{k}@{k}x{n}: the product kernel is not vectorized with {vbytes or 'this CPU'}-byte vectors"
    _check(out, a.astype(np.float64) @ b, f"matmul {m}x{k}@{k}x{n}", cdev, k)
    g = rng.standard_normal((m, n), np.float32)
    (out * tt.Tensor(g, device=cdev)).sum().backward()
    ra, rb = torch.tensor(a, dtype=torch.float64, requires_grad=True), torch.tensor(b, dtype=torch.float64,
                                                                                   requires_grad=True)
    ((ra @ rb) * torch.tensor(g, dtype=torch.float64)).sum().backward()
    _check(ta.grad, ra.grad.numpy(), "d/da", cdev, n)
    _check(tb.grad, rb.grad.numpy(), "d/db", cdev, m)
