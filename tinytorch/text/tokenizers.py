"""Tokenizers: text <-> lists of integer ids, saved and loaded as JSON.

Takes: text (a str, or a list of str as a corpus) to build a vocabulary from; then strings to encode and ids
(a list, a numpy array or a Tensor of ints) to decode.
Produces: `CharTokenizer` (one id per character, the sorted unique characters of the text: nanoGPT's
char-level convention) and `BPETokenizer` (byte-level byte-pair encoding like GPT-2: the 256 bytes, then
merges learned from the text, then special tokens such as "<|endoftext|>"), both with `encode(str) ->
list[int]`, `decode(ids) -> str`, `vocab_size`, `save(path)` / `load(path)`.

Unknown input is never changed silently:
- CharTokenizer: a character outside the vocabulary raises UnknownCharacterError (naming it and its
  position) unless the tokenizer was built with `unk_token="<UNK>"` (then that token is id 0 and unknown
  characters map to it, as the course's tokenizer does).
- BPETokenizer: every str that UTF-8 can encode round-trips exactly (decode(encode(s)) == s); a str holding a
  lone surrogate (e.g. "\\ud800", which no UTF-8 text can contain) raises ValueError naming its position.
  `decode` turns an incomplete UTF-8 sequence (a prefix of a multi-byte character, as when streaming
  generated ids) into U+FFFD like GPT-2; `decode_bytes` returns the exact bytes and `decode_stream`
  yields text as soon as whole characters are complete.
- Both: an id outside 0..vocab_size-1 in `decode` raises TokenIdError.

BPE pre-tokenization splits text into chunks (merges never cross them) with GPT-2's pattern, written for
Python's `re` (no \\p{...} classes): contractions, an optional space followed by a run of letters, of
digits or of other symbols, and whitespace runs. It is always `re` (not the optional `regex` module), so a
saved tokenizer encodes identically wherever it is loaded.
"""

from __future__ import annotations

import codecs
import heapq
import json
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Tokenizer", "CharTokenizer", "BPETokenizer", "TokenizerError", "UnknownCharacterError", "TokenIdError",
           "GPT2_SPLIT_PATTERN", "create_tokenizer", "tokenize_dataset", "load_tokenizer"]

# GPT-2's split pattern with \p{L} -> [^\W\d_] (letters), \p{N} -> \d, and the symbol class spelled as
# "neither space nor word character, or an underscore": every character falls in exactly one class, so the
# chunks always cover the whole text.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
FORMAT_VERSION = 1
ENCODE_CACHE_SIZE = 1 << 16  # chunks whose ids BPETokenizer.encode remembers (the cache empties when full)


class TokenizerError(ValueError):
    """A tokenizer input or file that cannot be used (bad argument, wrong or corrupt JSON file)."""


