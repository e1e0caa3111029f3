"""Fused reductions: row kernels (several reduces over the same rows in one kernel) and their results.

Takes: softmax, log_softmax, layer_norm and cross_entropy on small odd shapes, forward and backward.
Checks: how many kernels they schedule (the scheduler's row-kernel rule), and values and gradients
against torch on every device (C, LLVM, INTERP).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import Tensor
from tinytorch.engine.schedule import _ROW_LIMIT

torch = pytest.importorskip("torch")


def n_kernels(*ts: Tensor) -> int:
    return len(ts[0].schedule(*ts[1:]))


def leaf(shape: tuple[int, ...], seed: int, device: str | None = None, grad: bool = False) -> Tensor:
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return Tensor(a, device=device, requires_grad=grad).realize()


# ---------------------------------------------------------------- structure
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "layer_norm"])
def test_forward_is_one_kernel(op: str) -> None:
    x, w, b = leaf((6, 37), 0), leaf((37,), 1), leaf((37,), 2)
    f = {"softmax": lambda: x.softmax(-1), "log_softmax": lambda: x.log_softmax(-1),
         "layer_norm": lambda: F.layer_norm(x, (37,), w, b)}[op]
    assert n_kernels(f()) == 1


def test_backward_kernels() -> None:
    """softmax / log_softmax: forward and gradient in one row kernel; layer_norm's gradient (x, weight, bias)
    in at most 8 (11 before row kernels); cross_entropy forward in 3 (the row's logsumexp, the target's logit,
    then the mean over the batch; 5 before)."""
    x, w, b, c = leaf((8, 64), 0, grad=True), leaf((64,), 1, grad=True), leaf((64,), 2, grad=True), leaf((8, 64), 3)
    for f, most in ((lambda: x.softmax(-1), 1), (lambda: x.log_softmax(-1), 1),
                    (lambda: F.layer_norm(x, (64,), w, b), 8)):
        for t in (x, w, b):
            t.grad = None
        (f() * c).sum().backward()
        grads = [t.grad for t in (x, w, b) if t.grad is not None]
        assert n_kernels(*grads) <= most
    target = Tensor(np.random.default_rng(4).integers(0, 64, 8))
    assert n_kernels(F.cross_entropy(x, target)) == 3


def test_rows_not_fused() -> None:
    """A broadcast over a leading axis, or a row longer than _ROW_LIMIT, keeps the reduce in its own kernel."""
    x = leaf((16, 9), 0)
    assert n_kernels(x - x.amax(0, keepdim=True)) == 2
    long = leaf((2, _ROW_LIMIT + 1), 1)
    assert n_kernels(long.softmax(-1)) == 3
    assert n_kernels(leaf((2, _ROW_LIMIT), 2).softmax(-1)) == 1


def test_two_reduces_without_broadcast_stay_apart() -> None:
    """Reduces over the same rows that meet in an epilogue without being broadcast back (a mean and a max; a
    gather's one-hot sums, as in quantile) keep kernels of their own: only passes over a row share one."""
    x = leaf((5, 33), 0)
    y = x.mean(-1) + x.amax(-1)
    assert n_kernels(y) == 2
    a = x.numpy()
    np.testing.assert_allclose(y.numpy(), a.mean(-1) + a.max(-1), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- values against torch
SHAPES = [(1, 8), (5, 37), (3, 4, 64), (7, 256), (2, 1000)]


def _pair(shape: tuple[int, ...], seed: int, device: str) -> tuple[Tensor, torch.Tensor]:
    a = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(np.float32)
    return Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(ours: Tensor, ref: torch.Tensor, what: str, rtol: float = 2e-5, atol: float = 2e-6) -> None:
    np.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_matches_torch(device: str, shape: tuple[int, ...], op: str) -> None:
    x, tx = _pair(shape, 0, device)
    c = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    y, ty = getattr(x, op)(-1), getattr(tx, op)(-1)
    _check(y, ty, f"{op} {shape} {device}")
    (y * Tensor(c, device=device)).sum().backward()
    (ty * torch.tensor(c)).sum().backward()
    _check(x.grad, tx.grad, f"d{op} {shape} {device}", atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_layer_norm_matches_torch(device: str, shape: tuple[int, ...]) -> None:
    x, tx = _pair(shape, 0, device)
    n = shape[-1]
    w, tw = _pair((n,), 1, device)
    b, tb = _pair((n,), 2, device)
    c = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    y, ty = F.layer_norm(x, (n,), w, b), torch.nn.functional.layer_norm(tx, (n,), tw, tb)
    _check(y, ty, f"layer_norm {shape} {device}", rtol=1e-4, atol=1e-5)
    (y * Tensor(c, device=device)).sum().backward()
    (ty * torch.tensor(c)).sum().backward()
    for ours, ref, name in ((x, tx, "x"), (w, tw, "weight"), (b, tb, "bias")):
        _check(ours.grad, ref.grad, f"layer_norm d{name} {shape} {device}", rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_matches_torch(device: str, smoothing: float) -> None:
    x, tx = _pair((9, 23), 0, device)
    t = np.random.default_rng(1).integers(0, 23, 9)
    loss = F.cross_entropy(x, Tensor(t, device=device), label_smoothing=smoothing)
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(t), label_smoothing=smoothing)
    _check(loss, tloss, f"cross_entropy {device}")
    loss.backward()
    tloss.backward()
    _check(x.grad, tx.grad, f"dcross_entropy {device}", atol=1e-6)


def test_masked_rows(device: str) -> None:
    """Rows with -inf entries (a causal mask) and a row that is all -inf (NaN, as in torch)."""
    a = np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)
    a[np.triu_indices(4, 1, 16)] = -np.inf
    a[3] = -np.inf
    x, tx = Tensor(a, device=device), torch.tensor(a)
    for op in ("softmax", "log_softmax"):
        np.testing.assert_allclose(getattr(x, op)(-1).numpy(), getattr(tx, op)(-1).numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=f"{op} masked {device}")


def test_row_kernel_threads_and_vectors_agree_with_interp() -> None:
    """A row kernel large enough to be threaded and vectorized gives INTERP's result on C and LLVM."""
    a = np.random.default_rng(0).standard_normal((512, 1024)).astype(np.float32)
    want = F.layer_norm(Tensor(a, device="INTERP"), (1024,)).numpy()
    for dev in ("C", "LLVM"):
        got = F.layer_norm(Tensor(a, device=dev), (1024,)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=dev)
    assert tt.Tensor(a).softmax(-1).numpy().sum(-1) == pytest.approx(np.ones(512), rel=1e-5)


# ---------------------------------------------------------------- the row kernel's kept value
def _row_program(y: Tensor, vbytes: int) -> tuple[list, object, int]:
    """The lowered program of y's one row kernel, the buffer it stores, and where each pass's row loop opens."""
    from tinytorch.codegen.kernel import analyze
    from tinytorch.codegen.lower import lower
    from tinytorch.codegen.opt import choose_opts
    from tinytorch.engine.realize import schedule_tensors
    from tinytorch.helpers import Context

    kernels, _ = schedule_tensors([y])
    assert len(kernels) == 1
    k = analyze(kernels[0].ast)
    assert k.row
    with Context(THREADS=2):
        prog, _ = lower(k, choose_opts(k, vbytes))
    return prog, k.store.src[0], k.n_global


def _passes(prog: list, n_global: int) -> list[list]:
    """The program cut at each opening of a loop over the row (axis n_global): one piece per pass."""
    from tinytorch.ops.uop import Ops

    cuts = [i for i, u in enumerate(prog) if u.op is Ops.RANGE and u.arg == n_global]
    return [prog[a:b] for a, b in zip(cuts, cuts[1:] + [len(prog)])]


@pytest.mark.parametrize("vbytes", [32, 64])
def test_softmax_output_pass_reads_the_exponential_back(vbytes: int) -> None:
    """softmax: the sum pass evaluates exp(x - max) and stores it into the output; the output pass loads it back
    from there and evaluates no exponential (it computed it a second time before)."""
    from tinytorch.ops.uop import Ops

    prog, out, ng = _row_program(leaf((16, 256), 0).softmax(-1), vbytes)
    passes = _passes(prog, ng)
    assert len(passes) == 3  # max, sum, output
    n_exp = [sum(u.op is Ops.EXP2 for u in p) for p in passes]
    assert n_exp[0] == 0 and n_exp[1] > 0 and n_exp[2] == 0, n_exp
    assert sum(u.op is Ops.EXP2 for u in prog) == n_exp[1]
    assert any(u.op is Ops.STORE and u.src[0] is out for u in passes[1])
    assert any(u.op is Ops.LOAD and u.src[0] is out for u in passes[2])


@pytest.mark.parametrize("op", ["softmax", "layer_norm"])
def test_row_kernel_reads_the_next_row_during_this_one(op: str) -> None:
    """The first pass over row r + 1 (the one reading memory) runs inside the pass over row r with the most
    arithmetic — softmax's exp-and-sum pass (which then accumulates twice), layer_norm's output pass (which
    accumulates nothing of its own) — and the first row's before the loop over rows."""
    from tinytorch.ops.uop import Ops

    x = leaf((16, 256), 0)
    y, want = {"softmax": (x.softmax(-1), [1, 2, 0]), "layer_norm": (F.layer_norm(x, (256,)), [1, 1, 1])}[op]
    prog, _, ng = _row_program(y, 32)
    outer = [i for i, u in enumerate(prog) if u.op is Ops.RANGE and u.arg == 0]
    first = next(i for i, u in enumerate(prog) if u.op is Ops.RANGE and u.arg == ng)
    assert len(outer) == 1 and first < outer[0]
    passes = _passes(prog, ng)
    assert len(passes) == 3
    steps = [sum(u.op is Ops.ASSIGN and u.dtype.count > 1 for u in p) for p in passes]
    assert steps[0] > 0 and steps == [w * steps[0] for w in want], steps


@pytest.mark.parametrize("case", ["dim0", "middle", "permuted-rows"])
def test_row_kernels_over_strided_rows(device: str, case: str) -> None:
    """Rows that are not contiguous (softmax over dim 0 or a middle dim) and row indices that do not merge into
    one loop (a permuted batch): softmax, log_softmax and their gradients match torch."""
    a = (np.random.default_rng(0).standard_normal((6, 5, 40)) * 2).astype(np.float32)
    c = np.random.default_rng(1).standard_normal((6, 5, 40)).astype(np.float32)
    for op in ("softmax", "log_softmax"):
        x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
        f = {"dim0": lambda t, op=op: getattr(t, op)(0), "middle": lambda t, op=op: getattr(t, op)(1),
             "permuted-rows": lambda t, op=op: getattr(t.permute(1, 0, 2), op)(-1).permute(1, 0, 2)}[case]
        y, ty = f(x), f(tx)
        _check(y, ty, f"{op} {case} {device}")
        (y * Tensor(c, device=device)).sum().backward()
        (ty * torch.tensor(c)).sum().backward()
        assert x.grad is not None
        _check(x.grad, tx.grad, f"d{op} {case} {device}", atol=1e-5)


def test_row_kernel_with_one_reduce_computes_its_value_again(device: str) -> None:
    """exp(x) * sum(exp(x)): the one reduce pass over a row runs during the previous row's passes, so the output
    pass computes exp(x) again (storing it there would put it in the previous row's output)."""
    from tinytorch.ops.uop import Ops

    a = np.random.default_rng(0).standard_normal((9, 40)).astype(np.float32)
    x = Tensor(a, device=device)
    e = x.exp()
    y = e * e.sum(-1, keepdim=True)
    want = np.exp(a) * np.exp(a).sum(-1, keepdims=True)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, err_msg=device)
    prog, out, _ = _row_program(Tensor(a).exp() * Tensor(a).exp().sum(-1, keepdim=True), 32)
    assert not any(u.op is Ops.LOAD and u.src[0] is out for u in prog)


@pytest.mark.parametrize("op", ["softmax", "layer_norm"])
def test_row_kernel_thread_slices(op: str) -> None:
    """A row kernel called on uneven slices of its rows, as threads get them, and on empty ones (one that starts
    past the last row, which a thread gets when there are fewer rows than threads' steps): each slice starts from
    its own first row, and together they give INTERP's result."""
    from tinytorch import Device
    from tinytorch.engine.realize import schedule_tensors

    a = np.random.default_rng(0).standard_normal((7, 64)).astype(np.float32)
    f = {"softmax": lambda t: t.softmax(-1), "layer_norm": lambda t: F.layer_norm(t, (64,))}[op]
    want = f(Tensor(a, device="INTERP")).numpy()
    (kernel,), _ = schedule_tensors([f(Tensor(a))])
    for dev in ("C", "LLVM"):
        run = Device.get(dev).get_runner(kernel.ast)
        assert run.outer_count == 7 and not run.packed
        out = np.full_like(a, np.nan)
        for start, end in ((0, 3), (3, 6), (6, 7), (8, 7), (7, 7)):
            run.fn(out.ctypes.data, a.ctypes.data, start, end)
        np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6, err_msg=dev)


