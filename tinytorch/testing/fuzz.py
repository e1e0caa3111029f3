"""Differential fuzzing: random programs run on every device and compared with PyTorch.

Takes: seeds (one to replay, or a range), the devices to check (default: every available one
of `Device.names()`), optionally a mode.
Produces: for each seed a program (tinytorch/testing/generate.py) — a list of op records, so it
prints, replays and shrinks — run on each device forward ("forward"), through backward of
sum(out * random cotangent) ("grad", float32/float64 programs), or wrapped in `tt.jit` and
called 4 times with fresh inputs ("jit"). Every result is compared with torch's (the
reference, tinytorch/testing/reference.py) within a tolerance made of the dtype's relative
tolerance and the element's own rounding-error estimate (never a blanket atol); integers and
bools compare exactly. A failing program is shrunk greedily — keep only the failing output,
drop ops, shrink sizes — while the same kind of mismatch persists on the same device, and is
reported with its seed, the devices that fail it, expected vs got, runnable tinytorch code and
the replay command:

    python -m tinytorch.testing.fuzz --count 500 --start 0      # a batch
    python -m tinytorch.testing.fuzz --replay 1234 --device C   # one seed, shrunk and printed

Without PyTorch, tinytorch's INTERP device (numpy) is the reference and the compiled devices are checked.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .generate import MODES, generate, mode_of
from .programs import EPS, FLOATS, RTOL, Invalid, Op, Program
from .reference import VARIANTS, Reference, have_torch

K_ERR = 4.0  # how many times the estimated rounding error of an element a device may be off by


@dataclass
class Mismatch:
    device: str
    kind: str  # "value" | "dtype" | "shape" | "error"
    where: str  # "output v3", "grad x0", "call 2 output v3", "run", "backward"
    detail: str

    @property
    def signature(self) -> tuple[str, str, str]:
        """What must stay the same while shrinking (besides the device)."""
        part = "grad" if "grad" in self.where or "backward" in self.where else "output"
        exc = self.detail.split(":")[0] if self.kind == "error" else ""
        return self.kind, part, exc

    def __str__(self) -> str:
        return f"{self.device}: {self.where}: {self.kind}: {self.detail}"


@dataclass
class Failure:
    seed: int
    mode: str
    original: Mismatch
    program: Program
    shrunk: Mismatch
    devices: list[str]
    code: str
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        return (f"fuzz seed {self.seed} ({self.mode}) fails on {', '.join(self.devices)}: {self.shrunk.where}: "
                f"{self.shrunk.kind}: {self.shrunk.detail}\n"
                f"  (before shrinking: {self.original})\n"
                f"  replay: {replay_command(self.seed, self.mode, self.shrunk.device)}\n"
                f"--- shrunk program ({len(self.program.ops)} ops) as tinytorch code ---\n{self.code}")


def replay_command(seed: int, mode: str, device: str) -> str:
    forced = "" if mode == mode_of(seed) else f" --mode {mode}"
    return f"python -m tinytorch.testing.fuzz --replay {seed}{forced} --device {device}"


def available_devices() -> list[str]:
    from ..runtime.device import Device

    out = []
    for n in Device.names():
        try:
            if Device.get(n).available()[0]:
                out.append(n)
        except Exception:
            continue
    return out


# ------------------------------------------------------------------------------------ comparison
def compare(got: np.ndarray, got_dt: str, refs: dict[str, np.ndarray], ref_dt: str,
            prec: str | None = None, atol: float = 0.0) -> tuple[str, str] | None:
    """(kind, detail) if `got` is not the reference's result within tolerance, else None. `prec`: the
    least precise float dtype the value went through (default ref_dt), whose rtol applies; `atol`:
    only for gradients, a few ulps of the largest gradient in the backward pass — gradients are
    checked normwise, as a backward pass adds up terms of that size whose rounding (fused
    multiply-adds, another formula) need not cancel the way torch's does."""
    nat = refs["nat"]
    if got_dt != ref_dt:
        return "dtype", f"dtype {got_dt}, expected {ref_dt}"
    if tuple(got.shape) != tuple(nat.shape):
        return "shape", f"shape {tuple(got.shape)}, expected {tuple(nat.shape)}"
    if nat.size == 0:
        return None
    if ref_dt not in FLOATS:
        stable = (nat == refs["f64"]) & (nat == refs["p1"]) & (nat == refs["p2"])
        bad = stable & (got != nat)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            return "value", (f"{int(bad.sum())}/{nat.size} elements differ; first at {idx}: expected {nat[idx]!r}, "
                             f"got {got[idx]!r}")
        return None
    g, e = got.astype(np.float64), nat.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.maximum.reduce([np.abs(e - refs["f64"]), np.abs(refs["p1"] - refs["f64"]),
                                 np.abs(refs["p2"] - refs["f64"])])
        if ref_dt == "float64":  # float64 results: float32's error, scaled down to float64's precision
            err = np.maximum(err, np.abs(refs["lo"] - refs["f64"]) * (EPS["float64"] / EPS["float32"]))
        tol = RTOL[prec or ref_dt] * np.abs(e) + K_ERR * err + atol
        diff = np.abs(g - e)
        ok = (diff <= tol) | ~np.isfinite(err) | ((g == e) & ~np.isfinite(e)) | (np.isnan(e) & np.isnan(g))
    if ok.all():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ok, 0.0, np.where(np.isfinite(diff), diff / np.maximum(tol, 1e-300), np.inf))
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
    return "value", (f"{int((~ok).sum())}/{nat.size} elements out of tolerance; worst at {idx}: expected {e[idx]!r}, "
                     f"got {g[idx]!r} (tolerance {tol[idx]:.3g})")


