"""Canaries: small programs that catch a toolchain that compiles our kernels wrong.

Takes: a device name (C, LLVM, a plugin).
Produces: `run_canaries(device) -> list[str]`, one line per program whose result differs
from the same program on INTERP (the numpy interpreter, which compiles nothing); empty when
every canary agrees.

The programs are the shapes of code that have gone wrong on some (compiler, version, flags,
CPU) combination: bool reductions, masked loads from `cat`/`pad` (partly valid vectors),
softmax and gradients after `cat`, float -> int casts and rounding (saturation, NaN), float16
arguments, a reduce with a size-1 axis broadcast back, integer division, NaN and infinities
(what fast-math assumptions break), matmul tiles with ragged edges. Each runs at several
sizes around the vector widths (one lane, remainders, full vectors, one past), all realized
together so a compiled device builds them in one compiler run. `CDevice` runs them at its
first use of each (compiler, version, flags, vector width) on a CPU and refuses a toolchain
that fails them; a pass is remembered in the compile cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

SIZES = (1, 7, 16, 17, 100)  # a lone lane, a remainder, full vectors of 4/8/16, one past, many


def _programs() -> list[tuple[str, Callable[[Any, np.random.Generator, int], Any]]]:
    import tinytorch as tt

    def bools(T: Any, rng: np.random.Generator, n: int) -> Any:
        b = T(rng.random(n) > 0.3)
        return tt.stack([b.all(), b.any(), (~b).all(), (b & T(rng.random(n) > 0.5)).any()])

    def cat_exp(T: Any, rng: np.random.Generator, n: int) -> Any:
        a, b = T(rng.standard_normal(n).astype(np.float32)), T(rng.standard_normal(n + 3).astype(np.float32))
        return tt.cat([a, b * 2]).exp()

    def cat_softmax(T: Any, rng: np.random.Generator, n: int) -> Any:
        a, b = T(rng.standard_normal((3, n)).astype(np.float32)), T(rng.standard_normal((2, n)).astype(np.float32))
        return tt.cat([a, b]).softmax(-1)

    def cat_grad(T: Any, rng: np.random.Generator, n: int) -> Any:
        a = T(rng.standard_normal((n, n)).astype(np.float32), requires_grad=True)
        b = T(rng.standard_normal((n, n)).astype(np.float32), requires_grad=True)
        tt.cat([b, a @ b]).abs().sum().backward()
        return tt.cat([a.grad.flatten(), b.grad.flatten()])

    def rounding(T: Any, rng: np.random.Generator, n: int) -> Any:
        x = T((rng.standard_normal(n) * 40).astype(np.float32))
        return tt.stack([x.floor(), x.ceil(), x.round(), x.trunc(), x.abs() ** 1.5])

    def casts(T: Any, rng: np.random.Generator, n: int) -> Any:
        x = T((rng.standard_normal(n) * 1e3).astype(np.float32))
        return tt.stack([x.cast(tt.int64).cast(tt.float32), x.cast(tt.int32).cast(tt.float32),
                         x.cast(tt.int8).cast(tt.float32), (x > 0).cast(tt.float32)])

    def half(T: Any, rng: np.random.Generator, n: int) -> Any:
        x = T(rng.standard_normal((4, n)).astype(np.float16)) * 2
        return tt.stack([x.argmax(1).cast(tt.float32), x.amax(1).cast(tt.float32), x.sum(1).cast(tt.float32)])

    def keepdim(T: Any, rng: np.random.Generator, n: int) -> Any:
        u = T(rng.standard_normal((n, 1)).astype(np.float32))
        return u.sum(1, keepdim=True) + u

    def ints(T: Any, rng: np.random.Generator, n: int) -> Any:
        a = T(rng.integers(-1000, 1000, n).astype(np.int32))
        b = T(rng.integers(1, 50, n).astype(np.int32))
        return tt.stack([a // b, a % b, a * b, -a, a.maximum(b) if hasattr(a, "maximum") else a + b])

    def specials(T: Any, rng: np.random.Generator, n: int) -> Any:
        v = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 3e38], np.float32)
        x = T(np.resize(v, n) * np.where(rng.random(n) > 0.5, 1, -1).astype(np.float32))
        return tt.stack([x.maximum(T(np.zeros(n, np.float32))), x.relu(), x.exp(), x.abs().log(), x.sqrt(),
                         (x != x).cast(tt.float32), x * 2, x.sigmoid()])

    def matmul(T: Any, rng: np.random.Generator, n: int) -> Any:
        a = T(rng.standard_normal((n + 2, 19)).astype(np.float32))
        b = T(rng.standard_normal((19, n)).astype(np.float32))
        return (a @ b).relu() + (a @ b).sum(0)

    return [("bool all/any", bools), ("cat + exp", cat_exp), ("softmax after cat", cat_softmax),
            ("gradient through cat", cat_grad), ("floor/ceil/round/trunc/pow", rounding),
            ("float -> int casts", casts), ("float16 argmax/max/sum", half), ("size-1 sum broadcast back", keepdim),
            ("integer ops", ints), ("NaN, infinities, signed zeros", specials), ("matmul tiles", matmul)]


def _run_all(device: str, sizes: tuple[int, ...]) -> dict[tuple[str, int], np.ndarray | Exception]:
    """Every canary at every size on `device`, realized together: one schedule, so a compiled
    device builds all kernels in one compiler run."""
    import tinytorch as tt

    def T(data: Any, **kw: Any) -> Any:
        return tt.Tensor(data, device=device, **kw)

    outs: dict[tuple[str, int], Any] = {}
    for name, fn in _programs():
        for n in sizes:
            try:
                outs[(name, n)] = fn(T, np.random.default_rng(n), n)
            except Exception as e:
                outs[(name, n)] = e
    lazy = [t for t in outs.values() if not isinstance(t, Exception)]
    try:
        if lazy:
            lazy[0].realize(*lazy[1:])
    except Exception:  # one kernel's failure: realize each alone to say which
        pass
    res: dict[tuple[str, int], np.ndarray | Exception] = {}
    for key, t in outs.items():
        try:
            res[key] = t if isinstance(t, Exception) else np.asarray(t.numpy())
        except Exception as e:
            res[key] = e
    return res


def run_canaries(device: str, sizes: tuple[int, ...] | None = None) -> list[str]:
    """Each canary (at each of `sizes`, default SIZES) on `device` and on INTERP; a line for each
    that differs (or raises on one only)."""
    from ..autograd import enable_grad
    from ..helpers import Context

    sizes = SIZES if sizes is None else sizes
    failures: list[str] = []
    # (the first compile may happen under no_grad: a gradient canary still needs gradients; the canaries' own
    # kernels are not the user's: DEBUG output and VIZ pages show the program's kernels only)
    with enable_grad(), Context(DEBUG=0, VIZ=0):
        wants, gots = _run_all("INTERP", sizes), _run_all(device, sizes)
    for (name, n), want in wants.items():
        got = gots[(name, n)]
        if isinstance(want, Exception):  # a canary the reference cannot run says nothing about the toolchain
            failures.append(f"{name} (n={n}): the INTERP reference raised {type(want).__name__}: {want}")
        elif isinstance(got, Exception):
            failures.append(f"{name} (n={n}): raised {type(got).__name__}: {str(got).splitlines()[0][:200]}")
        elif got.shape != want.shape or not _agree(got, want):
            bad = int(np.sum(~_close(got, want))) if got.shape == want.shape else got.size
            failures.append(f"{name} (n={n}): {bad} of {want.size} values differ from INTERP")
    return failures


def _close(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    if want.dtype.kind in "biu":
        return np.asarray(got == want)
    # FMA contraction and our exp/log approximations differ from numpy's in the last bits only
    g, w = got.astype(np.float64), want.astype(np.float64)
    tol = 2e-3 if want.dtype == np.float16 else 1e-4
    return np.asarray(np.isclose(g, w, rtol=tol, atol=tol, equal_nan=True))


def _agree(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.all(_close(got, want)))
