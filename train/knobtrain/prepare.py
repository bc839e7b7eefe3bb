"""Catalog JSON -> train.jsonl, eval.jsonl (held out by phrasing family) and tokenizer.json."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .catalog import Catalog, load_catalog
from .data import generate, target_text, write_jsonl
from .grammar import validate
from .phrases import DEFAULT_DIR, held_out, load_phrases
from .tokenizer import train_tokenizer


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", required=True, help="output of `knob settings export --json`")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-setting", type=int, default=1200, help="training draws per setting")
    ap.add_argument("--eval-per-setting", type=int, default=20)
    ap.add_argument("--vocab", type=int, default=3000)
    ap.add_argument("--phrases", default=str(DEFAULT_DIR), help="dir of hand-written labelled phrases (*.jsonl)")
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
    held = {r["query"].lower() for r in ph_eval}
    train = [r for r in train if r["query"].lower() not in held]  # no held-out phrase is trained on
    for r in train + ev:  # every target must be in the grammar
        validate(target_text(r["expect"]), cat)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "eval.jsonl", ev)
    write_jsonl(out / "heldout.jsonl", ev, keep_meta=False)  # the `knob eval FILE` format
    # the held-out eighth of the hand-written phrases: a second, harder evaluation
    write_jsonl(out / "phrases-eval.jsonl", ph_eval)
    texts = [r["query"] for r in train] + [target_text(r["expect"]) for r in train]
    tok = train_tokenizer(texts, cat, a.vocab)
    tok.save(str(out / "tokenizer.json"))
    stats = {"settings": len(cat.settings), "presets": len(cat.presets), "train": len(train), "eval": len(ev),
             "vocab": tok.get_vocab_size(), "seed": a.seed, "phrases_train": len(ph_train), "phrases_eval": len(ph_eval)}
    (out / "data-stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
