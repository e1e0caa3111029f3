"""The INTERP device: a numpy reference that needs no compiler.

Takes: a kernel AST.
Produces: a Runner that evaluates the AST with whole-array numpy operations — views become
index arrays (or strided views), REDUCE_AXIS becomes np.sum/np.max/np.prod. It shares no
code with codegen, which makes it the tests' oracle and a debugging switch (DEVICE=INTERP
reroutes every kernel through Python).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dtype import DType, dtypes
from ..ops.uop import Ops, UOp, toposort
from ..ops.view import ViewStack
from .device import BaseDevice, Runner


def _index_arrays(vs: ViewStack) -> tuple[np.ndarray, np.ndarray | None]:
    """Flat buffer index and validity for every element of the view's shape."""
    return vs.index_arrays()


def _np_dtype(dt: DType) -> np.dtype:
    return np.dtype(np.float32) if dt.scalar in (dtypes.float16, dtypes.bfloat16) else dt.np


def _from_mem(arr: np.ndarray, dt: DType) -> np.ndarray:
    if dt == dtypes.bfloat16:
        return (arr.astype(np.uint32) << 16).view(np.float32)
    if dt == dtypes.float16:
        return arr.astype(np.float32)
    return arr


def _to_mem(arr: np.ndarray, dt: DType) -> np.ndarray:
    if dt == dtypes.bfloat16:
        a = np.asarray(arr, np.float32)
        bits = a.view(np.uint32)
        r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        return np.where(np.isnan(a), ((bits >> 16) | 0x40).astype(np.uint16), r)
    if dt == dtypes.float16:
        with np.errstate(over="ignore"):
            return np.asarray(arr).astype(np.float16)
    return _cast(arr, dt)


def _cast(a: np.ndarray, dt: DType) -> np.ndarray:
    a = np.asarray(a)
    if dt.is_bool:
        return a != 0
    if dt.is_int and a.dtype.kind == "f":  # saturate like the C and LLVM casts; NaN -> 0
        info = np.iinfo(dt.np)
        with np.errstate(invalid="ignore"):
            hi, lo = a >= float(info.max), a <= float(info.min)  # float(max) rounds up for 32/64 bits
            res = np.where(hi | lo | np.isnan(a), 0, a).astype(dt.np)
        return np.where(hi, info.max, np.where(lo, info.min, res)).astype(dt.np)
    with np.errstate(over="ignore", invalid="ignore"):
        return a.astype(_np_dtype(dt))


def _idiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        safe = np.where(b == 0, 1, b)
        q = np.where(b == -1, -a, np.trunc(a / safe) if a.dtype.kind == "f" else _trunc_div(a, safe))
        return np.where(b == 0, 0, q).astype(a.dtype)


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q = a // b
    return q + ((a % b != 0) & ((a < 0) != (b < 0)))


def _mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where((b == 0) | (b == -1), 1, b)
        return np.where((b == 0) | (b == -1), 0, np.fmod(a, safe)).astype(a.dtype)


def _alu(op: Ops, dt: DType, s: list[np.ndarray], out_dt: DType) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op is Ops.ADD:
            return s[0] | s[1] if dt.is_bool else s[0] + s[1]
        if op is Ops.MUL:
            return s[0] & s[1] if dt.is_bool else s[0] * s[1]
        if op is Ops.NEG:
            return ~s[0] if dt.is_bool else -s[0]
        if op is Ops.MAX:
            return np.maximum(s[0], s[1])
        if op is Ops.MOD:
            return _mod(s[0], s[1])
        if op is Ops.IDIV:
            return _idiv(s[0], s[1])
        if op is Ops.CMPLT:
            return s[0] < s[1]
        if op is Ops.CMPNE:
            return s[0] != s[1]
        if op is Ops.AND:
            return s[0] & s[1]
        if op is Ops.OR:
            return s[0] | s[1]
        if op is Ops.XOR:
            return s[0] ^ s[1]
        if op is Ops.SHL:
            return np.left_shift(s[0], s[1])
        if op is Ops.SHR:
            return np.right_shift(s[0], s[1])
        if op is Ops.WHERE:
            return np.where(s[0], s[1], s[2])
        if op is Ops.EXP2:
            return np.exp2(s[0])
        if op is Ops.LOG2:
            return np.log2(s[0])
        if op is Ops.SIN:
            return np.sin(s[0])
        if op is Ops.SQRT:
            return np.sqrt(s[0])
        if op is Ops.RECIPROCAL:
            return np.reciprocal(s[0])
        if op is Ops.CAST:
            if out_dt.scalar in (dtypes.float16, dtypes.bfloat16):  # computed in float32, rounded like a store
                return _from_mem(_to_mem(np.asarray(s[0], np.float32), out_dt.scalar), out_dt.scalar)
            return _cast(s[0], out_dt)
        if op is Ops.BITCAST:
            # (ascontiguousarray makes a 0-d value 1-d: the shape is put back)
            return np.ascontiguousarray(s[0]).view(out_dt.np).reshape(np.shape(s[0]))
    raise NotImplementedError(f"INTERP: {op}")


