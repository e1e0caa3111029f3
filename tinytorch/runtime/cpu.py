"""The C device: the system C compiler builds a shared object, ctypes calls it.

Takes: a kernel AST (through CompiledDevice: lower -> render C).
Produces: a Runner around a function from a shared object built with `$CC` (else cc, gcc,
clang) and `-O3 -march=native`, cached on disk by source + flags + compiler version.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from ..codegen.c import CRenderer
from ..codegen.kernel import packs_args
from ..helpers import CACHE_ENTRIES, CANARY, CC, CFLAGS, COMPILE_TIMEOUT, DEBUG, LRU, cpu_flags, vector_bytes
from .cache import private_dir
from .device import CompiledDevice, CompileError, Compiler, Runner


@functools.cache
def find_cc() -> str | None:
    for cand in ([str(CC.value)] if CC.value else []) + ["cc", "gcc", "clang"]:
        path = shutil.which(cand)
        if path:
            return path
    return None


def _other_cc(cc: Any) -> str:
    """The other common compiler to suggest instead of cc (CC=gcc for a clang, else CC=clang)."""
    return "CC=gcc" if "clang" in os.path.basename(str(cc or "")) else "CC=clang"


class CCompiler(Compiler):
    """C source -> shared object bytes with the system compiler.

    The flags, and why each is there:
    - `-O3 -march=native`: the host's full instruction set for our own vector code;
    - `-fno-tree-vectorize`: the renderer already writes the SIMD code (GCC vector extensions,
      lanes chosen by codegen/opt.py). GCC 12's loop/SLP vectorizer, run again over that code at
      `-march` with AVX-512, turned our masked scalar loads and lane-by-lane helpers into
      AVX-512 mask code that crashed it (internal compiler error in `store_constructor`) or
      gave wrong results; the same source was right without it, with clang and at AVX2.
      Auto-vectorization adds nothing the renderer has not chosen (benchmarks/RESULTS.md);
    - `-fno-strict-aliasing`: vector loads and stores go through vector-typed pointers into
      scalar buffers; no type-based alias assumptions are made about them;
    - `-fwrapv`: index arithmetic and integer ops wrap as two's complement (PyTorch's integer
      semantics), never undefined overflow;
    - `-ffp-contract=fast -fno-math-errno -fno-trapping-math`: FMA contraction, no errno writes,
      no trap-preserving scheduling; floating-point results otherwise keep IEEE semantics
      (no -ffast-math: NaN and infinities are values we must get right).
    A compile that crashes the compiler (a signal, an "internal compiler error", a timeout) is
    tried once more with `safe_flags` (-O1, the baseline ISA, no vectorizer; TINYTORCH_CFLAGS is
    not added to them), said at DEBUG>=1.
    """

    name = "c"
    base_flags = ("-O3", "-march=native", "-fPIC", "-shared", "-ffp-contract=fast", "-fno-math-errno",
                  "-fwrapv", "-fno-trapping-math", "-fno-tree-vectorize", "-fno-strict-aliasing", "-std=gnu11", "-w")
    safe_flags = ("-O1", "-fPIC", "-shared", "-fwrapv", "-fno-tree-vectorize", "-fno-strict-aliasing", "-std=gnu11",
                  "-w")

    def __init__(self, cc: str | None = None, extra_flags: tuple[str, ...] = ()):
        self.cc = cc or find_cc()
        self.extra = extra_flags

    def flags(self) -> tuple[str, ...]:
        return self.base_flags + self.extra + tuple(str(CFLAGS.value).split())

    @functools.cache  # noqa: B019 - one compiler object per device
    def version(self) -> str:
        if self.cc is None:
            return "none"
        try:
            out = subprocess.run([self.cc, "--version"], capture_output=True, text=True, timeout=30)
            return out.stdout.splitlines()[0] if out.stdout else "unknown"
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    def run_compiler(self, src: str, flags: tuple[str, ...], out: str) -> tuple[str, str]:
        """One compiler run: ("ok" | "error" | "crash", message). A crash is the compiler's own
        failure (killed by a signal, an internal compiler error, or past COMPILE_TIMEOUT), as
        opposed to an error in the source."""
        assert self.cc is not None
        timeout = float(COMPILE_TIMEOUT.value) or None
        try:
            p = subprocess.run([self.cc, *flags, "-x", "c", "-", "-o", out, "-lm"], input=src,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "crash", f"{self.cc} took longer than COMPILE_TIMEOUT={timeout:g} s and was stopped"
        msg = p.stderr.strip()
        if p.returncode == 0:
            return "ok", msg
        if p.returncode < 0 or "internal compiler error" in msg or "Segmentation fault" in msg:
            return "crash", f"{self.cc} crashed (exit {p.returncode}):\n{msg[-2000:]}"
        return "error", f"{self.cc} exited with {p.returncode}:\n{msg}"

    def compile_uncached(self, src: str) -> bytes:
        if self.cc is None:
            raise CompileError("no C compiler found: install gcc or clang, or set CC=/path/to/cc")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "k.so")
            status, msg = self.run_compiler(src, self.flags(), out)
            if status == "crash":
                if DEBUG >= 1:
                    why = next((ln for ln in msg.splitlines() if "internal compiler error" in ln), msg.splitlines()[0])
                    print(f"tinytorch: the C compiler failed on a kernel with the default flags ({why.strip()}); "
                          f"compiled it again with the safe set {' '.join(self.safe_flags)}", flush=True)
                status, msg2 = self.run_compiler(src, self.safe_flags, out)  # fixed: no extra flags
                msg = msg2 if status != "ok" else msg
            if status != "ok":
                raise CompileError(msg)
            with open(out, "rb") as f:
                return f.read()


# id(lib bytes) -> library, for the last few libraries loaded (the kernels of a batch load it once)
_LOADED: dict[int, tuple[bytes, ctypes.CDLL]] = {}
_LOADED_LOCK = threading.Lock()


def dlopen_bytes(lib: bytes) -> ctypes.CDLL:
    """dlopen the bytes of a trusted shared object, written to a file in this process's private 0700 folder
    (nobody can swap the file between the write and the dlopen) and unlinked after."""
    fd, path = tempfile.mkstemp(suffix=".so", dir=private_dir())
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(lib)
        return ctypes.CDLL(path)
    finally:
        os.unlink(path)


def load_shared_object(lib: bytes, name: str, nbufs: int) -> Callable[..., Any]:
    """dlopen the bytes of a shared object and return its kernel function. The bytes must be
    trusted (Compiler.compile returns only what the compiler made or an authenticated cache
    entry); they are written to a file in this process's private 0700 folder, so nobody can
    swap the file between the write and the dlopen."""
    with _LOADED_LOCK:
        hit = _LOADED.get(id(lib))
    if hit is not None and hit[0] is lib:
        so = hit[1]
    else:
        so = dlopen_bytes(lib)
        with _LOADED_LOCK:
            _LOADED[id(lib)] = (lib, so)
            while len(_LOADED) > 64:
                del _LOADED[next(iter(_LOADED))]
    fn = getattr(so, name)
    fn.argtypes = [ctypes.c_void_p] * (1 if packs_args(nbufs) else nbufs) + [ctypes.c_longlong, ctypes.c_longlong]
    fn.restype = None
    fn._so = so  # keep the library loaded as long as the function lives
    return fn  # type: ignore[no-any-return]


def cpu_model() -> str:
    """The CPU's model name and feature flags: a toolchain passes its canaries on one kind of CPU."""
    model = next((ln.split(":", 1)[1].strip() for ln in _cpuinfo_lines() if ln.startswith("model name")), "")
    return f"{model or platform.machine()} {' '.join(sorted(cpu_flags()))}"


