"""The LLVM renderer: a linear program becomes one function in textual LLVM IR.

Takes: the linear UOps from codegen/lower.py and a kernel name (the same input as c.py).
Produces: an LLVM module (text) holding `define void @name(ptr noalias %data0, ...,
i64 %core_start, i64 %core_end)` plus the small internal helpers it calls.

The op semantics are those of the C renderer (c.py), which is the reference:
- values live in native LLVM types; vectors are `<8 x float>` etc., so every ALU op is one
  instruction (or a short fixed sequence) on scalars and vectors alike;
- bool is `i1` in registers and `i8` 0/1 in memory; bfloat16 is its `i16` bit pattern,
  rounded to nearest even on the way in; float16 is `half`;
- MAX propagates NaN from its first operand as `(a > b || a != a) ? a : b` does; IDIV/MOD
  give 0 on division by zero and wrap INT_MIN / -1; float -> int casts saturate (NaN -> 0),
  which is exactly `llvm.fpto[su]i.sat`; shifts of types narrower than int are done in i32
  and truncated, like C's integer promotion;
- float32 exp2/log2/sin are the Cephes polynomials of c.py's PRELUDE as `alwaysinline`
  internal functions, one per vector type, so they vectorize (no libm call per element).
  Two edges are more exact than the C prelude: exp2 applies 2^n as two factors, so it is
  right near overflow and in the denormal range (exp2(-inf) = 0), and sin sends a vector
  holding some |x| > 2^17 (where the Cody-Waite reduction fails) to libm's sinf, on a
  branch marked cold. float64 uses the `llvm.exp2/log2/sin` intrinsics;
- only the `contract` fast-math flag is used (so mul+add become FMA, like
  `-ffp-contract=fast`); never nnan/ninf, NaN and inf must propagate.

Loops are basic blocks with a phi for the counter; accumulators are entry-block allocas,
which mem2reg/SROA in the O3 pipeline turn into registers. Masked loads read index 0 when
the mask is off (so no out-of-bounds address is ever formed) and select zero; masked
stores branch around the store.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

from ..dtype import DType, dtypes
from ..ops.uop import Ops, UOp
from .kernel import packs_args

# register type of each scalar dtype; memory differs only for bool (i8)
LTYPE = {"bool": "i1", "uint8": "i8", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
         "uint16": "i16", "uint32": "i32", "uint64": "i64", "float16": "half", "bfloat16": "i16", "float32": "float",
         "float64": "double"}
# intrinsic name suffix of each scalar register type
SUFFIX = {"i1": "i1", "i8": "i8", "i16": "i16", "i32": "i32", "i64": "i64", "half": "f16", "float": "f32",
          "double": "f64"}


def ltype(dt: DType, memory: bool = False) -> str:
    el = "i8" if memory and dt.is_bool else LTYPE[dt.name]
    return f"<{dt.count} x {el}>" if dt.count > 1 else el


def suffix(ty: str) -> str:
    """`llvm.sqrt.` suffix of a register type: float -> f32, <8 x float> -> v8f32."""
    if ty.startswith("<"):
        n, _, el = ty[1:-1].split(" ")
        return f"v{n}{SUFFIX[el]}"
    return SUFFIX[ty]


def vector_of(ty: str, el: str) -> str:
    """The type with ty's shape and element el: (<8 x float>, i32) -> <8 x i32>."""
    return f"<{ty[1:].split(' ')[0]} x {el}>" if ty.startswith("<") else el


def is_unsigned(dt: DType) -> bool:
    return dt.kind in "ub"


# constants -------------------------------------------------------------------------------------
def scalar_const(v: object, el: str) -> str:
    """A literal of register type el (float literals as exact hex, ints in signed form)."""
    if el == "i1":
        return "true" if v else "false"
    if el.startswith("i"):
        bits = int(el[1:])
        x = int(v) & ((1 << bits) - 1)  # type: ignore[call-overload]
        return str(x - (1 << bits) if x >= 1 << (bits - 1) else x)
    f = float(v)  # type: ignore[arg-type]
    if el == "half":
        return f"0xH{int(np.array(f, np.float16).view(np.uint16)):04X}"
    if el == "float":
        f = float(np.float32(f))  # float literals must be exact float values, spelled as double hex
    return f"0x{struct.unpack('<Q', struct.pack('<d', f))[0]:016X}"


