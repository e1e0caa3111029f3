"""A key/value cache for autoregressive decoding.

Takes: per layer, the keys and values of new positions (B, H, T, D) and the position they start at,
as an int tensor (so that one compiled decode step serves every position).
Produces: preallocated K/V buffers (B, H, max_len, D) per layer, updated in place (an ASSIGN of the
buffer), the whole buffers for attention, and the (T, max_len) mask of the keys already written.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class KVCache:
    """KVCache(num_layers, batch_size, num_heads, max_len, head_dim): preallocated K/V per layer."""

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, max_len: int, head_dim: int,
                 device: str | None = None, dtype: Any = None):
        for name, v in (("num_layers", num_layers), ("batch_size", batch_size), ("num_heads", num_heads),
                        ("max_len", max_len), ("head_dim", head_dim)):
            if int(v) <= 0:
                raise ValueError(f"KVCache: {name} must be > 0, got {v}")
        self.num_layers, self.batch_size, self.num_heads = num_layers, batch_size, num_heads
        self.max_len, self.head_dim = max_len, head_dim
        shape = (batch_size, num_heads, max_len, head_dim)
        self.k = [Tensor.zeros(*shape, dtype=dtype, device=device).contiguous().realize() for _ in range(num_layers)]
        self.v = [Tensor.zeros(*shape, dtype=dtype, device=device).contiguous().realize() for _ in range(num_layers)]
        self.length = 0  # positions written so far (host-side bookkeeping of the caller)

    def _slots(self, pos: Tensor, T: int) -> Tensor:
        """(max_len, 1) bool: the rows pos .. pos+T-1."""
        j = Tensor.arange(self.max_len, device=pos.device, dtype=pos.dtype).reshape(self.max_len, 1)  # (L, 1)
        return (j >= pos) & (j < pos + T)

    def update(self, layer: int, k: Tensor, v: Tensor, pos: Tensor | int) -> None:
        """Write k, v (B, H, T, D) at positions pos .. pos+T-1 of layer's buffers (in place)."""
        if not 0 <= layer < self.num_layers:
            raise IndexError(f"KVCache.update: layer {layer} out of range for {self.num_layers} layers")
        want = (self.batch_size, self.num_heads, None, self.head_dim)
        if k.ndim != 4 or any(w is not None and w != s for w, s in zip(want, k.shape)) or k.shape != v.shape:
            raise ValueError(f"KVCache.update: k {tuple(k.shape)} and v {tuple(v.shape)} must both be "
                             f"({self.batch_size}, {self.num_heads}, T, {self.head_dim})")
        T = k.shape[2]
        if T > self.max_len:
            raise ValueError(f"KVCache.update: {T} positions do not fit max_len {self.max_len}")
        if isinstance(pos, int):
            if not 0 <= pos <= self.max_len - T:
                raise IndexError(f"KVCache.update: positions {pos}..{pos + T - 1} outside 0..{self.max_len - 1}")
            pos = Tensor(pos, dtype="int32", device=k.device)
        slots = self._slots(pos, T)  # (L, 1)
        for buf, new in ((self.k[layer], k), (self.v[layer], v)):
            if T == 1:
                rows = new.expand(*new.shape[:2], self.max_len, self.head_dim)  # (B, H, L, D)
            else:  # row j takes new[j - pos]: a one-hot over the T new rows
                j = Tensor.arange(self.max_len, device=k.device, dtype=pos.dtype).reshape(self.max_len, 1)  # (L, 1)
                sel = ((j - pos) == Tensor.arange(T, device=k.device, dtype=pos.dtype)).cast(new.dtype)  # (L, T)
                rows = sel @ new  # (B, H, L, D)
            buf.assign(slots._where(rows, buf))

    def get(self, layer: int) -> tuple[Tensor, Tensor]:
        """The layer's whole K and V buffers, (B, H, max_len, D) each."""
        return self.k[layer], self.v[layer]

    def valid(self, pos: Tensor, T: int) -> Tensor:
        """(T, max_len) bool: query t (at position pos + t) may read keys at positions <= pos + t."""
        j = Tensor.arange(self.max_len, device=pos.device, dtype=pos.dtype)  # (L,)
        t = Tensor.arange(T, device=pos.device, dtype=pos.dtype).reshape(T, 1)  # (T, 1)
        return j <= pos + t  # (T, L)

    def reset(self) -> None:
        """Forget every position (the buffers keep their memory; stale rows are masked out by valid)."""
        self.length = 0

    def memory_bytes(self) -> int:
        """Bytes held by all K and V buffers."""
        return sum(t.numel() * t.element_size() for t in (*self.k, *self.v))

    def __repr__(self) -> str:
        return (f"KVCache(num_layers={self.num_layers}, batch_size={self.batch_size}, num_heads={self.num_heads}, "
                f"max_len={self.max_len}, head_dim={self.head_dim}, {self.memory_bytes() / 2**20:.2f} MiB)")
