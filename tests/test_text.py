"""Tests of tinytorch.text: CharTokenizer, BPETokenizer, tiny shakespeare and TextWindowDataset.

Takes: strings built here (ASCII, emoji, CJK, combining marks, random code points); the real tiny
shakespeare in ../shared/data/text (skipped where absent); temporary folders for files and search paths.
Produces: pass/fail. BPE training is checked against a from-scratch reference (pair counts recomputed every
merge) on a small text; the full-size timing run is marked slow.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.data import DataLoader
from tinytorch.text import (
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    TextWindowDataset,
    TinyShakespeare,
    TokenIdError,
    Tokenizer,
    TokenizerError,
    UnknownCharacterError,
    create_tokenizer,
    load_tokenizer,
    tinyshakespeare,
    tokenize_dataset,
)
from tinytorch.text import datasets as text_datasets

SHARED_TEXT = Path(tt.__file__).resolve().parents[2] / "shared" / "data" / "text" / "tinyshakespeare.txt"
needs_shakespeare = pytest.mark.skipif(not SHARED_TEXT.is_file(), reason="../shared/data/text not present")

UNICODE_SAMPLES = [
    "",
    "hello world",
    "  leading and trailing spaces \n\n\t",
    "emoji 🌹🤖👍🏽 and a family 👨‍👩‍👧",
    "日本語のテキスト、中文，한국어",
    "combining: e\u0301 a\u0308\u0323 Z\u0335\u0336",
    "mixed: naïve café — “quotes” ½ ²³ x_y __init__ don't they're I'll",
    "\x00 nul \x7f del \u200b zero width \ufeff bom \U0010ffff last",
]


@pytest.fixture(scope="module")
def shakespeare() -> str:
    if not SHARED_TEXT.is_file():
        pytest.skip("../shared/data/text not present")
    return tinyshakespeare()


@pytest.fixture(scope="module")
def bpe_small(shakespeare: str) -> BPETokenizer:
    return BPETokenizer.train(shakespeare[:100_000], 512, special_tokens=["<|endoftext|>"])


# CharTokenizer ---------------------------------------------------------------------------------------------------
def test_char_tokenizer_vocab_is_sorted_unique_chars():
    tok = CharTokenizer("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.vocab_size == len(tok) == 8
    assert tok.encode("hello") == [sorted(set("hello world")).index(c) for c in "hello"]
    assert tok.decode(tok.encode("world hello")) == "world hello"
    assert CharTokenizer.from_text("hello world") == tok
    course = CharTokenizer()
    course.build_vocab(["hel", "lo world"])  # the course's form: a list of documents
    assert course == tok and course.char_to_id == tok.stoi and course.id_to_char == dict(enumerate(tok.chars))


@needs_shakespeare
def test_char_tokenizer_on_shakespeare_is_nanogpts(shakespeare):
    tok = CharTokenizer(shakespeare)
    chars = sorted(set(shakespeare))
    assert tok.vocab_size == 65 == len(chars)
    ids = tok.encode(shakespeare[:1000])
    assert ids == [chars.index(c) for c in shakespeare[:1000]]
    assert tok.decode(tok.encode(shakespeare)) == shakespeare


def test_char_tokenizer_decodes_lists_arrays_and_tensors():
    tok = CharTokenizer("abcdef")
    ids = tok.encode("fade")
    assert tok.decode(ids) == tok.decode(tuple(ids)) == "fade"
    for dt in (np.int32, np.int64, np.uint8):
        assert tok.decode(np.array(ids, dtype=dt)) == "fade"
    assert tok.decode(tt.tensor(ids)) == "fade"
    assert tok.decode(tt.tensor(ids, dtype=tt.int32)) == "fade"
    assert tok.decode(np.int64(2)) == tok.decode(2) == "c"
    assert tok.decode([]) == tok.decode(np.array([], dtype=np.int64)) == ""


def test_char_tokenizer_unknown_char_raises_unless_unk_is_asked():
    tok = CharTokenizer("abc")
    with pytest.raises(UnknownCharacterError, match=r"'z' \(U\+007A\) at position 2"):
        tok.encode("abzc")
    with pytest.raises(ValueError):  # also a ValueError and a KeyError
        tok.encode("é")
    unk = CharTokenizer("abc", unk_token="<UNK>")
    assert unk.vocab_size == 4 and unk.unk_id == 0 and unk.vocab[0] == "<UNK>"
    assert unk.encode("abzc") == [1, 2, 0, 3]
    assert unk.decode(unk.encode("abzc")) == "ab<UNK>c"


def test_char_tokenizer_bad_input_errors():
    tok = CharTokenizer("abc")
    with pytest.raises(TokenIdError, match=r"id 3 at position 1 is outside the vocabulary \(ids 0..2"):
        tok.decode([0, 3])
    with pytest.raises(IndexError, match="id -1"):  # never Python's negative indexing
        tok.decode([-1])
    with pytest.raises(TypeError, match="integers"):
        tok.decode([0.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        tok.decode(np.zeros((2, 2), np.int64))
    with pytest.raises(TypeError, match="str"):
        tok.encode(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TokenizerError, match="twice"):
        CharTokenizer(vocab=["a", "b", "a"])
    with pytest.raises(TokenizerError, match="single characters"):
        CharTokenizer(vocab=["ab"])


def test_char_tokenizer_save_load(tmp_path):
    for tok in (CharTokenizer("the quick brown 🦊 \n"), CharTokenizer("abc", unk_token="<UNK>"),
                CharTokenizer(vocab=["z", "a", "\ud800"])):
        tok.save(tmp_path / "c.json")
        back = CharTokenizer.load(tmp_path / "c.json")
        assert back == tok and back.vocab == tok.vocab and back.unk_token == tok.unk_token
        assert load_tokenizer(tmp_path / "c.json") == tok
    assert CharTokenizer(vocab=["z", "a"]).encode("az") == [1, 0]  # vocab= keeps the given order


# BPE: reference and round trips --------------------------------------------------------------------------------------
def _reference_bpe(text: str, n_merges: int) -> list[tuple[int, int]]:
    """Textbook BPE over the GPT-2 chunks: recount every pair before every merge; most frequent pair wins, ties
    go to the smallest pair."""
    words = [list(c.encode()) for c in re.findall(GPT2_SPLIT_PATTERN, text)]
    merges: list[tuple[int, int]] = []
    for r in range(n_merges):
        counts: Counter[tuple[int, int]] = Counter()
        for w in words:
            counts.update(zip(w, w[1:]))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        new = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(256 + r)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new.append(out)
        words = new
    return merges


def test_bpe_training_matches_a_from_scratch_reference():
    text = ("the cat sat on the mat; the rat sat on the hat. aaaa aaa aa a bbbbbb ab ab ab abab! "
            "That's what they'll say, 1234 12 34 — naïve café 🌹🌹 ") * 7 + "the end"
    tok = BPETokenizer.train(text, 256 + 60)
    assert list(tok.merges) == _reference_bpe(text, 60)
    # the training text's chunks encode to what training made of them (encoding applies merges by rank)
    chunks = re.findall(GPT2_SPLIT_PATTERN, text)
    assert sum(len(tok.encode(c)) for c in chunks) == len(tok.encode(text))


@needs_shakespeare
def test_bpe_training_matches_reference_on_shakespeare_slice(shakespeare):
    text = shakespeare[:4000]
    assert list(BPETokenizer.train(text, 256 + 40).merges) == _reference_bpe(text, 40)


@pytest.mark.parametrize("s", UNICODE_SAMPLES)
def test_bpe_round_trips_unicode(s):
    tok = BPETokenizer.train(" ".join(UNICODE_SAMPLES) * 3, 300)
    ids = tok.encode(s)
    assert tok.decode(ids) == s
    assert tok.decode_bytes(ids) == s.encode("utf-8")
    assert all(0 <= i < tok.vocab_size for i in ids)


def test_bpe_round_trips_random_code_points():
    rng = np.random.default_rng(0)
    tok = BPETokenizer.train("the quick brown fox 🦊 日本 " * 20, 276)
    for _ in range(20):
        cps = rng.integers(0, 0x110000, size=int(rng.integers(0, 60)))
        s = "".join(chr(int(c)) for c in cps if not 0xD800 <= c < 0xE000)  # lone surrogates are not text
        assert tok.decode(tok.encode(s)) == s
        assert "".join(re.findall(GPT2_SPLIT_PATTERN, s)) == s  # the chunks cover the whole text


def test_bpe_regex_split_matches_gpt2s_p_classes():
    regex = pytest.importorskip("regex")
    gpt2 = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    for s in UNICODE_SAMPLES:
        assert re.findall(GPT2_SPLIT_PATTERN, s) == gpt2.findall(s)


@needs_shakespeare
def test_bpe_compresses_and_is_deterministic(shakespeare, bpe_small):
    text = shakespeare[100_000:150_000]
    ids = bpe_small.encode(text)
    assert bpe_small.vocab_size == 512 and len(bpe_small.merges) == 255
    assert len(ids) < 0.6 * len(text.encode())  # 255 merges on English text: under 60 % of the bytes
    assert bpe_small.decode(ids) == text
    again = BPETokenizer.train(shakespeare[:100_000], 512, special_tokens=["<|endoftext|>"])
    assert again == bpe_small and again.encode(text) == ids
    assert bpe_small.vocab[256 + 0] == bytes(bpe_small.vocab[list(bpe_small.merges)[0][0]]
                                             + bpe_small.vocab[list(bpe_small.merges)[0][1]])


def test_bpe_special_tokens():
    tok = BPETokenizer.train("hello world, hello there " * 10, 270, special_tokens=["<|endoftext|>", "<|pad|>"])
    eot, pad = tok.special_tokens["<|endoftext|>"], tok.special_tokens["<|pad|>"]
    assert (eot, pad) == (268, 269) and tok.vocab_size == 270 and tok.eot_token == eot
    s = "hello<|endoftext|>world<|pad|><|pad|>"
    ids = tok.encode(s)
    assert ids.count(eot) == 1 and ids.count(pad) == 2 and tok.decode(ids) == s
    assert tok.encode(s, allowed_special={"<|endoftext|>"}).count(pad) == 0
    plain = tok.encode(s, allowed_special="none")
    assert eot not in plain and pad not in plain and tok.decode(plain) == s
    with pytest.raises(TokenizerError, match="special token '<\\|endoftext\\|>'"):
        tok.encode(s, allowed_special="none_raise")
    with pytest.raises(TokenizerError, match="not special tokens"):
        tok.encode(s, allowed_special={"<|bogus|>"})
    assert tok.encode("<|endoftext|>") == [eot]
    assert tok.add_special_tokens(["<|im_start|>", "<|pad|>"]) == [270, pad] and tok.vocab_size == 271


def test_bpe_course_form_and_helpers():
    corpus = ["low lower lowest", "new newer newest", "wide wider widest"] * 5
    tok = BPETokenizer(vocab_size=270)
    assert tok.vocab_size == 256 and tok.decode(tok.encode("low")) == "low"  # untrained: bytes
    assert tok.train(corpus) is tok and tok.vocab_size == 270
    assert tok == BPETokenizer.train(corpus, 270)
    assert isinstance(create_tokenizer("char", corpus="abc"), CharTokenizer)
    bpe = create_tokenizer("bpe", vocab_size=270, corpus=corpus)
    assert bpe == tok
    assert tokenize_dataset(["low", "newest"], bpe, max_length=2) == [bpe.encode("low")[:2], bpe.encode("newest")[:2]]
    with pytest.raises(ValueError, match="strategy"):
        create_tokenizer("word")
    with pytest.warns(UserWarning, match="only enough distinct pairs"):
        small = BPETokenizer.train("abab", 300)
    assert small.vocab_size < 300 and small.decode(small.encode("abab")) == "abab"


def test_bpe_decode_partial_utf8_and_stream():
    tok = BPETokenizer()  # bytes only: every multi-byte character spans several ids
    s = "a🌹b日"
    ids = tok.encode(s)
    assert len(ids) == 1 + 4 + 1 + 3
    assert tok.decode(ids[:3]) == "a\ufffd"  # an incomplete character: U+FFFD, like GPT-2
    assert tok.decode_bytes(ids[:3]) == s.encode()[:3]
    with pytest.raises(UnicodeDecodeError):
        tok.decode(ids[:3], errors="strict")
    pieces = list(tok.decode_stream(ids))
    assert "".join(pieces) == s and pieces == ["a", "🌹", "b", "日"]


def test_bpe_bad_input_errors():
    tok = BPETokenizer.train("some training text " * 5, 270)
    with pytest.raises(TokenIdError, match=f"id {tok.vocab_size} at position 1"):
        tok.decode([1, tok.vocab_size])
    with pytest.raises(IndexError, match="id -2"):
        tok.decode([-2])
    with pytest.raises(ValueError, match="lone surrogate '\\\\ud800' at position 3"):
        tok.encode("abc\ud800def")
    with pytest.raises(ValueError, match="lone surrogate '\\\\udfff' at position 5"):
        BPETokenizer.train(["fine", "abcde\udfff"], 300)
    with pytest.raises(TokenizerError, match="smaller than the 256 byte ids"):
        BPETokenizer.train("abc", 200)
    with pytest.raises(TypeError, match="str"):
        tok.encode(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        BPETokenizer.train(b"bytes", 300)


def test_bpe_save_load_round_trip(tmp_path):
    tok = BPETokenizer.train("¡Hola! 🌹 hello hello world, worldly words " * 10, 278, special_tokens=["<|endoftext|>"])
    tok.save(tmp_path / "bpe.json")
    back = BPETokenizer.load(tmp_path / "bpe.json")
    assert back == tok and back.merges == tok.merges and back.special_tokens == tok.special_tokens
    assert back.vocab == tok.vocab and back.vocab_size == tok.vocab_size
    s = "hello 🌹 worldly<|endoftext|>¡Hola!"
    assert back.encode(s) == tok.encode(s) and back.decode(tok.encode(s)) == s
    assert isinstance(load_tokenizer(tmp_path / "bpe.json"), BPETokenizer)
    assert isinstance(Tokenizer.load(tmp_path / "bpe.json"), BPETokenizer)
    with pytest.raises(TokenizerError, match="holds a BPETokenizer, not a CharTokenizer"):
        CharTokenizer.load(tmp_path / "bpe.json")
    data = json.loads((tmp_path / "bpe.json").read_text())
    data["merges"].append([9999, 1])
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(TokenizerError, match="bad.json.*not yet defined"):
        BPETokenizer.load(tmp_path / "bad.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="junk.json: not a tokenizer JSON file"):
        load_tokenizer(tmp_path / "junk.json")


@pytest.mark.slow
@needs_shakespeare
def test_bpe_full_shakespeare_to_1024_is_fast(shakespeare):
    t0 = time.perf_counter()
    tok = BPETokenizer.train(shakespeare, 1024)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = tok.encode(shakespeare)
    encode_s = time.perf_counter() - t0
    assert tok.vocab_size == 1024 and tok.decode(ids) == shakespeare
    assert train_s < 15, f"training took {train_s:.1f} s"
    assert encode_s < 5, f"encoding 1.1 MB took {encode_s:.1f} s"


# datasets ----------------------------------------------------------------------------------------------------------
@needs_shakespeare
def test_tinyshakespeare_splits(shakespeare):
    assert len(shakespeare) == 1115394 and shakespeare.startswith("First Citizen:")
    train, val = tinyshakespeare("train"), tinyshakespeare("val")
    assert len(train) == int(0.9 * len(shakespeare)) == 1003854 and train + val == shakespeare
    with pytest.raises(ValueError, match="split must be one of"):
        tinyshakespeare("test")
    ds = TinyShakespeare("val", block_size=32)
    assert ds.tokenizer.vocab_size == 65 and len(ds) == len(val) - 32 and ds.text == val
    x, y = ds.get_batch(4, generator=0)
    for xi, yi in zip(x.numpy(), y.numpy()):
        sx, sy = ds.tokenizer.decode(xi), ds.tokenizer.decode(yi)
        assert len(sx) == 32 and sx in val and sx[1:] == sy[:-1] and sx + sy[-1] in val


def test_tinyshakespeare_search_and_checksum(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYTORCH_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="could not find tinyshakespeare.txt") as e:
        tinyshakespeare(root=tmp_path)
    assert str(tmp_path / "text") in str(e.value)
    (tmp_path / "text").mkdir()
    bad = tmp_path / "text" / "tinyshakespeare.txt"
    bad.write_text("not shakespeare")
    with pytest.raises(FileNotFoundError, match="rejected:\n.*tinyshakespeare.txt: 15 bytes"):
        tinyshakespeare(root=tmp_path)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    assert text_datasets.search_dirs()[:2] == [tmp_path, tmp_path / "text"]
    if SHARED_TEXT.is_file():
        bad.write_bytes(SHARED_TEXT.read_bytes().replace(b"First", b"Frist", 1))  # same size, other bytes
        assert hashlib.sha256(bad.read_bytes()).hexdigest() != text_datasets.SHAKESPEARE_SHA256
        with pytest.raises(FileNotFoundError, match="sha256 does not match"):
            tinyshakespeare(root=tmp_path)
        assert tinyshakespeare() == SHARED_TEXT.read_text()  # $TINYTORCH_DATA's bad copy is skipped


def test_text_window_dataset_items_and_batches():
    tokens = np.arange(100, 150)
    ds = TextWindowDataset(tokens, block_size=8)
    assert len(ds) == 42
    x, y = ds[5]
    assert x.dtype == tt.int64 and x.shape == (8,)
    np.testing.assert_array_equal(x.numpy(), np.arange(105, 113))
    np.testing.assert_array_equal(y.numpy(), np.arange(106, 114))
    np.testing.assert_array_equal(ds[-1][1].numpy(), np.arange(142, 150))
    with pytest.raises(IndexError):
        ds[42]
    xb, yb = ds.get_batch(16, generator=tt.Generator().manual_seed(3))
    assert xb.shape == yb.shape == (16, 8) and xb.dtype == yb.dtype == tt.int64
    xn, yn = xb.numpy(), yb.numpy()
    np.testing.assert_array_equal(yn[:, :-1], xn[:, 1:])  # targets are the inputs shifted by one
    np.testing.assert_array_equal(xn - xn[:, :1], np.broadcast_to(np.arange(8), (16, 8)))  # contiguous windows
    assert xn.min() >= 100 and yn.max() <= 149
    again = ds.get_batch(16, generator=tt.Generator().manual_seed(3))[0].numpy()
    np.testing.assert_array_equal(again, xn)
    tt.manual_seed(1)
    a = ds.get_batch(4)[0].numpy()
    tt.manual_seed(1)
    np.testing.assert_array_equal(ds.get_batch(4)[0].numpy(), a)
    starts = ds.get_batch(2000, generator=7)[0].numpy()[:, 0] - 100
    assert set(starts.tolist()) == set(range(42))  # every start 0..41 is drawn, none beyond


def test_text_window_dataset_with_dataloader():
    ds = TextWindowDataset(tt.arange(30), block_size=4)
    batches = list(DataLoader(ds, batch_size=8, shuffle=True, seed=0))
    assert len(batches) == 4 and batches[0][0].shape == (8, 4) and batches[-1][0].shape == (2, 4)
    xs = np.concatenate([b[0].numpy() for b in batches])
    ys = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(xs[:, 0].tolist()) == list(range(26)) and (ys == xs + 1).all()


def test_text_window_dataset_errors():
    with pytest.raises(ValueError, match="8 tokens are too few for block_size 8"):
        TextWindowDataset(np.arange(8), block_size=8)
    TextWindowDataset(np.arange(9), block_size=8)  # exactly one window
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        TextWindowDataset(np.arange(9), block_size=0)
    with pytest.raises(ValueError, match="1-d"):
        TextWindowDataset(np.zeros((3, 3), np.int64), block_size=1)
    with pytest.raises(TypeError, match="integer ids"):
        TextWindowDataset(np.zeros(10, np.float32), block_size=2)
    ds = TextWindowDataset(list(range(10)), block_size=2)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        ds.get_batch(0)
    with pytest.raises(TypeError, match="generator"):
        ds.get_batch(2, generator="seed")
