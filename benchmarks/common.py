"""Shared benchmark machinery: timing, this machine's limits, optional peers, markdown tables.

Takes: callables to time, the machine it runs on.
Produces:
- `measure(fn, ...)`: medians of repeated runs after warm-up (a time budget bounds the repeats);
- `peak_fp32_flops()`: FP32 FLOP/s of an FMA loop — a small C program compiled with
  `-O3 -march=native`, vector FMAs on independent accumulators, one thread per core;
- `copy_bandwidth()`: numpy copy of a 256 MiB array, GB/s counted as bytes read + written;
- `machine_facts()`: CPU model, cores, SIMD flags (AVX2 / FMA / AVX-512 as /proc/cpuinfo shows them),
  numpy's BLAS, the OPENBLAS_CORETYPE setting;
- `peers()`: torch / tinygrad when they import and work here (never a tinytorch dependency);
- `markdown_table(headers, rows)`.
The machines are shared and noisy: quote medians and ratios measured in the same run.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


# ---------------------------------------------------------------- timing
@dataclass
class Timing:
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the runs were."""
        return (max(self.times) - min(self.times)) / self.median if self.median > 0 else 0.0


def measure(fn: Callable[[], Any], repeats: int = 10, warmup: int = 2, budget_s: float = 3.0,
            min_repeats: int = 3) -> Timing:
    """Call fn `warmup` times untimed, then time up to `repeats` calls (at least `min_repeats`,
    fewer than `repeats` when they would take longer than `budget_s`)."""
    for _ in range(warmup):
        fn()
    t = Timing()
    deadline = time.perf_counter() + budget_s
    while len(t.times) < repeats and (len(t.times) < min_repeats or time.perf_counter() < deadline):
        st = time.perf_counter()
        fn()
        t.times.append(time.perf_counter() - st)
    return t


# ---------------------------------------------------------------- machine facts and limits
def cpu_flags() -> set[str]:
    """The CPU's feature flags (the library's reading of /proc/cpuinfo)."""
    from tinytorch.helpers import cpu_flags as read_flags

    return set(read_flags())


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.26
        blas = cfg["Build Dependencies"]["blas"]
        simd = cfg.get("SIMD Extensions", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}, SIMD found {simd.get('found', '?')}"
    except Exception:
        return "unknown"


def machine_facts() -> dict[str, str]:
    flags = cpu_flags()
    avx512 = sorted(f for f in flags if f.startswith("avx512"))
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "simd": (f"AVX2 {'yes' if 'avx2' in flags else 'no'}, FMA {'yes' if 'fma' in flags else 'no'}, "
                 + (f"AVX-512 yes ({', '.join(avx512)})" if avx512
                    else "AVX-512 not exposed (no avx512* in /proc/cpuinfo)")),
        "python": platform.python_version(),
        "numpy": f"{np.__version__} ({numpy_blas()})",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
    }


from tinytorch.runtime.limits import FMA_SRC  # noqa: E402  (the same FMA loop the profiler measures)


@dataclass
class Peak:
    flops: float | None  # FP32 FLOP/s, all cores
    detail: str


def peak_fp32_flops(threads: int | None = None, seconds: float = 0.4) -> Peak:
    """Best of 3 runs of the FMA loop on `threads` threads (default: every core)."""
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if cc is None:
        return Peak(None, "no C compiler: peak FLOP/s not measured")
    flags = cpu_flags()
    vbytes = 64 if "avx512f" in flags else 32 if "avx2" in flags or "avx" in flags else 16
    threads = threads or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "fma")
        p = subprocess.run([cc, "-O3", "-march=native", "-ffp-contract=fast", f"-DVBYTES={vbytes}", "-pthread",
                            "-x", "c", "-", "-o", exe], input=FMA_SRC, capture_output=True, text=True)
        if p.returncode != 0:
            return Peak(None, f"FMA loop failed to compile: {p.stderr.strip()[:200]}")

        def run(iters: int) -> tuple[float, float]:
            out = subprocess.run([exe, str(threads), str(iters), "0.99999994", "1e-7"], capture_output=True, text=True,
                                 check=True).stdout.split()
            return float(out[0]), float(out[1])

        dt, _ = run(1_000_000)
        iters = max(1_000_000, int(1_000_000 * seconds / max(dt, 1e-6)))
        best = max(run(iters)[1] for _ in range(3))
    return Peak(best, f"{threads} threads x {NACC_DOC} accumulators of {vbytes * 8}-bit FMA, "
                      f"{os.path.basename(cc)} -O3 -march=native")


NACC_DOC = 12


def copy_bandwidth(mib: int = 256, repeats: int = 7) -> float:
    """GB/s of a numpy copy of a `mib` MiB array, counting bytes read + written (median)."""
    n = mib * (1 << 20) // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.zeros_like(src)
    t = measure(lambda: np.copyto(dst, src), repeats=repeats, warmup=1, budget_s=5)
    return 2 * src.nbytes / t.median / 1e9


# ---------------------------------------------------------------- peers (comparison only)
def import_torch() -> tuple[Any, str]:
    try:
        import torch

        return torch, f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except Exception as e:
        return None, f"torch not importable ({type(e).__name__}); for comparison: pip install torch==2.13.0"


def import_tinygrad() -> tuple[Any, str]:
    """tinygrad when it imports *and* runs a kernel here (its CPU device needs clang)."""
    try:
        import tinygrad
        from tinygrad import Device, Tensor

        (Tensor.ones(4) + 1).realize()
        ver = getattr(tinygrad, "__version__", "")
        if not ver:
            from importlib.metadata import version

            ver = version("tinygrad")
        return tinygrad, f"tinygrad {ver} on {Device.DEFAULT}"
    except ImportError:
        return None, "tinygrad not importable; for comparison: pip install tinygrad"
    except Exception as e:
        msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        hint = " (its CPU device needs clang: apt-get install clang)" if "clang" in msg else ""
        return None, f"tinygrad does not run here: {msg}{hint}"


# ---------------------------------------------------------------- output
def markdown_table(headers: list[str], rows: list[list[Any]], left: int = 2, left_last: bool = False) -> str:
    """A markdown table; the first `left` columns (and the last, if left_last) align left, the rest right."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    right = [i >= left and not (left_last and i == len(headers) - 1) for i in range(len(headers))]

    def line(vals: list[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(vals, widths, right, strict=True)) \
            + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2))
                         for w, r in zip(widths, right, strict=True)) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in cells)])


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.0f} us"
