"""The `tinytorch` command line (also `python -m tinytorch`).

Takes: argv — a subcommand and its options (`tinytorch --help` lists them).
Produces: reports on stdout and an exit code:
- `doctor`: every registered device runs a few tiny kernels that are compared with numpy
  (PASS/FAIL each), then the toolchain (C compiler, llvmlite, graphviz package, `dot`)
  and the compile cache. Exit 0 only if every built-in device (C, LLVM, INTERP) passes
  (with `--devices A,B`: only if each listed device passes). `--deep` adds the miscompile
  canaries and `--fuzz N` (default 200) random programs compared with PyTorch.
- `devices`: registered devices, whether they are available here, and the default.
- `cache`: where compiled kernels are kept, how much space they take and whether the folder is safe
  to use; `--clear` deletes what tinytorch wrote there (and nothing else).
- `viz SCRIPT [ARGS]`: run a script with VIZ on (tinytorch/viz): SVGs and index.html in --out.
- `profile SCRIPT [ARGS]`: run a script under `tinytorch.profile()`; print the per-kernel
  table and write a Chrome trace.
- `bench [core|mlp|all]`: run the benchmarks in benchmarks/ (a source checkout has them).
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

BUILTIN_DEVICES = ("C", "LLVM", "INTERP")


# ---------------------------------------------------------------- checks a device must pass
def _checks() -> list[tuple[str, Callable[[Any, str], tuple[Any, Any]]]]:
    """(name, f(np_rng, device) -> (tinytorch result, numpy reference)); tiny shapes so each runs in milliseconds."""
    import numpy as np

    import tinytorch as tt

    def elementwise(rng: Any, dev: str) -> tuple[Any, Any]:
        a, b = rng.standard_normal((3, 37)).astype(np.float32), rng.standard_normal((3, 37)).astype(np.float32)
        out = ((tt.Tensor(a, device=dev) + tt.Tensor(b, device=dev)) * 0.5).relu().exp()
        return out.numpy(), np.exp(np.maximum((a + b) * 0.5, 0))

    def reduce(rng: Any, dev: str) -> tuple[Any, Any]:
        a = rng.standard_normal((5, 67)).astype(np.float32)
        t = tt.Tensor(a, device=dev)
        return (t.sum(1) + t.amax(0).sum()).numpy(), a.sum(1) + a.max(0).sum()

    def matmul(rng: Any, dev: str) -> tuple[Any, Any]:
        a, b = rng.standard_normal((9, 17)).astype(np.float32), rng.standard_normal((17, 11)).astype(np.float32)
        return (tt.Tensor(a, device=dev) @ tt.Tensor(b, device=dev)).numpy(), a @ b

    def views(rng: Any, dev: str) -> tuple[Any, Any]:
        a = rng.standard_normal((4, 6, 5)).astype(np.float32)
        t = tt.Tensor(a, device=dev).permute(2, 0, 1)[1:, ::2].flip(0).reshape(4, -1)
        return (t * 2 + 1).numpy(), a.transpose(2, 0, 1)[1:, ::2][::-1].reshape(4, -1) * 2 + 1

    return [("elementwise", elementwise), ("reduce", reduce), ("matmul", matmul), ("views", views)]


def check_device(name: str) -> tuple[bool, str, list[tuple[str, bool, str]]]:
    """Run the tiny kernels on a device: (all passed, version or reason, [(check, ok, detail)])."""
    import numpy as np

    from .runtime.device import Device

    try:
        ok, info = Device.get(name).available()
    except Exception as e:  # a broken plugin factory is a FAIL, not a crash
        return False, f"could not create device: {type(e).__name__}: {e}", []
    if not ok:
        return False, info or "not available", []
    results: list[tuple[str, bool, str]] = []
    for check, fn in _checks():
        rng = np.random.default_rng(0)
        st = time.perf_counter()
        try:
            got, want = fn(rng, name)
            err = float(np.max(np.abs(np.asarray(got, np.float64) - want) / (np.abs(want) + 1e-6)))
            passed = bool(np.allclose(got, want, rtol=1e-4, atol=1e-5)) and got.shape == np.shape(want)
            detail = f"max rel err {err:.1e}, {(time.perf_counter() - st) * 1e3:.0f} ms"
            if got.shape != np.shape(want):
                detail = f"shape {got.shape} != {np.shape(want)}"
        except Exception as e:
            passed, detail = False, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            if os.environ.get("DEBUG"):
                traceback.print_exc()
        results.append((check, passed, detail))
    return all(p for _, p, _ in results), info, results


# ---------------------------------------------------------------- toolchain facts
def c_compiler() -> tuple[bool, str]:
    from .runtime.cpu import CCompiler, find_cc

    cc = find_cc()
    if cc is None:
        return False, "not found (install gcc or clang, or set CC=/path/to/cc)"
    return True, f"{cc}: {CCompiler(cc).version()}"


def llvmlite_version() -> tuple[bool, str]:
    try:
        import llvmlite
        import llvmlite.binding as llvm

        return True, f"llvmlite {llvmlite.__version__} (LLVM {'.'.join(map(str, llvm.llvm_version_info))})"
    except Exception as e:
        return False, f"not importable: {e} (pip install llvmlite)"


def graphviz_package() -> tuple[bool, str]:
    try:
        import graphviz

        return True, f"graphviz {graphviz.__version__}"
    except Exception as e:
        return False, f"not importable: {e} (pip install graphviz)"


def dot_binary() -> tuple[bool, str]:
    dot = shutil.which("dot")
    if dot is None:
        return False, "`dot` not on PATH: VIZ writes .dot files only (apt-get install graphviz / brew install graphviz)"
    try:
        p = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=30)
        return True, f"{dot}: {(p.stderr or p.stdout).strip()}"
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"{dot} does not run: {e}"


def chromium_binary() -> tuple[bool, str]:
    from .viz.browser import find_chromium

    exe = find_chromium()
    if exe is None:
        return False, "not found: `tinytorch viz --check` needs it (apt-get install chromium)"
    return True, exe


def dir_size(path: str) -> tuple[int, int]:
    """(bytes, files) under path; (0, 0) if it does not exist."""
    total = files = 0
    for root, _, names in os.walk(path):
        for n in names:
            try:
                total += os.path.getsize(os.path.join(root, n))
                files += 1
            except OSError:
                pass
    return total, files


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def deep_checks(names: list[str], fuzz_count: int) -> list[str]:
    """`doctor --deep`: the miscompile canaries (tinytorch.runtime.canary, when that module is
    there) and a budget of fuzz programs (tinytorch.testing.fuzz, against PyTorch) on each
    available device. Prints what fails; returns the devices that failed."""
    import importlib.util

    from .testing import fuzz
    from .testing.reference import have_torch

    devices = [n for n in names if n in fuzz.available_devices()]
    bad: list[str] = []
    print(f"\ndeep checks on {', '.join(devices) or 'no available device'}:")
    if importlib.util.find_spec("tinytorch.runtime.canary") is not None:
        from .runtime import canary

        for n in devices:
            try:
                problems = list(canary.run_canaries(n))
            except Exception as e:  # a crashing canary is a failure of that device, not of doctor
                problems = [f"canaries raised {type(e).__name__}: {e}"]
            print(f"  {'PASS' if not problems else 'FAIL'}  canaries {n}")
            for prob in problems:
                print(f"          {prob}")
            if problems:
                bad.append(n)
    else:
        print("  skip  canaries (tinytorch.runtime.canary is not part of this install)")
    if not have_torch():
        print("  note  fuzz: PyTorch is not installed, INTERP (numpy) is the reference for C and LLVM")
    start, t0 = 100_000, time.perf_counter()
    failures = fuzz.run_batch(start, fuzz_count, devices, shrink_budget=20)
    print(f"  {'PASS' if not failures else 'FAIL'}  fuzz: {fuzz_count} programs (seeds {start}.."
          f"{start + fuzz_count - 1}) in {time.perf_counter() - t0:.0f} s: {len(failures)} mismatch(es)")
    for f in failures:
        print("\n".join("          " + line for line in f.report().splitlines()))
        bad += [d for d in f.devices if d not in bad]
    return bad


# ---------------------------------------------------------------- subcommands
def cmd_doctor(args: argparse.Namespace) -> int:
    from . import helpers
    from .runtime.device import Device

    real_cache = helpers.cache_dir()
    names = Device.names()
    for b in BUILTIN_DEVICES:
        if b not in names:
            names.append(b)
    print(f"tinytorch doctor — python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} cpus")
    if args.devices:
        names = [n.upper() for n in args.devices.split(",")]
    print("\ndevices (each runs tiny kernels and compares them with numpy):")
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tinytorch-doctor-") as tmp:
        # a fresh compile cache makes the compiler really run; --use-cache keeps the user's
        ctx = helpers.Context() if args.use_cache else helpers.Context(TINYTORCH_CACHE=tmp)
        with ctx:
            for n in names:
                ok, info, results = check_device(n)
                tag = "builtin" if n in BUILTIN_DEVICES else "plugin"
                print(f"  {'PASS' if ok else 'FAIL'}  {n:<8s} ({tag}) {info or 'available'}")
                for check, passed, detail in results:
                    if args.verbose or not passed:
                        print(f"          {'ok  ' if passed else 'FAIL'} {check:<12s} {detail}")
                if not ok and (n in BUILTIN_DEVICES or args.devices):  # devices asked for by name count too
                    failed.append(n)
    print("\ntoolchain:")
    for label, (ok, info) in (("C compiler", c_compiler()), ("llvmlite", llvmlite_version()),
                              ("graphviz (py)", graphviz_package()), ("dot binary", dot_binary()),
                              ("chromium", chromium_binary())):
        print(f"  {'ok  ' if ok else 'MISS'}  {label:<14s} {info}")
    size, files = dir_size(real_cache)
    print(f"\ncache: {real_cache}  {human_bytes(size)} in {files} files "
          f"({'set by TINYTORCH_CACHE' if os.environ.get('TINYTORCH_CACHE') else 'default; TINYTORCH_CACHE moves it'}"
          f", safe to delete: `tinytorch cache --clear`)")
    print(f"default device: {Device.DEFAULT}")
    if args.deep:
        failed += [n for n in deep_checks(names, args.fuzz) if n not in failed]
    if failed:
        print(f"\nFAIL: device(s) {', '.join(failed)} did not pass")
        return 1
    print(f"\n{'all requested devices pass' if args.devices else 'all built-in devices pass'}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from .runtime.device import Device

    for n in Device.names():
        try:
            ok, info = Device.get(n).available()
        except Exception as e:
            ok, info = False, f"{type(e).__name__}: {e}"
        print(f"{n:<8s} {'available' if ok else 'unavailable':<12s} {info}")
    print(f"default: {Device.DEFAULT}  (set DEVICE=<name> or Tensor(..., device=<name>))")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from .helpers import CACHE_MB, cache_dir
    from .runtime import cache

    path = cache_dir()
    if args.clear:
        if not os.path.isdir(path):
            print(f"{path} does not exist: nothing to clear")
            return 0
        nbytes, n, left = cache.clear(path)
        print(f"removed {n} files ({human_bytes(nbytes)}) that tinytorch wrote in {path}"
              + (f"; {left} other files left in place" if left else ""))
        return 0
    size, files = cache.stats(path)
    print(f"{path}  {human_bytes(size)} in {files} entries (at most {int(CACHE_MB)} MB: TINYTORCH_CACHE_MB)")
    why = cache.why_refused(path)
    if why:
        print(f"not used: {why}; tinytorch compiles into a private temporary cache instead")
    return 0


def run_script(script: str, args: Sequence[str]) -> int:
    """Run a Python file as `python SCRIPT ARGS` would (as __main__, its folder first on sys.path),
    in this process so that VIZ and the profiler see its kernels. Returns its exit code."""
    path = os.path.abspath(script)
    if not os.path.isfile(path):
        print(f"tinytorch: no such script: {script}", file=sys.stderr)
        return 2
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(path))
    try:
        runpy.run_path(path, run_name="__main__")
        return 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return int(e.code or 0)
        print(e.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tinytorch: interrupted", file=sys.stderr)
        return 130
    except Exception:  # the script's own error: shown as python would, the report is still written
        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.path[:] = old_argv, old_path


def cmd_viz(args: argparse.Namespace) -> int:
    from . import viz
    from .helpers import VIZ_DIR
    from .viz import session

    if not os.path.isfile(args.script):
        print(f"tinytorch: no such script: {args.script}", file=sys.stderr)
        return 2
    if session._ACTIVE:  # VIZ=1 in the environment already started one: this command's replaces it
        session.stop(quiet=True)
    out = args.out or str(VIZ_DIR.value) or "viz"
    viz.start(out, limit=args.limit)
    try:
        rc = run_script(args.script, args.args)
    finally:
        index = viz.stop()
    print(f"viz: open file://{os.path.abspath(index or out)}")
    if not viz.dot.have_dot():
        print(f"viz: {viz.INSTALL_HINT}")
    if args.check and index:
        from .viz.browser import check_page, find_chromium

        if find_chromium() is None:
            print("viz: --check needs chromium (apt-get install chromium)")
            return rc or 1
        r = check_page(index)
        loaded = f"{r.graphs_loaded[0]}/{r.graphs_loaded[1]} graphs loaded" if r.graphs_loaded else "no load check"
        print(f"viz: headless chromium: {'PASS' if r.ok else 'FAIL'} ({loaded})")
        for prob in r.problems:
            print(f"      {prob}")
        if not r.ok:
            return rc or 1
    return rc


def cmd_profile(args: argparse.Namespace) -> int:
    from .profiler import profile

    if not os.path.isfile(args.script):
        print(f"tinytorch: no such script: {args.script}", file=sys.stderr)
        return 2
    if args.refresh_limits and not args.no_limits:
        from .runtime.limits import machine_limits

        machine_limits(refresh=True)
    with profile(limits=not args.no_limits) as prof:
        rc = run_script(args.script, args.args)
    print(f"\n--- tinytorch profile of {args.script} ---")
    print(prof.table(top=args.top))
    if args.trace:
        prof.export_chrome_trace(args.trace)
        print(f"trace: {args.trace} ({len(prof.events)} kernel calls; open in https://ui.perfetto.dev or "
              f"chrome://tracing)")
    return rc


BENCHES = {"core": "bench_core.py", "mlp": "bench_mlp.py"}


def benchmarks_dir() -> str | None:
    d = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
    return d if os.path.isdir(d) else None


def cmd_bench(args: argparse.Namespace) -> int:
    d = benchmarks_dir()
    if d is None:
        print("tinytorch bench: benchmarks/ is not here (it ships with the source checkout, next to tinytorch/)",
              file=sys.stderr)
        return 2
    rc = 0
    for name in (BENCHES if args.which == "all" else [args.which]):
        cmd = [sys.executable, os.path.join(d, BENCHES[name]), *(["--quick"] if args.quick else []), *args.extra]
        print(f"$ {' '.join(cmd)}", flush=True)
        rc = subprocess.run(cmd).returncode or rc
    return rc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tinytorch",
        description="tinytorch: a small deep-learning compiler (lazy UOp graphs -> fused kernels -> C / LLVM IR).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment:\n"
               "  DEVICE=C|LLVM|INTERP    default device (else the fastest that works)\n"
               "  DEBUG=1..6              1 realize summary, 2 a line per kernel, 3 kernel ASTs + optimizations,\n"
               "                          4 rendered source, 5 linear uops, 6 every rewrite pass (rules, sizes)\n"
               "  VIZ=1, VIZ_DIR=<dir>    write SVG graphs of the run and an index.html to <dir> (default ./viz)\n"
               "  TINYTORCH_CACHE=<dir>   compile cache location (safe to delete)\n"
               "  CC=<compiler>           C compiler for the C device\n"
               "examples:\n"
               "  tinytorch doctor -v     check every device and the toolchain\n"
               "  tinytorch viz examples/mlp.py --steps 5       graphs of a short training run\n"
               "  tinytorch profile examples/mlp.py --steps 50  per-kernel times and a Chrome trace\n"
               "  DEBUG=2 python examples/quickstart.py\n"
               "run `tinytorch COMMAND --help` for a command's options.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("doctor", help="check every device by running tiny kernels against numpy; toolchain; cache",
                       description="Run a few tiny kernels on every registered device and compare them with numpy; "
                                   "show the C compiler, llvmlite, graphviz and the compile cache. Exits 0 only "
                                   "if all built-in devices (C, LLVM, INTERP) pass.")
    d.add_argument("--devices", help="comma-separated device names to check instead of all registered ones "
                                     "(then each of them must pass)")
    d.add_argument("--use-cache", action="store_true",
                   help="use the user's compile cache (default: a fresh temporary one, so the compiler really runs)")
    d.add_argument("-v", "--verbose", action="store_true", help="show every check, not only failures")
    d.add_argument("--deep", action="store_true", help="also run the miscompile canaries and a budget of random "
                                                       "programs compared with PyTorch (tinytorch.testing.fuzz)")
    d.add_argument("--fuzz", type=int, default=200, metavar="N",
                   help="with --deep: how many fuzz programs (default: %(default)s)")
    d.set_defaults(func=cmd_doctor)
    v = sub.add_parser("devices", help="list registered devices and the default one")
    v.set_defaults(func=cmd_devices)
    c = sub.add_parser("cache", help="show (or --clear) the on-disk compile cache")
    c.add_argument("--clear", action="store_true",
                   help="delete what tinytorch wrote in the cache folder (rebuilt on demand); other files stay")
    c.set_defaults(func=cmd_cache)
    z = sub.add_parser("viz", help="run a Python script with VIZ on: SVG graphs of everything it runs + index.html",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run SCRIPT (as `python SCRIPT ARGS` would) with VIZ on and write, per schedule "
                                   "it realizes, the tensor graph, the kernel graph, each kernel's AST and "
                                   "linearized form, and every rewrite pass before/after, with an index.html "
                                   "that links them in execution order (opens offline in any browser).",
                       epilog="examples:\n  tinytorch viz examples/mlp.py --steps 5\n"
                              "  tinytorch viz --out /tmp/viz --check examples/quickstart.py\n"
                              "Without graphviz's `dot`, .dot files are written instead of SVGs "
                              "(apt-get install graphviz).")
    z.add_argument("--out", help="output folder (default: $VIZ_DIR, else ./viz)")
    z.add_argument("--limit", type=int, default=400, help="most nodes drawn per graph; the rest are summarized "
                                                          "(default: %(default)s)")
    z.add_argument("--check", action="store_true", help="afterwards load index.html in headless Chromium and fail "
                                                        "on console errors or graphs that do not load")
    z.add_argument("script", help="the Python file to run")
    z.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    z.set_defaults(func=cmd_viz)
    r = sub.add_parser("profile", help="run a Python script under the profiler: per-kernel table + Chrome trace",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run SCRIPT (as `python SCRIPT ARGS` would) inside `tinytorch.profile()`, then "
                                   "print one row per kernel (calls, total and mean time, GFLOP/s, GB/s, fraction "
                                   "of this machine's peak FLOP/s and bandwidth, the source line that created it), "
                                   "peak memory and live buffers, and write a Chrome trace-event file.",
                       epilog="examples:\n  tinytorch profile examples/mlp.py --steps 50\n"
                              "  tinytorch profile --trace /tmp/t.json --top 10 examples/quickstart.py\n"
                              "Open the trace in https://ui.perfetto.dev or chrome://tracing. The machine's peak is "
                              "measured once (about a second) and cached.")
    r.add_argument("--trace", default="trace.json", help="Chrome trace file to write ('' for none; default: "
                                                         "%(default)s)")
    r.add_argument("--top", type=int, default=30, help="rows of the table (default: %(default)s)")
    r.add_argument("--no-limits", action="store_true", help="skip the fraction-of-peak columns (no measurement)")
    r.add_argument("--refresh-limits", action="store_true", help="measure the machine's peak again (the best "
                                                                 "figure seen is kept)")
    r.add_argument("script", help="the Python file to run")
    r.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    r.set_defaults(func=cmd_profile)
    b = sub.add_parser("bench", help="run the benchmarks (benchmarks/ in a source checkout)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run benchmarks/bench_core.py (elementwise, reduce, softmax, matmul vs numpy and "
                                   "peers) and/or benchmarks/bench_mlp.py (an MLP training step); each prints a "
                                   "markdown table with the machine's limits.",
                       epilog="examples:\n  tinytorch bench --quick\n  tinytorch bench all\n"
                              "  tinytorch bench core -- --devices C --workloads matmul256")
    b.add_argument("which", nargs="?", choices=[*BENCHES, "all"], default="core",
                   help="which benchmark (default: %(default)s)")
    b.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (a smoke run)")
    b.add_argument("extra", nargs="*", help="after --: arguments passed to the benchmark script")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
