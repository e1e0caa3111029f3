"""Honest counters: FLOPs and bytes as DEBUG=2, the profiler and its Chrome trace report them.

Takes: matmuls (square 256 and non-square), a sum, an elementwise chain, a broadcast add, a slice,
an in-place update, realized on each compiled device.
Produces: assertions that a kernel's FLOPs count 2 per multiply-add (a matmul: 2·M·N·K, a sum of N
floats: N, an elementwise op: 1 per element), that the reported GFLOP/s and GB/s are those counts
over the reported time (checked within the printed rounding, so a count off by 2x fails), and
that bytes are those moved: each buffer read once at its own size (a broadcast operand at its
real size, a slice at the part it reaches), each output written once, an in-place buffer both ways.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.codegen.kernel import NOT_FLOPS, analyze
from tinytorch.engine.realize import schedule_tensors
from tinytorch.helpers import Context, prod
from tinytorch.ops.uop import GroupOp, Ops, UOp, toposort
from tinytorch.profiler import kernel_bytes

from .conftest import require_device
from .test_debug import KERNEL_LINE

COMPILED = ["C", "LLVM"]
MATMULS = [(256, 256, 256), (192, 320, 96)]  # (M, K, N): K below the size where a reduce is split in blocks


def _tensor(shape: tuple[int, ...], device: str, seed: int = 0) -> tt.Tensor:
    return tt.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), device=device).realize()


def _rate_matches(count: float, us: float, rate: float, us_step: float, rate_step: float) -> bool:
    """`rate` (per second, in units of 1e9) equals count / (us * 1e-6), allowing for each printed figure's rounding
    (`us_step`, `rate_step`: the last printed digit)."""
    lo = count / ((us + us_step / 2) * 1e-6) * 1e-9
    hi = count / (max(us - us_step / 2, 1e-9) * 1e-6) * 1e-9
    return lo - rate_step / 2 <= rate <= hi + rate_step / 2


# ---------------------------------------------------------------- the counts themselves
@pytest.mark.parametrize("m,k,n", MATMULS)
def test_matmul_kernel_counts_two_flops_per_multiply_add(m: int, k: int, n: int) -> None:
    a, b = _tensor((m, k), "C"), _tensor((k, n), "C", 1)
    kernels, _ = schedule_tensors([a @ b])
    assert max(analyze(it.ast).flops for it in kernels) == 2 * m * n * k


def test_reduce_and_elementwise_flops() -> None:
    n = 1 << 12
    a, b = _tensor((n,), "C"), _tensor((n,), "C", 1)
    (s,) = schedule_tensors([a.sum()])[0]
    assert analyze(s.ast).flops == n  # one add per element
    (e,) = schedule_tensors([(a + b) * a - b])[0]
    assert analyze(e.ast).flops == 3 * n  # add, mul, sub per element
    (r,) = schedule_tensors([(a * b).sum()])[0]
    assert analyze(r.ast).flops == 2 * n  # a dot product: one multiply-add per element


def _flops_by_node_shapes(k: Any) -> int:
    """Each arithmetic node once per element of its own shape, each reduce once per element it reads."""
    nodes = toposort([k.ast])
    alu = sum(prod(u.shape) for u in nodes if u.op in GroupOp.ALU and u.op not in NOT_FLOPS)
    return alu + sum(prod(u.src[0].shape) for u in nodes if u.op is Ops.REDUCE_AXIS)


def test_fused_row_kernels_count_every_reduce() -> None:
    """softmax, log_softmax and layer_norm (one kernel holding a max and a sum, or a mean and a variance,
    when the scheduler fuses them): the count equals each node counted over its own shape."""
    import tinytorch.nn.functional as F

    x, w, b = _tensor((64, 128), "C"), _tensor((128,), "C", 1), _tensor((128,), "C", 2)
    reduces = 0
    for y in (x.softmax(-1), x.log_softmax(-1), F.layer_norm(x, (128,), w, b)):
        for it in schedule_tensors([y])[0]:
            k = analyze(it.ast)
            reduces += sum(1 for u in toposort([k.ast]) if u.op is Ops.REDUCE_AXIS)
            assert k.flops == _flops_by_node_shapes(k)
    assert reduces >= 6  # two per op: a max and a sum, a mean and a variance


def test_multi_output_kernel_counts_every_stored_value() -> None:
    """An optimizer-like update writing two buffers in one kernel: the ops of both values count, an op the two
    share once, whichever store comes first."""
    p, m, g = _tensor((32,), "C"), _tensor((32,), "C", 1), _tensor((32,), "C", 2)
    m2 = m.assign(m * 0.9 + g * 0.1)
    p2 = p.assign(p - m2 * 0.01)
    (it,) = schedule_tensors([p2, m2])[0]
    assert len(it.ast.src) == 2  # one kernel, two stores
    for sink in (it.ast, UOp(Ops.SINK, it.ast.dtype, it.ast.src[::-1], it.ast.arg)):
        k = analyze(sink)
        assert k.flops == 5 * 32 == _flops_by_node_shapes(k)  # mul, mul, add; mul, sub


def test_traffic_counts_each_buffer_at_its_real_size() -> None:
    x, row = _tensor((16, 32), "C"), _tensor((32,), "C", 1)
    (add,) = schedule_tensors([x + row])[0]
    assert analyze(add.ast).traffic == ((0, 0, 16 * 32), (1, 16 * 32, 0), (2, 32, 0))  # the row once, not 16 times
    (cut,) = schedule_tensors([x[:, :4].contiguous()])[0]
    assert analyze(cut.ast).traffic == ((0, 0, 16 * 4), (1, 16 * 4, 0))  # only the slice is read
    (mm,) = schedule_tensors([x @ _tensor((32, 8), "C", 2)])[0]
    assert analyze(mm.ast).traffic == ((0, 0, 16 * 8), (1, 16 * 32, 0), (2, 32 * 8, 0))


@pytest.mark.parametrize("device", COMPILED)
def test_profiler_bytes_moved(device: str) -> None:
    require_device(device)
    x, row = _tensor((64, 32), device), _tensor((32,), device, 1)
    with tt.profile(limits=False) as prof:
        (x + row).realize()
        x[:, :4].contiguous().realize()
        x.sum().realize()
    got = sorted(s.nbytes for s in prof.kernels)
    assert got == sorted([4 * (2 * 64 * 32 + 32), 4 * 2 * 64 * 4, 4 * (64 * 32 + 1)])


@pytest.mark.parametrize("device", COMPILED)
def test_in_place_update_counts_read_and_write(device: str) -> None:
    require_device(device)
    p = _tensor((1000,), device)
    with tt.profile(limits=False) as prof:
        p.assign(p * 0.5).realize()
    (s,) = prof.kernels
    assert s.nbytes == 2 * 4 * 1000


def test_runner_without_traffic_counts_every_buffer_once() -> None:
    class Plain:
        pass

    bufs = [tt.Tensor(np.ones(10, np.float32)).realize().uop.base.arg[0] for _ in range(2)]
    assert kernel_bytes(Plain(), bufs) == 2 * 40


# ---------------------------------------------------------------- reported rates = counts / reported time
@pytest.mark.parametrize("device", COMPILED)
@pytest.mark.parametrize("m,k,n", MATMULS)
def test_profiler_matmul_gflops_is_2mnk_over_time(device: str, m: int, k: int, n: int) -> None:
    require_device(device)
    a, b = _tensor((m, k), device), _tensor((k, n), device, 1)
    (a @ b).realize()  # compiled before the profile
    with tt.profile(limits=False) as prof:
        for _ in range(3):
            (a @ b).realize()
    mm = max(prof.kernels, key=lambda s: s.flops)
    assert mm.flops == 2 * m * n * k and mm.calls == 3
    assert mm.gflops == pytest.approx(2 * m * n * k * 3 / mm.total * 1e-9, rel=1e-12)
    # the table's row: GFLOP/s = 2MNK / the printed mean time
    row = next(line for line in prof.table().splitlines() if line.startswith(mm.name)).split()
    us, gflops = float(row[4]), float(row[5])
    assert _rate_matches(2 * m * n * k, us, gflops, 0.1, 0.01), (row, 2 * m * n * k)
    # the Chrome trace: every call's own FLOPs and rate
    events = [e for e in prof.chrome_trace()["traceEvents"] if e.get("name") == mm.name]
    assert len(events) == 3
    for e in events:
        assert e["args"]["flops"] == 2 * m * n * k
        assert e["args"]["bytes"] == 4 * (m * k + k * n + m * n)
        assert _rate_matches(2 * m * n * k, e["dur"], e["args"]["GFLOP/s"], 0.001, 0.001), e


@pytest.mark.parametrize("device", COMPILED)
def test_debug2_lines_report_counts_over_time(device: str, capsys: pytest.CaptureFixture[str]) -> None:
    """DEBUG=2: the matmul line's GFLOP/s is 2·M·N·K over its printed time, GB/s the bytes moved over it; a
    long sum (split in P partial sums, then their sum) counts N FLOPs, then P."""
    require_device(device)
    (m, k, n), size = MATMULS[1], 1 << 16
    a, b, v = _tensor((m, k), device), _tensor((k, n), device, 1), _tensor((size,), device, 2)
    parts = [prod(analyze(it.ast).shape) for it in schedule_tensors([v.sum()])[0]]
    assert len(parts) == 2 and parts[0] == size
    p = parts[1]
    cases = [("matmul", lambda: (a @ b).realize(), [(2 * m * n * k, 4 * (m * k + k * n + m * n))]),
             ("sum", lambda: v.sum().realize(), [(size, 4 * (size + p)), (p, 4 * (p + 1))])]
    for _, fn, _ in cases:
        fn()  # compiled before the measured call
    capsys.readouterr()
    for name, fn, want in cases:
        with Context(DEBUG=2):
            fn()
        lines = [mt for mt in map(KERNEL_LINE.match, capsys.readouterr().out.splitlines()) if mt]
        assert len(lines) == len(want), (name, [mt.group(0) for mt in lines])
        for mt, (flops, nbytes) in zip(lines, want):
            us, gflops, gbs = float(mt["us"]), float(mt["gflops"]), float(mt["gbs"])
            assert _rate_matches(flops, us, gflops, 0.1, 0.01), (name, mt.group(0), flops)
            assert _rate_matches(nbytes, us, gbs, 0.1, 0.01), (name, mt.group(0), nbytes)


def test_kernel_line_pattern_reads_the_printed_line() -> None:
    """The pattern the DEBUG checks use matches the line realize prints (else they would check nothing)."""
    line = "  C      r_4_4_abc                                  123.4 us    12.34 GFLOP/s    1.23 GB/s  x.py:3"
    mt = KERNEL_LINE.match(line)
    assert mt is not None and re.sub(r"\s+", " ", mt.group(0)).strip().endswith("1.23 GB/s")
