"""This machine's limits: peak FP32 FLOP/s and memory bandwidth, measured once and cached.

Takes: nothing but the machine (a C compiler for the FLOP/s loop; numpy for the copy).
Produces: `machine_limits()` -> `Limits(flops, bandwidth, detail)`, the figures the profiler
divides by ("fraction of peak"). The measurement takes about a second, so it is made on first
use and kept in `cache_dir()/limits.json`, keyed by CPU model, core count and SIMD width;
`machine_limits(refresh=True)` measures again.

- peak FLOP/s: a C loop of vector FMAs on 12 independent accumulators per thread, one thread
  per core, compiled `-O3 -march=native` (the same method as benchmarks/common.py);
- bandwidth: a copy of a 128 MiB array split over one thread per core (numpy releases the GIL),
  bytes read + written per second, best of 5.
The machines are shared and noisy, so a limit is the best figure seen: `refresh=True` measures
again and keeps the larger of the old and new figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass

FMA_SRC = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef float vf __attribute__((vector_size(VBYTES)));
#define NACC 12
static long iters; static float mulv, addv; static double sink[1024];
static void *work(void *arg) {
  long id = (long)arg;
  vf acc[NACC], m = (vf){0} + mulv, a = (vf){0} + addv;
  for (int i = 0; i < NACC; i++) acc[i] = (vf){0} + (float)(i + id);
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
    for (int i = 0; i < NACC; i++) acc[i] = acc[i] * m + a;
  }
  double s = 0;
  for (int i = 0; i < NACC; i++) for (int l = 0; l < VBYTES / 4; l++) s += acc[i][l];
  sink[id] = s;
  return NULL;
}
int main(int argc, char **argv) {
  int nt = atoi(argv[1]); iters = atol(argv[2]); mulv = (float)atof(argv[3]); addv = (float)atof(argv[4]);
  if (nt < 1 || nt > 1024) return 2;
  pthread_t th[1024]; struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < nt; i++) pthread_create(&th[i], NULL, work, (void *)i);
  for (int i = 0; i < nt; i++) pthread_join(th[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec), s = 0;
  for (int i = 0; i < nt; i++) s += sink[i];
  printf("%.9f %.6e %g\n", dt, 2.0 * NACC * (VBYTES / 4) * (double)iters * nt / dt, s);
  return 0;
}
"""


@dataclass
class Limits:
    flops: float | None  # FP32 FLOP/s, all cores; None when no C compiler could build the loop
    bandwidth: float | None  # bytes/s (read + write)
    detail: str
    key: str = ""


def _key() -> str:
    from ..helpers import cpu_flags, vector_bytes

    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model or os.uname().machine}|{os.cpu_count()}|{vector_bytes()}|{'fma' in cpu_flags()}"


def measure_flops(seconds: float = 0.15) -> tuple[float | None, str]:
    from ..helpers import vector_bytes
    from .cpu import find_cc

    cc = find_cc()
    if cc is None:
        return None, "no C compiler: peak FLOP/s not measured"
    threads = os.cpu_count() or 1
    vbytes = vector_bytes()
    with tempfile.TemporaryDirectory(prefix="tinytorch-limits-") as d:
        exe = os.path.join(d, "fma")
        p = subprocess.run([cc, "-O3", "-march=native", "-ffp-contract=fast", f"-DVBYTES={vbytes}", "-pthread",
                            "-x", "c", "-", "-o", exe], input=FMA_SRC, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            return None, f"FMA loop failed to compile: {p.stderr.strip()[:200]}"

        def run(iters: int) -> tuple[float, float]:
            out = subprocess.run([exe, str(threads), str(iters), "0.99999994", "1e-7"], capture_output=True,
                                 text=True, check=True, timeout=120).stdout.split()
            return float(out[0]), float(out[1])

        dt, _ = run(200_000)
        iters = max(200_000, int(200_000 * seconds / max(dt, 1e-6)))
        best = max(run(iters)[1] for _ in range(5))
    return best, (f"{threads} threads x 12 accumulators of {vbytes * 8}-bit FMA "
                  f"({os.path.basename(cc)} -O3 -march=native)")


def measure_bandwidth(mib: int = 128, repeats: int = 5) -> float:
    import threading

    import numpy as np

    n = mib * (1 << 20) // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.zeros_like(src)
    nt = os.cpu_count() or 1
    parts = [(i * n // nt, (i + 1) * n // nt) for i in range(nt)]

    def copy(lo: int, hi: int) -> None:
        np.copyto(dst[lo:hi], src[lo:hi])

    def once() -> float:
        threads = [threading.Thread(target=copy, args=p) for p in parts]
        st = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - st

    once()  # pages faulted in
    return 2 * src.nbytes / min(once() for _ in range(repeats))


def _cache_file() -> str:
    from ..helpers import cache_dir

    return os.path.join(cache_dir(), "limits.json")


_MEMO: list[Limits] = []


def _load(key: str) -> Limits | None:
    if _MEMO and _MEMO[0].key == key:
        return _MEMO[0]
    try:
        with open(_cache_file()) as f:
            d = json.load(f)
        if d.get("key") == key and set(d) == {"flops", "bandwidth", "detail", "key"}:
            return Limits(**d)
    except (OSError, ValueError, TypeError):
        pass  # missing or corrupt: measured again
    return None


def machine_limits(refresh: bool = False) -> Limits:
    """Peak FP32 FLOP/s and copy bandwidth of this machine (cached on disk per machine)."""
    key = _key()
    old = _load(key)
    if old is not None and not refresh:
        _MEMO[:] = [old]
        return old
    flops, detail = measure_flops()
    bw = measure_bandwidth()
    if old is not None:  # a limit is the best figure seen
        flops = max(flops or 0.0, old.flops or 0.0) or None
        bw = max(bw, old.bandwidth or 0.0)
    lim = Limits(flops, bw, f"{detail}; bandwidth: threaded copy of 128 MiB (read + write)", key)
    try:
        path = _cache_file()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(lim), f)
        os.replace(tmp, path)
    except OSError:
        pass
    _MEMO[:] = [lim]
    return lim
