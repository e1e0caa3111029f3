"""from_numpy shares the array's memory, as torch.from_numpy does: writes through either side are seen by the
other; in-place ops on memory numpy shares are written at once."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.runtime.buffer import ALLOCATOR

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_]


@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: np.dtype(d).name)
def test_shares_memory_both_ways_and_keeps_dtype(dt: type, device: str) -> None:
    base = (np.arange(12) % 3).astype(dt).reshape(3, 4)
    a = base.copy()
    t = tt.from_numpy(a, device=device)
    assert t.shape == (3, 4)
    assert t.numpy().dtype == np.dtype(dt)  # the array's dtype, as torch.from_numpy keeps it
    a[1, 2] = 1
    assert t.numpy()[1, 2] == 1, "a write to the array did not reach the tensor"
    if dt is not np.bool_:
        np.testing.assert_array_equal((t + t).numpy(), a + a)  # a kernel reads the array's memory
        t.add_(1)
        want = base.copy()
        want[1, 2] = 1
        np.testing.assert_array_equal(a, want + np.array(1, dt))  # the in-place add reached the array


def test_matches_torch_sharing() -> None:
    torch = pytest.importorskip("torch")
    for lib in (tt, torch):
        a = np.zeros((2, 3), np.float32)
        t = lib.from_numpy(a)
        t.add_(2)
        t[0, 1] = 7
        a[1, 2] = -1
        got = t.numpy().copy()
        np.testing.assert_array_equal(a, [[2, 7, 2], [2, 2, -1]])
        np.testing.assert_array_equal(got, a)


def test_array_outlives_tensor_and_is_never_pooled() -> None:
    a = np.full(4096, 3.0, np.float32)
    t = tt.from_numpy(a)
    (t * 2).numpy()
    del t
    gc.collect()
    for _ in range(4):  # new buffers of the same size must not get the array's memory
        b = tt.full((4096,), 9.0).contiguous()
        b.numpy()
    np.testing.assert_array_equal(a, np.full(4096, 3.0, np.float32))
    assert all(id(m.base if m.base is not None else m) != id(a) for m, _ in ALLOCATOR.pool.get(a.nbytes, []))


def test_tensor_keeps_the_memory_alive() -> None:
    a = np.arange(5, dtype=np.float32)
    t = tt.from_numpy(a)
    del a
    gc.collect()
    np.testing.assert_array_equal((t * 1).numpy(), np.arange(5, dtype=np.float32))


def test_arrays_it_cannot_share_are_copied() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for arr in (a[:, ::2], a.T):  # strided views
        t = tt.from_numpy(arr)
        np.testing.assert_array_equal(t.numpy(), arr)
    ro = np.arange(3, dtype=np.float32)
    ro.flags.writeable = False
    t = tt.from_numpy(ro)
    t.add_(1)
    np.testing.assert_array_equal(ro, [0, 1, 2])
    np.testing.assert_array_equal(t.numpy(), [1, 2, 3])
    assert tt.from_numpy(np.zeros((0, 3), np.float32)).shape == (0, 3)


def test_bad_input_errors_like_torch() -> None:
    with pytest.raises(TypeError, match="expected np.ndarray"):
        tt.from_numpy([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        tt.from_numpy(np.arange(4.0)[::-1])


def test_numpy_of_a_tensor_then_inplace_shows_in_the_array() -> None:
    t = tt.tensor([1.0, 2.0, 3.0])
    arr = t.numpy()
    t.mul_(2)
    np.testing.assert_array_equal(arr, [2, 4, 6])


def test_a_shared_array_is_not_recorded_as_handed_out() -> None:
    """numpy() of a from_numpy tensor must not record the array's memory as handed out by the allocator: the
    record would outlive the array, and memory allocated later at its address would count as numpy's (its
    in-place ops written at once)."""
    a = np.ones(64, np.float32)
    t = tt.from_numpy(a)
    assert t.numpy().base is not None
    assert id(a) not in ALLOCATOR.exported
    b = tt.tensor(np.zeros(64, np.float32)) + 0
    b.realize()
    b.add_(1.0)
    assert b.uop.op.name == "ASSIGN", "an in-place op on memory numpy does not share was written at once"
