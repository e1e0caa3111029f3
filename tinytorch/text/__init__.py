"""`tinytorch.text`: tokenizers and text datasets for language models.

    from tinytorch.text import CharTokenizer, BPETokenizer, TextWindowDataset, tinyshakespeare
    text = tinyshakespeare()                                  # 1,115,394 characters (checked by sha256)
    tok = CharTokenizer(text)                                 # vocab_size 65: the sorted unique characters
    train = TextWindowDataset(tok.encode(tinyshakespeare("train")), block_size=64)
    x, y = train.get_batch(12)                                # (12, 64) int64 Tensors, y = x shifted by one

    bpe = BPETokenizer.train(text, vocab_size=1024, special_tokens=["<|endoftext|>"])
    ids = bpe.encode("ROMEO: hello 🌹<|endoftext|>")          # byte-level: any str round-trips
    bpe.save("bpe.json"); bpe = BPETokenizer.load("bpe.json")

Takes/produces: see tokenizers.py (CharTokenizer, BPETokenizer, the course's Tokenizer / create_tokenizer /
tokenize_dataset) and datasets.py (tinyshakespeare, TinyShakespeare, TextWindowDataset).
"""

from . import datasets, tokenizers
from .datasets import TextWindowDataset, TinyShakespeare, tinyshakespeare, tinyshakespeare_path
from .tokenizers import (
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    TokenIdError,
    Tokenizer,
    TokenizerError,
    UnknownCharacterError,
    create_tokenizer,
    load_tokenizer,
    tokenize_dataset,
)

__all__ = ["Tokenizer", "CharTokenizer", "BPETokenizer", "TokenizerError", "UnknownCharacterError", "TokenIdError",
           "GPT2_SPLIT_PATTERN", "create_tokenizer", "tokenize_dataset", "load_tokenizer", "TextWindowDataset",
           "TinyShakespeare", "tinyshakespeare", "tinyshakespeare_path", "datasets", "tokenizers"]