def const(v: object, ty: str) -> str:
    """A literal of type ty; a splat when ty is a vector."""
    if ty.startswith("<"):
        el = ty[1:-1].split(" ")[2]
        return f"splat ({el} {scalar_const(v, el)})"
    return scalar_const(v, ty)


def bf16_bits(v: float) -> int:
    u = int(np.array(v, np.float32).view(np.uint32))
    if v != v:
        return (u >> 16) | 0x40
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


class _Consts:
    """Format-spec constants for the helper templates: '{F:0.5}' is a float literal of the
    helper's type (a splat for vectors), '{K:127}' an integer one."""

    def __init__(self, ty: str):
        self.ty = ty

    def __format__(self, spec: str) -> str:
        if self.ty.split(" ")[-1].rstrip(">").startswith("i"):
            return const(int(spec, 0), self.ty)
        return const(float(spec), self.ty)


# float32 helpers (the C PRELUDE in IR) -----------------------------------------------------------
def _horner(out: str, x: str, coeffs: list[str]) -> str:
    """Lines computing out = (((c0*x + c1)*x + c2)...) with contractible mul/add (-> FMA)."""
    lines, prev = [], "{F:" + coeffs[0] + "}"
    for i, c in enumerate(coeffs[1:]):
        name = f"%{out}.{i}" if i < len(coeffs) - 2 else f"%{out}"
        lines += [f"  %{out}.m{i} = fmul contract {{T}} {prev}, {x}",
                  f"  {name} = fadd contract {{T}} %{out}.m{i}, {{F:{c}}}"]
        prev = name
    return "\n".join(lines)


_EXP2 = """  ; 2^x = 2^n * 2^f, n = round(x), |f| <= 0.5; Cephes exp2f polynomial (rel. err ~1e-7). The scale 2^n
  ; is applied as 2^(n>>1) * 2^(n-(n>>1)), so results near overflow (x < 128) and denormal results (x > -150)
  ; are right and 2^-inf is exactly 0.
  %lo = fcmp olt {T} %x0, {F:-151.0}
  %hi = fcmp ogt {T} %x0, {F:128.0}
  %x1 = select {B} %hi, {T} {F:128.0}, {T} %x0
  %x = select {B} %lo, {T} {F:-151.0}, {T} %x1
  %xh = fadd contract {T} %x, {F:0.5}
  %n = call {T} @llvm.floor.{S}({T} %xh)
  %f = fsub contract {T} %x, %n
""" + _horner("p", "%f", ["1.535336188319500e-4", "1.339887440266574e-3", "9.618437357674640e-3",
                          "5.550332471162809e-2", "2.402264791363012e-1", "6.931472028550421e-1", "1.0"]) + """
  %ni0 = fptosi {T} %n to {I}
  %ni = freeze {I} %ni0
  %n1 = ashr {I} %ni, {K:1}
  %n2 = sub {I} %ni, %n1
  %e1 = add {I} %n1, {K:127}
  %e2 = add {I} %n2, {K:127}
  %bits1 = shl {I} %e1, {K:23}
  %bits2 = shl {I} %e2, {K:23}
  %s1 = bitcast {I} %bits1 to {T}
  %s2 = bitcast {I} %bits2 to {T}
  %r1 = fmul {T} %p, %s1
  %r = fmul {T} %r1, %s2
  %nan = fcmp uno {T} %x, %x
  %out = select {B} %nan, {T} %x, {T} %r
  ret {T} %out"""

