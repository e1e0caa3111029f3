"""Device names as PyTorch code uses them.

Takes: a device name: ours ("C", "LLVM", "INTERP", a plugin's, any case) or PyTorch's
("cpu", "cpu:0", a `device`), which means the default device.
Produces: `device`, a str subclass holding our canonical name, so it works everywhere a device
name string does (`Tensor(..., device=x.device)`, dict keys, `Device.get`), while behaving like
torch.device: `.type` is "cpu" (every backend runs on the host CPU), `.index` is None,
`x.device == "cpu"` holds for the default device, and `str()` (and an f-string) of the default
device is "cpu"; `.name` is our backend name. "cuda" and "mps" raise: there is no GPU backend.
"""

from __future__ import annotations

from typing import Any

from ..runtime.device import Device

_GPU = ("cuda", "mps", "xpu", "hip", "meta")


def canonical(name: Any) -> str:
    """Our name of a device: 'cpu' (with or without ':0') -> the default device; raises for an unknown or GPU name."""
    if name is None:
        return Device.DEFAULT
    if isinstance(name, device):
        return str.__str__(name)
    if not isinstance(name, str):
        raise TypeError(f"expected a device name (str or tinytorch.device), got {type(name).__name__}")
    low = name.lower()
    if low in ("cpu", "cpu:0"):
        return Device.DEFAULT
    if low.split(":")[0] in _GPU:
        raise RuntimeError(f"device {name!r}: tinytorch has no GPU backend; its devices are {Device.names()} "
                           f"(all on the CPU; 'cpu' means the default, {Device.DEFAULT})")
    up = name.upper()
    Device.get(up)  # raises for an unknown name, listing the known ones
    return up


class device(str):
    """A device, like torch.device: `tinytorch.device("cpu")` is the default device (C, LLVM or INTERP)."""

    def __new__(cls, type: Any = "cpu", index: int | None = None) -> device:  # noqa: A002  (PyTorch's name)
        """The device named `type` ("cpu" = the default device); index may only be None or 0."""
        if index not in (None, 0):
            raise RuntimeError(f"device: index {index} does not exist; each tinytorch device has one instance")
        return str.__new__(cls, canonical(type))

    @property
    def type(self) -> str:
        """Always "cpu": every tinytorch backend runs on the host CPU."""
        return "cpu"

    @property
    def index(self) -> None:  # type: ignore[override]  # torch.device.index, not str.index
        """Always None (torch.device("cpu").index)."""
        return None

    @property
    def name(self) -> str:
        """Our backend name: "C", "LLVM", "INTERP"."""
        return str.__str__(self)

    def __eq__(self, other: object) -> bool:
        """Equal to another device or name naming the same backend ("cpu" names the default)."""
        if not isinstance(other, str):
            return NotImplemented
        try:
            return str.__eq__(self, canonical(other))
        except (RuntimeError, ValueError, TypeError):
            return False

    def __ne__(self, other: object) -> bool:
        """Not __eq__."""
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        """Hash of our name (so a device and its plain name are the same dict key)."""
        return str.__hash__(self)

    def __str__(self) -> str:
        """'cpu' for the default device (PyTorch's text), our name for the others."""
        from ..runtime.device import Device

        return "cpu" if str.__eq__(self, Device.DEFAULT) else self.name

    def __format__(self, spec: str) -> str:
        """As str(): 'cpu' for the default device (f"{x.device}" prints what PyTorch prints)."""
        return format(str(self), spec)

    def __repr__(self) -> str:
        """`device(type='cpu')` for the default device, `device(type='cpu', name='LLVM')` for another."""
        return "device(type='cpu')" if str(self) == "cpu" else f"device(type='cpu', name='{self.name}')"

    def __reduce__(self) -> Any:
        """Pickles/copies as its name."""
        return (device, (self.name,))


_CACHE: dict[str, device] = {}


def as_device(name: Any) -> device:
    """The `device` object for a name (cached: tensors share one object per device)."""
    if name is None:  # the default device (the common case: every factory call without device=)
        d = _CACHE.get(Device.DEFAULT)
        if d is not None:
            return d
    if type(name) is device:
        return _CACHE.setdefault(str.__str__(name), name)
    d = _CACHE.get(name) if isinstance(name, str) and name.isupper() else None
    if d is None:
        d = device(name)
        d = _CACHE.setdefault(str.__str__(d), d)
    return d
