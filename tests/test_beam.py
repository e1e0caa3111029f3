"""BEAM search (tinytorch/codegen/search.py): same results as the heuristic, choices kept on disk per
kernel and machine, reused by a fresh process without searching, DEBUG=2 reports.

Small kernels with BEAM_MIN_US=0 (else they would keep the heuristic unsearched), one beam, a short
time budget, and a temporary cache folder each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.codegen import search
from tinytorch.helpers import Context
from tinytorch.runtime.device import Device

from .conftest import require_device

ROOT = Path(__file__).resolve().parents[1]
FAST = {"BEAM": 1, "BEAM_MIN_US": 0, "BEAM_TIME": 0.5}


def beam(cache: Path, **extra: Any) -> Any:
    return Context(TINYTORCH_CACHE=str(cache), **FAST, **extra)


def counts() -> dict[str, int]:
    return dict(search.STATS)


def delta(before: dict[str, int]) -> dict[str, int]:
    return {k: v - before[k] for k, v in search.STATS.items()}


@pytest.mark.parametrize("dev", ["C", "LLVM"])
def test_beam_matches_heuristic(dev: str, tmp_path: Path) -> None:
    """A reduce (a small matmul with a bias and relu) and an elementwise chain: searched, same values."""
    require_device(dev)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((9, 40), dtype=np.float32), rng.standard_normal((40, 24), dtype=np.float32)
    bias = rng.standard_normal(24, dtype=np.float32)
    x = rng.standard_normal(328, dtype=np.float32)
    before = counts()
    with beam(tmp_path):
        mm = (tt.Tensor(a, device=dev) @ tt.Tensor(b, device=dev) + tt.Tensor(bias, device=dev)).relu().numpy()
        ew = (tt.Tensor(x, device=dev) * 3 - 1).exp().numpy()
    d = delta(before)
    assert d["searched"] == 2 and d["candidates"] > 0
    np.testing.assert_allclose(mm, np.maximum(a @ b + bias, 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ew, np.exp(x * 3 - 1), rtol=1e-5)


def test_interp_ignores_beam(tmp_path: Path) -> None:
    x = np.arange(19, dtype=np.float32)
    before = counts()
    with beam(tmp_path):
        got = (tt.Tensor(x, device="INTERP") * 5 + 2).numpy()
    assert delta(before) == {k: 0 for k in search.STATS}
    np.testing.assert_array_equal(got, x * 5 + 2)


def test_wrong_candidates_are_discarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate whose outputs differ from the heuristic's (a reduce unrolled by a factor that does not
    divide it adds its last elements twice) is thrown away; the heuristic stays and the result is right."""
    require_device("C")

    def bad(k: Any, o: Any, max_unroll: int) -> list[Any]:
        r = len(k.shape) - 1
        return [search._canon(search.dataclasses.replace(o, vec_axis=None, width=1, unroll=((r, 3),)))]

    monkeypatch.setattr(search, "neighbours", bad)
    x = np.random.default_rng(0).standard_normal((6, 37), dtype=np.float32)
    before = counts()
    with beam(tmp_path):
        got = tt.Tensor(x).sum(1).numpy()
    d = delta(before)
    assert d["searched"] == 1 and d["mismatched"] == 1 and d["speedups"] == 0
    np.testing.assert_allclose(got, x.sum(1), rtol=1e-5, atol=1e-5)


def test_machine_key_decides_reuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same kernel on the same machine reads the stored choice; another machine key searches again."""
    require_device("C")
    dev = Device.get("C")
    x = np.linspace(-2, 2, 232, dtype=np.float32)

    def run() -> np.ndarray:
        known = set(dev.runners.keys())
        out = (tt.Tensor(x) * 7 + 1).numpy()
        for ast in dev.runners.keys():
            if ast not in known:
                dev.runners.pop(ast)  # the next run builds its kernel again (in-memory runners forgotten)
        return out

    with beam(tmp_path):
        before = counts()
        run()
        assert delta(before)["searched"] == 1
        before = counts()
        run()
        assert delta(before)["searched"] == 0 and delta(before)["cache_hits"] == 1
        other = search.machine_key
        monkeypatch.setattr(search, "machine_key", lambda d: [*other(d), "another CPU"])
        before = counts()
        got = run()
        assert delta(before)["searched"] == 1 and delta(before)["cache_hits"] == 0
    np.testing.assert_allclose(got, x * 7 + 1, rtol=1e-6)


def test_debug2_reports_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_device("C")
    x = np.ones(344, dtype=np.float32)
    with beam(tmp_path, DEBUG=2):
        (tt.Tensor(x) + 4).numpy()
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("BEAM: kernel"))
    assert "over heuristic" in line and "candidates" in line


SCRIPT = """
import json, numpy as np, tinytorch as tt
from tinytorch.codegen import search
x = np.arange(424, dtype=np.float32).reshape(8, 53)
got = (tt.Tensor(x) * 0.5).sum(1).numpy()
print(json.dumps({"ok": bool(np.allclose(got, x.sum(1) * 0.5)), **search.STATS}))
"""


def run_process(cache: Path, debug: int = 0) -> tuple[dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEVICE", "DEBUG")}
    env.update({"TINYTORCH_CACHE": str(cache), "CANARY": "0", "DEVICE": "C", "DEBUG": str(debug),
                **{k: str(v) for k, v in FAST.items()}})
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True, text=True, env=env,
                       timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stdout


def test_fresh_process_reuses_choices(tmp_path: Path) -> None:
    require_device("C")
    first, _ = run_process(tmp_path)
    assert first["ok"] and first["searched"] >= 1 and first["cache_hits"] == 0
    second, out = run_process(tmp_path, debug=2)
    assert second["ok"] and second["searched"] == 0 and second["cache_hits"] == first["searched"]
    assert "BEAM: kernel" in out and "cached choice" in out


def test_choice_round_trips(tmp_path: Path) -> None:
    """A stored choice reads back as the same Opts (every field, also ones the search does not vary)."""
    from tinytorch.codegen.kernel import analyze
    from tinytorch.codegen.opt import choose_opts
    from tinytorch.engine.realize import schedule_tensors

    a, b = tt.Tensor(np.ones((12, 16), np.float32)), tt.Tensor(np.ones((16, 32), np.float32))
    kernels, _ = schedule_tensors([a @ b])
    o = choose_opts(analyze(kernels[-1].ast))
    back = search._from_json(json.loads(json.dumps(search._to_json(o))))
    assert back == o and back.unroll == o.unroll
