"""`tinytorch.vision.transforms`: torchvision.transforms' names for tinytorch.data.transforms (the same classes)."""

from ..data.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    Lambda,
    Normalize,
    Pad,
    RandomCrop,
    RandomHorizontalFlip,
    RandomVerticalFlip,
    ToTensor,
    Transform,
)

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "CenterCrop", "Pad", "RandomHorizontalFlip",
           "RandomVerticalFlip", "ColorJitter", "Lambda", "Transform"]
