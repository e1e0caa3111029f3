"""The C device: the system C compiler builds a shared object, ctypes calls it.

Takes: a kernel AST (through CompiledDevice: lower -> render C).
Produces: a Runner around a function from a shared object built with `$CC` (else cc, gcc,
clang) and `-O3 -march=native`, cached on disk by source + flags + compiler version.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from ..codegen.c import CRenderer
from ..helpers import CC
from .cache import private_dir
from .device import CompiledDevice, CompileError, Compiler


@functools.cache
def find_cc() -> str | None:
    for cand in ([str(CC.value)] if CC.value else []) + ["cc", "gcc", "clang"]:
        path = shutil.which(cand)
        if path:
            return path
    return None


class CCompiler(Compiler):
    name = "c"
    base_flags = ("-O3", "-march=native", "-fPIC", "-shared", "-ffp-contract=fast", "-fno-math-errno",
                  "-fwrapv", "-fno-trapping-math", "-std=gnu11", "-w")

    def __init__(self, cc: str | None = None, extra_flags: tuple[str, ...] = ()):
        self.cc = cc or find_cc()
        self.extra = extra_flags

    def flags(self) -> tuple[str, ...]:
        return self.base_flags + self.extra

    @functools.cache  # noqa: B019 - one compiler object per device
    def version(self) -> str:
        if self.cc is None:
            return "none"
        try:
            out = subprocess.run([self.cc, "--version"], capture_output=True, text=True, timeout=30)
            return out.stdout.splitlines()[0] if out.stdout else "unknown"
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    def compile_uncached(self, src: str) -> bytes:
        if self.cc is None:
            raise CompileError("no C compiler found: install gcc or clang, or set CC=/path/to/cc")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "k.so")
            p = subprocess.run([self.cc, *self.flags(), "-x", "c", "-", "-o", out, "-lm"], input=src,
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise CompileError(f"{self.cc} exited with {p.returncode}:\n{p.stderr.strip()}")
            with open(out, "rb") as f:
                return f.read()


# id(lib bytes) -> library, for the last few libraries loaded (the kernels of a batch load it once)
_LOADED: dict[int, tuple[bytes, ctypes.CDLL]] = {}
_LOADED_LOCK = threading.Lock()


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
        fd, path = tempfile.mkstemp(suffix=".so", dir=private_dir())
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(lib)
            so = ctypes.CDLL(path)
        finally:
            os.unlink(path)
        with _LOADED_LOCK:
            _LOADED[id(lib)] = (lib, so)
            while len(_LOADED) > 64:
                del _LOADED[next(iter(_LOADED))]
    fn = getattr(so, name)
    fn.argtypes = [ctypes.c_void_p] * nbufs + [ctypes.c_longlong, ctypes.c_longlong]
    fn.restype = None
    fn._so = so  # keep the library loaded as long as the function lives
    return fn  # type: ignore[no-any-return]


class CDevice(CompiledDevice):
    name = "C"

    def __init__(self) -> None:
        super().__init__(CRenderer(), CCompiler(), load_shared_object)

    def available(self) -> tuple[bool, str]:
        cc = find_cc()
        if cc is None:
            return False, "no C compiler (cc/gcc/clang) on PATH"
        return True, f"{cc}: {self.compiler.version()}"
