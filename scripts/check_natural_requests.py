#!/usr/bin/env python3
"""Validate tests/data/natural_requests.jsonl (or hard_requests.jsonl) against the settings catalog.

Checks, for every line:
  * it is a JSON object with exactly the keys "query" (non-empty string) and
    "expect" (non-empty list of strings); no query appears twice;
  * "expect" is either ["none"], ["chat"], or a list of actions. `get <id>`
    actions (a question about a setting's current value) must name a setting
    of the catalog, each at most once; the other actions, joined with " ; ",
    must be a valid program: `knob settings check-program` decides, with the
    engine's own parser (docs/action-grammar.md), so this script keeps no copy
    of the grammar.

If the sidecar tests/data/natural_requests.kinds exists (one category per line,
aligned with the JSONL lines), it also checks the categories against the
expectations and prints counts per category. It prints the number of distinct
settings covered and fails if there are fewer than --min-settings or fewer than
--min-lines lines.

Usage: scripts/check_natural_requests.py [--catalog FILE] [FILE]
The catalog is knob's own (`knob settings export --json`), or the export
JSON given with --catalog. The knob binary is $KNOB_BIN, else
target/release/knob (built with cargo when missing).
"""

import argparse
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

from knob_bin import knob_bin

REPO = Path(__file__).resolve().parent.parent
# natural_requests.kinds uses the first eight and chat; hard_requests.kinds uses none and the last four.
NATURAL_KINDS = ["direct", "problem", "relative", "question", "multi", "preset", "none", "sloppy"]
KINDS = NATURAL_KINDS + ["polarity", "get", "chat", "change"]


def knob(args, stdin=None):
    """Runs knob; exit status 1 means some input was invalid, anything else is a failure."""
    r = subprocess.run([knob_bin(), *args], input=stdin, capture_output=True, text=True, check=False)
    if r.returncode not in (0, 1):
        sys.exit(f"error: knob {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def check_programs(programs, catalog):
    """The binary's verdict on each program, in order."""
    args = ["settings", "check-program", "--json"] + (["--catalog", catalog] if catalog else [])
    out = knob(args, "".join(p + "\n" for p in programs))
    verdicts = [json.loads(line) for line in out.splitlines()]
    if len(verdicts) != len(programs):
        sys.exit(f"error: knob settings check-program gave {len(verdicts)} verdicts for {len(programs)} programs")
    return verdicts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", default=str(REPO / "tests/data/natural_requests.jsonl"))
    ap.add_argument("--catalog", help="catalog export JSON (default: knob's own)")
    ap.add_argument("--min-lines", type=int, default=240)
    ap.add_argument("--min-settings", type=int, default=70)
    args = ap.parse_args()

    if args.catalog:
        export = json.loads(Path(args.catalog).read_text(encoding="utf-8"))
    else:
        export = json.loads(knob(["settings", "export", "--json"]))
    settings = {s["id"] for s in export["settings"]}
    presets = {p["name"] for p in export["presets"]}
    path = Path(args.file)
    errors = []
    rows = []
    seen = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: invalid JSON: {e}")
            continue
        if not isinstance(obj, dict) or set(obj) != {"query", "expect"}:
            errors.append(f"{where}: object must have exactly the keys query and expect")
            continue
        q, exp = obj["query"], obj["expect"]
        if not isinstance(q, str) or not q.strip() or q != q.strip():
            errors.append(f"{where}: query must be a non-empty string without outer spaces")
        key = " ".join(str(q).lower().split())
        if key in seen:
            errors.append(f"{where}: duplicate query (also line {seen[key]})")
        seen[key] = n
        if not isinstance(exp, list) or not exp or not all(isinstance(a, str) for a in exp):
            errors.append(f"{where}: expect must be a non-empty list of strings")
            continue
        for word in ("none", "chat"):
            if word in exp and exp != [word]:
                errors.append(f"{where}: '{word}' must stand alone")
        rows.append((n, q, exp, []))

    # One call of the binary judges every program, `get` and `chat` included
    # (`knob settings check-program`): the grammar lives once, in knob.
    checked = [r for r in rows if r[2] != ["none"]]
    verdicts = check_programs([" ; ".join(exp) for _, _, exp, _ in checked], args.catalog)
    for (n, q, exp, ids), v in zip(checked, verdicts):
        if not v["valid"]:
            errors.append(f"{path}:{n}: {v['error']}")
        for t in v["targets"]:
            if not t.startswith("preset:"):
                ids.append(t)

    # Optional category sidecar.
    kinds_path = path.with_suffix(".kinds")
    kinds = None
    if kinds_path.exists():
        kinds = [k.strip() for k in kinds_path.read_text().splitlines()]
        if len(kinds) != len(rows):
            errors.append(f"{kinds_path}: {len(kinds)} lines, but {len(rows)} requests")
            kinds = None
    if kinds:
        for (n, q, exp, ids), k in zip(rows, kinds):
            where = f"{path}:{n}"
            if k not in KINDS:
                errors.append(f"{kinds_path}:{n}: unknown kind {k!r}")
            if (k == "none") != (exp == ["none"]):
                errors.append(f"{where}: kind {k} but expect {exp}")
            if k == "preset" and not all(a.startswith("preset ") for a in exp):
                errors.append(f"{where}: kind preset but expect {exp}")
            if k in NATURAL_KINDS and (k == "multi") != (len(exp) > 1):
                errors.append(f"{where}: kind {k} but {len(exp)} actions")
            if (k == "chat") != (exp == ["chat"]):
                errors.append(f"{where}: kind {k} but expect {exp}")
            has_get = any(a.split()[0] == "get" for a in exp)
            if (k == "get") != has_get:
                errors.append(f"{where}: kind {k} but expect {exp}")
            if k == "relative" and not all(a.split()[0] in ("inc", "dec") for a in exp):
                errors.append(f"{where}: kind relative but expect {exp}")

    covered = collections.Counter(i for r in rows for i in r[3])
    verbs = collections.Counter(a.split()[0] for r in rows for a in r[2])
    presets_used = sorted({a.split()[1] for r in rows for a in r[2] if a.startswith("preset ")})

    total = len(rows)
    print(f"{total} requests, {sum(len(r[2]) for r in rows)} expected actions")
    if kinds:
        print("by category:")
        for k, c in collections.Counter(kinds).most_common():
            print(f"  {k:9} {c:4}  {100 * c / total:5.1f}%")
    print("by verb: " + ", ".join(f"{v} {c}" for v, c in verbs.most_common()))
    print(f"distinct settings covered: {len(covered)} of {len(settings)}")
    print(f"presets covered: {len(presets_used)} of {len(presets)} ({', '.join(presets_used)})")
    missing = sorted(set(settings) - set(covered))
    print(f"settings not covered ({len(missing)}): {' '.join(missing)}")

    if total < args.min_lines:
        errors.append(f"only {total} requests, want at least {args.min_lines}")
    if len(covered) < args.min_settings:
        errors.append(f"only {len(covered)} distinct settings, want at least {args.min_settings}")
    for e in errors:
        print("error: " + e, file=sys.stderr)
    if errors:
        print(f"FAILED: {len(errors)} error(s)", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
