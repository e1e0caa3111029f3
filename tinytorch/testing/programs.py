"""Fuzz programs as data: op records, and the table that turns each into code and checks its domain.

Takes: a `Program` — size symbols and a list of `Op` records in SSA form (op i's value is
named `x<i>` for an input, `v<i>` otherwise; `args` are indices of earlier ops).
Produces: for each op, a tinytorch expression and the equivalent torch expression (the same
text wherever the two APIs agree), given the concrete shapes and dtypes of its arguments;
and `check(...)`, which rejects (raises `Invalid`) an op whose reference result is undefined
or ill-conditioned: log/sqrt of non-positive values, floor/round/casts to int near a jump,
float comparisons and argmax near a tie, integer overflow, values near a dtype's overflow.

Input ops carry their data recipe (dtype, domain, a uid that seeds their values), so a
program is replayable from its records alone, and a shape in symbols (`"s0"`), literal 1s,
or `["dim", k]` — the k-th dim of the op's first argument — so shrinking one symbol resizes
every tensor that shares it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLOATS = ("float32", "float16", "bfloat16", "float64")
INTS = ("int8", "uint8", "int32", "int64")
DTYPES = (*FLOATS, *INTS, "bool")
# one unit in the last place (relative), the comparison tolerance of a single rounded op, and the
# largest finite value of each float dtype
EPS = {"float64": 2.2e-16, "float32": 1.2e-7, "float16": 9.8e-4, "bfloat16": 7.8e-3}
RTOL = {"float64": 1e-10, "float32": 1e-5, "float16": 2e-3, "bfloat16": 1.6e-2}
FMAX = {"float64": 1.7e308, "float32": 3.4e38, "float16": 65504.0, "bfloat16": 3.38e38}
IRANGE = {"int8": (-128, 127), "uint8": (0, 255), "int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}
MAX_NUMEL = 20000  # larger intermediate values make a program slow, not more interesting


class Invalid(Exception):
    """The program is not a valid test: its params do not fit the shapes (after shrinking), the
    reference rejects it, or its result is undefined or ill-conditioned."""


@dataclass
class Op:
    name: str
    args: tuple[int, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({', '.join(f'%{a}' for a in self.args)}{'; ' if p and self.args else ''}{p})"


@dataclass
class Program:
    seed: int
    mode: str  # "forward" | "grad" | "jit"
    sizes: dict[str, int]
    ops: list[Op]
    outputs: list[int] | None = None  # None: every computed value that no later op reads

    def out_ids(self) -> list[int]:
        if self.outputs is not None:
            return list(self.outputs)
        used = {a for op in self.ops if op.name != "input" for a in op.args}  # (an input only borrows a shape)
        return [i for i, op in enumerate(self.ops) if op.name != "input" and i not in used]

    def copy(self) -> Program:
        return Program(self.seed, self.mode, dict(self.sizes),
                       [Op(o.name, tuple(o.args), dict(o.params)) for o in self.ops],
                       None if self.outputs is None else list(self.outputs))

    def __str__(self) -> str:
        lines = [f"program seed={self.seed} mode={self.mode} sizes={self.sizes}"]
        lines += [f"  %{i} = {op!r}" for i, op in enumerate(self.ops)]
        return "\n".join(lines + [f"  outputs {self.out_ids()}"])


def value_name(prog: Program, i: int) -> str:
    return f"x{i}" if prog.ops[i].name == "input" else f"v{i}"


# ------------------------------------------------------------------------------------------ inputs
def input_shape(op: Op, sizes: dict[str, int], arg_shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    out = []
    for item in op.params["shape"]:
        if isinstance(item, str):
            out.append(sizes[item])
        elif isinstance(item, (list, tuple)):
            try:
                out.append(arg_shapes[0][item[1]])
            except IndexError:
                raise Invalid(f"input: dim {item[1]} of {arg_shapes[0]}") from None
        else:
            out.append(int(item))
    return tuple(out)


def to_bf16(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    bits = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return np.asarray(rounded).astype(np.uint32).view(np.float32)


def input_array(op: Op, shape: tuple[int, ...], seed: int, call: int, arg_shapes: list[tuple[int, ...]]) -> np.ndarray:
    """The values of input `op` for call `call` (jit programs get fresh values per call). bfloat16
    values are float32 arrays holding exactly representable numbers."""
    p = op.params
    rng = np.random.default_rng([seed & 0xFFFFFFFF, int(p["uid"]), call])
    dt, dom = p["dtype"], p["domain"]
    if dom == "index":
        try:
            n = arg_shapes[0][p["axis"]]
        except IndexError:
            raise Invalid("index input: axis out of range") from None
        if n == 0:
            raise Invalid("index into an empty dim")
        return rng.integers(-n, n, size=shape).astype(np.dtype(dt))
    if dt == "bool":
        return rng.random(shape) < 0.5
    if dt in INTS:
        lo, hi = {"int8": (-8, 9), "uint8": (0, 12), "int32": (-40, 41), "int64": (-40, 41)}[dt]
        return rng.integers(lo, hi, size=shape).astype(np.dtype(dt))
    if dom == "pos":
        a = rng.uniform(0.25, 2.5, size=shape)
    elif dom == "frac":  # n + k/8 with k not 0 or 4: away from integers and halves, exact in every float dtype
        a = rng.integers(-6, 7, size=shape) + rng.choice([1, 2, 3, 5, 6, 7], size=shape) / 8
    else:
        a = rng.standard_normal(size=shape) * float(p.get("scale", 1.0))
    if dt == "float64":
        return a.astype(np.float64)
    if dt == "float16":
        return a.astype(np.float16)
    a32 = a.astype(np.float32)
    return to_bf16(a32) if dt == "bfloat16" else a32


# ------------------------------------------------------------------------------------------ rendering
@dataclass
class Ctx:
    names: list[str]
    shapes: list[tuple[int, ...]]
    dtypes: list[str]
    params: dict[str, Any]
    sizes: dict[str, int]


def _same(s: str) -> tuple[str, str]:
    return s, s


def _axis_str(ax: Any) -> str:
    return repr(tuple(ax)) if isinstance(ax, (list, tuple)) else repr(ax)


def _r_unary(name: str) -> Any:
    return lambda c: _same(f"{c.names[0]}.{name}()")


def _r_binary(c: Ctx) -> tuple[str, str]:
    sym, a = c.params["op"], c.names[0]
    b = c.names[1] if len(c.names) > 1 else repr(c.params["scalar"])
    if sym in ("maximum", "minimum"):
        return _same(f"{a}.{sym}({b})")
    return _same(f"({b} {sym} {a})" if c.params.get("rev") else f"({a} {sym} {b})")


def _r_where(c: Ctx) -> tuple[str, str]:
    cond, a = c.names[0], c.names[1]
    b = c.names[2] if len(c.names) > 2 else repr(c.params["scalar"])
    return f"tt.where({cond}, {a}, {b})", f"torch.where({cond}, {a}, {b})"


def _r_cast(c: Ctx) -> tuple[str, str]:
    dt = c.params["dtype"]
    return f"{c.names[0]}.cast(tt.{dt})", f"{c.names[0]}.to(D.{dt})"


def _r_cat(c: Ctx) -> tuple[str, str]:
    d = c.params["dim"]
    if not -len(c.shapes[0]) <= d < len(c.shapes[0]):
        raise Invalid("cat: dim out of range")
    return f"tt.cat([{c.names[0]}, {c.names[1]}], {d})", f"torch.cat([{c.names[0]}, {c.names[1]}], {d})"


def _r_index(c: Ctx) -> tuple[str, str]:
    ax = c.params["axis"]
    if ax >= len(c.shapes[0]):
        raise Invalid("index: axis out of range")
    return _same(f"{c.names[0]}[{':, ' * ax}{c.names[1]}]")


def _r_reshape(c: Ctx) -> tuple[str, str]:
    s, kind, d = list(c.shapes[0]), c.params["kind"], c.params.get("dim", 0)
    if kind == "merge":
        if d + 1 >= len(s):
            raise Invalid("reshape: merge past the last dim")
        s[d:d + 2] = [s[d] * s[d + 1]]
    elif kind == "split":
        f = c.params["f"]
        if d >= len(s) or s[d] % f:
            raise Invalid("reshape: split does not divide")
        s[d:d + 1] = [f, s[d] // f]
    elif kind == "unsqueeze":
        if d > len(s):
            raise Invalid("reshape: unsqueeze past the end")
        s.insert(d, 1)
    elif kind == "squeeze":
        s = [v for v in s if v != 1]
    else:  # flatten
        s = [math.prod(s)]
    return _same(f"{c.names[0]}.reshape({tuple(s)!r})")


def _r_permute(c: Ctx) -> tuple[str, str]:
    order = c.params["order"]
    if len(order) != len(c.shapes[0]):
        raise Invalid("permute: rank changed")
    return _same(f"{c.names[0]}.permute({', '.join(map(str, order))})")


def _r_expand(c: Ctx) -> tuple[str, str]:
    s = list(c.shapes[0])
    grow = {int(k): c.sizes[v] for k, v in c.params.get("dims", {}).items()}
    if any(k >= len(s) or s[k] != 1 for k in grow):
        raise Invalid("expand: dim is not 1")
    target = [c.sizes[v] for v in c.params.get("lead", [])] + [grow.get(k, v) for k, v in enumerate(s)]
    return _same(f"{c.names[0]}.expand({', '.join(map(str, target))})")


def _r_slice(c: Ctx) -> tuple[str, str]:
    shape, items = c.shapes[0], c.params["items"]
    if len(items) > len(shape):
        raise Invalid("slice: more items than dims")
    tt_parts, torch_parts, flips = [], [], []
    for d, it in enumerate(items):
        n = shape[d]
        if isinstance(it, int):
            if not -n <= it < n:
                raise Invalid("slice: index out of range")
            tt_parts.append(str(it))
            torch_parts.append(str(it))
            continue
        start, stop, step = it
        txt = f"{'' if start is None else start}:{'' if stop is None else stop}{'' if step == 1 else f':{step}'}"
        tt_parts.append(txt)
        if step > 0:
            torch_parts.append(txt)
        else:  # torch has no negative steps: flip, then the same elements with a positive step
            lo, hi, st = slice(start, stop, step).indices(n)
            cnt = len(range(lo, hi, st))
            flips.append(d)
            first = n - 1 - lo
            torch_parts.append(f"{first}:{first + (cnt - 1) * -st + 1}:{-st}" if cnt else "0:0")
    a = c.names[0]
    src = f"{a}.flip({', '.join(map(str, flips))})" if flips else a
    return f"{a}[{', '.join(tt_parts)}]", f"{src}[{', '.join(torch_parts)}]"


def _r_pad(c: Ctx) -> tuple[str, str]:
    pads, val = tuple(c.params["pads"]), c.params.get("value", 0)
    if len(pads) > 2 * len(c.shapes[0]):
        raise Invalid("pad: more pads than dims")
    for i in range(len(pads) // 2):
        if c.shapes[0][len(c.shapes[0]) - 1 - i] + pads[2 * i] + pads[2 * i + 1] < 0:
            raise Invalid("pad: negative size")
    v = "" if val == 0 else f", value={val!r}"
    return f"{c.names[0]}.pad({pads!r}{v})", f"F.pad({c.names[0]}, {pads!r}{v})"


def _r_flip(c: Ctx) -> tuple[str, str]:
    dims = c.params["dims"]
    if any(d >= len(c.shapes[0]) for d in dims):
        raise Invalid("flip: dim out of range")
    return _same(f"{c.names[0]}.flip({', '.join(map(str, dims))})")


def _r_reduce(c: Ctx) -> tuple[str, str]:
    name, ax, keep, a = c.params["fn"], c.params.get("axis"), c.params.get("keepdim", False), c.names[0]
    nd = len(c.shapes[0])
    axes = [] if ax is None else list(ax) if isinstance(ax, (list, tuple)) else [ax]
    if any(not -nd <= x < nd for x in axes) or len({x % max(nd, 1) for x in axes}) != len(axes) or \
            (nd == 0 and ax is not None):
        raise Invalid("reduce: axis out of range")
    ref_name = {"max": "amax", "min": "amin"}.get(name, name)
    if ax is None:
        return f"{a}.{name}()", f"{a}.{ref_name}()"
    args = f"{_axis_str(ax)}, keepdim={bool(keep)}"
    if name in ("max", "min") and not isinstance(ax, (list, tuple)):  # one dim: (values, indices), as torch's
        return _same(f"{a}.{name}({args}).values")
    return f"{a}.{ref_name}({args})", f"{a}.{ref_name}({args})"


def _r_pow_s(c: Ctx) -> tuple[str, str]:
    return _same(f"({c.names[0]} ** {c.params['e']!r})")


def _r_neg(c: Ctx) -> tuple[str, str]:
    return _same(f"(-{c.names[0]})")


def _r_along(c: Ctx) -> tuple[str, str]:
    """softmax / log_softmax / cumsum along a dim, logsumexp over one with keepdim."""
    fn, d = c.params["fn"], c.params["dim"]
    if not -len(c.shapes[0]) <= d < max(len(c.shapes[0]), 1):
        raise Invalid(f"{fn}: dim out of range")
    if fn == "logsumexp":
        return _same(f"{c.names[0]}.logsumexp({d}, keepdim={bool(c.params.get('keepdim'))})")
    return _same(f"{c.names[0]}.{fn}({d})")


def _r_clamp(c: Ctx) -> tuple[str, str]:
    return _same(f"{c.names[0]}.clamp({c.params['lo']!r}, {c.params['hi']!r})")


def _r_barrier(c: Ctx) -> tuple[str, str]:
    """Compute a value now (realize) or copy it (contiguous): later ops read a buffer, not a graph."""
    a = c.names[0]
    return (f"{a}.realize()", a) if c.params["fn"] == "realize" else _same(f"{a}.contiguous()")


def _r_matmul(c: Ctx) -> tuple[str, str]:
    return _same(f"({c.names[0]} @ {c.names[1]})")


UNARY = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "floor", "ceil", "round", "trunc")
RENDER: dict[str, Any] = {**{n: _r_unary(n) for n in UNARY}, "neg": _r_neg, "pow_s": _r_pow_s,
                          "binary": _r_binary, "where": _r_where, "cast": _r_cast, "cat": _r_cat,
                          "index": _r_index, "reshape": _r_reshape, "permute": _r_permute,
                          "expand": _r_expand, "slice": _r_slice, "pad": _r_pad, "flip": _r_flip,
                          "reduce": _r_reduce, "matmul": _r_matmul, "along": _r_along, "clamp": _r_clamp,
                          "barrier": _r_barrier}
# ops whose result is exact whenever their arguments are (no rounding): ties they carry are real ties
EXACT_OPS = {"neg", "relu", "abs", "floor", "ceil", "round", "trunc", "where", "cat", "index", "reshape", "permute",
             "expand", "slice", "pad", "flip", "clamp", "barrier"}


def render(op: Op, ctx: Ctx) -> tuple[str, str]:
    try:
        return RENDER[op.name](ctx)  # type: ignore[no-any-return]
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise Invalid(f"{op.name}: {type(e).__name__}: {e}") from None


# ------------------------------------------------------------------------------------------ checks
def _margin(x64: np.ndarray, err: np.ndarray, eps: float) -> np.ndarray:
    """How far from a jump a value must be: its rounding error so far, and a few ulps of it."""
    return 8 * err + 32 * eps * np.abs(x64) + 1e-12


def _eps_of(dts: list[str]) -> float:
    return max([EPS[d] for d in dts if d in EPS] or [EPS["float32"]])


@dataclass
class Arg:
    """An argument or result as the checks see it: native and float64-evaluated values (float64
    numpy arrays), its native dtype, and whether it is exact (no rounding on the way)."""
    nat: np.ndarray
    f64: np.ndarray
    dtype: str
    exact: bool

    @property
    def err(self) -> np.ndarray:
        return np.abs(self.nat - self.f64)


def _check_jump(x: Arg, boundaries: str, what: str) -> None:
    """x must stay away from the points where floor/round/a cast jump (integers, or halves)."""
    if x.dtype not in FLOATS:
        return
    f = x.f64 - np.floor(x.f64)
    d = np.abs(f - 0.5) if boundaries == "half" else np.minimum(f, 1 - f)
    bad = d <= _margin(x.f64, x.err, EPS[x.dtype])
    if x.exact:
        bad &= ~((d == 0) & (x.err == 0))
    if bad.any():
        raise Invalid(f"{what}: input near a jump")


def _check_gap(a: Arg, b: Arg, what: str, ties_ok: bool) -> None:
    if a.dtype not in FLOATS and b.dtype not in FLOATS:
        return
    eps = _eps_of([a.dtype, b.dtype])
    d = np.abs(a.f64 - b.f64)
    bad = d <= _margin(np.abs(a.f64) + np.abs(b.f64), a.err + b.err, eps)
    if ties_ok and a.exact and b.exact:
        bad &= ~((d == 0) & (a.err == 0) & (b.err == 0))
    if bad.any():
        raise Invalid(f"{what}: operands near a tie")


def _check_top2(x: Arg, axis: Any, what: str, ties_ok: bool) -> None:
    """The largest and second largest values along the reduced axes must be apart."""
    if x.dtype not in FLOATS or x.f64.size == 0:
        return
    nd = x.f64.ndim
    axes = tuple(range(nd)) if axis is None else tuple(a % nd for a in (axis if isinstance(axis, (list, tuple))
                                                                         else [axis]))
    rest = [d for d in range(nd) if d not in axes]
    v = np.transpose(x.f64, rest + list(axes)).reshape(*[x.f64.shape[d] for d in rest], -1)
    e = np.transpose(x.err, rest + list(axes)).reshape(v.shape)
    if v.shape[-1] < 2:
        return
    for sign in (1, -1):  # max and min
        s = np.sort(sign * v, axis=-1)
        gap = s[..., -1] - s[..., -2]
        bad = gap <= _margin(np.abs(s[..., -1]), e.max(-1), EPS[x.dtype])
        if ties_ok and x.exact:
            bad &= ~((gap == 0) & (e.max(-1) == 0))
        if bad.any():
            raise Invalid(f"{what}: near tie")


def _check_min(x: Arg, lo: float, what: str, absolute: bool = False) -> None:
    v = [np.abs(x.nat), np.abs(x.f64)] if absolute else [x.nat, x.f64]
    if x.f64.size and min(float(a.min()) for a in v) <= lo:
        raise Invalid(f"{what}: input outside the domain")


INT_ARITH = {"binary", "neg", "abs", "pow_s", "reduce", "matmul", "along"}  # int8/uint8 results wrap, like torch


def check(op: Op, args: list[Arg], out: Arg, mode: str) -> None:
    """Raise Invalid if this op's result is undefined or ill-conditioned for these values (one call's)."""
    n, p = op.name, op.params
    x = args[0] if args else None
    if out.dtype in FLOATS:
        if not (np.isfinite(out.nat).all() and np.isfinite(out.f64).all()):
            raise Invalid(f"{n}: non-finite result")
        if out.f64.size and np.abs(out.f64).max() > FMAX[out.dtype] / 4:
            raise Invalid(f"{n}: result near overflow")
    if out.dtype in ("int32", "int64") and n in INT_ARITH and not (n == "reduce" and p["fn"] in ("max", "min",
                                                                                                 "argmax")):
        if not np.array_equal(out.nat, out.f64) or (out.f64.size and np.abs(out.f64).max() >= 2 ** 53):
            raise Invalid(f"{n}: integer overflow")
    if x is None:
        return
    if n in ("log", "sqrt"):
        _check_min(x, 0.05, n)
    elif n in ("sin", "cos"):
        if x.f64.size and np.abs(x.f64).max() > 100:
            raise Invalid(f"{n}: large argument")
    elif n in ("floor", "ceil", "trunc"):
        _check_jump(x, "int", n)
    elif n == "round":
        _check_jump(x, "half", n)
    elif n == "pow_s":
        e = p["e"]
        if not float(e).is_integer():
            _check_min(x, 0.05, n)
        elif e < 0:
            _check_min(x, 0.05, n, absolute=True)
    elif n == "cast":
        dt = p["dtype"]
        if x.dtype in FLOATS and dt in INTS:
            _check_jump(x, "int", "cast")
            lo, hi = IRANGE[dt]
            if x.f64.size and (min(x.f64.min(), x.nat.min()) < max(lo, -2 ** 31) or
                               max(x.f64.max(), x.nat.max()) > min(hi, 2 ** 31)):
                raise Invalid("cast: out of the integer range (undefined)")
        elif x.dtype in FLOATS and dt == "bool":
            bad = np.abs(x.f64) <= _margin(x.f64, x.err, EPS[x.dtype])
            if x.exact:
                bad &= ~((x.f64 == 0) & (x.err == 0))
            if bad.any():
                raise Invalid("cast to bool: near 0")
    elif n == "binary":
        sym = p["op"]
        b = args[1] if len(args) > 1 else None
        if sym == "/":
            if b is not None:
                _check_min(b, 0.05, n, absolute=True)
            elif p.get("rev"):  # scalar / x
                _check_min(x, 0.05, n, absolute=True)
        if sym == "**" and not p.get("rev"):
            _check_min(x, 0.05, n)
        if sym in ("//", "%"):
            if b is not None and (b.f64 == 0).any() or b is None and p["scalar"] == 0:
                raise Invalid("integer division by zero")
            if p.get("rev") and (x.f64 == 0).any():
                raise Invalid("integer division by zero")
        if sym in ("<", "<=", ">", ">=", "==", "!="):
            other = b if b is not None else Arg(np.full_like(x.f64, p["scalar"]), np.full_like(x.f64, p["scalar"]),
                                                x.dtype, True)
            _check_gap(x, other, n, ties_ok=True)
        if sym in ("maximum", "minimum") and mode == "grad" and b is not None:
            _check_gap(x, b, n, ties_ok=False)
    elif n == "reduce":
        fn = p["fn"]
        if fn == "argmax":
            _check_top2(x, p.get("axis"), "argmax", ties_ok=True)
        elif fn in ("max", "min") and mode == "grad":
            _check_top2(x, p.get("axis"), fn, ties_ok=False)
    elif n == "index":
        idx, size = args[1], x.f64.shape[p["axis"]] if x.f64.ndim > p["axis"] else 0
        if idx.dtype not in ("int32", "int64"):
            raise Invalid("index: not an integer index")
        if idx.f64.size and (idx.f64.min() < -size or idx.f64.max() >= size):
            raise Invalid("index: out of range")
    elif n == "clamp" and mode == "grad":
        for bound in (p["lo"], p["hi"]):
            _check_gap(x, Arg(np.full_like(x.f64, bound), np.full_like(x.f64, bound), x.dtype, True), n, False)
    elif n in ("abs", "relu") and mode == "grad":
        _check_min(x, 1e-3, n, absolute=True)
