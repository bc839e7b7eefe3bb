"""The action grammar of docs/action-grammar.md: format and validate outputs."""
from __future__ import annotations

import json
import re

from .catalog import Catalog, Setting

NUM_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
INT_RE = re.compile(r"^-?[0-9]+$")


def fmt_num(x: float, typ: str) -> str:
    """Canonical number text: ints as integers, floats with at most 2 decimals."""
    if typ == "int":
        return str(int(round(x)))
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class GrammarError(ValueError):
    pass


def _split_actions(out: str) -> list[str]:
    # split on " ; " outside quotes
    parts, cur, inq, i = [], [], False, 0
    while i < len(out):
        c = out[i]
        if c == "\\" and inq and i + 1 < len(out):
            cur.append(out[i : i + 2])
            i += 2
            continue
        if c == '"':
            inq = not inq
        if not inq and out.startswith(" ; ", i):
            parts.append("".join(cur))
            cur = []
            i += 3
            continue
        cur.append(c)
        i += 1
    if inq:
        raise GrammarError(f"unterminated string in {out!r}")
    parts.append("".join(cur))
    return parts


def _check_value(s: Setting, v: str, what: str) -> None:
    if s.type == "bool":
        if v not in ("true", "false"):
            raise GrammarError(f"{s.id}: bool value {v!r}")
    elif s.type in ("int", "float"):
        ok = INT_RE.match(v) if s.type == "int" else NUM_RE.match(v)
        if not ok:
            raise GrammarError(f"{s.id}: {what} {v!r} is not a number")
        x = float(v)
        if what == "value":
            if s.min is not None and x < s.min - 1e-9 or s.max is not None and x > s.max + 1e-9:
                raise GrammarError(f"{s.id}: {x} outside [{s.min}, {s.max}]")
        elif x <= 0:
            raise GrammarError(f"{s.id}: amount {x} must be positive")
    elif s.type == "enum":
        if v not in s.values:
            raise GrammarError(f"{s.id}: {v!r} not in {s.values}")
    else:
        if not (len(v) >= 2 and v[0] == '"' and v[-1] == '"'):
            raise GrammarError(f"{s.id}: string value must be quoted: {v!r}")
        text = json.loads(v) if v.startswith('"') else v
        if s.pattern and not re.search(s.pattern, text):
            raise GrammarError(f"{s.id}: {text!r} does not match {s.pattern}")


def validate(out: str, cat: Catalog) -> list[tuple[str, ...]]:
    """Parse `out`; raise GrammarError unless it is well formed against `cat`."""
    if out == "none":
        return []
    ids = cat.by_id()
    presets = {p.name for p in cat.presets}
    actions = []
    for a in _split_actions(out):
        if a.startswith("set "):
            rest = a[4:]
            sid, _, val = rest.partition(" ")
            if sid not in ids or not val:
                raise GrammarError(f"bad set: {a!r}")
            _check_value(ids[sid], val, "value")
            actions.append(("set", sid, val))
        elif a.startswith("inc ") or a.startswith("dec "):
            parts = a.split(" ")
            if len(parts) not in (2, 3) or parts[1] not in ids:
                raise GrammarError(f"bad {parts[0]}: {a!r}")
            s = ids[parts[1]]
            if s.type not in ("int", "float"):
                raise GrammarError(f"{parts[0]} on non-numeric {s.id}")
            if len(parts) == 3:
                _check_value(s, parts[2], "amount")
            actions.append(tuple(parts))
        elif a.startswith("toggle "):
            sid = a[7:]
            if sid not in ids or ids[sid].type != "bool":
                raise GrammarError(f"bad toggle: {a!r}")
            actions.append(("toggle", sid))
        elif a.startswith("preset "):
            if a[7:] not in presets:
                raise GrammarError(f"unknown preset: {a!r}")
            actions.append(("preset", a[7:]))
        else:
            raise GrammarError(f"unknown action: {a!r}")
    if not actions:
        raise GrammarError("empty output")
    targets = [a[1] if a[0] != "preset" else "preset " + a[1] for a in actions]
    if len(set(targets)) != len(targets):
        raise GrammarError(f"two actions on one setting: {out!r}")  # the engine rejects them too
    return actions
