"""`tinytorch.backends`: PyTorch's backend switches, so scripts that set them run unchanged.

`backends.cudnn` and `backends.mps` answer as PyTorch does on a machine without those backends
(their switches change nothing on the CPU there either, and tinytorch has no GPU).
"""

from . import cudnn, mps

__all__ = ["cudnn", "mps"]
