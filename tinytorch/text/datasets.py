"""Text datasets: tiny shakespeare, and random (input, target) windows of a token stream for language models.

Takes: a split name ("train": the first 90 % of the characters, "val": the last 10 %, nanoGPT's split;
"all": the whole text), optionally `root` (a folder); for windows, a 1-d stream of token ids and block_size.
Produces: `tinyshakespeare(split)` -> str; `TextWindowDataset(tokens, block_size)` whose item i is the window
(x, y) = (tokens[i:i+T], tokens[i+1:i+T+1]) as int64 Tensors, and whose `get_batch(B)` draws B random
windows at once as (B, T) int64 Tensors (numpy slicing, two Tensors per batch); `TinyShakespeare(split,
block_size)` is the windows of the character-encoded split.

Where tinyshakespeare.txt is looked for, in order (each folder also through its `text/` subfolder), as the
image datasets do (tinytorch/data/datasets.py):
  1. `root` when given (then only there), else `$TINYTORCH_DATA`;
  2. `../shared/data` next to the checkout;
  3. the user data dir, `tinytorch.helpers.data_dir()/datasets`.
When none has it and `download=True` (and no root was given), it is fetched from char-rnn's GitHub copy into
the user data dir. The file is checked against its sha256 (1,115,394 bytes, 65 distinct characters); a
missing or different file raises an error naming the file, the folders searched and what to do.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from ..data import datasets as _image_datasets
from ..data.dataset import Dataset
from ..data.datasets import DatasetCorruptError
from ..helpers import atomic_write, data_dir
from .tokenizers import CharTokenizer, Tokenizer

__all__ = ["tinyshakespeare", "tinyshakespeare_path", "TinyShakespeare", "TextWindowDataset", "SPLITS"]

SHAKESPEARE_FILE = "tinyshakespeare.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_BYTES = 1115394
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SPLITS = ("train", "val", "all")
TRAIN_FRACTION = 0.9

_text_cache: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> the checked text


def search_dirs(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders tinyshakespeare.txt is looked for in, in order."""
    if root is not None:
        bases = [Path(root)]
    else:
        bases = [Path(os.environ["TINYTORCH_DATA"])] if os.environ.get("TINYTORCH_DATA") else []
        bases += [_image_datasets._shared_data_dir(), Path(data_dir()) / "datasets"]
    out: list[Path] = []
    for b in bases:
        for d in (b, b / "text"):
            if d not in out:
                out.append(d)
    return out


def _check(data: bytes, where: str) -> str:
    """The text of tiny shakespeare's bytes; DatasetCorruptError naming `where` when they are not the file's."""
    if len(data) != SHAKESPEARE_BYTES or hashlib.sha256(data).hexdigest() != SHAKESPEARE_SHA256:
        raise DatasetCorruptError(f"{where}: {len(data)} bytes whose sha256 does not match tiny shakespeare's "
                                  f"({SHAKESPEARE_BYTES} bytes, sha256 {SHAKESPEARE_SHA256[:16]}…): a different "
                                  "or corrupt file")
    return data.decode("ascii")