class UnknownCharacterError(TokenizerError, KeyError):
    """A character that is not in a CharTokenizer's vocabulary (and no unk_token was asked for)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TokenIdError(TokenizerError, IndexError):
    """An id given to decode that is outside 0..vocab_size-1."""


def _as_ids(ids: Any, who: str) -> list[int]:
    """ids (an int, a list/tuple of ints, a 0-/1-d integer numpy array or Tensor) -> a list of Python ints."""
    from ..tensor import Tensor

    if isinstance(ids, Tensor):
        ids = ids.numpy()
    if isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
        return [int(ids)]
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"{who}: takes a sequence of integer ids, got {type(ids).__name__}")
    if isinstance(ids, list) and all(type(i) is int for i in ids):
        return ids
    arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
    if arr.size == 0:
        return []
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: ids must be integers, got an array of {arr.dtype} (e.g. {arr.reshape(-1)[0]!r})")
    if arr.ndim > 1:
        raise ValueError(f"{who}: takes one sequence of ids (a 1-d array), got shape {tuple(arr.shape)}; "
                         "decode each row separately")
    return [int(i) for i in arr.reshape(-1).tolist()]


def _check_range(ids: list[int], n: int, who: str) -> None:
    """TokenIdError naming the first id outside 0..n-1."""
    if ids and (min(ids) < 0 or max(ids) >= n):
        pos, bad = next((p, i) for p, i in enumerate(ids) if not 0 <= i < n)
        raise TokenIdError(f"{who}: id {bad} at position {pos} is outside the vocabulary (ids 0..{n - 1}, "
                           f"vocab_size {n})")


def _corpus(text: str | Iterable[str], who: str) -> list[str]:
    """A str or an iterable of str -> a list of str (TypeError otherwise)."""
    if isinstance(text, str):
        return [text]
    if isinstance(text, (bytes, bytearray)):
        raise TypeError(f"{who}: takes a str (or a list of str), got {type(text).__name__}: decode it first")
    docs = list(text)
    for d in docs:
        if not isinstance(d, str):
            raise TypeError(f"{who}: a corpus is a str or a list of str, got an element of type {type(d).__name__}")
    return docs


def _read_json(path: str | Path, kind: str) -> dict[str, Any]:
    """The dict saved in a tokenizer JSON file; TokenizerError naming the file when it is not one of `kind`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TokenizerError(f"{path}: not a tokenizer JSON file ({e})") from None
    if not isinstance(data, dict) or "type" not in data:
        raise TokenizerError(f"{path}: not a tokenizer JSON file (no \"type\" field)")
    if kind != "Tokenizer" and data["type"] != kind:
        raise TokenizerError(f"{path}: holds a {data['type']}, not a {kind} (load it with {data['type']}.load "
                             "or tinytorch.text.load_tokenizer)")
    if data.get("version", FORMAT_VERSION) > FORMAT_VERSION:
        raise TokenizerError(f"{path}: format version {data['version']} is newer than this tinytorch reads "
                             f"({FORMAT_VERSION})")
    return data


class Tokenizer:
    """Base class (the course's name): `encode(text) -> list[int]`, `decode(ids) -> str`, `vocab_size`."""

    def encode(self, text: str) -> list[int]:
        """The ids of text."""
        raise NotImplementedError(f"{type(self).__name__} must define encode")

    def decode(self, ids: Any) -> str:
        """The text of ids."""
        raise NotImplementedError(f"{type(self).__name__} must define decode")

    @property
    def vocab_size(self) -> int:
        """The number of ids: every id is in 0..vocab_size-1."""
        raise NotImplementedError(f"{type(self).__name__} must define vocab_size")

    def __len__(self) -> int:
        return self.vocab_size

    def decode_stream(self, ids: Iterable[int]) -> Iterator[str]:
        """Text pieces as the ids come (for printing generated tokens while they are produced)."""
        for i in ids:
            yield self.decode([i])

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready description that save writes."""
        raise NotImplementedError(f"{type(self).__name__} must define to_dict")

    def save(self, path: str | Path) -> None:
        """Write the tokenizer to path as JSON (UTF-8)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=True, indent=1), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer:
        """The tokenizer a to_dict() describes (its "type" picks the class)."""
        kinds: dict[str, type[Tokenizer]] = {"CharTokenizer": CharTokenizer, "BPETokenizer": BPETokenizer}
        if data.get("type") not in kinds:
            raise TokenizerError(f"unknown tokenizer type {data.get('type')!r} (expected one of {sorted(kinds)})")
        return kinds[data["type"]].from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """The tokenizer saved at path (Tokenizer.load reads either kind; a subclass's load only its own)."""
        data = _read_json(path, cls.__name__)
        try:
            return Tokenizer.from_dict(data) if cls is Tokenizer else cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, TokenizerError):
                raise TokenizerError(f"{path}: {e}") from None
            raise TokenizerError(f"{path}: corrupt {data['type']} file ({type(e).__name__}: {e})") from None


def load_tokenizer(path: str | Path) -> Any:
    """The CharTokenizer or BPETokenizer saved at path (the file's "type" says which)."""
    return Tokenizer.load(path)


