"""A key/value cache for autoregressive decoding.

Takes: per layer, the keys and values of new positions (B, H, T, D) and where they start: the
cache's own position (`seq_pos`, moved by `advance`), an int, or an int tensor (so that one compiled
decode step serves every position).
Produces: preallocated K/V buffers (B, H, max_seq_len, D) per layer, updated in place (an ASSIGN of
the buffer); `get` gives the valid prefix, `buffers` the whole buffers with `valid` the mask of the
positions written (what a jitted decode step reads, its shapes fixed).
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class KVCache:
    """KVCache(batch_size, max_seq_len, num_layers, num_heads, head_dim): preallocated K/V per layer,
    each (batch_size, num_heads, max_seq_len, head_dim)."""

    def __init__(self, batch_size: int, max_seq_len: int, num_layers: int, num_heads: int, head_dim: int,
                 device: str | None = None, dtype: Any = None):
        for name, v in (("batch_size", batch_size), ("max_seq_len", max_seq_len), ("num_layers", num_layers),
                        ("num_heads", num_heads), ("head_dim", head_dim)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"KVCache: {name} must be a positive int, got {v!r}")
        self.batch_size, self.max_seq_len, self.num_layers = batch_size, max_seq_len, num_layers
        self.num_heads, self.head_dim = num_heads, head_dim
        shape = (batch_size, num_heads, max_seq_len, head_dim)
        self.caches = [(Tensor.zeros(*shape, dtype=dtype, device=device).contiguous().realize(),
                        Tensor.zeros(*shape, dtype=dtype, device=device).contiguous().realize())
                       for _ in range(num_layers)]
        self.seq_pos = 0  # where update writes when given no position; advance() moves it
        self._lengths = [0] * num_layers  # positions written per layer, as far as the host knows

    @property
    def max_len(self) -> int:
        """The positions each buffer holds (max_seq_len)."""
        return self.max_seq_len

    def _layer(self, layer_idx: int, op: str) -> int:
        if not isinstance(layer_idx, int) or not 0 <= layer_idx < self.num_layers:
            raise IndexError(f"KVCache.{op}: layer {layer_idx} out of range for {self.num_layers} layers")
        return layer_idx

    def update(self, layer_idx: int, key: Tensor, value: Tensor, pos: Tensor | int | None = None) -> None:
        """Write key, value (B, H, T, D) at positions pos .. pos+T-1 of the layer's buffers, in place (pos: the
        cache's seq_pos when None; an int tensor keeps one compiled program for every position)."""
        layer = self._layer(layer_idx, "update")
        want = (self.batch_size, self.num_heads, None, self.head_dim)
        if key.ndim != 4 or any(w is not None and w != s for w, s in zip(want, key.shape)) or key.shape != value.shape:
            raise ValueError(f"KVCache.update: key {tuple(key.shape)} and value {tuple(value.shape)} must both be "
                             f"({self.batch_size}, {self.num_heads}, T, {self.head_dim})")
        T = key.shape[2]
        if pos is None:
            pos = self.seq_pos
        if isinstance(pos, int):
            if not 0 <= pos <= self.max_seq_len - T:
                raise IndexError(f"KVCache.update: positions {pos}..{pos + T - 1} outside 0..{self.max_seq_len - 1}")
            self._lengths[layer] = max(self._lengths[layer], pos + T)
            pos = Tensor(pos, dtype="int32", device=key.device)
        else:
            self._lengths[layer] = self.max_seq_len  # not known on the host
        L = self.max_seq_len
        j = Tensor.arange(L, device=key.device, dtype=pos.dtype).reshape(L, 1)  # (L, 1)
        slots = (j >= pos) & (j < pos + T)  # (L, 1): the rows written
        for buf, new in zip(self.caches[layer], (key, value)):
            if T == 1:
                rows = new.expand(*new.shape[:2], L, self.head_dim)  # (B, H, L, D)
            else:  # row j takes new[j - pos]: a one-hot over the T new rows
                sel = ((j - pos) == Tensor.arange(T, device=key.device, dtype=pos.dtype)).cast(new.dtype)  # (L, T)
                rows = sel @ new  # (B, H, L, D)
            buf.assign(slots._where(rows, buf))

    def get(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        """The layer's K and V over the positions written so far, (B, H, length, D) each."""
        layer = self._layer(layer_idx, "get")
        n = self._lengths[layer]
        k, v = self.caches[layer]
        return (k, v) if n == self.max_seq_len else (k[:, :, :n], v[:, :, :n])

    def buffers(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        """The layer's whole K and V buffers, (B, H, max_seq_len, D) each (read them under `valid`)."""
        return self.caches[self._layer(layer_idx, "buffers")]

    def valid(self, pos: Tensor, T: int) -> Tensor:
        """(T, max_seq_len) bool: query t (at position pos + t) may read keys at positions <= pos + t."""
        j = Tensor.arange(self.max_seq_len, device=pos.device, dtype=pos.dtype)  # (L,)
        t = Tensor.arange(T, device=pos.device, dtype=pos.dtype).reshape(T, 1)  # (T, 1)
        return j <= pos + t  # (T, L)

    def advance(self, n: int = 1) -> None:
        """Move seq_pos by n positions (after every layer has been updated there)."""
        if self.seq_pos + n > self.max_seq_len:
            raise IndexError(f"KVCache.advance: position {self.seq_pos + n} is past max_seq_len {self.max_seq_len}")
        self.seq_pos += n

    def reset(self) -> None:
        """Forget every position (the buffers keep their memory; stale rows are never read: masked or cut)."""
        self.seq_pos = 0
        self._lengths = [0] * self.num_layers

    def memory_bytes(self) -> int:
        """Bytes held by all K and V buffers."""
        return sum(t.numel() * t.element_size() for kv in self.caches for t in kv)

    def get_memory_usage(self) -> dict[str, float]:
        """total_mb, per_layer_mb, cache_tensors and total_elements of the buffers."""
        total = self.memory_bytes()
        return {"total_mb": total / 2**20, "per_layer_mb": total / self.num_layers / 2**20,
                "cache_tensors": 2 * self.num_layers,
                "total_elements": sum(t.numel() for kv in self.caches for t in kv)}

    def __repr__(self) -> str:
        return (f"KVCache(batch_size={self.batch_size}, max_seq_len={self.max_seq_len}, num_layers={self.num_layers}, "
                f"num_heads={self.num_heads}, head_dim={self.head_dim}, {self.memory_bytes() / 2**20:.2f} MiB)")
