"""The C backend is right by construction: toolchain canaries, compiler crashes and timeouts,
kernels with many buffers, and the op-table kernels compiled for other CPUs (-march targets)."""

from __future__ import annotations

import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Device
from tinytorch.helpers import Context
from tinytorch.runtime import canary
from tinytorch.runtime.cpu import CCompiler, find_cc
from tinytorch.runtime.device import CompileError

needs_cc = pytest.mark.skipif(find_cc() is None, reason="no C compiler on PATH")
REPO = Path(__file__).resolve().parents[1]


# canaries --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dev", ["C", "LLVM"])
def test_canaries_pass_on_this_machine(dev: str) -> None:
    from tests.conftest import require_device

    require_device(dev)
    assert canary.run_canaries(dev) == []


@pytest.mark.parametrize("dev", ["C", "LLVM"])
def test_canaries_pass_under_no_grad(dev: str) -> None:
    """A program's first compile may happen under no_grad (an eval loop, an optimizer step): the gradient
    canaries still run with gradients on, and the state is restored."""
    from tests.conftest import require_device

    require_device(dev)
    with tt.no_grad():
        assert canary.run_canaries(dev, sizes=(7,)) == []
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()


@pytest.mark.slow
@needs_cc
def test_a_toolchain_that_computes_wrong_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # a toolchain whose square root is wrong (the preprocessor swaps the builtin for the identity)
    monkeypatch.setattr(canary, "SIZES", (7, 17))
    c = Device.get("C")
    bad = "-D__builtin_sqrtf(x)=(x)"
    with Context(TINYTORCH_CFLAGS=bad, TINYTORCH_CACHE=tempfile.mkdtemp()):
        ok, why = c.available()
        assert not ok
        assert "refusing it" in why and bad in why and "differ from INTERP" in why
        with pytest.raises(CompileError, match="canaries|Canaries"):
            (tt.Tensor([1.0, 2.0], device="C") * 3).numpy()
    assert c.available()[0], "the default flags are accepted again once the bad flag is gone"


# compiler crashes and timeouts -----------------------------------------------------------------

