"""`tinytorch.data`: datasets and batching.

    from tinytorch.data import DataLoader, datasets
    train = datasets.MNIST(train=True)                      # data (60000, 28, 28) uint8, targets (60000,) int64
    for x, y in DataLoader(train, batch_size=128, shuffle=True, seed=0):
        ...                                                 # x (128, 28, 28) uint8 Tensor, y (128,) int64 Tensor
"""

from . import datasets
from .dataset import DataLoader, Dataset, Subset, TensorDataset, random_split
from .datasets import MNIST, FashionMNIST

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "datasets", "MNIST", "FashionMNIST"]