def _cpuinfo_lines() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read(1 << 16).splitlines()
    except OSError:
        return []


@functools.cache
def _package_digest() -> str:
    """A digest of tinytorch's own source: code that renders kernels differently is checked again."""
    h = hashlib.sha256()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for fn in sorted(files):
            if fn.endswith(".py"):
                with open(os.path.join(folder, fn), "rb") as f:
                    h.update(fn.encode() + f.read())
    return h.hexdigest()


class CDevice(CompiledDevice):
    """The C device. Before its first kernel with a given toolchain (compiler, version, flags,
    vector width) it runs the canary programs of runtime/canary.py against INTERP; a toolchain
    that fails them is refused with the list of what differed (CANARY=0 skips the check)."""

    name = "C"

    def __init__(self) -> None:
        super().__init__(CRenderer(), CCompiler(), load_shared_object)
        self._toolchains: dict[tuple[Any, ...], str] = {}  # toolchain -> "" (passed) or what failed
        self._check_lock = threading.RLock()
        self._checking = False
        self._runners_key: tuple[Any, ...] = ()
        self._runners_by_toolchain: dict[tuple[Any, ...], Any] = {}

    def toolchain(self) -> tuple[Any, ...]:
        return (getattr(self.compiler, "cc", None), self.compiler.version(), self.compiler.flags(), vector_bytes())

    def toolchain_problem(self) -> str:
        """"" when this toolchain passed the canaries (running them on first use), else what failed."""
        key = self.toolchain()
        with self._check_lock:
            if key != self._runners_key:  # kernels built by another toolchain are not this one's
                self._runners_by_toolchain[self._runners_key] = self.runners
                self.runners = self._runners_by_toolchain.pop(key, None) or LRU(CACHE_ENTRIES)
                self._runners_key = key
            if not CANARY or find_cc() is None:
                return ""
            state = self._toolchains.get(key)
            if state is not None or self._checking:  # known, or the canaries' own kernels
                return state or ""
            from . import cache
            from .canary import run_canaries

            parts = [repr(key), cpu_model(), _package_digest()]
            if cache.load("canary", parts) == b"pass":  # this toolchain, CPU and code passed before
                self._toolchains[key] = ""
                return ""
            self._checking = True
            st = time.perf_counter()
            try:
                fails = run_canaries(self.name)
            finally:
                self._checking = False
            if DEBUG >= 1:
                print(f"tinytorch: C toolchain check ({key[1]}, {' '.join(key[2])}, {key[3] * 8}-bit vectors): "
                      f"{'PASS' if not fails else 'FAIL'} in {time.perf_counter() - st:.2f} s", flush=True)
            if not fails:
                cache.store("canary", parts, b"pass")
            state = self._toolchains[key] = "" if not fails else (
                f"the C toolchain {key[0]} ({key[1]}) with flags {' '.join(key[2])} computes wrong results "
                f"on this CPU ({key[3] * 8}-bit vectors); refusing it. Canaries that differ from INTERP:\n  "
                + "\n  ".join(fails[:12]) + f"\nUse DEVICE=LLVM, another compiler ({_other_cc(key[0])}), or extra "
                "flags (TINYTORCH_CFLAGS=...); CANARY=0 skips this check.")
            return state

    def searchable(self) -> bool:
        return not self._checking  # the canaries' kernels are not worth a BEAM search

    def build_runner(self, ast: Any) -> Runner:
        problem = self.toolchain_problem()
        if problem:
            raise CompileError(problem)
        return super().build_runner(ast)

    def prepare(self, asts: list[Any]) -> None:
        problem = self.toolchain_problem()
        if problem:
            raise CompileError(problem)
        super().prepare(asts)

    def available(self) -> tuple[bool, str]:
        cc = find_cc()
        if cc is None:
            return False, "no C compiler (cc/gcc/clang) on PATH"
        problem = self.toolchain_problem()
        if problem:
            return False, problem
        return True, f"{cc}: {self.compiler.version()}"
