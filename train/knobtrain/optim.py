"""Optimizers for model v2: Muon for the weight matrices, AdamW for the rest, on a WSD schedule.

Every parameter gets exactly one label (`labels()`):
  muon_enc / muon_dec   2-D weight matrices of linear maps (with `--optimizer muon`)
  adam_enc / adam_dec   embeddings, norms, biases (and the matrices with `--optimizer adamw`)
  frozen                the BERT word embedding when it is frozen (no update at all)
The pretrained encoder learns at `enc_mult` times the decoder's rate.
The schedule is a function of the step count only, so the same steps give the same weights.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from optax.contrib import scale_by_muon

from . import minilm

GROUPS = ("muon_enc", "muon_dec", "adam_enc", "adam_dec", "frozen")


def is_matrix(name: str, shape) -> bool:
    """A linear map's weight: 2-D and not an embedding table."""
    if len(shape) != 2:
        return False
    if name.startswith("dec."):
        return name != "dec.token_embd.weight"
    return minilm.is_linear(name)


def labels(params: dict, optimizer: str, freeze_word_embd: bool) -> dict[str, str]:
    if optimizer not in ("muon", "adamw"):
        raise ValueError(f"optimizer must be muon or adamw, not {optimizer}")
    out = {}
    for k, v in params.items():
        side = "dec" if k.startswith("dec.") else "enc"
        if k == "token_embd.weight" and freeze_word_embd:
            out[k] = "frozen"
        elif optimizer == "muon" and is_matrix(k, v.shape):
            out[k] = f"muon_{side}"
        else:
            out[k] = f"adam_{side}"
    return out


def wsd(peak: float, steps: int, warmup: float = 0.05, decay: float = 0.2, floor: float = 0.02):
    """Warmup-stable-decay as an optax schedule (a function of the update count)."""
    w = max(1, int(round(warmup * steps)))
    d0 = int(round((1.0 - decay) * steps))

    def sched(count):
        c = jnp.asarray(count, jnp.float32)
        up = peak * jnp.minimum(1.0, (c + 1.0) / w)
        down = peak * (floor + (1.0 - floor) * jnp.clip((steps - c) / max(1, steps - d0), 0.0, 1.0))
        return jnp.where(c < d0, up, jnp.minimum(up, down))

    return sched


def make(params: dict, optimizer: str, steps: int, lr_adam: float = 1e-3, lr_muon: float = 0.02,
         enc_mult: float = 0.1, wd: float = 0.01, freeze_word_embd: bool = True):
    """(optax transformation, labels). Gradients are clipped to global norm 1 first."""
    lab = labels(params, optimizer, freeze_word_embd)
    # multi_transform hands each group a tree with the other groups masked out: map over leaves
    decay_mask = lambda p: jax.tree.map(lambda v: v.ndim == 2, p)

    def adam(mult):
        return optax.adamw(wsd(lr_adam * mult, steps), b1=0.9, b2=0.98, weight_decay=wd, mask=decay_mask)

    def muon(mult):
        return optax.chain(scale_by_muon(), optax.add_decayed_weights(wd), optax.scale_by_learning_rate(wsd(lr_muon * mult, steps)))

    tx = optax.multi_transform(
        {"muon_enc": muon(enc_mult), "muon_dec": muon(1.0), "adam_enc": adam(enc_mult), "adam_dec": adam(1.0),
         "frozen": optax.set_to_zero()},
        lab,
    )
    return optax.chain(optax.clip_by_global_norm(1.0), tx), lab
