"""Run the parity snippets against torch (the reference) and tinytorch, compare, and report.

Takes: `cases.CASES` (category, owner, PyTorch source). Each snippet runs twice in a fresh
namespace: once with `torch`, `nn`, `F`, `optim`, `np`, `math` and `tmp` (a temporary directory)
bound to PyTorch, once with the same names bound to tinytorch. Import statements inside a snippet
(`from torch.utils.data import DataLoader`) are redirected to `tinytorch...` on the tinytorch run by
the namespace's own `__import__`; `sys.modules` is never touched, so the real torch is unaffected.
Produces: `Result`s with outcome "pass", "error" (tinytorch raised; the exception type and message),
"mismatch" (it ran but `out` differs in value, dtype, shape or type) or "badcase" (the reference run
itself failed: a bug in the snippet), a table by category and a markdown report grouped by owner.

Comparison of `out`: tensors and numpy arrays by shape, dtype name and value (floats with
rtol 1e-4, atol 1e-5, NaNs equal; integers and bools exactly); Python numbers by type (bool, int,
float) and value; strings exactly after 'torch' is renamed to 'tinytorch' in the reference; lists,
tuples (named tuples, torch.Size) and dicts element by element; dtypes by name.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import importlib
import io
import math
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

TIMEOUT_S = 20  # per snippet and side: a hang is an error, not a stuck probe
OWNERS = {
    "A": "autograd, in-place, leaves, grad_fn, autograd.grad, tensor hooks, pow edges",
    "B": "printing, conversions, devices, dtype names, module-level functions, tensor/as_tensor, utils.data, docs",
    "C": "max/min/sort/topk/median/mode/cumprod/norm, matmul family, outer",
    "D1": "elementwise math, activations, isclose/allclose/equal, div rounding, fmod",
    "D2": "gather/scatter/index_select/masked_*/nonzero/tril/triu/diag/roll/repeat_interleave/einsum/one_hot, "
          "advanced indexing, cross_entropy target checks",
    "E1": "RNN/LSTM/GRU, Bilinear, containers, module hooks, losses, module repr",
    "E2": "optimizers, schedulers, save/load, state_dict",
}


@dataclass
class Result:
    """The outcome of one snippet."""

    cat: str
    owner: str
    code: str
    outcome: str  # pass | error | mismatch | badcase
    detail: str = ""
    seconds: float = 0.0
    index: int = field(default=0)

    @property
    def name(self) -> str:
        """A stable id: category and position in the case list."""
        return f"{self.cat}#{self.index}"


class _Missing:
    """Stands in for a tinytorch submodule that does not import; any use raises that ImportError."""

    def __init__(self, name: str, err: BaseException) -> None:
        self._name, self._err = name, err

    def __getattr__(self, attr: str) -> Any:
        raise AttributeError(f"{self._name} is not importable ({self._err})")

    def __call__(self, *a: Any, **k: Any) -> Any:
        raise AttributeError(f"{self._name} is not importable ({self._err})")


def _module(name: str) -> Any:
    """Import `name`, or a `_Missing` placeholder when it does not exist."""
    try:
        return importlib.import_module(name)
    except Exception as e:  # noqa: BLE001  a missing submodule fails only the snippets that use it
        return _Missing(name, e)


def _importer(lib: str) -> Any:
    """An `__import__` that reads `torch...` as `<lib>...` (identity for lib == 'torch')."""

    def imp(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> ModuleType:
        if level == 0 and (name == "torch" or name.startswith("torch.")):
            name = lib + name[len("torch"):]
        return builtins.__import__(name, globals, locals, fromlist, level)

    return imp


def _namespace(lib: str, tmp: str) -> dict[str, Any]:
    """The globals a snippet runs in: the library under the names a PyTorch user writes."""
    bi = dict(vars(builtins))
    bi["__import__"] = _importer(lib)
    top = importlib.import_module(lib)
    return {"__builtins__": bi, "__name__": "__parity__", "torch": top, "nn": _module(lib + ".nn"),
            "F": _module(lib + ".nn.functional"), "optim": _module(lib + ".optim"), "np": np, "math": math,
            "tmp": tmp}


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout(f"snippet ran longer than {TIMEOUT_S} s")


def _seed(lib: str) -> None:
    top = importlib.import_module(lib)
    seed = getattr(top, "manual_seed", None)
    if seed is not None:
        with contextlib.suppress(Exception):
            seed(0)


def execute(code: str, lib: str) -> tuple[Any, BaseException | None, str]:
    """Run `code` with `lib` bound as torch; return (out, exception or None, formatted error)."""
    tmp = tempfile.mkdtemp(prefix="parity_")
    ns = _namespace(lib, tmp)
    _seed(lib)
    use_alarm = hasattr(signal, "SIGALRM") and sys.platform != "win32"
    old = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    try:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"<parity {lib}>", "exec"), ns)
            out = ns.get("out", _NOOUT)
            _realize_together(out, lib)
            out = _normalize(out, lib)  # reads the results inside the timer
        return out, None, ""
    except BaseException as e:  # noqa: BLE001  every failure of a snippet is a result
        if isinstance(e, KeyboardInterrupt):
            raise
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f"line {f.lineno}" for f in reversed(tb) if f.filename.startswith("<parity")), "")
        msg = " ".join(str(e).split())
        return None, e, f"{type(e).__name__}: {msg[:300]}" + (f" ({where})" if where else "")
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        shutil.rmtree(tmp, ignore_errors=True)


_NOOUT = object()


def _realize_together(out: Any, lib: str) -> None:
    """Realize every tensor of `out` in one schedule, so a snippet's kernels compile in one batch
    (a tuple of results read one by one would compile one batch per result)."""
    realize = getattr(getattr(importlib.import_module(lib), "Tensor", None), "realize", None)
    if lib == "torch" or realize is None:
        return
    found, todo = [], [out]
    while todo:
        v = todo.pop()
        if isinstance(v, list | tuple):
            todo.extend(v)
        elif isinstance(v, dict):
            todo.extend(v.values())
        elif type(v).__module__.split(".")[0] == lib and hasattr(v, "uop"):
            found.append(v)
    if len(found) > 1:
        with contextlib.suppress(Exception):  # a failure shows when the result is read one by one
            realize(found[0], *found[1:])


def _dtype_name(dt: Any) -> str:
    """'float32' for torch.float32, tinytorch.float32 (DType.name) or numpy float32."""
    name = getattr(dt, "name", None)
    if isinstance(name, str):
        return name
    return str(dt).replace("torch.", "")


def _normalize(v: Any, lib: str) -> Any:
    """Turn a snippet's `out` into tagged plain data that both libraries share."""
    if v is _NOOUT:
        return ("noout",)
    mod = type(v).__module__.split(".")[0]
    if mod == lib and hasattr(v, "shape") and hasattr(v, "dtype") and callable(getattr(v, "numpy", None)):
        dt = _dtype_name(v.dtype)
        t = v.detach() if lib == "torch" else v  # a tinytorch result reads as it is (detach is a new graph node)
        if dt == "bfloat16":
            t = t.float()
        return ("tensor", dt, tuple(int(s) for s in v.shape), np.array(t.numpy(), copy=True))
    if isinstance(v, np.ndarray | np.generic):
        a = np.asarray(v)
        return ("ndarray", a.dtype.name, a.shape, a.copy())
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", v)
    if isinstance(v, str):
        return ("str", v)
    if v is None:
        return ("none",)
    if mod == lib and type(v).__name__ in ("dtype", "DType"):
        return ("dtype", _dtype_name(v))
    if mod == lib and type(v).__name__ == "device":
        return ("device",)
    if isinstance(v, list | tuple):
        return ("seq", [_normalize(x, lib) for x in v])
    if isinstance(v, dict):
        return ("dict", [(k, _normalize(x, lib)) for k, x in v.items()])
    return ("object", type(v).__name__)


