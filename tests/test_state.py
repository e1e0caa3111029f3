"""Tests of checkpoints: safetensors writer/reader (tinytorch.nn.state) and Module state_dict round trips.

Takes: tensors and modules built here, files written to pytest's tmp_path (valid and hand-crafted
malformed ones). Produces: pass/fail — exact bit-level round trips for every supported dtype,
interoperability with the `safetensors` package when installed, and a ValueError naming the file
for every kind of malformed, truncated or hostile file (never another exception, never a crash).
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor, nn
from tinytorch.nn.state import load, safe_load, safe_load_metadata, safe_save, save

ALL_DTYPES = ["float32", "float16", "bfloat16", "float64", "int8", "uint8", "int32", "int64", "bool"]


def _sample(dt: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if dt == "bool":
        return rng.random(shape) < 0.5
    if dt in ("int8", "uint8", "int32", "int64"):
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    base = rng.standard_normal(shape) * 100
    if base.size >= 4:
        base.flat[:4] = [np.inf, -np.inf, 0.0, -0.0]
    return base.astype(np.float32 if dt == "bfloat16" else dt)


def _bits(t: Tensor) -> np.ndarray:
    """The stored bit pattern (bfloat16 as its 16 bits) for exact comparisons."""
    a = np.asarray(t.numpy())
    if t.dtype == tt.bfloat16:
        return (np.asarray(a, dtype=np.float32, order="C").view(np.uint32) >> 16).astype(np.uint16)
    return a


@pytest.mark.parametrize("dt", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 5), (2, 0, 4), (2, 3, 4)], ids=str)
def test_roundtrip_every_dtype(tmp_path, rng, dt, shape):
    t = Tensor(_sample(dt, shape, rng), dtype=dt)
    p = tmp_path / "t.safetensors"
    safe_save({"x": t, "y": t[None] if shape else t}, p)
    back = safe_load(p)
    assert list(back) == ["x", "y"]
    assert back["x"].dtype == t.dtype and back["x"].shape == t.shape
    np.testing.assert_array_equal(_bits(back["x"]), _bits(t))


def test_nan_bits_and_header_layout(tmp_path):
    x = np.array([np.nan, 1.0, -np.nan], np.float32)
    p = tmp_path / "n.safetensors"
    safe_save({"x": Tensor(x), "b": Tensor(np.array([1.0, np.nan]), dtype="bfloat16")}, p, metadata={"format": "pt"})
    raw = p.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0, "the data section starts 8-byte aligned"
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"] == {"format": "pt"}
    assert header["x"] == {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}
    assert header["b"]["dtype"] == "BF16" and header["b"]["data_offsets"] == [12, 16]
    assert len(raw) == 8 + n + 16
    back = safe_load(p)
    assert np.isnan(back["x"].numpy()[[0, 2]]).all() and back["x"].numpy()[1] == 1.0
    assert safe_load_metadata(p) == {"format": "pt"}


def test_numpy_values_and_conveniences(tmp_path):
    arr = np.arange(12, dtype=np.int32).reshape(3, 4)
    save({"a": arr}, tmp_path / "a.safetensors")
    got = load(tmp_path / "a.safetensors")["a"]
    assert got.dtype == tt.int32
    np.testing.assert_array_equal(got.numpy(), arr)


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="keys must be strings"):
        safe_save({1: Tensor([1.0])}, tmp_path / "x")
    with pytest.raises(ValueError, match="__metadata__"):
        safe_save({"__metadata__": Tensor([1.0])}, tmp_path / "x")
    with pytest.raises(TypeError, match="metadata"):
        safe_save({"a": Tensor([1.0])}, tmp_path / "x", metadata={"a": 1})
    with pytest.raises(TypeError, match="Tensor or numpy array"):
        safe_save({"a": [1.0, 2.0]}, tmp_path / "x")
    with pytest.raises(TypeError, match="uint16"):
        safe_save({"a": np.zeros(2, np.uint16)}, tmp_path / "x")
    assert not (tmp_path / "x").exists()


# modules --------------------------------------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(5, 3, bias=False)
        self.register_buffer("scale", Tensor([2.0, 3.0, 4.0]))
        self.register_buffer("scratch", Tensor([0.0]), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale  # (N, 6) -> (N, 3)


def test_module_roundtrip_through_file(tmp_path, rng):
    tt.manual_seed(1)
    a = MLP()
    tt.manual_seed(2)
    b = MLP()
    x = Tensor(rng.standard_normal((4, 6)).astype(np.float32))
    assert not np.allclose(a(x).numpy(), b(x).numpy())
    p = tmp_path / "mlp.safetensors"
    safe_save(a.state_dict(), p)
    loaded = safe_load(p)
    assert list(loaded) == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    w_before = b.fc1.weight
    result = b.load_state_dict(loaded)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.fc1.weight is w_before, "load_state_dict copies into the existing parameters"
    np.testing.assert_array_equal(b(x).numpy(), a(x).numpy())
    np.testing.assert_array_equal(b.fc1.weight.numpy(), a.fc1.weight.numpy())


def test_state_dict_keys_and_order():
    m = MLP()
    # PyTorch's order: a module's own parameters, then its persistent buffers, then its children's
    assert list(m.state_dict()) == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1)))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]


def test_load_state_dict_errors_list_every_problem_and_write_nothing():
    m = MLP()
    before = m.fc1.weight.numpy().copy()
    sd = dict(MLP().state_dict())
    sd["fc1.weight"] = Tensor(np.zeros((6, 5), np.float32))  # transposed: wrong shape
    del sd["fc2.weight"]
    sd["extra"] = Tensor([1.0])
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for MLP" in msg
    assert 'Missing key(s) in state_dict: "fc2.weight"' in msg
    assert 'Unexpected key(s) in state_dict: "extra"' in msg
    assert "size mismatch for fc1.weight: copying a param with shape (6, 5) from checkpoint, " \
           "the shape in current model is (5, 6)" in msg
    np.testing.assert_array_equal(m.fc1.weight.numpy(), before)
    # strict=False tolerates missing/unexpected keys but never a shape mismatch
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict(sd, strict=False)
    sd["fc1.weight"] = Tensor(np.ones((5, 6), np.float32))
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc2.weight"] and res.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(m.fc1.weight.numpy(), np.ones((5, 6), np.float32))


def test_load_state_dict_casts_and_accepts_numpy():
    m = nn.Linear(3, 2)
    m.load_state_dict({"weight": np.arange(6, dtype=np.float64).reshape(2, 3), "bias": Tensor([1, 2])})
    assert m.weight.dtype == tt.float32 and m.bias.dtype == tt.float32
    np.testing.assert_array_equal(m.weight.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(m.bias.numpy(), [1.0, 2.0])
    with pytest.raises(RuntimeError, match="expected a Tensor or numpy array"):
        m.load_state_dict({"weight": [[0.0] * 3] * 2, "bias": np.zeros(2)})


def test_load_state_dict_source_changes_later_do_not_leak():
    src = nn.Linear(2, 2)
    dst = nn.Linear(2, 2)
    dst.load_state_dict(src.state_dict())
    expected = src.weight.numpy().copy()
    src.weight.assign(src.weight * 0 + 7).realize()
    np.testing.assert_array_equal(dst.weight.numpy(), expected)


def test_torch_loads_our_checkpoint_into_its_module(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    ours = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    p = tmp_path / "m.safetensors"
    safe_save(ours.state_dict(), p)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    theirs.load_state_dict(st_torch.load_file(str(p)))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    # and back: torch's file into our module
    q = tmp_path / "t.safetensors"
    st_torch.save_file(theirs.state_dict(), str(q))
    again = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    again.load_state_dict(safe_load(q))
    np.testing.assert_array_equal(again(Tensor(x)).numpy(), ours(Tensor(x)).numpy())


def test_interop_with_safetensors_package(tmp_path, rng):
    st_np = pytest.importorskip("safetensors.numpy")
    arrays = {dt: _sample(dt, (3, 4), rng) for dt in ALL_DTYPES if dt != "bfloat16"}  # numpy has no bfloat16
    p = tmp_path / "ours.safetensors"
    safe_save({k: Tensor(v, dtype=k) for k, v in arrays.items()}, p, metadata={"who": "tinytorch"})
    theirs = st_np.load_file(str(p))
    assert set(theirs) == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(theirs[k], v)
    q = tmp_path / "theirs.safetensors"
    st_np.save_file(arrays, str(q), metadata={"who": "safetensors"})
    ours = safe_load(q)
    for k, v in arrays.items():
        assert ours[k].dtype.name == k
        np.testing.assert_array_equal(ours[k].numpy(), v)
    assert safe_load_metadata(q) == {"who": "safetensors"}


def test_bfloat16_interop_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    t = torch.tensor([1.0, -2.5, 3.140625, 1e-3, 65280.0], dtype=torch.bfloat16)
    p = tmp_path / "bf.safetensors"
    st_torch.save_file({"t": t}, str(p))
    ours = safe_load(p)["t"]
    assert ours.dtype == tt.bfloat16
    np.testing.assert_array_equal(ours.numpy(), t.float().numpy())
    safe_save({"t": ours}, tmp_path / "bf2.safetensors")
    assert torch.equal(st_torch.load_file(str(tmp_path / "bf2.safetensors"))["t"], t)


# malformed files --------------------------------------------------------------------------------------------
def _write(path, header, data=b"", n=None, raw_header=None):
    hb = raw_header if raw_header is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(hb) if n is None else n) + hb + data)
    return path


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
DATA = struct.pack("<2f", 1.0, 2.0)

MALFORMED = {
    "empty file": dict(raw=b""),
    "shorter than the length field": dict(raw=b"\x10\x00\x00"),
    "header too long": dict(header=GOOD, data=DATA, n=200_000_000),
    "header past end": dict(header=GOOD, data=DATA, n=10_000),
    "header length 0": dict(header=GOOD, data=DATA, n=0),
    "truncated data": dict(header=GOOD, data=DATA[:5]),
    "bad json": dict(raw_header=b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]', data=DATA),
    "not utf-8": dict(raw_header=b'{"\xff\xfe": 1}', data=b""),
    "not an object": dict(raw_header=b"[1, 2, 3]", data=b""),
    "entry is a list": dict(raw_header=b'{"a": [1]}', data=b""),
    "deeply nested json": dict(raw_header=b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", data=b""),
    "duplicate keys": dict(raw_header=b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                                      b'"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', data=DATA),
    "unknown dtype": dict(header={"a": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}}, data=DATA),
    "unsupported dtype": dict(header={"a": {"dtype": "U16", "shape": [4], "data_offsets": [0, 8]}}, data=DATA),
    "dtype not a string": dict(header={"a": {"dtype": 7, "shape": [2], "data_offsets": [0, 8]}}, data=DATA),
    "missing field": dict(header={"a": {"dtype": "F32", "shape": [2]}}, data=DATA),
    "negative dim": dict(header={"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, data=DATA),
    "float dim": dict(header={"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, data=DATA),
    "bool dim": dict(header={"a": {"dtype": "F32", "shape": [True, 2], "data_offsets": [0, 8]}}, data=DATA),
    "shape not a list": dict(header={"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, data=DATA),
    "huge shape": dict(header={"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, data=DATA),
    "offsets out of range": dict(header={"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, data=DATA),
    "offsets reversed": dict(header={"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, data=DATA),
    "negative offset": dict(header={"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, data=DATA),
    "three offsets": dict(header={"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}, data=DATA),
    "size mismatch": dict(header={"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, data=DATA),
    "overlapping": dict(header={"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, data=DATA),
    "hole": dict(header={"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, data=DATA),
    "trailing bytes": dict(header=GOOD, data=DATA + b"#!/bin/sh\n"),
    "metadata not strings": dict(header={"__metadata__": {"k": 1}, **GOOD}, data=DATA),
    "metadata not an object": dict(header={"__metadata__": "x", **GOOD}, data=DATA),
    "entry not an object": dict(header={"a": [0, 8]}, data=DATA),
    "bool bytes other than 0/1": dict(header={"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}},
                                      data=b"\x01\x07"),
    "pickle instead of safetensors": dict(raw=b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00}\x94."),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_files_raise_value_error(tmp_path, case):
    spec = MALFORMED[case]
    p = tmp_path / "bad.safetensors"
    if "raw" in spec:
        p.write_bytes(spec["raw"])
    else:
        _write(p, spec.get("header"), spec.get("data", b""), spec.get("n"), spec.get("raw_header"))
    with pytest.raises(ValueError) as e:
        safe_load(p)
    assert str(p) in str(e.value) and "invalid safetensors file" in str(e.value)


def test_valid_reference_case_loads(tmp_path):
    """The malformed cases above are mutations of this file, which must load."""
    p = _write(tmp_path / "good.safetensors", GOOD, DATA)
    np.testing.assert_array_equal(safe_load(p)["a"].numpy(), [1.0, 2.0])
    # zero-size tensors may share an offset; header padding with spaces is allowed
    hdr = {"z": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}, **GOOD,
           "y": {"dtype": "I8", "shape": [0, 3], "data_offsets": [8, 8]}}
    hb = json.dumps(hdr).encode() + b"   "
    q = _write(tmp_path / "z.safetensors", None, DATA, raw_header=hb)
    out = safe_load(q)
    assert out["z"].shape == (0,) and out["y"].shape == (0, 3) and out["y"].dtype == tt.int8


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        safe_load("/nonexistent/nope.safetensors")


def test_random_corruption_never_crashes(tmp_path):
    """Flip, cut and splice bytes of a valid file: every result loads or raises ValueError, nothing else."""
    base = tmp_path / "base.safetensors"
    safe_save({"w": Tensor(np.arange(20, dtype=np.float32).reshape(4, 5)), "b": Tensor([1, 2, 3]),
               "m": Tensor([True, False])}, base, metadata={"k": "v"})
    good = base.read_bytes()
    rng = np.random.default_rng(0)
    p = tmp_path / "mut.safetensors"
    outcomes = {"ok": 0, "ValueError": 0}
    for i in range(300):
        b = bytearray(good)
        kind = i % 3
        if kind == 0:
            for _ in range(int(rng.integers(1, 4))):
                b[int(rng.integers(len(b)))] = int(rng.integers(256))
        elif kind == 1:
            b = b[:int(rng.integers(len(b)))]
        else:
            pos = int(rng.integers(8, len(b)))
            b = b[:pos] + bytes(rng.integers(0, 256, int(rng.integers(1, 8))).astype(np.uint8)) + b[pos:]
        p.write_bytes(bytes(b))
        try:
            safe_load(p)
            outcomes["ok"] += 1
        except ValueError:
            outcomes["ValueError"] += 1
    assert outcomes["ValueError"] > 150, outcomes


def test_load_state_dict_assign_replaces_storage_and_keeps_identity():
    m = nn.Linear(2, 2)
    w = m.weight
    src = {"weight": Tensor(np.eye(2), dtype="float64"), "bias": Tensor([1.0, 2.0], dtype="float64")}
    m.load_state_dict(src, assign=True)
    assert m.weight is w and w.dtype == tt.float64  # assign=True keeps the checkpoint's dtype
    np.testing.assert_array_equal(w.numpy(), np.eye(2))
