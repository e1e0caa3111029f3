"""The C renderer: a linear program becomes one C99 function.

Takes: the linear UOps from codegen/lower.py and a kernel name.
Produces: C source using GCC/Clang vector extensions for SIMD values, `restrict` pointers,
and a thread-range signature `void name(T* restrict data0, ..., long long core_start,
long long core_end)` so the runtime can split the outer loop across threads.

Scalar ops are a table from op to a C expression. Vector ops use the operators the vector
extensions provide where they exist; every other op on a vector becomes a small inline
helper that applies the scalar form lane by lane, which the compiler turns back into SIMD
instructions. exp2/log2/sin on float32 are our own branch-free approximations (no libm
call per element), so they vectorize too.
"""

from __future__ import annotations

from collections.abc import Callable

from ..dtype import DType, dtypes
from ..ops.uop import Ops, UOp

CTYPE = {
    "bool": "unsigned char", "uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
    "int64": "long long", "float16": "_Float16", "bfloat16": "unsigned short", "float32": "float", "float64": "double",
}
SHORT = {"bool": "b", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "float16": "f16",
         "bfloat16": "bf16", "float32": "f32", "float64": "f64"}


def ctype(dt: DType) -> str:
    if dt.count > 1:
        return f"{SHORT[dt.name]}x{dt.count}"
    return CTYPE[dt.name]


def vec_elem_ctype(dt: DType) -> str:
    # bool lanes live in int lanes of the width of a float32 lane (compare results)
    return "int" if dt.name == "bool" else CTYPE[dt.name]


PRELUDE = r"""
#include <math.h>
#include <string.h>
#define TT_INLINE static inline __attribute__((always_inline))
TT_INLINE float tt_exp2_f32(float x) {
  /* 2^x = 2^n * 2^f, n = round(x), |f| <= 0.5; Cephes exp2f polynomial (rel. err ~1e-7) */
  x = x < -126.0f ? -126.0f : (x > 128.0f ? 128.0f : x);
  float n = __builtin_floorf(x + 0.5f);
  float f = x - n;
  float p = 1.535336188319500e-4f;
  p = p * f + 1.339887440266574e-3f; p = p * f + 9.618437357674640e-3f; p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f; p = p * f + 6.931472028550421e-1f;
  p = p * f + 1.0f;
  int e = (int)n + 127;
  unsigned int bits = (unsigned int)(e > 254 ? 255 : e) << 23;
  float scale; memcpy(&scale, &bits, 4);
  float r = p * scale;
  return x != x ? x : (e > 254 ? __builtin_inff() : r);
}
TT_INLINE float tt_log2_f32(float x) {
  /* x = m * 2^e, m in [sqrt(1/2), sqrt(2)); Cephes logf polynomial in (m - 1) */
  unsigned int bits; memcpy(&bits, &x, 4);
  int e = (int)((bits >> 23) & 0xff) - 126;
  unsigned int mb = (bits & 0x807fffffu) | 0x3f000000u;
  float m; memcpy(&m, &mb, 4);
  int small = m < 0.70710678118654752440f;
  e -= small;
  m = small ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f; y = y * m + 1.1676998740e-1f; y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f; y = y * m - 1.6668057665e-1f; y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f; y = y * m + 3.3333331174e-1f;
  y = m * z * y - 0.5f * z;
  float r = (m + y) * 1.44269504088896341f + (float)e;
  r = x == __builtin_inff() ? x : r;
  r = x < 1.17549435e-38f ? -__builtin_inff() : r;
  return (x < 0.0f || x != x) ? __builtin_nanf("") : r;
}
TT_INLINE float tt_sin_f32(float x) {
  /* j = round(x * 2/pi); r = x - j*pi/2 (three-part Cody-Waite); Cephes sinf/cosf on |r| <= pi/4 */
  float j = __builtin_floorf(x * 0.63661977236758134f + 0.5f);
  float r = ((x - j * 1.5703125f) - j * 4.837512969970703125e-4f) - j * 7.54978995489188216e-8f;
  float z = r * r;
  float s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  float c = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z - 0.5f * z + 1.0f;
  long long q = (long long)j;
  float v = (q & 1) ? c : s;
  v = (q & 2) ? -v : v;
  return (x - x != 0.0f) ? __builtin_nanf("") : v;
}
TT_INLINE float tt_bf16_to_f32(unsigned short b) { unsigned int u = (unsigned int)b << 16; float f; memcpy(&f, &u, 4); return f; }
TT_INLINE unsigned short tt_f32_to_bf16(float f) {
  unsigned int u; memcpy(&u, &f, 4);
  if (f != f) return (unsigned short)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}
"""


