"""Evaluate a checkpoint (f32 JAX, and optionally with Q8_0-rounded weights) on a JSONL split.

Writes a JSON report: exact-match accuracy, accuracy per intent kind, per
setting errors, and the failures.
"""
from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from tokenizers import Tokenizer

from .data import read_jsonl, target_text
from .golden import dequantized
from .train import evaluate, load_params


def kind_of(row: dict) -> str:
    fam = row.get("family", "")
    if "+" in fam:
        return "two requests"
    intent = fam.split(":")[0] if fam else ""
    return {
        "on": "bool on", "off": "bool off", "toggle": "toggle", "set": "set number", "enum": "set enum",
        "string": "set string", "inc": "relative", "dec": "relative", "adj_inc": "relative", "bare_adj": "relative",
        "inc_by": "relative with amount", "dec_by": "relative with amount", "prob": "problem statement",
        "bare_prob": "problem statement", "max": "max/min", "min": "max/min", "never": "never",
        "preset": "preset", "neg": "none (negative)", "example": "catalog example",
    }.get(intent, intent or "unknown")


def heldout_by(row: dict, gen) -> str:
    """Which part of an evaluation line is held out: template, name, or both."""
    fam = row.get("family", "").split("+")[0]
    nm = row.get("name", "|").split("+")[0]
    owner, name = nm.split("|", 1)
    if fam.startswith("neg:"):
        return "negative"
    names = gen.pnames.get(owner[7:], []) if owner.startswith("preset:") else gen.names.get(owner, [])
    t = gen.split.family_held(fam)
    n = bool(names) and gen.split.name_held(owner, name, names)
    return {(True, True): "template and name", (True, False): "template", (False, True): "name"}.get((t, n), "neither")


def report(rows, preds, gen=None) -> dict:
    by_held = collections.defaultdict(lambda: [0, 0])
    by_kind = collections.defaultdict(lambda: [0, 0])
    by_setting = collections.defaultdict(lambda: [0, 0])
    fails = []
    for r, p in zip(rows, preds):
        want = target_text(r["expect"])
        ok = p == want
        k = kind_of(r)
        by_kind[k][0] += ok
        by_kind[k][1] += 1
        if gen is not None and "family" in r:
            h = heldout_by(r, gen)
            by_held[h][0] += ok
            by_held[h][1] += 1
        for a in r["expect"]:
            sid = a.split(" ")[1] if " " in a else a
            by_setting[sid][0] += ok
            by_setting[sid][1] += 1
        if not ok:
            fails.append({"query": r["query"], "expect": want, "got": p})
    n = len(rows)
    correct = sum(v[0] for v in by_kind.values())
    worst = sorted(((v[0] / v[1], k, v[1]) for k, v in by_setting.items()), key=lambda x: (x[0], x[1]))[:15]
    return {
        "n": n, "correct": correct, "accuracy": correct / max(1, n),
        "by_kind": {k: {"n": v[1], "accuracy": v[0] / v[1]} for k, v in sorted(by_kind.items())},
        "by_heldout_part": {k: {"n": v[1], "accuracy": v[0] / v[1]} for k, v in sorted(by_held.items())},
        "worst_settings": [{"setting": k, "accuracy": a, "n": c} for a, k, c in worst],
        "failures": fails,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--data", required=True, help="JSONL with query/expect")
    ap.add_argument("--out", required=True, help="report JSON")
    ap.add_argument("--q8", action="store_true", help="also evaluate with Q8_0-rounded weights")
    ap.add_argument("--catalog", help="catalog JSON (and --seed): break accuracy down by held-out part")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    cfg, params = load_params(Path(a.ckpt))
    tok = Tokenizer.from_file(a.tokenizer)
    rows = read_jsonl(a.data)
    gen = None
    guess = Path(a.data).resolve().parent.parent / "catalog.json"  # <out>/data/eval.jsonl -> <out>/catalog.json
    if not a.catalog and guess.exists() and Path(a.data).name == "eval.jsonl":
        a.catalog = str(guess)
    if a.catalog:
        from .catalog import load_catalog
        from .data import Generator
        gen = Generator(load_catalog(a.catalog), a.seed)
    _, preds = evaluate(cfg, params, tok, rows)
    rep = {"f32": report(rows, preds, gen)}
    print(f"f32 JAX: {rep['f32']['correct']}/{rep['f32']['n']} = {100 * rep['f32']['accuracy']:.2f}%")
    if a.q8:
        _, pq = evaluate(cfg, dequantized(cfg, params), tok, rows)
        rep["q8_0_weights"] = report(rows, pq, gen)
        print(f"Q8_0 weights (JAX): {rep['q8_0_weights']['correct']}/{rep['q8_0_weights']['n']} = "
              f"{100 * rep['q8_0_weights']['accuracy']:.2f}%")
    Path(a.out).write_text(json.dumps(rep, indent=1) + "\n")


if __name__ == "__main__":
    main()
