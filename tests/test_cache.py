"""Tests of the caches: the on-disk compile cache (tinytorch/runtime/cache.py), the bounded in-memory
caches (helpers.LRU: plans, runners) and thread-safe first use of the device registry.

Takes: temporary cache folders, a shared object planted in them whose constructor writes a marker
file (it must never run), subprocesses that run a small kernel (fresh runner caches, so the disk
cache is really read) and compare it with numpy.
Produces: pass/fail.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import cli
from tinytorch.helpers import LRU, Context, once
from tinytorch.runtime import cache as ttcache
from tinytorch.runtime.device import Compiler

from .conftest import require_device

ROOT = Path(__file__).resolve().parents[1]

KERNEL = """
    import sys, numpy as np, tinytorch as tt
    x = tt.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), device=sys.argv[1])
    y = ((x * 2 + 1).exp2().sum(1)).numpy()
    ref = np.exp2(np.arange(12).reshape(3, 4) * 2 + 1).sum(1)
    print("OK" if np.allclose(y, ref, rtol=1e-5) else f"WRONG {y} {ref}")
"""

PLANTED_C = r"""
#include <stdio.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) { fputs("planted code ran\n", f); fclose(f); }
}
"""


def run(code: str, *args: str, env: dict[str, str] | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("DEVICE", "DEBUG")}
    full["CANARY"] = "0"  # the toolchain check compiles many programs: not what these tests are about
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=full, timeout=timeout, cwd=ROOT)


def entry_files(cache: Path) -> list[Path]:
    return sorted(Path(p) for p, _, _ in ttcache.entries(str(cache)))


def forge(cache: Path, payload: bytes, how: str) -> int:
    """Replace the payload of every entry. how: "hmac" - a valid tag made with the cache's own key
    (an attacker who could write the folder could have planted that key); "sha256" - the tag
    recomputed as a plain checksum (all an attacker without the key can do); "old" - the previous
    format, sha256(payload) + payload. Modes and owners of the files stay as they were."""
    key = (cache / ttcache.KEY_FILE).read_bytes()
    files = entry_files(cache)
    for f in files:
        msg = ttcache.MAGIC + f.name.encode() + payload
        data = {"hmac": ttcache.MAGIC + hmac.new(key, msg, hashlib.sha256).digest() + payload,
                "sha256": ttcache.MAGIC + hashlib.sha256(msg).digest() + payload,
                "old": hashlib.sha256(payload).digest() + payload}[how]
        with open(f, "wb") as fh:
            fh.write(data)
    return len(files)


@pytest.fixture(scope="module")
def planted_so(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """(bytes of a shared object whose constructor writes the marker file, the marker's path)."""
    require_device("C")
    from tinytorch.runtime.cpu import find_cc

    d = tmp_path_factory.mktemp("planted")
    marker = d / "MARKER-planted-code-ran"
    (d / "p.c").write_text(PLANTED_C)
    subprocess.run([str(find_cc()), "-shared", "-fPIC", f'-DMARKER="{marker}"', "-o", str(d / "p.so"), str(d / "p.c")],
                   check=True, capture_output=True)
    return (d / "p.so").read_bytes(), marker


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder a real run filled (C device), to be copied by each test."""
    require_device("C")
    cache = tmp_path_factory.mktemp("populated") / "cache"
    p = run(KERNEL, "C", env={"TINYTORCH_CACHE": str(cache)})
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr
    assert entry_files(cache), "the run cached nothing"
    return cache


def copy_cache(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, copy_function=shutil.copy2)  # modes kept: dirs 0700, files 0600
    return dst


def test_layout_modes_and_the_marker(populated: Path) -> None:
    assert stat.S_IMODE(populated.stat().st_mode) == 0o700
    for d, dirs, files in os.walk(populated):
        for name in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode) == 0o700, os.path.join(d, name)
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode) == 0o600, os.path.join(d, name)
    assert len((populated / ttcache.KEY_FILE).read_bytes()) == 32
    assert (populated / ttcache.MARKER).read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_a_forged_entry_with_a_valid_tag_runs_in_a_safe_folder(populated: Path, planted_so: tuple[bytes, Path],
                                                               tmp_path: Path) -> None:
    """The control of the tests below: the planted shared object does run when the folder passes
    every check and its tag verifies (the attacker would have needed our key), so their not
    running it is the checks' doing."""
    so, marker = planted_so
    cache = copy_cache(populated, tmp_path / "cache")
    assert forge(cache, so, "hmac")
    marker.unlink(missing_ok=True)
    run(KERNEL, "C", env={"TINYTORCH_CACHE": str(cache)})
    assert marker.exists(), "the planted library was not loaded: the control failed"
    marker.unlink()


def _chown_all(path: Path, uid: int) -> None:
    for d, dirs, files in os.walk(path):
        for n in [*dirs, *files]:
            os.chown(os.path.join(d, n), uid, -1)
    os.chown(path, uid, -1)


UNSAFE = {
    "cache folder world-writable": lambda c: c.chmod(0o777),
    "cache folder group-writable": lambda c: c.chmod(0o770),
    "compiler subfolder writable by others": lambda c: (c / "c").chmod(0o703),
    "entry group-writable": lambda c: [f.chmod(0o620) for f in entry_files(c)],
    "key readable by others": lambda c: (c / ttcache.KEY_FILE).chmod(0o644),
    "parent folder world-writable, not sticky": lambda c: c.parent.chmod(0o777),
    "cache folder owned by another user": lambda c: _chown_all(c, 65534),
    "entries owned by another user": lambda c: [os.chown(f, 65534, -1) for f in entry_files(c)],
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_a_planted_library_in_an_unsafe_folder_never_runs(case: str, populated: Path, planted_so: tuple[bytes, Path],
                                                          tmp_path: Path) -> None:
    if "another user" in case and os.geteuid() != 0:
        pytest.skip("making a file owned by another user needs root (os.chown)")
    so, marker = planted_so
    cache = copy_cache(populated, tmp_path / "parent" / "cache")
    assert forge(cache, so, "hmac")  # even a tag made with the key in the folder
    UNSAFE[case](cache)
    marker.unlink(missing_ok=True)
    p = run(KERNEL, "C", env={"TINYTORCH_CACHE": str(cache)})
    assert not marker.exists(), f"{case}: the planted library ran"
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr
    assert "not using the compile cache" in p.stderr and str(cache) in p.stderr, p.stderr
    assert p.stderr.count("not using the compile cache") == 1, p.stderr  # said once


@pytest.mark.parametrize("device", ["C", "LLVM"])
@pytest.mark.parametrize("how", ["sha256", "old"])
def test_a_tampered_entry_is_rebuilt_never_run(device: str, how: str, planted_so: tuple[bytes, Path],
                                               tmp_path: Path) -> None:
    """Entries replaced by other bytes with a recomputed plain checksum: the planted library (C) or
    junk machine code (LLVM, which used to crash the process) is rejected and the kernel rebuilt."""
    require_device(device)
    so, marker = planted_so
    cache = tmp_path / "cache"
    env = {"TINYTORCH_CACHE": str(cache)}
    first = run(KERNEL, device, env=env)
    assert first.returncode == 0 and "OK" in first.stdout, first.stdout + first.stderr
    payload = so if device == "C" else b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 20
    assert forge(cache, payload, how)
    tampered = {f: f.read_bytes() for f in entry_files(cache)}
    marker.unlink(missing_ok=True)
    second = run(KERNEL, device, env=env)
    assert second.returncode == 0, f"a tampered entry crashed the process: {second.stderr[-2000:]}"
    assert "OK" in second.stdout, second.stdout + second.stderr
    assert not marker.exists(), "the planted library ran"
    rebuilt = {f: f.read_bytes() for f in entry_files(cache)}
    assert rebuilt and all(rebuilt.get(f) != b for f, b in tampered.items()), "the tampered entries were kept"


class CountingCompiler(Compiler):
    """A compiler whose 'binary' is the source reversed; counts real compiles."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def compile_uncached(self, src: str) -> bytes:
        self.calls += 1
        return src[::-1].encode()


def test_entries_are_reused_and_keyed_by_source_flags_and_version(tmp_path: Path) -> None:
    comp = CountingCompiler()
    with Context(TINYTORCH_CACHE=str(tmp_path / "c")):
        assert comp.compile("abc") == b"cba" and comp.calls == 1
        assert comp.compile("abc") == b"cba" and comp.calls == 1  # from disk
        assert comp.compile("abd") == b"dba" and comp.calls == 2
        comp.version = lambda: "v2"  # type: ignore[method-assign]
        assert comp.compile("abc") == b"cba" and comp.calls == 3  # another compiler version: another entry
    names = [f.name for f in entry_files(tmp_path / "c")]
    assert len(names) == 3
    # entry names are keyed by the cache's secret: not the plain sha256 of what went in
    plain = hashlib.sha256("\0".join(["abc", ""]).encode()).hexdigest()
    assert plain not in names


def test_a_sticky_world_writable_parent_is_fine(tmp_path: Path) -> None:
    parent = tmp_path / "tmp-like"
    parent.mkdir()
    parent.chmod(0o1777)
    comp = CountingCompiler()
    with Context(TINYTORCH_CACHE=str(parent / "cache")), warnings.catch_warnings():
        warnings.simplefilter("error")  # a refusal would warn
        comp.compile("x")
        comp.compile("x")
    assert comp.calls == 1 and ttcache.why_refused(str(parent / "cache")) is None


def test_a_refused_folder_is_not_read_nor_written_and_the_warning_is_given_once(tmp_path: Path) -> None:
    cache = tmp_path / "shared"
    comp = CountingCompiler()
    with Context(TINYTORCH_CACHE=str(cache)):
        comp.compile("x")
        cache.chmod(0o777)
        before = sorted(os.listdir(cache))
        with pytest.warns(RuntimeWarning, match="writable by group or others") as rec:
            assert comp.compile("x") == b"x" and comp.calls == 2  # not read from the refused folder
            assert comp.compile("y") == b"y" and comp.calls == 3
            assert comp.compile("y") == b"y" and comp.calls == 3  # the private fallback cache works
        assert len([w for w in rec if "not using the compile cache" in str(w.message)]) == 1
        assert sorted(os.listdir(cache)) == before
        assert "writable by group or others" in (ttcache.why_refused() or "")
    fallback = Path(ttcache.private_dir())
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700 and fallback.stat().st_uid == os.geteuid()


def test_shared_objects_are_written_to_a_private_folder_before_dlopen(monkeypatch: pytest.MonkeyPatch) -> None:
    require_device("C")
    import ctypes

    from tinytorch.runtime import cpu

    seen: list[tuple[str, int, int]] = []
    real = ctypes.CDLL

    def spy(path: str, *a: object, **k: object) -> ctypes.CDLL:
        st = os.stat(os.path.dirname(path))
        seen.append((os.path.dirname(path), stat.S_IMODE(st.st_mode), st.st_uid))
        return real(path, *a, **k)

    monkeypatch.setattr(ctypes, "CDLL", spy)
    lib = cpu.CCompiler().compile("void k(float *a, long long s, long long e) { a[0] = 3.0f; }")
    fn = cpu.load_shared_object(lib, "k", 1)
    buf = (ctypes.c_float * 1)()
    fn(ctypes.addressof(buf), 0, 1)
    assert buf[0] == 3.0
    assert seen == [(ttcache.private_dir(), 0o700, os.geteuid())]
    assert os.path.dirname(ttcache.private_dir()) == tempfile.gettempdir()  # a fresh folder in it, not the shared one


def test_cache_clear_removes_only_what_tinytorch_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    comp = CountingCompiler()
    with Context(TINYTORCH_CACHE=str(cache)):
        for s in ("a", "b", "c"):
            comp.compile(s)
        (cache / "limits.json").write_text("{}")
        others = [cache / "notes.txt", cache / "datasets" / "mnist" / "train-images-idx3-ubyte.gz",
                  cache / "counting" / "README", cache / "counting" / "zz" / "f", cache / ("ab" * 32)]
        for f in others:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("not tinytorch's")
        assert cli.main(["cache"]) == 0
        assert "in 3 entries" in capsys.readouterr().out
        assert cli.main(["cache", "--clear"]) == 0
        out = capsys.readouterr().out
    assert "removed 6 files" in out and "5 other files left in place" in out, out
    assert all(f.read_text() == "not tinytorch's" for f in others)
    left = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert left == sorted(str(f.relative_to(cache)) for f in others)


def test_disk_cache_evicts_the_least_recently_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    blob = {k: bytes([i]) * 300_000 for i, k in enumerate("ABCD")}
    with Context(TINYTORCH_CACHE=str(cache), TINYTORCH_CACHE_MB=1):
        for k in "ABC":
            ttcache.store("t", [k], blob[k])
        by_age = sorted(entry_files(cache), key=lambda f: f.stat().st_mtime_ns)
        for i, f in enumerate(by_age):  # distinct ages, A oldest
            os.utime(f, (1000 + i, 1000 + i))
        assert ttcache.load("t", ["A"]) == blob["A"]  # a hit makes A the most recently used
        ttcache.store("t", ["D"], blob["D"])  # 1.2 MB > 1 MiB: the least recently used goes
        assert [ttcache.load("t", [k]) is not None for k in "ABCD"] == [True, False, True, True]
        assert ttcache.stats(str(cache))[1] == 3
    with Context(TINYTORCH_CACHE=str(tmp_path / "off"), TINYTORCH_CACHE_MB=0):
        ttcache.store("t", ["A"], blob["A"])
        assert ttcache.load("t", ["A"]) is None and not entry_files(tmp_path / "off")


def test_lru_class() -> None:
    d: LRU[str, int] = LRU(3)
    for i, k in enumerate("abc"):
        d[k] = i
    assert d.get("a") == 0  # used: b is now the oldest
    d["d"] = 3
    assert "b" not in d and d.keys() == ["c", "a", "d"] and d.evictions == 1
    assert d.get("zz", -1) == -1 and len(d) == 3
    with Context(TINYTORCH_CACHE_ENTRIES=2):
        e: LRU[str, int] = LRU(tt.helpers.CACHE_ENTRIES)
        for i, k in enumerate("xyz"):
            e[k] = i
        assert e.items() == [("y", 1), ("z", 2)]


def test_plan_and_runner_caches_are_bounded(device: str) -> None:
    from tinytorch.engine.realize import PLAN_CACHE

    dev = tt.Device.get(device)
    with Context(TINYTORCH_CACHE_ENTRIES=4):
        for n in range(3, 13):  # ten graph structures, each new
            x = tt.Tensor(np.arange(n, dtype=np.float32), device=device)
            np.testing.assert_allclose((x * 3 + n).numpy(), np.arange(n) * 3 + n)
            assert len(PLAN_CACHE) <= 4 and len(dev.runners) <= 4
        x = tt.Tensor(np.arange(3, dtype=np.float32), device=device)  # evicted long ago: built again, still right
        np.testing.assert_allclose((x * 3 + 3).numpy(), np.arange(3) * 3 + 3)


def test_once_runs_the_function_once_under_concurrent_first_calls() -> None:
    calls = []

    @once
    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 42

    out: list[int] = []
    ts = [threading.Thread(target=lambda: out.append(slow())) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == [42] * 8 and calls == [1]


FIRST_CALL = """
    import sys, threading, numpy as np
    import tinytorch as tt
    n = 8
    barrier = threading.Barrier(n)
    errors = []
    def work(i):
        try:
            barrier.wait()
            x = tt.Tensor(np.arange(16, dtype=np.float32) + i)
            got = float((x * 2 + 1).sum().numpy())
            want = float(((np.arange(16) + i) * 2 + 1).sum())
            if got != want:
                errors.append(f"thread {i}: {got} != {want}")
        except BaseException as e:
            errors.append(f"thread {i}: {type(e).__name__}: {e}")
    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("OK" if not errors else "ERRORS " + repr(errors[:3]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("device", [None, "LLVM"])
def test_the_first_call_from_many_threads_at_once(device: str | None, tmp_path: Path) -> None:
    """Eight threads make the very first tinytorch call of a fresh process together (the default
    device is chosen, devices and llvmlite set up, kernels compiled concurrently); ten processes."""
    if device is not None:
        require_device(device)
    env = {"TINYTORCH_CACHE": str(tmp_path / "cache"), **({"DEVICE": device} if device else {})}
    for rep in range(10):
        p = run(FIRST_CALL, env=env)
        assert p.returncode == 0 and p.stdout.strip() == "OK", f"repetition {rep}: {p.stdout} {p.stderr[-2000:]}"
