"""Differential fuzzing in the test suite: random programs on every device, compared with PyTorch.

Takes: tinytorch.testing.fuzz with fixed seeds (the same programs every run).
Produces: the normal run checks 50 programs (seeds 0..49, in chunks of 25 so a failure names
its seeds); `pytest -m fuzz` checks 3000; FUZZ_COUNT=N sets the number either way. A failure's
message is the fuzzer's report: seed, devices, expected vs got, the shrunk program as runnable
tinytorch code and the replay command. The fuzzer's own machinery (comparison, shrinking,
reports, the CLI) is tested against deliberately broken ops.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import tinytorch
from tinytorch.testing import fuzz
from tinytorch.testing.generate import generate
from tinytorch.testing.programs import Op, Program
from tinytorch.testing.reference import Reference, have_torch

# without torch the fuzz programs still run (INTERP is their reference); these need torch as an independent judge
needs_torch = pytest.mark.skipif(not have_torch(), reason="compares with PyTorch, which is not installed")

CHUNK = 25
DEFAULT_COUNT, MANY = 50, 3000


def fuzz_count(config: pytest.Config) -> int:
    if os.environ.get("FUZZ_COUNT"):
        return int(os.environ["FUZZ_COUNT"])
    return MANY if "fuzz" in (config.getoption("markexpr") or "") else DEFAULT_COUNT


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seeds" in metafunc.fixturenames:
        n = fuzz_count(metafunc.config)
        chunks = [(s, min(CHUNK, n - s)) for s in range(0, n, CHUNK)]
        metafunc.parametrize("seeds", chunks, ids=[f"seeds{s}-{s + c - 1}" for s, c in chunks])


@pytest.mark.fuzz
def test_fuzz_programs(seeds: tuple[int, int], request: pytest.FixtureRequest) -> None:
    start, count = seeds
    failures = fuzz.run_batch(start, count, shrink_budget=30)
    assert not failures, "\n\n".join(f.report() for f in failures)


# ------------------------------------------------------------------------------------ the machinery
def _program() -> Program:
    """x0 (4x5 float32) -> sigmoid -> + fresh (1x5) -> sum(0); the sigmoid is the op we break."""
    ops = [Op("input", (), {"shape": ["s0", "s1"], "dtype": "float32", "domain": "normal", "uid": 1}),
           Op("sigmoid", (0,)),
           Op("input", (1,), {"shape": [1, ["dim", 1]], "dtype": "float32", "domain": "normal", "uid": 2}),
           Op("binary", (1, 2), {"op": "+"}),
           Op("exp", (3,)),
           Op("reduce", (4,), {"fn": "sum", "axis": 0, "keepdim": False})]
    return Program(seed=7, mode="forward", sizes={"s0": 4, "s1": 5}, ops=ops)


@pytest.fixture
def broken_sigmoid(monkeypatch: pytest.MonkeyPatch) -> None:
    orig = tinytorch.Tensor.sigmoid
    monkeypatch.setattr(tinytorch.Tensor, "sigmoid", lambda self: orig(self) * 1.5)


def test_compare_is_relative_and_dtype_aware() -> None:
    exact = np.array([1.0, -2.0, 1e-30])
    refs = {v: exact for v in ("nat", "f64", "p1", "p2", "lo")}
    assert fuzz.compare(exact * (1 + 5e-6), "float32", refs, "float32") is None
    bad = fuzz.compare(exact * (1 + 5e-5), "float32", refs, "float32")
    assert bad is not None and bad[0] == "value"
    # tiny values need the same relative accuracy as large ones (no absolute floor)
    assert fuzz.compare(np.array([1.0, -2.0, 2e-30]), "float32", refs, "float32") is not None
    assert fuzz.compare(exact * (1 + 1e-3), "float16", refs, "float16") is None
    assert fuzz.compare(exact, "float64", refs, "float32") == ("dtype", "dtype float64, expected float32")
    ints = {v: np.array([1, 2, 3]) for v in ("nat", "f64", "p1", "p2", "lo")}
    assert fuzz.compare(np.array([1, 2, 4]), "int32", ints, "int32") is not None


def test_rounding_error_estimate_widens_only_where_needed() -> None:
    nat = np.array([1.0, 1.0])
    refs = {"nat": nat, "f64": np.array([1.0, 1.001]), "p1": nat, "p2": nat, "lo": nat}
    got = np.array([1.0, 1.003])  # element 1: 3e-3 off, its reference itself is 1e-3 off exact
    assert fuzz.compare(got, "float32", refs, "float32") is None
    assert fuzz.compare(np.array([1.003, 1.0]), "float32", refs, "float32") is not None


@needs_torch
def test_a_broken_op_is_found_shrunk_and_reported(broken_sigmoid: Any) -> None:
    prog = _program()
    ms = fuzz.run_device(Reference.build(prog), "INTERP")
    assert ms and ms[0].kind == "value", ms
    small = fuzz.shrink(prog, "INTERP", ms[0].signature, budget=60)
    names = [op.name for op in small.ops if op.name != "input"]
    assert names == ["sigmoid"], small  # the exp, the add and the sum do not matter
    assert max(small.sizes[s] for s in fuzz.used_symbols(small)) == 1
    code = fuzz.repro_code(Reference.build(small), "INTERP", ms[0])
    assert "v1 = x0.sigmoid()" in code and "--replay 7" in code
    exec(compile(code, "<repro>", "exec"), {})  # the printed program runs as it is


@needs_torch
def test_run_seed_reports_seed_devices_code_and_replay(broken_sigmoid: Any) -> None:
    def sigmoid_is_an_output(p: Program) -> bool:
        return p.mode == "forward" and any(p.ops[o].name == "sigmoid" for o in p.out_ids())
    seed = next(s for s in range(2000) if sigmoid_is_an_output(generate(s)[0]))
    failures = fuzz.run_seed(seed, ["INTERP", "C"], shrink_budget=30)
    assert failures
    text = failures[0].report()
    assert f"fuzz seed {seed}" in text and f"--replay {seed}" in text and ".sigmoid()" in text
    assert set(failures[0].devices) == {"INTERP", "C"}


def test_generation_is_deterministic_and_covers_the_op_set() -> None:
    seen: set[str] = set()
    modes: set[str] = set()
    dts: set[str] = set()
    for s in range(120):
        p, ref = generate(s)
        again, _ = generate(s)
        assert str(p) == str(again)
        modes.add(p.mode)
        dts.update(ref.dtypes)
        for op in p.ops:
            seen.add(op.params.get("fn", op.params.get("op", op.name)) if op.name in ("reduce", "binary") else op.name)
    wanted = {"exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "floor", "ceil", "round", "trunc",
              "pow_s", "reshape", "permute", "expand", "slice", "pad", "cat", "flip", "sum", "max", "min", "mean",
              "argmax", "prod", "matmul", "where", "index", "cast", "+", "*", "/", "<"}
    assert wanted <= seen, wanted - seen
    assert modes == {"forward", "grad", "jit"}
    assert {"float32", "float16", "bfloat16", "float64", "int8", "uint8", "int32", "int64", "bool"} <= dts


@needs_torch
def test_without_torch_interp_is_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinytorch.testing import reference

    prog = _program()
    with_torch = Reference.build(prog)
    monkeypatch.setattr(reference, "have_torch", lambda: False)
    ref = Reference.build(prog.copy())
    assert ref.backend == "INTERP"
    out = ref.outputs[0]
    np.testing.assert_allclose(ref.np_value("nat", out, 0), with_torch.np_value("nat", out, 0), rtol=1e-5)
    assert fuzz.run_device(ref, "C") == []


def test_cli_replay(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz.main(["--replay", "3", "--device", "INTERP", "--show"]) == 0
    out = capsys.readouterr().out
    assert "seed 3: ok on INTERP" in out and "import tinytorch as tt" in out


def test_doctor_deep_runs_the_fuzzer(capsys: pytest.CaptureFixture[str]) -> None:
    from tinytorch import cli

    rc = cli.main(["doctor", "--deep", "--fuzz", "4", "--devices", "INTERP", "--use-cache"])
    out = capsys.readouterr().out
    assert "fuzz: 4 programs" in out, out
    assert rc == 0, out