_LOG2 = """  ; x = m * 2^e, m in [sqrt(1/2), sqrt(2)); Cephes logf polynomial in (m - 1). As in the C prelude, denormal
  ; inputs give -inf (scaling them by 2^23 first costs ~25% of the kernel's time)
  %bits = bitcast {T} %x to {I}
  %bsh = lshr {I} %bits, {K:23}
  %bex = and {I} %bsh, {K:255}
  %e0 = sub {I} %bex, {K:126}
  %mb0 = and {I} %bits, {K:0x807fffff}
  %mb = or {I} %mb0, {K:0x3f000000}
  %m0 = bitcast {I} %mb to {T}
  %small = fcmp olt {T} %m0, {F:0.70710678118654752440}
  %smalli = zext {B} %small to {I}
  %e = sub {I} %e0, %smalli
  %m2 = fadd contract {T} %m0, %m0
  %m2m1 = fsub contract {T} %m2, {F:1.0}
  %m1 = fsub contract {T} %m0, {F:1.0}
  %m = select {B} %small, {T} %m2m1, {T} %m1
  %z = fmul contract {T} %m, %m
""" + _horner("y", "%m", ["7.0376836292e-2", "-1.1514610310e-1", "1.1676998740e-1", "-1.2420140846e-1",
                          "1.4249322787e-1", "-1.6668057665e-1", "2.0000714765e-1", "-2.4999993993e-1",
                          "3.3333331174e-1"]) + """
  %mz = fmul contract {T} %m, %z
  %mzy = fmul contract {T} %mz, %y
  %hz = fmul contract {T} {F:0.5}, %z
  %y2 = fsub contract {T} %mzy, %hz
  %my = fadd contract {T} %m, %y2
  %ef = sitofp {I} %e to {T}
  %rl = fmul contract {T} %my, {F:1.44269504088896341}
  %r0 = fadd contract {T} %rl, %ef
  %isinf = fcmp oeq {T} %x, {F:inf}
  %r1 = select {B} %isinf, {T} %x, {T} %r0
  %tiny = fcmp olt {T} %x, {F:1.17549435e-38}
  %r2 = select {B} %tiny, {T} {F:-inf}, {T} %r1
  %neg = fcmp olt {T} %x, {F:0.0}
  %nan = fcmp uno {T} %x, %x
  %bad = or {B} %neg, %nan
  %out = select {B} %bad, {T} {F:nan}, {T} %r2
  ret {T} %out"""

_SIN = """  ; j = round(x * 2/pi); r = x - j*pi/2 (three-part Cody-Waite); Cephes sinf/cosf on |r| <= pi/4. The
  ; reduction is exact enough (abs. err < 1e-7) for |x| <= 2^17; a vector holding a larger finite or
  ; infinite x goes to libm's sinf (full range reduction) instead, lane by lane: rare and correct
  %ax = call {T} @llvm.fabs.{S}({T} %x)
  %huge = fcmp ogt {T} %ax, {F:131072.0}
  %anyhuge = {ANY}
  br i1 %anyhuge, label %libm, label %fast, !prof !0
libm:
  %lib = call {T} @llvm.sin.{S}({T} %x)
  ret {T} %lib
fast:
  %xs = fmul contract {T} %x, {F:0.63661977236758134}
  %xs5 = fadd contract {T} %xs, {F:0.5}
  %j = call {T} @llvm.floor.{S}({T} %xs5)
  %a1 = fmul contract {T} %j, {F:1.5703125}
  %r1 = fsub contract {T} %x, %a1
  %a2 = fmul contract {T} %j, {F:4.837512969970703125e-4}
  %r2 = fsub contract {T} %r1, %a2
  %a3 = fmul contract {T} %j, {F:7.54978995489188216e-8}
  %r = fsub contract {T} %r2, %a3
  %z = fmul contract {T} %r, %r
""" + _horner("s", "%z", ["-1.9515295891e-4", "8.3321608736e-3", "-1.6666654611e-1"]) + """
  %sz = fmul contract {T} %s, %z
  %szr = fmul contract {T} %sz, %r
  %sv = fadd contract {T} %szr, %r
""" + _horner("c", "%z", ["2.443315711809948e-5", "-1.388731625493765e-3", "4.166664568298827e-2"]) + """
  %cz = fmul contract {T} %c, %z
  %czz = fmul contract {T} %cz, %z
  %hz = fmul contract {T} {F:0.5}, %z
  %c1 = fsub contract {T} %czz, %hz
  %cv = fadd contract {T} %c1, {F:1.0}
  ; quadrant q = j mod 4, exact in float (j - 4*floor(j/4)), so no 64-bit vector conversion
  %j4 = fmul {T} %j, {F:0.25}
  %fl = call {T} @llvm.floor.{S}({T} %j4)
  %fl4 = fmul {T} %fl, {F:4.0}
  %qf = fsub {T} %j, %fl4
  %q0 = fptosi {T} %qf to {I}
  %q = freeze {I} %q0
  %q1 = and {I} %q, {K:1}
  %odd = icmp ne {I} %q1, {K:0}
  %v0 = select {B} %odd, {T} %cv, {T} %sv
  %q2 = and {I} %q, {K:2}
  %negq = icmp ne {I} %q2, {K:0}
  %nv = fneg {T} %v0
  %v = select {B} %negq, {T} %nv, {T} %v0
  %xx = fsub {T} %x, %x
  %bad = fcmp une {T} %xx, {F:0.0}
  %out = select {B} %bad, {T} {F:nan}, {T} %v
  ret {T} %out"""