# CharTokenizer ---------------------------------------------------------------------------------------------------
class CharTokenizer(Tokenizer):
    """One id per character: id = index in the sorted unique characters of the text (nanoGPT's convention;
    tiny shakespeare gives 65 ids). `CharTokenizer(text)`, `CharTokenizer.from_text(text)`, or the course's
    `CharTokenizer()` then `build_vocab(corpus)`; `vocab=` gives the characters in id order instead.
    With `unk_token="<UNK>"` that token is id 0 (characters from 1) and unknown characters encode to it;
    without one, an unknown character raises UnknownCharacterError."""

    def __init__(self, text: str | Iterable[str] | None = None, vocab: Sequence[str] | Mapping[str, int] | None = None,
                 *, unk_token: str | None = None):
        if unk_token is not None and (not isinstance(unk_token, str) or not unk_token):
            raise TypeError(f"CharTokenizer: unk_token must be a non-empty str or None, got {unk_token!r}")
        if text is not None and vocab is not None:
            raise TypeError("CharTokenizer: give either a text to build the vocabulary from or vocab=, not both")
        self.unk_token = unk_token
        self._set_chars([])
        if vocab is not None:
            self._set_vocab(vocab)
        elif text is not None:
            self.build_vocab(text)

    @classmethod
    def from_text(cls, text: str | Iterable[str], *, unk_token: str | None = None) -> CharTokenizer:
        """The tokenizer of text's sorted unique characters."""
        return cls(text, unk_token=unk_token)

    def build_vocab(self, corpus: str | Iterable[str]) -> None:
        """Set the vocabulary to the sorted unique characters of corpus (a str or a list of str)."""
        chars: set[str] = set()
        for doc in _corpus(corpus, "CharTokenizer.build_vocab"):
            chars.update(doc)
        self._set_chars(sorted(chars))

    def _set_vocab(self, vocab: Sequence[str] | Mapping[str, int]) -> None:
        """Characters in id order (a sequence), or char -> id (a mapping whose ids are 0..n-1, after unk's)."""
        if isinstance(vocab, Mapping):
            first = 1 if self.unk_token is not None else 0
            order = sorted(vocab.items(), key=lambda kv: kv[1])
            if [i for _, i in order] != list(range(first, first + len(order))):
                raise TokenizerError(f"CharTokenizer: vocab ids must be {first}..{first + len(order) - 1} "
                                     f"(after the unk token's 0)" if first else
                                     f"CharTokenizer: vocab ids must be 0..{len(order) - 1}, each once")
            chars = [c for c, _ in order]
        elif isinstance(vocab, str):
            chars = list(vocab)
        else:
            chars = list(vocab)
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise TokenizerError(f"CharTokenizer: vocab entries must be single characters, got {bad[0]!r}")
        dup = [c for c, n in Counter(chars).items() if n > 1]
        if dup:
            raise TokenizerError(f"CharTokenizer: character {dup[0]!r} appears twice in vocab")
        self._set_chars(chars)

    def _set_chars(self, chars: list[str]) -> None:
        if self.unk_token is not None:
            chars = [c for c in chars if c != self.unk_token]
            self._itos = [self.unk_token, *chars]
        else:
            self._itos = list(chars)
        self.chars = chars  # the characters, in id order (without the unk token)
        self._stoi = {c: i for i, c in enumerate(self._itos) if len(c) == 1 and (self.unk_token is None or i > 0)}
        self._unk_id = 0 if self.unk_token is not None else None

    @property
    def vocab_size(self) -> int:
        """The number of ids (the characters, plus the unk token when there is one)."""
        return len(self._itos)

    @property
    def vocab(self) -> list[str]:
        """The token of every id, in id order (the unk token first when there is one)."""
        return list(self._itos)

    @property
    def stoi(self) -> dict[str, int]:
        """character -> id (nanoGPT's name)."""
        return dict(self._stoi)

    @property
    def itos(self) -> dict[int, str]:
        """id -> character (nanoGPT's name)."""
        return dict(enumerate(self._itos))

    char_to_id = stoi  # the course's names
    id_to_char = itos

    @property
    def unk_id(self) -> int | None:
        """The id unknown characters encode to (0), or None when they raise."""
        return self._unk_id

    def encode(self, text: str) -> list[int]:
        """The id of every character of text."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: takes a str, got {type(text).__name__}")
        stoi = self._stoi
        if self._unk_id is not None:
            unk = self._unk_id
            return [stoi.get(c, unk) for c in text]
        try:
            return [stoi[c] for c in text]
        except KeyError:
            pos, ch = next((p, c) for p, c in enumerate(text) if c not in stoi)
            known = "".join(self._itos)
            raise UnknownCharacterError(
                f"CharTokenizer.encode: character {ch!r} (U+{ord(ch):04X}) at position {pos} is not in the "
                f"vocabulary of {self.vocab_size} characters {known[:80]!r}{'...' if len(known) > 80 else ''}; "
                "build the tokenizer from a text that contains it, or pass unk_token='<UNK>'") from None

    def decode(self, ids: Any) -> str:
        """The characters of ids (a list, numpy array or Tensor of ints)."""
        lst = _as_ids(ids, "CharTokenizer.decode")
        _check_range(lst, len(self._itos), "CharTokenizer.decode")
        itos = self._itos
        return "".join([itos[i] for i in lst])

    def to_dict(self) -> dict[str, Any]:
        """{"type": "CharTokenizer", "version", "chars": the characters in id order, "unk_token"}."""
        return {"type": "CharTokenizer", "version": FORMAT_VERSION, "chars": self.chars, "unk_token": self.unk_token}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        """The CharTokenizer a to_dict() describes."""
        return cls(vocab=list(data["chars"]), unk_token=data.get("unk_token"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self._itos == other._itos and self.unk_token == other.unk_token

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        unk = f", unk_token={self.unk_token!r}" if self.unk_token is not None else ""
        return f"CharTokenizer(vocab_size={self.vocab_size}{unk})"


# BPETokenizer ----------------------------------------------------------------------------------------------------
class _TrainMethod:
    """`BPETokenizer.train(text, vocab_size)` makes and returns a trained tokenizer; `tok.train(corpus)` (the
    course's form) trains tok itself to its vocab_size and returns it."""

    def __get__(self, obj: Any, cls: Any) -> Any:
        if obj is None:
            def train(text: str | Iterable[str], vocab_size: int, special_tokens: Iterable[str] | None = None,
                      **kw: Any) -> BPETokenizer:
                return cls(vocab_size, special_tokens=special_tokens, **kw)._train(text, None, None)
            train.__doc__ = BPETokenizer._train.__doc__
            return train

        def train_self(corpus: str | Iterable[str], vocab_size: int | None = None,
                       special_tokens: Iterable[str] | None = None) -> BPETokenizer:
            return obj._train(corpus, vocab_size, special_tokens)  # type: ignore[no-any-return]
        train_self.__doc__ = BPETokenizer._train.__doc__
        return train_self


def _merge(word: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """word with every non-overlapping occurrence of pair (left to right) replaced by new_id."""
    a, b = pair
    out, i, n = [], 0, len(word)
    while i < n:
        if i < n - 1 and word[i] == a and word[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def _has_surrogate(text: str) -> bool:
    """Whether text holds a lone surrogate code point (U+D800..U+DFFF)."""
    return re.search("[\ud800-\udfff]", text) is not None


def _surrogate_error(text: str, who: str) -> TokenizerError:
    """The error for a text holding a lone surrogate, naming the first one and its position in text."""
    m = re.search("[\ud800-\udfff]", text)
    pos = m.start() if m else -1
    return TokenizerError(f"{who}: the text holds a lone surrogate {text[pos]!r} at position {pos}, which is not a "
                          "character UTF-8 can encode (a str decoded with errors='surrogateescape', or sliced "
                          "inside a surrogate pair?)")


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding like GPT-2: ids 0..255 are the bytes, then one id per learned merge
    (in the order learned), then the special tokens. `BPETokenizer.train(text, vocab_size,
    special_tokens=["<|endoftext|>"])` learns vocab_size - 256 - len(special_tokens) merges; the course's
    `BPETokenizer(vocab_size=1000)` then `tok.train(corpus)` does the same. Every str round-trips exactly."""

    train = _TrainMethod()

    def __init__(self, vocab_size: int = 1000, special_tokens: Iterable[str] | Mapping[str, int] | None = None,
                 pattern: str = GPT2_SPLIT_PATTERN):
        if not isinstance(vocab_size, (int, np.integer)) or isinstance(vocab_size, bool):
            raise TypeError(f"BPETokenizer: vocab_size must be an int, got {type(vocab_size).__name__}")
        self.target_vocab_size = int(vocab_size)  # what train aims for (vocab_size is what there is)
        self.pattern = pattern
        try:
            self._pat = re.compile(pattern)
        except re.error as e:
            raise TokenizerError(f"BPETokenizer: the split pattern does not compile with Python's re ({e}): "
                                 f"{pattern!r}") from None
        self._set_merges([])
        if isinstance(special_tokens, Mapping):  # exact ids (from a file): kept as given
            self._set_special(dict(special_tokens))
        else:
            self._set_special({s: 256 + i for i, s in enumerate(dict.fromkeys(special_tokens or []))})

    # state ------------------------------------------------------------------------------------------------------
    def _set_merges(self, merges: list[tuple[int, int]]) -> None:
        """Install merges (rank order): merge r makes id 256 + r from a pair of smaller ids."""
        vocab = [bytes([i]) for i in range(256)]
        ranks: dict[tuple[int, int], int] = {}
        for r, (a, b) in enumerate(merges):
            new = 256 + r
            if not (0 <= a < new and 0 <= b < new):
                raise TokenizerError(f"BPETokenizer: merge {r} ({a}, {b}) uses an id that is not yet defined "
                                     f"(ids before it: 0..{new - 1})")
            if (a, b) in ranks:
                raise TokenizerError(f"BPETokenizer: merge {r} ({a}, {b}) repeats merge {ranks[(a, b)] - 256}")
            ranks[(a, b)] = new
            vocab.append(vocab[a] + vocab[b])
        self._merges = list(merges)
        self._ranks = ranks  # pair -> the id it makes (a smaller id is an earlier, higher-priority merge)
        self._vocab = vocab  # id -> bytes, for the byte and merge ids
        self._cache: dict[str, tuple[int, ...]] = {}

    def _set_special(self, special: dict[str, int]) -> None:
        """Install special tokens: their ids must follow the merge ids, each once."""
        n = 256 + len(self._merges)
        for s in special:
            if not isinstance(s, str) or not s:
                raise TokenizerError(f"BPETokenizer: a special token must be a non-empty str, got {s!r}")
        ids = sorted(special.values())
        if ids != list(range(n, n + len(ids))):
            raise TokenizerError(f"BPETokenizer: special token ids {ids} must be {n}..{n + len(ids) - 1} "
                                 f"(right after the {n} byte and merge ids)")
        self.special_tokens = dict(special)
        self._special_bytes = {i: s.encode("utf-8") for s, i in special.items()}
        by_len = sorted(special, key=lambda s: (-len(s), s))  # the longest special token wins where they overlap
        self._special_re = re.compile("(" + "|".join(re.escape(s) for s in by_len) + ")") if by_len else None

    @property
    def merges(self) -> dict[tuple[int, int], int]:
        """(id, id) -> the id their merge makes, in the order learned (minbpe's layout)."""
        return dict(self._ranks)

    @property
    def vocab(self) -> dict[int, bytes]:
        """id -> the bytes it stands for (special tokens: their UTF-8)."""
        out = dict(enumerate(self._vocab))
        out.update(self._special_bytes)
        return out

    id_to_token = vocab  # the course's names

    @property
    def token_to_id(self) -> dict[bytes, int]:
        """bytes -> id (special tokens by their UTF-8)."""
        return {b: i for i, b in self.vocab.items()}

    @property
    def vocab_size(self) -> int:
        """The number of ids: 256 bytes + the merges + the special tokens."""
        return 256 + len(self._merges) + len(self.special_tokens)

    @property
    def eot_token(self) -> int | None:
        """The id of "<|endoftext|>" when it is a special token (tiktoken's name), else None."""
        return self.special_tokens.get("<|endoftext|>")

    def add_special_tokens(self, tokens: Iterable[str]) -> list[int]:
        """Give each new token in tokens the next free id (after the existing ones); returns the ids of tokens."""
        special = dict(self.special_tokens)
        for s in tokens:
            if s not in special:
                special[s] = 256 + len(self._merges) + len(special)
        self._set_special(special)
        return [special[s] for s in tokens]

    # training ---------------------------------------------------------------------------------------------------
    def _train(self, corpus: str | Iterable[str], vocab_size: int | None,
               special_tokens: Iterable[str] | None) -> BPETokenizer:
        """Learn merges from corpus (a str or a list of str) until vocab_size ids (256 bytes + merges + special
        tokens); returns the tokenizer. Each step merges the most frequent adjacent pair (ties: the smallest
        pair of ids), counted over the pre-tokenized chunks; special tokens in the text are not learned from."""
        if vocab_size is not None:
            if not isinstance(vocab_size, (int, np.integer)) or isinstance(vocab_size, bool):
                raise TypeError(f"BPETokenizer.train: vocab_size must be an int, got {type(vocab_size).__name__}")
            self.target_vocab_size = int(vocab_size)
        specials = list(dict.fromkeys(special_tokens if special_tokens is not None else
                                      sorted(self.special_tokens, key=self.special_tokens.__getitem__)))
        n_merges = self.target_vocab_size - 256 - len(specials)
        if n_merges < 0:
            raise TokenizerError(f"BPETokenizer.train: vocab_size {self.target_vocab_size} is smaller than the 256 "
                                 f"byte ids plus {len(specials)} special tokens")
        docs = _corpus(corpus, "BPETokenizer.train")
        split = re.compile("|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True))) if specials \
            else None
        counts: Counter[str] = Counter()
        for doc in docs:
            for seg in (split.split(doc) if split else [doc]):
                counts.update(self._pat.findall(seg))
        try:
            words = [list(c.encode("utf-8")) for c in counts]
        except UnicodeEncodeError:
            raise _surrogate_error(next(d for d in docs if _has_surrogate(d)), "BPETokenizer.train") from None
        freqs = list(counts.values())
        merges = self._learn(words, freqs, n_merges)
        self._set_merges(merges)
        self._set_special({s: 256 + len(merges) + i for i, s in enumerate(specials)})
        if len(merges) < n_merges:
            warnings.warn(f"BPETokenizer.train: the text has only enough distinct pairs for {len(merges)} merges, "
                          f"not {n_merges}: vocab_size is {self.vocab_size}, not {self.target_vocab_size}",
                          stacklevel=3)
        return self

    @staticmethod
    def _learn(words: list[list[int]], freqs: list[int], n_merges: int) -> list[tuple[int, int]]:
        """The first n_merges merges of byte-pair encoding over the unique chunks `words` (byte ids, rewritten in
        place) occurring freqs times. Pair counts are kept incrementally: a merge re-counts only the chunks
        that contain the merged pair (found through a pair -> chunk index), and a heap of (-count, pair)
        entries, stale ones skipped when popped, gives the most frequent pair."""
        count: dict[tuple[int, int], int] = {}
        where: dict[tuple[int, int], set[int]] = {}
        for wi, w in enumerate(words):
            f = freqs[wi]
            for p in zip(w, w[1:]):
                count[p] = count.get(p, 0) + f
                s = where.get(p)
                if s is None:
                    where[p] = {wi}
                else:
                    s.add(wi)
        heap = [(-c, p) for p, c in count.items()]
        heapq.heapify(heap)
        merges: list[tuple[int, int]] = []
        while len(merges) < n_merges and heap:
            neg, pair = heapq.heappop(heap)
            if count.get(pair, 0) != -neg:
                continue  # a stale entry: the pair's count changed after it was pushed
            new_id = 256 + len(merges)
            merges.append(pair)
            delta: dict[tuple[int, int], int] = {}
            for wi in where.pop(pair):
                w, f = words[wi], freqs[wi]
                nw = _merge(w, pair, new_id)
                old_pairs, new_pairs = Counter(zip(w, w[1:])), Counter(zip(nw, nw[1:]))
                for p, k in old_pairs.items():
                    delta[p] = delta.get(p, 0) - k * f
                    if p not in new_pairs and p != pair:
                        where[p].discard(wi)
                for p, k in new_pairs.items():
                    delta[p] = delta.get(p, 0) + k * f
                    if p not in old_pairs:
                        s = where.get(p)
                        if s is None:
                            where[p] = {wi}
                        else:
                            s.add(wi)
                words[wi] = nw
            for p, d in delta.items():
                if d == 0:
                    continue
                c = count.get(p, 0) + d
                if c > 0:
                    count[p] = c
                    heapq.heappush(heap, (-c, p))
                else:
                    count.pop(p, None)
                    if p in where and not where[p]:
                        del where[p]
        return merges

    # encoding ---------------------------------------------------------------------------------------------------
    def _bpe(self, chunk: str) -> tuple[int, ...]:
        """The ids of one pre-tokenized chunk: its UTF-8 bytes, then the learned merges, earliest first."""
        ids = list(chunk.encode("utf-8"))
        ranks = self._ranks
        while len(ids) > 1:
            best, best_id = None, None
            for p in zip(ids, ids[1:]):
                r = ranks.get(p)
                if r is not None and (best_id is None or r < best_id):
                    best, best_id = p, r
            if best is None or best_id is None:
                break
            ids = _merge(ids, best, best_id)
        return tuple(ids)

    def encode_ordinary(self, text: str) -> list[int]:
        """The ids of text with special-token strings treated as ordinary text."""
        if not isinstance(text, str):
            raise TypeError(f"BPETokenizer.encode: takes a str, got {type(text).__name__}")
        cache = self._cache
        out: list[int] = []
        for chunk in self._pat.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                try:
                    ids = self._bpe(chunk)
                except UnicodeEncodeError:
                    raise _surrogate_error(text, "BPETokenizer.encode") from None
                if len(cache) >= ENCODE_CACHE_SIZE:
                    cache.clear()
                cache[chunk] = ids
            out.extend(ids)
        return out

    def encode(self, text: str, allowed_special: str | Iterable[str] = "all") -> list[int]:
        """The ids of text. allowed_special: "all" (default) encodes every special token found in text as its
        single id; a set of names only those; "none" treats them as ordinary text; "none_raise" raises
        TokenizerError when text contains one (tiktoken's guard against special tokens in user text)."""
        if not isinstance(text, str):
            raise TypeError(f"BPETokenizer.encode: takes a str, got {type(text).__name__}")
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special in ("none", "none_raise"):
            allowed = set()
            if allowed_special == "none_raise":
                found = [s for s in self.special_tokens if s in text]
                if found:
                    raise TokenizerError(f"BPETokenizer.encode: the text contains the special token {found[0]!r}; "
                                         "pass allowed_special='all' (or a set naming it) to encode it as its id, "
                                         "or 'none' to encode it as ordinary text")
        elif isinstance(allowed_special, str):
            raise TokenizerError(f"BPETokenizer.encode: allowed_special must be 'all', 'none', 'none_raise' or a "
                                 f"set of special tokens, got {allowed_special!r}")
        else:
            allowed = set(allowed_special)
            unknown = allowed - set(self.special_tokens)
            if unknown:
                raise TokenizerError(f"BPETokenizer.encode: {sorted(unknown)} are not special tokens of this "
                                     f"tokenizer ({sorted(self.special_tokens) or 'it has none'})")
        if not allowed:
            return self.encode_ordinary(text)
        if allowed == set(self.special_tokens) and self._special_re is not None:
            pat = self._special_re
        else:
            pat = re.compile("(" + "|".join(re.escape(s) for s in sorted(allowed, key=lambda s: (-len(s), s))) + ")")
        out: list[int] = []
        for k, part in enumerate(pat.split(text)):
            if k % 2:
                out.append(self.special_tokens[part])
            elif part:
                out.extend(self.encode_ordinary(part))
        return out

    # decoding ---------------------------------------------------------------------------------------------------
    def _byte_pieces(self, ids: list[int]) -> list[bytes]:
        n = self.vocab_size
        _check_range(ids, n, "BPETokenizer.decode")
        vocab, special, nb = self._vocab, self._special_bytes, len(self._vocab)
        return [vocab[i] if i < nb else special[i] for i in ids]

    def decode_bytes(self, ids: Any) -> bytes:
        """The exact bytes ids stand for (special tokens as their UTF-8), with no decoding to str."""
        return b"".join(self._byte_pieces(_as_ids(ids, "BPETokenizer.decode_bytes")))

    def decode(self, ids: Any, errors: str = "replace") -> str:
        """The text of ids: their bytes decoded as UTF-8; an incomplete or invalid sequence becomes U+FFFD
        (errors="replace", like GPT-2; "strict" raises instead)."""
        return b"".join(self._byte_pieces(_as_ids(ids, "BPETokenizer.decode"))).decode("utf-8", errors=errors)

    def decode_stream(self, ids: Iterable[int]) -> Iterator[str]:
        """Text pieces as the ids come: a character split over several ids is yielded once its last byte
        arrives (what to print while generating); invalid bytes become U+FFFD."""
        dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for i in ids:
            piece = dec.decode(b"".join(self._byte_pieces(_as_ids(i, "BPETokenizer.decode_stream"))))
            if piece:
                yield piece
        tail = dec.decode(b"", final=True)
        if tail:
            yield tail

    # files ------------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """{"type": "BPETokenizer", "version", "pattern", "merges": [[a, b], ...] in order (merge r makes id
        256 + r), "special_tokens": {token: id}}."""
        return {"type": "BPETokenizer", "version": FORMAT_VERSION, "pattern": self.pattern,
                "merges": [list(p) for p in self._merges], "special_tokens": dict(self.special_tokens)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BPETokenizer:
        """The BPETokenizer a to_dict() describes."""
        merges = [(int(a), int(b)) for a, b in data["merges"]]
        special = {str(s): int(i) for s, i in data.get("special_tokens", {}).items()}
        tok = cls(256 + len(merges) + len(special), pattern=data.get("pattern", GPT2_SPLIT_PATTERN))
        tok._set_merges(merges)
        tok._set_special(special)
        return tok

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BPETokenizer) and self._merges == other._merges
                and self.special_tokens == other.special_tokens and self.pattern == other.pattern)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        sp = f", special_tokens={list(self.special_tokens)}" if self.special_tokens else ""
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self._merges)}{sp})"


# the course's helpers --------------------------------------------------------------------------------------------
def create_tokenizer(strategy: str = "char", vocab_size: int = 1000,
                     corpus: str | Iterable[str] | None = None) -> Tokenizer:
    """A CharTokenizer ("char") or BPETokenizer ("bpe", trained to vocab_size when corpus is given)."""
    if strategy == "char":
        return CharTokenizer(corpus)
    if strategy == "bpe":
        tok = BPETokenizer(vocab_size)
        return tok._train(corpus, None, None) if corpus is not None else tok
    raise ValueError(f"create_tokenizer: strategy must be 'char' or 'bpe', got {strategy!r}")


def tokenize_dataset(texts: Iterable[str], tokenizer: Tokenizer, max_length: int | None = None) -> list[list[int]]:
    """tokenizer.encode of every text, each cut to its first max_length ids when max_length is given."""
    if max_length is not None and max_length < 0:
        raise ValueError(f"tokenize_dataset: max_length must be >= 0, got {max_length}")
    return [tokenizer.encode(t)[:max_length] if max_length is not None else tokenizer.encode(t)
            for t in _corpus(texts, "tokenize_dataset")]