def _fmt_const(v: object, dt: DType) -> str:
    if dt.is_bool:
        return "1" if v else "0"
    if dt.is_float:
        f = float(v)  # type: ignore[arg-type]
        if f != f:
            return "__builtin_nanf(\"\")" if dt.itemsize <= 4 else "__builtin_nan(\"\")"
        if f in (float("inf"), float("-inf")):
            s = "__builtin_inff()" if dt.itemsize <= 4 else "__builtin_inf()"
            return s if f > 0 else "(-" + s + ")"
        r = repr(f)
        if "e" not in r and "." not in r:
            r += ".0"
        return f"{r}f" if dt.itemsize <= 4 else r
    if dt.name == "int64":
        return f"{int(v)}LL"  # type: ignore[call-overload]
    if dt.name == "uint8":
        return f"{int(v)}u"  # type: ignore[call-overload]
    return str(int(v))  # type: ignore[call-overload]


def _max(a: str, b: str, dt: DType) -> str:
    if dt.is_float:
        return f"(({a})>({b})||({a})!=({a})?({a}):({b}))"
    return f"(({a})>({b})?({a}):({b}))"


def _cast(a: str, src: DType, dst: DType) -> str:
    if dst == src:
        return a
    if dst.name == "bfloat16":
        return f"tt_f32_to_bf16((float)({a}))" if src.name != "float16" else f"tt_f32_to_bf16((float)({a}))"
    if src.name == "bfloat16":
        f = f"tt_bf16_to_f32({a})"
        return f if dst.name == "float32" else _cast(f, dtypes.float32, dst)
    if dst.is_bool:
        return f"(({a})!=0)"
    if src.is_float and dst.is_int:  # out-of-range float to int is undefined in C: saturate, NaN -> 0
        lo, hi = dst.min, dst.max
        return f"(({a})!=({a})?0:({a})<={float(lo)!r}?({CTYPE[dst.name]}){lo}:({a})>={float(hi)!r}?" \
               f"({CTYPE[dst.name]}){hi}:({CTYPE[dst.name]})({a}))" if dst.itemsize < 8 else \
               f"(({a})!=({a})?0:({a})<=-9.2233720368547758e18?(-9223372036854775807LL-1):" \
               f"({a})>=9.2233720368547758e18?9223372036854775807LL:(long long)({a}))"
    return f"({CTYPE[dst.name]})({a})"


def _bitcast(a: str, src: DType, dst: DType) -> str:
    return f"({{{CTYPE[dst.name]} _t; {CTYPE[src.name]} _s = ({a}); memcpy(&_t, &_s, {dst.itemsize}); _t;}})"


def _idiv(a: str, b: str, dt: DType) -> str:
    # C traps on x/0 and INT_MIN/-1: give 0 and wrap instead (the Tensor API floors on top of this)
    return f"(({b})==0?0:({b})==-1?-({a}):({a})/({b}))"


def _mod(a: str, b: str, dt: DType) -> str:
    return f"(({b})==0||({b})==-1?0:({a})%({b}))"


def _transcendental(name: str) -> Callable[[list[str], DType], str]:
    def f(s: list[str], dt: DType) -> str:
        if dt.name == "float32":
            return f"tt_{name}_f32({s[0]})"
        return f"{name}({s[0]})"
    return f


