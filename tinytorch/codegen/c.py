"""The C renderer: a linear program becomes one C99 function.

Takes: the linear UOps from codegen/lower.py and a kernel name.
Produces: C source using GCC/Clang vector extensions for SIMD values, `restrict` pointers,
and a thread-range signature `void name(T* restrict data0, ..., long long core_start,
long long core_end)` so the runtime can split the outer loop across threads (a kernel with
more than PACKED_ARGS_ABOVE buffers takes `void* const* bufs`, one array of pointers).

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
from .kernel import packs_args

CTYPE = {
    "bool": "unsigned char", "uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
    "int64": "long long", "uint16": "unsigned short", "uint32": "unsigned int", "uint64": "unsigned long long",
    "float16": "_Float16", "bfloat16": "unsigned short", "float32": "float", "float64": "double",
}
SHORT = {"bool": "b", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint16": "u16",
         "uint32": "u32", "uint64": "u64", "float16": "f16",
         "bfloat16": "bf16", "float32": "f32", "float64": "f64"}


def ctype(dt: DType) -> str:
    if dt.count > 1:
        return f"{SHORT[dt.name]}x{dt.count}"
    return CTYPE[dt.name]


def vec_elem_ctype(dt: DType) -> str:
    # bool lanes live in int lanes of the width of a float32 lane (compare results)
    return "int" if dt.name == "bool" else CTYPE[dt.name]


PRELUDE = r"""
#define memcpy __builtin_memcpy
#define TT_INLINE static inline __attribute__((always_inline))
TT_INLINE float tt_exp2_f32(float x) {
  /* 2^x = 2^n * 2^f, n = round(x), |f| <= 0.5; Cephes exp2f polynomial (rel. err ~1e-7).
     2^n is applied as two factors so results near overflow and in the denormal range are right. */
  float c = x < -151.0f ? -151.0f : (x > 128.0f ? 128.0f : x);
  float n = __builtin_floorf(c + 0.5f);
  float f = c - n;
  float p = 1.535336188319500e-4f;
  p = p * f + 1.339887440266574e-3f; p = p * f + 9.618437357674640e-3f; p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f; p = p * f + 6.931472028550421e-1f;
  p = p * f + 1.0f;
  int ni = (int)n, e1 = ni >> 1, e2 = ni - e1;
  unsigned int b1 = (unsigned int)(e1 + 127) << 23, b2 = (unsigned int)(e2 + 127) << 23;
  float s1, s2; memcpy(&s1, &b1, 4); memcpy(&s2, &b2, 4);
  float r = p * s1 * s2;
  return x != x ? x : r;
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
  /* j = round(x * 2/pi); r = x - j*pi/2 (three-part Cody-Waite); Cephes sinf/cosf on |r| <= pi/4.
     Beyond |x| = 2^17 the reduction loses precision: libm takes over (a cold branch). */
  if (__builtin_expect(__builtin_fabsf(x) > 131072.0f, 0)) return __builtin_sinf(x);
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
TT_INLINE float tt_bf16_to_f32(unsigned short b) {
  unsigned int u = (unsigned int)b << 16; float f; memcpy(&f, &u, 4); return f;
}
TT_INLINE unsigned short tt_f32_to_bf16(float f) {
  unsigned int u; memcpy(&u, &f, 4);
  if (f != f) return (unsigned short)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}
"""


# GCC's x86 min/max builtins per float32 lane count: (the feature that has them, min, max)
MINMAX_BUILTINS = {
    16: ("__AVX512F__", "__builtin_ia32_minps512_mask(a, b, a, (unsigned short)0xffff, 4)",
         "__builtin_ia32_maxps512_mask(a, b, a, (unsigned short)0xffff, 4)"),
    8: ("__AVX__", "__builtin_ia32_minps256(a, b)", "__builtin_ia32_maxps256(a, b)"),
    4: ("__SSE__", "__builtin_ia32_minps(a, b)", "__builtin_ia32_maxps(a, b)"),
}

# float32 vector versions of the approximations above, written only with operations GCC's
# vector extensions have (arithmetic, compares giving -1/0 masks, bit casts, convertvector),
# so each compiles to straight SIMD code. {V} is the float vector type, {I} the int one. Lane-wise min
# and max are one instruction with clang's elementwise builtins or GCC's x86 ones for the width ({FEATURE},
# {MIN}, {MAX}: MINMAX_BUILTINS), else two selects (a compare and bit selects: the clamps of exp2 measured
# 16 % of a softmax kernel that way). Where either operand is NaN they give the second, as x86's minps/maxps
# do, except clang's (TT_MINMAX_DROPS_NAN: the other operand).
VECTOR_MATH = r"""
TT_INLINE {V} tt_floor_{V}({V} x) {{ {V} t = __builtin_convertvector(__builtin_convertvector(x, {I}), {V});
  return t + __builtin_convertvector(t > x, {V}); }}
TT_INLINE {V} tt_sel_{V}({I} m, {V} a, {V} b) {{ return ({V})((({I})a & m) | (({I})b & ~m)); }}
#if defined(__clang__)
#define TT_MINMAX_DROPS_NAN 1
TT_INLINE {V} tt_min_{V}({V} a, {V} b) {{ return __builtin_elementwise_min(a, b); }}
TT_INLINE {V} tt_max_{V}({V} a, {V} b) {{ return __builtin_elementwise_max(a, b); }}
#elif defined(__GNUC__) && defined({FEATURE})
TT_INLINE {V} tt_min_{V}({V} a, {V} b) {{ return {MIN}; }}
TT_INLINE {V} tt_max_{V}({V} a, {V} b) {{ return {MAX}; }}
#else
TT_INLINE {V} tt_min_{V}({V} a, {V} b) {{ return tt_sel_{V}(a < b, a, b); }}
TT_INLINE {V} tt_max_{V}({V} a, {V} b) {{ return tt_sel_{V}(a > b, a, b); }}
#endif
TT_INLINE {V} tt_exp2_{V}({V} x) {{
  /* a NaN x is the second operand of both clamps, which it passes through (x86's min/max and the selects give the
     second operand where either is NaN) into the polynomial and the result */
  {V} c = tt_min_{V}(({V}){{0}} + 128.0f, tt_max_{V}(({V}){{0}} - 151.0f, x));
  /* n = c rounded to an integer by adding and taking away 1.5 * 2^23 (exact for |c| < 2^22; a tie goes to the even
     neighbour, |f| <= 0.5 either way), the integer n read from the sum's low mantissa bits: two adds and an integer
     subtract instead of a floor made of conversions */
  {V} big = c + 12582912.0f;
  {V} n = big - 12582912.0f, f = c - n;
  {V} p = f * 1.535336188319500e-4f + 1.339887440266574e-3f;
  p = p * f + 9.618437357674640e-3f; p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f; p = p * f + 6.931472028550421e-1f; p = p * f + 1.0f;
  {I} ni = ({I})big - 0x4B400000, e1 = ni >> 1, e2 = ni - e1;
  {V} r = p * ({V})((e1 + 127) << 23) * ({V})((e2 + 127) << 23);
#if defined(TT_MINMAX_DROPS_NAN)
  r = tt_sel_{V}(x != x, x, r);  /* (clang's elementwise min/max return the operand that is not NaN) */
#endif
  return r;
}}
TT_INLINE {V} tt_log2_{V}({V} x) {{
  {I} bits = ({I})x;
  {I} e = ((bits >> 23) & 0xff) - 126;
  {V} m = ({V})((bits & (int)0x807fffff) | 0x3f000000);
  {I} small = m < 0.70710678118654752440f;
  e = e + small;
  m = m - 1.0f + ({V})(({I})m & small);
  {V} z = m * m;
  {V} y = m * 7.0376836292e-2f - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f; y = y * m - 1.2420140846e-1f; y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f; y = y * m + 2.0000714765e-1f; y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = m * z * y - 0.5f * z;
  {V} r = (m + y) * 1.44269504088896341f + __builtin_convertvector(e, {V});
  r = tt_sel_{V}(x == __builtin_inff(), x, r);
  r = tt_sel_{V}(x < 1.17549435e-38f, ({V}){{0}} - __builtin_inff(), r);
  return tt_sel_{V}((x < 0.0f) | (x != x), ({V}){{0}} + __builtin_nanf(""), r);
}}
TT_INLINE {V} tt_sin_{V}({V} x) {{
  {V} j = tt_floor_{V}(x * 0.63661977236758134f + 0.5f);
  {V} r = ((x - j * 1.5703125f) - j * 4.837512969970703125e-4f) - j * 7.54978995489188216e-8f;
  {V} z = r * r;
  {V} s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  {V} c = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z - 0.5f * z + 1.0f;
  {I} q = __builtin_convertvector(j, {I});
  {V} v = tt_sel_{V}((q & 1) != 0, c, s);
  v = tt_sel_{V}((q & 2) != 0, -v, v);
  v = tt_sel_{V}((x - x) != 0.0f, ({V}){{0}} + __builtin_nanf(""), v);
  int big = 0;
  for (int i = 0; i < (int)(sizeof(x) / sizeof(x[0])); i++) big |= __builtin_fabsf(x[i]) > 131072.0f;
  if (__builtin_expect(big, 0))  /* precise reduction for huge arguments: libm, lane by lane */
    for (int i = 0; i < (int)(sizeof(x) / sizeof(x[0])); i++)
      if (__builtin_fabsf(x[i]) > 131072.0f) v[i] = __builtin_sinf(x[i]);
  return v;
}}
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
        r = f"{r}f" if dt.itemsize <= 4 else r
        return f"({r})" if f < 0 or r.startswith("-") else r  # so that -(c) never renders as --c
    if dt.name == "int64":
        return f"({int(v)}LL)" if int(v) < 0 else f"{int(v)}LL"  # type: ignore[call-overload]
    if dt.name in ("uint8", "uint16", "uint32"):
        return f"{int(v)}u"  # type: ignore[call-overload]
    if dt.name == "uint64":
        return f"{int(v)}ULL"  # type: ignore[call-overload]
    return f"({int(v)})" if int(v) < 0 else str(int(v))  # type: ignore[call-overload]


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
# square roots of whole vectors: (scalar type, lanes) -> (the target feature, GCC's builtin)
_NATIVE_SQRT = {
    ("float32", 4): ("__SSE__", "__builtin_ia32_sqrtps"), ("float32", 8): ("__AVX__", "__builtin_ia32_sqrtps256"),
    ("float64", 2): ("__SSE2__", "__builtin_ia32_sqrtpd"), ("float64", 4): ("__AVX__", "__builtin_ia32_sqrtpd256"),
}
# ops that GCC vector extensions do natively on float and int vectors
NATIVE_VEC = {Ops.ADD: "+", Ops.MUL: "*"}


class CRenderer:
    """Renders linear programs as C. Subclass and change the tables for a C dialect."""

    device_flags: tuple[str, ...] = ()

    def render(self, name: str, prog: list[UOp]) -> str:
        return self.render_batch([(name, prog)])

    def render_batch(self, kernels: list[tuple[str, list[UOp]]]) -> str:
        """Several kernels in one translation unit: one compiler run, shared declarations."""
        vtypes: dict[str, str] = {}
        helpers: dict[str, str] = {}
        funcs = [self._render_function(name, prog, vtypes, helpers) for name, prog in kernels]
        return PRELUDE + "\n".join(vtypes.values()) + "\n" + "\n".join(helpers.values()) + "\n" + "\n".join(funcs)

    def _render_function(self, name: str, prog: list[UOp], vtypes: dict[str, str], helpers: dict[str, str]) -> str:
        names: dict[UOp, str] = {}
        lines: list[str] = []
        params: list[str] = []
        counter = [0]
        depth = 1
        packed = packs_args(sum(1 for u in prog if u.op is Ops.DEFINE_GLOBAL))
        if packed:
            params.append("void* const* restrict bufs")

        def new(prefix: str) -> str:
            counter[0] += 1
            return f"{prefix}{counter[0]}"

        def vt(dt: DType) -> str:
            if dt.count > 1:
                n = ctype(dt)
                el = vec_elem_ctype(dt.scalar)
                size = dt.count * (4 if dt.name == "bool" else dt.itemsize)
                align = dt.itemsize if dt.name != "bool" else 4  # element alignment: loads may be unaligned
                vtypes[n] = f"typedef {el} {n} __attribute__((vector_size({size}), aligned({align})));"
                return n
            return CTYPE[dt.name]

        def r(u: UOp) -> str:
            if u.op is Ops.CONST:
                return _fmt_const(u.arg, u.dtype)
            return names[u]

        def lane_helper(op: Ops, u: UOp) -> str:
            """A vector op applied lane by lane with the scalar rule (bool lanes are -1/0 masks)."""
            out_t = vt(u.dtype)
            in_ts = [vt(s.dtype) for s in u.src]
            key = f"tt_{op.name.lower()}_{'_'.join(in_ts)}_{out_t}"
            if key not in helpers:
                args = ", ".join(f"{t} a{i}" for i, t in enumerate(in_ts))
                lanes = [f"(a{i}[i]!=0)" if s.dtype.scalar.is_bool else f"a{i}[i]" for i, s in enumerate(u.src)]
                src_dt = u.src[-1].dtype.scalar if op is not Ops.WHERE else u.src[1].dtype.scalar
                if op is Ops.CAST:
                    body = _cast(f"({CTYPE[u.src[0].dtype.name]}){lanes[0]}", u.src[0].dtype.scalar, u.dtype.scalar)
                elif op is Ops.BITCAST:
                    body = _bitcast(lanes[0], u.src[0].dtype.scalar, u.dtype.scalar)
                else:
                    body = SCALAR[op](lanes, src_dt)
                if u.dtype.scalar.is_bool:
                    body = f"-(int)({body})"
                loop = f"{out_t} r; for (int i = 0; i < {u.dtype.count}; i++) r[i] = {body}; return r;"
                native = _NATIVE_SQRT.get((u.dtype.scalar.name, u.dtype.count)) if op is Ops.SQRT else None
                if native is not None:  # one vector instruction where the target has it (same IEEE rounding)
                    feature, builtin = native
                    helpers[key] = (f"TT_INLINE {out_t} {key}({args}) {{\n#if defined({feature})\n"
                                    f"  return {builtin}(a0);\n#else\n  {loop}\n#endif\n}}")
                else:
                    helpers[key] = f"TT_INLINE {out_t} {key}({args}) {{ {loop} }}"
            return key

        def ivec(width: int, lanes: int) -> str:
            return vt((dtypes.int32 if width == 4 else dtypes.int64).vec(lanes))

        def to_mask(expr: str, operand: DType, lanes: int) -> str:
            """A comparison result (lane width of the operands) as a bool vector (int lanes)."""
            bt = vt(dtypes.bool.vec(lanes))
            w = 4 if operand.is_bool else operand.itemsize
            return f"(({bt})({expr}))" if w == 4 else f"__builtin_convertvector({expr}, {bt})"

        def math_helper(name: str, u: UOp) -> str:
            v = vt(u.dtype)
            i = ivec(4, u.dtype.count)
            if f"math_{v}" not in helpers:
                feature, mn, mx = MINMAX_BUILTINS.get(u.dtype.count, ("TT_NO_MINMAX_BUILTIN", "", ""))
                helpers[f"math_{v}"] = VECTOR_MATH.format(V=v, I=i, FEATURE=feature, MIN=mn, MAX=mx)
            return f"tt_{name}_{v}"

        def float_to_int(u: UOp) -> str:
            """A helper that casts a float vector to an integer vector in SIMD, with the scalar
            cast's rules (NaN -> 0, out-of-range lanes saturate): lanes out of range are zeroed
            before the conversion (whose result C leaves undefined there), then replaced."""
            src, dst, n = u.src[0].dtype.scalar, u.dtype.scalar, u.dtype.count
            f, d, m = vt(src.vec(n)), vt(u.dtype), ivec(src.itemsize, n)
            key = f"tt_f2i_{f}_{d}"
            if key not in helpers:
                sfx = "f" if src.itemsize == 4 else ""  # hi rounds up to a power of two for 32/64 bits
                lo, hi = f"{float(dst.min)!r}{sfx}", f"{float(dst.max)!r}{sfx}"
                helpers[key] = (
                    f"TT_INLINE {d} {key}({f} x) {{\n"
                    f"  {m} low = x <= {lo}, high = x >= {hi}, keep = ~(low | high | (x != x));\n"
                    f"  {d} r = __builtin_convertvector(({f})(({m})x & keep), {d});\n"
                    f"  {d} lo_m = __builtin_convertvector(low, {d}), hi_m = __builtin_convertvector(high, {d});\n"
                    f"  return (r & ~(lo_m | hi_m)) | (lo_m & ({CTYPE[dst.name]})({dst.min}LL)) | "
                    f"(hi_m & ({CTYPE[dst.name]}){dst.max}LL);\n}}")
            return key

        def mask_load(dt: DType) -> str:
            """A helper loading the lanes of a vector whose mask lane is set, zero elsewhere, touching no
            memory under a clear lane (a padded window's edge may lie outside the buffer): AVX's vmaskmov
            or AVX-512's masked load where the target has them, else lane by lane."""
            t, n, el = vt(dt), dt.count, CTYPE[dt.scalar.name]
            m = vt(dtypes.bool.vec(n))
            key = f"tt_maskload_{t}"
            if key not in helpers:
                fast = ""
                if dt.scalar.name == "float32" and n == 4:
                    fast = (f"#if defined(__AVX__)\n  return ({t})__builtin_ia32_maskloadps("
                            f"(const __attribute__((vector_size(16))) float*)p, m);\n#endif\n")
                elif dt.scalar.name == "float32" and n == 8:
                    fast = (f"#if defined(__AVX__)\n  return ({t})__builtin_ia32_maskloadps256("
                            f"(const __attribute__((vector_size(32))) float*)p, m);\n#endif\n")
                elif dt.scalar.name == "float32" and n == 16:  # two halves (AVX-512 implies AVX)
                    h = "__attribute__((vector_size(32)))"
                    fast = (f"#if defined(__AVX__)\n  typedef float hf {h}; typedef int hi {h};\n"
                            f"  hi lo = {{m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]}}, "
                            f"up = {{m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]}};\n"
                            f"  hf a = __builtin_ia32_maskloadps256((const hf*)p, lo), "
                            f"b = __builtin_ia32_maskloadps256((const hf*)(p + 8), up);\n"
                            f"  return ({t})__builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, "
                            f"13, 14, 15);\n#endif\n")
                helpers[key] = (f"TT_INLINE {t} {key}(const {el}* p, {m} m) {{\n{fast}"
                                f"  {t} r = {{0}};\n  for (int i = 0; i < {n}; i++) if (m[i]) r[i] = p[i];\n"
                                f"  return r;\n}}")
            return key

        def select(m: str, a: str, b: str, dt: DType) -> str:
            t = vt(dt)
            if dt.scalar.is_bool:
                return f"(({m})&({a})|~({m})&({b}))"
            w = dt.itemsize
            it = ivec(w, dt.count)
            mm = m if w == 4 else f"__builtin_convertvector({m}, {it})"
            return f"(({t})((({it})({a})&{mm})|(({it})({b})&~{mm})))"

        def vector_expr(u: UOp, srcs: list[str]) -> str:
            op, dt = u.op, u.dtype
            sd = u.src[-1].dtype.scalar if op is not Ops.WHERE else u.src[1].dtype.scalar
            small_int = sd.is_int and sd.itemsize not in (4, 8)
            if op in (Ops.ADD, Ops.MUL) and sd.is_bool:
                return f"({srcs[0]}{'|' if op is Ops.ADD else '&'}{srcs[1]})"
            if op in NATIVE_VEC:
                return f"({srcs[0]}{NATIVE_VEC[op]}{srcs[1]})"
            if op is Ops.NEG:
                return f"(~{srcs[0]})" if sd.is_bool else f"(-{srcs[0]})"
            if op in (Ops.AND, Ops.OR, Ops.XOR, Ops.SHL, Ops.SHR):
                return SCALAR[op](srcs, sd)
            if op is Ops.CMPLT and sd.is_bool:  # bool lanes are masks (true = -1): a < b is b_mask < a_mask
                return to_mask(SCALAR[op]([srcs[1], srcs[0]], sd), sd, dt.count)
            if op in (Ops.CMPLT, Ops.CMPNE) and not small_int:
                return to_mask(SCALAR[op](srcs, sd), sd, dt.count)
            if op is Ops.MAX and sd.is_bool:
                return f"({srcs[0]}|{srcs[1]})"
            if op is Ops.MAX and not small_int:
                gt = to_mask(f"({srcs[0]}>{srcs[1]})", sd, dt.count)
                if sd.is_float:
                    gt = f"({gt}|{to_mask(f'({srcs[0]}!={srcs[0]})', sd, dt.count)})"
                return select(gt, srcs[0], srcs[1], dt)
            if op is Ops.WHERE and (sd.is_bool or sd.itemsize in (4, 8)):
                return select(srcs[0], srcs[1], srcs[2], dt)
            if op in (Ops.EXP2, Ops.LOG2, Ops.SIN) and sd.name == "float32":
                return f"{math_helper(op.name.lower(), u)}({srcs[0]})"
            if op is Ops.RECIPROCAL:
                return f"({'1.0f' if sd.itemsize <= 4 else '1.0'}/{srcs[0]})"
            if op is Ops.CAST:
                src = u.src[0].dtype.scalar
                if src.name in ("float32", "float64") and dt.scalar.is_int and not dt.scalar.is_bool:
                    return f"{float_to_int(u)}({srcs[0]})"
                if src.is_bool and not dt.scalar.name.endswith("float16"):
                    return f"__builtin_convertvector(({srcs[0]})&1, {vt(dt)})"
                if dt.scalar.is_bool and not src.name.endswith("float16") and not small_int:
                    return to_mask(f"({srcs[0]}!=0)", src, dt.count)
                if not (src.is_float and dt.scalar.is_int) and "float16" not in (src.name + dt.scalar.name) \
                        and not src.is_bool and not dt.scalar.is_bool:
                    return f"__builtin_convertvector({srcs[0]}, {vt(dt)})"
            if op is Ops.BITCAST:
                return f"(({vt(dt)})({srcs[0]}))"
            return f"{lane_helper(op, u)}({', '.join(srcs)})"

        for u in prog:
            ind = "  " * depth
            op = u.op
            if op is Ops.DEFINE_GLOBAL:
                names[u] = f"data{u.arg}"
                if packed:
                    t = CTYPE[u.dtype.name]
                    lines.append(f"  {t}* restrict data{u.arg} = ({t}*)bufs[{u.arg}];")
                else:
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
            elif op is Ops.DEFINE_LOCAL:
                v = names[u] = f"local{u.arg[0]}"
                lines.append(f"{ind}{CTYPE[u.dtype.name]} {v}[{u.arg[1]}] __attribute__((aligned(64)));")
            elif op is Ops.DEFINE_ACC:
                v = names[u] = new("acc")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {r(u.src[0])};")
            elif op is Ops.ASSIGN:
                lines.append(f"{ind}{names[u.src[0]]} = {r(u.src[1])};")
            elif op is Ops.LOAD and u.dtype == dtypes.void:  # a prefetch (for a write) of the element's cache line
                lines.append(f"{ind}__builtin_prefetch({names[u.src[0]]}+{r(u.src[1])}, 1, 3);")
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
                if len(u.src) == 3 and u.src[2].dtype.count > 1:  # lanes masked one by one
                    expr = f"{mask_load(u.dtype)}({names[buf]}+{r(idx)}, {r(u.src[2])})"
                elif len(u.src) == 3:
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
                lanes = [f"-(int)({r(s)})" if u.dtype.scalar.is_bool else r(s) for s in u.src]
                if all(s is u.src[0] for s in u.src):  # splat: one temporary, then an initializer list
                    tmp = new("s")
                    lines.append(f"{ind}{vec_elem_ctype(u.dtype.scalar)} {tmp} = {lanes[0]};")
                    expr = f"(({t}){{{', '.join([tmp] * u.dtype.count)}}})"
                else:
                    expr = f"(({t}){{{', '.join(lanes)}}})"
                v = names[u] = new("vec")
                lines.append(f"{ind}{t} {v} = {expr};")
            elif op is Ops.GEP:
                v = names[u] = new("lane")
                lane = f"{r(u.src[0])}[{u.arg}]"
                lines.append(f"{ind}{vt(u.dtype)} {v} = {'(' + lane + '!=0)' if u.dtype.is_bool else lane};")
            elif op is Ops.CAST or op is Ops.BITCAST:
                src = u.src[0]
                if u.dtype.count > 1:
                    expr = vector_expr(u, [r(src)])
                elif op is Ops.CAST:
                    expr = _cast(r(src), src.dtype, u.dtype)
                else:
                    expr = _bitcast(r(src), src.dtype, u.dtype)
                v = names[u] = new("cast")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {expr};")
            else:
                srcs = [r(s) for s in u.src]
                if u.dtype.count > 1:
                    expr = vector_expr(u, srcs)
                else:
                    operand_dt = u.src[1].dtype if op is Ops.WHERE else u.src[-1].dtype
                    expr = SCALAR[op](srcs, operand_dt)
                v = names[u] = new("alu")
                lines.append(f"{ind}{vt(u.dtype)} {v} = {expr};")
        return f"void {name}({', '.join(params)}) {{\n" + "\n".join(lines) + "\n}\n"
