"""`tinytorch.vision`: torchvision's names for tinytorch's vision data, so torchvision code runs with the import
changed (`from tinytorch.vision import datasets, transforms`).

Takes/produces: nothing of its own; `datasets` (CIFAR10, MNIST, FashionMNIST) and `transforms` (Compose,
ToTensor, Normalize, RandomCrop, RandomHorizontalFlip, ColorJitter, ...) re-export tinytorch.data's.
"""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
