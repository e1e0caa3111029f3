"""`tinytorch.data`: datasets and batching.

    from tinytorch.data import DataLoader, datasets
    train = datasets.MNIST(train=True)                      # data (60000, 28, 28) uint8, targets (60000,) int64
    for x, y in DataLoader(train, batch_size=128, shuffle=True, seed=0):
        ...                                                 # x (128, 28, 28) uint8 Tensor, y (128,) int64 Tensor

    from tinytorch.data import transforms as T              # torchvision's names; also tinytorch.vision.transforms
    aug = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
    cifar = datasets.CIFAR10(train=True, transform=aug)      # exact=True: the lossless 4,656/1,000 subset
    for x, y in DataLoader(cifar, batch_size=128, shuffle=True, num_workers=1):
        ...                                                 # x (128, 3, 32, 32) float32, augmented per image
"""

from . import datasets, transforms
from .dataset import DataLoader, Dataset, Subset, TensorDataset, random_split
from .datasets import CIFAR10, MNIST, FashionMNIST

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "datasets", "transforms", "MNIST",
           "FashionMNIST", "CIFAR10"]
