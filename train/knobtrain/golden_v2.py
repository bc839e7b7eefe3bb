"""Golden outputs for the Rust engine's v2 model (bert encoder + mu decoder), from a smoke checkpoint.

For a few fixed queries it records the WordPiece ids ([CLS] ... [SEP]), the
decoder input ids (start token + the target's action tokens), the encoder's
hidden states after each layer, the mean-pooled L2-normalized sentence
embedding (what `knob embed` prints), and the full decoder logits at every
position:

- `*_f32`: the f32 JAX model; compare the F32 GGUF (`--f32` export) with it.
- `*_q8`: the JAX model with every Q8_0 tensor replaced by its dequantized
  value (what the Q8_0 GGUF holds); compare the Q8_0 file with it.

Tolerances are measured as in golden.py: the Q8_0 bound is four times the
largest effect of also quantizing matmul inputs to int8 per 32-block (as
ggml's Q8_0 x Q8_0 dot product does), and at least 0.05.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from tokenizers import Tokenizer

from . import minilm
from . import model as M
from . import model_v2 as V
from .export import q8_0_roundtrip, v2_arrays, v2_is_linear, v2_is_q8
from .golden import _q8_act, _r
from .tokenizer import encode

QUERIES = ["turn on dark mode", "don't turn off bluetooth", "is dark mode on?", "write a haiku about autumn"]


def dequantized_v2(params: dict) -> dict:
    """Params as the Q8_0 v2 GGUF stores them."""
    ga = v2_arrays(params)
    out = {}
    for k, v in params.items():
        if v2_is_q8(k, ga[k]):
            d = q8_0_roundtrip(ga[k])
            out[k] = jnp.asarray(d.T if v2_is_linear(k, d.ndim) else d)
        else:
            out[k] = v
    return out


def run_case(cfg, params, enc_ids, dec_ids, act_q8=False):
    old = M.MATMUL
    if act_q8:
        M.MATMUL = lambda x, w: _q8_act(x) @ w
    try:
        e = jnp.asarray([enc_ids], jnp.int32)
        d = jnp.asarray([dec_ids], jnp.int32)
        enc, layers = V.encode(cfg, params, e, collect=True)
        logits = M.decode(cfg.dec, params, enc, e, d, embd=V.DEC_EMBD)
        pooled = minilm.mean_pool(enc, e)
    finally:
        M.MATMUL = old
    return np.asarray(logits[0]), np.asarray(enc[0]), [np.asarray(l[0]) for l in layers], np.asarray(pooled[0])


def make_golden(ckpt: Path, wordpiece: Path, actions: Path, out: Path, gguf_q8: str, gguf_f32: str,
                targets: list[str] | None = None):
    cfg, params, meta = V.load(ckpt)
    wp = Tokenizer.from_file(str(wordpiece))
    wp.no_padding()
    wp.no_truncation()
    act = Tokenizer.from_file(str(actions))
    bos, eos = act.token_to_id("<s>"), act.token_to_id("</s>")
    deq = dequantized_v2(params)
    targets = targets or ["set appearance.dark_mode true", "set bluetooth.enabled true", "get appearance.dark_mode", "chat"]
    cases = []
    worst_act = worst_w = 0.0
    for q, t in zip(QUERIES, targets):
        enc_ids = minilm.encode_text(wp, q, cfg.dec.enc_ctx)
        dec_ids = ([bos] + encode(act, t))[: cfg.dec.dec_ctx]
        lf, ef, layers, pf = run_case(cfg, params, enc_ids, dec_ids)
        lq, eq, _, pq = run_case(cfg, deq, enc_ids, dec_ids)
        la, _, _, _ = run_case(cfg, deq, enc_ids, dec_ids, act_q8=True)
        worst_act = max(worst_act, float(np.max(np.abs(la - lq))))
        worst_w = max(worst_w, float(np.max(np.abs(lq - lf))))
        cases.append({
            "query": q, "target": t, "enc_ids": enc_ids, "dec_ids": dec_ids,
            "enc_layers_f32": [_r(l) for l in layers],  # hidden states after each BERT layer
            "enc_out_f32": _r(ef), "enc_out_q8": _r(eq),  # last layer's output: what cross-attention reads
            "embedding_f32": _r(pf), "embedding_q8": _r(pq),  # mean-pooled, L2-normalized
            "logits_f32": _r(lf), "logits_q8": _r(lq),
            "argmax_f32": np.argmax(lf, -1).tolist(), "argmax_q8": np.argmax(lq, -1).tolist(),
        })
    tol_q8 = max(0.05, 4.0 * worst_act)
    golden = {
        "about": __doc__, "encoder_kind": "bert",
        "gguf_q8_0": gguf_q8, "gguf_f32": gguf_f32,
        "config": cfg.to_dict(), "bos": bos, "eos": eos,
        "calibration_temperature": meta.get("calibration", {}).get("temperature", 1.0),
        "gqa": "query head h uses K/V head h // (n_head / n_head_kv)",
        "tolerance": {
            "f32_gguf_vs_logits_f32": {"max_abs": 2e-3, "note": "f32 weights, f32 activations: only summation order differs"},
            "embedding_f32_max_abs": 1e-4,
            "q8_0_gguf_vs_logits_q8": {"max_abs": round(tol_q8, 4), "measured_act_q8_max_abs": round(worst_act, 5),
                                        "note": "Q8_0 weights; engine may quantize activations to int8 per 32-block"},
            "q8_0_gguf_vs_logits_f32": {"max_abs": round(max(tol_q8, 4.0 * worst_w), 4),
                                         "measured_q8_weights_vs_f32_max_abs": round(worst_w, 5)},
        },
        "cases": cases,
    }
    out.write_text(json.dumps(golden) + "\n")
    return golden


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True, help="the WordPiece tokenizer.json")
    ap.add_argument("--actions", required=True, help="the decoder's actions.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--gguf-q8", default="mu2-smoke.gguf")
    ap.add_argument("--gguf-f32", default="mu2-smoke-f32.gguf", help="'' when there is no all-F32 twin (the shipped model)")
    a = ap.parse_args(argv)
    g = make_golden(Path(a.ckpt), Path(a.tokenizer), Path(a.actions), Path(a.out), a.gguf_q8, a.gguf_f32 or None)
    print(json.dumps(g["tolerance"]))


if __name__ == "__main__":
    main()
