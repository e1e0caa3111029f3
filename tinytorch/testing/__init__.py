"""Testing tools that ship with tinytorch.

- `tinytorch.testing.fuzz`: differential fuzzing — random programs run on every device and
  compared with PyTorch; failures are shrunk and printed as runnable code
  (`python -m tinytorch.testing.fuzz --help`).
"""
