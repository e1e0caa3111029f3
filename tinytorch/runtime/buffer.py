"""Device memory: `Buffer` and the CPU allocator.

Takes: a device name, a dtype and an element count.
Produces: a `Buffer` whose memory is a 64-byte aligned numpy array (zero-copy to
`.numpy()`), allocated on first use and returned to a size-keyed free pool when the Buffer
dies, so a training loop reuses the same pages instead of faulting in new ones.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections import defaultdict

import numpy as np

from ..dtype import DType

ALIGN = 64


class CPUAllocator:
    """Aligned host memory with a free pool keyed by byte size (LRU-free: sizes repeat)."""

    def __init__(self, pool_limit_bytes: int = 4 << 30):
        self.pool: dict[int, list[tuple[np.ndarray, int]]] = defaultdict(list)  # byte size -> [(memory, address)]
        self.pool_bytes = 0
        self.pool_limit = pool_limit_bytes
        self.live_bytes = 0
        self.peak_bytes = 0
        self.live_count = 0  # buffers holding memory now (the profiler reports them)
        self.exported: set[int] = set()  # ids of raw arrays handed to numpy users: never pooled
        # threads realizing their own tensors share the pool; re-entrant: a Buffer freed by the
        # garbage collector during an alloc frees in the same thread
        self._lock = threading.RLock()

    def alloc(self, nbytes: int) -> tuple[np.ndarray, int]:
        """nbytes of memory aligned to ALIGN bytes, and its address (a pooled block of that size when there is one)."""
        with self._lock:
            live = self.live_bytes = self.live_bytes + nbytes
            self.live_count += 1
            if live > self.peak_bytes:
                self.peak_bytes = live
            free = self.pool.get(nbytes)
            if free:
                self.pool_bytes -= nbytes
                return free.pop()
        raw = np.empty(nbytes + ALIGN, dtype=np.uint8)
        base = address(raw)
        start = (-base) % ALIGN
        return raw[start:start + nbytes], base + start

    def free(self, mem: np.ndarray, ptr: int) -> None:
        """Take back memory from alloc (ptr: its address): into the pool, unless numpy users were handed it."""
        n = mem.nbytes
        raw = raw_id(mem)
        with self._lock:
            self.live_bytes -= n
            self.live_count -= 1
            if raw in self.exported:
                self.exported.discard(raw)
                return
            if self.pool_bytes + n <= self.pool_limit:
                self.pool[n].append((mem, ptr))
                self.pool_bytes += n

    def clear_pool(self) -> None:
        self.pool.clear()
        self.pool_bytes = 0


def raw_id(mem: np.ndarray) -> int:
    """The identity of the allocation behind an allocator's array (the raw array it is a slice of)."""
    return id(mem.base if mem.base is not None else mem)


def address(arr: np.ndarray) -> int:
    """The address of a writable array's first byte (a third of the time of arr.ctypes.data)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(arr)) if arr.nbytes else int(arr.ctypes.data)  # type: ignore[arg-type]


ALLOCATOR = CPUAllocator()
_ids = itertools.count()


class Buffer:
    """`size` elements of `dtype` on `device`. Memory is allocated lazily by `ensure()`."""

    __slots__ = ("id", "device", "dtype", "size", "_mem", "_ptr", "cached_by", "owner", "__weakref__")

    def __init__(self, device: str, size: int, dtype: DType):
        self.id = next(_ids)
        self.device, self.size, self.dtype = device, size, dtype
        self._mem: np.ndarray | None = None
        self._ptr = 0
        self.cached_by: list = []  # weakrefs to graph nodes whose realized value lives here
        self.owner: np.ndarray | None = None  # the numpy array whose memory this is (`wrap`), else None

    @staticmethod
    def wrap(device: str, arr: np.ndarray, dtype: DType) -> Buffer:
        """A buffer over the memory of arr (C-contiguous, writeable, aligned to its element): writes through either
        are seen by the other; the memory stays arr's (never pooled)."""
        b = Buffer(device, arr.size, dtype)
        b._mem = arr.reshape(-1).view(np.uint8)
        b._ptr = address(b._mem)
        b.owner = arr
        return b

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def allocated(self) -> bool:
        return self._mem is not None

    def ensure(self) -> Buffer:
        if self._mem is None:
            self._mem, self._ptr = ALLOCATOR.alloc(self.nbytes)
        return self

    def __del__(self) -> None:
        if getattr(self, "_mem", None) is not None and getattr(self, "owner", None) is None:
            ALLOCATOR.free(self._mem, self._ptr)  # type: ignore[arg-type]
        self._mem = None

    def numpy(self) -> np.ndarray:
        """Zero-copy flat view of the memory (bfloat16 shows as its uint16 bits)."""
        self.ensure()
        assert self._mem is not None
        return self._mem.view(self.dtype.np)

    def copyin(self, data: np.ndarray) -> Buffer:
        arr = np.ascontiguousarray(data).reshape(-1)
        if arr.size != self.size:
            raise ValueError(f"copyin: buffer holds {self.size} elements, got {arr.size}")
        self.numpy()[:] = arr.view(self.dtype.np) if arr.dtype.itemsize == self.dtype.itemsize else arr
        return self

    @property
    def ptr(self) -> int:
        return self._ptr or self.ensure()._ptr

    def __repr__(self) -> str:
        return f"<Buffer {self.id} {self.device} {self.dtype.name}[{self.size}]>"
