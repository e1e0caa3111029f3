"""The PyTorch parity probe: everyday PyTorch snippets run against torch and against tinytorch.

Takes: the snippets in `cases.py` (PyTorch code, no imports needed, each leaves its result in `out`).
Produces: per snippet an outcome — pass, error (tinytorch raised) or mismatch (tinytorch ran and
gave a different value, dtype, shape or type) — and a table by category (`python -m tests.parity`).
`run.py` holds the runner; `tests/test_parity_probe.py` holds the bar (>= 95 % pass, no mismatch).
"""
