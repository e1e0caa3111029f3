"""Devices: the public backend interface and the registry.

Takes: a device name ("C", "LLVM", "INTERP", or one a plugin registered).
Produces: a `Device` that turns kernel ASTs into `Runner`s (cached per AST) and runs them
on Buffers.

A compiled backend is three parts (see docs/backends.md):
- a Renderer: linear program -> source text (`render(name, prog) -> str`);
- a Compiler: source -> binary bytes, cached on disk (`compile(src) -> bytes`, see runtime/cache.py);
- a Program loader: binary -> callable `f(*buffer_pointers, core_start, core_end)`.
`register_device(name, factory)` adds one; the entry point group `tinytorch.backends`
lets installed packages add theirs. The registry is safe to use from several threads at once
(the first call included); see docs/architecture.md "Threads".
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..helpers import BEAM, CACHE_ENTRIES, DEBUG, DEVICE, LRU, NOOPT, num_threads
from ..ops.uop import UOp, pretty
from . import launch


class CompileError(RuntimeError):
    pass


class Compiler:
    """source -> binary, cached on disk under cache_dir()/<name>/ by runtime/cache.py: entries keyed
    by a keyed hash of (source, flags, version), authenticated before use, in a folder only this
    user can write (`tinytorch cache --clear` empties it)."""

    name = "base"

    def version(self) -> str:
        return ""

    def flags(self) -> tuple[str, ...]:
        return ()

    def compile_uncached(self, src: str) -> bytes:
        raise NotImplementedError

    def compile(self, src: str) -> bytes:
        from . import cache

        parts = [src, *self.flags(), self.version()]
        lib = cache.load(self.name, parts)
        if lib is None:
            lib = self.compile_uncached(src)
            cache.store(self.name, parts, lib)
        return lib


# observers of every kernel call (the profiler): f(runner, bufs, start, end), times from time.perf_counter()
KERNEL_HOOKS: list[Callable[[Runner, list[Any], float, float], None]] = []


class Runner:
    """One compiled kernel, ready to call on Buffers. `__call__` is the one place every kernel
    call passes (plans and JIT replays); subclasses implement `_run` (a subclass that defines
    `__call__` has it moved to `_run`, so observers still see every call)."""

    tag: str | None = None  # the user source line of the kernel it was first built for (set by realize)
    # (buffer argument, elements read, elements written) per buffer (codegen/kernel.py Kernel.traffic); None: unknown
    traffic: tuple[tuple[int, int, int], ...] | None = None

    def __init__(self, name: str, fn: Callable[..., Any], outer_count: int, threads: int, flops: int,
                 src: str = "", keepalive: Any = None):
        self.name, self.fn, self.outer_count, self.threads = name, fn, outer_count, threads
        self.flops, self.src, self.keepalive = flops, src, keepalive
        self.packed = False  # the compiled function takes its buffers as one array (set by CompiledDevice)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__call__" in cls.__dict__:
            cls._run = cls.__dict__["__call__"]  # type: ignore[method-assign]
            cls.__call__ = Runner.__call__  # type: ignore[method-assign]

    def __call__(self, bufs: list[Any]) -> None:
        if KERNEL_HOOKS:
            st = time.perf_counter()
            self._run(bufs)
            et = time.perf_counter()
            for hook in KERNEL_HOOKS:
                hook(self, bufs, st, et)
            return
        self._run(bufs)

    def launch_address(self) -> int | None:
        """The compiled function's address for the C launcher (looked up once), or None when there is no launcher
        or this runner is not a plain compiled function (INTERP, a plugin's own runner)."""
        if "_launch_addr" not in self.__dict__:
            plain = type(self)._run is Runner._run and launch.library() is not None
            self._launch_addr = launch.address(self.fn) if plain else None
        return self._launch_addr

    def _run(self, bufs: list[Any]) -> None:
        ptrs: list[Any] = [b.ptr for b in bufs]
        if self.packed:  # one array of pointers (codegen/kernel.py PACKED_ARGS_ABOVE)
            ptrs = [(ctypes.c_void_p * len(ptrs))(*ptrs)]
        n = self.outer_count
        t = self.threads
        if t <= 1 or n < 2:
            self.fn(*ptrs, 0, n)
            return
        addr = self.launch_address()
        if addr is not None:  # split over the C launcher's threads
            launch.library().tt_launch(addr, launch.pointer_array(ptrs), len(ptrs), n, t)
            return
        step = (n + t - 1) // t
        futs = [_pool().submit(self.fn, *ptrs, s, min(n, s + step)) for s in range(step, n, step)]
        self.fn(*ptrs, 0, min(n, step))
        for f in futs:
            f.result()


_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    if not _POOL:
        with _POOL_LOCK:  # two first callers make one pool
            if not _POOL:
                _POOL.append(ThreadPoolExecutor(max_workers=max(1, num_threads() - 1), thread_name_prefix="tinytorch"))
    return _POOL[0]


class BaseDevice:
    """A place kernels run. Subclasses implement `build_runner(ast)`."""

    name = "BASE"

    def __init__(self) -> None:
        # AST -> Runner, the least recently used dropped beyond TINYTORCH_CACHE_ENTRIES (a plan's
        # kernels are looked up at every run, so a running model's runners are never the oldest)
        self.runners: LRU[UOp, Runner] = LRU(CACHE_ENTRIES)
        self.names: dict[str, int] = {}
        self._names_lock = threading.Lock()

    def get_runner(self, ast: UOp) -> Runner:
        r = self.runners.get(ast)
        if r is None:
            st = time.perf_counter()
            r = self.build_runner(ast)
            self.runners[ast] = r
            if DEBUG >= 3:
                print(f"  compiled {r.name} on {self.name} in {(time.perf_counter() - st) * 1e3:.1f} ms")
        return r

    def unique_name(self, base: str, ast: UOp | None = None) -> str:
        """base (the loop shape) plus a digest of the AST: the same kernel gets the same name in
        every process, so its source, and the on-disk compile cache entry, do not depend on the
        order kernels were first seen."""
        if ast is not None:
            base = f"{base}_{hashlib.sha256(pretty(ast, max_lines=1 << 30).encode()).hexdigest()[:6]}"
        with self._names_lock:
            n = self.names.get(base, 0)
            self.names[base] = n + 1
        return base if n == 0 else f"{base}n{n}"

    def build_runner(self, ast: UOp) -> Runner:
        raise NotImplementedError

    def prepare(self, asts: list[UOp]) -> None:
        """Build the runners of several kernels ahead of running them (devices may batch this)."""

    def available(self) -> tuple[bool, str]:
        """(works here, version or reason)"""
        return True, ""


class CompiledDevice(BaseDevice):
    """lower -> optimize -> linearize -> render -> compile -> load. Plugins give the parts."""

    def __init__(self, renderer: Any, compiler: Compiler, loader: Callable[[bytes, str, int], Callable[..., Any]]):
        super().__init__()
        self.renderer, self.compiler, self.loader = renderer, compiler, loader

    def build_runner(self, ast: UOp) -> Runner:
        r = self.render(ast)
        return self.finish(r, self.compile_source(r))

    def prepare(self, asts: list[UOp]) -> None:
        """Build the runners of many kernels at once: with a renderer that can batch, one
        translation unit and one compiler run for all; otherwise compiles in parallel
        (each compile is a subprocess or a foreign call that releases the GIL)."""
        todo = list(dict.fromkeys(a for a in asts if a not in self.runners))
        if len(todo) < 2:
            return
        st = time.perf_counter()
        lowered = [self.lower(a) for a in todo]
        if hasattr(self.renderer, "render_batch"):
            src = self.renderer.render_batch([(r["name"], r["prog"]) for r in lowered])
            lib = self.compile_source({"name": f"a batch of {len(todo)} kernels", "src": src})
            for r in lowered:
                r["src"] = "(compiled in a batch; see DEBUG=4)"
            libs = [lib] * len(todo)
        else:
            for r in lowered:
                r["src"] = self.renderer.render(r["name"], r["prog"])
            libs = list(_pool().map(self.compile_source, lowered)) if num_threads() > 1 else \
                [self.compile_source(r) for r in lowered]
        for a, r, lib in zip(todo, lowered, libs):
            self.runners[a] = self.finish(r, lib)
        if DEBUG >= 3:
            print(f"  compiled {len(todo)} kernels on {self.name} in {(time.perf_counter() - st) * 1e3:.1f} ms")

    def render(self, ast: UOp) -> dict[str, Any]:
        r = self.lower(ast)
        r["src"] = self.renderer.render(r["name"], r["prog"])
        return r

    def lower(self, ast: UOp) -> dict[str, Any]:
        from ..codegen import kernel_name, lower_kernel

        opts = None
        if int(BEAM) > 0 and not NOOPT and self.searchable():  # BEAM=n: choose by timing (codegen/search.py)
            from ..codegen.search import beam_opts

            opts = beam_opts(self, ast)
        k, opts, prog, outer = lower_kernel(ast, opts)
        name = self.unique_name(kernel_name(k, opts), ast)
        out = []
        if DEBUG >= 3:
            out.append(f"--- kernel {name} AST\n{pretty(ast)}\n--- opts: {', '.join(opts.notes) or 'none'}")
        if DEBUG >= 5:
            out.append("--- linear program\n" + "\n".join(
                f"{i:4d} {u.op.name:12s} {u.dtype!r:20s} {[prog.index(s) if s in prog else s.op.name for s in u.src]} "
                f"{u.arg!r}" for i, u in enumerate(prog)))
        if DEBUG >= 4:
            out.append(f"--- source of {name}\n{self.renderer.render(name, prog)}")
        if out:  # one print per kernel: output of different kernels never interleaves
            print("\n".join(out), flush=True)
        nbufs = sum(1 for u in prog if u.op.name == "DEFINE_GLOBAL")
        return {"name": name, "prog": prog, "kernel": k, "opts": opts, "outer": outer, "nbufs": nbufs}

    def searchable(self) -> bool:
        """May BEAM search this device's kernels now (a device checking itself says no)?"""
        return True

    def compile_source(self, r: dict[str, Any]) -> bytes:
        try:
            return self.compiler.compile(r["src"])
        except CompileError as e:
            raise CompileError(f"kernel {r['name']} failed to compile on {self.name}:\n{e}\n"
                               f"(see the source with DEBUG=4)") from None

    def finish(self, r: dict[str, Any], lib: bytes) -> Runner:
        from ..codegen.kernel import packs_args

        fn = self.loader(lib, r["name"], r["nbufs"])
        runner = Runner(r["name"], fn, r["outer"], r["opts"].threads, r["kernel"].flops, r["src"], keepalive=lib)
        runner.packed = packs_args(r["nbufs"])
        runner.traffic = r["kernel"].traffic
        return runner


_FACTORIES: dict[str, Callable[[], BaseDevice]] = {}
_INSTANCES: dict[str, BaseDevice] = {}
_LOADED = [0]  # 0: nothing registered yet, 1: registering (in the thread holding _REGISTRY_LOCK), 2: done
# guards the three above and the default device; re-entrant: plugins register devices while loading
_REGISTRY_LOCK = threading.RLock()


def register_device(name: str, factory: Callable[[], BaseDevice]) -> None:
    """Make `Tensor(..., device=name)` and DEVICE=name use the Device that factory builds."""
    name = name.upper()
    with _REGISTRY_LOCK:
        _FACTORIES[name] = factory
        _INSTANCES.pop(name, None)


def _load_plugins() -> None:
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group="tinytorch.backends"):
            if ep.name.upper() not in _FACTORIES:
                try:
                    register_device(ep.name, ep.load())
                except Exception as e:  # a broken plugin must not break import
                    if DEBUG >= 1:
                        print(f"tinytorch: backend plugin {ep.name} failed to load: {e}")
    except Exception:
        pass


