"""Shared test machinery: the `device` fixture, hypothesis profiles and `assert_close`.

- `device`: every registered device (`tinytorch.Device.names()`) is a parameter; a device is
  skipped only when `Device.get(name).available()` says its toolchain is absent here.
- hypothesis: profile "ci" (default) is derandomized with no deadline and few examples, so the
  suite is reproducible and fast; `HYPOTHESIS_PROFILE=dev` explores more (random seeds).
- `assert_close`: dtype-aware relative comparison that, on failure, names the op, shapes,
  device, worst index, expected vs got, and the DEBUG=4 command that shows the kernel.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinytorch
from tinytorch import Device, dtypes

# hypothesis ------------------------------------------------------------------------------------
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=20, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# devices ---------------------------------------------------------------------------------------
DEVICES = tinytorch.Device.names()


def require_device(name: str) -> str:
    """Skip (with the device's own reason) only when its toolchain is absent here."""
    ok, why = Device.get(name).available()
    if not ok:
        pytest.skip(f"device {name} unavailable: {why}")
    return name


@pytest.fixture(params=DEVICES, ids=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return require_device(request.param)


# tolerances ------------------------------------------------------------------------------------
# Relative tolerance per result dtype: a few units in the last place of that dtype, times the
# headroom an op composed of several rounded steps needs. Integers and bools compare exactly.
RTOL = {
    dtypes.float64: 1e-10,
    dtypes.float32: 1e-5,
    dtypes.float16: 2e-3,
    dtypes.bfloat16: 1.6e-2,
}
EPS = {dtypes.float64: 2.2e-16, dtypes.float32: 1.2e-7, dtypes.float16: 9.8e-4, dtypes.bfloat16: 7.8e-3}


def rtol_for(dt: Any) -> float:
    return RTOL.get(dt, 0.0)


def debug_hint(device: str | None = None) -> str:
    """The command that reruns the current test printing each kernel's source."""
    cur = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    target = shlex.quote(cur) if cur else "tests/"
    dev = f"DEVICE={device} " if device else ""
    return f"DEBUG=4 {dev}python -m pytest -x -q -n0 {target}"


def _as_numpy(x: Any) -> tuple[np.ndarray, Any]:
    if isinstance(x, tinytorch.Tensor):
        return np.asarray(x.numpy()), x.dtype
    return np.asarray(x), None


def assert_close(got: Any, expected: Any, op: str = "?", shapes: Any = None, device: str | None = None,
                 rtol: float | None = None, atol: Any = 0.0, dtype: Any = None, strides: Any = None) -> None:
    """Compare `got` (a Tensor or array) with the numpy `expected`.

    Passes when |got - expected| <= rtol * |expected| + atol everywhere, NaN where expected is
    NaN and infinities equal. rtol defaults to RTOL[dtype] (exact for ints/bools); atol is 0
    unless the caller states an absolute floor for an op whose result cancels near zero (it may be
    an array: e.g. eps * sum|x| per output of a sum).
    """
    g, gdt = _as_numpy(got)
    e = np.asarray(expected)
    if dtype is not None:
        dt = tinytorch.dtype.to_dtype(dtype)
    elif gdt is not None:
        dt = gdt
    else:
        dt = tinytorch.dtype.SCALARS.get(g.dtype.name)
    rt = rtol_for(dt) if rtol is None else rtol
    where = (f"op {op}, shapes {shapes}" + (f", strides {strides}" if strides is not None else "")
             + f", device {device}, dtype {getattr(dt, 'name', dt)}")
    hint = f"\n  rerun with the kernel source: {debug_hint(device)}"
    if g.shape != e.shape:
        raise AssertionError(f"{where}: result shape {g.shape} != expected shape {e.shape}{hint}")
    if g.size == 0:
        return
    atol_max = float(np.max(atol)) if np.size(atol) else 0.0
    if e.dtype.kind in "biu" and rt == 0 and atol_max == 0:
        bad = g != e
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise AssertionError(f"{where}: {int(bad.sum())}/{g.size} elements differ; first at index {idx}: "
                                 f"expected {e[idx]!r}, got {g[idx]!r}{hint}")
        return
    g64, e64 = g.astype(np.float64), e.astype(np.float64)
    nan_e, nan_g = np.isnan(e64), np.isnan(g64)
    inf_mismatch = (np.isinf(e64) | np.isinf(g64)) & (g64 != e64) & ~nan_e
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(nan_e | np.isinf(e64), 0.0, np.abs(g64 - e64))
        tol = rt * np.abs(np.where(np.isfinite(e64), e64, 0.0)) + atol
        ratio = np.where(tol > 0, err / np.where(tol > 0, tol, 1), np.where(err > 0, np.inf, 0.0))
    ratio = np.where(nan_e != nan_g, np.inf, ratio)
    ratio = np.where(inf_mismatch, np.inf, ratio)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    if (ratio > 1).any():
        idx = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        idx = tuple(int(i) for i in idx)
        nbad = int((ratio > 1).sum())
        raise AssertionError(
            f"{where}: {nbad}/{g.size} elements out of tolerance (rtol={rt:g}, atol={atol_max:g}); "
            f"worst at index {idx}: expected {e64[idx]!r}, got {g64[idx]!r} "
            f"(abs err {abs(g64[idx] - e64[idx]):.3g}){hint}")


def assert_equal(got: Any, expected: Any, op: str = "?", shapes: Any = None, device: str | None = None) -> None:
    """Exact comparison (values and shape), with the same failure report as assert_close."""
    assert_close(got, expected, op, shapes, device, rtol=0.0, atol=0.0)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded by the test's name: stable across runs and test order."""
    import zlib

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def pytest_addoption(parser: pytest.Parser) -> None:
    """Accept `-n0` (the documented test command) when pytest-xdist is not installed."""
    try:
        import xdist  # noqa: F401
    except ImportError:
        # lowercase short options are reserved for plugins: register it the way xdist does
        parser.getgroup("xdist-shim")._addoption("-n", "--numprocesses", dest="numprocesses", default=None,
                                                 help="number of processes (ignored: pytest-xdist is not installed)")


def known_bug(cases: dict[str, str]) -> Any:
    """Decorator: parametrized cases whose id matches a glob (e.g. "C-sin*") are known core bugs
    and get a strict xfail with the given reason (it must be removed when the bug is fixed)."""
    def deco(fn: Any) -> Any:
        fn._known_bugs = dict(cases)
        return fn
    return deco


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Known core bugs become strict xfails: op-table entries carry {"DEVICE/dtype" glob: reason},
    other tests use @known_bug({"<callspec id glob>": reason})."""
    import fnmatch

    for item in items:
        cs = getattr(item, "callspec", None)
        for pat, reason in getattr(getattr(item, "function", None), "_known_bugs", {}).items():
            if cs is not None and fnmatch.fnmatchcase(cs.id, pat):
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
                break
        params = getattr(cs, "params", {})
        op = params.get("op")
        if not (getattr(op, "xfail", None) or getattr(op, "crash", None)):
            continue
        dt = params.get("dt") or op.primary_dtype()
        key = f"{params.get('device', '?')}/{dt.name}"
        for pat, reason in op.crash.items():  # would kill the test process: not run (a subprocess test covers it)
            if fnmatch.fnmatchcase(key, pat):
                item.add_marker(pytest.mark.xfail(run=False, reason=reason))
                break
        else:
            for pat, reason in op.xfail.items():
                if fnmatch.fnmatchcase(key, pat):
                    item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
                    break


def dirty_memory(device: str, *shapes: tuple[int, ...], dtype: Any = np.float32) -> None:
    """Allocate and free buffers filled with 7s, so that memory the next kernels get from the
    allocator's pool is not zero: a kernel that forgets to write its output fails every time."""
    import gc

    ts = [tinytorch.Tensor(np.full(s, 7, dtype=dtype), device=device) for s in shapes]
    del ts
    gc.collect()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """A closing line that says how many tests were skipped and why (and whether torch ran), so a
    run that skipped the PyTorch comparisons, a device or a toolchain check cannot pass unnoticed."""
    import collections
    import importlib.util

    reasons: collections.Counter[str] = collections.Counter()
    for rep in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(rep, "longrepr", None)
        why = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reasons[why.removeprefix("Skipped: ")] += 1
    torch_state = "installed" if importlib.util.find_spec("torch") else "NOT installed (PyTorch comparisons skipped)"
    total = sum(reasons.values())
    terminalreporter.write_line(f"tinytorch: {total} test{'s' if total != 1 else ''} skipped; torch {torch_state}")
    for why, n in reasons.most_common():
        terminalreporter.write_line(f"  {n:5d} x {why}")


@pytest.fixture(params=["C", "INTERP"])
def ctx_device(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A device that is also the default inside the test (tensors made without device= land on it)."""
    from tinytorch import Context

    name = require_device(request.param)
    with Context(DEVICE=name):
        yield name


def close_to_torch(a, b, rtol=1e-5, atol=1e-6) -> None:  # type: ignore[no-untyped-def]
    """Our value (Tensor or array) equals torch's (torch.Tensor or array): same shape, allclose, NaN == NaN."""
    import tinytorch

    a = a.numpy() if isinstance(a, tinytorch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
