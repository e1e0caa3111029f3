"""The reference side of the fuzzer: a program evaluated with PyTorch, op by op, with error estimates.
(Without PyTorch, tinytorch's numpy INTERP device stands in: it then checks the compiled devices only.)

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


WIDE = ("f64", "p1", "p2")


def _variant_dtype(variant: str, dt: str) -> str:
    """The dtype a value of native dtype `dt` has in a variant."""
    if variant in WIDE and dt in FLOATS:
        return "float64"
    return "float32" if variant == "lo" and dt == "float64" else dt


def _refused(e: Exception) -> Invalid:
    return Invalid(f"reference: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


class TorchLib:
    """PyTorch as the reference: evaluates the torch expressions."""

    def __init__(self) -> None:
        import torch

        self.t = torch

    def namespace(self, variant: str) -> dict[str, Any]:
        t = self.t
        d = types.SimpleNamespace(**{n: getattr(t, _variant_dtype(variant, n)) for n in (*FLOATS, *INTS, "bool")})
        return {"torch": t, "F": t.nn.functional, "D": d}

    def eval(self, code: Any, ns: dict[str, Any], variant: str) -> Any:
        t = self.t
        if variant in WIDE:
            t.set_default_dtype(t.float64)  # Python floats and int / int become float64 too
        try:
            out = eval(code, ns)
        except Exception as e:  # the reference refuses this op (dtype not supported, bad shape, ...)
            raise _refused(e) from None
        finally:
            t.set_default_dtype(t.float32)
        if not isinstance(out, t.Tensor):
            raise Invalid("reference: not a tensor")
        return out

    def to_np(self, x: Any) -> np.ndarray:
        x = x.detach()
        return (x.to(self.t.float64) if x.dtype.is_floating_point else x).numpy()

    def dtype_name(self, x: Any) -> str:
        return str(x.dtype).replace("torch.", "")

    def make_input(self, arr: np.ndarray, dt: str, grad: bool) -> Any:
        x = self.t.from_numpy(np.array(arr)).to(getattr(self.t, dt))
        return x.requires_grad_(True) if grad else x

    def scale(self, x: Any, factor: np.ndarray) -> Any:
        return x * self.t.from_numpy(np.asarray(factor))

    def widen(self, x: Any) -> Any:
        return x.detach().to(self.t.float64)

    def shift(self, x: Any, delta: np.ndarray) -> Any:
        return x + self.t.from_numpy(np.asarray(delta)).to(x.dtype)

    def weighted_sum(self, x: Any, w: np.ndarray) -> Any:
        return (x * self.t.from_numpy(w).to(x.dtype)).sum()

    def grads(self, loss: Any, leaves: list[Any], inter: list[Any]) -> tuple[list[np.ndarray | None], float]:
        """Gradients of loss for the leaves, and the largest gradient reaching any value (leaves and `inter`)."""
        inter = [x for x in inter if x.requires_grad and x.dtype.is_floating_point]
        try:
            gs = self.t.autograd.grad(loss, leaves + inter, allow_unused=True)
        except RuntimeError as e:
            raise Invalid(f"reference backward: {e}") from None
        big = max([float(g.abs().max()) for g in gs if g is not None and g.numel()] or [0.0])
        return [None if g is None else self.to_np(g) for g in gs[:len(leaves)]], big


class InterpLib:
    """Without PyTorch: tinytorch's INTERP device (numpy), op by op, evaluates the tinytorch expressions;
    it checks the compiled devices, not itself."""

    def __init__(self) -> None:
        import tinytorch as tt

        self.tt = tt

    def namespace(self, variant: str) -> dict[str, Any]:
        tt = self.tt
        shim = types.SimpleNamespace(where=tt.where, cat=tt.cat, **{n: getattr(tt, _variant_dtype(variant, n))
                                                                    for n in (*FLOATS, *INTS, "bool")})
        return {"tt": shim}

    def eval(self, code: Any, ns: dict[str, Any], variant: str) -> Any:
        try:
            out = eval(code, ns)
            if not isinstance(out, self.tt.Tensor):
                raise Invalid("reference: not a tensor")
            out.numpy()
        except Exception as e:
            raise _refused(e) from None
        return out

    def to_np(self, x: Any) -> np.ndarray:
        a = np.array(x.numpy())
        return a.astype(np.float64) if x.dtype.is_float else a

    def dtype_name(self, x: Any) -> str:
        return str(x.dtype.name)

    def make_input(self, arr: np.ndarray, dt: str, grad: bool) -> Any:
        return self.tt.Tensor(np.array(arr), dtype=dt, device="INTERP", requires_grad=grad)

    def scale(self, x: Any, factor: np.ndarray) -> Any:
        return x * self.tt.Tensor(np.asarray(factor), dtype=x.dtype, device="INTERP")

    def widen(self, x: Any) -> Any:
        return x.detach().cast(self.tt.float64)

    def shift(self, x: Any, delta: np.ndarray) -> Any:
        return x + self.tt.Tensor(np.asarray(delta), dtype=x.dtype, device="INTERP")

    def weighted_sum(self, x: Any, w: np.ndarray) -> Any:
        return (x * self.tt.Tensor(w, dtype=x.dtype, device="INTERP")).sum()

    def grads(self, loss: Any, leaves: list[Any], inter: list[Any]) -> tuple[list[np.ndarray | None], float]:
        try:
            loss.backward()
        except Exception as e:
            raise Invalid(f"reference backward: {e}") from None
        gs = [None if x.grad is None else self.to_np(x.grad) for x in leaves]
        return gs, max([float(np.abs(g).max()) for g in gs if g is not None and g.size] or [0.0])


class Reference:
    def __init__(self, prog: Program):
        self.lib: Any = TorchLib() if have_torch() else InterpLib()
        self.backend = "torch" if isinstance(self.lib, TorchLib) else "INTERP"
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
        return self.lib.namespace(variant)  # type: ignore[no-any-return]

    @classmethod
    def build(cls, prog: Program) -> Reference:
        ref = cls(prog)
        for op in prog.ops:
            ref.add(op, commit_to_program=False)
        ref.finish()
        return ref

    # -------------------------------------------------------------------------------- evaluation
    def np_value(self, variant: str, i: int, call: int) -> np.ndarray:
        """Value of op i as numpy: float64 for floats, the native integer/bool dtype otherwise."""
        key = (variant, i, call)
        if key not in self.np_cache:
            self.np_cache[key] = self.lib.to_np(self.values[(variant, call)][i])
        return self.np_cache[key]

    def _perturb(self, t: Any, dtype: str) -> Any:
        if dtype not in FLOATS:
            return t
        u = self.noise.uniform(-1, 1, size=tuple(t.shape))
        return self.lib.scale(t, 1 + 2 * EPS[dtype] * u)

    def add(self, op: Op, commit_to_program: bool = True) -> int:
        """Evaluate one more op in every variant and call; raise Invalid (nothing changes) if it does
        not fit or is ill-conditioned. Returns its index."""
        lib = self.lib
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
                    grad = self.prog.mode == "grad" and dt in FLOATS
                    x = lib.make_input(arr, _variant_dtype(v, dt), grad)
                    if grad:
                        new_leaves[(v, c)] = x
                    new[(v, c)] = self._perturb(x, dt) if v in ("p1", "p2") else x
            tt_s, ref_s, exact, dtype = None, None, True, dt
        else:
            ctx = Ctx([self.names[a] for a in op.args], arg_shapes, [self.dtypes[a] for a in op.args], op.params,
                      self.prog.sizes)
            tt_s, ref_s = render(op, ctx)
            if self.backend != "torch":
                ref_s = tt_s
            code = compile(ref_s, "<fuzz>", "eval")
            for c in range(self.ncalls):
                for v in VARIANTS:
                    new[(v, c)] = lib.eval(code, self.ns[(v, c)], v)
            out0 = new[("nat", 0)]
            dtype = lib.dtype_name(out0)
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
                nat_np = lib.to_np(new[("nat", c)]).astype(np.float64)
                f64_np = lib.to_np(new[("f64", c)]).astype(np.float64)
                if dtype in INTS and op.name in INT_ARITH:  # the same op on float64 copies: did it overflow?
                    ns = dict(self.ns[("f64", c)])
                    for a in op.args:
                        ns[self.names[a]] = lib.widen(self.values[("nat", c)][a])
                    f64_np = lib.to_np(lib.eval(code, ns, "f64")).astype(np.float64)
                check(op, args, Arg(nat_np, f64_np, dtype, exact), self.prog.mode)
            for c in range(self.ncalls):
                for v in ("p1", "p2"):
                    new[(v, c)] = self._perturb(new[(v, c)], dtype)
                    if op.name == "along" and op.params["fn"] == "log_softmax" and dtype in FLOATS:
                        # x - max - log(sum): its terms are as large as x, and so is their rounding (in
                        # float32 at least: torch computes half-precision log_softmax in float32)
                        big = float(np.abs(self.np_value("nat", op.args[0], c)).max(initial=0.0))
                        u = self.noise.uniform(-1, 1, size=shape)
                        eps = EPS["float64" if dtype == "float64" else "float32"]
                        new[(v, c)] = lib.shift(new[(v, c)], 2 * eps * big * u)
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
                terms.append(self.lib.weighted_sum(self.values[(v, 0)][o], cot))
            self.grads[v] = {}
            leaves = [self.leaves[(v, 0)][i] for i in inputs]
            if not terms or not leaves:
                continue
            loss = terms[0]
            for term in terms[1:]:
                loss = loss + term
            # in float64, also the gradients reaching every intermediate value: their largest magnitude
            # is the scale of the terms a backward pass adds up (its normwise error bound)
            inter = [val for i, val in self.values[(v, 0)].items() if v == "f64" and i not in inputs]
            gs, big = self.lib.grads(loss, leaves, inter)
            if v == "f64":
                self.grad_scale = big
            for i, g in zip(inputs, gs):
                self.grads[v][i] = np.zeros(self.shapes[i]) if g is None else g.astype(np.float64)
        for i in inputs:
            vals = [self.grads[v].get(i) for v in ("nat", "f64")]
            if any(g is not None and not np.isfinite(g).all() for g in vals):
                raise Invalid("non-finite gradient")

    def grad_prec(self) -> str:
        """The relative precision gradients can have: the least precise float dtype of the program."""
        return max([d for d in self.dtypes if d in FLOATS] or ["float32"], key=lambda d: EPS[d])

    def inputs(self) -> list[int]:
        return [i for i, op in enumerate(self.ops) if op.name == "input"]
