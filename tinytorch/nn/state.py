"""Checkpoints in the safetensors format, read and written here without pickle and without the
`safetensors` package.

Takes: a state_dict (name -> Tensor or numpy array) and a path; or a path to a .safetensors file.
Produces: the file; or `dict[str, Tensor]` (and its `__metadata__` via `safe_load_metadata`).

`save(obj, path)` / `load(path)` (torch.save / torch.load's spelling) take any nesting of dicts,
lists and tuples of tensors, numbers, strings, bools and None — a model's and an optimizer's
state_dict, a scheduler's, an epoch counter — and write one safetensors file: every tensor under a
name made from its path ("model.fc1.weight", "optimizer.state.0.exp_avg"; a flat state_dict keeps its
keys, so any safetensors reader sees it), and the structure as JSON in the metadata entry
"tinytorch.structure", where a tensor is {"$tensor": name}, a tuple {"$tuple": [...]}, a dict with
keys other than strings {"$dict": [[key, value], ...]}, a non-finite float {"$float": "inf"}.
A file without that entry (written by another tool) loads as its flat name -> Tensor dict.

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

import io
import json
import math
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


def safe_save(state_dict: Mapping[str, Any], path: str | os.PathLike[str] | io.IOBase,
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
    parts = [len(hbytes).to_bytes(8, "little"), hbytes, *chunks]
    if hasattr(path, "write"):  # a file-like object (io.BytesIO, an open file), as torch.save accepts
        for c in parts:
            path.write(c)  # type: ignore[union-attr]
        return
    atomic_write(path, parts)


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


def _open_checked(path: Any, who: str = "safe_load") -> tuple[str, Any, int]:
    """(name for messages, binary file object, size) of a path or a readable file-like object."""
    if hasattr(path, "read"):
        raw = path.read()
        if not isinstance(raw, bytes):
            raise TypeError(f"{who}: the file object must be opened in binary mode ('rb')")
        return str(getattr(path, "name", "<file object>")), io.BytesIO(raw), len(raw)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: expected a path or a file object, got {type(path).__name__}")
    p = os.fspath(path)
    try:
        f = open(p, "rb")  # noqa: SIM115 (closed by the caller)
    except OSError as e:
        raise FileNotFoundError(f"{who}: cannot open {p}: {e.strerror}") from None
    return p, f, os.fstat(f.fileno()).st_size


def safe_load_metadata(path: str | os.PathLike[str] | io.IOBase) -> dict[str, str]:
    """The `__metadata__` of a safetensors file (after validating the whole header)."""
    p, f, size = _open_checked(path)
    with f:
        return _read_header(p, f, size)[1]


def safe_load(path: str | os.PathLike[str] | io.IOBase, device: str | None = None) -> dict[str, Tensor]:
    """name -> Tensor from a safetensors file, in the header's order; raises ValueError on any malformed input."""
    return _safe_load_with_metadata(path, device)[0]


def _safe_load_with_metadata(path: Any, device: str | None = None,
                             who: str = "safe_load") -> tuple[dict[str, Tensor], dict[str, str], str]:
    """(name -> Tensor, metadata, the file's name for messages) from a safetensors file."""
    p, f, size = _open_checked(path, who)
    out: dict[str, Tensor] = {}
    with f:
        head = f.read(4)
        f.seek(0)
        try:
            entries, metadata, data_start = _read_header(p, f, size)
        except ValueError:
            # torch.save writes a zip archive (PK\x03\x04) or, before 1.6, a pickle (\x80 protocol 2 \x8a)
            if head == b"PK\x03\x04" or head[:3] == b"\x80\x02\x8a":
                raise ValueError(f"{p}: this is a PyTorch pickle checkpoint (torch.save's format), not safetensors; "
                                 "tinytorch never unpickles (unpickling can run code). Convert it once in PyTorch: "
                                 "`from safetensors.torch import save_file; save_file(torch.load(path), "
                                 "'x.safetensors')` for a state_dict, or convert its tensors with .numpy() and save "
                                 "them with tinytorch.save") from None
            raise
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
    return {e.name: out[e.name] for e in entries}, metadata, p


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


STRUCTURE_KEY = "tinytorch.structure"  # metadata entry holding the JSON structure of a saved object
_MAX_DEPTH = 200


