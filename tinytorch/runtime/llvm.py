"""The LLVM device (placeholder until the LLVM IR renderer lands)."""

from __future__ import annotations

from .device import BaseDevice


class LLVMDevice(BaseDevice):
    name = "LLVM"

    def available(self) -> tuple[bool, str]:
        return False, "not implemented yet"
