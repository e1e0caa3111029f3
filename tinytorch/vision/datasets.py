"""`tinytorch.vision.datasets`: torchvision.datasets' names for tinytorch.data.datasets (the same classes)."""

from ..data.datasets import CIFAR10, MNIST, DatasetCorruptError, FashionMNIST

__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "DatasetCorruptError"]
