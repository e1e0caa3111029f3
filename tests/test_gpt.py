"""tinytorch.models: the GPT against a PyTorch nanoGPT with the same weights (logits, loss, gradients,
greedy generation), the KV cache against generation without it (past block_size too), the optimizer
groups, bad input, and examples/gpt.py end to end on a tiny configuration."""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.models import GPT, GPTConfig, KVCache

from .conftest import DEVICES, close_to_torch, require_device

torch = pytest.importorskip("torch")
TF = torch.nn.functional


class _TorchAttention(torch.nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.h = c.n_head
        self.c_attn = torch.nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = torch.nn.Linear(c.n_embd, c.n_embd, bias=c.bias)

    def forward(self, x):  # type: ignore[no-untyped-def]
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in self.c_attn(x).split(C, 2))
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class _TorchBlock(torch.nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.ln_1, self.attn = torch.nn.LayerNorm(c.n_embd, bias=c.bias), _TorchAttention(c)
        self.ln_2 = torch.nn.LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = torch.nn.Sequential()
        self.mlp.c_fc = torch.nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.mlp.gelu = torch.nn.GELU(approximate="tanh")
        self.mlp.c_proj = torch.nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

    def forward(self, x):  # type: ignore[no-untyped-def]
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchGPT(torch.nn.Module):
    """nanoGPT's model, written out for the comparison."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.c = c
        self.transformer = torch.nn.ModuleDict(dict(
            wte=torch.nn.Embedding(c.vocab_size, c.n_embd), wpe=torch.nn.Embedding(c.block_size, c.n_embd),
            h=torch.nn.ModuleList([_TorchBlock(c) for _ in range(c.n_layer)]),
            ln_f=torch.nn.LayerNorm(c.n_embd, bias=c.bias)))
        self.lm_head = torch.nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx, targets=None):  # type: ignore[no-untyped-def]
        B, T = idx.shape
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
        for b in self.transformer.h:
            x = b(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else TF.cross_entropy(logits.view(B * T, -1), targets.view(-1))
        return logits, loss

    @torch.no_grad()
    def greedy(self, idx, n):  # type: ignore[no-untyped-def]
        for _ in range(n):
            logits, _ = self(idx[:, -self.c.block_size:])
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], 1)
        return idx


CFG = GPTConfig(vocab_size=23, block_size=12, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)


def _pair(cfg: GPTConfig = CFG, scale: float = 0.0, device: str | None = None) -> tuple[GPT, TorchGPT]:
    """Our model (weights optionally redrawn with std `scale`, so that greedy choices are well separated)
    and torch's with the same weights."""
    tt.manual_seed(7)
    model = GPT(cfg)
    if device is not None:
        model = model.to(device)
    if scale:
        rng = np.random.default_rng(3)
        for _, p in model.named_parameters():
            if p.ndim == 2:  # the matrices (norms keep their ones and zeros)
                    p.assign(tt.tensor(rng.normal(0, scale, p.shape).astype(np.float32), device=p.device)).realize()
    ref = TorchGPT(cfg)
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}, strict=True)
    return model, ref


def test_names_tying_and_parameter_count() -> None:
    assert tt.models.GPT is GPT and tt.models.KVCache is KVCache  # reachable as attributes, like torch's packages
    assert tt.text.CharTokenizer is not None
    model, ref = _pair()
    assert set(model.state_dict()) == set(ref.state_dict())
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.num_parameters(non_embedding=False) == sum(p.numel() for p in ref.parameters())
    assert model.num_parameters() == model.num_parameters(False) - CFG.block_size * CFG.n_embd
    sd = dict(ref.state_dict())  # nanoGPT's checkpoints also hold causal-mask buffers: skipped
    sd["transformer.h.0.attn.bias"] = torch.ones(1, 1, CFG.block_size, CFG.block_size)
    missing, unexpected = model.load_state_dict(sd)
    assert not missing and not unexpected


