"""Checkpoints in the safetensors format, read and written here without pickle and without the
`safetensors` package.

Takes: a state_dict (name -> Tensor or numpy array) and a path; or a path to a .safetensors file.
Produces: the file; or `dict[str, Tensor]` (and its `__metadata__` via `safe_load_metadata`).

Format (https://huggingface.co/docs/safetensors): 8 bytes little-endian u64 N, then N bytes of a
UTF-8 JSON object {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
optionally "__metadata__": {str: str}}, padded with spaces; then the data section: each tensor's
raw little-endian bytes, C order, at [begin, end) relative to the start of the data section.

The reader trusts nothing: file size, header length (< 100 MB), UTF-8 and JSON well-formedness,
duplicate keys, every field's type, known dtypes, shape entries, size == prod(shape) * itemsize,
offsets inside the data section, no overlaps and no holes (the spec forbids unused bytes, so a
file can't smuggle other content), bool bytes in {0, 1}. Any violation raises ValueError naming
the file and the problem. Nothing in a file is ever executed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..dtype import DType, dtypes
from ..helpers import atomic_write
from ..tensor import Tensor

__all__ = ["safe_save", "safe_load", "safe_load_metadata", "save", "load", "get_state_dict", "load_state_dict"]

MAX_HEADER = 100_000_000  # bytes; as the reference implementation
# safetensors dtype name -> (our dtype, little-endian numpy dtype of the stored bytes)
_DTYPES: dict[str, tuple[DType, np.dtype]] = {
    "F64": (dtypes.float64, np.dtype("<f8")),
    "F32": (dtypes.float32, np.dtype("<f4")),
    "F16": (dtypes.float16, np.dtype("<f2")),
    "BF16": (dtypes.bfloat16, np.dtype("<u2")),  # the upper 16 bits of a float32
    "I64": (dtypes.int64, np.dtype("<i8")),
    "I32": (dtypes.int32, np.dtype("<i4")),
    "I8": (dtypes.int8, np.dtype("i1")),
    "U8": (dtypes.uint8, np.dtype("u1")),
    "BOOL": (dtypes.bool, np.dtype("u1")),
}
_NAME_OF = {dt.name: name for name, (dt, _) in _DTYPES.items()}
_OTHER_KNOWN = ("I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64")


def _bytes_of(name: str, value: Any) -> tuple[str, tuple[int, ...], bytes]:
    """(safetensors dtype, shape, raw little-endian bytes) of a Tensor or numpy array."""
    if isinstance(value, Tensor):
        dt = value.dtype
        arr = np.asarray(value.numpy())
        if dt == dtypes.bfloat16:  # numpy() widens bfloat16 to float32 exactly: keep the upper half
            arr = (np.asarray(arr, dtype=np.float32, order="C").view(np.uint32) >> 16).astype(np.uint16)
    elif isinstance(value, np.ndarray):
        arr = value
        if arr.dtype.kind not in "biuf" or arr.dtype.name not in _NAME_OF:
            raise TypeError(f"safe_save: tensor {name!r} has numpy dtype {arr.dtype}, which has no safetensors "
                            f"dtype here (supported: {', '.join(sorted(_NAME_OF))})")
        dt = next(d for n, (d, _) in _DTYPES.items() if d.name == arr.dtype.name)
    else:
        raise TypeError(f"safe_save: value of {name!r} must be a Tensor or numpy array, got {type(value).__name__}")
    st = _NAME_OF.get(dt.name)
    if st is None:
        raise TypeError(f"safe_save: tensor {name!r} has dtype {dt!r}, which safetensors can't store")
    raw = np.asarray(arr, order="C").astype(_DTYPES[st][1], copy=False)
    return st, tuple(int(s) for s in arr.shape), raw.tobytes()


def safe_save(state_dict: Mapping[str, Any], path: str | os.PathLike[str],
              metadata: Mapping[str, str] | None = None) -> None:
    """Write name -> Tensor/ndarray to `path` as safetensors (atomically: a reader never sees half a file)."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"safe_save: expected a mapping of name -> tensor, got {type(state_dict).__name__}")
    if metadata is not None and (not isinstance(metadata, Mapping) or
                                 not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError("safe_save: metadata must be a dict of str -> str")
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks: list[bytes] = []
    offset = 0
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"safe_save: keys must be strings, got {type(name).__name__} {name!r}")
        if name == "__metadata__":
            raise ValueError("safe_save: '__metadata__' is reserved by the format; pass metadata=... instead")
        st, shape, raw = _bytes_of(name, value)
        header[name] = {"dtype": st, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    hbytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)  # pad so the data section starts 8-byte aligned
    atomic_write(path, [len(hbytes).to_bytes(8, "little"), hbytes, *chunks])


