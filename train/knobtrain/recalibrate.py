"""Refit a v2 checkpoint's temperature on hand-written requests it never trained on.

    python -m knobtrain.recalibrate --ckpt mu2.npz --actions actions.json --catalog catalog.json [--dir DIR]

train_v2 fits the temperature on a twentieth of the training rows: templates
and noisy copies of trained phrases, which the model reads with more
confidence than a person's own wording. train/calibration/*.jsonl holds
requests that writers made for this use only (`prepare` never trains on
them), checked like the phrases. Fitting there makes the confidence the chance
of being right on the words users type. Only the checkpoint's `calibration`
changes (the split it replaced is kept as `calibration_training_split`); the
weights stay as they are, so greedy answers do too (the beam search, which adds
up scaled log-probabilities, may rank a few differently). Export afterwards to
carry the temperature into the GGUF.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tokenizers import Tokenizer

from . import calibrate, minilm
from . import model_v2 as V
from .catalog import load_catalog
from .phrases import load_phrases
from .prepare import CALIBRATION
from .train_v2 import calibrate_on


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="v2 checkpoint (.npz with its .config.json), updated in place")
    ap.add_argument("--actions", required=True, help="the decoder's actions.json")
    ap.add_argument("--catalog", required=True, help="output of `knob settings export --json` (checks the labels)")
    ap.add_argument("--dir", default=str(CALIBRATION), help="hand-written calibration requests (*.jsonl)")
    ap.add_argument("--minilm", default=None, help=f"for the WordPiece tokenizer (default ${minilm.ENV})")
    a = ap.parse_args(argv)
    rows = load_phrases(Path(a.dir), load_catalog(a.catalog))
    if not rows:
        raise SystemExit(f"recalibrate: no requests in {a.dir}/*.jsonl")
    ckpt = Path(a.ckpt)
    cfg, params, meta = V.load(ckpt)
    wp = minilm.tokenizer(minilm.model_dir(a.minilm))
    act = Tokenizer.from_file(a.actions)
    cal = calibrate_on(cfg, params, wp, act, rows)
    cal["source"] = f"{len(rows)} hand-written requests in {Path(a.dir).name}/"
    before = meta.get("calibration", {})
    if "source" not in before:  # the first refit keeps what training fitted
        meta["calibration_training_split"] = before
    meta["calibration"] = cal
    V.save_meta(ckpt, meta)
    print(f"temperature {before.get('temperature')} -> {cal['temperature']} (token NLL at T=1 {cal['nll_t1']}, "
          f"fitted {cal['nll_fitted']}) on {cal['source']}; greedy accuracy there {cal['accuracy']}")
    print(calibrate.format_table(cal["reliability"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
