"""Tests of examples/attention_proof.py: the task data, a quick training run, the exit status.

Takes: the example module (loaded from its file) and nothing from disk.
Produces: checks that the targets are the reversed / copied / sorted inputs (and, for the mixed
task, the op its task token asks for), that training pairs never repeat a held-out input, that a
quick run learns reversal — which needs attention to route position T-1-i to position i — to
>= 95 % exact match while an almost untrained model scores near 0 % and makes the CLI exit 1.
The full run (all four tasks) is marked slow.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "attention_proof.py"


@pytest.fixture(scope="module")
def ap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("attention_proof_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["attention_proof_example"] = mod
    spec.loader.exec_module(mod)
    return mod


EXPECTED = {"reverse": lambda row: row[::-1], "copy": lambda row: row, "sort": sorted}


@pytest.mark.parametrize("task", ["reverse", "copy", "sort"])
def test_targets(ap: ModuleType, task: str) -> None:
    data = ap.Problems(task, 10, 8, 50, seed=3)
    x, y = data.draw(40)
    for inp, out in [*zip(data.held_in, data.held_out), *zip(x, y)]:
        assert inp.shape == (8,) and 0 <= inp.min() and inp.max() < 10
        assert list(out) == list(EXPECTED[task](list(inp)))


def test_mixed_targets_follow_the_task_token(ap: ModuleType) -> None:
    data = ap.Problems("mixed", 10, 8, 300, seed=4)
    ops = list(EXPECTED)
    assert list(ap.TASKS) == ops, "task token 10 + i means the i-th op"
    seen = set()
    for inp, out, op in zip(data.held_in, data.held_out, data.held_ops):
        assert inp.shape == (9,) and inp[0] == 10 + op and inp[1:].max() < 10
        assert list(out) == list(EXPECTED[ops[op]](list(inp[1:])))
        seen.add(int(op))
    assert seen == {0, 1, 2}


def test_training_pairs_avoid_held_out_inputs(ap: ModuleType) -> None:
    # vocab 2, length 3: 8 possible sequences, most of them held out
    data = ap.Problems("reverse", 2, 3, 6, seed=0)
    held = {tuple(r) for r in data.held_in}
    x, y = data.draw(300)
    drawn = {tuple(r) for r in x}
    assert not drawn & held
    assert len(drawn) == 8 - len(held), "every sequence that is not held out is still drawn"
    assert np.array_equal(y, x[:, ::-1])


def test_quick_run_learns_reversal(ap: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--task", "reverse", "--quick", "--no-progress", "--seed", "0"]
    res = ap.main(args)["reverse"]
    out = capsys.readouterr().out
    assert res["exact"] >= 0.95, out
    assert res["loss"] < 0.2 < np.log(10), "far below the chance loss ln(10) = 2.30"
    assert re.search(r"\[reverse\] exact match \d+\.\d% of 200 held-out", out)
    assert "->" in out and "parameters" in out and "ms/step" in out
    # the same model after 3 steps (the compiled kernels are reused): near 0 %, and the CLI says so
    assert ap.cli([*args, "--steps", "3"]) == 1
    untrained = re.search(r"exact match (\d+\.\d)%", capsys.readouterr().out)
    assert untrained is not None and float(untrained.group(1)) < 5.0


@pytest.mark.slow
def test_full_run_every_task_passes() -> None:
    run = subprocess.run([sys.executable, str(EXAMPLE), "--no-progress"], capture_output=True, text=True,
                         timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    rates = dict(re.findall(r"\[(\w+)\] exact match (\d+\.\d)% of 1000 held-out", run.stdout))
    assert set(rates) == {"reverse", "copy", "sort", "mixed"}
    assert all(float(r) >= 95.0 for r in rates.values()), rates
