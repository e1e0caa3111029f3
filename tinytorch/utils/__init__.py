"""`tinytorch.utils`: PyTorch's `torch.utils` names.

`tinytorch.utils.data` is the module `tinytorch.data` itself (not a copy), so PyTorch's
`from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split` works with the import changed.
"""

import sys

from .. import data

sys.modules[__name__ + ".data"] = data

__all__ = ["data"]