def _wrapper(tmp: Path, body: str) -> str:
    """A compiler command that runs `body` (sh) when it sees -O3 and the real compiler otherwise."""
    real = find_cc()
    path = tmp / "cc-wrapper.sh"
    path.write_text(f'#!/bin/sh\ncase " $* " in *" -O3 "*) {body} ;; esac\nexec {real} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _compile_and_run(cc: str, capsys: pytest.CaptureFixture[str], **ctx: object) -> tuple[np.ndarray, str]:
    from tinytorch.runtime.cpu import CDevice

    dev = CDevice()
    dev.compiler = CCompiler(cc)
    tt.runtime.device.register_device("CTEST", lambda: dev)
    try:
        x = np.linspace(-3, 3, 37, dtype=np.float32)
        with Context(TINYTORCH_CACHE=tempfile.mkdtemp(), CANARY=0, DEBUG=1, **ctx):
            got = (tt.Tensor(x, device="CTEST").exp() * 2 + 1).numpy()
        return got, capsys.readouterr().out
    finally:
        tt.runtime.device._FACTORIES.pop("CTEST", None)
        tt.runtime.device._INSTANCES.pop("CTEST", None)


@needs_cc
def test_compiler_crash_falls_back_to_the_safe_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cc = _wrapper(tmp_path, 'echo "<stdin>:1:1: internal compiler error: in expand, at expr.cc:1" >&2; kill -SEGV $$')
    got, out = _compile_and_run(cc, capsys)
    x = np.linspace(-3, 3, 37, dtype=np.float32)
    np.testing.assert_allclose(got, np.exp(x) * 2 + 1, rtol=1e-5)
    assert "internal compiler error" in out and "safe set -O1" in out


@needs_cc
def test_compile_timeout_stops_the_compiler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cc = _wrapper(tmp_path, "exec sleep 30")
    got, out = _compile_and_run(cc, capsys, COMPILE_TIMEOUT=2)
    np.testing.assert_allclose(got, np.exp(np.linspace(-3, 3, 37, dtype=np.float32)) * 2 + 1, rtol=1e-5)
    assert "COMPILE_TIMEOUT=2" in out
    always = tmp_path / "slow.sh"  # every compile hangs (`cc --version` answers)
    always.write_text(f'#!/bin/sh\ncase " $* " in *" -x "*) exec sleep 30 ;; esac\nexec {find_cc()} "$@"\n')
    always.chmod(0o755)
    with pytest.raises(CompileError, match="COMPILE_TIMEOUT"):
        _compile_and_run(str(always), capsys, COMPILE_TIMEOUT=1)


# The shape of kernel gcc 12.2 crashed on: a float -> int64 cast written lane by lane (as the
# renderer once did), which gcc's SLP vectorizer turns into AVX-512 mask code and then fails to
# expand ("internal compiler error: in store_constructor, at expr.cc:7199").
GCC12_ICE = r"""
typedef float f32x8 __attribute__((vector_size(32), aligned(4)));
typedef long long i64x8 __attribute__((vector_size(64), aligned(8)));
static inline __attribute__((always_inline)) i64x8 cast8(f32x8 a) {
  i64x8 r;
  for (int i = 0; i < 8; i++)
    r[i] = a[i] != a[i] ? 0 : a[i] <= -9.2233720368547758e18 ? (-9223372036854775807LL - 1)
         : a[i] >= 9.2233720368547758e18 ? 9223372036854775807LL : (long long)a[i];
  return r;
}
void k(float* restrict in, long long* restrict out, long long start, long long end) {
  for (long long i = start; i < end; i++) *(i64x8*)(out + i * 8) = cast8(*(f32x8*)(in + i * 8));
}
"""


@needs_cc
def test_real_compiler_crash_on_avx512_mask_code(capsys: pytest.CaptureFixture[str]) -> None:
    """With the auto-vectorizer on, gcc 12 crashes on GCC12_ICE for AVX-512; our flags compile
    it, and a crash under other flags falls back to the safe set (the binary is only built: it
    may hold AVX-512 instructions this CPU lacks)."""
    comp = CCompiler()
    assert comp.cc is not None
    if platform.machine() not in ("x86_64", "AMD64") or subprocess.run(
            [comp.cc, "-march=x86-64-v4", "-E", "-x", "c", "-"], input="", capture_output=True).returncode != 0:
        pytest.skip("needs an x86-64 compiler that targets AVX-512 (-march=x86-64-v4)")
    ours = tuple("-march=x86-64-v4" if f == "-march=native" else f for f in comp.flags())
    with tempfile.TemporaryDirectory() as d:
        status, msg = comp.run_compiler(GCC12_ICE, ours, os.path.join(d, "k.so"))
        assert status == "ok", msg
        vectorized = ours + ("-ftree-vectorize",)
        crashed = comp.run_compiler(GCC12_ICE, vectorized, os.path.join(d, "k.so"))[0] == "crash"
    with Context(TINYTORCH_CFLAGS="-march=x86-64-v4 -ftree-vectorize", DEBUG=1):
        lib = comp.compile_uncached(GCC12_ICE)
    assert lib[:4] == b"\x7fELF"
    out = capsys.readouterr().out
    assert ("internal compiler error" in out and "safe set -O1" in out) == crashed, out


# many buffers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("one_kernel", [True, False], ids=["one-kernel", "size-capped"])
def test_a_kernel_reading_1100_buffers(device: str, one_kernel: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,100 inputs in one kernel (the size cap lifted): past ctypes' 1,024 arguments, so packed.
    With the cap (the default), the chain is cut into kernels of at most ~600 ops."""
    from tinytorch.engine import schedule

    if one_kernel:
        monkeypatch.setattr(schedule, "_KERNEL_COST_LIMIT", 10**6)
    n = 1100
    xs = [tt.Tensor(np.full(3, i, np.float32), device=device) for i in range(n)]
    s = xs[0]
    for x in xs[1:]:
        s = s + x
    assert (len(s.schedule()) == 1) == one_kernel
    np.testing.assert_array_equal(s.numpy(), np.full(3, n * (n - 1) / 2, np.float32))


def test_jit_replays_a_kernel_with_packed_arguments(device: str) -> None:
    n = 100  # above codegen.kernel.PACKED_ARGS_ABOVE

    @tt.jit
    def total(*xs: tt.Tensor) -> tt.Tensor:
        s = xs[0]
        for x in xs[1:]:
            s = s + x
        return s

    for k in range(4):
        xs = [tt.Tensor(np.full(5, i + k, np.float32), device=device).realize() for i in range(n)]
        np.testing.assert_array_equal(total(*xs).numpy(), np.full(5, n * (n - 1) / 2 + n * k, np.float32))


# the op-table kernels compiled for other CPUs ----------------------------------------------------

# (-march target, the vector width its widest registers give)
MARCH = [("x86-64-v2", 16), ("x86-64-v3", 32), ("x86-64-v4", 64), ("znver4", 64), ("native", 0)]


@pytest.fixture(scope="module")
def optable_asts() -> list[object]:
    from tests.optable import OPS, sample, seed_for

    asts = []
    for op in OPS:
        for dt in op.dtypes():
            rng = np.random.default_rng(seed_for(op.name, dt.name))
            arrays = [sample(d, s, dt, rng) for d, s in zip(op.domains(), op.shapes)]
            out = op.fn(*[tt.Tensor(a, dtype=dt, device="C") for a in arrays], **op.kwargs)
            for o in out if isinstance(out, (tuple, list)) else (out,):
                asts.extend(k.ast for k in o.schedule())
    return list(dict.fromkeys(asts))


@pytest.mark.slow
@needs_cc
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="-march targets of x86-64")
@pytest.mark.parametrize("march,vbytes", MARCH, ids=[m for m, _ in MARCH])
def test_optable_kernels_compile_for_other_cpus(march: str, vbytes: int, optable_asts: list[object]) -> None:
    """Every op-table kernel, rendered for the target's vector width and compiled with our flags
    for that CPU: a compiler crash on a CPU this machine is not shows up here."""
    comp = CCompiler()
    assert comp.cc is not None
    if march != "native":
        probe = subprocess.run([comp.cc, f"-march={march}", "-E", "-x", "c", "-"], input="", capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"{comp.version()} does not know -march={march}")
    dev = Device.get("C")
    with Context(VECTOR_BYTES=vbytes):
        lowered = [dev.lower(a) for a in optable_asts]  # type: ignore[arg-type]
    flags = tuple(f"-march={march}" if f == "-march=native" else f for f in comp.flags())
    halves = [lowered[: len(lowered) // 2], lowered[len(lowered) // 2:]]  # two compiler runs, one per core

    def build(part: list[dict[str, object]]) -> tuple[str, str]:
        src = dev.renderer.render_batch([(r["name"], r["prog"]) for r in part])
        with tempfile.TemporaryDirectory() as d:
            return comp.run_compiler(src, flags, os.path.join(d, "k.so"))

    with ThreadPoolExecutor(2) as pool:
        for status, msg in pool.map(build, halves):
            assert status == "ok", f"-march={march} ({vbytes * 8 or 'native'}-bit vectors): {msg[:3000]}"


# no undefined behaviour in the emitted C ---------------------------------------------------------

@pytest.mark.slow
@needs_cc
@pytest.mark.skipif(shutil.which("gcc") is None, reason="UBSan runtime of gcc")
def test_canaries_under_the_undefined_behaviour_sanitizer(tmp_path: Path) -> None:
    """The canary programs compiled with -fsanitize=undefined (shifts, overflow, alignment,
    bool/enum loads, out-of-bounds array indexes): any report aborts the process."""
    code = ("from tinytorch.runtime.canary import run_canaries\n"
            "fails = run_canaries('C', sizes=(7, 17))\n"
            "assert not fails, fails\n")
    env = dict(os.environ, TINYTORCH_CFLAGS="-fsanitize=undefined -fno-sanitize-recover=all", CC="gcc",
               TINYTORCH_CACHE=str(tmp_path), CANARY="0", UBSAN_OPTIONS="print_stacktrace=1")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]


# numerics that depend on argument reduction ------------------------------------------------------

def test_sin_gradient_for_large_arguments(device: str) -> None:
    """d sin/dx = cos x, right to float32's absolute precision up to |x| = 1e30 (it was computed as
    sin(pi/2 - x), whose rounding flipped the sign at x = 1e10)."""
    x = np.concatenate([np.logspace(-3, 30, 400), -np.logspace(-3, 12, 100)]).astype(np.float32)
    t = tt.Tensor(x, device=device, requires_grad=True)
    t.sin().sum().backward()
    assert t.grad is not None
    np.testing.assert_allclose(t.grad.numpy(), np.cos(x.astype(np.float64)), rtol=0, atol=5e-7)


@needs_cc
@pytest.mark.parametrize("vbytes", [16, 32, 64])
def test_vector_exp2_clamps_at_every_width(vbytes: int) -> None:
    """exp2 in 4, 8 and 16 float lanes (its clamps are min/max builtins where the compiler has them for the width,
    else selects): the extremes, infinities and NaN as numpy's, every lane of a vector and the remainder."""
    from tinytorch.helpers import cpu_flags

    if vbytes == 64 and "avx512f" not in cpu_flags():
        pytest.skip("no AVX-512 here: 16-lane code cannot run")
    x = np.array([-1000, -200, -151, -150.5, -149.2, -126.3, -1, -0.5, 0, 0.5, 1e-8, 1, 88.7, 127.9, 128, 128.5, 1000,
                  np.inf, -np.inf, np.nan] * 3 + [3.25], np.float32)
    with Context(VECTOR_BYTES=vbytes):
        got = tt.tensor(x, device="C").exp2().numpy()
    with np.errstate(over="ignore"):
        want = np.exp2(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)
    assert np.array_equal(np.isnan(got), np.isnan(x))


@pytest.mark.slow
@needs_cc
def test_a_refused_toolchain_is_said_when_the_default_device_falls_back(tmp_path: Path) -> None:
    """With no DEVICE set, a C toolchain that fails the canaries leaves the default to LLVM (or INTERP) with a
    warning that says why, rather than silently."""
    code = "import tinytorch as tt\nprint('RESULT', (tt.tensor([1.0, 4.0]) * 3).sqrt().numpy().tolist())\n"
    env = {k: v for k, v in os.environ.items() if k != "DEVICE"}
    env.update(TINYTORCH_CFLAGS="-D__builtin_sqrtf(x)=(x)", TINYTORCH_CACHE=str(tmp_path))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "RuntimeWarning: tinytorch: the default device is" in p.stderr and "refusing it" in p.stderr, p.stderr
    assert "RESULT [1.7320507764816284, 3.464101552963257]" in p.stdout, p.stdout
