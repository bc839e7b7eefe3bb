"""Golden logits for the decoder-only settings model in knob's `llama` engine.

For a few fixed queries it records the whole sequence `query <s> program`
(`ids`), where the program starts (`n_query`, the separator's position), and
the logits at every position from the separator on (the engine's prefill
returns the separator's row, then each decode step one more):

- `logits_f32`: the f32 JAX model; compare the all-F32 GGUF against it.
- `logits_q8`: the JAX model with every Q8_0 tensor replaced by its
  dequantized value; compare the Q8_0 GGUF against it.

Tolerances are measured as golden.py's are: the Q8_0 bound is several times
the largest difference that int8 activations (ggml's Q8_0 x Q8_0 products)
make to `logits_q8`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from tokenizers import Tokenizer

from . import model_dec as MD
from .export import gguf_arrays, q8_0_roundtrip
from .golden import QUERIES, _q8_act, _r
from .tokenizer import encode
from .train import load_params


def dequantized(params) -> dict:
    """Params as the Q8_0 GGUF stores them (every 2-D tensor rounded through Q8_0)."""
    ga = gguf_arrays(params)
    out = {}
    for k, v in params.items():
        if np.asarray(v).ndim == 2:
            d = q8_0_roundtrip(ga[k])
            out[k] = jnp.asarray(d if k == "token_embd.weight" else d.T)
        else:
            out[k] = v
    return out


def run_case(cfg, params, ids, act_q8=False):
    old = MD.MATMUL
    if act_q8:
        MD.MATMUL = lambda x, w: _q8_act(x) @ w
    try:
        seq = jnp.asarray([ids], jnp.int32)
        pos = jnp.arange(len(ids))[None, :]
        logits = MD.forward_seq(cfg, params, seq, pos, jnp.ones_like(seq, bool))
    finally:
        MD.MATMUL = old
    return np.asarray(logits[0])


def make_golden(ckpt: Path, tok_path: Path, out: Path, gguf_q8: str, gguf_f32: str):
    cfg, params = load_params(ckpt)
    assert isinstance(cfg, MD.DecConfig), f"{ckpt} is not a decoder-only checkpoint"
    tok = Tokenizer.from_file(str(tok_path))
    bos = tok.token_to_id("<s>")
    deq = dequantized(params)
    targets = ["set appearance.dark_mode true", "inc text.size", "dec sound.volume 20 ; set sound.input_mute true", "none"]
    cases = []
    worst_act = worst_q8_vs_f32 = 0.0
    for q, t in zip(QUERIES, targets):
        query = encode(tok, q)[: cfg.enc_ctx]
        ids = (query + [bos] + encode(tok, t))[: cfg.n_ctx]
        lf = run_case(cfg, params, ids)
        lq = run_case(cfg, deq, ids)
        la = run_case(cfg, deq, ids, act_q8=True)
        worst_act = max(worst_act, float(np.max(np.abs(la - lq))))
        worst_q8_vs_f32 = max(worst_q8_vs_f32, float(np.max(np.abs(lq - lf))))
        cases.append({"query": q, "target": t, "ids": ids, "n_query": len(query),
                      "logits_f32": _r(lf[len(query):]), "logits_q8": _r(lq[len(query):]),
                      "argmax_f32": np.argmax(lf[len(query):], -1).tolist()})
    tol_q8 = max(0.05, 4.0 * worst_act)
    golden = {
        "about": __doc__,
        "gguf_q8_0": gguf_q8, "gguf_f32": gguf_f32,
        "config": cfg.to_dict(), "separator": bos,
        "tolerance": {
            "f32_gguf_vs_logits_f32": {"max_abs": 2e-3, "note": "f32 weights, f32 activations: only summation order differs"},
            "q8_0_gguf_vs_logits_q8": {"max_abs": round(tol_q8, 4), "measured_act_q8_max_abs": round(worst_act, 5)},
            "measured_q8_weights_vs_f32_max_abs": round(worst_q8_vs_f32, 5),
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
    ap.add_argument("--gguf-q8", default="dec.gguf")
    ap.add_argument("--gguf-f32", default="dec-f32.gguf")
    a = ap.parse_args(argv)
    g = make_golden(Path(a.ckpt), Path(a.tokenizer), Path(a.out), a.gguf_q8, a.gguf_f32)
    print(json.dumps(g["tolerance"]))


if __name__ == "__main__":
    main()