_F32_TO_BF16 = """  ; round to nearest even; NaN stays a (quiet) NaN
  %u = bitcast {T} %x to {I}
  %odd0 = lshr {I} %u, {K:16}
  %odd = and {I} %odd0, {K:1}
  %rb = add {I} %odd, {K:0x7fff}
  %ur = add {I} %u, %rb
  %hi = lshr {I} %ur, {K:16}
  %qn = or {I} %odd0, {K:0x40}
  %nan = fcmp uno {T} %x, %x
  %sel = select {B} %nan, {I} %qn, {I} %hi
  %out = trunc {I} %sel to {H}
  ret {H} %out"""

# helper name -> (IR body template, argument name, returns the 16-bit type instead of T, intrinsics it calls)
HELPERS: dict[str, tuple[str, str, bool, tuple[str, ...]]] = {
    "exp2": (_EXP2, "%x0", False, ("floor",)), "log2": (_LOG2, "%x", False, ()),
    "sin": (_SIN, "%x", False, ("floor", "fabs", "sin")), "f32_to_bf16": (_F32_TO_BF16, "%x", True, ()),
}


def render_helper(name: str, ty: str) -> tuple[str, dict[str, str]]:
    """`define internal` of helper `name` for float32 type ty (float or <N x float>), and the
    declarations of the intrinsics it calls."""
    body, arg, to16, intrinsics = HELPERS[name]
    i32, b, h = vector_of(ty, "i32"), vector_of(ty, "i1"), vector_of(ty, "i16")
    decls = {f"llvm.{i}.{suffix(ty)}": f"declare {ty} @llvm.{i}.{suffix(ty)}({ty})" for i in intrinsics}
    any_ = "or i1 %huge, false"
    if ty.startswith("<"):
        any_ = f"call i1 @llvm.vector.reduce.or.{suffix(b)}({b} %huge)"
        decls[f"llvm.vector.reduce.or.{suffix(b)}"] = f"declare i1 @llvm.vector.reduce.or.{suffix(b)}({b})"
    text = body.format(T=ty, I=i32, B=b, H=h, S=suffix(ty), F=_Consts(ty), K=_Consts(i32), ANY=any_)
    ret = h if to16 else ty
    return f"define internal {ret} @tt_{name}_{suffix(ty)}({ty} {arg}) #1 {{\n{text}\n}}", decls


# the function body -------------------------------------------------------------------------------
class _Body:
    """Instruction lines of one function, SSA names, intrinsic declarations and helpers."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0
        self.decls: dict[str, str] = {}
        self.helpers: dict[str, str] = {}

    def __call__(self, expr: str) -> str:
        self.n += 1
        self.lines.append(f"  %v{self.n} = {expr}")
        return f"%v{self.n}"

    def label(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def intrinsic(self, name: str, ret: str, *args: tuple[str, str]) -> str:
        self.decls.setdefault(name, f"declare {ret} @{name}({', '.join(t for t, _ in args)})")
        return self(f"call {ret} @{name}({', '.join(f'{t} {v}' for t, v in args)})")

    def helper(self, name: str, ty: str, x: str) -> str:
        """Call float32 helper `name` on x of type ty (defining it and declaring what it calls)."""
        key = f"tt_{name}_{suffix(ty)}"
        if key not in self.helpers:
            self.helpers[key], decls = render_helper(name, ty)
            for k, v in decls.items():
                self.decls.setdefault(k, v)
        ret = vector_of(ty, "i16") if name == "f32_to_bf16" else ty
        return self(f"call {ret} @{key}({ty} {x})")


# casts -----------------------------------------------------------------------------------------
def cast(b: _Body, x: str, src: DType, dst: DType, count: int) -> str:
    """x (count lanes of scalar dtype src) converted to dst with C's semantics."""
    if src == dst:
        return x
    st, dt = ltype(src.vec(count)), ltype(dst.vec(count))
    f32 = ltype(dtypes.float32.vec(count))
    if dst.name == "bfloat16":
        return b.helper("f32_to_bf16", f32, cast(b, x, src, dtypes.float32, count))
    if src.name == "bfloat16":
        wide = b(f"zext {st} {x} to {vector_of(st, 'i32')}")
        bits = b(f"shl {vector_of(st, 'i32')} {wide}, {const(16, vector_of(st, 'i32'))}")
        return cast(b, b(f"bitcast {vector_of(st, 'i32')} {bits} to {f32}"), dtypes.float32, dst, count)
    if dst.is_bool:
        return b(f"fcmp une {st} {x}, zeroinitializer" if src.is_float else f"icmp ne {st} {x}, zeroinitializer")
    if dst.name == "float16" and src.name != "float32":
        # through float32: a direct double/integer -> half conversion is a runtime-library call
        # (__truncdfhf2, __floatdihf) that the JIT cannot resolve
        return cast(b, cast(b, x, src, dtypes.float32, count), dtypes.float32, dst, count)
    if src.is_float and dst.is_float:
        return b(f"{'fpext' if dst.itemsize > src.itemsize else 'fptrunc'} {st} {x} to {dt}")
    if src.is_float:  # saturating, NaN -> 0: exactly the C renderer's clamp
        if src.name == "float16":
            x, st = b(f"fpext {st} {x} to {f32}"), f32
        sat = "fptoui" if is_unsigned(dst) else "fptosi"
        return b.intrinsic(f"llvm.{sat}.sat.{suffix(dt)}.{suffix(st)}", dt, (st, x))
    if dst.is_float:
        return b(f"{'uitofp' if is_unsigned(src) else 'sitofp'} {st} {x} to {dt}")
    if dst.itemsize == src.itemsize and not src.is_bool:
        return x  # int8 <-> uint8: same bits
    if dst.itemsize < src.itemsize:
        return b(f"trunc {st} {x} to {dt}")
    return b(f"{'zext' if is_unsigned(src) else 'sext'} {st} {x} to {dt}")


