"""Golden logits for the Rust `mu` forward pass (written next to the smoke GGUFs).

For a few fixed queries it records the encoder token ids, the decoder input
ids (start token + the target's tokens), the encoder's per-layer outputs and
final output, and the full logits at every decoder position:

- `logits_f32`: the f32 JAX model; compare `mu-smoke-f32.gguf` against it.
- `logits_q8`: the JAX model with every Q8_0 tensor replaced by its
  dequantized value (what `mu-smoke.gguf` holds); compare the Q8_0 file with it.

The tolerances are measured, not guessed: the Q8_0 bound is several times the
largest difference between `logits_q8` and the same model whose matmul inputs
are also quantized to int8 per 32-block (as ggml's Q8_0 x Q8_0 dot product
does), so an engine that quantizes activations passes and a wrong one fails.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tokenizers import Tokenizer

from . import model as M
from .export import gguf_arrays, q8_0_roundtrip
from .tokenizer import encode
from .train import load_params

QUERIES = ["turn on dark mode", "make the text a bit bigger please", "volume down by 20 and mute the mic",
           "what's the capital of France"]


def dequantized(cfg, params) -> dict:
    """Params as the Q8_0 GGUF stores them (linear and embedding weights rounded through Q8_0)."""
    ga = gguf_arrays(params)
    out = {}
    for k, v in params.items():
        if np.asarray(v).ndim == 2:
            d = q8_0_roundtrip(ga[k])
            out[k] = jnp.asarray(d if k == "token_embd.weight" else d.T)
        else:
            out[k] = v
    return out


def _q8_act(x):
    """Quantize the last axis to int8 in blocks of 32 (ggml's quantize_row_q8_0), then dequantize."""
    shp = x.shape
    xb = x.reshape(shp[:-1] + (shp[-1] // 32, 32))
    d = jnp.max(jnp.abs(xb), -1, keepdims=True) / 127.0
    d = d.astype(jnp.float16).astype(jnp.float32)
    q = jnp.where(d > 0, jnp.round(xb / jnp.where(d > 0, d, 1.0)), 0.0)
    return (q * d).reshape(shp)


def run_case(cfg, params, enc_ids, dec_ids, act_q8=False):
    old = M.MATMUL
    if act_q8:
        M.MATMUL = lambda x, w: _q8_act(x) @ w
    try:
        e = jnp.asarray([enc_ids], jnp.int32)
        d = jnp.asarray([dec_ids], jnp.int32)
        enc, layers = M.encode(cfg, params, e, collect=True)
        logits = M.decode(cfg, params, enc, e, d)
    finally:
        M.MATMUL = old
    return np.asarray(logits[0]), np.asarray(enc[0]), [np.asarray(l[0]) for l in layers]


def _r(a: np.ndarray) -> list:
    return np.round(a.astype(np.float64), 6).tolist()


def make_golden(ckpt: Path, tok_path: Path, out: Path, gguf_q8: str, gguf_f32: str, targets: list[str] | None = None):
    cfg, params = load_params(ckpt)
    tok = Tokenizer.from_file(str(tok_path))
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    deq = dequantized(cfg, params)
    targets = targets or ["set appearance.dark_mode true", "inc text.size", "dec sound.volume 20 ; set sound.input_mute true", "none"]
    cases = []
    worst_act = 0.0
    worst_q8_vs_f32 = 0.0
    for q, t in zip(QUERIES, targets):
        enc_ids = encode(tok, q)[: cfg.enc_ctx]
        dec_ids = ([bos] + encode(tok, t))[: cfg.dec_ctx]
        lf, ef, layers = run_case(cfg, params, enc_ids, dec_ids)
        lq, eq, _ = run_case(cfg, deq, enc_ids, dec_ids)
        la, _, _ = run_case(cfg, deq, enc_ids, dec_ids, act_q8=True)
        worst_act = max(worst_act, float(np.max(np.abs(la - lq))))
        worst_q8_vs_f32 = max(worst_q8_vs_f32, float(np.max(np.abs(lq - lf))))
        cases.append({
            "query": q, "target": t, "enc_ids": enc_ids, "dec_ids": dec_ids,
            "enc_layers_f32": [_r(l) for l in layers],  # residual stream after each encoder layer
            "enc_out_f32": _r(ef), "enc_out_q8": _r(eq),  # after enc.output_norm
            "logits_f32": _r(lf), "logits_q8": _r(lq),
            "argmax_f32": np.argmax(lf, -1).tolist(), "argmax_q8": np.argmax(lq, -1).tolist(),
        })
    tol_q8 = max(0.05, 4.0 * worst_act)
    golden = {
        "about": __doc__,
        "gguf_q8_0": gguf_q8, "gguf_f32": gguf_f32,
        "config": cfg.to_dict(), "bos": bos, "eos": eos,
        "gqa": "query head h uses K/V head h // (n_head / n_head_kv)",
        "tolerance": {
            "f32_gguf_vs_logits_f32": {"max_abs": 2e-3, "note": "f32 weights, f32 activations: only summation order differs"},
            "q8_0_gguf_vs_logits_q8": {"max_abs": round(tol_q8, 4),
                                        "note": "Q8_0 weights; engine may quantize activations to int8 per 32-block",
                                        "measured_act_q8_max_abs": round(worst_act, 5)},
            "q8_0_gguf_vs_logits_f32": {"max_abs": round(max(tol_q8, 4.0 * worst_q8_vs_f32), 4),
                                         "measured_q8_weights_vs_f32_max_abs": round(worst_q8_vs_f32, 5)},
        },
        "cases": cases,
    }
    out.write_text(json.dumps(golden) + "\n")
    return golden


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gguf-q8", default="mu-smoke.gguf")
    ap.add_argument("--gguf-f32", default="mu-smoke-f32.gguf")
    a = ap.parse_args(argv)
    g = make_golden(Path(a.ckpt), Path(a.tokenizer), Path(a.out), a.gguf_q8, a.gguf_f32)
    print(json.dumps(g["tolerance"]))


if __name__ == "__main__":
    main()