def tinyshakespeare_path(root: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """The path of a checked tinyshakespeare.txt (downloaded into the user data dir when missing and allowed)."""
    dirs = search_dirs(root)
    rejected: list[str] = []
    for d in dirs:
        p = d / SHAKESPEARE_FILE
        if p.is_file():
            try:
                _read(p)
                return p
            except DatasetCorruptError as e:
                rejected.append(str(e))
    note = "Download was not attempted (download=False or an explicit root).\n"
    if download and root is None:
        try:
            with urllib.request.urlopen(SHAKESPEARE_URL, timeout=30) as r:  # noqa: S310 (a fixed URL)
                data = r.read(SHAKESPEARE_BYTES + 1)
            _check(data, SHAKESPEARE_URL)
            dest = Path(data_dir()) / "datasets" / "text" / SHAKESPEARE_FILE
            dest.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(dest, [data])
            return dest
        except (OSError, ValueError) as e:
            note = f"Downloading {SHAKESPEARE_URL} failed: {e}\n"
    tried = "\n".join(f"  {d}" for d in dirs)
    bad = ("Files found but rejected:\n" + "\n".join(f"  {r}" for r in rejected) + "\n") if rejected else ""
    raise FileNotFoundError(f"tinyshakespeare: could not find {SHAKESPEARE_FILE}.\nLooked in:\n{tried}\n{bad}{note}"
                            f"Put char-rnn's tinyshakespeare/input.txt, named {SHAKESPEARE_FILE}, in one of these "
                            "folders (set $TINYTORCH_DATA to choose a folder).")


def _read(path: Path) -> str:
    """The checked text of path (cached by path, size and mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    text = _text_cache.get(key)
    if text is None:
        if st.st_size != SHAKESPEARE_BYTES:
            raise DatasetCorruptError(f"{path}: {st.st_size} bytes, but tiny shakespeare has {SHAKESPEARE_BYTES}: "
                                      "a different or corrupt file")
        text = _text_cache[key] = _check(path.read_bytes(), str(path))
    return text


def split_text(text: str, split: str) -> str:
    """The split of text: "train" the first 90 % of its characters, "val" the rest, "all" all of it."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    n = int(len(text) * TRAIN_FRACTION)
    return text if split == "all" else text[:n] if split == "train" else text[n:]


def tinyshakespeare(split: str = "all", root: str | os.PathLike[str] | None = None, download: bool = True) -> str:
    """Tiny shakespeare's text (1,115,394 characters): split "train" (first 90 %), "val" (last 10 %) or "all"."""
    if split not in SPLITS:
        raise ValueError(f"tinyshakespeare: split must be one of {SPLITS}, got {split!r}")
    return split_text(_read(tinyshakespeare_path(root, download)), split)


class TextWindowDataset(Dataset):
    """Windows of a 1-d token stream for next-token prediction: item i is (x, y) = (tokens[i:i+T],
    tokens[i+1:i+T+1]), int64 Tensors of shape (T,) with T = block_size, for i in 0..len(tokens)-T-1.
    `get_batch(B)` draws B random windows as (B, T) Tensors; with an index array (what DataLoader passes)
    it returns those windows as numpy arrays."""

    def __init__(self, tokens: Any, block_size: int):
        from ..tensor import Tensor

        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise ValueError(f"TextWindowDataset: block_size must be a positive int, got {block_size!r}")
        arr = tokens.numpy() if isinstance(tokens, Tensor) else np.asarray(tokens)
        if arr.ndim != 1:
            raise ValueError(f"TextWindowDataset: tokens must be a 1-d sequence of ids, got shape {arr.shape}")
        if arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"TextWindowDataset: tokens must be integer ids, got {arr.dtype}")
        if arr.size and arr.min() < 0:
            raise ValueError(f"TextWindowDataset: token ids must be >= 0, got {int(arr.min())}")
        if arr.size <= block_size:
            raise ValueError(f"TextWindowDataset: {arr.size} tokens are too few for block_size {block_size}: a "
                             f"window needs block_size + 1 = {block_size + 1} tokens (its inputs and the next "
                             "token as the last target); use a smaller block_size or more text")
        self.tokens = np.ascontiguousarray(arr, dtype=np.int64)  # (N,) int64
        self.tokens.setflags(write=False)
        self.block_size = int(block_size)
        self._span = np.arange(self.block_size + 1, dtype=np.int64)  # (T+1,) offsets inside one window

    def __len__(self) -> int:
        return int(self.tokens.shape[0]) - self.block_size

    def _windows(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B,) window starts -> x, y: (B, T) int64 arrays, y = x shifted by one token."""
        w = self.tokens[starts[:, None] + self._span]  # (B, T+1)
        return np.ascontiguousarray(w[:, :-1]), np.ascontiguousarray(w[:, 1:])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from ..tensor import Tensor

        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"TextWindowDataset: index {index} is out of range for {n} windows")
        i %= n
        x = np.array(self.tokens[i:i + self.block_size])
        y = np.array(self.tokens[i + 1:i + 1 + self.block_size])
        return Tensor(x), Tensor(y)

    def get_batch(self, batch: Any, generator: Any = None, device: Any = None) -> tuple[Any, Any]:
        """batch an int B: B random windows as (x, y) int64 Tensors of shape (B, T) (offsets drawn from generator:
        a tinytorch.Generator, a numpy Generator, an int seed, or None for tinytorch's global stream, which
        tinytorch.manual_seed seeds). batch an index array (DataLoader's call): those windows as numpy arrays."""
        if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool):
            from ..tensor import Tensor
            from ..tensor.creation import Generator, _host_rng

            if batch < 1:
                raise ValueError(f"TextWindowDataset.get_batch: batch_size must be >= 1, got {batch}")
            if isinstance(generator, np.random.Generator):
                rng = generator
            elif isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
                rng = np.random.default_rng(int(generator))
            elif generator is None or isinstance(generator, Generator):
                rng = _host_rng(generator, "TextWindowDataset.get_batch")
            else:
                raise TypeError("TextWindowDataset.get_batch: generator must be a tinytorch.Generator, a numpy "
                                f"Generator, an int seed or None, got {type(generator).__name__}")
            x, y = self._windows(rng.integers(0, len(self), size=int(batch)))
            return Tensor(x, device=device), Tensor(y, device=device)
        idx = np.asarray(batch)
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise TypeError("TextWindowDataset.get_batch: takes a batch size (int) or a 1-d array of window "
                            f"indices, got {type(batch).__name__}")
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"TextWindowDataset.get_batch: index out of range for {n} windows")
        return self._windows(idx % n)

    def __repr__(self) -> str:
        return f"TextWindowDataset({self.tokens.shape[0]} tokens, block_size={self.block_size})"


class TinyShakespeare(TextWindowDataset):
    """Windows of a split of tiny shakespeare, encoded by `tokenizer` (default: a CharTokenizer of the whole
    text, 65 ids, the same for both splits). `.text` is the split's text, `.tokenizer` the tokenizer."""

    def __init__(self, split: str = "train", block_size: int = 256, tokenizer: Tokenizer | None = None,
                 root: str | os.PathLike[str] | None = None, download: bool = True):
        if split not in SPLITS:
            raise ValueError(f"TinyShakespeare: split must be one of {SPLITS}, got {split!r}")
        full = _read(tinyshakespeare_path(root, download))
        self.split = split
        self.text = split_text(full, split)
        self.tokenizer = tokenizer if tokenizer is not None else CharTokenizer(full)
        super().__init__(np.asarray(self.tokenizer.encode(self.text), dtype=np.int64), block_size)

    def __repr__(self) -> str:
        return (f"TinyShakespeare(split={self.split!r}, {self.tokens.shape[0]} tokens, block_size={self.block_size}, "
                f"vocab_size={self.tokenizer.vocab_size})")
