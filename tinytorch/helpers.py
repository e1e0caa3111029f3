"""Small shared utilities and the one place where configuration is read.

Takes: environment variables (DEBUG, DEVICE, TINYTORCH_CACHE, NOOPT, ...).
Produces: typed accessors (`getenv`), a `Context` manager that overrides them for a
block, and helpers used by every stage (`prod`, `all_same`, `toposort`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class _Var:
    """A configuration variable: read once from the environment, overridable by Context."""

    def __init__(self, name: str, default: Any):
        self.name, self.default = name, default
        raw = os.environ.get(name)
        self.value: Any = default if raw is None else type(default)(raw) if not isinstance(default, str) else raw

    def __bool__(self) -> bool:
        return bool(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __ge__(self, other: int) -> bool:
        return int(self.value) >= other

    def __gt__(self, other: int) -> bool:
        return int(self.value) > other

    def __repr__(self) -> str:
        return f"{self.name}={self.value!r}"


# Every environment variable tinytorch reads is declared here.
DEBUG = _Var("DEBUG", 0)  # 1 realize summary, 2 kernel lines, 3 ASTs+opts, 4 source, 5 linear uops
DEVICE = _Var("DEVICE", "")  # C | LLVM | INTERP ; empty = fastest that works
NOOPT = _Var("NOOPT", 0)  # 1 disables vectorization/unrolling/threads (debugging aid)
THREADS = _Var("THREADS", 0)  # worker threads for large kernels; 0 = os.cpu_count()
CC = _Var("CC", "")  # C compiler; empty = cc, gcc, clang in that order
CACHE_DIR = _Var("TINYTORCH_CACHE", "")  # compile cache; empty = user cache dir
SPLIT_REDUCE = _Var("SPLIT_REDUCE", 1)  # two-stage reduction of large reduces into few outputs
VIZ = _Var("VIZ", 0)  # 1: write SVGs of every graph, schedule, kernel and rewrite pass to VIZ_DIR (read at import)
VIZ_DIR = _Var("VIZ_DIR", "viz")  # where VIZ=1 writes index.html and the SVGs
SOURCE_LINES = _Var("SOURCE_LINES", 0)  # record the user line that built each tensor (on with DEBUG>=2, VIZ, profile)
_VARS = {v.name: v for v in (DEBUG, DEVICE, NOOPT, THREADS, CC, CACHE_DIR, SPLIT_REDUCE, VIZ, VIZ_DIR, SOURCE_LINES)}


@contextlib.contextmanager
def Context(**kwargs: Any) -> Iterator[None]:
    """Temporarily override configuration: `with Context(DEBUG=2): ...`."""
    old = {}
    for k, v in kwargs.items():
        if k not in _VARS:
            raise KeyError(f"Context: unknown variable {k!r}; known: {sorted(_VARS)}")
        old[k] = _VARS[k].value
        _VARS[k].value = v
    try:
        yield
    finally:
        for k, v in old.items():
            _VARS[k].value = v


def prod(xs: Iterable[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


def all_same(xs: list[Any] | tuple[Any, ...]) -> bool:
    return all(x == xs[0] for x in xs)


def argsort(xs: list[Any] | tuple[Any, ...]) -> list[int]:
    return sorted(range(len(xs)), key=xs.__getitem__)


def cache_dir() -> str:
    """Where compiled kernels are kept: $TINYTORCH_CACHE, else the user cache dir."""
    if CACHE_DIR.value:
        return str(CACHE_DIR.value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    return os.path.join(base, "tinytorch")


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def vector_bytes() -> int:
    """Widest SIMD register of this CPU that the compilers can use (bytes)."""
    flags = cpu_flags()
    if "avx512f" in flags:
        return 64
    if "avx2" in flags or "avx" in flags:
        return 32
    return 16


def user_line() -> str | None:
    """file:line of the innermost caller outside the tinytorch package (VIZ and the profiler name realizes by it)."""
    pkg = os.path.dirname(os.path.abspath(__file__)) + os.sep
    f: Any = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkg):
        f = f.f_back
    return None if f is None else f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"


def num_threads() -> int:
    return int(THREADS) if int(THREADS) > 0 else (os.cpu_count() or 1)
