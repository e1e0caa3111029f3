"""Writes docs/api.md, the API reference, from the docstrings: `python -m tinytorch.docs [--check]`.

Takes: the Tensor class (each public method or property, grouped by the topic file that defines it:
tinytorch/tensor/<topic>.py) and the module-level functions of tinytorch (the table in
tinytorch/functions.py and the factories, dtype and device helpers).
Produces: one Markdown file: what differs from PyTorch and why (written here, from the code), then a
table per topic with the first line of each docstring. `--check` exits 1 when docs/api.md is stale.
`missing_docstrings()` lists the public methods and functions without a docstring (a test uses it).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

API_MD = Path(__file__).resolve().parent.parent / "docs" / "api.md"

DIFFERENCES = """\
## What differs from PyTorch, and why

tinytorch keeps PyTorch's names, signatures, return types and errors; where it cannot behave the same
it says so here. Anything else that differs is a bug.

- **Lazy evaluation.** An op builds a node of a graph (`t.uop` shows it, `tinytorch.viz` draws it);
  kernels are compiled and run when a value is needed: `print(t)`, `t.numpy()`, `t.item()`,
  `t.tolist()`, `float(t)`, `bool(t)`, `t.realize()`, an optimizer step. Shape, dtype and device
  errors are still raised at the line that builds the op (they are checked from shapes, never from
  values). Errors that depend on values (an index out of range computed by another op, a lazily
  computed integer divisor that is 0) cannot be raised before the value exists; see below.
- **Devices are compilers, not processors.** `C` (a C compiler, the default), `LLVM` and `INTERP`
  (numpy, for debugging) all run on the host CPU and share its memory. `"cpu"`, `"cpu:0"` and
  `tinytorch.device("cpu")` mean the default device; `t.device` is a `tinytorch.device`, equal to its
  backend name (`"C"`) and to `"cpu"` when it is the default, with `.type == "cpu"`; `str()` of the
  default device is `"cpu"` and `.name` is the backend name. There is no GPU:
  `tinytorch.cuda.is_available()` is False and `"cuda"`, `.cuda()` raise.
- **Integer division by zero.** `//`, `%`, `fmod`, `remainder` and `div(rounding_mode=...)` on
  integers raise `IntegerDivisionByZero` (a `ZeroDivisionError` and a `RuntimeError`, like PyTorch's
  error) when the divisor is known on the host: a Python number, a constant, or a tensor already
  computed. A divisor that is itself the lazy result of other ops is not known until the kernel
  runs; a 0 there gives 0 in that element (the kernel tests for 0 and -1 before dividing, so nothing
  traps or reads out of bounds). Call `.realize()` on such a divisor first to get the check.
- **Half precision is computed in float32 inside a kernel.** float16 and bfloat16 values are loaded
  as float32, computed in float32 and rounded to the half type when stored (and at an explicit
  cast). PyTorch rounds after every op; when several ops fuse into one kernel tinytorch rounds once,
  so results can differ in the last bit of the half type (they are never less accurate).
- **Writes through `detach()` of a value not computed yet.** `z = y.detach(); z += 1` changes `z`; when `y`
  is a lazy result that requires grad, `y` keeps its value (PyTorch shares the memory, so `y` changes too).
  `detach()` of a computed value or a leaf shares memory as in PyTorch.