def _ref_str(s: str) -> str:
    return s.replace("torch", "tinytorch")


def compare(ref: Any, got: Any, path: str = "out") -> str:
    """'' when `got` matches `ref` (both normalized), else what differs."""
    if ref[0] == "str" and got[0] == "str":
        r = _ref_str(ref[1])
        return "" if r == got[1] else f"{path}: string {got[1]!r:.200} != torch's {r!r:.200}"
    if ref[0] in ("tensor", "ndarray") and got[0] == ref[0]:
        _, rdt, rshape, ra = ref
        _, gdt, gshape, ga = got
        if tuple(rshape) != tuple(gshape):
            return f"{path}: shape {tuple(gshape)} != torch's {tuple(rshape)}"
        if rdt != gdt:
            return f"{path}: dtype {gdt} != torch's {rdt}"
        ra, ga = np.asarray(ra), np.asarray(ga)
        if ra.dtype.kind in "fc" or ga.dtype.kind in "fc":
            tol = 1e-3 if rdt in ("float16", "bfloat16") else 1e-4
            ok = ra.shape == ga.shape and np.allclose(ga.astype(np.float64), ra.astype(np.float64), rtol=tol,
                                                      atol=1e-5 if tol == 1e-4 else 1e-3, equal_nan=True)
        else:
            ok = ra.shape == ga.shape and bool(np.array_equal(ra, ga))
        if not ok:
            return f"{path}: values {np.array2string(ga, threshold=12)} != torch's {np.array2string(ra, threshold=12)}"
        return ""
    if ref[0] != got[0]:
        return f"{path}: {_show(got)} != torch's {_show(ref)}"
    kind = ref[0]
    if kind == "float":
        r, g = ref[1], got[1]
        if (math.isnan(r) and math.isnan(g)) or math.isclose(g, r, rel_tol=1e-4, abs_tol=1e-5):
            return ""
        return f"{path}: {g!r} != torch's {r!r}"
    if kind in ("int", "bool", "dtype"):
        return "" if ref[1] == got[1] else f"{path}: {got[1]!r} != torch's {ref[1]!r}"
    if kind == "seq":
        if len(ref[1]) != len(got[1]):
            return f"{path}: sequence of {len(got[1])} != torch's {len(ref[1])}"
        for i, (r, g) in enumerate(zip(ref[1], got[1])):
            d = compare(r, g, f"{path}[{i}]")
            if d:
                return d
        return ""
    if kind == "dict":
        rk, gk = [k for k, _ in ref[1]], [k for k, _ in got[1]]
        if rk != gk:
            return f"{path}: keys {gk} != torch's {rk}"
        for (k, r), (_, g) in zip(ref[1], got[1]):
            d = compare(r, g, f"{path}[{k!r}]")
            if d:
                return d
        return ""
    if kind == "object":
        return "" if ref[1] == got[1] else f"{path}: {got[1]} object != torch's {ref[1]}"
    return ""


