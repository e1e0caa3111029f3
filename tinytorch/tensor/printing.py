"""Printing tensors the way PyTorch prints them.

Takes: a Tensor (realized here: printing shows values, never the lazy graph; `t.uop` shows that).
Produces: `repr(t)` / `str(t)` text equal to PyTorch's for the same values, with our dtype
spelling (`dtype=tinytorch.float64`): one number format shared by the whole tensor (integers
of a float tensor shown as `1.`, a common width, scientific notation `1.0000e+10` when the
magnitudes span more than 1000x, exceed 1e8 or go below 1e-4), lines wrapped at `linewidth`,
big tensors (more than `threshold` elements) summarised with `...` after `edgeitems` rows,
and the suffixes `device=`, `size=`, `dtype=`, `grad_fn=` / `requires_grad=True`.
`set_printoptions` / `get_printoptions` / `printoptions` change the options, as in PyTorch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dtype import dtypes

if TYPE_CHECKING:
    from .core import Tensor


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print: digits after the point, element count that triggers summarising,
    items kept at each edge when summarising, characters per line, a profile ("default",
    "short", "full") to start from, and scientific notation forced on/off (None: automatic)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected one of {sorted(_PROFILES)}")
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode  # like PyTorch: not passing it means automatic


def get_printoptions() -> dict[str, Any]:
    """The current print options, as keyword arguments for set_printoptions."""
    return asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Context manager: print with these options inside the block, the previous ones after it."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """One number format for every element of a tensor: chosen from the values it will show."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating, self.int_mode, self.sci_mode, self.width = floating, True, False, 1
        p = PRINT_OPTS.precision
        flat = values.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.width = max(self.width, len(str(v)))
            return
        shown = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if shown.size == 0:
            return
        mags = np.abs(shown)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        auto_sci = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        self.sci_mode = auto_sci if PRINT_OPTS.sci_mode is None else PRINT_OPTS.sci_mode
        for v in shown.tolist():
            if self.sci_mode:
                n = len(f"{v:.{p}e}")
            elif self.int_mode:
                n = len(f"{v:.0f}") + 1  # the trailing "." that marks a float
            else:
                n = len(f"{v:.{p}f}")
            self.width = max(self.width, n)

    def format(self, v: Any) -> str:
        """One element, right-aligned to the common width."""
        p = PRINT_OPTS.precision
        if not self.floating:
            s = str(v)
        elif self.sci_mode:
            s = f"{v:{self.width}.{p}e}"
        elif self.int_mode:
            s = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = f"{v:.{p}f}"
        return " " * (self.width - len(s)) + s


def _summarized(a: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows: `edgeitems` at each end of every long dim."""
    e = PRINT_OPTS.edgeitems
    if a.ndim == 1:
        return np.concatenate([a[:e], a[-e:] if e else a]) if a.shape[0] > 2 * e else a
    if a.ndim >= 2 and not e:
        return a[tuple(slice(0, 0) for _ in a.shape)]
    for ax, n in enumerate(a.shape):
        if n > 2 * e:
            a = np.take(a, list(range(e)) + list(range(n - e, n)), axis=ax)
    return a


def _body(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    """The bracketed values of array a (one level of nesting per dim; the recursion depth is a.ndim)."""
    e = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2)))
        if summarize and not e:
            items = ["..."]
        elif summarize and a.shape[0] > 2 * e:
            items = [fmt.format(v) for v in a[:e].tolist()] + [" ..."] + [fmt.format(v) for v in a[-e:].tolist()]
        else:
            items = [fmt.format(v) for v in a.tolist()]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = a.shape[0]
    if summarize and n > 2 * e:
        rows = [_body(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."] + \
               [_body(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)]
    else:
        rows = [_body(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Append `, suffix` items, starting a new line when one would pass `linewidth`."""
    out = [text]
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTS.linewidth:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    return "".join(out) + ")"


def _grad_fn_name(t: Tensor) -> str | None:
    fn = getattr(t, "grad_fn", None)
    if fn is None:
        return None
    name = getattr(fn, "name", None)
    return str(name() if callable(name) else name) if name is not None else type(fn).__name__


def tensor_repr(t: Tensor) -> str:
    """PyTorch's text for tensor t: `tensor([...], <suffixes>)`."""
    from .common import _default_device

    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device != _default_device():
        suffixes.append(f"device='{t.device.name}'")
    dt = t.dtype
    if t.numel() == 0:
        body = "[]"
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if dt != dtypes.default_float:
            suffixes.append(f"dtype={dt!r}")
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(t.shape)}")
        if dt not in (dtypes.default_float, dtypes.int64, dtypes.bool):
            suffixes.append(f"dtype={dt!r}")
        a = np.asarray(t.numpy())
        if dt.is_float:
            a = a.astype(np.float32) if dt.itemsize < 4 else a  # half and bfloat16 print through float32
        summarize = a.size > PRINT_OPTS.threshold
        fmt = _Formatter(_summarized(a) if summarize else a, dt.is_float)
        body = _body(a, indent, summarize, fmt)
    name = _grad_fn_name(t)
    if name is not None:
        suffixes.append(f"grad_fn=<{name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)


def tensor_format(t: Tensor, spec: str) -> str:
    """`f"{t:.2f}"`: a 0-d tensor formats as its Python number; any tensor with an empty spec as str(t)."""
    if t.ndim == 0:
        return format(t.item(), spec)
    if spec:
        raise TypeError(f"unsupported format string {spec!r} passed to Tensor.__format__ (only 0-d tensors take one)")
    return tensor_repr(t)