class _DeviceRegistry:
    _default: str | None = None

    def get(self, name: str) -> BaseDevice:
        name = name.upper()
        dev = _INSTANCES.get(name)
        if dev is not None:
            return dev
        _ensure_loaded()
        with _REGISTRY_LOCK:  # one instance per name, also when threads ask for it at once
            if name not in _INSTANCES:
                if name not in _FACTORIES:
                    raise ValueError(f"unknown device {name!r}; available: {sorted(_FACTORIES)}")
                _INSTANCES[name] = _FACTORIES[name]()
            return _INSTANCES[name]

    def names(self) -> list[str]:
        _ensure_loaded()
        with _REGISTRY_LOCK:
            return sorted(_FACTORIES)

    @property
    def DEFAULT(self) -> str:
        if DEVICE.value:
            return str(DEVICE.value).upper()
        if self._default is None:
            with _REGISTRY_LOCK:
                if self._default is None:
                    self._default = self._pick_default()
        return self._default

    def _pick_default(self) -> str:
        """The first available of C, LLVM, INTERP. A C device passed over although a compiler is there (its toolchain
        failed the canaries) is said in a warning: the user's compiler was refused, not missing."""
        refused = ""
        for cand in ("C", "LLVM", "INTERP"):
            try:
                dev = self.get(cand)
                if dev.available()[0]:
                    if refused:
                        warnings.warn(f"tinytorch: the default device is {cand}, not C: {refused}", RuntimeWarning,
                                      stacklevel=2)
                    return cand
                check = getattr(dev, "toolchain_problem", None)  # (the C device's canary verdict, kept from
                if cand == "C" and check is not None:  # available(); "" when the compiler is missing)
                    refused = check()
            except Exception:
                continue
        return "INTERP"


def _ensure_loaded() -> None:
    """Register the built-in devices and the entry-point plugins, once. Concurrent first callers
    wait for the thread doing it; a plugin that uses the registry while loading sees what is
    registered so far."""
    if _LOADED[0] == 2:
        return
    with _REGISTRY_LOCK:
        if _LOADED[0] != 0:  # done, or this very thread is registering (a re-entrant call)
            return
        _LOADED[0] = 1
        try:
            _builtin()
            _load_plugins()
        finally:
            _LOADED[0] = 2


def _builtin() -> None:
    from .cpu import CDevice
    from .interp import InterpDevice
    from .llvm import LLVMDevice

    _FACTORIES.setdefault("C", CDevice)
    _FACTORIES.setdefault("LLVM", LLVMDevice)
    _FACTORIES.setdefault("INTERP", InterpDevice)


Device = _DeviceRegistry()