class _Encoder:
    """Turns a nested object into (JSON-able structure, name -> tensor), naming tensors by their path."""

    def __init__(self) -> None:
        self.tensors: dict[str, Any] = {}
        self.names: dict[int, str] = {}  # id(tensor) -> name: a tensor saved twice is stored once

    def name_for(self, value: Any, path: str) -> str:
        if id(value) in self.names:
            return self.names[id(value)]
        name = path or "tensor"
        k = 1
        while name in self.tensors or name == "__metadata__":
            k += 1
            name = f"{path or 'tensor'}#{k}"
        self.names[id(value)] = name
        self.tensors[name] = value
        return name

    def encode(self, obj: Any, path: str, where: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"save: {where or 'the object'} is nested more than {_MAX_DEPTH} levels deep "
                             "(does it contain itself?)")
        from .module import Module

        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if isinstance(obj, np.generic):  # numpy scalars become Python numbers
            return self.encode(obj.item(), path, where, depth)
        if isinstance(obj, (Tensor, np.ndarray)):
            node: dict[str, Any] = {"$tensor": self.name_for(obj, path)}
            if isinstance(obj, Tensor) and obj.requires_grad:
                node["requires_grad"] = True
            return node
        if isinstance(obj, DType):
            return {"$dtype": obj.name}
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, f"{path}.{i}" if path else str(i), f"{where}[{i}]", depth + 1)
                     for i, v in enumerate(obj)]
            return items if isinstance(obj, list) else {"$tuple": items}
        if isinstance(obj, Mapping):
            keys = list(obj.keys())
            plain = all(isinstance(k, str) and not k.startswith("$") for k in keys)
            enc = []
            for k in keys:
                if isinstance(k, (Tensor, np.ndarray)) or not (k is None or isinstance(k, (bool, int, float, str,
                                                                                           tuple))):
                    raise TypeError(f"save: dict key {k!r} of type {type(k).__name__} at {where or 'the top'} "
                                    "cannot be stored (keys must be str, int, float, bool, None or tuples of them)")
                sub = f"{path}.{k}" if path else str(k)
                enc.append((k, self.encode(obj[k], sub, f"{where}[{k!r}]", depth + 1)))
            if plain:
                return {k: v for k, v in enc}
            return {"$dict": [[self.encode(k, "", where, depth + 1), v] for k, v in enc]}
        if isinstance(obj, Module):
            raise TypeError(f"save: {where or 'the object'} is a Module ({type(obj).__name__}); save its "
                            "state_dict() and rebuild the module in code (tinytorch never pickles objects)")
        raise TypeError(f"save: cannot store a {type(obj).__name__} at {where or 'the top'}: a checkpoint holds "
                        "tensors, numpy arrays, dicts, lists, tuples, str, int, float, bool and None "
                        "(never pickled objects)")


def _decode(node: Any, tensors: dict[str, Tensor], where: str) -> Any:
    """The object a structure node stands for (tensors looked up by name)."""
    if isinstance(node, list):
        return [_decode(v, tensors, where) for v in node]
    if not isinstance(node, dict):
        return node
    if "$tensor" in node:
        name = node["$tensor"]
        if name not in tensors:
            raise ValueError(f"{where}: invalid checkpoint: its structure names a tensor {name!r} the file lacks")
        t = tensors[name]
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t
    if "$tuple" in node:
        return tuple(_decode(v, tensors, where) for v in node["$tuple"])
    if "$dict" in node:
        return {_decode_key(k, tensors, where): _decode(v, tensors, where) for k, v in node["$dict"]}
    if "$float" in node:
        return float(node["$float"])
    if "$dtype" in node:
        dt = getattr(dtypes, str(node["$dtype"]), None)
        if not isinstance(dt, DType):
            raise ValueError(f"{where}: invalid checkpoint: unknown dtype {node['$dtype']!r}")
        return dt
    return {k: _decode(v, tensors, where) for k, v in node.items()}


def _decode_key(node: Any, tensors: dict[str, Tensor], where: str) -> Any:
    key = _decode(node, tensors, where)
    return tuple(key) if isinstance(key, list) else key


def save(obj: Any, f: str | os.PathLike[str] | io.IOBase, metadata: Mapping[str, str] | None = None,
         **kwargs: Any) -> None:
    """torch.save's spelling: write obj (a Module's state, or nested dicts/lists/tuples of tensors, numbers,
    strings, bools and None) to the path or binary file object f as safetensors; never pickle."""
    from .module import Module

    if isinstance(obj, Module):
        obj = obj.state_dict()
    enc = _Encoder()
    structure = enc.encode(obj, "", "")
    meta = dict(metadata or {})
    if STRUCTURE_KEY in meta:
        raise ValueError(f"save: the metadata key {STRUCTURE_KEY!r} is reserved for the object's structure")
    meta[STRUCTURE_KEY] = json.dumps(structure, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    safe_save(enc.tensors, f, meta)


def load(f: str | os.PathLike[str] | io.IOBase, map_location: Any = None, weights_only: bool | None = None,
         mmap: bool | None = None, device: str | None = None, **kwargs: Any) -> Any:
    """torch.load's spelling: the object save() wrote (a plain safetensors file gives its name -> Tensor dict).
    map_location ('cpu', a device) picks the device; weights_only is accepted and always true in effect
    (nothing is unpickled, no code runs)."""
    if device is None and map_location is not None and (isinstance(map_location, str) or
                                                        hasattr(map_location, "type")):
        device = str(map_location)
    tensors, metadata, name = _safe_load_with_metadata(f, device, who="load")
    raw = metadata.get(STRUCTURE_KEY)
    if raw is None:
        return tensors
    try:
        return _decode(json.loads(raw), tensors, name)
    except ValueError as e:
        if str(e).startswith(name):
            raise
        raise ValueError(f"{name}: invalid checkpoint: the {STRUCTURE_KEY!r} metadata is not valid JSON ({e})") \
            from None
    except (TypeError, KeyError, AttributeError, RecursionError) as e:
        raise ValueError(f"{name}: invalid checkpoint: malformed {STRUCTURE_KEY!r} metadata ({type(e).__name__}: "
                         f"{e})") from None