def _show(n: Any) -> str:
    kind = n[0]
    if kind == "tensor":
        return f"tensor{n[2]} {n[1]}"
    if kind == "ndarray":
        return f"ndarray{n[2]} {n[1]}"
    if kind == "seq":
        return f"sequence of {len(n[1])}"
    if kind in ("int", "float", "bool", "str", "dtype", "object"):
        return f"{kind} {n[1]!r:.80}"
    return kind


_MODULE_ATTR = re.compile(r"module 'tinytorch' has no attribute '(\w+)'")
_METHOD_ATTR = re.compile(r"'(?:Tensor|Parameter)' object has no attribute '(\w+)'")
_NAME_OWNER = {
    **dict.fromkeys(("autograd", "set_grad_enabled", "enable_grad", "is_grad_enabled", "retain_grad",
                     "register_hook"), "A"),
    **dict.fromkeys(("linalg", "norm", "sort", "argsort", "topk", "median", "mode", "cumprod", "cummax", "outer",
                     "logcumsumexp", "kthvalue", "mm", "bmm", "mv", "addmm", "trace", "dot", "matmul", "cross",
                     "max", "min", "amax", "amin"), "C"),
    **dict.fromkeys(("gather", "scatter", "scatter_add", "index_select", "masked_select", "masked_fill", "nonzero",
                     "argwhere", "tril", "triu", "diag", "diagonal", "roll", "repeat_interleave", "einsum",
                     "multinomial", "take", "index_add", "fill_diagonal_"), "D2"),
}


def route(owner: str, detail: str) -> str:
    """The owner of a failure: a missing name of a known topic goes to that topic's owner, a
    module-level mirror of an existing Tensor method to B (the generated table), a missing
    in-place method to A, the rest to the snippet's owner."""
    m = _MODULE_ATTR.search(detail)
    if m:
        name = m.group(1)
        if name in _NAME_OWNER:
            return _NAME_OWNER[name]
        tt = importlib.import_module("tinytorch")
        return "B" if hasattr(getattr(tt, "Tensor", None), name) or owner == "B" else owner
    m = _METHOD_ATTR.search(detail)
    if m:
        name = m.group(1)
        if name in _NAME_OWNER:
            return _NAME_OWNER[name]
        if name.endswith("_") and not name.startswith("_"):
            return "A"
    return owner


def run_case(index: int, cat: str, owner: str, code: str, lib: str = "tinytorch") -> Result:
    """Run one snippet on torch and on `lib`, and classify."""
    t0 = time.perf_counter()
    ref, rerr, rmsg = execute(code, "torch")
    if rerr is not None:
        return Result(cat, owner, code, "badcase", "reference failed: " + rmsg, time.perf_counter() - t0, index)
    got, gerr, gmsg = execute(code, lib)
    if gerr is not None:
        return Result(cat, route(owner, gmsg), code, "error", gmsg, time.perf_counter() - t0, index)
    diff = compare(ref, got)
    return Result(cat, owner, code, "mismatch" if diff else "pass", diff, time.perf_counter() - t0, index)