class _Entry:
    __slots__ = ("name", "st", "shape", "begin", "end")

    def __init__(self, name: str, st: str, shape: tuple[int, ...], begin: int, end: int):
        self.name, self.st, self.shape, self.begin, self.end = name, st, shape, begin, end


def _no_dup_pairs(path: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise ValueError(f"{path}: invalid safetensors file: duplicate key {k!r} in the header")
            out[k] = v
        return out
    return hook


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _read_header(path: str, f: Any, file_size: int) -> tuple[list[_Entry], dict[str, str], int]:
    """Parse and validate the header; returns (entries in offset order, metadata, start of the data section)."""
    def bad(msg: str) -> ValueError:
        return ValueError(f"{path}: invalid safetensors file: {msg}")

    if file_size < 8:
        raise bad(f"the file has {file_size} bytes, too short for the 8-byte header length")
    n = int.from_bytes(f.read(8), "little")
    if n > MAX_HEADER:
        raise bad(f"header length {n} exceeds the limit of {MAX_HEADER} bytes")
    if n < 2:
        raise bad(f"header length {n} is too small for a JSON object")
    if 8 + n > file_size:
        raise bad(f"header length {n} runs past the end of the file ({file_size} bytes): the file is truncated")
    raw = f.read(n)
    if len(raw) != n:
        raise bad("the file is truncated inside the header")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"the header is not valid UTF-8 ({e})") from None
    if not text.startswith("{"):
        raise bad("the header does not start with '{'")
    try:
        header = json.loads(text, object_pairs_hook=_no_dup_pairs(path))
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise bad(f"the header is not valid JSON ({e})") from None
    except RecursionError:
        raise bad("the header's JSON is nested too deeply") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("'__metadata__' must be an object of string -> string")
    data_start = 8 + n
    data_size = file_size - data_start
    entries: list[_Entry] = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise bad(f"tensor {name!r}: its entry must be an object, got {type(info).__name__}")
        missing = [k for k in ("dtype", "shape", "data_offsets") if k not in info]
        if missing:
            raise bad(f"tensor {name!r}: missing field(s) {', '.join(missing)}")
        st, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(st, str):
            raise bad(f"tensor {name!r}: dtype must be a string, got {st!r}")
        if st not in _DTYPES:
            if st in _OTHER_KNOWN:
                raise bad(f"tensor {name!r}: dtype {st} is valid safetensors but not supported by tinytorch "
                          f"(supported: {', '.join(_DTYPES)})")
            raise bad(f"tensor {name!r}: unknown dtype {st!r} (supported: {', '.join(_DTYPES)})")
        if not isinstance(shape, list) or not all(_is_int(s) and 0 <= s < 2**62 for s in shape):
            raise bad(f"tensor {name!r}: shape must be a list of non-negative integers, got {shape!r}")
        if len(shape) > 64:
            raise bad(f"tensor {name!r}: shape has {len(shape)} dims (at most 64 are supported)")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_is_int(o) for o in offs)):
            raise bad(f"tensor {name!r}: data_offsets must be a list of two integers, got {offs!r}")
        begin, end = offs
        if not 0 <= begin <= end:
            raise bad(f"tensor {name!r}: data_offsets {offs} are not 0 <= begin <= end")
        if end > data_size:
            raise bad(f"tensor {name!r}: data_offsets {offs} run past the end of the data section "
                      f"({data_size} bytes; the file may be truncated)")
        numel = 1
        for s in shape:
            numel *= s
        expected = numel * _DTYPES[st][1].itemsize
        if end - begin != expected:
            raise bad(f"tensor {name!r}: {end - begin} bytes at data_offsets {offs}, but shape {shape} of {st} "
                      f"needs {expected}")
        entries.append(_Entry(name, st, tuple(shape), begin, end))
    pos = 0
    for ent in sorted(entries, key=lambda x: (x.begin, x.end)):
        if ent.begin < pos:
            raise bad(f"tensor {ent.name!r}: data_offsets [{ent.begin}, {ent.end}] overlap another tensor's bytes "
                      f"(which end at {pos})")
        if ent.begin > pos:
            raise bad(f"bytes [{pos}, {ent.begin}) of the data section belong to no tensor (the format forbids holes)")
        pos = ent.end
    if pos != data_size:
        raise bad(f"the data section has {data_size} bytes but the tensors use {pos} (trailing bytes belong "
                  "to no tensor)")
    return entries, metadata, data_start


