"""`tinytorch.models`: ready-made models built from tinytorch.nn.

    from tinytorch.models import GPT, GPTConfig
    model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128))
    logits, loss = model(idx, targets)                  # idx, targets (B, T) int64
"""

from .gpt import GPT, GPTConfig
from .kv_cache import KVCache

__all__ = ["GPT", "GPTConfig", "KVCache"]