def bitcast(b: _Body, x: str, src: DType, dst: DType, count: int) -> str:
    st, dt = ltype(src.vec(count)), ltype(dst.vec(count))
    return x if st == dt else b(f"bitcast {st} {x} to {dt}")


# ALU ops: (body, operand strings, operand dtype (scalar), register type of operands) -> value ----
def _max(b: _Body, s: list[str], dt: DType, ty: str) -> str:
    if dt.is_float:  # (a > b || a != a) ? a : b
        bt = vector_of(ty, "i1")
        gt, nan = b(f"fcmp ogt {ty} {s[0]}, {s[1]}"), b(f"fcmp uno {ty} {s[0]}, {s[0]}")
        return b(f"select {bt} {b(f'or {bt} {gt}, {nan}')}, {ty} {s[0]}, {ty} {s[1]}")
    gt = b(f"icmp {'ugt' if is_unsigned(dt) else 'sgt'} {ty} {s[0]}, {s[1]}")
    return b(f"select {vector_of(ty, 'i1')} {gt}, {ty} {s[0]}, {ty} {s[1]}")


def _divmod(is_mod: bool) -> Callable[[_Body, list[str], DType, str], str]:
    def f(b: _Body, s: list[str], dt: DType, ty: str) -> str:
        bt = vector_of(ty, "i1")
        if dt.is_float:
            return b(f"{'frem' if is_mod else 'fdiv'} {ty} {s[0]}, {s[1]}")
        zero = b(f"icmp eq {ty} {s[1]}, zeroinitializer")
        if is_unsigned(dt):  # b == 0 -> 0
            safe = b(f"select {bt} {zero}, {ty} {const(1, ty)}, {ty} {s[1]}")
            q = b(f"{'urem' if is_mod else 'udiv'} {ty} {s[0]}, {safe}")
            return b(f"select {bt} {zero}, {ty} zeroinitializer, {ty} {q}")
        # b == 0 -> 0; b == -1 -> -a (wraps at INT_MIN) for IDIV, 0 for MOD
        m1 = b(f"icmp eq {ty} {s[1]}, {const(-1, ty)}")
        bad = b(f"or {bt} {zero}, {m1}")
        safe = b(f"select {bt} {bad}, {ty} {const(1, ty)}, {ty} {s[1]}")
        q = b(f"{'srem' if is_mod else 'sdiv'} {ty} {s[0]}, {safe}")
        if is_mod:
            return b(f"select {bt} {bad}, {ty} zeroinitializer, {ty} {q}")
        neg = b(f"sub {ty} zeroinitializer, {s[0]}")
        q = b(f"select {bt} {m1}, {ty} {neg}, {ty} {q}")
        return b(f"select {bt} {zero}, {ty} zeroinitializer, {ty} {q}")
    return f


