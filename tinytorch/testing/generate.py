"""Random fuzz programs, grown op by op against the reference.

Takes: a seed (and optionally a mode: "forward", "grad", "jit"; else the seed picks one).
Produces: `generate(seed) -> (Program, Reference)`: a small program — inputs of random shapes
(sizes are symbols, so shrinking stays consistent) and dtypes, then 2-9 ops chosen from
elementwise math, broadcasting binary ops, views, reductions, matmul, where, integer-tensor
indexing, cat, casts, softmax-like ops and realize()/contiguous() barriers — with every op
already evaluated and domain-checked by the reference.
An op the reference rejects (Invalid) is dropped and another is tried; ops with a domain
(log, sqrt, floor, casts to int) get their input made valid by construction first (abs + c,
or a fresh input of values n + k/8 that sit away from every jump).

Grad programs use float32/float64 only. The same seed always gives the same program.
"""

from __future__ import annotations

import random
from typing import Any

from .programs import FLOATS, INTS, Invalid, Op, Program
from .reference import Reference

MODES = ("forward", "grad", "jit")
SIZES = (1, 1, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 12, 16, 17, 33, 64, 100)
SMALL = (1, 2, 2, 3, 4, 5)
DTYPE_WEIGHTS = {"float32": 30, "float16": 12, "bfloat16": 12, "float64": 10, "int8": 6, "uint8": 5, "int32": 7,
                 "int64": 7, "bool": 5}
FLOAT_SCALARS = (0.5, 2.0, -1.5, 3.0, 0.25, -0.75)
CMP = ("<", "<=", ">", ">=", "==", "!=")


def mode_of(seed: int) -> str:
    return ("forward", "forward", "grad", "jit")[random.Random(seed * 7919 + 1).randrange(4)]


