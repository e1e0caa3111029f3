"""Codegen: kernel AST -> analysis -> optimization choices -> linear program (-> renderers)."""

from __future__ import annotations

from ..ops.uop import UOp
from .kernel import Kernel, analyze
from .lower import lower
from .opt import Opts, choose_opts


def lower_kernel(ast: UOp, opts: Opts | None = None) -> tuple[Kernel, Opts, list[UOp], int]:
    k = analyze(ast)
    o = opts or choose_opts(k)
    prog, outer = lower(k, o)
    return k, o, prog, outer


def kernel_name(k: Kernel, o: Opts) -> str:
    """E_ (elementwise) or R_ (reduce), then the loop sizes; r marks reduce loops, and
    v/u the lanes and unrolled copies of an axis: R_32_1024_r1024 is a 32x1024 output
    reduced over 1024."""
    parts = []
    for a, s in enumerate(k.shape):
        tag = "r" if a >= k.n_global else ""
        sub = ""
        if a == o.vec_axis:
            sub += f"v{o.width}"
        if o.unroll_of(a) > 1:
            sub += f"u{o.unroll_of(a)}"
        parts.append(f"{tag}{s}{sub}")
    return ("R_" if k.reduce is not None else "E_") + ("_".join(parts) or "1")
