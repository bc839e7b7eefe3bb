"""A decoder-only twin of the `mu` encoder–decoder, in llama's architecture (issue 19).

It reads `query <s> program </s>` left to right: the query tokens, the
decoder start token `<s>` as the separator, then the action program. The loss
covers the program and its end only, as the encoder–decoder's does.

The layers are exactly what knob's `llama` engine runs (src/model/llama.rs):
pre-RMSNorm attention and SwiGLU FFN, no biases, RoPE on adjacent pairs
(2i, 2i+1), grouped-query attention, the output tied to `token_embd`.
Parameters are keyed by the llama GGUF tensor names ("blk.0.attn_q.weight");
linear weights are stored [in, out] like model.py's.

Training reuses train.py's batches unchanged: a row is the encoder's
right-padded query followed by the decoder's input, so padding sits between
query and program. Pad keys are masked and positions count real tokens only,
so every program token sees the RoPE position it has at inference (no padding).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .model import NO_DROPOUT, Dropout

ARCH = "dec"  # the "arch" field of a decoder-only checkpoint's config JSON


@dataclass(frozen=True)
class DecConfig:
    n_vocab: int
    d_model: int = 128
    d_ff: int = 512
    n_layer: int = 6
    n_head: int = 4
    n_head_kv: int = 2
    enc_ctx: int = 48  # longest query, as the encoder–decoder's encoder
    dec_ctx: int = 24  # longest program, start token included
    eps: float = 1e-5
    rope_base: float = 10000.0

    def __post_init__(self):
        if self.d_model % self.n_head or (self.d_model // self.n_head) % 2 or self.n_head % self.n_head_kv:
            raise ValueError(f"bad heads: d_model {self.d_model}, n_head {self.n_head}, n_head_kv {self.n_head_kv}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    @property
    def n_ctx(self) -> int:
        """The whole sequence: query, separator and program."""
        return self.enc_ctx + self.dec_ctx

    def to_dict(self) -> dict:
        return {"arch": ARCH, **asdict(self)}


LIN = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]


def linear_shape(c: DecConfig, name: str) -> tuple[int, int]:
    kv = c.n_head_kv * c.d_head
    return {
        "attn_q": (c.d_model, c.d_model), "attn_k": (c.d_model, kv), "attn_v": (c.d_model, kv),
        "attn_output": (c.d_model, c.d_model), "ffn_gate": (c.d_model, c.d_ff), "ffn_up": (c.d_model, c.d_ff),
        "ffn_down": (c.d_ff, c.d_model),
    }[name]


def count_params(c: DecConfig) -> int:
    per_layer = sum(a * b for a, b in (linear_shape(c, l) for l in LIN)) + 2 * c.d_model
    return c.n_layer * per_layer + c.n_vocab * c.d_model + c.d_model


def count_encdec_params(cfg) -> int:
    """Parameters of a model.Config (same count as model.init_params)."""
    d, kv, f = cfg.d_model, cfg.n_head_kv * cfg.d_head, cfg.d_ff
    attn = 2 * d * d + 2 * d * kv
    ffn = 3 * d * f
    enc = cfg.n_enc * (attn + ffn + 4 * 2 * d)
    dec = cfg.n_dec * (2 * attn + ffn + 6 * 2 * d)
    return enc + dec + 2 * 2 * d + cfg.n_vocab * d


def matched(cfg) -> DecConfig:
    """The decoder-only model of the encoder–decoder `cfg`'s size (within 5%): same
    width, heads, vocabulary and contexts; the depth and FFN width (a multiple
    of 32, for Q8_0) that come closest, preferring an FFN as wide as `cfg`'s."""
    target = count_encdec_params(cfg)
    best = None
    for n_layer in range(1, 4 * (cfg.n_enc + cfg.n_dec) + 1):
        for d_ff in range(32, 4 * cfg.d_ff + 1, 32):
            c = DecConfig(n_vocab=cfg.n_vocab, d_model=cfg.d_model, d_ff=d_ff, n_layer=n_layer,
                          n_head=cfg.n_head, n_head_kv=cfg.n_head_kv, enc_ctx=cfg.enc_ctx,
                          dec_ctx=cfg.dec_ctx, eps=cfg.eps, rope_base=cfg.rope_base)
            gap = abs(count_params(c) - target) / target
            if gap > 0.02:
                continue
            key = (abs(d_ff - cfg.d_ff) / cfg.d_ff + gap, gap)
            if best is None or key < best[0]:
                best = (key, c)
    if best is None:
        raise ValueError(f"no decoder-only shape within 2% of {target} parameters")
    return best[1]


def init_params(cfg: DecConfig, key) -> dict:
    p = {}
    keys = iter(jax.random.split(key, 1024))
    # Output projections start small (GPT-2's 1/sqrt(2 * layers)): there are no
    # post-norms here to damp the residual branches as mu's Dual LayerNorm does.
    out_scale = 1.0 / math.sqrt(2 * cfg.n_layer)
    for i in range(cfg.n_layer):
        for l in LIN:
            shape = linear_shape(cfg, l)
            scale = out_scale if l in ("attn_output", "ffn_down") else 1.0
            p[f"blk.{i}.{l}.weight"] = jax.random.normal(next(keys), shape, jnp.float32) * (scale / math.sqrt(shape[0]))
        p[f"blk.{i}.attn_norm.weight"] = jnp.ones((cfg.d_model,), jnp.float32)
        p[f"blk.{i}.ffn_norm.weight"] = jnp.ones((cfg.d_model,), jnp.float32)
    p["output_norm.weight"] = jnp.ones((cfg.d_model,), jnp.float32)
    p["token_embd.weight"] = jax.random.normal(next(keys), (cfg.n_vocab, cfg.d_model), jnp.float32) * (2.0 / math.sqrt(cfg.d_model))
    return p


