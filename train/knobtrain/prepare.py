"""Catalog JSON -> train.jsonl, eval.jsonl (held out by phrasing family) and tokenizer.json."""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from tokenizers import Tokenizer

from .catalog import Catalog, load_catalog
from .data import generate, read_jsonl, target_text, write_jsonl
from .grammar import validate_all
from .phrases import DEFAULT_DIR, held_out, load_phrases
from .tokenizer import train_tokenizer


# blind evaluation sets: never trained on, even where a phrase happens to match one of their lines
BLIND = [Path(__file__).resolve().parents[2] / "tests" / "data" / f for f in (
    "natural_requests.jsonl", "hard_requests.jsonl", "natural_requests_2.jsonl")]
# hand-written requests kept for fitting the temperature (knobtrain.recalibrate): never trained on either
CALIBRATION = Path(__file__).resolve().parents[1] / "calibration"


def _words_of(query: str) -> str:
    return " ".join(re.findall(r"[\w'+-]+", query.lower()))


def drop_excluded(rows: list[dict], queries) -> list[dict]:
    """Rows whose words (ignoring case and punctuation) are not one of `queries`.

    The natural-request test set must never be trained on, even where a phrase
    writer or a template happened to produce the same words ("turn on sticky keys")."""
    banned = {_words_of(q) for q in queries}
    return [r for r in rows if _words_of(r["query"]) not in banned]


def default_excludes() -> list[str]:
    """The blind test sets and the calibration requests: what no training row may repeat."""
    return [str(p) for p in BLIND if p.exists()] + sorted(str(p) for p in CALIBRATION.glob("*.jsonl"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", required=True, help="output of `knob settings export --json`")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-setting", type=int, default=1200, help="training draws per setting")
    ap.add_argument("--eval-per-setting", type=int, default=20)
    ap.add_argument("--vocab", type=int, default=3000)
    ap.add_argument("--phrases", default=str(DEFAULT_DIR), help="dir of hand-written labelled phrases (*.jsonl)")
    ap.add_argument("--exclude", action="append", default=None,
                    help="JSONL whose queries are never trained on (repeatable; default: tests/data's natural and hard "
                         "request sets and train/calibration/*.jsonl)")
    ap.add_argument("--decoder-vocab", type=int, default=0,
                    help="also write actions.json, model v2's decoder vocabulary (BPE over the outputs only) of this size")
    ap.add_argument("--actions", default=None,
                    help="v2: reuse this action vocabulary (actions.json) instead of training one, "
                         "so that a run can continue from a model trained on it")
    ap.add_argument("--max-settings", type=int, default=0, help="use only the first N settings (smoke runs)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cat = load_catalog(a.catalog)
    if a.max_settings:
        cat = Catalog(cat.settings[: a.max_settings], cat.presets)
    phrases = load_phrases(Path(a.phrases), cat, only_known=bool(a.max_settings))
    ph_train = [r for r in phrases if not held_out(r["query"])]
    ph_eval = [r for r in phrases if held_out(r["query"])]
    train, ev = generate(cat, a.seed, a.per_setting, a.eval_per_setting, ph_train)
    # no held-out phrase is trained on, not even with other case or punctuation
    train = drop_excluded(train, [r["query"] for r in ph_eval])
    excludes = a.exclude if a.exclude is not None else default_excludes()
    n_before = len(train)
    train = drop_excluded(train, [r["query"] for p in excludes for r in read_jsonl(p)])
    n_excluded = n_before - len(train)
    validate_all([target_text(r["expect"]) for r in train + ev], cat)  # every target must be in the grammar
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "eval.jsonl", ev)
    write_jsonl(out / "heldout.jsonl", ev, keep_meta=False)  # the `knob eval FILE` format
    # the held-out eighth of the hand-written phrases: a second, harder evaluation
    write_jsonl(out / "phrases-eval.jsonl", ph_eval)
    texts = [r["query"] for r in train] + [target_text(r["expect"]) for r in train]
    tok = train_tokenizer(texts, cat, a.vocab)
    tok.save(str(out / "tokenizer.json"))
    if a.decoder_vocab or a.actions:
        # v2: the encoder reads WordPieces, the decoder writes from its own small vocabulary
        if a.actions:  # byte for byte: the decoder's token ids must not move
            act = Tokenizer.from_file(a.actions)
            if Path(a.actions).resolve() != (out / "actions.json").resolve():
                shutil.copyfile(a.actions, out / "actions.json")
        else:
            outs = [target_text(r["expect"]) for r in train]
            act = train_tokenizer(outs, cat, a.decoder_vocab)
            act.save(str(out / "actions.json"))
    stats = {"settings": len(cat.settings), "presets": len(cat.presets), "train": len(train), "eval": len(ev),
             "vocab": tok.get_vocab_size(), "seed": a.seed, "phrases_train": len(ph_train), "phrases_eval": len(ph_eval),
             "excluded": n_excluded,
             "decoder_vocab": act.get_vocab_size() if a.decoder_vocab or a.actions else None}
    (out / "data-stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
