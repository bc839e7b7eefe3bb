"""The `mu` encoder-decoder in JAX, exactly as docs/mu-gguf.md specifies.

Parameters live in a flat dict keyed by the GGUF tensor names
("enc.blk.0.attn_q.weight", ...). Linear weights are stored as [in, out]
(y = x @ W); the exporter transposes them to GGUF's [out rows, in cols].
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Config:
    n_vocab: int
    d_model: int = 192
    d_ff: int = 512
    n_enc: int = 4
    n_dec: int = 2
    n_head: int = 6
    n_head_kv: int = 2
    enc_ctx: int = 48
    dec_ctx: int = 24
    eps: float = 1e-5
    rope_base: float = 10000.0

    def __post_init__(self):
        if self.d_model % self.n_head or (self.d_model // self.n_head) % 2 or self.n_head % self.n_head_kv:
            raise ValueError(f"bad heads: d_model {self.d_model}, n_head {self.n_head}, n_head_kv {self.n_head_kv}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


LINEAR_SHAPES = {  # name suffix -> (in, out) as functions of the config
    "attn_q": lambda c: (c.d_model, c.n_head * c.d_head),
    "attn_k": lambda c: (c.d_model, c.n_head_kv * c.d_head),
    "attn_v": lambda c: (c.d_model, c.n_head_kv * c.d_head),
    "attn_output": lambda c: (c.n_head * c.d_head, c.d_model),
    "cross_q": lambda c: (c.d_model, c.n_head * c.d_head),
    "cross_k": lambda c: (c.d_model, c.n_head_kv * c.d_head),
    "cross_v": lambda c: (c.d_model, c.n_head_kv * c.d_head),
    "cross_output": lambda c: (c.n_head * c.d_head, c.d_model),
    "ffn_gate": lambda c: (c.d_model, c.d_ff),
    "ffn_up": lambda c: (c.d_model, c.d_ff),
    "ffn_down": lambda c: (c.d_ff, c.d_model),
}
ENC_LIN = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
DEC_LIN = ENC_LIN[:4] + ["cross_q", "cross_k", "cross_v", "cross_output"] + ENC_LIN[4:]
ENC_NORMS = ["attn_norm", "attn_post_norm", "ffn_norm", "ffn_post_norm"]
DEC_NORMS = ["attn_norm", "attn_post_norm", "cross_norm", "cross_post_norm", "ffn_norm", "ffn_post_norm"]


def init_params(cfg: Config, key) -> dict:
    p = {}
    keys = iter(jax.random.split(key, 1024))

    def lin(name, shape, scale=1.0):
        fan_in = shape[0]
        p[name] = jax.random.normal(next(keys), shape, jnp.float32) * (scale / math.sqrt(fan_in))

    def norm(name, post=False):
        p[name + ".weight"] = jnp.full((cfg.d_model,), 0.1 if post else 1.0, jnp.float32)
        p[name + ".bias"] = jnp.zeros((cfg.d_model,), jnp.float32)

    for side, n, lins, norms in (("enc", cfg.n_enc, ENC_LIN, ENC_NORMS), ("dec", cfg.n_dec, DEC_LIN, DEC_NORMS)):
        for i in range(n):
            for l in lins:
                lin(f"{side}.blk.{i}.{l}.weight", LINEAR_SHAPES[l](cfg))
            for nm in norms:
                norm(f"{side}.blk.{i}.{nm}", post="post" in nm)
        norm(f"{side}.output_norm")
    # tied embedding: rows of norm ~2 keep the initial logits in a sane range
    p["token_embd.weight"] = jax.random.normal(next(keys), (cfg.n_vocab, cfg.d_model), jnp.float32) * (2.0 / math.sqrt(cfg.d_model))
    return p


def n_params(p: dict) -> int:
    return int(sum(np.prod(v.shape) for v in p.values()))


def layer_norm(x, w, b, eps):
    mu = jnp.mean(x, -1, keepdims=True)
    var = jnp.mean(jnp.square(x - mu), -1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + eps) * w + b


def rope(x, pos, base):
    """NeoX-style RoPE: dim i pairs with i + d/2; theta_i = pos * base^(-2i/d). x: [B, T, H, D]."""
    d = x.shape[-1]
    half = d // 2
    inv = base ** (-2.0 * jnp.arange(half, dtype=jnp.float32) / d)
    ang = pos[:, None].astype(jnp.float32) * inv[None, :]  # [T, half]
    cos = jnp.cos(ang)[None, :, None, :]
    sin = jnp.sin(ang)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def _mm(x, w):
    return x @ w


# Every linear map goes through MATMUL, so a golden run can simulate the
# engine's int8 activations (see golden.py). Training uses the plain product.
MATMUL = _mm


def attention(cfg: Config, q_in, kv_in, wq, wk, wv, wo, mask, use_rope: bool):
    """q_in: [B, Tq, d], kv_in: [B, Tk, d], mask: broadcastable to [B, H, Tq, Tk] (True = attend)."""
    B, Tq, _ = q_in.shape
    Tk = kv_in.shape[1]
    H, Hkv, D = cfg.n_head, cfg.n_head_kv, cfg.d_head
    q = MATMUL(q_in, wq).reshape(B, Tq, H, D)
    k = MATMUL(kv_in, wk).reshape(B, Tk, Hkv, D)
    v = MATMUL(kv_in, wv).reshape(B, Tk, Hkv, D)
    if use_rope:
        q = rope(q, jnp.arange(Tq), cfg.rope_base)
        k = rope(k, jnp.arange(Tk), cfg.rope_base)
    # GQA: query head h uses K/V head h // (H / Hkv) (ggml/llama.cpp broadcasting)
    rep = H // Hkv
    k = jnp.repeat(k, rep, axis=2)
    v = jnp.repeat(v, rep, axis=2)
    s = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(D)
    s = jnp.where(mask, s, -1e30)
    a = jax.nn.softmax(s, axis=-1)
    o = jnp.einsum("bhqk,bkhd->bqhd", a, v).reshape(B, Tq, H * D)
    return MATMUL(o, wo)


def ffn(x, wg, wu, wd):
    return MATMUL(jax.nn.silu(MATMUL(x, wg)) * MATMUL(x, wu), wd)


def _ln(p, name, x, eps):
    return layer_norm(x, p[name + ".weight"], p[name + ".bias"], eps)


class Dropout:
    """Training-only dropout on embeddings and residual branches; rate 0 (inference) is the identity.

    The model is small and sees the same templates many times, so without it the
    training loss goes to ~0 and unseen phrasings suffer.
    """

    def __init__(self, rate: float = 0.0, key=None):
        self.rate = rate
        self.key = key
        self.n = 0

    def __call__(self, x):
        if self.rate <= 0.0 or self.key is None:
            return x
        self.n += 1
        keep = jax.random.bernoulli(jax.random.fold_in(self.key, self.n), 1.0 - self.rate, x.shape)
        return jnp.where(keep, x / (1.0 - self.rate), 0.0)


NO_DROPOUT = Dropout()


def encode(cfg: Config, p: dict, ids, collect: bool = False, drop: Dropout = NO_DROPOUT):
    """ids: [B, T] right-padded with 0. Returns enc output [B, T, d] (and per-layer outputs)."""
    x = drop(p["token_embd.weight"][ids])
    key_ok = (ids != 0)[:, None, None, :]
    layers = []
    for i in range(cfg.n_enc):
        b = f"enc.blk.{i}."
        h = _ln(p, b + "attn_norm", x, cfg.eps)
        h = attention(cfg, h, h, p[b + "attn_q.weight"], p[b + "attn_k.weight"], p[b + "attn_v.weight"],
                      p[b + "attn_output.weight"], key_ok, True)
        x = x + drop(_ln(p, b + "attn_post_norm", h, cfg.eps))
        h = _ln(p, b + "ffn_norm", x, cfg.eps)
        h = ffn(h, p[b + "ffn_gate.weight"], p[b + "ffn_up.weight"], p[b + "ffn_down.weight"])
        x = x + drop(_ln(p, b + "ffn_post_norm", h, cfg.eps))
        if collect:
            layers.append(x)
    out = _ln(p, "enc.output_norm", x, cfg.eps)
    return (out, layers) if collect else out


def decode(cfg: Config, p: dict, enc, enc_ids, dec_ids, drop: Dropout = NO_DROPOUT, embd: str = "token_embd.weight"):
    """Teacher-forced decoder: dec_ids [B, T] (start token first). Returns logits [B, T, vocab].

    `embd` names the tied embedding: v1 shares `token_embd` with the encoder, v2
    (model_v2.py) has its own `dec.token_embd` over the action vocabulary."""
    T = dec_ids.shape[1]
    h = drop(p[embd][dec_ids])
    causal = jnp.tril(jnp.ones((T, T), bool))[None, None]
    enc_ok = (enc_ids != 0)[:, None, None, :]
    for i in range(cfg.n_dec):
        b = f"dec.blk.{i}."
        x = _ln(p, b + "attn_norm", h, cfg.eps)
        x = attention(cfg, x, x, p[b + "attn_q.weight"], p[b + "attn_k.weight"], p[b + "attn_v.weight"],
                      p[b + "attn_output.weight"], causal, True)
        h = h + drop(_ln(p, b + "attn_post_norm", x, cfg.eps))
        x = _ln(p, b + "cross_norm", h, cfg.eps)
        x = attention(cfg, x, enc, p[b + "cross_q.weight"], p[b + "cross_k.weight"], p[b + "cross_v.weight"],
                      p[b + "cross_output.weight"], enc_ok, False)
        h = h + drop(_ln(p, b + "cross_post_norm", x, cfg.eps))
        x = _ln(p, b + "ffn_norm", h, cfg.eps)
        x = ffn(x, p[b + "ffn_gate.weight"], p[b + "ffn_up.weight"], p[b + "ffn_down.weight"])
        h = h + drop(_ln(p, b + "ffn_post_norm", x, cfg.eps))
    h = _ln(p, "dec.output_norm", h, cfg.eps)
    return MATMUL(h, p[embd].T)


def forward(cfg: Config, p: dict, enc_ids, dec_ids, drop: Dropout = NO_DROPOUT):
    return decode(cfg, p, encode(cfg, p, enc_ids, drop=drop), enc_ids, dec_ids, drop=drop)


def greedy(cfg: Config, p: dict, enc_ids, bos: int, eos: int, max_len: int):
    """Greedy decoding (recomputes the decoder each step; fine for evaluation). Returns [B, max_len]."""
    B = enc_ids.shape[0]
    enc = encode(cfg, p, enc_ids)
    dec = jnp.zeros((B, max_len + 1), jnp.int32).at[:, 0].set(bos)

    def step(t, dec):
        logits = decode(cfg, p, enc, enc_ids, dec[:, :-1])
        nxt = jnp.argmax(logits[:, t, :], -1).astype(jnp.int32)
        idx = jnp.arange(max_len + 1)[None, :]
        done = jnp.any((dec == eos) & (idx >= 1) & (idx <= t), axis=1)
        nxt = jnp.where(done, 0, nxt)
        return dec.at[:, t + 1].set(nxt)

    dec = jax.lax.fori_loop(0, max_len, step, dec)
    return dec[:, 1:]