def _shift(left: bool) -> Callable[[_Body, list[str], DType, str], str]:
    def f(b: _Body, s: list[str], dt: DType, ty: str) -> str:
        op = "shl" if left else "lshr" if is_unsigned(dt) else "ashr"
        if dt.itemsize >= 4:
            return b(f"freeze {ty} {b(f'{op} {ty} {s[0]}, {s[1]}')}")  # C: UB past the width; no poison here
        wide = vector_of(ty, "i32")  # C's integer promotion: shift in int, then truncate
        ext = "zext" if is_unsigned(dt) else "sext"
        a, n = b(f"{ext} {ty} {s[0]} to {wide}"), b(f"{ext} {ty} {s[1]} to {wide}")
        r = b(f"freeze {wide} {b(f'{op} {wide} {a}, {n}')}")
        return b(f"trunc {wide} {r} to {ty}")
    return f


def _transcendental(name: str) -> Callable[[_Body, list[str], DType, str], str]:
    def f(b: _Body, s: list[str], dt: DType, ty: str) -> str:
        if dt.name == "float32":
            return b.helper(name, ty, s[0])
        if dt.name == "float64":
            return b.intrinsic(f"llvm.{name}.{suffix(ty)}", ty, (ty, s[0]))
        f32 = vector_of(ty, "float")  # float16: in float32, like the rest of half math
        r = b.helper(name, f32, b(f"fpext {ty} {s[0]} to {f32}"))
        return b(f"fptrunc {f32} {r} to {ty}")
    return f


def _arith(fop: str, iop: str, bop: str) -> Callable[[_Body, list[str], DType, str], str]:
    def f(b: _Body, s: list[str], dt: DType, ty: str) -> str:
        op = fop if dt.is_float else bop if dt.is_bool else iop
        return b(f"{op} {ty} {s[0]}, {s[1]}")
    return f


def _cmp(fpred: str, spred: str, upred: str) -> Callable[[_Body, list[str], DType, str], str]:
    def f(b: _Body, s: list[str], dt: DType, ty: str) -> str:
        if dt.is_float:
            return b(f"fcmp {fpred} {ty} {s[0]}, {s[1]}")
        return b(f"icmp {upred if is_unsigned(dt) else spred} {ty} {s[0]}, {s[1]}")
    return f


ALU: dict[Ops, Callable[[_Body, list[str], DType, str], str]] = {
    Ops.ADD: _arith("fadd contract", "add", "or"),
    Ops.MUL: _arith("fmul contract", "mul", "and"),
    Ops.AND: _arith("and", "and", "and"),
    Ops.OR: _arith("or", "or", "or"),
    Ops.XOR: _arith("xor", "xor", "xor"),
    Ops.NEG: lambda b, s, dt, ty: b(f"fneg {ty} {s[0]}" if dt.is_float else
                                    f"xor {ty} {s[0]}, {const(1, ty)}" if dt.is_bool else
                                    f"sub {ty} zeroinitializer, {s[0]}"),
    Ops.MAX: _max,
    Ops.IDIV: _divmod(is_mod=False),
    Ops.MOD: _divmod(is_mod=True),
    Ops.CMPLT: _cmp("olt", "slt", "ult"),
    Ops.CMPNE: _cmp("une", "ne", "ne"),  # une: NaN != x is true, as in C
    Ops.SHL: _shift(left=True),
    Ops.SHR: _shift(left=False),
    Ops.WHERE: lambda b, s, dt, ty: b(f"select {vector_of(ty, 'i1')} {s[0]}, {ty} {s[1]}, {ty} {s[2]}"),
    Ops.EXP2: _transcendental("exp2"),
    Ops.LOG2: _transcendental("log2"),
    Ops.SIN: _transcendental("sin"),
    Ops.SQRT: lambda b, s, dt, ty: b.intrinsic(f"llvm.sqrt.{suffix(ty)}", ty, (ty, s[0])),
    Ops.RECIPROCAL: lambda b, s, dt, ty: b(f"fdiv {ty} {const(1.0, ty)}, {s[0]}"),
}


