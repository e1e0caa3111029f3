"""The `tinytorch` command: --help everywhere, doctor's devices and toolchain, viz, profile, bench.

Takes: tiny scripts written to a temporary folder; the command run in-process (`cli.main`) and once
as `python -m tinytorch` to check the entry point.
Produces: assertions on exit codes, what is printed and the files written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinytorch import cli, viz

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
    import sys
    import numpy as np
    import tinytorch as tt
    print("ARGS", sys.argv[1:])
    a = tt.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    b = (a * 2 + 1).relu().sum(1)  # line 6
    print("RESULT", b.numpy().tolist())
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 0)
"""


@pytest.fixture()
def script(tmp_path: Path) -> Path:
    p = tmp_path / "prog.py"
    p.write_text(textwrap.dedent(SCRIPT).lstrip("\n"))
    return p


@pytest.mark.parametrize("argv", [[], ["doctor"], ["devices"], ["cache"], ["viz"], ["profile"], ["bench"]])
def test_help_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tinytorch {' '.join(argv)}".rstrip())
    if argv in (["viz"], ["profile"], ["bench"]):
        assert "examples:" in out
    if not argv:
        for sub in ("doctor", "devices", "cache", "viz", "profile", "bench", "VIZ=1", "DEBUG=1..6"):
            assert sub in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: tinytorch" in capsys.readouterr().out


def test_doctor_lists_devices_and_the_drawing_toolchain(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["doctor"])
    out = capsys.readouterr().out
    assert rc == 0, out
    for dev in ("C", "LLVM", "INTERP"):
        assert re.search(rf"^\s+PASS\s+{dev}\s", out, re.M), out
    dot = re.search(r"^\s+(ok|MISS)\s+dot binary\s+(.*)$", out, re.M)
    assert dot and (dot.group(1) == "ok") == (shutil.which("dot") is not None)
    if shutil.which("dot"):
        assert "graphviz version" in dot.group(2)
    else:
        assert "apt-get install graphviz" in dot.group(2)
    assert re.search(r"^\s+(ok|MISS)\s+graphviz \(py\)", out, re.M)
    assert re.search(r"^\s+(ok|MISS)\s+chromium", out, re.M)
    assert re.search(r"^cache: .* in \d+ files", out, re.M)


def test_profile_runs_the_script_prints_the_table_and_writes_a_trace(script: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    rc = cli.main(["profile", "--no-limits", "--trace", str(trace), str(script), "x", "--flag"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "ARGS ['x', '--flag']" in out and "RESULT [16.0, 48.0, 80.0]" in out
    table = out.split("--- tinytorch profile of")[1]
    rows = [line for line in table.splitlines() if re.match(r"^[ER]_\w+\s", line)]
    assert rows and any("prog.py:6" in r for r in rows), table
    assert re.search(r"kernel time [\d.]+ ms in \d+ calls", table) and "memory: peak" in table
    data = json.loads(trace.read_text())
    assert any(e["ph"] == "X" and e["cat"] == "kernel" for e in data["traceEvents"])


def test_script_exit_code_and_errors_are_passed_on(script: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(script.parent)
    assert cli.main(["profile", "--no-limits", "--trace", "", str(script), "3"]) == 3
    bad = script.parent / "bad.py"
    bad.write_text("raise ValueError('boom')\n")
    assert cli.main(["profile", "--no-limits", "--trace", "", str(bad)]) == 1
    assert cli.main(["profile", "--no-limits", str(script.parent / "missing.py")]) == 2
    assert cli.main(["viz", "--out", str(script.parent / "v"), str(script.parent / "missing.py")]) == 2
    assert "no such script" in capsys.readouterr().err
    assert not Path("trace.json").exists() and not (script.parent / "v").exists()


@pytest.mark.skipif(not viz.have_dot(), reason="graphviz `dot` not installed (.ci/run installs it)")
def test_viz_command_writes_index_and_svgs(script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "v"
    rc = cli.main(["viz", "--out", str(out_dir), str(script)])
    out = capsys.readouterr().out
    assert rc == 0 and f"file://{out_dir}/index.html" in out
    svgs = list(out_dir.glob("*.svg"))
    assert any(f.name.endswith("_tensor.svg") for f in svgs) and any(f.name.endswith("_ast.svg") for f in svgs)
    for f in svgs:
        ET.parse(f)
    assert "prog.py" in (out_dir / "index.html").read_text()


def test_bench_runs_the_benchmark_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "run", lambda cmd, **kw: ran.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    assert cli.main(["bench", "--quick"]) == 0
    assert cli.main(["bench", "all", "--", "--devices", "C"]) == 0
    assert [Path(c[1]).name for c in ran] == ["bench_core.py", "bench_core.py", "bench_mlp.py"]
    assert all(os.path.isfile(c[1]) and c[0] == sys.executable for c in ran)
    assert ran[0][2:] == ["--quick"] and ran[1][2:] == ["--devices", "C"]


def test_entry_point_runs() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "VIZ")}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run([sys.executable, "-m", "tinytorch", "profile", "--help"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0 and "usage: tinytorch profile" in p.stdout and p.stderr == ""
