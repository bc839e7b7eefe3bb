"""Write train/REPORT.md from a run's output directory (data stats, training log, evaluation)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


NOTES = "## Notes"


def render(out: Path, gguf: Path, keep: str = "") -> str:
    stats = json.loads((out / "data" / "data-stats.json").read_text())
    log = [json.loads(l) for l in (out / "train-log.jsonl").read_text().splitlines() if l.strip()]
    cfg = json.loads((out / "mu.config.json").read_text())
    rep = json.loads((out / "eval-report.json").read_text())
    lines = ["# Settings model: training and evaluation report", ""]
    lines += ["Reproduce with `bash train/run.sh` (see train/README.md). Numbers below are from that run's",
              f"output directory (`{out}`).", ""]
    lines += ["## Data", "", "| | |", "| --- | --- |"]
    for k in ("settings", "presets", "train", "eval", "phrases_train", "phrases_eval", "excluded", "vocab", "seed"):
        if k in stats:  # "excluded": training rows dropped for repeating a natural request
            lines.append(f"| {k} | {stats[k]} |")
    lines += ["", "## Model", "", "| | |", "| --- | --- |"]
    for k, v in cfg.items():
        lines.append(f"| {k} | {v} |")
    if gguf.exists():
        lines.append(f"| GGUF size | {gguf.stat().st_size} bytes ({gguf.stat().st_size / 2**20:.2f} MiB) |")
    lines += ["", "## Training", "", "| step | loss | held-out acc (sample) | lr | elapsed s |", "| --- | --- | --- | --- | --- |"]
    for r in log:
        lines.append(f"| {r['step']} | {r['loss']:.4f} | {_pct(r['heldout_acc'])} | {r['lr']:.2e} | {r['elapsed_s']} |")
    if log:
        lines += ["", f"Steps: {log[-1]['step']} of batch 128 in {log[-1]['elapsed_s']:.0f} s. With a time budget the",
                  "schedule follows the wall clock; `KNOB_TRAIN_STEPS=<steps> KNOB_TRAIN_MINUTES=0` gives a",
                  "step-deterministic run of the same length."]
    lines += ["", "## Held-out split (phrasing families never seen in training)", ""]
    for name, key in (("f32 JAX", "f32"), ("Q8_0 weights, JAX", "q8_0_weights")):
        if key in rep:
            r = rep[key]
            lines.append(f"- {name}: **{_pct(r['accuracy'])}** exact match ({r['correct']}/{r['n']})")
    if rep["f32"].get("by_heldout_part"):
        lines += ["", "By held-out part (f32):", "", "| held out | n | accuracy |", "| --- | --- | --- |"]
        for k, v in rep["f32"]["by_heldout_part"].items():
            lines.append(f"| {k} | {v['n']} | {_pct(v['accuracy'])} |")
    lines += ["", "By kind of request (f32):", "", "| kind | n | accuracy |", "| --- | --- | --- |"]
    for k, v in rep["f32"]["by_kind"].items():
        lines.append(f"| {k} | {v['n']} | {_pct(v['accuracy'])} |")
    lines += ["", "Weakest settings (f32):", "", "| setting | n | accuracy |", "| --- | --- | --- |"]
    for w in rep["f32"]["worst_settings"][:10]:
        lines.append(f"| {w['setting']} | {w['n']} | {_pct(w['accuracy'])} |")
    lines += ["", "First failures (f32):", "", "| query | expected | got |", "| --- | --- | --- |"]
    for f in rep["f32"]["failures"][:25]:
        lines.append(f"| {f['query']} | `{f['expect']}` | `{f['got']}` |")
    ph = out / "eval-phrases.json"
    if ph.exists():
        n = json.loads(ph.read_text())["f32"]
        lines += ["", "## Hand-written phrases, held-out eighth (train/eval/phrases-heldout.jsonl)", "",
                  f"- f32 JAX: **{_pct(n['accuracy'])}** ({n['correct']}/{n['n']})"]
    nat = out / "eval-natural.json"
    if nat.exists():
        n = json.loads(nat.read_text())["f32"]
        lines += ["", f"## Natural requests (tests/data/natural_requests.jsonl)", "",
                  f"- f32 JAX: **{_pct(n['accuracy'])}** ({n['correct']}/{n['n']})"]
    lines.append("")
    text = "\n".join(lines)
    if keep:
        text += "\n" + keep
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="run output directory")
    ap.add_argument("--gguf", default="assets/knob-mu.gguf")
    ap.add_argument("--report", default="train/REPORT.md")
    a = ap.parse_args(argv)
    old = Path(a.report).read_text() if Path(a.report).exists() else ""
    keep = old[old.index(NOTES):] if NOTES in old else ""  # hand-written notes survive a rerun
    Path(a.report).write_text(render(Path(a.out), Path(a.gguf), keep))
    print(f"wrote {a.report}")


if __name__ == "__main__":
    main()