@pytest.mark.parametrize("device", DEVICES)
def test_logits_loss_and_gradients_match_torch(device: str) -> None:
    require_device(device)
    model, ref = _pair(device=device)
    rng = np.random.default_rng(0)
    idx, tgt = rng.integers(0, CFG.vocab_size, (3, 10)), rng.integers(0, CFG.vocab_size, (3, 10))
    logits, loss = model(tt.tensor(idx, device=device), tt.tensor(tgt, device=device))
    rlogits, rloss = ref(torch.tensor(idx), torch.tensor(tgt))
    close_to_torch(logits, rlogits, rtol=1e-4, atol=1e-5)
    close_to_torch(loss, rloss, rtol=1e-5, atol=1e-6)
    assert model(tt.tensor(idx, device=device))[1] is None
    loss.backward()
    rloss.backward()
    refs = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        close_to_torch(p.grad, refs[name].grad, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("device", ["C", "LLVM"])
def test_generation_with_cache_equals_without_and_torch_past_block_size(device: str) -> None:
    require_device(device)
    model, ref = _pair(scale=0.5, device=device)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    n = 2 * CFG.block_size + 3  # well past the context: the window slides
    cached = model.generate(tt.tensor(prompt), n, top_k=1, use_cache=True).numpy()
    plain = model.generate(tt.tensor(prompt), n, top_k=1, use_cache=False).numpy()
    want = ref.greedy(torch.tensor(prompt), n).numpy()
    assert cached.shape == (2, 3 + n)
    np.testing.assert_array_equal(cached, plain)
    np.testing.assert_array_equal(cached, want)
    assert len(set(cached[0, 3:].tolist())) > 2, "a degenerate model makes this comparison weak"


def test_generation_prompt_longer_than_block_size_and_sampling() -> None:
    model, ref = _pair(scale=0.5)
    prompt = np.arange(20).reshape(1, 20) % CFG.vocab_size  # longer than block_size: only the window counts
    a = model.generate(prompt, 5, top_k=1).numpy()
    np.testing.assert_array_equal(a, ref.greedy(torch.tensor(prompt), 5).numpy())
    np.testing.assert_array_equal(model.generate(prompt, 5, temperature=0).numpy(), a)
    s1 = model.generate(prompt, 8, temperature=1.0, top_k=3, generator=5).numpy()
    s2 = model.generate(prompt, 8, temperature=1.0, top_k=3, generator=5).numpy()
    np.testing.assert_array_equal(s1, s2)  # a seed repeats
    assert ((0 <= s1) & (s1 < CFG.vocab_size)).all()
    streamed = np.stack(list(model.generate_tokens(prompt, 8, temperature=1.0, top_k=3, generator=5)), 1)
    np.testing.assert_array_equal(streamed, s1[:, 20:])
    assert model.training, "generate leaves the model in the mode it found"


def test_top_k_keeps_only_the_k_most_likely() -> None:
    from tinytorch.models.gpt import _sample

    logits = np.array([[0.0, 5.0, 4.9, -1.0, 4.8]])
    draws = {int(_sample(logits, 1.0, 2, np.random.default_rng(i))[0]) for i in range(200)}
    assert draws == {1, 2}
    assert int(_sample(logits, 1.0, 1, np.random.default_rng(0))[0]) == 1


def test_kv_cache_update_get_valid_advance_reset_and_memory() -> None:
    c = KVCache(batch_size=1, max_seq_len=6, num_layers=2, num_heads=2, head_dim=3)
    assert c.memory_bytes() == 2 * 2 * 1 * 2 * 6 * 3 * 4
    use = c.get_memory_usage()
    assert use["cache_tensors"] == 4 and use["total_elements"] == 4 * 36 and use["total_mb"] == c.memory_bytes() / 2**20
    assert all(k.shape == (1, 2, 6, 3) for kv in c.caches for k in kv)
    k = tt.arange(12, dtype="float32").reshape(1, 2, 2, 3)
    c.update(1, k, -k, 2)  # positions 2 and 3
    got_k, got_v = (t.numpy() for t in c.buffers(1))
    np.testing.assert_array_equal(got_k[:, :, 2:4], k.numpy())
    np.testing.assert_array_equal(got_v[:, :, 2:4], -k.numpy())
    assert not got_k[:, :, :2].any() and not got_k[:, :, 4:].any()
    assert c.get(1)[0].shape == (1, 2, 4, 3) and c.get(0)[0].shape == (1, 2, 0, 3)  # the valid prefix
    c.update(1, k[:, :, :1] + 100, k[:, :, :1], tt.tensor(5, dtype="int32"))  # a tensor position
    assert (c.buffers(1)[0].numpy()[:, :, 5] == k.numpy()[:, :, 0] + 100).all()
    np.testing.assert_array_equal(c.valid(tt.tensor(2, dtype="int32"), 2).numpy(),
                                  np.arange(6)[None, :] <= 2 + np.arange(2)[:, None])
    c.reset()  # the course's loop: update every layer at seq_pos, then advance
    for step in range(3):
        for layer in range(2):
            c.update(layer, k[:, :, :1] + step, k[:, :, :1] - step)
        c.advance()
    kk, vv = c.get(0)
    assert c.seq_pos == 3 and kk.shape == (1, 2, 3, 3)
    np.testing.assert_array_equal(kk.numpy()[:, :, 2], k.numpy()[:, :, 0] + 2)
    c.reset()
    assert c.seq_pos == 0 and c.get(0)[0].shape[2] == 0 and "KVCache(" in repr(c)
    with pytest.raises(ValueError, match="must both be"):
        c.update(0, tt.zeros(1, 3, 1, 3), tt.zeros(1, 3, 1, 3), 0)
    with pytest.raises(IndexError):
        c.update(0, k, k, 5)  # 5..6 does not fit max_seq_len 6
    with pytest.raises(IndexError):
        c.update(2, k, k, 0)
    with pytest.raises(IndexError):
        c.advance(7)
    with pytest.raises(ValueError):
        KVCache(1, 0, 1, 1, 1)


def test_configure_optimizers_decays_matrices_only() -> None:
    model = GPT(CFG)
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.95))
    assert isinstance(opt, tt.optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim == 2 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    assert model.configure_optimizers(0.1, 3e-4, (0.9, 0.99), "cpu").param_groups[0]["lr"] == 3e-4  # nanoGPT's call
    assert model.configure_optimizers(0.0, lr=5e-4, betas=(0.8, 0.9)).param_groups[1]["betas"] == (0.8, 0.9)
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(dict.fromkeys(model.parameters())))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="vocab_size"):
        GPTConfig(vocab_size=0)
    model = GPT(CFG)
    with pytest.raises(ValueError, match="block_size"):
        model(tt.zeros(1, CFG.block_size + 1, dtype="int64"))
    with pytest.raises(IndexError):
        model(tt.tensor([[0, CFG.vocab_size]]))
    with pytest.raises(IndexError, match="token ids"):
        model.generate([[CFG.vocab_size]], 1)
    with pytest.raises(ValueError, match="temperature"):
        model.generate([[1]], 1, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        model.generate([[1]], 1, top_k=0)
    with pytest.raises(ValueError, match="shape"):
        model.generate([1, 2], 1)


def test_example_trains_saves_and_samples(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    try:
        import gpt as example  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    ckpt = str(tmp_path / "g.safetensors")
    val = example.main(["--quick", "--no-progress", "--steps", "40", "--lr", "1e-2", "--checkpoint", ckpt])
    assert isinstance(val, float) and val < math.log(65) - 0.5  # well below a uniform guess over 65 characters
    out = capsys.readouterr().out
    assert "val loss" in out and "--- sample ---" in out
    text = example.main(["--sample", "--checkpoint", ckpt, "--prompt", "ROMEO:", "--max-new-tokens", "20"])
    assert isinstance(text, str) and text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 20


def test_embedding_indices_are_checked_on_every_jit_replay() -> None:
    emb = tt.nn.Embedding(10, 4)

    @tt.jit
    def f(i: tt.Tensor) -> tt.Tensor:
        return emb(i) * 2

    for _ in range(3):
        f(tt.tensor([[1, 2]]))
    with pytest.raises(IndexError, match="out of range"):
        f(tt.tensor([[11, 2]]))  # a replay: no Python runs per op, the check still does
    with pytest.raises(IndexError, match="out of range"):
        f(tt.tensor([[-1, 2]]))
    np.testing.assert_allclose(f(tt.tensor([[3, 2]])).numpy(), emb.weight.numpy()[[[3, 2]]] * 2)


def test_large_gather_inside_jit_is_not_captured_as_a_constant() -> None:
    w = tt.randn(600, 32)

    @tt.jit
    def g(i: tt.Tensor) -> tt.Tensor:
        return w[i] * 2

    rng = np.random.default_rng(0)
    for _ in range(4):
        idx = rng.integers(0, 600, (1, 900))
        np.testing.assert_allclose(g(tt.tensor(idx)).numpy(), w.numpy()[idx] * 2)
