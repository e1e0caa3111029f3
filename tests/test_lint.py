"""The code style gates of ENGINEERING.md: ruff over the repository and mypy over the core
(ops, engine, codegen, runtime and what they import), with the settings in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install -e '.[dev]')")
def test_ruff_is_clean() -> None:
    p = _run("ruff", "check", ".")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-1000:]


def test_mypy_is_clean() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    p = _run(sys.executable, "-m", "mypy")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-1000:]
