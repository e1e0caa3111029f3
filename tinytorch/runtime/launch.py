"""The kernel launcher: a small C library that runs compiled kernels, split over a pool of threads.

Takes: the address of a compiled kernel (C or LLVM: `void k(void* buf0, ..., long long start, long long end)`,
every buffer a pointer), its buffer pointers, its outer trip count and a thread count; or a whole
list of such calls (a jitted step's replay; an eager realize of a cached plan, its buffers named by index
into a table of pointers filled for each run).
Produces: the calls, made from C. Worker threads wait for work spinning briefly, then asleep on a
condition variable: handing a slice to a waiting worker costs about a microsecond instead of the
tens of microseconds of a Python thread pool, and a plan runs all its kernels in one call from
Python, with the interpreter's lock released.

The library is compiled once by the system C compiler and kept in the compile cache; without a
compiler (or with LAUNCHER=0) kernels are called from Python as before.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
import threading
from typing import Any

from ..codegen.kernel import PACKED_ARGS_ABOVE
from ..helpers import LAUNCHER, num_threads

_CALL_CASES = "\n".join(
    f"    case {k}: ((void (*)({''.join('void*, ' for _ in range(k))}ll, ll))f)"
    f"({''.join(f'a[{i}], ' for i in range(k))}s, e); break;" for k in range(PACKED_ARGS_ABOVE + 1))

SOURCE = r"""
#include <pthread.h>
#include <stdatomic.h>
typedef long long ll;
#define MAXT 256
#if defined(__x86_64__) || defined(__i386__)
#define PAUSE() __builtin_ia32_pause()
#else
#define PAUSE() ((void)0)
#endif

static void call(void *f, void *const *a, int k, ll s, ll e) {
  switch (k) {
CASES
    default: break;
  }
}

struct tt_item { void *fn; void *const *args; ll n; int nargs; int threads; };

static struct tt_item cur;
static ll cur_step;
static int nworkers = 0, started = 0;
static pthread_t workers[MAXT];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER, launch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_long gen = 0;
static atomic_int pending = 0;

static atomic_long next_start = 0;
static int chunks_per_thread = 4;

/* Each thread takes the next chunk of the outer loop until none is left: a core that another process holds
   for a while takes fewer chunks instead of stretching the whole launch (a fixed half each would wait for it). */
static void run_chunks(void) {
  for (;;) {
    ll s = atomic_fetch_add_explicit(&next_start, cur_step, memory_order_relaxed);
    if (s >= cur.n) return;
    call(cur.fn, cur.args, cur.nargs, s, s + cur_step < cur.n ? s + cur_step : cur.n);
  }
}

int tt_set_chunks(int per_thread) {  /* chunks per thread of a threaded launch (1: one fixed range each) */
  int old = chunks_per_thread;
  if (per_thread >= 1) chunks_per_thread = per_thread;
  return old;
}

static void *worker(void *p) {
  int id = (int)(long)p;
  long seen = 0;  /* gen starts at 0: a launch made before this thread ran is still seen */
  for (;;) {
    long g;
    int spins = 0;
    while ((g = atomic_load_explicit(&gen, memory_order_acquire)) == seen) {
      if (++spins < 20000) { PAUSE(); continue; }
      pthread_mutex_lock(&mu);
      while ((g = atomic_load(&gen)) == seen) pthread_cond_wait(&cv, &mu);
      pthread_mutex_unlock(&mu);
      break;
    }
    seen = g;
    if (id + 1 < cur.threads) run_chunks();
    atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel);
  }
  return 0;
}

static void forget_workers(void) { started = 0; nworkers = 0; }  /* a forked child has none */

int tt_start(int threads) {
  if (started) return nworkers + 1;
  started = 1;
  pthread_atfork(0, 0, forget_workers);
  int want = threads - 1 < MAXT ? threads - 1 : MAXT;
  for (int i = 0; i < want; i++) {
    if (pthread_create(&workers[i], 0, worker, (void *)(long)i) != 0) break;
    pthread_detach(workers[i]);
    nworkers++;
  }
  return nworkers + 1;
}