# scalar render table: op -> (source strings, result dtype of the op's operands) -> C expression
SCALAR: dict[Ops, Callable[[list[str], DType], str]] = {
    Ops.ADD: lambda s, dt: f"({s[0]}+{s[1]})" if not dt.is_bool else f"({s[0]}|{s[1]})",
    Ops.MUL: lambda s, dt: f"({s[0]}*{s[1]})" if not dt.is_bool else f"({s[0]}&{s[1]})",
    Ops.NEG: lambda s, dt: f"(-{s[0]})" if not dt.is_bool else f"(!{s[0]})",
    Ops.MAX: lambda s, dt: _max(s[0], s[1], dt),
    Ops.MOD: lambda s, dt: _mod(s[0], s[1], dt),
    Ops.IDIV: lambda s, dt: _idiv(s[0], s[1], dt),
    Ops.CMPLT: lambda s, dt: f"({s[0]}<{s[1]})",
    Ops.CMPNE: lambda s, dt: f"({s[0]}!={s[1]})",
    Ops.AND: lambda s, dt: f"({s[0]}&{s[1]})",
    Ops.OR: lambda s, dt: f"({s[0]}|{s[1]})",
    Ops.XOR: lambda s, dt: f"({s[0]}^{s[1]})",
    Ops.SHL: lambda s, dt: f"({s[0]}<<{s[1]})",
    Ops.SHR: lambda s, dt: f"({s[0]}>>{s[1]})",
    Ops.WHERE: lambda s, dt: f"({s[0]}?{s[1]}:{s[2]})",
    Ops.EXP2: _transcendental("exp2"),
    Ops.LOG2: _transcendental("log2"),
    Ops.SIN: _transcendental("sin"),
    Ops.SQRT: lambda s, dt: f"__builtin_sqrtf({s[0]})" if dt.itemsize <= 4 else f"__builtin_sqrt({s[0]})",
    Ops.RECIPROCAL: lambda s, dt: f"(1.0f/{s[0]})" if dt.itemsize <= 4 else f"(1.0/{s[0]})",
}
# ops that GCC vector extensions do natively on float and int vectors
NATIVE_VEC = {Ops.ADD: "+", Ops.MUL: "*"}