@pytest.mark.parametrize("case", ["layer_norm", "log_softmax", "softmax-float16"])
def test_row_kernel_keeps_nothing_cheap_or_inexact(case: str) -> None:
    """A value cheaper than a store and a load (layer_norm's x - mean, log_softmax's x - max) is computed again,
    and a float16 output cannot hold softmax's float32 exponential exactly: the output pass then reads only the
    input, never the output, and softmax in float16 evaluates its exponential in both passes."""
    from tinytorch.ops.uop import Ops

    x = leaf((16, 256), 0)
    y = {"layer_norm": lambda: F.layer_norm(x, (256,)), "log_softmax": lambda: x.log_softmax(-1),
         "softmax-float16": lambda: x.half().softmax(-1)}[case]()
    prog, out, ng = _row_program(y, 32)
    passes = _passes(prog, ng)
    assert not any(u.op is Ops.LOAD and u.src[0] is out for u in prog)
    assert sum(u.op is Ops.STORE and u.src[0] is out for u in prog) == sum(
        u.op is Ops.STORE and u.src[0] is out for u in passes[-1]) > 0
    if case == "softmax-float16":
        assert all(any(u.op is Ops.EXP2 for u in p) for p in passes[1:])


ROW_LENGTHS = [1, 7, 1000, _ROW_LIMIT + 1]  # (longer than _ROW_LIMIT: reduces in kernels of their own)
_TOL = {"float16": (1e-2, 1e-2), "float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}


def _special_rows(n: int, dtype: str, seed: int) -> np.ndarray:
    """Six rows: plain, scaled up (not in float16: the sum of its squares would overflow, and mean in float16 rounds
    the sum before dividing), with a NaN, with +inf, all -inf, and (n > 1) masked: -inf past the middle."""
    a = np.random.default_rng(seed).standard_normal((6, n)) * 3
    a[1] *= 10 if dtype != "float16" else 0.5
    a[2, n // 2] = np.nan
    a[3, (n - 1) // 3] = np.inf
    a[4] = -np.inf
    if n > 1:
        a[5, n // 2 + 1:] = -np.inf
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_row_kernels_special_rows_match_torch(device: str, n: int, dtype: str) -> None:
    """softmax, log_softmax and layer_norm over rows holding NaN, +inf, -inf (all, or a masked tail) give torch's
    values (NaN where torch gives NaN) for odd row lengths and each float dtype; the reference is torch in
    float64 on the same input."""
    a = _special_rows(n, dtype, n)
    w = np.random.default_rng(1).standard_normal(n).astype(dtype)
    b = np.random.default_rng(2).standard_normal(n).astype(dtype)
    x, ta = Tensor(a, device=device), torch.tensor(a.astype(np.float64))
    rtol, atol = _TOL[dtype]
    finite = [0, 1] if n > 1 else [0, 1, 5]  # (layer_norm of a row with any inf is NaN, like torch's)
    cases = (("softmax", x.softmax(-1), ta.softmax(-1), range(6)),
             ("log_softmax", x.log_softmax(-1), ta.log_softmax(-1), range(6)),
             ("layer_norm", F.layer_norm(x, (n,), Tensor(w, device=device), Tensor(b, device=device)),
              torch.nn.functional.layer_norm(ta, (n,), torch.tensor(w.astype(np.float64)),
                                             torch.tensor(b.astype(np.float64))), finite))
    for name, ours, ref, rows in cases:
        got = ours.numpy()
        assert got.dtype == np.dtype(dtype), name
        want = ref.numpy()
        for r in range(6):
            scale = 1.0 if name != "log_softmax" or r not in (0, 1, 5) else max(1.0, float(np.abs(want[r][
                np.isfinite(want[r])]).max(initial=1.0)))
            if r in rows:
                np.testing.assert_allclose(got[r].astype(np.float64), want[r], rtol=rtol, atol=atol * scale,
                                           err_msg=f"{name} row {r} n={n} {dtype} {device}")
            else:
                assert np.isnan(got[r]).all() and np.isnan(want[r]).all(), f"{name} row {r} n={n} {dtype}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_row_kernels_gradients_match_torch(device: str, n: int, dtype: str) -> None:
    """Gradients of softmax, log_softmax and layer_norm (input, weight, bias) for odd row lengths."""
    rng = np.random.default_rng(n)
    a, c = (rng.standard_normal((3, n)) * 3).astype(dtype), rng.standard_normal((3, n)).astype(dtype)
    wb = rng.standard_normal((2, n)).astype(dtype)
    tol = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11)}[dtype]
    for op in ("softmax", "log_softmax", "layer_norm"):
        x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
        w, tw = Tensor(wb[0], device=device, requires_grad=True), torch.tensor(wb[0], requires_grad=True)
        b, tb = Tensor(wb[1], device=device, requires_grad=True), torch.tensor(wb[1], requires_grad=True)
        if op == "layer_norm":
            y, ty = F.layer_norm(x, (n,), w, b), torch.nn.functional.layer_norm(tx, (n,), tw, tb)
            pairs = ((x, tx), (w, tw), (b, tb))
        else:
            y, ty = getattr(x, op)(-1), getattr(tx, op)(-1)
            pairs = ((x, tx),)
        (y * Tensor(c, device=device)).sum().backward()
        (ty * torch.tensor(c)).sum().backward()
        _check(y, ty, f"{op} n={n} {dtype} {device}", *tol)
        for ours, ref in pairs:
            assert ours.grad is not None and ref.grad is not None
            _check(ours.grad, ref.grad, f"d{op} n={n} {dtype} {device}", tol[0] * 10, tol[1] * 10)


def test_softmax_of_padded_rows(device: str) -> None:
    """softmax and layer_norm over a view padded inside the row kernel: along the row (masked loads), across rows
    (whole rows of padding: the next row's first pass reads through the mask too), and plus a per-row operand."""
    a = np.random.default_rng(0).standard_normal((5, 37)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((5, 1)).astype(np.float32)
    x, tx = Tensor(a, device=device), torch.tensor(a)
    tpad = torch.nn.functional.pad
    for ours, ref, name in ((F.pad(x, (3, 4)).softmax(-1), tpad(tx, (3, 4)).softmax(-1), "softmax"),
                            (F.layer_norm(F.pad(x, (1, 2)), (40,)),
                             torch.nn.functional.layer_norm(tpad(tx, (1, 2)), (40,)), "layer_norm"),
                            (F.pad(x, (0, 0, 2, 3)).softmax(-1), tpad(tx, (0, 0, 2, 3)).softmax(-1), "softmax rows"),
                            (F.layer_norm(F.pad(x, (0, 0, 2, 3)), (37,)),
                             torch.nn.functional.layer_norm(tpad(tx, (0, 0, 2, 3)), (37,)), "layer_norm rows"),
                            ((x + Tensor(b, device=device)).softmax(-1), (tx + torch.tensor(b)).softmax(-1),
                             "per-row")):
        _check(ours, ref, f"{name} padded {device}", rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- multi-output kernels: optimizer steps
def _step_kernels(opt: tt.optim.Optimizer, ps: list[Tensor], seed: int) -> int:
    from tinytorch.engine import realize as R

    rng = np.random.default_rng(seed)
    for p in ps:
        p.grad = Tensor(rng.standard_normal(p.shape).astype(np.float32), device=p.device).realize()
    before = R.STATS["kernels_run"]
    opt.step()
    return R.STATS["kernels_run"] - before


@pytest.mark.parametrize("opt", ["Adam", "AdamW-amsgrad", "SGD-momentum"])
def test_optimizer_step_is_one_kernel_per_parameter(opt: str) -> None:
    """Each parameter's update writes the parameter and its moments in one kernel; the step counts of all
    parameters (Adam's bias correction) share one more."""
    ps = [leaf(s, i, grad=True) for i, s in enumerate([(8, 5), (5,), (3, 8)])]
    make, extra = {"Adam": (lambda: tt.optim.Adam(ps, lr=1e-2), 1),
                   "AdamW-amsgrad": (lambda: tt.optim.AdamW(ps, lr=1e-2, amsgrad=True), 1),
                   "SGD-momentum": (lambda: tt.optim.SGD(ps, lr=1e-2, momentum=0.9), 0)}[opt]
    o = make()
    _step_kernels(o, ps, 0)  # (the first step of SGD with momentum copies the gradient into its buffer)
    assert _step_kernels(o, ps, 1) == len(ps) + extra


@pytest.mark.parametrize("opt", ["Adam", "AdamW-amsgrad"])
def test_fused_optimizer_step_matches_torch(device: str, opt: str) -> None:
    """Three steps on parameters of two equal shapes and one other (equal shapes share a kernel): the
    parameters and both moments match torch's."""
    shapes = [(6, 4), (6, 4), (7,)]
    arrays = [np.random.default_rng(i).standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)]
    ps = [Tensor(a, device=device, requires_grad=True) for a in arrays]
    tps = [torch.tensor(a, requires_grad=True) for a in arrays]
    kw = {"lr": 1e-2, "weight_decay": 0.1} | ({"amsgrad": True} if opt == "AdamW-amsgrad" else {})
    cls = tt.optim.AdamW if opt == "AdamW-amsgrad" else tt.optim.Adam
    tcls = torch.optim.AdamW if opt == "AdamW-amsgrad" else torch.optim.Adam
    o, to = cls(ps, **kw), tcls(tps, **kw)
    for step in range(3):
        rng = np.random.default_rng(10 + step)
        for p, tp in zip(ps, tps):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, tp.grad = Tensor(g, device=device), torch.tensor(g)
        o.step()
        to.step()
    for p, tp in zip(ps, tps):
        _check(p, tp, f"{opt} parameter {tuple(p.shape)} {device}", rtol=1e-5, atol=1e-6)
        for name in ("exp_avg", "exp_avg_sq"):
            _check(o.state[p][name], to.state[tp][name], f"{opt} {name} {tuple(p.shape)} {device}", rtol=1e-5,
                   atol=1e-7)
