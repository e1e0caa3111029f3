"""Bad input raises at the user's call, naming the op and the shapes/dtypes — never first inside
a kernel, never a crash. Also: compiler failures and corrupt cache entries."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import Tensor
from tinytorch.engine import realize as R

from .conftest import DEVICES, require_device

A = lambda: Tensor(np.ones((2, 3), np.float32))  # noqa: E731
B = lambda: Tensor(np.ones((4, 5), np.float32))  # noqa: E731

# (id, call, exception type, fragments the message must contain)
CASES = [
    ("add", lambda: A() + B(), ValueError, ["add", "(2, 3) and (4, 5)"]),
    ("mul", lambda: A() * B(), ValueError, ["mul", "(2, 3) and (4, 5)"]),
    ("sub", lambda: A() - B(), ValueError, ["sub", "(2, 3) and (4, 5)"]),
    ("div", lambda: A() / B(), ValueError, ["div", "(2, 3) and (4, 5)"]),
    ("radd", lambda: np.ones((4, 5), np.float32) + A(), ValueError, ["(4, 5) and (2, 3)"]),
    ("lt", lambda: A() < B(), ValueError, ["lt", "(2, 3) and (4, 5)"]),
    ("eq", lambda: A() == B(), ValueError, ["eq", "(2, 3) and (4, 5)"]),
    ("le", lambda: A() <= B(), ValueError, ["le", "(2, 3) and (4, 5)"]),
    ("maximum", lambda: A().maximum(B()), ValueError, ["maximum", "(2, 3) and (4, 5)"]),
    ("pow", lambda: A() ** B(), ValueError, ["pow", "(2, 3) and (4, 5)"]),
    ("where", lambda: tt.where(A() > 0, A(), B()), ValueError, ["where", "(2, 3)", "(4, 5)"]),
    ("where_cond", lambda: tt.where(B() > 0, A(), A()), ValueError, ["where", "(4, 5)", "(2, 3)"]),
    ("matmul", lambda: A() @ B(), ValueError, ["matmul", "(2, 3) and (4, 5)", "3 != 4"]),
    ("matmul_1d", lambda: Tensor.ones(3) @ Tensor.ones(4), ValueError, ["matmul", "(3,) and (4,)"]),
    ("matmul_batch", lambda: Tensor.ones(2, 3, 4) @ Tensor.ones(3, 4, 5), ValueError,
     ["matmul", "(2, 3, 4) and (3, 4, 5)"]),
    ("matmul_0d", lambda: A() @ Tensor(1.0), ValueError, ["matmul", "(2, 3) and ()"]),
    ("dot", lambda: A().dot(B()), ValueError, ["dot", "(2, 3) and (4, 5)"]),
    ("reshape", lambda: A().reshape(4, 2), ValueError, ["reshape", "(4, 2)", "6", "(2, 3)"]),
    ("reshape_two_minus1", lambda: A().reshape(-1, -1), ValueError, ["reshape", "-1"]),
    ("reshape_negative", lambda: A().reshape(-2, 3), ValueError, ["reshape", "(-2, 3)"]),
    ("view", lambda: A().view(7), ValueError, ["view", "(7,)", "(2, 3)"]),
    ("sum_dim", lambda: A().sum(5), IndexError, ["sum", "dim 5", "2 dims"]),
    ("sum_neg_dim", lambda: A().sum(-3), IndexError, ["sum", "dim -3"]),
    ("mean_dim", lambda: A().mean(2), IndexError, ["mean", "dim 2"]),
    ("max_dim", lambda: A().max(dim=7), IndexError, ["max", "dim 7"]),
    ("argmax_dim", lambda: A().argmax(3), IndexError, ["argmax", "dim 3"]),
    ("softmax_dim", lambda: A().softmax(2), IndexError, ["softmax", "dim 2"]),
    ("log_softmax_dim", lambda: A().log_softmax(-3), IndexError, ["log_softmax", "dim -3"]),
    ("logsumexp_dim", lambda: A().logsumexp(4), IndexError, ["logsumexp", "dim 4"]),
    ("cumsum_dim", lambda: A().cumsum(2), IndexError, ["cumsum", "dim 2"]),
    ("permute_repeat", lambda: A().permute(0, 0), ValueError, ["permute", "(0, 0)", "(2, 3)"]),
    ("permute_dim", lambda: A().permute(0, 1, 2), IndexError, ["permute", "dim 2"]),
    ("transpose", lambda: A().transpose(0, 2), IndexError, ["transpose", "dim 2"]),
    ("squeeze", lambda: A().squeeze(3), IndexError, ["squeeze", "dim 3"]),
    ("unsqueeze", lambda: A().unsqueeze(4), IndexError, ["unsqueeze", "dim 4"]),
    ("flip", lambda: A().flip(2), IndexError, ["flip", "dim 2"]),
    ("size", lambda: A().size(4), IndexError, ["dim 4"]),
    ("expand", lambda: A().expand(4, 5), ValueError, ["expand", "(2, 3)", "(4, 5)"]),
    ("expand_rank", lambda: A().expand(3), ValueError, ["expand", "(2, 3)"]),
    ("broadcast_to", lambda: A().broadcast_to((4,)), ValueError, ["broadcast_to", "(2, 3)", "(4,)"]),
    ("flatten", lambda: Tensor.ones(2, 3, 4).flatten(2, 1), ValueError, ["flatten"]),
    ("unflatten", lambda: A().unflatten(1, (2, 2)), ValueError, ["unflatten", "(2, 2)", "3"]),
    ("cat_shapes", lambda: tt.cat([A(), B()]), ValueError, ["cat", "(2, 3)", "(4, 5)"]),
    ("cat_dim", lambda: tt.cat([A(), A()], 2), IndexError, ["cat", "dim 2"]),
    ("cat_empty", lambda: tt.cat([]), ValueError, ["cat"]),
    ("stack_shapes", lambda: tt.stack([A(), B()]), ValueError, ["stack", "(2, 3)", "(4, 5)"]),
    ("split_sizes", lambda: A().split([1, 1], 1), ValueError, ["split", "(1, 1)", "3"]),
    ("chunk_zero", lambda: A().chunk(0), ValueError, ["chunk"]),
    ("pad_odd", lambda: A().pad((1,)), ValueError, ["pad", "(1,)"]),
    ("repeat_rank", lambda: A().repeat(2), ValueError, ["repeat"]),
    ("index_oob", lambda: A()[5], IndexError, ["index 5", "size 2"]),
    ("index_neg_oob", lambda: A()[-3], IndexError, ["index -3", "size 2"]),
    ("index_dim1_oob", lambda: A()[:, 3], IndexError, ["index 3", "dimension 1", "size 3"]),
    ("index_too_many", lambda: A()[0, 0, 0], IndexError, ["too many indices", "2"]),
    ("index_str", lambda: A()["x"], IndexError, ["'x'", "str"]),
    ("index_float", lambda: A()[1.5], IndexError, ["1.5", "float"]),
    ("index_two_ellipsis", lambda: A()[..., ...], IndexError, ["ellipsis"]),
    ("index_tensor_oob", lambda: A()[Tensor([0, 7])], IndexError, ["7", "size 2"]),
    ("index_list_oob", lambda: A()[:, [0, -4]], IndexError, ["-4", "size 3"]),
    ("index_float_tensor", lambda: A()[Tensor([0.0])], IndexError, ["long", "float32"]),
    ("index_bool_mask_length", lambda: A()[Tensor([True, False, True])], IndexError, ["mask"]),
    ("unknown_dtype", lambda: Tensor([1], dtype="float128"), TypeError, ["float128", "float32"]),
    ("numpy_complex64", lambda: Tensor(np.ones(2, np.complex64)), TypeError, ["complex64"]),
    ("cast_complex", lambda: A().cast("complex64"), TypeError, ["complex64"]),
    ("unknown_device", lambda: Tensor([1], device="FOO"), ValueError, ["FOO", "C"]),
    ("unknown_device_lower", lambda: Tensor.zeros(2, device="nosuch"), ValueError, ["NOSUCH"]),
    ("item_many", lambda: A().item(), ValueError, ["item", "(2, 3)"]),
    ("bool_many", lambda: bool(A()), RuntimeError, ["6 elements", "ambiguous"]),
    ("ragged", lambda: Tensor([[1, 2], [3]]), ValueError, ["Tensor"]),
    ("strings", lambda: Tensor("abc"), TypeError, ["Tensor"]),
    ("none", lambda: Tensor(None), TypeError, ["Tensor"]),
    ("objects", lambda: Tensor([object()]), TypeError, ["Tensor"]),
    ("neg_bool", lambda: -Tensor([True]), TypeError, ["neg", "bool"]),
    ("sub_bool", lambda: Tensor([True]) - Tensor([False]), TypeError, ["sub", "bool"]),
    ("bitand_float", lambda: A() & A(), TypeError, ["bitwise_and", "float32"]),
    ("invert_float", lambda: ~A(), TypeError, ["bitwise_not", "float32"]),
    ("shift_bool", lambda: Tensor([True]) << Tensor([True]), TypeError, ["bitwise_left_shift", "bool"]),
    ("zeros_negative", lambda: Tensor.zeros(-1, 2), ValueError, ["(-1, 2)"]),
    ("full_negative", lambda: Tensor.full((2, -3), 1.0), ValueError, ["(2, -3)"]),
    ("arange_step0", lambda: Tensor.arange(0, 5, 0), ValueError, ["arange", "step"]),
    ("randint_range", lambda: Tensor.randint(5, 2), ValueError, ["randint", "5", "2"]),
    ("linspace_steps", lambda: Tensor.linspace(0, 1, -1), ValueError, ["linspace", "-1"]),
    ("clamp_nothing", lambda: A().clamp(), ValueError, ["clamp"]),
    ("max_empty", lambda: Tensor.ones(0).max(), RuntimeError, ["max", "(0,)"]),
    ("assign_shape", lambda: Tensor(np.ones(3)).assign(Tensor.ones(4)), ValueError,
     ["assign", "(4,)", "(3,)"]),
    ("assign_expanded", lambda: Tensor(np.ones((1, 3))).expand(2, 3).assign(Tensor.ones(2, 3)), RuntimeError,
     ["assign", "expand"]),
    ("setitem_shape", lambda: Tensor(np.ones((3, 3))).__setitem__(0, Tensor.ones(4)), ValueError,
     ["__setitem__", "(4,)", "(3,)"]),
    ("setitem_tensor_index_oob", lambda: Tensor(np.ones(3)).__setitem__(Tensor([5]), 1.0),
     IndexError, ["5"]),
    ("context_unknown", lambda: tt.Context(NOSUCHVAR=1).__enter__(), KeyError, ["NOSUCHVAR", "DEBUG"]),
]


@pytest.mark.parametrize("name,call,exc,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_clear_error_at_the_call(name, call, exc, fragments) -> None:
    before = R.STATS["kernels_run"]
    with pytest.raises(exc) as info:
        out = call()
        if isinstance(out, Tensor):  # the error must come from the call, not from realizing it
            pytest.fail(f"{name}: building the op did not raise; it returned a lazy {out.shape} tensor")
    msg = str(info.value)
    missing = [f for f in fragments if f not in msg]
    assert not missing, f"{name}: message {msg!r} lacks {missing}"
    assert R.STATS["kernels_run"] == before, f"{name}: kernels ran before the error was raised"


def test_error_points_at_user_line() -> None:
    """The traceback's innermost frame outside tinytorch is the user's line."""
    import traceback

    try:
        A() + B()  # noqa: B018 -- this line
    except ValueError as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if "/tinytorch/" not in f.filename]
        assert frames[-1].line is not None and "A() + B()" in frames[-1].line
    else:
        pytest.fail("no error")


def test_different_devices_are_refused() -> None:
    names = [d for d in DEVICES if tt.Device.get(d).available()[0]]
    if len(names) < 2:
        pytest.skip("needs two available devices")
    a, b = Tensor([1.0, 2.0], device=names[0]), Tensor([1.0, 2.0], device=names[1])
    with pytest.raises(RuntimeError, match=rf"add.*different devices.*{names[0]}.*{names[1]}"):
        a + b


def _run(code: str, env: dict[str, str] | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_integer_division_by_zero_never_crashes() -> None:
    """x // 0, x % 0 and INT_MIN // -1 trap on x86 if compiled naively: the process must survive,
    and every device must give the same answer."""
    code = """
        import tinytorch as tt, numpy as np
        from tinytorch import Tensor
        out = {}
        for dev in tt.Device.names():
            if not tt.Device.get(dev).available()[0]:
                continue
            for dt in ("int32", "int64", "int8"):
                lo = {"int32": -2**31, "int64": -2**63, "int8": -128}[dt]
                a = Tensor([1, 7, lo, 5, lo], dtype=dt, device=dev)
                # computed (lazy): a divisor the host knows to hold 0 raises ZeroDivisionError before any kernel
                b = Tensor([0, 0, -1, 2, 1], dtype=dt, device=dev) * 1
                out[(dev, dt)] = ((a // b).tolist(), (a % b).tolist())
        ref = {dt: v for (d, dt), v in out.items() if d == "INTERP"}
        bad = [(k, v, ref[k[1]]) for k, v in out.items() if v != ref[k[1]]]
        print("DEVICES-AGREE" if not bad else f"DISAGREE {bad}")
    """
    p = _run(code)
    assert p.returncode == 0, f"process died (rc={p.returncode}): {p.stderr[-2000:]}"
    assert "DEVICES-AGREE" in p.stdout, p.stdout + p.stderr


def test_compiler_failure_names_kernel_and_shows_compiler_message(tmp_path) -> None:
    """A compiler error carries the kernel name, the compiler's own message and the DEBUG=4 hint
    (a C device registered through the public plugin interface with a flag gcc rejects)."""
    require_device("C")
    code = """
        import tinytorch as tt
        from tinytorch.runtime.device import CompiledDevice, CompileError
        from tinytorch.runtime.cpu import CCompiler, load_shared_object
        from tinytorch.codegen.c import CRenderer
        class BadCC(CompiledDevice):  # the documented way: a named subclass and a factory
            name = "BADCC"
            def __init__(self):
                super().__init__(CRenderer(), CCompiler(extra_flags=("-fno-such-flag-xyz",)), load_shared_object)
        tt.Device.names()
        tt.register_device("BADCC", BadCC)
        try:
            (tt.Tensor([1.0, 2.0], device="BADCC") * 3).numpy()
        except CompileError as e:
            print("MSG<<" + str(e) + ">>")
    """
    p = _run(code, env={"TINYTORCH_CACHE": str(tmp_path)})
    assert p.returncode == 0, p.stderr[-2000:]
    m = re.search(r"MSG<<(.*)>>", p.stdout, re.S)
    assert m, f"no CompileError raised: {p.stdout[-1000:]} {p.stderr[-1000:]}"
    msg = m.group(1)
    assert re.search(r"kernel \w+ failed to compile on BADCC", msg), msg
    assert "no-such-flag-xyz" in msg, f"the compiler's message is missing: {msg}"
    assert "DEBUG=4" in msg


def test_corrupt_cache_entry_is_rebuilt(tmp_path) -> None:
    """Every file of the compile cache overwritten with junk: results stay right (entries rebuilt)."""
    require_device("C")
    code = """
        import numpy as np, tinytorch as tt
        x = tt.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), device="C")
        y = ((x * 2 + 1).exp2().sum(1)).numpy()
        ref = np.exp2(np.arange(12).reshape(3, 4) * 2 + 1).sum(1)
        print("OK" if np.allclose(y, ref, rtol=1e-5) else f"WRONG {y} {ref}")
    """
    env = {"TINYTORCH_CACHE": str(tmp_path), "CANARY": "0"}  # (the canaries would only add compiles)
    first = _run(code, env)
    assert first.returncode == 0 and "OK" in first.stdout, first.stdout + first.stderr
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs]
    assert files, "nothing was cached"
    for f in files:
        with open(f, "r+b") as fh:
            size = os.path.getsize(f)
            fh.write(b"\x7fELF" + b"\x00" * (size - 4))
    second = _run(code, env)
    assert second.returncode == 0, f"corrupt cache crashed the process: {second.stderr[-2000:]}"
    assert "OK" in second.stdout, second.stdout + second.stderr


CAST_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
def test_every_cast_runs_and_matches_numpy(device: str) -> None:
    """All 81 casts between the public dtypes, in a subprocess (a crash must not take the suite
    down); values compared with numpy wherever C defines the result (no negative float -> uint8)."""
    code = f"""
        import sys, numpy as np, tinytorch as tt
        sys.path.insert(0, "tests")
        from optable import bf16_round
        vals = np.array([0, 1, -1, 2.5, -3.75, 100, 0.1, -0.0], np.float64)
        names = {CAST_DTYPES!r}
        for src in names:
            for dst in names:
                print("CAST", src, dst, flush=True)
                s = vals != 0 if src == "bool" else vals.astype(np.float32) if src == "bfloat16" else vals.astype(src)
                if src == "bfloat16":
                    s = bf16_round(s)
                got = tt.Tensor(s, dtype=src, device="{device}").cast(dst).numpy()
                f = s.astype(np.float64)
                if dst == "bool":
                    want = f != 0
                elif dst in ("float16", "float32", "float64"):
                    want = f.astype(dst)
                elif dst == "bfloat16":
                    want = bf16_round(f.astype(np.float32))
                else:
                    want = np.trunc(f).astype(np.int64).astype(dst)  # ints wrap like torch
                ok = np.ones(len(vals), bool)
                if dst == "uint8" and src in ("float16", "bfloat16", "float32", "float64"):
                    ok = f >= 0  # negative float -> unsigned is undefined in C (and in torch)
                if not np.array_equal(np.asarray(got)[ok].astype(np.float64), np.asarray(want)[ok].astype(np.float64)):
                    print("MISMATCH", src, dst, list(got), list(want), flush=True)
        print("DONE", flush=True)
    """
    p = _run(code, timeout=600)
    last = [line for line in p.stdout.splitlines() if line.startswith("CAST")][-1:] or ["(none)"]
    assert p.returncode == 0, f"process died (rc={p.returncode}) at {last[0]}: {p.stderr[-1500:]}"
    bad = [line for line in p.stdout.splitlines() if line.startswith("MISMATCH")]
    assert not bad and "DONE" in p.stdout, "\n".join(bad) or p.stdout[-2000:]
