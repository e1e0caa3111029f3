"""The LLVM backend (codegen/llvm.py + runtime/llvm.py) against numpy and the C reference.

Takes: small workloads that reach every part of the renderer: broadcasting chains, the
float32 exp2/log2/sin approximations (scalar tail and 8-lane vectors, special values), C's
integer division rules, saturating and rounding casts, reductions, matmul register tiles,
masked (padded) loads and stores, gathers. Produces: pass/fail with numpy-style reports that
name the op and the command that prints the IR (DEBUG=4 DEVICE=LLVM ...).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Device

LLVM_OK, LLVM_WHY = Device.get("LLVM").available()
pytestmark = pytest.mark.skipif(not LLVM_OK, reason=f"LLVM device unavailable: {LLVM_WHY}")
HINT = "rerun with DEBUG=4 DEVICE=LLVM to see the IR"
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, np.nan, 1e-40, 1e-30, 1e30, -1e30, 88.0, 130.0,
                    -130.0, -150.0, 3e9], np.float32)


def llvm(fn, *arrays: np.ndarray) -> np.ndarray:
    return fn(*[tt.Tensor(a, device="LLVM") for a in arrays]).numpy()


def check(got: np.ndarray, want: np.ndarray, op: str, rtol: float, atol: float = 0.0) -> None:
    assert got.shape == want.shape, f"{op}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=f"op {op} on LLVM; {HINT}")


def test_broadcast_chain(rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((33, 17)).astype(np.float32), rng.standard_normal(17).astype(np.float32)
    got = llvm(lambda x, y: ((x + y) * x - y).relu().sqrt(), a, b)
    want = np.sqrt(np.maximum((a.astype(np.float64) + b) * a - b, 0))
    check(got, want, "((a+b)*a-b).relu().sqrt()", rtol=1e-6)


def test_compare_where_nan(rng: np.random.Generator) -> None:
    x = np.concatenate([rng.standard_normal(30), SPECIAL]).astype(np.float32)
    y = rng.permutation(x)
    with np.errstate(invalid="ignore"):
        for op, fn in (("<", lambda a, b: a < b), ("!=", lambda a, b: a != b), ("==", lambda a, b: a == b)):
            np.testing.assert_array_equal(llvm(fn, x, y), fn(x, y), err_msg=f"float32 {op} with NaN/inf; {HINT}")
        got = llvm(lambda a, b: a.where(a < b, b * 2) + a.maximum(b), x, y)
        check(got, np.where(x < y, x, y * 2.0) + np.maximum(x, y), "where(a<b, a, 2b) + maximum(a, b)", rtol=1e-7)


@pytest.mark.parametrize("n", [5, 1003], ids=["scalar", "vector"])
@pytest.mark.parametrize("name", ["exp2", "log2", "sin"])
def test_transcendentals_float32(name: str, n: int, rng: np.random.Generator) -> None:
    x = np.concatenate([rng.uniform(-60, 60, n), SPECIAL]).astype(np.float32)
    if name == "log2":
        x = np.abs(x) * np.where(np.arange(x.size) % 7 == 0, -1, 1).astype(np.float32)  # a few negatives: NaN
    t = tt.Tensor(x, device="LLVM")
    out = getattr(t, name)()
    (item,) = out.schedule()
    src = Device.get("LLVM").get_runner(item.ast).src
    assert f"@tt_{name}_" in src and f"@{name}f(" not in src, "float32 math must be our inline polynomial, not libm"
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x.astype(np.float64)).astype(np.float32).astype(np.float64)  # overflow -> inf
    got = out.numpy()
    assert (np.isnan(got) == np.isnan(want)).all(), f"{name}: NaN where numpy has none (or the reverse); {HINT}"
    # sin of a huge argument is only meaningful in its NaN-ness (checked above); log2 of a denormal is -inf (as in
    # the C prelude); denormal results of exp2 are compared with an absolute tolerance of one denormal step
    keep = np.abs(x) < 1e4 if name == "sin" else (np.abs(x) >= 1.2e-38) | (x == 0) if name == "log2" else \
        np.ones(x.shape, bool)
    check(got[keep], want[keep], name, rtol=2e-6, atol=2e-6 if name != "exp2" else 1.5e-45)


def test_integer_division_follows_c_renderer(rng: np.random.Generator) -> None:
    a = np.concatenate([rng.integers(-1000, 1000, 29), [-(2**31), -(2**31), 7, -7, 0]]).astype(np.int32)
    b = np.concatenate([rng.integers(1, 30, 29) * rng.choice([-1, 1], 29), [-1, 1, 3, -3, 5]]).astype(np.int32)
    for op, fn in (("//", lambda x, y: x // y), ("%", lambda x, y: x % y), ("<<", lambda x, y: x << (y & 7)),
                   (">>", lambda x, y: x >> (y & 7))):
        got = llvm(fn, a, b)
        ref = fn(tt.Tensor(a, device="C"), tt.Tensor(b, device="C")).numpy()
        np.testing.assert_array_equal(got, ref, err_msg=f"int32 {op} differs from the C device; {HINT}")
        ok = (b != 0) & (b != -1)
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(got[ok], fn(a.astype(np.int64), b.astype(np.int64))[ok].astype(np.int32),
                                          err_msg=f"int32 {op} vs numpy; {HINT}")


@pytest.mark.parametrize("dt", ["int8", "uint8", "int32", "int64"])
def test_float_to_int_casts_saturate(dt: str) -> None:
    x = np.array([np.nan, np.inf, -np.inf, 1e10, -1e10, 3.7, -3.7, 300.0, -300.0, 127.9, 0.0], np.float32)
    lo, hi = int(np.iinfo(dt).min), int(np.iinfo(dt).max)
    want = np.array([0 if v != v else lo if v <= lo else hi if v >= hi else int(v) for v in x.tolist()], dt)
    got = llvm(lambda t: t.cast(dt), np.concatenate([x] * 3))  # 33 values: a vector body and a scalar tail
    np.testing.assert_array_equal(got, np.concatenate([want] * 3), err_msg=f"float32 -> {dt}; {HINT}")


def test_half_and_bfloat16_round_to_nearest_even(rng: np.random.Generator) -> None:
    x = np.concatenate([rng.standard_normal(40) * 100, [1 + 2**-8, 1 + 3 * 2**-8, 65504, 7e4, np.nan]])
    x = x.astype(np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    bf = (((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
    # realize in between: the rounding happens in the store of one kernel, the widening in the next one's load
    check(llvm(lambda t: t.bfloat16().realize().float(), x), bf, "float32 -> bfloat16 -> float32", rtol=0)
    with np.errstate(over="ignore"):
        half = x.astype(np.float16).astype(np.float64)
    check(llvm(lambda t: t.half().realize().float(), x), half, "float32 -> half -> float32", rtol=0)
    want = (x > 0) + (x != 0).astype(np.int32)
    check(llvm(lambda t: (t > 0).float() + t.bool().int(), x), want, "bool casts", rtol=0)


def test_reductions(rng: np.random.Generator) -> None:
    a = rng.standard_normal((37, 70)).astype(np.float32)
    a64 = a.astype(np.float64)
    for axis in (None, 0, 1):
        check(llvm(lambda t, ax=axis: t.sum(ax), a), a64.sum(axis), f"sum({axis})", rtol=1e-5, atol=1e-5)
        check(llvm(lambda t, ax=axis: t.amax(ax), a), a64.max(axis), f"max({axis})", rtol=0)
    check(llvm(lambda t: (t * 0.1 + 1).prod(1), a), (a64 * 0.1 + 1).prod(1), "prod(1)", rtol=1e-5)
    e = np.exp(a64 - a64.max(1, keepdims=True))
    check(llvm(lambda t: t.softmax(1), a), e / e.sum(1, keepdims=True), "softmax", rtol=1e-5)
    a[3, 5] = a[30, 0] = np.nan
    check(llvm(lambda t: t.amax(1), a), a.astype(np.float64).max(1), "max(1) with a NaN", rtol=0)
    check(llvm(lambda t: t.amax(0), a), a.astype(np.float64).max(0), "max(0) with a NaN", rtol=0)


@pytest.mark.parametrize("m,k,n", [(7, 5, 3), (64, 32, 48), (256, 256, 256), (13, 130, 71)])
def test_matmul(m: int, k: int, n: int, rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    check(llvm(lambda x, y: x @ y, a, b), a.astype(np.float64) @ b, f"matmul {m}x{k}@{k}x{n}", rtol=1e-4, atol=1e-4)


def test_views_pad_flip_gather(rng: np.random.Generator) -> None:
    a = rng.standard_normal((33, 17)).astype(np.float32)
    check(llvm(lambda t: t.pad((3, 5, 1, 2)) * 2, a), np.pad(a, ((1, 2), (3, 5))) * 2.0, "pad", rtol=0)
    check(llvm(lambda t: t.flip(1)[3:20:2] - 1, a), a[3:20:2, ::-1] - 1.0, "flip+slice", rtol=0)
    i = rng.integers(0, 33, 10)
    check(llvm(lambda t, j: t[j], a, i), a[i], "gather", rtol=0)


def test_compile_cache_and_errors(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinytorch.helpers import Context
    from tinytorch.runtime.device import CompileError
    from tinytorch.runtime.llvm import LLVMCompiler

    src = "define void @k(ptr %p) {\nentry:\n  store float 1.0, ptr %p\n  ret void\n}\n"
    comp = LLVMCompiler()
    with Context(TINYTORCH_CACHE=str(tmp_path)):
        obj = comp.compile(src)
        assert obj[:4] == b"\x7fELF" if sys.platform.startswith("linux") else obj

        def no_compile(self: LLVMCompiler, s: str) -> bytes:
            raise AssertionError("the second compile must come from the disk cache")

        monkeypatch.setattr(LLVMCompiler, "compile_uncached", no_compile)
        assert comp.compile(src) == obj
        monkeypatch.undo()
        with pytest.raises(CompileError, match="LLVM rejected"):
            comp.compile("define void @k( {")


def test_kernels_load_after_gigabytes_were_mapped(tmp_path) -> None:
    """MCJIT maps a kernel's code, its constants and the C library it calls apart: once the process has mapped
    gigabytes in between (large tensors), kernels must still load and run (with 32-bit PC-relative references,
    LLVM aborted the whole process after a few dozen kernels)."""
    import os
    import subprocess
    import textwrap

    script = textwrap.dedent("""
        import mmap
        import numpy as np, tinytorch as tt
        keep, n = [], 0
        for i in range(24):
            # 4 GiB of address space, reserved and never usable (no memory is committed)
            keep.append(mmap.mmap(-1, 1 << 32, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=0))
            for j in range(4):  # new kernels: constants in their pools, sin's call into libm for huge arguments
                c = 0.01 + (4 * i + j) / 1024
                x = tt.arange(64, device="LLVM", dtype=tt.float32)
                got = ((x * c).exp() + 0.5 * j).sin().sum().item()
                want = float(np.sum(np.sin(np.exp(np.arange(64, dtype=np.float64) * c) + 0.5 * j)))
                assert abs(got - want) <= 1e-4 * 64, (i, j, got, want)
                n += 1
        print("loaded", n)
    """)
    env = dict(os.environ, TINYTORCH_CACHE=str(tmp_path))  # (compiled now, not read from an older cache)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0 and "loaded 96" in out.stdout, out.stderr[-1500:]
