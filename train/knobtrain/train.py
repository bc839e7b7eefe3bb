"""Train the `mu` model on the generated data.

Batches come from length buckets (fixed shapes, so each bucket compiles once).
AdamW with a warmup-stable-decay schedule; loss and held-out exact-match
accuracy are logged to a JSONL file and shown on a progress bar.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tokenizers import Tokenizer
from tqdm import tqdm

from .data import read_jsonl, target_text
from . import model as encdec
from . import model_dec
from .model import NO_DROPOUT, Config, Dropout, n_params
from .tokenizer import decode, encode

BUCKETS = [(12, 6), (16, 8), (24, 12), (48, 24), (64, 32)]  # (encoder, decoder) lengths; most requests fit the first


def tokenize_rows(tok: Tokenizer, rows: list[dict], buckets=BUCKETS):
    """-> per bucket: (enc [N, Te], dec_in [N, Td], dec_out [N, Td], row index [N]); dropped count."""
    eos = tok.token_to_id("</s>")
    bos = tok.token_to_id("<s>")
    per = {b: ([], [], [], []) for b in buckets}
    dropped = 0
    for i, r in enumerate(rows):
        q = encode(tok, r["query"])
        t = encode(tok, target_text(r["expect"]))
        for te, td in buckets:
            if 0 < len(q) <= te and len(t) + 1 <= td:
                e, di, do, ix = per[(te, td)]
                e.append(q + [0] * (te - len(q)))
                di.append(([bos] + t + [0] * td)[:td])
                do.append((t + [eos] + [0] * td)[:td])
                ix.append(i)
                break
        else:
            dropped += 1
    out = {}
    for b, (e, di, do, ix) in per.items():
        if e:
            out[b] = (np.array(e, np.int32), np.array(di, np.int32), np.array(do, np.int32), np.array(ix, np.int64))
    return out, dropped


def wsd(peak: float, progress: float, warmup=0.05, decay=0.2, floor=0.02) -> float:
    """Warmup-stable-decay learning rate at `progress` in [0, 1] of the run."""
    if progress < warmup:
        return peak * progress / warmup
    if progress < 1.0 - decay:
        return peak
    return peak * (floor + (1.0 - floor) * max(0.0, 1.0 - progress) / decay)


def make_optimizer(wd: float):
    # the learning rate is injected each step (wsd of the run's progress); no weight decay on norms
    mask = lambda p: {k: (v.ndim == 2) for k, v in p.items()}
    adamw = optax.inject_hyperparams(optax.adamw, static_args=("mask",))(learning_rate=0.0, b1=0.9, b2=0.98, weight_decay=wd, mask=mask)
    return optax.chain(optax.clip_by_global_norm(1.0), adamw)


def arch_of(cfg):
    """The module that runs `cfg`: model.py (encoder–decoder) or model_dec.py (decoder-only)."""
    return model_dec if isinstance(cfg, model_dec.DecConfig) else encdec


def loss_fn(cfg, params, enc, dec_in, dec_out, drop: Dropout = NO_DROPOUT):
    logits = arch_of(cfg).forward(cfg, params, enc, dec_in, drop)
    mask = (dec_out != 0).astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, dec_out)
    return jnp.sum(ce * mask) / jnp.sum(mask)


def evaluate(cfg: Config, params, tok: Tokenizer, rows: list[dict], batch: int = 256):
    """Greedy exact-match accuracy. Returns (accuracy, predictions list aligned with rows)."""
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    data, dropped = tokenize_rows(tok, rows)
    preds = [None] * len(rows)
    fn = jax.jit(lambda p, e, ml: arch_of(cfg).greedy(cfg, p, e, bos, eos, ml), static_argnums=2)
    for (te, td), (e, _, _, ix) in data.items():
        for s in range(0, len(e), batch):
            eb = e[s : s + batch]
            n = len(eb)
            if n < batch:  # pad to a fixed batch to avoid recompiles
                eb = np.concatenate([eb, np.repeat(eb[:1], batch - n, 0)])
            out = np.asarray(fn(params, jnp.asarray(eb), td))[:n]
            for j, row in enumerate(out):
                ids = []
                for t in row:
                    if t == eos:
                        break
                    ids.append(int(t))
                preds[ix[s + j]] = decode(tok, ids)
    correct = sum(1 for r, p in zip(rows, preds) if p == target_text(r["expect"]))
    return correct / max(1, len(rows)), preds


def save_params(path: Path, cfg: Config, params: dict) -> None:
    np.savez(path, **{k: np.asarray(v) for k, v in params.items()})
    (path.parent / (path.stem + ".config.json")).write_text(json.dumps(cfg.to_dict(), indent=1))


def load_params(path: Path) -> tuple[Config, dict]:
    """A checkpoint of either shape; the config's "arch" field says which (absent: encoder–decoder)."""
    d = json.loads((path.parent / (path.stem + ".config.json")).read_text())
    cfg = model_dec.DecConfig(**{k: v for k, v in d.items() if k != "arch"}) if d.get("arch") == model_dec.ARCH else Config(**d)
    with np.load(path) as z:
        params = {k: jnp.asarray(z[k]) for k in z.files}
    return cfg, params


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="dir with train.jsonl, eval.jsonl, tokenizer.json")
    ap.add_argument("--out", required=True, help="checkpoint path (.npz)")
    ap.add_argument("--steps", type=int, default=3000, help="most steps")
    ap.add_argument("--minutes", type=float, default=0.0,
                    help="wall-clock budget: progress (and so the schedule) is max(step/steps, elapsed/budget)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.1, help="dropout on embeddings and residual branches")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-n", type=int, default=512, help="held-out examples scored during training")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--d-ff", type=int, default=512)
    ap.add_argument("--n-enc", type=int, default=4)
    ap.add_argument("--n-dec", type=int, default=2)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-head-kv", type=int, default=2)
    ap.add_argument("--arch", choices=["encdec", "dec"], default="encdec",
                    help="encdec: the mu encoder-decoder of the shape above; dec: the decoder-only (llama) model "
                         "of the same parameter count (model_dec.matched: same width and heads, depth and FFN fitted)")
    ap.add_argument("--init-only", action="store_true",
                    help="save the randomly initialised model and stop (a real-shaped model for speed measurements)")
    ap.add_argument("--log", default=None, help="JSONL log file")
    a = ap.parse_args(argv)

    data_dir = Path(a.data)
    tok = Tokenizer.from_file(str(data_dir / "tokenizer.json"))
    train_rows = read_jsonl(data_dir / "train.jsonl")
    eval_rows = read_jsonl(data_dir / "eval.jsonl")
    cfg = Config(n_vocab=tok.get_vocab_size(), d_model=a.d_model, d_ff=a.d_ff, n_enc=a.n_enc, n_dec=a.n_dec,
                 n_head=a.n_head, n_head_kv=a.n_head_kv, enc_ctx=BUCKETS[-1][0], dec_ctx=BUCKETS[-1][1])
    if a.arch == "dec":
        ed = cfg
        cfg = model_dec.matched(ed)
        print(f"decoder-only {model_dec.count_params(cfg):,} parameters for the encoder-decoder's "
              f"{model_dec.count_encdec_params(ed):,}", flush=True)
    buckets, dropped = tokenize_rows(tok, train_rows)
    sizes = {b: len(v[0]) for b, v in buckets.items()}
    print(f"train rows {len(train_rows)} (dropped {dropped} too long), buckets {sizes}; eval rows {len(eval_rows)}", flush=True)

    params = arch_of(cfg).init_params(cfg, jax.random.PRNGKey(a.seed))
    print(f"model: {n_params(params):,} parameters, config {cfg.to_dict()}", flush=True)
    if a.init_only:
        save_params(Path(a.out), cfg, params)
        print("saved the untrained model (--init-only)", flush=True)
        return
    opt = make_optimizer(a.wd)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, enc, dec_in, dec_out, lr, key):
        drop = Dropout(a.dropout, key)
        loss, grads = jax.value_and_grad(lambda p: loss_fn(cfg, p, enc, dec_in, dec_out, drop))(params)
        opt_state[1].hyperparams["learning_rate"] = lr
        upd, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, upd), opt_state, loss

    rng = np.random.default_rng(a.seed)
    drop_key = jax.random.PRNGKey(a.seed + 2)
    keys = sorted(buckets)
    probs = np.array([sizes[k] for k in keys], float)
    probs /= probs.sum()
    perms = {k: (rng.permutation(sizes[k]), 0) for k in keys}
    eval_sub = [eval_rows[i] for i in np.random.default_rng(a.seed + 1).permutation(len(eval_rows))[: a.eval_n]]
    log = open(a.log, "a") if a.log else None
    t0 = time.time()
    ema = None
    acc = float("nan")
    budget = a.minutes * 60.0
    t_train = None  # the clock starts after the first step (compilation)
    bar = tqdm(total=a.steps, mininterval=2.0, dynamic_ncols=True)
    it = 0
    progress = 0.0
    while progress < 1.0:
        it += 1
        elapsed = 0.0 if t_train is None else time.time() - t_train
        progress = max(it / a.steps, elapsed / budget if budget else 0.0)
        lr = wsd(a.lr, min(1.0, progress))
        k = keys[rng.choice(len(keys), p=probs)]
        perm, pos = perms[k]
        if pos + a.batch > len(perm):
            perm, pos = rng.permutation(sizes[k]), 0
        idx = perm[pos : pos + a.batch]
        if len(idx) < a.batch:  # tiny bucket: sample with replacement
            idx = rng.choice(sizes[k], a.batch)
        perms[k] = (perm, pos + a.batch)
        e, di, do, _ = buckets[k]
        params, opt_state, loss = step(params, opt_state, e[idx], di[idx], do[idx], jnp.float32(lr),
                                       jax.random.fold_in(drop_key, it))
        if t_train is None:
            t_train = time.time()
        bar.update(1)
        last = progress >= 1.0
        if it % 20 == 0 or last:
            lv = float(loss)
            ema = lv if ema is None else 0.9 * ema + 0.1 * lv
            bar.set_postfix(loss=f"{ema:.4f}", lr=f"{lr:.2e}", acc=f"{acc:.3f}", progress=f"{progress:.3f}")
        if it % a.eval_every == 0 or last:
            acc, _ = evaluate(cfg, params, tok, eval_sub)
            rec = {"step": it, "loss": ema, "heldout_acc": acc, "lr": lr, "progress": round(progress, 4), "elapsed_s": round(time.time() - t0, 1)}
            tqdm.write(json.dumps(rec))
            if log:
                log.write(json.dumps(rec) + "\n")
                log.flush()
            save_params(Path(a.out), cfg, params)
    bar.close()
    save_params(Path(a.out), cfg, params)
    print(f"done: {it} steps in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