def evaluate(ast: UOp, mems: list[np.ndarray]) -> None:
    """Run a kernel AST on flat numpy arrays (mems[i] is DEFINE_GLOBAL i)."""
    vals: dict[UOp, np.ndarray] = {}
    for u in toposort([ast]):
        if u.op in (Ops.SINK, Ops.VIEW, Ops.DEFINE_GLOBAL):
            continue
        if u.op is Ops.LOAD:
            mem = mems[u.src[0].arg]
            vs: ViewStack = u.src[1].arg
            if len(vs.views) == 1 and vs.view.mask is None and vs.size:
                v = vs.view
                arr = np.lib.stride_tricks.as_strided(mem[v.offset:] if v.offset >= 0 else mem, shape=v.shape,
                                                      strides=tuple(st * mem.itemsize for st in v.strides))
                if v.offset < 0 or any(st < 0 for st in v.strides):
                    idx, _ = _index_arrays(vs)
                    arr = mem[idx]
            else:
                idx, valid = _index_arrays(vs)
                if valid is None:
                    arr = mem[idx] if vs.size else np.zeros(vs.shape, mem.dtype)
                else:
                    arr = np.where(valid, mem[np.where(valid, idx, 0)] if mem.size else 0, 0).astype(mem.dtype)
            vals[u] = _from_mem(np.asarray(arr), u.dtype)
        elif u.op is Ops.CONST:
            dt = _np_dtype(u.dtype)
            if u.src:
                vs = u.src[0].arg
                arr = np.full(vs.shape, u.arg, dtype=dt)
                if vs.view.mask is not None or len(vs.views) > 1:
                    _, valid = _index_arrays(vs)
                    if valid is not None:
                        arr = np.where(valid, arr, np.zeros((), dt))
                vals[u] = arr
            else:
                vals[u] = np.array(u.arg, dtype=dt)
        elif u.op is Ops.REDUCE_AXIS:
            op, axes = u.arg
            x = vals[u.src[0]]
            with np.errstate(all="ignore"):
                if op is Ops.ADD:
                    r = np.sum(x, axis=axes, keepdims=True, dtype=x.dtype)
                elif op is Ops.MUL:
                    r = np.prod(x, axis=axes, keepdims=True, dtype=x.dtype)
                else:
                    r = np.max(x, axis=axes, keepdims=True) if x.size else np.full(u.shape, u.dtype.min, x.dtype)
            vals[u] = r
        elif u.op is Ops.STORE:
            mem = mems[u.src[0].arg]
            vs = u.src[1].arg
            val = np.broadcast_to(_to_mem(vals[u.src[2]], u.src[0].dtype.scalar), vs.shape)
            if vs.size == 0:
                continue
            idx, valid = _index_arrays(vs)
            if valid is not None:
                idx, val = idx[valid], val[valid]
            mem[idx.reshape(-1)] = np.asarray(val).reshape(-1)
        elif u.op is Ops.EXPAND:  # a row kernel's per-row value over the row: numpy broadcasts it
            vals[u] = vals[u.src[0]]
        else:
            operand_dt = u.src[-1].dtype if u.op is not Ops.WHERE else u.src[1].dtype
            out = _alu(u.op, operand_dt, [vals[s] for s in u.src], u.dtype)
            vals[u] = np.asarray(out, dtype=_np_dtype(u.dtype) if u.op is not Ops.BITCAST else out.dtype)


class InterpDevice(BaseDevice):
    name = "INTERP"

    def build_runner(self, ast: UOp) -> Runner:
        from ..codegen.kernel import analyze

        k = analyze(ast)

        def run(*ptrs: Any) -> None:
            raise RuntimeError("INTERP runners take buffers, not pointers")

        r = _InterpRunner(self.unique_name("I_" + "_".join(map(str, k.shape or (1,)))), run, 1, 1, k.flops)
        r.ast, r.traffic = ast, k.traffic
        return r


class _InterpRunner(Runner):
    ast: UOp

    def __call__(self, bufs: list[Any]) -> None:
        evaluate(self.ast, [b.numpy() for b in bufs])
