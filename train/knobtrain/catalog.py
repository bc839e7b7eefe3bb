"""Read the catalog JSON printed by `knob settings export --json`.

The reader is tolerant: unknown fields are ignored and optional fields may be
missing, so the export can grow without breaking training.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    id: str
    title: str
    description: str
    synonyms: tuple[str, ...]
    examples: tuple  # strings, or {"query", "expect"} objects
    type: str  # bool | int | float | enum | string
    min: float | None = None
    max: float | None = None
    step: float | None = None
    unit: str = ""
    values: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    pattern: str | None = None  # strings: the regex a value must match


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    synonyms: tuple[str, ...]
    examples: tuple = ()
    values: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Catalog:
    settings: tuple[Setting, ...]
    presets: tuple[Preset, ...]

    def by_id(self) -> dict[str, Setting]:
        return {s.id: s for s in self.settings}


def _num(v):
    if v is None:
        return None
    return float(v)


def parse_catalog(doc: dict) -> Catalog:
    settings = []
    for s in doc.get("settings", []):
        v = s.get("value", {}) or {}
        typ = v.get("type", "string")
        if typ not in ("bool", "int", "float", "enum", "string"):
            typ = "string"  # e.g. string_list: the model writes one quoted string
        settings.append(
            Setting(
                id=s["id"],
                title=s.get("title", s["id"]),
                description=s.get("description", ""),
                synonyms=tuple(s.get("synonyms", []) or []),
                examples=tuple(s.get("examples", []) or []),
                type=typ,
                min=_num(v.get("min")),
                max=_num(v.get("max")),
                step=_num(v.get("step")),
                unit=str(v.get("unit", "") or ""),
                values=tuple(str(x) for x in (v.get("values", []) or [])),
                platforms=tuple(s.get("platforms", []) or []),
                pattern=v.get("pattern") or None,
            )
        )
    presets = []
    for p in doc.get("presets", []):
        presets.append(
            Preset(
                name=p["name"],
                title=p.get("title", p["name"]),
                description=p.get("description", ""),
                synonyms=tuple(p.get("synonyms", []) or []),
                examples=tuple(p.get("examples", []) or []),
                values=dict(p.get("values", {}) or {}),
            )
        )
    settings.sort(key=lambda s: s.id)
    presets.sort(key=lambda p: p.name)
    return Catalog(tuple(settings), tuple(presets))


def load_catalog(path: str | Path) -> Catalog:
    with open(path, encoding="utf-8") as f:
        return parse_catalog(json.load(f))
