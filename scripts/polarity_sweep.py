#!/usr/bin/env python3
"""How the polarity guard (src/agent/polarity.rs) would sort a split's answers
at each margin. Reads the split (JSONL with "query" and "expect") and
`knob batch SPLIT --platform windows --explain` output for it, line by line.

A change counts whether or not the shipped guard held it back: the lines it
held back (intent `search` with its "cannot tell whether" notice) are scored
with their best candidate, so the table is the same with the guard on.

Usage: polarity_sweep.py SPLIT.jsonl NBEST.jsonl
Choose the margin on a split that is no evaluation file (docs/agent.md).
"""
import json
import sys

MIRRORED_VERBS = {("inc", "dec"), ("dec", "inc")}
MARGINS = [0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]


def actions(program):
    return [a.strip() for a in program.split(";") if a.strip()]


def mirrored(a, b):
    """Opposite actions on one setting: set X true/false, or inc/dec X."""
    x, y = a.split(" "), b.split(" ")
    if len(x) < 2 or len(y) < 2 or x[1] != y[1]:
        return False
    if x[0] == y[0] == "set" and len(x) > 2 and len(y) > 2 and {x[2], y[2]} == {"true", "false"}:
        return True
    return (x[0], y[0]) in MIRRORED_VERBS


def mirror_image(best, other):
    a, b = actions(best), actions(other)
    if len(a) != len(b):
        return False
    differ = [(x, y) for x, y in zip(a, b) if x != y]
    return len(differ) == 1 and mirrored(*differ[0])


def held_by_guard(line):
    return line.get("intent") == "search" and any(
        "cannot tell whether you want" in n for n in line.get("notices", [])
    )


def main():
    split = [json.loads(l) for l in open(sys.argv[1])]
    nbest = [json.loads(l) for l in open(sys.argv[2])]
    if len(split) != len(nbest):
        sys.exit(f"{sys.argv[1]} has {len(split)} lines, {sys.argv[2]} {len(nbest)}")
    rows = []
    for want, got in zip(split, nbest):
        cands = got.get("candidates") or []
        if got.get("intent") == "change" and got.get("program"):
            best = got["program"]
        elif held_by_guard(got) and cands:
            best = cands[0]["program"]
        else:
            continue
        p_best = got["confidence"]
        p_twin = max([c["probability"] for c in cands[1:] if mirror_image(best, c["program"])] or [0.0])
        right = sorted(actions(best)) == sorted(want["expect"])
        reversed_ = not right and any(mirrored(e, g) for e in want["expect"] for g in actions(best))
        rows.append((p_best / (p_best + p_twin), right, reversed_))
    wrong = sum(not r[1] for r in rows)
    rev = sum(r[2] for r in rows)
    print(f"planned changes {len(rows)}, wrong {wrong}, reversed {rev}")
    print("| margin | held back | of them right | wrong | reversed | reversed left |")
    print("| --- | --- | --- | --- | --- | --- |")
    for m in MARGINS:
        held = [r for r in rows if r[0] < m]
        h_rev = sum(r[2] for r in held)
        print(f"| {m} | {len(held)} | {sum(r[1] for r in held)} | {sum(not r[1] for r in held)} | {h_rev} | {rev - h_rev} |")


if __name__ == "__main__":
    main()
