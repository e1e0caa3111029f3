"""The reference side of the fuzzer: a program evaluated with PyTorch, op by op, with error estimates.

Takes: a `Program` (tinytorch/testing/programs.py); ops can also be added one at a time, which
is how the generator grows a program while looking at the values it computes.
Produces: per op the tinytorch and torch expressions, shapes, native dtypes and values, in four
variants per call (jit programs are called several times with fresh inputs):
- "nat": torch in the program's own dtypes — the expected values;
- "f64": every float dtype widened to float64 — the exact values, nearly;
- "p1", "p2": float64 with every float value (inputs too) multiplied by (1 + u * 2 ulp of its
  native dtype), u uniform in [-1, 1]: how far rounding can move each result;
- "lo": float64 narrowed to float32 (other dtypes as they are): its distance from "f64", scaled
  by eps(float64)/eps(float32), estimates the rounding error of float64 results, backward included.
`|nat - f64|` and `|p - f64|` give each element an error scale, so tolerances follow the
program's conditioning instead of one blanket atol. Each op's domain is checked on the nat and
f64 values (`programs.check`): an op that would be undefined or ill-conditioned raises Invalid
before it joins the program. Grad programs also get torch's gradients of
sum(out * random cotangent) for every float input, in each variant.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np

from .programs import (
    EPS,
    EXACT_OPS,
    FLOATS,
    INT_ARITH,
    INTS,
    MAX_NUMEL,
    Arg,
    Ctx,
    Invalid,
    Op,
    Program,
    check,
    input_array,
    input_shape,
    render,
)

VARIANTS = ("nat", "f64", "p1", "p2", "lo")
JIT_CALLS = 4


def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def cotangent(seed: int, k: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """The random cotangent of output number k of a grad program."""
    a = np.random.default_rng([seed & 0xFFFFFFFF, 7, k]).standard_normal(shape)
    return a.astype(np.float64 if dtype == "float64" else np.float32)


class Reference:
    def __init__(self, prog: Program):
        import torch

        self.torch = torch
        self.prog = prog
        self.ncalls = JIT_CALLS if prog.mode == "jit" else 1
        self.ops: list[Op] = []
        self.names: list[str] = []
        self.tt_expr: list[str | None] = []
        self.ref_expr: list[str | None] = []
        self.shapes: list[tuple[int, ...]] = []
        self.dtypes: list[str] = []
        self.exact: list[bool] = []
        # the least precise float dtype a float value went through (its relative tolerance)
        self.prec: list[str | None] = []
        self.arrays: dict[tuple[int, int], np.ndarray] = {}  # (input op, call) -> values
        self.values: dict[tuple[str, int], dict[int, Any]] = {(v, c): {} for v in VARIANTS for c in range(self.ncalls)}
        self.leaves: dict[tuple[str, int], dict[int, Any]] = {(v, c): {} for v in VARIANTS for c in range(self.ncalls)}
        self.ns = {(v, c): self._namespace(v) for v in VARIANTS for c in range(self.ncalls)}
        self.np_cache: dict[tuple[str, int, int], np.ndarray] = {}
        self.noise = np.random.default_rng([prog.seed & 0xFFFFFFFF, 99])
        self.outputs: list[int] = []
        self.cotangents: list[np.ndarray | None] = []
        self.grads: dict[str, dict[int, np.ndarray]] = {}
        self.grad_scale = 0.0  # largest |gradient| reaching any value of the program (float64)

    def _namespace(self, variant: str) -> dict[str, Any]:
        t = self.torch
        wide = variant in ("f64", "p1", "p2")
        d = types.SimpleNamespace(**{n: t.float64 if wide and n in FLOATS else
                                     t.float32 if variant == "lo" and n == "float64" else getattr(t, n)
                                     for n in (*FLOATS, *INTS, "bool")})
        return {"torch": t, "F": t.nn.functional, "D": d}

    @classmethod
    def build(cls, prog: Program) -> Reference:
        ref = cls(prog)
        for op in prog.ops:
            ref.add(op, commit_to_program=False)
        ref.finish()
        return ref

    # -------------------------------------------------------------------------------- evaluation
    def _eval(self, code: Any, ns: dict[str, Any], variant: str) -> Any:
        t = self.torch
        if variant in ("f64", "p1", "p2"):
            t.set_default_dtype(t.float64)  # Python floats and int / int become float64 too
        try:
            out = eval(code, ns)
        except Exception as e:  # the reference refuses this op (dtype not supported, bad shape, ...)
            raise Invalid(f"reference: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
        finally:
            t.set_default_dtype(t.float32)
        if not isinstance(out, t.Tensor):
            raise Invalid("reference: not a tensor")
        return out

    def np_value(self, variant: str, i: int, call: int) -> np.ndarray:
        """Value of op i as numpy: float64 for floats, the native integer/bool dtype otherwise."""
        key = (variant, i, call)
        if key not in self.np_cache:
            t = self.values[(variant, call)][i].detach()
            self.np_cache[key] = (t.to(self.torch.float64) if t.dtype.is_floating_point else t).numpy()
        return self.np_cache[key]

    def _perturb(self, t: Any, dtype: str) -> Any:
        if dtype not in FLOATS:
            return t
        u = self.noise.uniform(-1, 1, size=tuple(t.shape))
        return t * self.torch.from_numpy(np.asarray(1 + 2 * EPS[dtype] * u))

    def _torch_dtype(self, dt: str) -> Any:
        return getattr(self.torch, dt)

    def add(self, op: Op, commit_to_program: bool = True) -> int:
        """Evaluate one more op in every variant and call; raise Invalid (nothing changes) if it does
        not fit or is ill-conditioned. Returns its index."""
        t = self.torch
        i = len(self.ops)
        if any(not 0 <= a < i for a in op.args):
            raise Invalid("argument index out of range")
        arg_shapes = [self.shapes[a] for a in op.args]
        new: dict[tuple[str, int], Any] = {}
        new_leaves: dict[tuple[str, int], Any] = {}
        new_arrays: dict[tuple[int, int], np.ndarray] = {}
        if op.name == "input":
            shape = input_shape(op, self.prog.sizes, arg_shapes)
            if math.prod(shape) > MAX_NUMEL:
                raise Invalid("input too large")
            dt = op.params["dtype"]
            if dt not in (*FLOATS, *INTS, "bool"):
                raise Invalid(f"unknown dtype {dt}")
            for c in range(self.ncalls):
                arr = input_array(op, shape, self.prog.seed, c, arg_shapes)
                new_arrays[(i, c)] = arr
                for v in VARIANTS:
                    x = t.from_numpy(np.array(arr))
                    x = x.to(t.float64 if v in ("f64", "p1", "p2") and dt in FLOATS else
                             t.float32 if v == "lo" and dt == "float64" else self._torch_dtype(dt))
                    if self.prog.mode == "grad" and dt in FLOATS:
                        x.requires_grad_(True)
                        new_leaves[(v, c)] = x
                    new[(v, c)] = self._perturb(x, dt) if v in ("p1", "p2") else x
            tt_s, ref_s, exact, dtype = None, None, True, dt
        else:
            ctx = Ctx([self.names[a] for a in op.args], arg_shapes, [self.dtypes[a] for a in op.args], op.params,
                      self.prog.sizes)
            tt_s, ref_s = render(op, ctx)
            code = compile(ref_s, "<fuzz>", "eval")
            for c in range(self.ncalls):
                for v in VARIANTS:
                    new[(v, c)] = self._eval(code, self.ns[(v, c)], v)
            out0 = new[("nat", 0)]
            dtype = str(out0.dtype).replace("torch.", "")
            if dtype not in (*FLOATS, *INTS, "bool"):
                raise Invalid(f"reference result dtype {dtype}")
            if out0.numel() > MAX_NUMEL:
                raise Invalid("result too large")
            shape = tuple(out0.shape)
            exact = op.name in EXACT_OPS and all(self.exact[a] for a in op.args)
            if op.name == "cast":  # widening or integer casts keep values exact
                src = self.dtypes[op.args[0]]
                exact = self.exact[op.args[0]] and (src not in FLOATS or dtype in ("float64",) or
                                                    (dtype == "float32" and src != "float64"))
            for c in range(self.ncalls):
                args = [Arg(self.np_value("nat", a, c).astype(np.float64),
                            self.np_value("f64", a, c).astype(np.float64), self.dtypes[a], self.exact[a])
                        for a in op.args]
                nat = new[("nat", c)].detach()
                nat_np = (nat.to(t.float64) if nat.dtype.is_floating_point else nat).numpy().astype(np.float64)
                f64 = new[("f64", c)].detach()
                f64_np = (f64.to(t.float64) if f64.dtype.is_floating_point else f64).numpy().astype(np.float64)
                if dtype in INTS and op.name in INT_ARITH:  # the same op on float64 copies: did it overflow?
                    ns = dict(self.ns[("f64", c)])
                    for a in op.args:
                        ns[self.names[a]] = self.values[("nat", c)][a].detach().to(t.float64)
                    f64_np = self._eval(code, ns, "f64").to(t.float64).numpy()
                check(op, args, Arg(nat_np, f64_np, dtype, exact), self.prog.mode)
            for c in range(self.ncalls):
                for v in ("p1", "p2"):
                    new[(v, c)] = self._perturb(new[(v, c)], dtype)
        # commit
        name = ("x" if op.name == "input" else "v") + str(i)
        self.ops.append(op)
        if commit_to_program:
            self.prog.ops.append(op)
        self.names.append(name)
        self.tt_expr.append(tt_s)
        self.ref_expr.append(ref_s)
        self.shapes.append(shape)
        self.dtypes.append(dtype)
        self.exact.append(exact)
        history = [d for d in [dtype, *(self.prec[a] for a in op.args)] if d in FLOATS]
        self.prec.append(max(history, key=lambda d: EPS[d]) if dtype in FLOATS else None)
        self.arrays.update(new_arrays)
        for key, val in new.items():
            self.values[key][i] = val
            self.ns[key][name] = val
        for key, val in new_leaves.items():
            self.leaves[key][i] = val
        return i

    def finish(self) -> None:
        """Fix the outputs; for grad programs, torch's gradients of sum(out * cotangent) in every variant."""
        t = self.torch
        outs = self.prog.out_ids()
        if not outs or any(not 0 <= o < len(self.ops) or self.ops[o].name == "input" for o in outs):
            raise Invalid("no computed output")
        self.outputs = outs
        self.cotangents = [cotangent(self.prog.seed, k, self.shapes[o], self.dtypes[o])
                           if self.dtypes[o] in ("float32", "float64") else None for k, o in enumerate(outs)]
        if self.prog.mode != "grad":
            return
        inputs = [i for i in self.inputs() if self.dtypes[i] in FLOATS]
        for v in VARIANTS:
            terms = []
            for k, o in enumerate(outs):
                cot = self.cotangents[k]
                if cot is None:
                    continue
                val = self.values[(v, 0)][o]
                terms.append((val * t.from_numpy(cot).to(val.dtype)).sum())
            self.grads[v] = {}
            leaves = [self.leaves[(v, 0)][i] for i in inputs]
            if not terms or not leaves:
                continue
            loss = terms[0]
            for term in terms[1:]:
                loss = loss + term
            # in float64, also the gradients reaching every intermediate value: their largest magnitude
            # is the scale of the terms a backward pass adds up (its normwise error bound)
            inter = [val for i, val in self.values[(v, 0)].items() if v == "f64" and i not in inputs and
                     val.requires_grad and val.dtype.is_floating_point]
            try:
                gs = t.autograd.grad(loss, leaves + inter, allow_unused=True)
            except RuntimeError as e:
                raise Invalid(f"reference backward: {e}") from None
            if v == "f64":
                self.grad_scale = max([float(g.abs().max()) for g in gs if g is not None and g.numel()] or [0.0])
            for i, g in zip(inputs, gs):
                self.grads[v][i] = (np.zeros(self.shapes[i]) if g is None else g.detach().to(t.float64).numpy())
        for i in inputs:
            vals = [self.grads[v].get(i) for v in ("nat", "f64")]
            if any(g is not None and not np.isfinite(g).all() for g in vals):
                raise Invalid("non-finite gradient")

    def grad_prec(self) -> str:
        """The relative precision gradients can have: the least precise float dtype of the program."""
        return max([d for d in self.dtypes if d in FLOATS] or ["float32"], key=lambda d: EPS[d])

    def inputs(self) -> list[int]:
        return [i for i, op in enumerate(self.ops) if op.name == "input"]