class CRenderer:
    """Renders linear programs as C. Subclass and change the tables for a C dialect."""

    device_flags: tuple[str, ...] = ()

    def render(self, name: str, prog: list[UOp]) -> str:
        names: dict[UOp, str] = {}
        lines: list[str] = []
        params: list[str] = []
        helpers: dict[str, str] = {}
        vtypes: dict[str, str] = {}
        counter = [0]
        depth = 1

        def new(prefix: str) -> str:
            counter[0] += 1
            return f"{prefix}{counter[0]}"

        def vt(dt: DType) -> str:
            if dt.count > 1:
                n = ctype(dt)
                el = vec_elem_ctype(dt.scalar)
                size = dt.count * (4 if dt.name == "bool" else dt.itemsize)
                vtypes[n] = f"typedef {el} {n} __attribute__((vector_size({size}), aligned({dt.itemsize if dt.name != 'bool' else 4})));"
                return n
            return CTYPE[dt.name]

        def r(u: UOp) -> str:
            if u.op is Ops.CONST:
                return _fmt_const(u.arg, u.dtype)
            return names[u]

        def lane_helper(op: Ops, u: UOp) -> str:
            """A vector op applied lane by lane with the scalar rule."""
            out_t = vt(u.dtype)
            in_ts = [vt(s.dtype) for s in u.src]
            key = f"tt_{op.name.lower()}_{'_'.join(in_ts)}_{out_t}"
            if key not in helpers:
                args = ", ".join(f"{t} a{i}" for i, t in enumerate(in_ts))
                lanes = [f"a{i}[i]" for i in range(len(in_ts))]
                src_dt = u.src[-1].dtype.scalar if op is not Ops.WHERE else u.src[1].dtype.scalar
                if op is Ops.CAST:
                    body = _cast(f"({CTYPE[u.src[0].dtype.name]})a0[i]", u.src[0].dtype.scalar, u.dtype.scalar)
                elif op is Ops.BITCAST:
                    body = _bitcast("a0[i]", u.src[0].dtype.scalar, u.dtype.scalar)
                else:
                    body = SCALAR[op](lanes, src_dt)
                helpers[key] = (f"TT_INLINE {out_t} {key}({args}) {{ {out_t} r; "
                                f"for (int i = 0; i < {u.dtype.count}; i++) r[i] = {body}; return r; }}")
            return key

        for u in prog:
            ind = "  " * depth
            op = u.op
            if op is Ops.DEFINE_GLOBAL:
                names[u] = f"data{u.arg}"
                params.append(f"{CTYPE[u.dtype.name]}* restrict data{u.arg}")
            elif op is Ops.DEFINE_VAR:
                names[u] = u.arg[0]
                params.append(f"long long {u.arg[0]}")
            elif op is Ops.CONST:
                continue
            elif op is Ops.RANGE:
                v = names[u] = f"ridx{u.arg}"
                lines.append(f"{ind}for (long long {v} = {r(u.src[0])}; {v} < {r(u.src[1])}; {v}++) {{")
                depth += 1
            elif op is Ops.ENDRANGE:
                depth -= 1
                lines.append("  " * depth + "}")
            elif op is Ops.DEFINE_ACC:
                v = names[u] = new("acc")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {r(u.src[0])};")
            elif op is Ops.ASSIGN:
                lines.append(f"{ind}{names[u.src[0]]} = {r(u.src[1])};")
            elif op is Ops.LOAD:
                buf, idx = u.src[0], u.src[1]
                if u.dtype.count > 1:
                    t = vt(u.dtype)
                    if u.dtype.scalar.is_bool:
                        raise NotImplementedError("vector loads of bool")
                    expr = f"(*({t}*)({names[buf]}+{r(idx)}))"
                    zero = f"(({t}){{0}})"
                else:
                    expr = f"{names[buf]}[{r(idx)}]"
                    zero = "0"
                if len(u.src) == 3:
                    expr = f"({r(u.src[2])}?{expr}:{zero})"
                v = names[u] = new("val")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {expr};")
            elif op is Ops.STORE:
                buf, idx, val = u.src[:3]
                if val.dtype.count > 1:
                    target = f"*({vt(val.dtype)}*)({names[buf]}+{r(idx)})"
                else:
                    target = f"{names[buf]}[{r(idx)}]"
                stmt = f"{target} = {r(val)};"
                lines.append(f"{ind}if ({r(u.src[3])}) {stmt}" if len(u.src) == 4 else f"{ind}{stmt}")
            elif op is Ops.VECTORIZE:
                t = vt(u.dtype)
                if all(s is u.src[0] for s in u.src):
                    expr = f"(({t}){{0}} + ({vec_elem_ctype(u.dtype.scalar)})({r(u.src[0])}))"
                else:
                    expr = f"(({t}){{{', '.join(r(s) for s in u.src)}}})"
                v = names[u] = new("vec")
                lines.append(f"{ind}{t} {v} = {expr};")
            elif op is Ops.GEP:
                v = names[u] = new("lane")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {r(u.src[0])}[{u.arg}];")
            elif op is Ops.CAST or op is Ops.BITCAST:
                src = u.src[0]
                if u.dtype.count > 1:
                    expr = f"{lane_helper(op, u)}({r(src)})"
                elif op is Ops.CAST:
                    expr = _cast(r(src), src.dtype, u.dtype)
                else:
                    expr = _bitcast(r(src), src.dtype, u.dtype)
                v = names[u] = new("cast")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {expr};")
            else:
                srcs = [r(s) for s in u.src]
                if u.dtype.count > 1:
                    sym_ = NATIVE_VEC.get(op)
                    if sym_ is not None and not u.dtype.scalar.is_bool:
                        expr = f"({srcs[0]}{sym_}{srcs[1]})"
                    elif op is Ops.NEG and not u.dtype.scalar.is_bool:
                        expr = f"(-{srcs[0]})"
                    else:
                        expr = f"{lane_helper(op, u)}({', '.join(srcs)})"
                else:
                    operand_dt = u.src[1].dtype if op is Ops.WHERE else u.src[-1].dtype
                    expr = SCALAR[op](srcs, operand_dt)
                v = names[u] = new("alu")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {expr};")
        head = PRELUDE + "\n".join(vtypes.values()) + "\n" + "\n".join(helpers.values()) + "\n"
        return head + f"void {name}({', '.join(params)}) {{\n" + "\n".join(lines) + "\n}\n"
