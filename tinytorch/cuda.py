"""`tinytorch.cuda`: the answers PyTorch code asks before using a GPU. tinytorch has no GPU backend
(its devices C, LLVM and INTERP run on the CPU), so `is_available()` is False and the usual
`device = "cuda" if torch.cuda.is_available() else "cpu"` picks "cpu" (the default device)."""


def is_available() -> bool:
    """False: there is no GPU backend."""
    return False


def device_count() -> int:
    """0: there is no GPU."""
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed without a GPU (as torch.cuda.manual_seed does on a machine without one)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed without a GPU (as torch.cuda.manual_seed_all does on a machine without one)."""


def synchronize(device: object = None) -> None:
    """Nothing to wait for: kernels run synchronously on the CPU."""
