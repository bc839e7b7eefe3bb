"""Settings model v2: the all-MiniLM-L6-v2 encoder (minilm.py) under a Mu-style decoder.

The decoder is model.py's (dual LayerNorm, NeoX RoPE on self-attention, GQA,
SwiGLU, no biases) over its own small action vocabulary, with its tied
embedding named `dec.token_embd.weight` (the BERT word embedding owns
`token_embd.weight`). Cross-attention reads the encoder's last hidden states
(width d_enc = 384), so `cross_k`/`cross_v` map d_enc -> n_head_kv * d_head.
All parameters live in one flat dict keyed by the GGUF names of docs/mu-gguf.md.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from . import minilm
from . import model as M

DEC_EMBD = "dec.token_embd.weight"


@dataclass(frozen=True)
class ConfigV2:
    bert: minilm.BertConfig
    dec: M.Config  # n_enc = 0; n_vocab is the action vocabulary; enc_ctx is the longest request in WordPiece tokens

    def to_dict(self) -> dict:
        return {"kind": "v2", "bert": self.bert.to_dict(), "dec": self.dec.to_dict()}

    @staticmethod
    def from_dict(d: dict) -> "ConfigV2":
        return ConfigV2(minilm.BertConfig(**d["bert"]), M.Config(**d["dec"]))


def dec_config(n_vocab: int, d_model=128, d_ff=512, n_dec=2, n_head=4, n_head_kv=2, enc_ctx=64, dec_ctx=32) -> M.Config:
    return M.Config(n_vocab=n_vocab, d_model=d_model, d_ff=d_ff, n_enc=0, n_dec=n_dec, n_head=n_head,
                    n_head_kv=n_head_kv, enc_ctx=enc_ctx, dec_ctx=dec_ctx)


def init_decoder(cfg: ConfigV2, key) -> dict:
    """Fresh decoder parameters (model.py's init), cross K/V widened to the encoder's width."""
    c = cfg.dec
    k1, k2 = jax.random.split(key)
    p = M.init_params(c, k1)
    p.pop("enc.output_norm.weight")
    p.pop("enc.output_norm.bias")
    p[DEC_EMBD] = p.pop("token_embd.weight")
    keys = iter(jax.random.split(k2, 2 * c.n_dec))
    d_enc = cfg.bert.d_model
    for i in range(c.n_dec):
        for n in ("cross_k", "cross_v"):
            p[f"dec.blk.{i}.{n}.weight"] = jax.random.normal(next(keys), (d_enc, c.n_head_kv * c.d_head), jnp.float32) / math.sqrt(d_enc)
    return p


def init_params(cfg: ConfigV2, bert_params: dict, key) -> dict:
    p = {k: jnp.asarray(v) for k, v in bert_params.items()}
    p.update(init_decoder(cfg, key))
    return p


def is_encoder(name: str) -> bool:
    return not name.startswith("dec.")


def encode(cfg: ConfigV2, p: dict, enc_ids, drop=M.NO_DROPOUT, collect: bool = False):
    # every matmul goes through model.MATMUL, so golden.py can simulate int8 activations
    return minilm.encode(cfg.bert, p, enc_ids, matmul=lambda x, w: M.MATMUL(x, w), drop=drop, collect=collect)


def forward(cfg: ConfigV2, p: dict, enc_ids, dec_ids, drop=M.NO_DROPOUT):
    enc = encode(cfg, p, enc_ids, drop)
    return M.decode(cfg.dec, p, enc, enc_ids, dec_ids, drop, embd=DEC_EMBD)


def greedy(cfg: ConfigV2, p: dict, enc_ids, bos: int, eos: int, max_len: int):
    """Greedy decoding; returns (tokens [B, max_len], logits [B, max_len, V] along the greedy path)."""
    B = enc_ids.shape[0]
    enc = encode(cfg, p, enc_ids)
    dec = jnp.zeros((B, max_len + 1), jnp.int32).at[:, 0].set(bos)

    def step(t, dec):
        logits = M.decode(cfg.dec, p, enc, enc_ids, dec[:, :-1], embd=DEC_EMBD)
        nxt = jnp.argmax(logits[:, t, :], -1).astype(jnp.int32)
        idx = jnp.arange(max_len + 1)[None, :]
        done = jnp.any((dec == eos) & (idx >= 1) & (idx <= t), axis=1)
        nxt = jnp.where(done, 0, nxt)
        return dec.at[:, t + 1].set(nxt)

    dec = jax.lax.fori_loop(0, max_len, step, dec)
    logits = M.decode(cfg.dec, p, enc, enc_ids, dec[:, :-1], embd=DEC_EMBD)
    return dec[:, 1:], logits


def save_meta(path: Path, meta: dict) -> None:
    """Write a checkpoint's config file (configuration, calibration, run details) beside `path`."""
    path = Path(path)
    (path.parent / (path.stem + ".config.json")).write_text(json.dumps(meta, indent=1))


def load_meta(path: Path) -> dict:
    """A checkpoint's config file (configuration, calibration, run details)."""
    path = Path(path)
    return json.loads((path.parent / (path.stem + ".config.json")).read_text())


def save(path: Path, cfg: ConfigV2, params: dict, extra: dict | None = None) -> None:
    np.savez(Path(path), **{k: np.asarray(v) for k, v in params.items()})
    save_meta(path, cfg.to_dict() | (extra or {}))


def load(path: Path) -> tuple[ConfigV2, dict, dict]:
    """(config, params, the config file's other fields such as calibration)."""
    path = Path(path)
    meta = load_meta(path)
    with np.load(path) as z:
        params = {k: jnp.asarray(z[k]) for k in z.files}
    return ConfigV2.from_dict(meta), params, meta


def is_v2(path: Path) -> bool:
    return load_meta(path).get("kind") == "v2"
