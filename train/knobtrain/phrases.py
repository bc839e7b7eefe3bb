"""Hand-written labelled requests (train/phrases/*.jsonl): load and check them.

Each line is {"query": text, "expect": [actions]} with actions in the grammar of
docs/action-grammar.md; ["get <id>", ...] a question about current values,
["chat"] a request for the chat model (writing, explaining, small talk), and
["none"] something else that no setting of knob does.
These are written by people, per setting, in the words users actually use, so
the generator's templates are not the only phrasings the model sees. A fixed
eighth of them (by hash of the query) is held out for evaluation.

    python -m knobtrain.phrases --catalog catalog.json [DIR]   # check, print counts
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
from pathlib import Path

from .catalog import Catalog, load_catalog
from .grammar import GrammarError, check_programs

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "phrases"


class PhraseError(ValueError):
    pass


def held_out(query: str) -> bool:
    """A stable eighth of the phrases is evaluation-only."""
    return int(hashlib.sha256(query.strip().lower().encode()).hexdigest()[:8], 16) % 8 == 0


def load_phrases(directory: Path, cat: Catalog, only_known: bool = False) -> list[dict]:
    """Every phrase, checked against `cat`. With `only_known` (a catalog slice, as in
    smoke runs) a phrase naming a setting outside the slice is skipped, not an error."""
    rows: list[dict] = []
    seen: dict[str, str] = {}
    parsed: list[tuple[str, str, list[str]]] = []  # where, query, expect
    for path in sorted(Path(directory).glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path.name}:{n}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise PhraseError(f"{where}: bad JSON: {e}") from None
                q, expect = row.get("query"), row.get("expect")
                if not isinstance(q, str) or not q.strip():
                    raise PhraseError(f"{where}: 'query' must be a non-empty string")
                if not isinstance(expect, list) or not expect or not all(isinstance(a, str) for a in expect):
                    raise PhraseError(f"{where}: 'expect' must be a non-empty list of action strings")
                parsed.append((where, q, expect))
    # one call of the binary checks every label
    try:
        verdicts = check_programs([" ; ".join(expect) for _, _, expect in parsed], cat)
    except GrammarError as e:
        raise PhraseError(str(e)) from None
    for (where, q, expect), verdict in zip(parsed, verdicts):
        if not verdict["valid"]:
            if only_known:
                continue
            raise PhraseError(f"{where}: {verdict['error']}")
        if len(verdict["actions"]) > len(expect):
            # data.py pairs and checks phrases one action per item
            raise PhraseError(f"{where}: {len(verdict['actions'])} actions in {len(expect)} item(s) of 'expect': "
                              "write each action as its own string")
        key = q.strip().lower()
        if key in seen:
            raise PhraseError(f"{where}: duplicate query (first in {seen[key]})")
        seen[key] = where
        rows.append({"query": q.strip(), "expect": expect})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", required=True, help="output of `knob settings export --json`")
    ap.add_argument("dir", nargs="?", default=str(DEFAULT_DIR))
    a = ap.parse_args(argv)
    cat = load_catalog(a.catalog)
    try:
        rows = load_phrases(Path(a.dir), cat)
    except PhraseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    per = collections.Counter()
    gets = collections.Counter()
    for r in rows:
        for act in r["expect"] or ["none"]:
            parts = act.split(" ")
            per[parts[1] if len(parts) > 1 else parts[0]] += 1
            if parts[0] == "get":
                gets[parts[1]] += 1
    missing = [s.id for s in cat.settings if per[s.id] == 0]
    print(f"{len(rows)} phrases, {sum(held_out(r['query']) for r in rows)} held out; "
          f"{len(cat.settings) - len(missing)}/{len(cat.settings)} settings covered; none: {per['none']}; "
          f"chat: {per['chat']}; get: {sum(gets.values())} over {len(gets)} settings")
    if missing:
        print("settings without phrases: " + ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
