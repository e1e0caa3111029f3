"""A GPT: token + position embeddings, pre-LayerNorm transformer blocks, a weight-tied head.

Takes: int64 token ids (B, T) with T <= block_size (and int64 targets (B, T) for the loss).
Produces: logits (B, T, vocab_size) and the mean cross-entropy; `generate` appends tokens, with a
KV cache (`kv_cache.KVCache`) that turns each new token into one fixed-shape, jitted decode step.

Parameter names follow nanoGPT (transformer.wte, transformer.h.0.attn.c_attn, lm_head, ...), so
the model reads like the text most learners meet first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import nn
from ..jit import TinyJit
from ..nn import functional as F
from ..optim import AdamW
from ..tensor import Tensor, no_grad
from .kv_cache import KVCache


@dataclass
class GPTConfig:
    """The model's sizes: vocabulary, context length, depth, heads, width, dropout, biases."""

    vocab_size: int = 65
    block_size: int = 256
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"GPTConfig: {name} must be > 0, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd {self.n_embd} must be divisible by n_head {self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions <= t."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v for all heads
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, T, C = x.shape  # (B, T, C)
        H = self.n_head
        qkv = self.c_attn(x).reshape(B, T, 3, H, C // H)  # (B, T, 3, H, D)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # 3 x (B, H, T, D)
        return q, k, v

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0, pos: Tensor | None = None) -> Tensor:
        """x (B, T, C) -> (B, T, C); with a cache, x is one new position (T == 1) written at pos."""
        B, T, C = x.shape  # (B, T, C)
        q, k, v = self._heads(x)  # 3 x (B, H, T, D)
        p = self.attn_dropout.p if self.training else 0.0
        if cache is None:  # softmax(q k^T / sqrt(D)), position t attending to positions <= t, @ v
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)  # (B, H, T, D)
        else:
            assert pos is not None
            cache.update(layer, k, v, pos)  # writes K/V at pos in place
            k, v = cache.buffers(layer)  # (B, H, L, D) with L = max_seq_len
            mask = cache.valid(pos, T)  # (T, L): keys at positions <= pos + t
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, H, T, D)
        y = y.transpose(1, 2).contiguous().reshape(B, T, C)  # (B, T, C) heads side by side, stored in rows
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)


class MLP(nn.Module):
    """Linear(C, 4C) -> GELU (tanh) -> Linear(4C, C) -> dropout."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, T, C) -> (B, T, C)"""
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, 4C) -> (B, T, C)