def _open_checked(path: str | os.PathLike[str]) -> tuple[str, Any, int]:
    p = os.fspath(path)
    try:
        f = open(p, "rb")  # noqa: SIM115 (closed by the caller)
    except OSError as e:
        raise FileNotFoundError(f"safe_load: cannot open {p}: {e.strerror}") from None
    return p, f, os.fstat(f.fileno()).st_size


def safe_load_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The `__metadata__` of a safetensors file (after validating the whole header)."""
    p, f, size = _open_checked(path)
    with f:
        return _read_header(p, f, size)[1]


def safe_load(path: str | os.PathLike[str], device: str | None = None) -> dict[str, Tensor]:
    """name -> Tensor from a safetensors file, in the header's order; raises ValueError on any malformed input."""
    p, f, size = _open_checked(path)
    out: dict[str, Tensor] = {}
    with f:
        entries, _, data_start = _read_header(p, f, size)
        for e in sorted(entries, key=lambda e: e.begin):
            f.seek(data_start + e.begin)
            raw = f.read(e.end - e.begin)
            if len(raw) != e.end - e.begin:
                raise ValueError(f"{p}: invalid safetensors file: tensor {e.name!r} is truncated (the file changed "
                                 "while it was read?)")
            dt, npdt = _DTYPES[e.st]
            arr = np.frombuffer(raw, dtype=npdt).reshape(e.shape)
            if e.st == "BOOL":
                if arr.size and arr.max() > 1:
                    raise ValueError(f"{p}: invalid safetensors file: tensor {e.name!r} of dtype BOOL holds bytes "
                                     "other than 0 and 1")
                arr = arr.astype(np.bool_)
            elif e.st == "BF16":
                arr = (arr.astype(np.uint32) << 16).view(np.float32)  # exact; Tensor() rounds back to itself
            else:
                arr = arr.astype(npdt.newbyteorder("="), copy=False)
            out[e.name] = Tensor(arr, dtype=dt, device=device)
    return {e.name: out[e.name] for e in entries}


# conveniences --------------------------------------------------------------------------------------------
def get_state_dict(obj: Any) -> dict[str, Tensor]:
    """A Module's state_dict, or a mapping of tensors as is."""
    from .module import Module

    if isinstance(obj, Module):
        return dict(obj.state_dict())
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"expected a Module or a mapping of name -> Tensor, got {type(obj).__name__}")


def load_state_dict(model: Any, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
    """model.load_state_dict(state_dict, strict) (tinygrad's spelling)."""
    return model.load_state_dict(state_dict, strict=strict)


def save(obj: Any, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None) -> None:
    """torch.save's spelling for a state_dict (or a Module's): writes safetensors, never pickle."""
    safe_save(get_state_dict(obj), path, metadata)


def load(path: str | os.PathLike[str], device: str | None = None) -> dict[str, Tensor]:
    """torch.load's spelling: the state_dict in a safetensors file (no pickle, so no code runs)."""
    return safe_load(path, device)
