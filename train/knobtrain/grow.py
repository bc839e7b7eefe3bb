"""Deepen a v2 checkpoint's decoder without changing what it computes.

    python -m knobtrain.grow --ckpt DIR/mu2-previous.npz --n-dec 4

The new blocks go after the old ones, freshly initialised, with the gain and bias
of their three post-norms (attention, cross-attention, FFN) at zero: each block
adds LN(...)·0 + 0 to the residual stream, so the grown model gives exactly the
old logits. The post-norm gains still get a gradient (the normalised branch is
not zero), so training opens the new blocks from the first step. A continuation
thus gains decoder capacity without a new run from MiniLM (hours on 2 cores).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp

from . import model_v2 as V

POST_NORMS = ("attn_post_norm", "cross_post_norm", "ffn_post_norm")


def grow_decoder(cfg: V.ConfigV2, params: dict, n_dec: int, key) -> tuple[V.ConfigV2, dict]:
    """(config, params) with `n_dec` decoder blocks; blocks 0..old-1 are the old ones."""
    old = cfg.dec.n_dec
    if n_dec < old:
        raise SystemExit(f"--n-dec {n_dec}: the decoder already has {old} blocks (growing never removes one)")
    new_cfg = V.ConfigV2(cfg.bert, dataclasses.replace(cfg.dec, n_dec=n_dec))
    fresh = V.init_decoder(new_cfg, key)
    out = dict(params)
    for i in range(old, n_dec):
        b = f"dec.blk.{i}."
        for k, v in fresh.items():
            if k.startswith(b):
                out[k] = v
        for n in POST_NORMS:
            out[b + n + ".weight"] = jnp.zeros_like(fresh[b + n + ".weight"])
            out[b + n + ".bias"] = jnp.zeros_like(fresh[b + n + ".bias"])
    return new_cfg, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="v2 checkpoint (.npz with its .config.json), rewritten in place "
                                                  "unless --out is given")
    ap.add_argument("--n-dec", type=int, required=True, help="decoder blocks wanted")
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=0, help="initialisation of the new blocks' weights")
    a = ap.parse_args(argv)
    cfg, params, meta = V.load(Path(a.ckpt))
    old = cfg.dec.n_dec
    cfg, params = grow_decoder(cfg, params, a.n_dec, jax.random.PRNGKey(1000 + a.seed))
    extra = {k: v for k, v in meta.items() if k not in ("kind", "bert", "dec")}
    extra["grown_from_n_dec"] = old
    V.save(Path(a.out or a.ckpt), cfg, params, extra)
    print(f"decoder {old} -> {a.n_dec} blocks ({sum(int(v.size) for k, v in params.items() if k.startswith('dec.')):,} "
          f"decoder parameters) in {a.out or a.ckpt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