void tt_launch(void *fn, void *const *args, int nargs, ll n, int threads) {
  if (threads > nworkers + 1) threads = nworkers + 1;
  if (threads <= 1 || n < 2) { call(fn, args, nargs, 0, n); return; }
  pthread_mutex_lock(&launch_mu);  /* one threaded launch at a time: Python threads may realize at once */
  cur.fn = fn; cur.args = args; cur.nargs = nargs; cur.n = n; cur.threads = threads;
  ll parts = (ll)threads * chunks_per_thread;
  cur_step = (n + parts - 1) / parts;
  atomic_store(&next_start, 0);
  atomic_store(&pending, nworkers);
  pthread_mutex_lock(&mu);
  atomic_fetch_add_explicit(&gen, 1, memory_order_release);
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  run_chunks();
  while (atomic_load_explicit(&pending, memory_order_acquire) > 0) PAUSE();
  pthread_mutex_unlock(&launch_mu);
}

void tt_run_plan(const struct tt_item *items, int count) {
  for (int i = 0; i < count; i++) tt_launch(items[i].fn, items[i].args, items[i].nargs, items[i].n, items[i].threads);
}

/* A plan whose buffers change from run to run (an eager realize served by the plan cache): each call names
   its buffers by index into this run's table of pointers; a kernel with more than PACKED buffers takes them
   as one array. */
struct tt_titem { void *fn; const int *idx; ll n; int nbufs; int threads; };

void tt_run_table(const struct tt_titem *items, int count, void *const *table) {
  for (int i = 0; i < count; i++) {
    const struct tt_titem *it = &items[i];
    void *a[it->nbufs > 0 ? it->nbufs : 1];
    for (int j = 0; j < it->nbufs; j++) a[j] = table[it->idx[j]];
    if (it->nbufs > PACKED) {
      void *packed[1] = {(void *)a};
      tt_launch(it->fn, packed, 1, it->n, it->threads);
    } else {
      tt_launch(it->fn, a, it->nbufs, it->n, it->threads);
    }
  }
}
""".replace("CASES", _CALL_CASES).replace("PACKED", str(PACKED_ARGS_ABOVE))


class TableItem(ctypes.Structure):
    """One kernel call of a plan run over a table of buffer pointers: struct tt_titem."""

    _fields_ = [("fn", ctypes.c_void_p), ("idx", ctypes.c_void_p), ("n", ctypes.c_longlong),
                ("nbufs", ctypes.c_int), ("threads", ctypes.c_int)]


class Item(ctypes.Structure):
    """One kernel call of a plan: struct tt_item."""

    _fields_ = [("fn", ctypes.c_void_p), ("args", ctypes.c_void_p), ("n", ctypes.c_longlong),
                ("nargs", ctypes.c_int), ("threads", ctypes.c_int)]


_LIB: list[Any] = []
_LOCK = threading.Lock()


def _build() -> Any:
    from . import cache
    from .cpu import find_cc

    cc = find_cc()
    if cc is None:
        return None
    flags = ["-O2", "-fPIC", "-shared", "-pthread", "-std=gnu11"]
    parts = [SOURCE, cc, *flags]
    lib = cache.load("launcher", parts)
    if lib is None:
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "launch.c"), os.path.join(d, "launch.so")
            with open(src, "w") as f:
                f.write(SOURCE)
            if subprocess.run([cc, *flags, src, "-o", out], capture_output=True).returncode != 0:
                return None
            with open(out, "rb") as f:
                lib = f.read()
        cache.store("launcher", parts, lib)
    from .cpu import dlopen_bytes

    so = dlopen_bytes(lib)
    so.tt_launch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong, ctypes.c_int]
    so.tt_launch.restype = None
    so.tt_run_plan.argtypes = [ctypes.c_void_p, ctypes.c_int]
    so.tt_run_plan.restype = None
    so.tt_run_table.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    so.tt_run_table.restype = None
    so.tt_start.argtypes = [ctypes.c_int]
    so.tt_start.restype = ctypes.c_int
    so.tt_start(num_threads())
    return so


def library() -> Any:
    """The loaded launcher (None when there is no C compiler or LAUNCHER=0)."""
    if not _LIB:
        with _LOCK:
            if not _LIB:
                _LIB.append(_build() if LAUNCHER else None)
    return _LIB[0]


def address(fn: Any) -> int | None:
    """The machine address of a compiled kernel function (a ctypes function), else None."""
    if isinstance(fn, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return ctypes.cast(fn, ctypes.c_void_p).value
    return None


def pointer_array(ptrs: list[Any]) -> Any:
    """The argument pointers as a C array of void* (ints, or ctypes arrays for packed arguments)."""
    return (ctypes.c_void_p * max(1, len(ptrs)))(*[p if isinstance(p, (int, type(None))) else ctypes.addressof(p)
                                                    for p in ptrs])