def run_all(filter_text: str = "", lib: str = "tinytorch") -> list[Result]:
    """Run every case (those whose category or code contains `filter_text`)."""
    from .cases import CASES

    out = []
    for i, (cat, owner, code) in enumerate(CASES):
        if filter_text and filter_text not in cat and filter_text not in code:
            continue
        out.append(run_case(i, cat, owner, code, lib))
    return out


def pass_rate(results: list[Result]) -> float:
    """Share of snippets that ran on tinytorch and matched torch (bad cases excluded)."""
    valid = [r for r in results if r.outcome != "badcase"]
    return sum(r.outcome == "pass" for r in valid) / max(len(valid), 1)


def one_line(code: str, limit: int = 220) -> str:
    """The snippet on one line (statements joined by '; ')."""
    s = "; ".join(line.strip() for line in code.strip().splitlines() if line.strip())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def table(results: list[Result]) -> str:
    """Counts per category: pass, error, mismatch, bad case."""
    cats: dict[str, list[int]] = {}
    for r in results:
        c = cats.setdefault(r.cat, [0, 0, 0, 0])
        c[["pass", "error", "mismatch", "badcase"].index(r.outcome)] += 1
    lines = [f"{'category':<12}{'total':>6}{'pass':>6}{'error':>6}{'mism':>6}{'bad':>5}"]
    for cat, (p, e, m, b) in cats.items():
        lines.append(f"{cat:<12}{p + e + m + b:>6}{p:>6}{e:>6}{m:>6}{b:>5}")
    n = len(results)
    tot = [sum(r.outcome == o for r in results) for o in ("pass", "error", "mismatch", "badcase")]
    lines.append(f"{'TOTAL':<12}{n:>6}{tot[0]:>6}{tot[1]:>6}{tot[2]:>6}{tot[3]:>5}")
    lines.append(f"pass rate {100 * pass_rate(results):.1f} %")
    return "\n".join(lines)


def failures(results: list[Result]) -> str:
    """Every failing snippet on one line with its error, grouped by owner."""
    lines = []
    for owner in [*OWNERS, *sorted({r.owner for r in results} - set(OWNERS))]:
        bad = [r for r in results if r.owner == owner and r.outcome != "pass"]
        if not bad:
            continue
        lines.append(f"\n### {owner} ({OWNERS.get(owner, '')}): {len(bad)} failing\n")
        for r in sorted(bad, key=lambda r: (r.outcome != "mismatch", r.cat, r.index)):
            tag = {"mismatch": "**MISMATCH**", "error": "error", "badcase": "bad case"}[r.outcome]
            lines.append(f"- `{r.name}` {tag}: `{one_line(r.code)}`  \n  -> {r.detail[:300]}")
    return "\n".join(lines)


def report(results: list[Result], seconds: float, history: str = "") -> str:
    """The markdown report for /tmp/notes/probe_report.md."""
    mism = [r for r in results if r.outcome == "mismatch"]
    head = [
        "# Parity probe report (tests/parity, `python -m tests.parity`)",
        "",
        f"Run at {time.strftime('%H:%M UTC', time.gmtime())} on the current tree, {len(results)} snippets, "
        f"{seconds:.0f} s. Pass = ran on tinytorch with the same value/dtype/shape/type as torch.",
        f"**Pass rate {100 * pass_rate(results):.1f} %** (bar: >= 95 %, and ZERO mismatches — "
        f"{len(mism)} mismatches now).",
        "Re-run a single case: `python -m tests.parity --filter '<text from the snippet>' -v`.",
    ]
    if history:
        head += ["", "Pass rate over time: " + history]
    return "\n".join(head) + "\n\n```\n" + table(results) + "\n```\n\n## Failures by owner\n" + failures(results) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: run the probe, print the table (and failures with -v), optionally write the report."""
    ap = argparse.ArgumentParser(prog="python -m tests.parity")
    ap.add_argument("--filter", default="", help="only cases whose category or code contains this text")
    ap.add_argument("--report", default="", help="write the markdown report to this path")
    ap.add_argument("--history", default="", help="pass-rate history line to put in the report")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = run_all(args.filter)
    secs = time.perf_counter() - t0
    print(table(results))
    print(f"{secs:.1f} s")
    if args.verbose:
        print(failures(results))
    if args.report:
        with open(args.report, "w") as f:
            f.write(report(results, secs, args.history))
    return 0
