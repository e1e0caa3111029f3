"""Small shared utilities and the one place where configuration is read.

Takes: environment variables (DEBUG, DEVICE, TINYTORCH_CACHE, NOOPT, BEAM, ...).
Produces: typed accessors (`getenv`), a `Context` manager that overrides them for a
block, helpers used by every stage (`prod`, `all_same`, `toposort`), the user folders
(`cache_dir`, `data_dir`), `LRU` (the bounded, thread-safe dict every process cache uses) and
`once` (a thread-safe memo for lazy global set-up).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


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
CACHE_MB = _Var("TINYTORCH_CACHE_MB", 512)  # on-disk compile cache bound (least recently used evicted); 0 = off
CACHE_ENTRIES = _Var("TINYTORCH_CACHE_ENTRIES", 4096)  # bound of each in-memory cache (plans, runners per device)
SPLIT_REDUCE = _Var("SPLIT_REDUCE", 1)  # two-stage reduction of large reduces into few outputs
VIZ = _Var("VIZ", 0)  # 1: write SVGs of every graph, schedule, kernel and rewrite pass to VIZ_DIR (read at import)
VIZ_DIR = _Var("VIZ_DIR", "viz")  # where VIZ=1 writes index.html and the SVGs
SOURCE_LINES = _Var("SOURCE_LINES", 0)  # record the user line that built each tensor (on with DEBUG>=2, VIZ, profile)
CFLAGS = _Var("TINYTORCH_CFLAGS", "")  # extra flags for the C compiler (appended; e.g. -fsanitize=undefined)
VECTOR_BYTES = _Var("VECTOR_BYTES", 0)  # SIMD width the code generator targets; 0 = this CPU's widest
COMPILE_TIMEOUT = _Var("COMPILE_TIMEOUT", 120)  # seconds one compiler run may take before it is stopped
CANARY = _Var("CANARY", 1)  # 0 skips the check of a new C toolchain against INTERP (debugging aid)
LAUNCHER = _Var("LAUNCHER", 1)  # 0: call kernels from Python (a Python thread pool) instead of the C launcher
BEAM = _Var("BEAM", 0)  # n > 0: each new kernel's optimizations chosen by a beam search of width n (codegen/search.py)
BEAM_TIME = _Var("BEAM_TIME", 10.0)  # seconds of BEAM search per kernel at most (then the best so far)
BEAM_MIN_US = _Var("BEAM_MIN_US", 20.0)  # kernels faster than this (microseconds) keep the heuristic under BEAM
REUSE_UPDATES = _Var("REUSE_UPDATES", 1)  # 0: built-in optimizers build every step's update with Tensor ops
REUSE_BACKWARD = _Var("REUSE_BACKWARD", 1)  # 0: every backward() builds its gradient graph (no kept backward plans)
WALK_C = _Var("WALK_C", 1)  # 0: the plan cache's structural walk runs in Python (engine/walk_c.py builds it in C)
NODES_C = _Var("NODES_C", 1)  # 0: graph nodes and eager tensors are built by the Python methods (else in C)
_VARS = {v.name: v for v in (DEBUG, DEVICE, NOOPT, THREADS, CC, CACHE_DIR, CACHE_MB, CACHE_ENTRIES, SPLIT_REDUCE, VIZ,
                             VIZ_DIR, SOURCE_LINES, CFLAGS, VECTOR_BYTES, COMPILE_TIMEOUT, CANARY, LAUNCHER, BEAM,
                             BEAM_TIME, BEAM_MIN_US, REUSE_UPDATES, REUSE_BACKWARD, WALK_C, NODES_C)}


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
    """Where compiled kernels are kept: $TINYTORCH_CACHE, else the user cache dir. Only
    tinytorch/runtime/cache.py decides whether it is safe to use (owner and permissions)."""
    if CACHE_DIR.value:
        return str(CACHE_DIR.value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    return os.path.join(base, "tinytorch")


def atomic_write(path: str | os.PathLike[str], chunks: Iterable[bytes], prefix: str = ".tmp-") -> None:
    """Write chunks to path through a temporary file (mode 0600) in the same folder and a rename:
    a reader sees the old file or the whole new one, never half; the temporary is removed on failure."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

def data_dir() -> str:
    """Where downloaded data (datasets) is kept: $XDG_DATA_HOME/tinytorch, else ~/.local/share/tinytorch
    (~/Library/Application Support/tinytorch on macOS). Never inside the compile cache, which
    `tinytorch cache --clear` empties."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    if sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    return os.path.join(base, "tinytorch")


_MISSING = object()


class LRU(Generic[K, V]):
    """A dict bounded by entry count: setting a key beyond the bound drops the least recently
    used entry (`get` and `[]` count as a use; `in`, `values()` and `items()` do not). The bound
    is an int or a configuration variable read at every insert (so `Context` changes it).
    Every method holds a lock: threads may share one."""

    def __init__(self, maxsize: int | _Var):
        self._d: OrderedDict[K, V] = OrderedDict()
        self._max = maxsize
        self._lock = threading.Lock()
        self.evictions = 0

    @property
    def maxsize(self) -> int:
        return max(1, int(self._max))

    def get(self, key: K, default: Any = None) -> Any:
        with self._lock:  # (two lookups of the key, not three: a large key costs one hash and compare each)
            value = self._d.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._d.move_to_end(key)
            return value

    def __getitem__(self, key: K) -> V:
        with self._lock:
            self._d.move_to_end(key)
            return self._d[key]

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            bound = self.maxsize
            while len(self._d) > bound:
                self._d.popitem(last=False)
                self.evictions += 1

    def __delitem__(self, key: K) -> None:
        with self._lock:
            del self._d[key]

    def pop(self, key: K, default: Any = None) -> Any:
        with self._lock:
            return self._d.pop(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def __iter__(self) -> Iterator[K]:
        return iter(self.keys())

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._d)

    def values(self) -> list[V]:
        with self._lock:
            return list(self._d.values())

    def items(self) -> list[tuple[K, V]]:
        with self._lock:
            return list(self._d.items())

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def __repr__(self) -> str:
        return f"LRU({len(self._d)}/{self.maxsize} entries, {self.evictions} evicted)"


def once(fn: Callable[[], T]) -> Callable[[], T]:
    """Memoize a function without arguments; when several threads make the first call at once,
    one runs fn and the others wait for its result (functools.cache would run it in each)."""
    lock = threading.Lock()
    box: list[T] = []

    @functools.wraps(fn)
    def wrapper() -> T:
        if not box:
            with lock:
                if not box:
                    box.append(fn())
        return box[0]

    return wrapper


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
    """Widest SIMD register the code generator targets (bytes): VECTOR_BYTES when set (to render
    for another CPU, e.g. 64 for AVX-512), else this CPU's widest."""
    if int(VECTOR_BYTES) > 0:
        return int(VECTOR_BYTES)
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
    """Threads a kernel may use: THREADS, or every CPU (counted once: os.cpu_count reads sysfs each call)."""
    return int(THREADS) if int(THREADS) > 0 else _cpu_count()


@functools.cache
def _cpu_count() -> int:
    return os.cpu_count() or 1