# ------------------------------------------------------------------------------------ device runs
def function_source(ref: Reference, name: str = "program") -> str:
    ins = [ref.names[i] for i in ref.inputs()]
    body = [f"    {ref.names[i]} = {ref.tt_expr[i]}" for i, op in enumerate(ref.ops) if op.name != "input"]
    return (f"def {name}({', '.join(ins)}):\n" + "\n".join(body) +
            f"\n    return ({', '.join(ref.names[o] for o in ref.outputs)},)\n")


def _exc(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0][:300] if msg else ''}"


def run_device(ref: Reference, device: str) -> list[Mismatch]:
    """Run the program on one device and compare everything it produces with the reference."""
    import tinytorch as tt

    ns: dict[str, Any] = {"tt": tt}
    exec(compile(function_source(ref), "<fuzz program>", "exec"), ns)
    fn = tt.jit(ns["program"]) if ref.prog.mode == "jit" else ns["program"]
    grad = ref.prog.mode == "grad"
    inputs = ref.inputs()
    found: list[Mismatch] = []
    for c in range(ref.ncalls):
        pre = f"call {c} " if ref.prog.mode == "jit" else ""
        try:
            xs = [tt.Tensor(ref.arrays[(i, c)], dtype=ref.dtypes[i], device=device,
                            requires_grad=grad and ref.dtypes[i] in FLOATS) for i in inputs]
            outs = fn(*xs)
            got = [(np.array(o.numpy()), o.dtype.name) for o in outs]
        except Exception as e:
            return found + [Mismatch(device, "error", pre + "run", _exc(e))]
        for o, (arr, dt) in zip(ref.outputs, got):
            bad = compare(arr, dt, {v: ref.np_value(v, o, c) for v in VARIANTS}, ref.dtypes[o], ref.prec[o])
            if bad:
                found.append(Mismatch(device, bad[0], f"{pre}output {ref.names[o]}", bad[1]))
        if not grad:
            continue
        try:
            loss = None
            for k, o in enumerate(ref.outputs):
                cot = ref.cotangents[k]
                if cot is not None:
                    term = (outs[k] * tt.Tensor(cot, dtype=ref.dtypes[o], device=device)).sum()
                    loss = term if loss is None else loss + term
            if loss is None:
                continue
            loss.backward()
            grads = {i: (np.array(x.grad.numpy()), x.grad.dtype.name) if x.grad is not None else
                     (np.zeros(ref.shapes[i], dtype=np.dtype(ref.dtypes[i])), ref.dtypes[i])
                     for i, x in zip(inputs, xs) if ref.dtypes[i] in FLOATS}
        except Exception as e:
            return found + [Mismatch(device, "error", "backward", _exc(e))]
        for i, (arr, dt) in grads.items():
            gp = ref.grad_prec()
            bad = compare(arr, dt, {v: ref.grads[v][i] for v in VARIANTS}, ref.dtypes[i], gp,
                          K_ERR * EPS[gp] * ref.grad_scale)
            if bad:
                found.append(Mismatch(device, bad[0], f"grad {ref.names[i]}", bad[1]))
    return found


# ------------------------------------------------------------------------------------ shrinking
def restrict(prog: Program, outputs: list[int]) -> Program:
    """The program cut down to what `outputs` need, renumbered."""
    keep: set[int] = set()
    stack = list(outputs)
    while stack:
        i = stack.pop()
        if i not in keep:
            keep.add(i)
            stack.extend(prog.ops[i].args)
    order = sorted(keep)
    new = {old: k for k, old in enumerate(order)}
    ops = [Op(prog.ops[i].name, tuple(new[a] for a in prog.ops[i].args), dict(prog.ops[i].params)) for i in order]
    return Program(prog.seed, prog.mode, dict(prog.sizes), ops, [new[o] for o in outputs])


