"""DEBUG output, checked in a subprocess as a user would see it.

DEBUG=1: one summary line per realize. DEBUG=2: one line per kernel run with its name, device,
time and GFLOP/s. DEBUG=4: each kernel's source as one contiguous block (never interleaved
with another kernel's), printed before the kernel's run line. Importing prints nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from .conftest import DEVICES, require_device

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# three distinct kernels (an elementwise chain, a reduce, a large threaded elementwise) + a matmul
PROGRAM = """
    import numpy as np, tinytorch as tt
    rng = np.random.default_rng(0)
    a = tt.Tensor(rng.standard_normal((19, 23)).astype(np.float32)).realize()
    b = tt.Tensor(rng.standard_normal((19, 23)).astype(np.float32)).realize()
    c = ((a + b) * 2).exp()
    d = (a * b).sum(1)
    big = tt.Tensor(rng.standard_normal(1 << 20).astype(np.float32)).realize()
    e = big * 3 + 1
    f = a @ b.T
    print("RESULT", float(c.numpy().sum()), float(d.numpy().sum()), float(e.numpy()[:4].sum()), float(f.numpy().sum()))
"""
N_KERNELS = 4

KERNEL_LINE = re.compile(r"^\s+(?P<dev>\w+)\s+(?P<name>\S+)\s+(?P<us>[\d.]+) us\s+(?P<gflops>[\d.]+) GFLOP/s"
                         r"\s+(?P<gbs>[\d.]+) GB/s")


def run(code: str, device: str, debug: int | None, tmp_cache: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DEVICE")}
    env["DEVICE"] = device
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if debug is not None:
        env["DEBUG"] = str(debug)
    if tmp_cache is not None:
        env["TINYTORCH_CACHE"] = tmp_cache
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                       timeout=300, cwd=ROOT)
    assert p.returncode == 0, f"DEBUG={debug} DEVICE={device} program failed:\n{p.stderr[-3000:]}"
    return p.stdout


def kernel_lines(out: str) -> list[re.Match]:
    return [m for m in (KERNEL_LINE.match(line) for line in out.splitlines()) if m]


def test_import_prints_nothing() -> None:
    for level in ("0", "4"):
        p = subprocess.run([sys.executable, "-c", "import tinytorch"], capture_output=True, text=True,
                           env={**os.environ, "DEBUG": level, "PYTHONPATH": ROOT}, cwd=ROOT, timeout=120)
        assert p.returncode == 0 and p.stdout == "" and p.stderr == "", (level, p.stdout, p.stderr)


def test_debug0_prints_only_the_program_output(device: str) -> None:
    out = run(PROGRAM, device, None)
    assert [line for line in out.splitlines() if not line.startswith("RESULT")] == [], out


def test_debug1_summary_per_realize(device: str) -> None:
    out = run(PROGRAM, device, 1)
    summaries = [line for line in out.splitlines() if re.match(r"realize: \d+ kernels? from \d+ ops", line)]
    assert len(summaries) >= N_KERNELS, out
    assert not kernel_lines(out), "DEBUG=1 must not print per-kernel lines"


def test_debug2_one_line_per_kernel_with_time_and_gflops(device: str) -> None:
    out = run(PROGRAM, device, 2)
    lines = kernel_lines(out)
    assert len(lines) == N_KERNELS, f"expected {N_KERNELS} kernel lines, got {len(lines)}:\n{out}"
    assert all(m["dev"] == device for m in lines), out
    assert len({m["name"] for m in lines}) == N_KERNELS, "kernel names must be distinct"
    assert all(float(m["us"]) > 0 for m in lines), out
    # the big elementwise kernel and the matmul do real work: their FLOP counts are not zero
    assert sum(float(m["gflops"]) > 0 for m in lines) >= 2, f"GFLOP/s never reported:\n{out}"
    assert "RESULT" in out
    # the user's source line is named on each kernel line
    assert sum("<string>:" in line for line in out.splitlines() if KERNEL_LINE.match(line)) >= N_KERNELS - 1, out


def test_debug2_first_use_shows_only_the_programs_kernels(tmp_path) -> None:
    """With an empty compile cache the C device first checks its toolchain (runtime/canary.py, hundreds of small
    kernels on C and INTERP): those are not the program's, DEBUG=2 lists the program's kernels only."""
    require_device("C")
    out = run(PROGRAM, "C", 2, tmp_cache=str(tmp_path / "cache"))
    assert "C toolchain check" in out and "PASS" in out, out[-2000:]
    lines = kernel_lines(out)
    assert len(lines) == N_KERNELS and all(m["dev"] == "C" for m in lines), out[-3000:]


def _source_blocks(out: str) -> list[tuple[str, list[str]]]:
    """(kernel name, lines) for every '--- source of NAME' block, up to the next marker line."""
    blocks: list[tuple[str, list[str]]] = []
    cur: tuple[str, list[str]] | None = None
    for line in out.splitlines():
        m = re.match(r"^--- source of (\S+)", line)
        if m:
            cur = (m.group(1), [])
            blocks.append(cur)
        elif line.startswith("---") or KERNEL_LINE.match(line) or line.startswith("realize:") or \
                line.startswith("  compiled") or line.startswith("RESULT"):
            cur = None
        elif cur is not None:
            cur[1].append(line)
    return blocks


@pytest.mark.parametrize("dev", [d for d in DEVICES if d != "INTERP"])
def test_debug4_prints_each_kernel_source_contiguously(dev: str, tmp_path) -> None:
    """INTERP runs ASTs, it has no source; compiled devices print C or LLVM IR per kernel."""
    require_device(dev)
    out = run(PROGRAM, dev, 4)
    runs = kernel_lines(out)
    blocks = _source_blocks(out)
    names = [n for n, _ in blocks]
    assert len(runs) == N_KERNELS, out[-3000:]
    assert sorted(names) == sorted(m["name"] for m in runs), f"source blocks {names} vs kernels run {runs}"
    for name, body in blocks:
        text = "\n".join(body)
        # the block holds this kernel's whole definition: its signature once, balanced braces, no other kernel
        n = re.escape(name)
        definition = re.findall(rf"(?:void\s+{n}\s*\(|define\b[^@\n]*@\"?{n}\"?\s*\()", text)
        assert len(definition) == 1, f"kernel {name}: source block does not define it exactly once:\n{text[:2000]}"
        assert text.count("{") == text.count("}"), f"kernel {name}: unbalanced braces, block cut or interleaved"
        others = [n for n in names if n != name and re.search(rf"\b{re.escape(n)}\b", text)]
        assert not others, f"kernel {name}'s source block mentions kernels {others}: interleaved output"
    # each kernel's source comes before its own run line, and after the previous kernel's run line
    lines = out.splitlines()
    src_at = {m.group(1): i for i, line in enumerate(lines) if (m := re.match(r"^--- source of (\S+)", line))}
    run_at = {m["name"]: i for i, line in enumerate(lines) if (m := KERNEL_LINE.match(line))}
    order = sorted(run_at, key=run_at.get)
    for prev, cur in zip(order, order[1:]):
        assert run_at[prev] < src_at[cur] < run_at[cur], f"{cur}'s source is not between {prev}'s run and its own"


def test_debug_context_manager_matches_env() -> None:
    """`with Context(DEBUG=2)` prints the same kernel lines as DEBUG=2 in the environment."""
    code = """
        import numpy as np, tinytorch as tt
        a = tt.Tensor(np.ones((7, 11), np.float32)).realize()
        (a * 5).numpy()
        with tt.Context(DEBUG=2):
            (a + 3).sum(0).numpy()
        (a - 1).numpy()
    """
    dev = next(d for d in DEVICES if __import__("tinytorch").Device.get(d).available()[0])
    out = run(code, dev, None)
    assert len(kernel_lines(out)) == 1, out


def test_device_env_var_selects_the_default_device(device: str) -> None:
    code = """
        import tinytorch as tt
        t = tt.Tensor([1.0, 2.0]) * 2
        print("DEVICE", t.device.name, tt.Device.DEFAULT, t.numpy().tolist())
    """
    out = run(code, device, None)
    assert f"DEVICE {device} {device} [2.0, 4.0]" in out, out