def rms_norm(x, w, eps):
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), -1, keepdims=True) + eps) * w


def rope(x, pos, base):
    """llama.cpp's "normal" RoPE: dim 2i pairs with 2i + 1 (not NeoX's i + d/2, as
    mu uses); theta_i = pos * base^(-2i/d). x: [B, T, H, D], pos: [B, T]."""
    d = x.shape[-1]
    inv = base ** (-2.0 * jnp.arange(d // 2, dtype=jnp.float32) / d)
    ang = pos[..., None].astype(jnp.float32) * inv  # [B, T, d/2]
    cos = jnp.cos(ang)[:, :, None, :]
    sin = jnp.sin(ang)[:, :, None, :]
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return jnp.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).reshape(x.shape)


def _mm(x, w):
    return x @ w


# Every linear map goes through MATMUL, so a golden run can simulate the
# engine's int8 activations (golden_dec.py). Training uses the plain product.
MATMUL = _mm


def forward_seq(cfg: DecConfig, p: dict, ids, pos, key_ok, drop: Dropout = NO_DROPOUT, collect: bool = False):
    """ids, pos: [B, T]; key_ok: [B, T] (False = padding). Returns logits [B, T, vocab]."""
    B, T = ids.shape
    H, Hkv, D = cfg.n_head, cfg.n_head_kv, cfg.d_head
    x = drop(p["token_embd.weight"][ids])
    mask = jnp.tril(jnp.ones((T, T), bool))[None, None] & key_ok[:, None, None, :]
    layers = []
    for i in range(cfg.n_layer):
        b = f"blk.{i}."
        h = rms_norm(x, p[b + "attn_norm.weight"], cfg.eps)
        q = rope(MATMUL(h, p[b + "attn_q.weight"]).reshape(B, T, H, D), pos, cfg.rope_base)
        k = rope(MATMUL(h, p[b + "attn_k.weight"]).reshape(B, T, Hkv, D), pos, cfg.rope_base)
        v = MATMUL(h, p[b + "attn_v.weight"]).reshape(B, T, Hkv, D)
        # GQA: query head h reads K/V head h // (H / Hkv), as llama.cpp does
        k = jnp.repeat(k, H // Hkv, axis=2)
        v = jnp.repeat(v, H // Hkv, axis=2)
        s = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(D)
        a = jax.nn.softmax(jnp.where(mask, s, -1e30), axis=-1)
        o = jnp.einsum("bhqk,bkhd->bqhd", a, v).reshape(B, T, H * D)
        x = x + drop(MATMUL(o, p[b + "attn_output.weight"]))
        h = rms_norm(x, p[b + "ffn_norm.weight"], cfg.eps)
        h = MATMUL(jax.nn.silu(MATMUL(h, p[b + "ffn_gate.weight"])) * MATMUL(h, p[b + "ffn_up.weight"]), p[b + "ffn_down.weight"])
        x = x + drop(h)
        if collect:
            layers.append(x)
    x = rms_norm(x, p["output_norm.weight"], cfg.eps)
    logits = MATMUL(x, p["token_embd.weight"].T)
    return (logits, layers) if collect else logits


def forward(cfg: DecConfig, p: dict, enc_ids, dec_ids, drop: Dropout = NO_DROPOUT):
    """The encoder–decoder's interface: enc_ids [B, Te] right-padded query,
    dec_ids [B, Td] (start token first). Returns the logits at the Td program
    positions [B, Td, vocab]."""
    seq = jnp.concatenate([enc_ids, dec_ids], axis=1)
    real = seq != 0
    pos = jnp.maximum(jnp.cumsum(real, axis=1) - 1, 0)
    logits = forward_seq(cfg, p, seq, pos, real, drop)
    return logits[:, enc_ids.shape[1]:]


def greedy(cfg: DecConfig, p: dict, enc_ids, bos: int, eos: int, max_len: int):
    """Greedy decoding (recomputes the sequence each step; fine for evaluation). Returns [B, max_len]."""
    B = enc_ids.shape[0]
    dec = jnp.zeros((B, max_len + 1), jnp.int32).at[:, 0].set(bos)

    def step(t, dec):
        logits = forward(cfg, p, enc_ids, dec[:, :-1])
        nxt = jnp.argmax(logits[:, t, :], -1).astype(jnp.int32)
        idx = jnp.arange(max_len + 1)[None, :]
        done = jnp.any((dec == eos) & (idx >= 1) & (idx <= t), axis=1)
        nxt = jnp.where(done, 0, nxt)
        return dec.at[:, t + 1].set(nxt)

    dec = jax.lax.fori_loop(0, max_len, step, dec)
    return dec[:, 1:]


def n_params(p: dict) -> int:
    return int(sum(np.prod(v.shape) for v in p.values()))