class Block(nn.Module):
    """x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0, pos: Tensor | None = None) -> Tensor:
        """x (B, T, C) -> (B, T, C)"""
        x = x + self.attn(self.ln_1(x), cache, layer, pos)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)


class GPT(nn.Module):
    """GPT(GPTConfig(...)): forward(idx, targets=None) -> (logits, loss); generate(idx, max_new_tokens, ...)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying: one table for input and output
        self._init_weights()

    def _init_weights(self) -> None:
        """N(0, 0.02) for linear and embedding weights, zero biases, residual projections scaled by
        1/sqrt(2 n_layer) (GPT-2)."""
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer))
            elif name.endswith("weight") and p.ndim == 2:
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Module.load_state_dict, also from nanoGPT's own checkpoints: their causal-mask buffers
        (`...attn.bias`, `...attn.masked_bias`, not parameters) are skipped."""
        mine = {k: v for k, v in state_dict.items()
                if not (k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"))}
        return super().load_state_dict(mine, strict=strict, assign=assign)

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Parameter count (tied head counted once; position embeddings left out by default, as nanoGPT)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """idx (B, T) int64 -> logits (B, T, vocab), and the mean cross-entropy against targets (B, T)."""
        B, T = idx.shape  # (B, T)
        if T > self.config.block_size:
            raise ValueError(f"GPT: cannot run a sequence of length {T}, block_size is {self.config.block_size}")
        pos_emb = self.transformer.wpe.weight[:T]  # (T, C): positions 0..T-1 are the table's first rows
        x = self.transformer.drop(self.transformer.wte(idx) + pos_emb)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)  # (B, T, C)
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))  # ()
        return logits, loss

    # optimizer ------------------------------------------------------------------------------------
    def configure_optimizers(self, weight_decay: float = 0.1, learning_rate: float = 6e-4,
                             betas: tuple[float, float] = (0.9, 0.95), device_type: str | None = None, *,
                             lr: float | None = None, **kwargs: Any) -> AdamW:
        """AdamW with weight decay on the matrices (linear and embedding weights) only: biases and norm
        weights (every parameter with fewer than 2 dims) are not decayed. (lr= is the same as
        learning_rate; device_type is accepted for nanoGPT's call and not needed.)"""
        params = list(dict.fromkeys(self.parameters()))  # the tied table once
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return AdamW(groups, lr=learning_rate if lr is None else lr, betas=betas, **kwargs)

    # generation -----------------------------------------------------------------------------------
    def _decode_step(self, tok: Tensor, pos: Tensor, cache: KVCache) -> Tensor:
        """One new token per sequence: tok (B, 1) int64 at position pos (a 0-d int32 tensor) -> logits (B, vocab).
        Every position runs the same kernels (pos is data, the cache buffers have a fixed size)."""
        B = tok.shape[0]  # (B, 1)
        pos_emb = F.embedding(pos.reshape(1, 1), self.transformer.wpe.weight)  # (1, 1, C)
        x = self.transformer.wte(tok) + pos_emb  # (B, 1, C)
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache, i, pos)  # (B, 1, C)
        return self.lm_head(self.transformer.ln_f(x)).reshape(B, -1)  # (B, vocab)

    def _window_logits(self, full: TinyJit, window: np.ndarray) -> np.ndarray:
        """Logits of the last position of each row of window (B, L <= block_size), from a full forward of a
        (B, block_size) input padded on the right (causal: the padding is never seen), so that one compiled
        program serves every length."""
        B, L = window.shape
        padded = np.zeros((B, self.config.block_size), dtype=np.int64)
        padded[:, :L] = window
        logits = full(Tensor(padded, device=self._device))  # (B, block_size, vocab): full is a jitted forward
        return logits.numpy()[:, L - 1]  # (B, vocab)

    @property
    def _device(self) -> str:
        return self.transformer.wte.weight.device

    def generate_tokens(self, idx: Any, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                        use_cache: bool = True, generator: Any = None) -> Iterator[np.ndarray]:
        """Yield max_new_tokens new tokens, (B,) int64 each, as they are made (for streaming). See generate."""
        seq = np.array(idx.numpy() if isinstance(idx, Tensor) else idx, dtype=np.int64)
        if seq.ndim != 2 or seq.shape[1] == 0:
            raise ValueError(f"GPT.generate: idx must be (B, T) token ids with T >= 1, got shape {tuple(seq.shape)}")
        V, bs = self.config.vocab_size, self.config.block_size
        if seq.min() < 0 or seq.max() >= V:
            raise IndexError(f"GPT.generate: token ids must be in [0, {V}), got {seq.min()}..{seq.max()}")
        if max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be >= 0, got {max_new_tokens}")
        if temperature < 0 or math.isnan(temperature):
            raise ValueError(f"GPT.generate: temperature must be >= 0 (0: greedy), got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"GPT.generate: top_k must be >= 1, got {top_k}")
        if generator is None or isinstance(generator, (int, np.integer)):
            seed = int(generator) if generator is not None else int(Tensor.randint(0, 2**31 - 1, (1,)).item())
            rng = np.random.default_rng(seed)
        else:
            rng = generator
        was_training = self.training
        self.eval()
        B = seq.shape[0]
        full = TinyJit(lambda x: self(x)[0])
        cache = KVCache(B, bs, self.config.n_layer, self.config.n_head, self.config.n_embd // self.config.n_head,
                        device=self._device)
        step = TinyJit(lambda t, p: self._decode_step(t, p, cache))

        def run_step(tok: np.ndarray, p: int) -> np.ndarray:
            return step(Tensor(tok.reshape(B, 1), device=self._device),
                        Tensor(np.array(p, dtype=np.int32), device=self._device)).numpy()

        try:
            with no_grad():
                logits = None
                if use_cache and seq.shape[1] <= bs:  # prefill: the prompt one position at a time
                    for p in range(seq.shape[1]):
                        logits = run_step(seq[:, p], p)
                for _ in range(max_new_tokens):
                    L = seq.shape[1]
                    if logits is None:  # no cache, or the context outgrew it: a full forward of the window
                        logits = self._window_logits(full, seq[:, -bs:])
                    nxt = _sample(logits.astype(np.float64), temperature, top_k, rng)  # (B,)
                    seq = np.concatenate([seq, nxt[:, None]], axis=1)
                    yield nxt
                    # the cache holds positions 0..L-1 of the same window while it has room; past block_size
                    # every position shifts (absolute position embeddings), so the window is recomputed
                    logits = run_step(nxt, L) if use_cache and L < bs else None
        finally:
            self.train(was_training)

    def generate(self, idx: Any, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 use_cache: bool = True, generator: Any = None) -> Tensor:
        """Append max_new_tokens tokens to idx (B, T) int64 -> (B, T + max_new_tokens), each drawn from
        softmax(logits / temperature) over the top_k most likely (temperature 0 or top_k=1: the most likely).
        The context is the last block_size tokens. use_cache: a KV cache makes each new token one jitted
        decode step; beyond block_size the positions shift and each token is a full forward of the window,
        as without the cache, so both give the same tokens. generator: a seed or a numpy Generator."""
        seq = np.array(idx.numpy() if isinstance(idx, Tensor) else idx, dtype=np.int64)
        new = list(self.generate_tokens(seq, max_new_tokens, temperature, top_k, use_cache, generator))
        out = np.concatenate([seq, np.stack(new, axis=1)], axis=1) if new else seq
        return Tensor(out, device=self._device)


def _sample(logits: np.ndarray, temperature: float, top_k: int | None, rng: Any) -> np.ndarray:
    """(B, vocab) float64 logits -> (B,) int64 token ids."""
    if temperature == 0 or top_k == 1:
        return logits.argmax(-1).astype(np.int64)
    z = logits / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    u = rng.random((z.shape[0], 1))
    return np.minimum((p.cumsum(-1) < u).sum(-1), z.shape[-1] - 1).astype(np.int64)
