"""Movement ops against PyTorch, forward and backward, on C and INTERP: tril/triu, diag/diagonal/diag_embed,
roll, repeat_interleave, tile, flips, rot90, movedim, swapaxes, narrow, select, unbind, unflatten,
view_as/reshape_as/expand_as, squeeze with dim tuples, hstack/vstack/dstack/column_stack, split with
sizes, tensor_split, chunk, meshgrid, cartesian_prod, einsum, triu/tril_indices, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor

from .conftest import assert_close
from .test_indexing_api import _raises_like, check, dev  # noqa: F401  (dev is a fixture)

torch = pytest.importorskip("torch")

R = np.random.default_rng(99)
A = R.standard_normal((3, 4)).astype(np.float32)
B = R.standard_normal((2, 3, 4)).astype(np.float32)
SQ = R.standard_normal((3, 3)).astype(np.float32)
V = R.standard_normal(3).astype(np.float32)

CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "tril": (lambda m, x: x.tril(), (A,)),
    "tril_k": (lambda m, x: m.tril(x, -1), (B,)),
    "triu_k": (lambda m, x: x.triu(2), (A,)),
    "triu_neg": (lambda m, x: m.triu(x, -2), (B,)),
    "diag_vec": (lambda m, x: m.diag(x), (V,)),
    "diag_vec_k": (lambda m, x: x.diag(2), (V,)),
    "diag_vec_negk": (lambda m, x: x.diag(-1), (V,)),
    "diag_mat": (lambda m, x: x.diag(), (A,)),
    "diag_mat_k": (lambda m, x: x.diag(1), (A,)),
    "diag_mat_negk": (lambda m, x: x.diag(-2), (A,)),
    "diag_mat_far": (lambda m, x: x.diag(5), (A,)),
    "diagonal": (lambda m, x: x.diagonal(), (A,)),
    "diagonal_dims": (lambda m, x: x.diagonal(1, 0, 2), (B,)),
    "diagonal_neg": (lambda m, x: m.diagonal(x, -1, 2, 1), (B,)),
    "diag_embed": (lambda m, x: m.diag_embed(x), (A,)),
    "diag_embed_dims": (lambda m, x: x.diag_embed(-1, 0, 2), (A,)),
    "trace_via_diagonal": (lambda m, x: x.diagonal().sum(), (SQ,)),
    "roll": (lambda m, x: x.roll(1, 1), (A,)),
    "roll_neg_multi": (lambda m, x: m.roll(x, (-1, 5), (0, 2)), (B,)),
    "roll_flat": (lambda m, x: x.roll(7), (B,)),
    "repeat_interleave": (lambda m, x: x.repeat_interleave(2, 0), (A,)),
    "repeat_interleave_flat": (lambda m, x: m.repeat_interleave(x, 3), (A,)),
    "repeat_interleave_tensor": (lambda m, x, r: x.repeat_interleave(r, 1), (A, np.array([0, 2, 1, 3]))),
    "repeat_interleave_counts": (lambda m, r: m.repeat_interleave(r), (np.array([2, 0, 3]),)),
    "tile": (lambda m, x: x.tile(2, 1, 2), (A,)),
    "tile_short": (lambda m, x: m.tile(x, (2,)), (B,)),
    "fliplr": (lambda m, x: x.fliplr(), (A,)),
    "flipud": (lambda m, x: m.flipud(x), (B,)),
    "flip_tuple": (lambda m, x: m.flip(x, (0, 2)), (B,)),
    "rot90": (lambda m, x: x.rot90(), (A,)),
    "rot90_k": (lambda m, x: m.rot90(x, -1, (2, 1)), (B,)),
    "rot90_2": (lambda m, x: x.rot90(2, (0, 2)), (B,)),
    "movedim": (lambda m, x: x.movedim(0, -1), (B,)),
    "moveaxis_multi": (lambda m, x: m.moveaxis(x, (0, 1), (2, 0)), (B,)),
    "swapaxes": (lambda m, x: x.swapaxes(0, 2), (B,)),
    "swapdims": (lambda m, x: m.swapdims(x, 1, -1), (B,)),
    "t": (lambda m, x: x.t(), (A,)),
    "narrow": (lambda m, x: x.narrow(1, 1, 2), (A,)),
    "narrow_neg": (lambda m, x: m.narrow(x, -1, -3, 3), (B,)),
    "select": (lambda m, x: x.select(1, -1), (B,)),
    "unbind": (lambda m, x: x.unbind(1), (B,)),
    "unbind_fn": (lambda m, x: m.unbind(x), (A,)),
    "unflatten": (lambda m, x: x.unflatten(1, (2, -1)), (A,)),
    "view_as": (lambda m, x, y: x.view_as(y), (A, np.zeros((2, 6), np.float32))),
    "reshape_as": (lambda m, x, y: x.reshape_as(y), (B, np.zeros((4, 6), np.float32))),
    "expand_as": (lambda m, x, y: x.expand_as(y), (V.reshape(3, 1), np.zeros((2, 3, 4), np.float32))),
    "squeeze_tuple": (lambda m, x: x.squeeze((0, 2)), (np.zeros((1, 3, 1, 2), np.float32) + 1,)),
    "squeeze_tuple_keep": (lambda m, x: m.squeeze(x, (1, 3)), (R.standard_normal((1, 3, 1, 2)).astype(np.float32),)),
    "hstack": (lambda m, x, y: m.hstack([x, y]), (A, A[:, :2])),
    "hstack_1d": (lambda m, x, y: m.hstack((x, y)), (V, V)),
    "vstack": (lambda m, x, y: m.vstack([x, y]), (A, A[:1])),
    "vstack_1d": (lambda m, x, y: m.vstack([x, y]), (V, V)),
    "dstack": (lambda m, x, y: m.dstack([x, y]), (A, A)),
    "column_stack": (lambda m, x, y: m.column_stack([x, y]), (V, SQ)),
    "split_sizes": (lambda m, x: x.split([1, 3], 1), (A,)),
    "split_fn": (lambda m, x: m.split(x, 2, dim=-1), (B,)),
    "tensor_split": (lambda m, x: x.tensor_split(3, 1), (A,)),
    "tensor_split_idx": (lambda m, x: m.tensor_split(x, [1, 3, 9], dim=2), (B,)),
    "tensor_split_uneven": (lambda m, x: x.tensor_split(5), (np.arange(7, dtype=np.float32),)),
    "chunk": (lambda m, x: x.chunk(3, 1), (A,)),
    "chunk_fn": (lambda m, x: m.chunk(x, 2), (B,)),
    "meshgrid_ij": (lambda m, x, y: m.meshgrid(x, y, indexing="ij"), (V, A[0])),
    "meshgrid_xy": (lambda m, x, y, z: m.meshgrid(x, y, z, indexing="xy"), (V, A[0], V[:2])),
    "meshgrid_list": (lambda m, x, y: m.meshgrid([x, y], indexing="xy"), (V, A[0])),
    "cartesian_prod": (lambda m, x, y: m.cartesian_prod(x, y), (V, A[0])),
    "atleast_2d": (lambda m, x: m.atleast_2d(x), (V,)),
    "atleast_3d": (lambda m, x: m.atleast_3d(x), (A,)),
    # einsum: explicit, implicit, ellipsis, traces/diagonals, broadcasting
    "einsum_mm": (lambda m, x, y: m.einsum("ij,jk->ik", x, y), (A, A.T.copy())),
    "einsum_implicit": (lambda m, x, y: m.einsum("ij,kj", x, y), (A, A)),
    "einsum_bmm": (lambda m, x, y: m.einsum("bij,bjk->bik", x, y), (B, B.transpose(0, 2, 1).copy())),
    "einsum_ellipsis": (lambda m, x, y: m.einsum("...ij,jk->...ik", x, y), (B, A.T.copy())),
    "einsum_ellipsis_mid": (lambda m, x: m.einsum("i...j->j...i", x), (B,)),
    "einsum_trace": (lambda m, x: m.einsum("ii", x), (SQ,)),
    "einsum_diag": (lambda m, x: m.einsum("ii->i", x), (SQ,)),
    "einsum_batch_diag": (lambda m, x: m.einsum("...ii->...i", x), (np.stack([SQ, SQ * 2]),)),
    "einsum_outer": (lambda m, x, y: m.einsum("i,j->ij", x, y), (V, A[0])),
    "einsum_sum": (lambda m, x: m.einsum("ijk->", x), (B,)),
    "einsum_list": (lambda m, x, y: m.einsum("i,i->", [x, y]), (V, V * 3)),
    "einsum_three": (lambda m, x, y, z: m.einsum("ij,jk,k->i", x, y, z), (A, A.T.copy(), V)),
    "einsum_bilinear": (lambda m, x, w, y: m.einsum("bn,anm,bm->ba", x, w, y),
                        (A[:2, :3], R.standard_normal((5, 3, 4)).astype(np.float32), A[:2])),
    "einsum_spaces_upper": (lambda m, x, y: m.einsum("iJ, Jk -> ik", x, y), (A, A.T.copy())),
    "einsum_broadcast1": (lambda m, x, y: m.einsum("ij,ij->i", x, y), (A, A[:1])),
    "einsum_int": (lambda m, x, y: m.einsum("ij,jk->ik", x, y), (np.arange(6).reshape(2, 3),
                                                                   np.arange(6).reshape(3, 2))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name: str, dev: str) -> None:  # noqa: F811
    fn, args = CASES[name]
    check(fn, *args, dev=dev)


def test_tri_indices(dev: str) -> None:  # noqa: F811
    for args in [(3, 4, 1), (4, 3, -1), (3, 3, 0), (0, 3, 0)]:
        assert_close(tt.triu_indices(*args, device=dev), torch.triu_indices(*args).numpy(), device=dev)
        assert_close(tt.tril_indices(*args, device=dev), torch.tril_indices(*args).numpy(), device=dev)
    assert tt.triu_indices(3, 3).dtype == tt.int64


def test_tril_inplace_and_dtypes(dev: str) -> None:  # noqa: F811
    x = Tensor(A, device=dev)
    assert x.tril_(1) is x
    assert_close(x, torch.tensor(A).tril(1).numpy(), device=dev)
    i = Tensor(np.arange(9).reshape(3, 3), device=dev).triu_()
    assert i.dtype == tt.int64
    assert_close(i, torch.arange(9).reshape(3, 3).triu().numpy(), device=dev)
    b = Tensor(np.ones((2, 2), bool), device=dev).tril()
    assert b.dtype == tt.bool and b.tolist() == [[True, False], [True, True]]


def test_movement_errors(dev: str) -> None:  # noqa: F811
    x, tx = Tensor(A, device=dev), torch.tensor(A)
    _raises_like(lambda: Tensor(V, device=dev).tril(), lambda: torch.tensor(V).tril(), "at least 2 dimensions")
    _raises_like(lambda: Tensor(B, device=dev).diag(), lambda: torch.tensor(B).diag(), "matrix or a vector expected")
    _raises_like(lambda: x.diagonal(0, 1, 1), lambda: tx.diagonal(0, 1, 1), "cannot be identical")
    _raises_like(lambda: x.roll((1, 2), (0,)), lambda: tx.roll((1, 2), (0,)), "shifts and dimensions must align")
    _raises_like(lambda: x.narrow(1, 2, 3), lambda: tx.narrow(1, 2, 3), "exceeds dimension size")
    _raises_like(lambda: x.select(0, 3), lambda: tx.select(0, 3), "out of range")
    _raises_like(lambda: x.movedim((0, 1), (0,)), lambda: tx.movedim((0, 1), (0,)), "same number of dims")
    _raises_like(lambda: x.rot90(1, (0, 0)), lambda: tx.rot90(1, (0, 0)), "different")
    _raises_like(lambda: Tensor(V, device=dev).fliplr(), lambda: torch.tensor(V).fliplr(), ">= 2-d")
    _raises_like(lambda: x.tensor_split(0), lambda: tx.tensor_split(0), "larger than 0")
    _raises_like(lambda: x.repeat_interleave(Tensor([1, 2], device=dev), 0),
                 lambda: tx.repeat_interleave(torch.tensor([1, 2]), 0), "repeats must have the same size")
    _raises_like(lambda: Tensor(B, device=dev).t(), lambda: torch.tensor(B).t(), "<= 2 dimensions")
    _raises_like(lambda: x.split([1, 2], 1), lambda: tx.split([1, 2], 1), "sum")
    _raises_like(lambda: x.squeeze((0, 5)), lambda: tx.squeeze((0, 5)), "out of range")


def test_einsum_errors(dev: str) -> None:  # noqa: F811
    a, ta = Tensor(A, device=dev), torch.tensor(A)
    _raises_like(lambda: tt.einsum("ij,jk->ik", a), lambda: torch.einsum("ij,jk->ik", ta), "fewer operands")
    _raises_like(lambda: tt.einsum("ijk->i", a), lambda: torch.einsum("ijk->i", ta), "number of dimensions")
    _raises_like(lambda: tt.einsum("ij,jk->ik", a, a), lambda: torch.einsum("ij,jk->ik", ta, ta), "broadcast")
    _raises_like(lambda: tt.einsum("ij->q", a), lambda: torch.einsum("ij->q", ta), "q")
    _raises_like(lambda: tt.einsum("ii->i", a), lambda: torch.einsum("ii->i", ta), "repeated")


def test_einsum_fuses(dev: str) -> None:  # noqa: F811
    """A contraction is one product and one sum: the matmul-shaped einsum runs as a single kernel."""
    a, b = Tensor(A, device=dev), Tensor(A.T.copy(), device=dev)
    out = tt.einsum("ij,jk->ik", a, b)
    assert len(out.schedule()) == 1
    assert_close(out, A @ A.T, rtol=1e-5, atol=1e-6, device=dev)
