"""`tinytorch.backends.mps`: Apple's GPU backend is not available here."""


def is_available() -> bool:
    """False: there is no MPS backend."""
    return False


def is_built() -> bool:
    """False: tinytorch is not built with MPS."""
    return False
