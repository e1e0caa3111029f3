"""The LLVM device: llvmlite optimizes the IR for the host CPU and MCJIT runs it.

Takes: a kernel AST (through CompiledDevice: lower -> render LLVM IR, codegen/llvm.py).
Produces: a Runner around a function loaded from an object file: the IR is parsed,
verified, optimized by the new pass manager at O3 for the host CPU and features, and
emitted as object bytes (so `Compiler.compile` caches it on disk like the C device's shared
objects); the loader adds the object to a shared MCJIT engine and wraps the function's
address with ctypes.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from ..codegen.kernel import packs_args
from ..codegen.llvm import LLVMRenderer
from ..helpers import once
from .device import CompiledDevice, CompileError, Compiler

_LOCK = threading.Lock()  # llvmlite's global context and the engines are not thread-safe


@once  # several threads may make the first call: one initializes, the others wait
def _llvm() -> Any:
    """The llvmlite.binding module with the native target set up (once)."""
    import llvmlite.binding as llvm

    try:
        llvm.initialize()
    except RuntimeError:  # llvmlite >= 0.45 initializes itself and makes the call raise
        pass
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


def _new_target_machine() -> Any:
    """A target machine for the host: its CPU name and features, O3, and the large code model with static
    relocations for the JIT: MCJIT maps an object's code, its constants and the C library it calls apart, and
    once the process has mapped gigabytes in between (large tensors) a 32-bit PC-relative reference no longer
    reaches, which LLVM answers by aborting the process (64-bit absolute addresses always reach; with PIC, the
    large model's GOT-relative relocations came out wrong in MCJIT)."""
    llvm = _llvm()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, reloc="static", codemodel="large", jit=True)


@once
def _target_machine() -> Any:
    """The one target machine that compiles (an MCJIT engine owns and frees its own)."""
    return _new_target_machine()


class LLVMCompiler(Compiler):
    name = "llvm"

    def flags(self) -> tuple[str, ...]:
        return ("O3", "code model large, static")  # (objects compiled otherwise are not taken from the cache)

    @functools.cache  # noqa: B019 - one compiler object per device
    def version(self) -> str:
        import llvmlite

        llvm = _llvm()
        ver = ".".join(map(str, llvm.llvm_version_info))
        host = f"{llvm.get_host_cpu_name()} {llvm.get_host_cpu_features().flatten()}"  # the code is tuned for it
        return f"llvmlite {llvmlite.__version__} / LLVM {ver} {host}"

    def compile_uncached(self, src: str) -> bytes:
        try:
            llvm = _llvm()
            tm = _target_machine()
        except Exception as e:
            raise CompileError(f"llvmlite unusable: {e} (pip install llvmlite)") from None
        with _LOCK:
            try:
                mod = llvm.parse_assembly(src)
                mod.verify()
            except RuntimeError as e:
                raise CompileError(f"LLVM rejected the IR: {e}") from None
            mod.triple = tm.triple
            mod.data_layout = str(tm.target_data)
            pto = llvm.create_pipeline_tuning_options(speed_level=3)
            pto.loop_vectorization = pto.slp_vectorization = pto.loop_unrolling = pto.loop_interleaving = True
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(mod, pb)
            return bytes(tm.emit_object(mod))


class _Engine:
    """MCJIT engines (built from empty modules) that own the loaded objects for the life of
    the process. A name already loaded with other code goes to a fresh engine, so two
    devices (or two processes' caches) that picked the same kernel name never collide."""

    def __init__(self) -> None:
        self.engines: list[tuple[Any, dict[str, str]]] = []  # (engine, name -> object hash)

    def load(self, lib: bytes, name: str) -> int:
        llvm = _llvm()
        digest = hashlib.sha256(lib).hexdigest()
        with _LOCK:
            for engine, loaded in self.engines:
                if loaded.get(name) == digest:
                    return int(engine.get_function_address(name))
            free = [(e, names) for e, names in self.engines if name not in names]
            if free:
                engine, loaded = free[0]
            else:
                engine, loaded = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _new_target_machine()), {}
                self.engines.append((engine, loaded))
            engine.add_object_file(llvm.ObjectFileRef.from_data(lib))
            engine.finalize_object()
            addr = int(engine.get_function_address(name))
            if addr == 0:
                raise CompileError(f"kernel {name} not found in its LLVM object file")
            loaded[name] = digest
            return addr


_ENGINE = _Engine()


def load_object(lib: bytes, name: str, nbufs: int) -> Callable[..., Any]:
    """Load the object file bytes into the shared JIT; a ctypes function `f(*ptrs, core_start, core_end)`."""
    addr = _ENGINE.load(lib, name)
    proto = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * (1 if packs_args(nbufs) else nbufs)), ctypes.c_longlong,
                             ctypes.c_longlong)
    return proto(addr)


class LLVMDevice(CompiledDevice):
    name = "LLVM"

    def __init__(self) -> None:
        super().__init__(LLVMRenderer(), LLVMCompiler(), load_object)

    def available(self) -> tuple[bool, str]:
        try:
            import llvmlite

            llvm = _llvm()
            _target_machine()
        except Exception as e:  # ImportError, or a platform llvmlite has no native target for
            return False, f"llvmlite unusable: {e} (pip install llvmlite)"
        if not hasattr(llvm, "create_pass_builder"):
            return False, f"llvmlite {llvmlite.__version__} has no new pass manager (pip install 'llvmlite>=0.44')"
        return True, f"llvmlite {llvmlite.__version__} / LLVM {'.'.join(map(str, llvm.llvm_version_info))}"