def without(prog: Program, i: int, j: int) -> Program:
    """Op i removed; its readers read its j-th argument instead."""
    repl = prog.ops[i].args[j]
    p = prog.copy()
    for k in range(i + 1, len(p.ops)):
        p.ops[k].args = tuple(repl if a == i else a for a in p.ops[k].args)
    outs = [repl if o == i else o for o in prog.out_ids()]
    return restrict(p, list(dict.fromkeys(outs)))


def used_symbols(prog: Program) -> list[str]:
    text = json.dumps([op.params for op in prog.ops])
    return [s for s in prog.sizes if f'"{s}"' in text]


def still_fails(prog: Program, device: str, sig: tuple[str, str, str]) -> bool:
    try:
        ref = Reference.build(prog)
    except Invalid:
        return False
    return any(m.signature == sig for m in run_device(ref, device))


def shrink(prog: Program, device: str, sig: tuple[str, str, str], budget: float = 60.0) -> Program:
    """Greedy: one failing output, then drop ops and shrink sizes while the mismatch persists."""
    deadline = time.monotonic() + budget
    cur = restrict(prog, prog.out_ids())
    outs = cur.out_ids()
    if len(outs) > 1:
        for o in outs:
            cand = restrict(cur, [o])
            if still_fails(cand, device, sig):
                cur = cand
                break
    changed = True
    while changed and time.monotonic() < deadline:
        changed = False
        for i in reversed(range(len(cur.ops))):
            op = cur.ops[i]
            if op.name == "input":
                continue
            for j in range(len(op.args)):
                cand = without(cur, i, j)
                if time.monotonic() < deadline and still_fails(cand, device, sig):
                    cur, changed = cand, True
                    break
            if changed:
                break
        if changed:
            continue
        for s in used_symbols(cur):
            v = cur.sizes[s]
            for nv in sorted({1, 2, v // 2, v - 1}):
                if not 1 <= nv < v or time.monotonic() >= deadline:
                    continue
                cand = cur.copy()
                cand.sizes[s] = nv
                if still_fails(cand, device, sig):
                    cur, changed = cand, True
                    break
            if changed:
                break
    return cur


# ------------------------------------------------------------------------------------ reports
def _array_code(a: np.ndarray, dt: str) -> str:
    npdt = "float32" if dt == "bfloat16" else "bool_" if dt == "bool" else dt
    return f"np.array({a.tolist()!r}, dtype=np.{npdt})"


def _summary(a: np.ndarray) -> str:
    return " ".join(np.array2string(np.asarray(a), threshold=24, precision=7, separator=", ").split())


def repro_code(ref: Reference, device: str, mismatch: Mismatch | None = None) -> str:
    """The program as a runnable tinytorch script that prints what torch expects next to what we get."""
    prog, inputs = ref.prog, ref.inputs()
    head = [f"# tinytorch fuzz seed {prog.seed} ({prog.mode}), device {device}"
            + (f": {mismatch.where}: {mismatch.detail}" if mismatch else ""),
            f"# replay: {replay_command(prog.seed, prog.mode, device)}",
            "import numpy as np", "import tinytorch as tt", ""]
    grad = prog.mode == "grad"

    def tensor(i: int, c: int) -> str:
        rg = ", requires_grad=True" if grad and ref.dtypes[i] in FLOATS else ""
        return f"tt.Tensor({_array_code(ref.arrays[(i, c)], ref.dtypes[i])}, dtype=tt.{ref.dtypes[i]}, " \
               f"device={device!r}{rg})"
    lines = list(head)
    if prog.mode == "jit":
        lines += ["@tt.jit", *function_source(ref).splitlines(), ""]
        for c in range(ref.ncalls):
            lines.append(f"outs = program({', '.join(tensor(i, c) for i in inputs)})")
            for k, o in enumerate(ref.outputs):
                lines.append(f"print({c}, outs[{k}].numpy())  # torch: {_summary(ref.np_value('nat', o, c))}")
    else:
        lines += [f"{ref.names[i]} = {tensor(i, 0)}" for i in inputs]
        lines += [f"{ref.names[i]} = {ref.tt_expr[i]}" for i, op in enumerate(ref.ops) if op.name != "input"]
        for o in ref.outputs:
            lines.append(f"print({ref.names[o]}.numpy())  # torch: {_summary(ref.np_value('nat', o, 0))}")
        if grad and any(c is not None for c in ref.cotangents):
            terms = [f"({ref.names[o]} * tt.Tensor({_array_code(cot, ref.dtypes[o])}, dtype=tt.{ref.dtypes[o]}, "
                     f"device={device!r})).sum()" for o, cot in zip(ref.outputs, ref.cotangents) if cot is not None]
            lines.append(f"loss = {' + '.join(terms)}")
            lines.append("loss.backward()")
            for i in inputs:
                if ref.dtypes[i] in FLOATS:
                    lines.append(f"print({ref.names[i]}.grad.numpy())  # torch: {_summary(ref.grads['nat'][i])}")
    lines += ["", "# the reference (torch), value by value:"]
    lines += [f"#   {ref.names[i]} = {ref.ref_expr[i]}" for i, op in enumerate(ref.ops) if op.name != "input"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ drivers
def run_seed(seed: int, devices: list[str] | None = None, shrink_budget: float | None = 60.0,
             mode: str | None = None, skip: Callable[[Program, Reference], Any] | None = None) -> list[Failure]:
    """Generate and check one program on each device; each distinct kind of failure is shrunk
    (unless shrink_budget is None) and returned as a Failure. `skip(program, reference)`: true for
    a program not to run (a construct with a known, not yet fixed bug)."""
    prog, ref = generate(seed, mode)
    devices = [d for d in (devices or available_devices()) if d != ref.backend]  # (INTERP, without torch)
    if skip is not None and skip(prog, ref):
        return []
    groups: dict[tuple[str, str, str], list[Mismatch]] = {}
    for d in devices:
        ms = run_device(ref, d)
        if ms:
            groups.setdefault(ms[0].signature, []).append(ms[0])
    failures = []
    for sig, ms in groups.items():
        first = ms[0]
        small = shrink(prog, first.device, sig, shrink_budget) if shrink_budget else restrict(prog, prog.out_ids())
        sref = Reference.build(small)
        hits: list[Mismatch] = []
        for d in devices:
            hits += [m for m in run_device(sref, d) if m.signature == sig][:1]
        shown = next((m for m in hits if m.device == first.device), hits[0] if hits else first)
        failures.append(Failure(seed, prog.mode, first, small, shown, [m.device for m in hits] or [first.device],
                                repro_code(sref, shown.device, shown)))
    return failures


def run_batch(start: int, count: int, devices: list[str] | None = None, shrink_budget: float | None = 60.0,
              skip: Callable[[Program, Reference], Any] | None = None) -> list[Failure]:
    devices = devices or available_devices()
    failures: list[Failure] = []
    for seed in range(start, start + count):
        failures += run_seed(seed, devices, shrink_budget, skip=skip)
    return failures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinytorch.testing.fuzz",
                                description="Differential fuzzing of tinytorch against PyTorch on every device.")
    p.add_argument("--replay", type=int, metavar="SEED", help="run one seed; print its (shrunk) program")
    p.add_argument("--start", type=int, default=0, help="first seed of a batch (default 0)")
    p.add_argument("--count", type=int, default=100, help="number of seeds in a batch (default 100)")
    p.add_argument("--device", help="only these devices (comma separated), default: every available one")
    p.add_argument("--mode", choices=MODES, help="force a mode (default: the seed picks forward, grad or jit)")
    p.add_argument("--no-shrink", action="store_true", help="report failing programs as generated")
    p.add_argument("--budget", type=float, default=60.0, help="seconds of shrinking per failure (default 60)")
    p.add_argument("--show", action="store_true", help="with --replay: print the program even when it passes")
    p.add_argument("-v", "--verbose", action="store_true", help="print each seed as it starts")
    args = p.parse_args(argv)
    if not have_torch():
        print("tinytorch fuzz: PyTorch is not installed: tinytorch's INTERP device (numpy) is the reference, "
              "so only the compiled devices are checked (pip install torch for the full check)", file=sys.stderr)
    devices = [d.strip().upper() for d in args.device.split(",")] if args.device else available_devices()
    budget = None if args.no_shrink else args.budget
    if args.replay is not None:
        fails = run_seed(args.replay, devices, budget, args.mode)
        if args.show or not fails:
            prog, ref = generate(args.replay, args.mode)
            print(prog)
            print(repro_code(ref, devices[0]))
        for f in fails:
            print(f.report())
        print(f"seed {args.replay}: {'FAIL' if fails else 'ok'} on {', '.join(devices)}")
        return 1 if fails else 0
    t0 = time.monotonic()
    fails = []
    for seed in range(args.start, args.start + args.count):
        if args.verbose:
            print(f"seed {seed}", flush=True)
        for f in run_seed(seed, devices, budget, args.mode):
            print(f.report(), flush=True)
            fails.append(f)
    print(f"{args.count} programs (seeds {args.start}..{args.start + args.count - 1}) on {', '.join(devices)} in "
          f"{time.monotonic() - t0:.0f} s: {len(fails)} failure(s)" +
          (f" at seeds {sorted({f.seed for f in fails})}" if fails else ""))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
