"""`tinytorch.backends.cudnn`: the cuDNN switches scripts set for reproducibility; no GPU, so no effect."""

enabled = True
deterministic = False
benchmark = False
allow_tf32 = False


def is_available() -> bool:
    """False: there is no cuDNN (no GPU backend)."""
    return False