- **Long float32 sums** are accumulated in parts of at most 4096 elements: about 1e-5 relative error for
  a million elements (PyTorch's pairwise sum is closer to exact).
- **Random numbers.** `manual_seed(s)` makes runs repeatable, but the numbers differ from PyTorch's
  for the same seed (the host generator is numpy's PCG64; dropout draws from a counter hashed in the
  graph, so a replayed `tinytorch.jit` step draws new numbers). A `tinytorch.Generator` passed as
  `generator=` gives a factory its own repeatable stream; dropout always uses the global one.
- **Gradients are lazy too.** `backward()` builds the gradient graph; `.grad` is computed when it
  is read or used (usually by `optimizer.step()`), fused with the update.
- **Layout.** `stride()` and `is_contiguous()` report the layout a tensor reads: a view of a realized
  buffer gives its real strides (`x.T.stride()` as PyTorch); a computed value gives the row-major
  strides it gets when it is realized. There is no `data_ptr()`: buffers move when realized.
- **`tinytorch.Tensor(data)` infers the dtype** from data as `tinytorch.tensor` does (Python ints give
  int64); PyTorch's legacy constructor `torch.Tensor(data)` always makes float32, and
  `torch.Tensor(2, 3)` an uninitialised float tensor (a TypeError here). Write `tinytorch.tensor(data)`
  (PyTorch's recommended spelling), `tinytorch.FloatTensor(data)` or `tinytorch.empty(2, 3)`.
- **Memory shared with numpy.** `from_numpy`, `as_tensor` and `tensor` copy the array, so later writes
  to the array do not reach the tensor (PyTorch's `from_numpy` shares the memory). `t.numpy()` of a
  contiguous realized tensor is a view of its memory: an index assignment `t[i] = v` shows through
  it, but an in-place op such as `add_` may write a new buffer, and the array keeps the old values.
- **dtypes.** No complex types. `uint16`, `uint32` and `uint64` promote only with themselves and
  floats (as in PyTorch); unlike PyTorch, arithmetic between two of them is supported.
  `set_default_dtype` changes the dtype of new float tensors (`tensor([1.5])`, `zeros`, `rand`).
- **Arguments with nothing to act on.** `layout=`, `pin_memory=`, `memory_format=`, `non_blocking=`
  are accepted and have no effect; `out=` is not supported and raises a TypeError (never ignored).
- **Printing computes.** `repr`/`str` realize the tensor and show its values in PyTorch's format,
  with `tinytorch.` in dtype names (`dtype=tinytorch.float64`) and `device='LLVM'` for a device that
  is not the default.
"""


def _first_line(doc: str | None) -> str:
    lines = [ln.strip() for ln in (doc or "").strip().splitlines()]
    out = []
    for ln in lines:  # the first paragraph, joined
        if not ln:
            break
        out.append(ln)
    return " ".join(out).replace("|", "\\|")


def _tensor_members() -> dict[str, Any]:
    """Public attributes of Tensor that document behaviour: methods, properties, static methods."""
    from .engine.walk_c import PY_TENSOR
    from .tensor import Tensor

    out: dict[str, Any] = {}
    for name in sorted(dir(Tensor)):
        if name.startswith("_"):
            continue
        # (where the C extension took a method's common cases, the Python method it stands in for)
        raw = PY_TENSOR.get(name) or inspect.getattr_static(Tensor, name)
        if isinstance(raw, (staticmethod, classmethod)):
            out[name] = raw.__func__
        elif isinstance(raw, property) or inspect.isfunction(raw):
            out[name] = raw
    return out


def _topic(obj: Any) -> str:
    fn = obj.fget if isinstance(obj, property) else obj
    mod = getattr(fn, "__module__", "") or ""
    return mod.rsplit(".", 1)[-1] if mod.startswith("tinytorch.tensor.") else "core"


def _functions() -> dict[str, Any]:
    """Public callables of the tinytorch module (classes included), by name."""
    import tinytorch

    out = {}
    for name in sorted(getattr(tinytorch, "__all__", [])):
        obj = getattr(tinytorch, name, None)
        if callable(obj) and not inspect.ismodule(obj) and not isinstance(obj, type(tinytorch.float32)):
            out[name] = obj
    return out


def missing_docstrings() -> list[str]:
    """`Tensor.name` and `tinytorch.name` entries whose docstring is empty."""
    miss = [f"Tensor.{n}" for n, o in _tensor_members().items() if not (o.__doc__ or "").strip()]
    miss += [f"tinytorch.{n}" for n, o in _functions().items() if not (o.__doc__ or "").strip()]
    return miss


def render() -> str:
    """The text of docs/api.md."""
    from .functions import METHODS

    parts = ["# tinytorch API\n",
             "Generated from the docstrings by `python -m tinytorch.docs`; do not edit by hand.\n",
             DIFFERENCES]
    by_topic: dict[str, list[tuple[str, Any]]] = {}
    for name, obj in _tensor_members().items():
        by_topic.setdefault(_topic(obj), []).append((name, obj))
    parts.append("## Tensor methods, by the file that defines them\n")
    for topic in sorted(by_topic, key=lambda t: (t != "core", t)):
        where = "tinytorch/tensor/core.py" if topic == "core" else f"tinytorch/tensor/{topic}.py"
        parts.append(f"### {topic} (`{where}`)\n")
        parts.append("| method | what it does |\n|---|---|")
        for name, obj in by_topic[topic]:
            kind = " (property)" if isinstance(obj, property) else ""
            parts.append(f"| `{name}`{kind} | {_first_line(obj.__doc__)} |")
        parts.append("")
    mirrors = [n for n in METHODS]
    parts.append("## Module functions\n")
    parts.append("`tinytorch.<name>(input, *args, **kwargs)` is `input.<name>(*args, **kwargs)` for each of these "
                 "(the table `METHODS` in tinytorch/functions.py); see the method above:\n")
    parts.append(", ".join(f"`{n}`" for n in mirrors) + "\n")
    parts.append("The other functions:\n")
    parts.append("| function | what it does |\n|---|---|")
    for name, obj in _functions().items():
        if name not in METHODS:
            parts.append(f"| `tinytorch.{name}` | {_first_line(obj.__doc__)} |")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    """Write docs/api.md, or with --check report whether it is up to date (exit 1 if not)."""
    text = render()
    if "--check" in argv:
        ok = API_MD.exists() and API_MD.read_text() == text
        print("docs/api.md is up to date" if ok else "docs/api.md is stale: run python -m tinytorch.docs")
        return 0 if ok else 1
    API_MD.write_text(text)
    print(f"wrote {API_MD} ({len(text.splitlines())} lines)")
    missing = missing_docstrings()
    if missing:
        print(f"{len(missing)} without a docstring: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