class LLVMRenderer:
    """Renders linear programs as LLVM IR text. Subclass and change the tables for a variant."""

    device_flags: tuple[str, ...] = ()

    def render(self, name: str, prog: list[UOp]) -> str:
        b = _Body()
        names: dict[UOp, str] = {}
        params: list[str] = []
        allocas: list[str] = []
        block = "entry"  # the block instructions are being appended to (a loop's latch at ENDRANGE)
        loops: dict[UOp, tuple[str, str, int]] = {}  # RANGE -> (header label, exit label, phi line)

        def r(u: UOp, count: int = 1) -> str:
            """The operand for u, splat to count lanes when u is a scalar used in a vector op."""
            if u.op is Ops.CONST:
                v = const(bf16_bits(float(u.arg)) if u.dtype.name == "bfloat16" else u.arg, ltype(u.dtype))
            elif u.op is Ops.DEFINE_ACC:
                v = b(f"load {ltype(u.dtype)}, ptr {names[u]}")
            else:
                v = names[u]
            if count > 1 and u.dtype.count == 1:
                return splat(v, u.dtype.vec(count))
            return v

        def splat(v: str, dt: DType) -> str:
            ty, el = ltype(dt), ltype(dt.scalar)
            one = b(f"insertelement <1 x {el}> poison, {el} {v}, i64 0")
            return b(f"shufflevector <1 x {el}> {one}, <1 x {el}> poison, <{dt.count} x i32> zeroinitializer") \
                if ty.startswith("<") else v

        def address(u: UOp) -> tuple[str, str | None]:
            """Pointer for LOAD/STORE u and its mask (index 0 when the mask is off)."""
            buf, idx = u.src[0], r(u.src[1])
            valid = r(u.src[3 if u.op is Ops.STORE else 2]) if len(u.src) == (4 if u.op is Ops.STORE else 3) else None
            if valid is not None and u.op is Ops.LOAD and u.src[2].dtype.count == 1:
                idx = b(f"select i1 {valid}, i64 {idx}, i64 0")
            el = ltype(buf.dtype.scalar, memory=True)
            return b(f"getelementptr inbounds {el}, ptr {names[buf]}, i64 {idx}"), valid

        packed = packs_args(sum(1 for u in prog if u.op is Ops.DEFINE_GLOBAL))
        if packed:
            params.append("ptr noalias %bufs")
        for u in prog:
            op = u.op
            if op is Ops.DEFINE_GLOBAL:
                names[u] = f"%data{u.arg}"
                if packed:
                    slot = b(f"getelementptr inbounds ptr, ptr %bufs, i64 {u.arg}")
                    names[u] = b(f"load ptr, ptr {slot}")
                else:
                    params.append(f"ptr noalias %data{u.arg}")
            elif op is Ops.DEFINE_VAR:
                names[u] = f"%{u.arg[0]}"
                params.append(f"i64 %{u.arg[0]}")
            elif op is Ops.CONST:
                continue
            elif op is Ops.RANGE:
                hdr, body, ex = b.label("loop"), b.label("body"), b.label("exit")
                names[u] = f"%ridx{b.n}"
                start, end = r(u.src[0]), r(u.src[1])
                b.lines += [f"  br label %{hdr}", f"{hdr}:"]
                loops[u] = (hdr, ex, len(b.lines))
                b.lines += [f"  {names[u]} = phi i64 [{start}, %{block}], [{names[u]}.next, %{{latch}}]",
                            f"  {names[u]}.go = icmp slt i64 {names[u]}, {end}",
                            f"  br i1 {names[u]}.go, label %{body}, label %{ex}", f"{body}:"]
                block = body
            elif op is Ops.ENDRANGE:
                rng = u.src[0]
                hdr, ex, phi = loops[rng]
                b.lines[phi] = b.lines[phi].replace("{latch}", block)
                b.lines += [f"  {names[rng]}.next = add nsw i64 {names[rng]}, 1", f"  br label %{hdr}", f"{ex}:"]
                block = ex
            elif op is Ops.DEFINE_LOCAL:  # (at the entry: an alloca inside a loop would grow the stack per step)
                names[u] = f"%local{u.arg[0]}"
                allocas.append(f"  %local{u.arg[0]} = alloca [{u.arg[1]} x {ltype(u.dtype, memory=True)}], align 64")
            elif op is Ops.DEFINE_ACC:
                names[u] = f"%acc{u.arg}"
                allocas.append(f"  %acc{u.arg} = alloca {ltype(u.dtype)}")
                b.lines.append(f"  store {ltype(u.dtype)} {r(u.src[0], u.dtype.count)}, ptr %acc{u.arg}")
            elif op is Ops.ASSIGN:
                acc = u.src[0]
                b.lines.append(f"  store {ltype(acc.dtype)} {r(u.src[1], acc.dtype.count)}, ptr {names[acc]}")
            elif op is Ops.LOAD and len(u.src) == 3 and u.src[2].dtype.count > 1:  # lanes masked one by one
                ptr, valid = address(u)
                ty = ltype(u.dtype)
                mload = f"llvm.masked.load.{suffix(ty)}.p0"
                b.decls.setdefault(mload, f"declare {ty} @{mload}(ptr, i32, {ltype(u.src[2].dtype)}, {ty})")
                names[u] = b(f"call {ty} @{mload}(ptr {ptr}, i32 {u.dtype.itemsize}, {ltype(u.src[2].dtype)} {valid}, "
                             f"{ty} zeroinitializer)")
            elif op is Ops.LOAD and u.dtype == dtypes.void:  # a prefetch (for a write) of the element's cache line
                ptr, _ = address(u)
                b.decls.setdefault("llvm.prefetch.p0", "declare void @llvm.prefetch.p0(ptr, i32, i32, i32)")
                b.lines.append(f"  call void @llvm.prefetch.p0(ptr {ptr}, i32 1, i32 3, i32 1)")
            elif op is Ops.LOAD:
                ptr, valid = address(u)
                mty = ltype(u.dtype, memory=True)
                v = b(f"load {mty}, ptr {ptr}, align {u.dtype.itemsize}")
                if u.dtype.is_bool:
                    v = b(f"icmp ne {mty} {v}, zeroinitializer")
                if valid is not None:
                    v = b(f"select i1 {valid}, {ltype(u.dtype)} {v}, {ltype(u.dtype)} zeroinitializer")
                names[u] = v
            elif op is Ops.STORE:
                val = u.src[2]
                v = r(val)
                if val.dtype.is_bool:
                    v = b(f"zext {ltype(val.dtype)} {v} to {ltype(val.dtype, memory=True)}")
                ptr, valid = address(u)
                store = f"  store {ltype(val.dtype, memory=True)} {v}, ptr {ptr}, align {val.dtype.itemsize}"
                if valid is None:
                    b.lines.append(store)
                else:
                    yes, cont = b.label("store"), b.label("stored")
                    b.lines += [f"  br i1 {valid}, label %{yes}, label %{cont}", f"{yes}:", store,
                                f"  br label %{cont}", f"{cont}:"]
                    block = cont
            elif op is Ops.VECTORIZE:
                ty, el = ltype(u.dtype), ltype(u.dtype.scalar)
                if all(s is u.src[0] for s in u.src):
                    names[u] = splat(r(u.src[0]), u.dtype)
                elif all(s.op is Ops.CONST for s in u.src):
                    names[u] = "<" + ", ".join(f"{el} {r(s)}" for s in u.src) + ">"
                else:
                    v = "poison"
                    for i, s in enumerate(u.src):
                        v = b(f"insertelement {ty} {v}, {el} {r(s)}, i64 {i}")
                    names[u] = v
            elif op is Ops.GEP:
                names[u] = b(f"extractelement {ltype(u.src[0].dtype)} {r(u.src[0])}, i64 {u.arg}")
            elif op is Ops.CAST or op is Ops.BITCAST:
                src = u.src[0]
                fn = cast if op is Ops.CAST else bitcast
                names[u] = fn(b, r(src, u.dtype.count), src.dtype.scalar, u.dtype.scalar, u.dtype.count)
            elif op in ALU:
                n = u.dtype.count
                srcs = [r(s, n) for s in u.src]
                operand = u.src[1] if op is Ops.WHERE else u.src[0]
                dt = operand.dtype.scalar
                if dt.name == "bfloat16":
                    raise NotImplementedError(f"LLVM renderer: {op.name} on bfloat16 (lower computes it in float32)")
                if op in (Ops.SHL, Ops.SHR) and u.src[1].dtype.scalar != dt:
                    srcs[1] = cast(b, srcs[1], u.src[1].dtype.scalar, dt, n)
                names[u] = ALU[op](b, srcs, dt, ltype(dt.vec(n)))
            else:
                raise NotImplementedError(f"LLVM renderer: cannot render {op.name}")
        head = "\n".join([*b.decls.values(), *b.helpers.values()])
        body = "\n".join(["entry:", *allocas, *b.lines, "  ret void"])
        return (f"{head}\n\ndefine void @{name}({', '.join(params)}) #0 {{\n{body}\n}}\n\n"
                'attributes #0 = { nounwind "no-trapping-math"="true" }\n'
                "attributes #1 = { alwaysinline nounwind }\n"
                '!0 = !{!"branch_weights", i32 1, i32 1048576}  ; a branch that (almost) never goes\n')
