"""The exception classes of tinytorch's op checks.

PyTorch raises RuntimeError for a bad shape, dtype or argument value; Python code raises ValueError
or TypeError. Our errors are both, so `except RuntimeError` written for PyTorch and `except
ValueError` / `except TypeError` both catch them.
"""

from __future__ import annotations


class TensorValueError(ValueError, RuntimeError):
    """A shape or argument value an op cannot take (shapes that do not broadcast, a bad dim size)."""


class DTypeError(TypeError, RuntimeError):
    """A dtype an op is not defined for (bitwise ops on floats, subtraction of bools, float class indices)."""


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """An integer `//`, `%`, fmod or div(rounding_mode=...) by a divisor known to hold 0 (PyTorch raises
    RuntimeError "ZeroDivisionError")."""
