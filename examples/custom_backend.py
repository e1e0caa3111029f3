"""A new tinytorch device in ~30 lines: "CSCALAR", the C backend built with other compiler flags.

Takes: nothing (or `--pytest [pytest args]` to run the repo's op tests on the new device).
Produces: PASS/FAIL per tensor program compared with numpy, and exit code 0 when all pass.

The device is assembled from the public parts in tinytorch/runtime/device.py (docs/backends.md):
the stock C renderer, a `Compiler` subclass with its own flags (`-O2 -fno-tree-vectorize`
instead of `-O3`: the explicit vector types the renderer writes stay, the auto-vectorizer
goes) and the stock shared-object loader, glued by `CompiledDevice` and added with
`register_device`. Compiled kernels are cached on disk under `<cache>/c_scalar/`, keyed by
source + flags + compiler version, so they never mix with the C device's.

    python examples/custom_backend.py            # tensor programs on CSCALAR vs numpy
    python examples/custom_backend.py --pytest   # tests/test_ops.py, only the CSCALAR cases

`--pytest` loads this file as a pytest plugin (`-p custom_backend`): importing it registers
the device before tests/conftest.py parametrizes its device fixture over Device.names(),
so every device-parametrized test gains a CSCALAR case, which `-k CSCALAR` selects.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np

import tinytorch as tt
from tinytorch.codegen.c import CRenderer
from tinytorch.runtime.cpu import CCompiler, find_cc, load_shared_object
from tinytorch.runtime.device import CompiledDevice, Device, register_device

NAME = "CSCALAR"


class ScalarCCompiler(CCompiler):
    """The C compiler with -O2 and no auto-vectorizer; `name` picks the cache subfolder."""

    name = "c_scalar"
    base_flags = tuple(f for f in CCompiler.base_flags if f != "-O3") + ("-O2", "-fno-tree-vectorize")


class CScalarDevice(CompiledDevice):
    name = NAME

    def __init__(self) -> None:
        super().__init__(CRenderer(), ScalarCCompiler(), load_shared_object)

    def available(self) -> tuple[bool, str]:
        if find_cc() is None:
            return False, "no C compiler (cc/gcc/clang) on PATH"
        return True, f"{self.compiler.version()}, flags {' '.join(self.compiler.flags())}"


def register() -> None:
    Device.names()  # load the built-in devices first, so registering ours adds to them
    register_device(NAME, CScalarDevice)


# name -> (program on tinytorch Tensors, the same program on numpy arrays, input shapes, positive inputs)
PROGRAMS = {
    "add_broadcast": (lambda a, b: a + b, lambda a, b: a + b, [(4, 33), (1, 33)], False),
    "fused_chain": (lambda a, b: ((a * b - 1).relu() + a).sqrt(), lambda a, b: np.sqrt(np.maximum(a * b - 1, 0) + a),
                    [(257,), (257,)], True),
    "exp_log_sin": (lambda a: a.exp() + a.log() + a.sin(), lambda a: np.exp(a) + np.log(a) + np.sin(a), [(7, 9)], True),
    "sum_axes": (lambda a: a.sum(1) * 2 + a.sum(), lambda a: a.sum(1) * 2 + a.sum(), [(13, 71)], False),
    "max_keepdim": (lambda a: a - a.amax(-1, keepdim=True), lambda a: a - a.max(-1, keepdims=True), [(5, 6, 7)], False),
    "softmax": (lambda a: a.softmax(-1), lambda a: np.exp(a - a.max(-1, keepdims=True))
                / np.exp(a - a.max(-1, keepdims=True)).sum(-1, keepdims=True), [(8, 100)], False),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, [(31, 45), (45, 17)], False),
    "batched_matmul": (lambda a, b: (a @ b).relu(), lambda a, b: np.maximum(a @ b, 0), [(3, 8, 5), (5, 6)], False),
    "permute_reshape": (lambda a: a.permute(2, 0, 1).reshape(6, -1) * 3,
                        lambda a: a.transpose(2, 0, 1).reshape(6, -1) * 3, [(4, 5, 6)], False),
    "slice_flip_pad": (lambda a: a[1:, ::-2].pad((1, 2)) + 1, lambda a: np.pad(a[1:, ::-2], ((0, 0), (1, 2))) + 1,
                       [(6, 9)], False),
    "where_cmp": (lambda a, b: tt.where(a > b, a, b * 2), lambda a, b: np.where(a > b, a, b * 2), [(50,), (50,)],
                  False),
    "cast_int": (lambda a: (a * 10).int() + 1, lambda a: (a * 10).astype(np.int32) + 1, [(40,)], False),
    "cumsum": (lambda a: a.cumsum(1), lambda a: np.cumsum(a, 1), [(3, 20)], False),
    "mean_var": (lambda a: a.var(0) + a.mean(0), lambda a: a.var(0, ddof=1) + a.mean(0), [(30, 4)], False),
}


def run_programs(device: str) -> bool:
    rng = np.random.default_rng(0)
    all_ok = True
    for name, (f_tt, f_np, shapes, positive) in PROGRAMS.items():
        arrs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        if positive:
            arrs = [np.abs(a) + 0.1 for a in arrs]
        try:
            got = f_tt(*[tt.Tensor(a, device=device) for a in arrs]).numpy()
            want = np.asarray(f_np(*[a.astype(np.float64) for a in arrs]))  # float64 reference
            scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0  # sums: error grows with magnitude
            ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-6 * scale)
            detail = f"shape {got.shape}, max abs err {np.max(np.abs(got - want)) if got.size else 0:.1e}"
        except Exception as e:
            ok, detail = False, f"{type(e).__name__}: {e}"
        all_ok &= bool(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {name:<16s} {detail}")
    return all_ok


def run_op_tests(extra: list[str]) -> int:
    """The repo's op test-suite on CSCALAR: pytest with this file as a plugin, filtered to the device id."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.path.join(root, "tests", "test_ops.py")
    if not os.path.exists(target):
        print(f"{target} not found: nothing to run")
        return 1
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.abspath(__file__)),
                                                        os.environ.get("PYTHONPATH", "")]))
    one_process = ["-n", "0"] if importlib.util.find_spec("xdist") else []  # (pyproject asks for workers)
    cmd = [sys.executable, "-m", "pytest", "-p", "custom_backend", target, "-k", NAME, "-q", *one_process, *extra]
    print("$", " ".join(cmd))
    return subprocess.run(cmd, cwd=root, env=env).returncode


def main(argv: list[str]) -> int:
    register()
    if argv[:1] == ["--pytest"]:
        return run_op_tests(argv[1:])
    ok, info = Device.get(NAME).available()
    print(f"device {NAME}: {info if ok else 'unavailable: ' + info}")
    if not ok:
        return 1
    print(f"registered devices: {', '.join(Device.names())}")
    passed = run_programs(NAME)
    print("all programs PASS" if passed else "some programs FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
else:  # imported as a plugin (pytest -p custom_backend, or an entry point): the device joins the registry
    register()
