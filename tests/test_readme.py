"""The README's promises hold: every ```python block runs, the commands it shows work, its links exist.

Takes: README.md at the repository root.
Produces: one test per ```python block (each run in a fresh interpreter, so a block that registers a
device or sets DEBUG cannot leak into other tests), plus tests of the quickstart example, the
`tinytorch` command (`doctor`, `--help`), the relative links, and that .ci/run runs the README's
test command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _readme() -> str:
    with open(README, encoding="utf-8") as f:
        return f.read()


def python_blocks() -> list[tuple[int, str]]:
    """(line number, code) of every ```python block."""
    text = _readme()
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"^```python\n(.*?)^```", text,
                                                                               re.S | re.M)]


def _run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("DEBUG", None)
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def test_readme_has_python_blocks() -> None:
    assert len(python_blocks()) >= 3, "README.md lost its ```python examples"


@pytest.mark.parametrize("line,code", python_blocks(), ids=[f"README.md:{n}" for n, _ in python_blocks()])
def test_readme_python_block_runs(line: int, code: str) -> None:
    p = _run([sys.executable, "-c", code])
    assert p.returncode == 0, (f"README.md block at line {line} failed:\n--- code\n{code}\n"
                               f"--- stderr\n{p.stderr[-3000:]}")


def test_readme_shows_the_two_setup_commands() -> None:
    text = _readme()
    assert "python examples/quickstart.py" in text
    assert "python -m pytest -q" in text


def test_quickstart_example_runs() -> None:
    p = _run([sys.executable, os.path.join("examples", "quickstart.py")])
    assert p.returncode == 0, p.stderr[-3000:]
    assert "softmax rows sum to" in p.stdout


def test_ci_runs_the_readme_test_command() -> None:
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        ci = f.read()
    assert "python -m pytest -q" in ci
    assert os.access(os.path.join(ROOT, ".ci", "run"), os.X_OK), ".ci/run must be executable"


def test_readme_relative_links_exist() -> None:
    missing = [link for link in re.findall(r"\]\(([^)#]+)\)", _readme())
               if "://" not in link and not os.path.exists(os.path.join(ROOT, link))]
    assert not missing, f"README.md links to missing files: {missing}"


def test_cli_help_lists_subcommands() -> None:
    p = _run([sys.executable, "-m", "tinytorch", "--help"])
    assert p.returncode == 0, p.stderr
    for sub in ("doctor", "devices", "cache"):
        assert sub in p.stdout


@pytest.mark.slow
def test_cli_doctor_passes_every_builtin_device() -> None:
    """`tinytorch doctor` compiles and runs tiny kernels on C, LLVM and INTERP and compares them with numpy."""
    p = _run([sys.executable, "-m", "tinytorch", "doctor"])
    assert p.returncode == 0, f"tinytorch doctor failed:\n{p.stdout}\n{p.stderr[-2000:]}"
    for dev in ("C", "LLVM", "INTERP"):
        assert re.search(rf"PASS\s+{dev}\s", p.stdout), f"doctor did not report PASS for {dev}:\n{p.stdout}"
