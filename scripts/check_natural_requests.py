#!/usr/bin/env python3
"""Validate tests/data/natural_requests.jsonl against the settings catalog.

Checks, for every line:
  * it is a JSON object with exactly the keys "query" (non-empty string) and
    "expect" (non-empty list of strings); no query appears twice;
  * "expect" is either ["none"] or a list of actions in the action grammar:
      set <id> <value> | inc <id> [amount] | dec <id> [amount]
      | toggle <id> | preset <name>
  * every setting id and preset name exists in the catalog;
  * set values fit the setting: bool true/false, int/float within min..max,
    enum names from the catalog, strings double-quoted and matching the
    setting's pattern; inc/dec only on numeric settings, with a positive amount
    no larger than the setting's range (an integer for int settings); toggle
    only on bool settings.

If the sidecar tests/data/natural_requests.kinds exists (one category per line,
aligned with the JSONL lines), it also checks the categories against the
expectations and prints counts per category. It prints the number of distinct
settings covered and fails if there are fewer than --min-settings or fewer than
--min-lines lines.

Usage: scripts/check_natural_requests.py [--catalog DIR] [FILE]
The catalog directory is the one holding the area *.toml files and presets/;
it defaults to $KNOB_CATALOG, then ./settings-profiles, then
/work/natural-catalog/settings-profiles.
"""

import argparse
import collections
import json
import os
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KINDS = ["direct", "problem", "relative", "question", "multi", "preset", "none", "sloppy"]
NUM_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
INT_RE = re.compile(r"^-?[0-9]+$")


def find_catalog(arg):
    for cand in [arg, os.environ.get("KNOB_CATALOG"), REPO / "settings-profiles",
                 "/work/natural-catalog/settings-profiles"]:
        if cand and Path(cand).is_dir() and list(Path(cand).glob("*.toml")):
            return Path(cand)
    sys.exit("error: catalog directory not found (use --catalog DIR or $KNOB_CATALOG)")


def load_catalog(cat):
    settings, presets = {}, set()
    for f in sorted(cat.glob("*.toml")):
        with open(f, "rb") as fh:
            data = tomllib.load(fh)
        for s in data.get("setting", []):
            settings[s["id"]] = s["value"]
    for f in sorted((cat / "presets").glob("*.toml")):
        with open(f, "rb") as fh:
            presets.add(tomllib.load(fh)["name"])
    return settings, presets


def check_value(spec, value):
    """Return an error string, or None when value is valid for spec."""
    t = spec["type"]
    if t == "bool":
        return None if value in ("true", "false") else f"bool value must be true/false, got {value!r}"
    if t in ("int", "float"):
        if not NUM_RE.match(value):
            return f"{t} value must be a number, got {value!r}"
        if t == "int" and not INT_RE.match(value):
            return f"int value must be an integer, got {value!r}"
        x = float(value)
        lo, hi = spec.get("min"), spec.get("max")
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            return f"value {value} outside {lo}..{hi}"
        return None
    if t == "enum":
        return None if value in spec["values"] else f"{value!r} not one of {spec['values']}"
    if t == "string":
        if len(value) < 2 or value[0] != '"' or value[-1] != '"':
            return f"string value must be double-quoted, got {value!r}"
        inner = value[1:-1]
        if '"' in inner or "\\" in inner.replace("\\\\", ""):
            return f"unsupported characters in string {value!r}"
        pat = spec.get("pattern")
        if pat and not re.fullmatch(pat, inner):
            return f"string {inner!r} does not match pattern {pat!r}"
        return None
    return f"unknown value type {t!r}"


def check_action(action, settings, presets):
    """Return (setting id or None, error or None)."""
    m = re.fullmatch(r"(set|inc|dec|toggle|preset) (\S+)(?: (.+))?", action)
    if not m:
        return None, f"malformed action {action!r}"
    verb, target, rest = m.groups()
    if verb == "preset":
        if rest is not None:
            return None, f"preset takes only a name: {action!r}"
        return None, None if target in presets else f"unknown preset {target!r}"
    if target not in settings:
        return None, f"unknown setting {target!r}"
    spec = settings[target]
    if verb == "set":
        if rest is None:
            return target, f"set needs a value: {action!r}"
        return target, check_value(spec, rest)
    if verb == "toggle":
        if rest is not None:
            return target, f"toggle takes no value: {action!r}"
        return target, None if spec["type"] == "bool" else f"toggle on non-bool {target}"
    # inc / dec
    if spec["type"] not in ("int", "float"):
        return target, f"{verb} on non-numeric {target}"
    if rest is None:
        return target, None
    if not NUM_RE.match(rest) or rest.startswith("-"):
        return target, f"amount must be a positive number: {action!r}"
    if spec["type"] == "int" and not INT_RE.match(rest):
        return target, f"amount for int setting must be an integer: {action!r}"
    amt = float(rest)
    span = spec.get("max", float("inf")) - spec.get("min", float("-inf"))
    if amt <= 0 or amt > span:
        return target, f"amount {rest} not within 0..{span}"
    return target, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", default=str(REPO / "tests/data/natural_requests.jsonl"))
    ap.add_argument("--catalog")
    ap.add_argument("--min-lines", type=int, default=240)
    ap.add_argument("--min-settings", type=int, default=70)
    args = ap.parse_args()

    settings, presets = load_catalog(find_catalog(args.catalog))
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
        ids = []
        if "none" in exp:
            if exp != ["none"]:
                errors.append(f"{where}: 'none' must stand alone")
        else:
            for a in exp:
                sid, err = check_action(a, settings, presets)
                if err:
                    errors.append(f"{where}: {err}")
                if sid:
                    ids.append(sid)
        rows.append((n, q, exp, ids))

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
            if (k == "multi") != (len(exp) > 1):
                errors.append(f"{where}: kind {k} but {len(exp)} actions")
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