class Generator:
    def __init__(self, seed: int, mode: str | None = None, attempt: int = 0):
        self.rng = random.Random(f"{seed}/{attempt}")
        self.prog = Program(seed, mode or mode_of(seed), {}, [])
        self.ref = Reference(self.prog)
        self.uid = 0

    # ------------------------------------------------------------------------------- helpers
    def sym(self, choices: tuple[int, ...] = SIZES) -> str:
        name = f"s{len(self.prog.sizes)}"
        self.prog.sizes[name] = self.rng.choice(choices)
        return name

    def add(self, name: str, args: tuple[int, ...] = (), **params: Any) -> int:
        return self.ref.add(Op(name, args, params))

    def fresh(self, shape: list[Any], dtype: str, domain: str = "normal", like: int | None = None, **extra: Any) -> int:
        self.uid += 1
        params: dict[str, Any] = {"shape": shape, "dtype": dtype, "domain": domain, "uid": self.uid, **extra}
        if domain == "normal" and dtype in FLOATS:
            params["scale"] = self.rng.choice((1.0, 1.0, 3.0, 0.1))
        return self.add("input", () if like is None else (like,), **params)

    def dtypes_allowed(self) -> list[str]:
        return ["float32", "float64"] if self.prog.mode == "grad" else list(DTYPE_WEIGHTS)

    def pick_dtype(self) -> str:
        allowed = self.dtypes_allowed()
        if self.prog.mode == "grad":
            return self.rng.choice(("float32", "float32", "float64"))
        return self.rng.choices(allowed, [DTYPE_WEIGHTS[d] for d in allowed])[0]

    def like(self, a: int, mask: float = 0.75) -> list[Any]:
        """Shape items of a tensor that broadcasts against value a."""
        nd = len(self.ref.shapes[a])
        items: list[Any] = [["dim", k] if self.rng.random() < mask else 1 for k in range(nd)]
        if nd >= 2 and self.rng.random() < 0.25:
            items = items[1:]
        elif self.rng.random() < 0.1:
            items = [self.sym(SMALL), *items]
        return items

    def values(self, a: int) -> Any:
        return self.ref.np_value("f64", a, 0)

    def min_over_calls(self, a: int, absolute: bool = False) -> float:
        vals = [self.ref.np_value(v, a, c) for v in ("nat", "f64") for c in range(self.ref.ncalls)]
        if any(x.size == 0 for x in vals):
            return 1.0
        return min(float(abs(x).min() if absolute else x.min()) for x in vals)

    def positive(self, a: int) -> int:
        """a itself if it is safely positive, else abs(a) + 0.5."""
        if self.min_over_calls(a) > 0.1:
            return a
        b = self.add("abs", (a,)) if self.ref.dtypes[a] != "bool" else a
        return self.add("binary", (b,), op="+", scalar=0.5 if self.ref.dtypes[a] in FLOATS else 1)

    def scalar(self, dt: str) -> Any:
        if dt in FLOATS:
            return self.rng.choice(FLOAT_SCALARS)
        if dt == "bool":
            return True
        return self.rng.choice((1, 2, 3) if dt == "uint8" else (1, 2, 3, -2))

    def other_dtype(self, dt: str) -> str:
        if self.rng.random() < 0.85:
            return dt
        return self.rng.choice(self.dtypes_allowed())

    # ------------------------------------------------------------------------------- program
    def build(self) -> tuple[Program, Reference]:
        rng = self.rng
        dt = self.pick_dtype()
        while True:
            shape = [self.sym() if rng.random() < 0.85 else 1 for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))]
            n = 1
            for s in shape:
                n *= self.prog.sizes[s] if isinstance(s, str) else 1
            if n <= 2000:
                break
        self.fresh(shape, dt, rng.choice(("normal", "normal", "normal", "pos", "frac")))
        nops, made, tries = rng.randint(2, 9), 0, 0
        while made < nops and tries < 8 * nops:
            tries += 1
            try:
                self.step()
                made += 1
            except Invalid:
                pass
        if not any(op.name != "input" for op in self.prog.ops):
            self.add("reduce", (0,), fn="sum")
        self.ref.finish()
        return self.prog, self.ref

    def step(self) -> None:
        rng = self.rng
        n = len(self.prog.ops)
        a = n - 1 if rng.random() < 0.5 else rng.randrange(n)
        kinds = {"unary": 20, "binary": 20, "view": 22, "reduce": 12, "cast": 8, "where": 5, "matmul": 5, "cat": 4,
                 "index": 5, "pow": 4, "along": 4, "clamp": 2, "barrier": 4}
        kind = rng.choices(list(kinds), list(kinds.values()))[0]
        getattr(self, f"g_{kind}")(a)

    def g_unary(self, a: int) -> None:
        dt = self.ref.dtypes[a]
        if dt == "bool":
            self.g_cast(a)
            return
        if dt in FLOATS:
            names = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "floor", "ceil", "round",
                     "trunc", "neg"]
        else:
            names = ["abs", "relu", "exp", "sin", "sqrt", "floor", "round", "sigmoid", "tanh"] + \
                    ([] if dt == "uint8" else ["neg"])
        name = self.rng.choice(names)
        if name in ("log", "sqrt"):
            a = self.positive(a)
        if name == "exp" and dt in FLOATS and float(self.values(a).max(initial=0)) > 8:
            a = self.add("binary", (a,), op="*", scalar=0.25)
        if name in ("floor", "ceil", "round", "trunc") and dt in FLOATS:
            try:
                self.add(name, (a,))
            except Invalid:  # a value near a jump: apply it to fresh values that are not, combined with a
                f = self.fresh(self.like(a, 1.0), dt, "frac", like=a)
                b = self.add(name, (f,))
                self.add("binary", (a, b), op=self.rng.choice(("+", "*")))
            return
        self.add(name, (a,))

    def g_pow(self, a: int) -> None:
        dt = self.ref.dtypes[a]
        if dt == "bool":
            raise Invalid("pow of bool")
        if self.rng.random() < 0.25 and dt in FLOATS:  # tensor exponent
            base = self.positive(a)
            ex = self.fresh(self.like(base), dt, "normal", like=base)
            self.add("binary", (base, ex), op="**")
            return
        e: float = self.rng.choice((2, 3, 0.5, -1, 1.5, 0, -2))
        if e < 0 and dt not in FLOATS:
            raise Invalid("negative integer power of an integer")
        if not float(e).is_integer() or e < 0:
            a = self.positive(a)
        self.add("pow_s", (a,), e=e)

    def g_binary(self, a: int) -> None:
        rng, dt = self.rng, self.ref.dtypes[a]
        ops = ["+", "-", "*", "/", "maximum", "minimum", *CMP] if dt != "bool" else ["*", "==", "!=", "+", "&", "|",
                                                                                      "^"]
        if dt in INTS:
            ops += ["//", "%", "&", "|", "^"]
        sym = rng.choice(ops)
        r = rng.random()
        if r < 0.3 and sym not in ("maximum", "minimum"):
            self.add("binary", (a,), op=sym, scalar=self.scalar(dt), rev=rng.random() < 0.3)
            return
        if r < 0.85 or self.prog.mode == "grad" and sym in ("maximum", "minimum"):
            b = self.fresh(self.like(a), self.other_dtype(dt), "pos" if sym == "/" else "normal", like=a)
        else:  # an existing value that broadcasts
            cands = [i for i in range(len(self.prog.ops)) if i != a and _broadcasts(self.ref.shapes[i],
                                                                                self.ref.shapes[a])]
            if not cands:
                raise Invalid("no partner")
            b = rng.choice(cands)
        self.add("binary", (a, b) if rng.random() < 0.8 else (b, a), op=sym)

    def g_where(self, a: int) -> None:
        rng, dt = self.rng, self.ref.dtypes[a]
        if dt == "bool":
            c = a
        else:
            vals = sorted({float(v) for v in self.values(a).ravel()})
            if len(vals) < 2:
                raise Invalid("nothing to compare")
            k = rng.randrange(len(vals) - 1)
            thr = (vals[k] + vals[k + 1]) / 2
            c = self.add("binary", (a,), op=rng.choice((">", "<", ">=")), scalar=round(thr, 3))
        r = rng.random()
        x = a if dt != "bool" else self.fresh(self.like(a, 1.0), self.pick_dtype(), like=a)
        if r < 0.4:
            self.add("where", (c, x), scalar=self.scalar(self.ref.dtypes[x]))
        else:
            y = self.fresh(self.like(x), self.other_dtype(self.ref.dtypes[x]), like=x)
            self.add("where", (c, x, y) if rng.random() < 0.7 else (c, y, x))

    def g_cast(self, a: int) -> None:
        dt = self.ref.dtypes[a]
        target = self.rng.choice([d for d in self.dtypes_allowed() if d != dt] or ["float32"])
        try:
            self.add("cast", (a,), dtype=target)
        except Invalid:
            if dt not in FLOATS or target in FLOATS:
                raise
            f = self.fresh(self.like(a, 1.0), dt, "frac", like=a)
            b = self.add("cast", (f,), dtype=target)
            self.add("binary", (a, b), op="+")

    def g_view(self, a: int) -> None:
        rng = self.rng
        shape = self.ref.shapes[a]
        nd = len(shape)
        kind = rng.choice(("reshape", "permute", "expand", "slice", "slice", "pad", "flip"))
        if kind == "reshape":
            kinds = ["unsqueeze"] + (["merge", "flatten"] if nd >= 2 else []) + \
                    (["squeeze"] if 1 in shape and nd >= 2 else [])
            divisible = [(d, f) for d in range(nd) for f in (2, 3) if shape[d] % f == 0 and shape[d] > f]
            if divisible:
                kinds.append("split")
            k = rng.choice(kinds)
            if k == "split":
                d, f = rng.choice(divisible)
                self.add("reshape", (a,), kind="split", dim=d, f=f)
            else:
                self.add("reshape", (a,), kind=k, dim=rng.randrange(nd + (k == "unsqueeze")) if nd or k ==
                         "unsqueeze" else 0)
        elif kind == "permute":
            if nd < 2:
                raise Invalid("permute of < 2 dims")
            order = list(range(nd))
            while order == sorted(order):
                rng.shuffle(order)
            self.add("permute", (a,), order=order)
        elif kind == "expand":
            ones = [k for k, s in enumerate(shape) if s == 1]
            if ones:
                dims = {str(k): self.sym() for k in ones if rng.random() < 0.8} or {str(ones[0]): self.sym()}
                self.add("expand", (a,), dims=dims)
            else:
                self.add("expand", (a,), lead=[self.sym(SMALL)])
        elif kind == "slice":
            if nd == 0:
                raise Invalid("slice of a 0-d tensor")
            items: list[Any] = []
            dropped = False
            for _ in range(rng.randint(1, nd)):
                r = rng.random()
                if r < 0.25:
                    items.append([None, None, 1])
                elif r < 0.35 and nd >= 2 and not dropped:
                    items.append(rng.choice((0, 1, -1)))
                    dropped = True
                else:
                    step = rng.choice((1, 1, 2, 3, -1, -1, -2))
                    start = rng.choice((None, None, 0, 1, 2, -1, -3))
                    stop = rng.choice((None, None, -1, 3, 5, 1))
                    items.append([start, stop, step])
            self.add("slice", (a,), items=items)
        elif kind == "pad":
            if nd == 0:
                raise Invalid("pad of a 0-d tensor")
            pads = [rng.choice((0, 0, 1, 2, -1)) for _ in range(2 * rng.randint(1, min(nd, 2)))]
            dt = self.ref.dtypes[a]
            value = 0 if dt == "bool" or rng.random() < 0.6 else (1.5 if dt in FLOATS else 2)
            self.add("pad", (a,), pads=pads, value=value)
        else:
            if nd == 0:
                raise Invalid("flip of a 0-d tensor")
            self.add("flip", (a,), dims=sorted(rng.sample(range(nd), rng.randint(1, nd))))

    def g_reduce(self, a: int) -> None:
        rng, nd, dt = self.rng, len(self.ref.shapes[a]), self.ref.dtypes[a]
        fns = ["sum", "max", "min", "prod", "argmax"] + (["mean"] if dt in FLOATS else [])
        fn = rng.choice(fns)
        r = rng.random()
        axis: Any = None
        if nd and r < 0.8:
            if r < 0.6 or fn in ("prod", "argmax") or nd < 2:
                axis = rng.randrange(-nd, nd)
            else:
                axis = sorted(rng.sample(range(nd), 2))
        keepdim = rng.random() < 0.5 and axis is not None
        if fn == "prod" and dt in FLOATS and self.ref.shapes[a] and max(self.ref.shapes[a]) > 8:
            a = self.add("binary", (a,), op="*", scalar=0.5)  # keep long products in range
        r = self.add("reduce", (a,), fn=fn, axis=axis, keepdim=keepdim)
        if keepdim and fn != "argmax" and rng.random() < 0.4:  # the reduced value broadcast back over its input
            self.add("binary", (a, r) if rng.random() < 0.5 else (r, a), op=rng.choice(("+", "-", "*", "/")))

    def g_along(self, a: int) -> None:
        nd, dt = len(self.ref.shapes[a]), self.ref.dtypes[a]
        fns = ["cumsum"] + (["softmax", "log_softmax", "logsumexp"] if dt in FLOATS else [])
        fn = self.rng.choice(fns)
        d = self.rng.randrange(-nd, nd) if nd else 0
        self.add("along", (a,), fn=fn, dim=d, **({"keepdim": self.rng.random() < 0.5} if fn == "logsumexp" else {}))

    def g_barrier(self, a: int) -> None:
        self.add("barrier", (a,), fn=self.rng.choice(("realize", "contiguous")))

    def g_clamp(self, a: int) -> None:
        dt = self.ref.dtypes[a]
        if dt == "bool":
            raise Invalid("clamp of bool")
        lo, hi = (-0.5, 1.25) if dt in FLOATS else (-1, 3) if dt != "uint8" else (1, 5)
        self.add("clamp", (a,), lo=lo, hi=hi)

    def g_matmul(self, a: int) -> None:
        shape, dt = self.ref.shapes[a], self.ref.dtypes[a]
        if not shape or dt == "bool":
            raise Invalid("matmul needs a non-bool tensor with dims")
        if len(shape) >= 2 and self.rng.random() < 0.3:  # other @ a
            b = self.fresh([self.sym(), ["dim", -2]], dt, like=a)
            self.add("matmul", (b, a))
            return
        items: list[Any] = [["dim", -1], self.sym()] if len(shape) == 1 or self.rng.random() < 0.8 else [["dim", -1]]
        b = self.fresh(items, dt, like=a)
        self.add("matmul", (a, b))

    def g_cat(self, a: int) -> None:
        nd = len(self.ref.shapes[a])
        if nd == 0:
            raise Invalid("cat of a 0-d tensor")
        d = self.rng.randrange(-nd, nd)
        items: list[Any] = [["dim", k] if k != d % nd else self.sym(SMALL) for k in range(nd)]
        b = self.fresh(items, self.other_dtype(self.ref.dtypes[a]), like=a)
        self.add("cat", (a, b) if self.rng.random() < 0.7 else (b, a), dim=d)

    def g_index(self, a: int) -> None:
        nd = len(self.ref.shapes[a])
        if nd == 0:
            raise Invalid("index of a 0-d tensor")
        axis = self.rng.randrange(min(nd, 2))
        computed = [i for i, op in enumerate(self.prog.ops) if op.name != "input" and self.ref.dtypes[i] in
                    ("int32", "int64") and len(self.ref.shapes[i]) <= 2]
        if computed and self.rng.random() < 0.4:  # an index that is itself computed (argmax, arithmetic, ...)
            self.add("index", (a, self.rng.choice(computed)), axis=axis)
            return
        shape = [self.sym(SMALL)] + ([self.sym(SMALL)] if self.rng.random() < 0.3 else [])
        idx = self.fresh(shape, self.rng.choice(("int64", "int32")), "index", like=a, axis=axis)
        self.add("index", (a, idx), axis=axis)


def _broadcasts(s: tuple[int, ...], t: tuple[int, ...]) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(s), reversed(t)))


def generate(seed: int, mode: str | None = None) -> tuple[Program, Reference]:
    """The program of a seed (a few internal attempts if one turns out degenerate)."""
    last: Exception | None = None
    for attempt in range(5):
        try:
            return Generator(seed, mode, attempt).build()
        except Invalid as e:
            last = e
    raise Invalid(f"seed {seed}: no valid program ({last})")
