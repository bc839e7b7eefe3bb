"""The action grammar of docs/action-grammar.md: format outputs, and validate them
with `knob settings check-program` (the engine's own parser)."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from .catalog import Catalog


def fmt_num(x: float, typ: str) -> str:
    """Canonical number text: ints as integers, floats with at most 2 decimals."""
    if typ == "int":
        return str(int(round(x)))
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def quote(s: str) -> str:
    """A string value as the grammar writes it: between double quotes, taken
    literally. knob's parser has no escapes, so a Windows path keeps its single
    backslashes, and a value cannot hold a double quote."""
    if '"' in s:
        raise GrammarError(f"a string value cannot hold a double quote: {s!r}")
    return '"' + s + '"'


class GrammarError(ValueError):
    pass


REPO = Path(__file__).resolve().parents[2]


def knob_bin() -> str:
    """The knob binary: $KNOB_BIN, else the repository's release or debug build
    (in $CARGO_TARGET_DIR when set)."""
    env = os.environ.get("KNOB_BIN")
    if env:
        return env
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    for build in ("release", "debug"):
        cand = target / build / "knob"
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    raise RuntimeError("knob binary not found: build it (cargo build --release) or set KNOB_BIN")


def _catalog_doc(cat: Catalog) -> dict:
    """The catalog as `knob settings export --json` would give it, the parts a check reads."""
    return {
        "settings": [
            {"id": s.id, "value": {"type": s.type, "min": s.min, "max": s.max,
                                   "values": list(s.values), "pattern": s.pattern}}
            for s in cat.settings
        ],
        "presets": [{"name": p.name} for p in cat.presets],
    }


def check_programs(outs: list[str], cat: Catalog) -> list[dict]:
    """The verdict of `knob settings check-program --json` on each output, in order.

    The binary holds the one grammar (docs/action-grammar.md), `get` and `chat`
    included: this module has no copy. A verdict's `actions` are the binary's, so
    `chat` and `none` both have none (tell them apart by `program`).
    """
    outs = list(outs)
    for out in outs:
        if "\n" in out or "\r" in out:  # one program per line on the binary's stdin
            raise GrammarError(f"a program is one line: {out!r}")
    return _check_with_binary(outs, cat)


def _check_with_binary(outs: list[str], cat: Catalog) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "catalog.json"
        catalog.write_text(json.dumps(_catalog_doc(cat)), encoding="utf-8")
        r = subprocess.run(
            [knob_bin(), "settings", "check-program", "--json", "--catalog", str(catalog)],
            input="".join(o + "\n" for o in outs), capture_output=True, text=True, check=False,
        )
    verdicts = [json.loads(line) for line in r.stdout.splitlines()]
    if r.returncode not in (0, 1) or len(verdicts) != len(outs):
        raise RuntimeError(f"knob settings check-program failed ({r.returncode}): {r.stderr.strip()}")
    return verdicts


def _actions(verdict: dict) -> list[tuple[str, ...]]:
    if not verdict["valid"]:
        raise GrammarError(verdict["error"])
    return [tuple(a.split(" ", 2)) for a in verdict["actions"]]


def validate_all(outs: list[str], cat: Catalog) -> list[list[tuple[str, ...]]]:
    """Parse every output with one call of the binary; raise GrammarError at the first invalid one."""
    return [_actions(v) for v in check_programs(outs, cat)]


def validate(out: str, cat: Catalog) -> list[tuple[str, ...]]:
    """Parse `out`; raise GrammarError (the binary's reason) unless it is well formed against `cat`.
    The actions are the binary's: none for `none` and for `chat`."""
    return validate_all([out], cat)[0]
