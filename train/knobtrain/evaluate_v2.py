"""Evaluate a v2 checkpoint on a JSONL of {"query", "expect"}: exact match, kinds, polarity flips,
and how far its confidence is a probability of being right (reliability table, thresholds).

The confidence of an answer is the probability of the greedy output under the
calibrated temperature stored in the checkpoint (calibration.temperature).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from . import calibrate, minilm
from . import model_v2 as V
from .data import read_jsonl, target_text
from .evaluate import report
from .golden_v2 import dequantized_v2
from .train_v2 import predict

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)


def polarity_flips(rows, preds) -> list[dict]:
    """Answers with the right setting and the opposite boolean value: the worst mistake knob can make."""
    flips = []
    for r, p in zip(rows, preds):
        want = {tuple(a.split(" ")[:2]): a.split(" ")[2] for a in r["expect"] if a.startswith("set ") and a.count(" ") == 2}
        for a in p.split(" ; "):
            parts = a.split(" ")
            if len(parts) == 3 and parts[0] == "set" and parts[2] in ("true", "false"):
                w = want.get((parts[0], parts[1]))
                if w in ("true", "false") and w != parts[2]:
                    flips.append({"query": r["query"], "expect": target_text(r["expect"]), "got": p})
    return flips


def score(cfg, params, wp, act, rows, temperature: float) -> dict:
    texts, toks, logits = predict(cfg, params, wp, act, rows)
    rep = report(rows, texts)
    ok = np.array([t == target_text(r["expect"]) for r, t in zip(rows, texts)])
    conf = calibrate.sequence_confidence(logits, toks, act.token_to_id("</s>"), temperature)
    rep["temperature"] = temperature
    rep["reliability"] = calibrate.reliability(conf, ok)
    rep["thresholds"] = [calibrate.at_threshold(conf, ok, t) for t in THRESHOLDS]
    flips = polarity_flips(rows, texts)
    rep["polarity_flips"] = {"n": len(flips), "rate": round(len(flips) / max(1, len(rows)), 4), "examples": flips[:50]}
    return rep


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--actions", required=True, help="the decoder's actions.json")
    ap.add_argument("--minilm", default=None, help=f"for the WordPiece tokenizer (default ${minilm.ENV})")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--q8", action="store_true", help="also evaluate with Q8_0-rounded weights")
    a = ap.parse_args(argv)
    cfg, params, meta = V.load(Path(a.ckpt))
    wp = minilm.tokenizer(minilm.model_dir(a.minilm))
    act = Tokenizer.from_file(a.actions)
    rows = read_jsonl(a.data)
    t = float(meta.get("calibration", {}).get("temperature", 1.0))
    rep = {"f32": score(cfg, params, wp, act, rows, t)}
    if a.q8:
        rep["q8_0_weights"] = score(cfg, dequantized_v2(params), wp, act, rows, t)
    for k, r in rep.items():
        print(f"{Path(a.data).name}, {k}: {r['correct']}/{r['n']} = {100 * r['accuracy']:.2f}%; "
              f"polarity flips {r['polarity_flips']['n']}")
    f = rep["f32"]
    print(f"reliability (temperature {t}):")
    print(calibrate.format_table(f["reliability"]))
    for th in f["thresholds"]:
        print(f"threshold {th['threshold']:.2f}: planned {100 * th['planned']:.1f}%, "
              f"right when planned {100 * th['right_when_planned']:.1f}%")
    Path(a.out).write_text(json.dumps(rep, indent=1) + "\n")


if __name__ == "__main__":
    main()
