#!/usr/bin/env python3
"""Check knob's settings catalog (settings-profiles/) beyond what knob's loader checks.

`knob settings check` validates the files first: the format of
docs/catalog-format.md, fields, types, ranges, maps (partial maps need
`partial_map`), backend tables, command templates, presets. This script keeps
what needs the real tools or outside data, and the shipped catalog's style:
  * style: text lengths, synonym and example counts, units, enum names, which
    backend each platform uses, argv without shells or sudo, map texts that
    repeat, registry and defaults value forms, parse samples of read commands,
    preset names, synonyms and conflicting keys;
  * coverage and facts against a reference catalog (--reference): every
    `tier = "core"` id is in the catalog, and gsettings/kconfig/defaults/registry
    keys agree with the reference (deliberate differences are listed in DEVIATIONS);
  * real tools: for GNOME, `gsettings range` and `gsettings set` + `get` with
    GSETTINGS_BACKEND=keyfile in a temporary XDG_CONFIG_HOME for every mapped value (or min/mid/max
    for numbers); for KDE, kwriteconfig5 + kreadconfig5 round trips in a temporary XDG_CONFIG_HOME.

Usage: scripts/check_catalog.py [--reference PATH] [--no-tools] [-v]
The knob binary is $KNOB_BIN, else target/release/knob (built with cargo when missing).
Exit status 0 when everything passes, 1 otherwise.
"""

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from knob_bin import knob_bin

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "settings-profiles"

PLATFORMS = ["gnome", "kde", "macos", "windows", "linux"]
BACKENDS = {"gsettings", "kconfig", "defaults", "registry", "command"}
ENUM_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")

# Deliberate differences from the reference facts: (id, platform) -> reason.
DEVIATIONS = {
    ("appearance.dark_mode", "macos"): "osascript (live) instead of AppleInterfaceStyle (logout)",
    ("appearance.wallpaper", "gnome"): "gsettings through a command: picture-uri needs file:// + path",
    ("appearance.wallpaper", "kde"): "reads through plasmashell scripting",
    ("appearance.wallpaper_fit", "kde"): "plasmashell scripting (reference: same script)",
    ("display.brightness", "linux"): "brightnessctl for both desktops",
    ("network.wifi", "linux"): "busctl NetworkManager WirelessEnabled: read and write agree",
    ("network.airplane_mode", "gnome"): "gsd-rfkill AirplaneMode property, the GNOME switch itself",
    ("search.file_indexing", "kde"): "baloofilerc key that balooctl writes",
    ("search.file_indexing", "windows"): "WSearch service Start value instead of sc.exe",
    ("input.input_method", "gnome"): "gtk-im-module (reference also_set)",
    ("lock.idle_lock_timeout", "macos"): "-currentHost needs a command",
    ("desktop.show_battery_percentage", "macos"): "-currentHost needs a command",
    ("dock.autohide", "kde"): "plasmashell scripting instead of a per-setup Panel N group",
    ("dock.icon_size", "kde"): "plasmashell scripting instead of a per-setup Panel N group",
    ("clock.24_hour", "kde"): "plasmashell scripting on the reference's applet key",
    ("clock.show_seconds", "kde"): "plasmashell scripting on the reference's applet key",
    ("clock.show_date", "kde"): "plasmashell scripting on the reference's applet key",
    ("region.first_day_of_week", "kde"): "plasmashell scripting on the reference's applet key",
    ("system.default_browser", "linux"): "xdg-settings for both desktops",
    ("privacy.location_services", "macos"): "defaults with the reference's path domain instead of a command",
    ("privacy.diagnostics", "macos"): "defaults with the reference's path domain instead of a command",
    ("time.automatic_timezone", "macos"): "defaults with the reference's path domain instead of a command",
}


class Report:
    def __init__(self, verbose):
        self.errors = []
        self.warnings = []
        self.verbose = verbose
        self.counts = {}

    def error(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    def warn(self, where, msg):
        self.warnings.append(f"{where}: {msg}")

    def count(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n


def load_toml(path, rep):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        rep.error(str(path), f"TOML error: {e}")
        return None


def fmt_num(x):
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return repr(x)


def check_value(where, v, rep):
    """Style of the value table (knob settings check has validated its form)."""
    t = v.get("type")
    if t in ("int", "float"):
        for k in ("min", "max", "step", "unit"):
            if k not in v:
                rep.error(where, f"{t} value needs `{k}`")
        if "unit" in v and not re.fullmatch(r"[a-z][a-z_]*", str(v["unit"])):
            rep.error(where, f"unit {v['unit']!r} should be one lowercase word (percent, ms, px, ...)")
        lo, hi, st = v.get("min"), v.get("max"), v.get("step")
        if None not in (lo, hi, st) and st > hi - lo:
            rep.error(where, f"step {st} larger than max - min")
    elif t == "enum":
        for x in v.get("values", []):
            if not ENUM_RE.match(x):
                rep.error(where, f"enum value {x!r} is not short lowercase snake_case")

def check_map(where, m, rep):
    """Two values with one backend text would read back ambiguously."""
    inv = {}
    for k, x in m.items():
        x = str(x).lower() if isinstance(x, bool) else str(x)
        if x in inv:
            rep.error(where, f"map texts repeat ({inv[x]} and {k} both give {x!r}): reading is ambiguous")
        inv[x] = k

def check_argv(where, argv, rep, what):
    if not argv:
        return False
    if argv[0] in ("sh", "bash", "cmd", "cmd.exe", "zsh") or argv[0].endswith("/sh"):
        rep.error(where, f"`{what}` runs a shell")
    if argv[0] == "sudo":
        rep.error(where, f"`{what}` starts with sudo: use admin = true")
    return True

def check_platform(sid, plat, t, value, rep):
    """Style of one platform table (knob settings check has validated its form)."""
    where = f"{sid} [{plat}]"
    be = t.get("backend")
    if be not in BACKENDS:
        return
    if plat == "linux" and be != "command":
        rep.error(where, "the linux table is for desktop-independent commands")
    if plat == "gnome" and be not in ("gsettings", "command"):
        rep.error(where, f"backend {be} on gnome")
    if plat == "kde" and be not in ("kconfig", "command"):
        rep.error(where, f"backend {be} on kde")
    if plat == "macos" and be not in ("defaults", "command"):
        rep.error(where, f"backend {be} on macos")
    if plat == "windows" and be not in ("registry", "command"):
        rep.error(where, f"backend {be} on windows")
    for a in t.get("after", []):
        check_argv(where, a, rep, "after")
    if "scale" in t and "map" in t:
        rep.error(where, "both `map` and `scale`")
    if "map" in t:
        check_map(where, t["map"], rep)
        if "partial_map" in t:
            rep.count("partial maps")
    elif value["type"] in ("bool", "enum"):
        rep.error(where, f"{value['type']} setting without a `map`")

    if be == "gsettings":
        if value["type"] == "string" and t.get("type") not in ("s",):
            rep.error(where, "string setting on a non-s key needs a map")
        for i, a in enumerate(t.get("also", [])):
            if "map" in a:
                check_map(f"{where} also[{i}]", a["map"], rep)
            elif value["type"] in ("bool", "enum"):
                rep.error(where, f"also[{i}] needs a map for a {value['type']} setting")
    elif be == "kconfig":
        if any("<" in x for x in t.get("groups", [])):
            rep.error(where, "`groups` has a placeholder")
        if str(t.get("file", "")).startswith("~"):
            rep.error(where, "kconfig file starting with ~ is not expanded")
    elif be == "defaults":
        if t.get("type") == "bool" and "map" in t:
            for k, x in t["map"].items():
                if str(x) not in ("true", "false", "<delete>"):
                    rep.error(where, f"defaults -bool takes true/false, map gives {x!r}")
        if t.get("type") == "int" and "map" in t:
            for k, x in t["map"].items():
                if x != "<delete>" and not re.fullmatch(r"-?[0-9]+", str(x)):
                    rep.error(where, f"defaults -int value {x!r}")
    elif be == "registry":
        p = t.get("path", "")
        if "<" in p or "<" in t.get("name", ""):
            rep.error(where, "registry path has a placeholder")
        if p.startswith(("HKLM", "HKU")) and not t.get("admin"):
            rep.error(where, "HKLM/HKU writes need admin = true")
        if t.get("type") in ("REG_DWORD", "REG_QWORD") and "map" in t:
            for k, x in t["map"].items():
                if not re.fullmatch(r"[0-9]+", str(x)):
                    rep.error(where, f"{t['type']} /d value {x!r} is not decimal")
                elif t["type"] == "REG_DWORD" and int(x) > 0xFFFFFFFF:
                    rep.error(where, f"REG_DWORD value {x} too large")
    elif be == "command":
        check_argv(where, t.get("read"), rep, "read")
        check_argv(where, t.get("write"), rep, "write")
        if re.search(r"(?<!\\)\$", t.get("parse", "")):
            rep.error(where, "`parse` uses $: in Rust it does not match before the output's final newline")
        samples = COMMAND_SAMPLES.get((sid, plat))
        if samples:
            rx = re.compile(t["parse"])
            for out, want in samples:
                m = rx.search(out)
                got = m.group(1) if m else None
                if got != want:
                    rep.error(where, f"parse of sample {out!r} gave {got!r}, expected {want!r}")
                elif "map" in t and want not in t["map"].values():
                    rep.error(where, f"parsed text {want!r} is not a map text: reading would say unknown")
            rep.count("command parse samples", len(samples))


# Sample outputs of read commands (from the tools' documentation and source) and the text parse
# must extract. They keep `parse` and `map` in agreement.
COMMAND_SAMPLES = {
    ("display.brightness", "linux"): [("intel_backlight,backlight,9600,50%,19200\n", "50")],
    ("sound.volume", "linux"): [("Volume: 0.40\n", "0.40"), ("Volume: 0.55 [MUTED]\n", "0.55")],
    ("sound.input_volume", "linux"): [("Volume: 1.00\n", "1.00")],
    ("sound.mute", "linux"): [("Mute: yes\n", "yes"), ("Mute: no\n", "no")],
    ("sound.input_mute", "linux"): [("Mute: no\n", "no")],
    ("sound.output_device", "linux"): [("alsa_output.pci-0000_00_1f.3.analog-stereo\n",
                                        "alsa_output.pci-0000_00_1f.3.analog-stereo")],
    ("network.wifi", "linux"): [("b true\n", "true"), ("b false\n", "false")],
    ("network.airplane_mode", "gnome"): [("b false\n", "false")],
    ("bluetooth.enabled", "linux"): [("Controller 00:11:22:33:44:55 (public)\n\tName: box\n\tPowered: yes\n", "yes")],
    ("power.power_mode", "linux"): [("balanced\n", "balanced"), ("power-saver\n", "power-saver")],
    ("time.timezone", "linux"): [("Europe/Berlin\n", "Europe/Berlin")],
    ("time.automatic_time", "linux"): [("yes\n", "yes")],
    ("system.default_browser", "linux"): [("firefox-esr.desktop\n", "firefox-esr.desktop")],
    ("appearance.wallpaper", "gnome"): [("'file:///usr/share/backgrounds/gnome/blobs-l.svg'\n",
                                         "/usr/share/backgrounds/gnome/blobs-l.svg"),
                                        # gsettings prints a path with ' in double quotes
                                        ("\"file:///tmp/a'b.png\"\n", "/tmp/a'b.png")],
    ("appearance.dark_mode", "macos"): [("true\n", "true")],
    ("sound.volume", "macos"): [("56\n", "56")],
    ("sound.mute", "macos"): [("false\n", "false")],
    ("network.wifi", "macos"): [("Wi-Fi Power (en0): On\n", "On")],
    ("time.timezone", "macos"): [("Time Zone: Europe/Berlin\n", "Europe/Berlin")],
    ("time.automatic_time", "macos"): [("Network Time: On\n", "On")],
    ("power.screen_off_timeout", "macos"): [(
        "Battery Power:\n displaysleep         2\n sleep                1\nAC Power:\n"
        " displaysleep         10\n sleep                0\n", "10")],
    ("power.sleep_timeout_ac", "macos"): [(
        "Battery Power:\n displaysleep         2\n sleep                1\nAC Power:\n"
        " displaysleep         10\n sleep                30\n", "30")],
    ("power.sleep_timeout_battery", "macos"): [(
        "Battery Power:\n displaysleep         2\n sleep                15\nAC Power:\n"
        " displaysleep         10\n sleep                30\n", "15")],
    ("power.power_mode", "macos"): [(" lowpowermode         1\n", "1")],
    ("power.power_mode", "windows"): [(
        "Power Scheme GUID: 381b4222-f694-41f0-9685-ff5bb260df2e  (Balanced)\n",
        "381b4222-f694-41f0-9685-ff5bb260df2e")],
    ("power.power_button_action", "windows"): [(
        "    Current AC Power Setting Index: 0x00000001\n    Current DC Power Setting Index: 0x00000001\n", "1"),
        ("    Current AC Power Setting Index: 0x00000000\n", "0")],
    ("power.lid_close_action", "windows"): [("    Current AC Power Setting Index: 0x00000003\n", "3")],
    ("lock.lock_on_resume", "windows"): [("    Current AC Power Setting Index: 0x00000001\n", "1")],
    ("display.auto_brightness", "windows"): [("    Current AC Power Setting Index: 0x00000000\n", "0")],
    ("lock.idle_lock_timeout", "macos"): [("600\n", "600")],
    ("desktop.show_battery_percentage", "macos"): [("1\n", "1")],
    ("dock.autohide", "kde"): [("autohide\n", "autohide")],
    ("dock.position", "kde"): [("bottom\n", "bottom")],
    ("dock.icon_size", "kde"): [("44\n", "44")],
    ("appearance.wallpaper_fit", "kde"): [("2\n", "2")],
    ("clock.24_hour", "kde"): [("2\n", "2"), ("0\n", "0")],
    ("clock.show_seconds", "kde"): [("false\n", "false")],
    ("region.first_day_of_week", "kde"): [("1\n", "1"), ("0\n", "0")],
    ("taskbar.combine_buttons", "kde"): [("1\n", "1")],
}


def check_setting(s, file, rep):
    sid = s.get("id", "?")
    where = f"{file.name}:{sid}"
    if isinstance(s.get("title"), str) and len(s["title"]) > 48:
        rep.error(where, "title longer than 48 characters")
    if isinstance(s.get("description"), str) and not s["description"].rstrip().endswith("."):
        rep.error(where, "description should be one sentence ending with a full stop")
    syn = s.get("synonyms", [])
    ex = s.get("examples", [])
    if not (6 <= len(syn) <= 12):
        rep.error(where, f"{len(syn)} synonyms (want 6-12)")
    if not (6 <= len(ex) <= 10):
        rep.error(where, f"{len(ex)} examples (want 6-10)")
    for lst, name in ((syn, "synonyms"), (ex, "examples")):
        if len(set(x.lower() for x in lst)) != len(lst):
            rep.error(where, f"{name} repeat")
        if not all(isinstance(x, str) and x.strip() == x and x for x in lst):
            rep.error(where, f"{name} must be trimmed non-empty strings")
    v = s["value"]
    check_value(where, v, rep)
    for p in PLATFORMS:
        if p in s:
            check_platform(sid, p, s[p], v, rep)
            rep.count(f"platform {p}")


def reference_core(path, rep):
    ref = load_toml(path, rep)
    if ref is None:
        return {}
    return {x["id"]: x for x in ref["setting"] if x.get("tier") == "core"}


def compare_reference(s, ref, rep):
    sid = s["id"]
    r = ref.get(sid)
    if r is None:
        return
    if "linux" in s:
        for plat in ("gnome", "kde"):
            if plat not in s and r.get(plat, {}).get("mechanism") in ("none", "api", None):
                rep.error(f"{sid} [linux] vs reference", f"reference says {plat} cannot do this")
    for plat in ("gnome", "kde", "macos", "windows"):
        t = s.get(plat)
        rt = r.get(plat, {})
        mech = rt.get("mechanism")
        if t is None and plat in ("gnome", "kde") and "linux" in s:
            rep.count(f"served by the linux table ({plat})")
            continue
        if t is None:
            if mech not in (None, "none", "api"):
                rep.count(f"left out ({plat})")
            continue
        if (sid, plat) in DEVIATIONS:
            rep.count("documented deviations")
            continue
        be = t["backend"]
        where = f"{sid} [{plat}] vs reference"
        if mech in ("none", "api"):
            rep.error(where, f"reference says {mech}, catalog has {be}")
            continue
        if be == "gsettings":
            keys = {(rt.get("schema"), rt.get("key"))}
            keys |= {(a.get("schema"), a.get("key")) for a in rt.get("also_set", [])}
            if (t["schema"], t["key"]) not in keys:
                rep.error(where, f"{t['schema']} {t['key']} not in reference {sorted(keys)}")
        elif be == "kconfig":
            keys = {(rt.get("file"), tuple(rt.get("groups", [])), rt.get("key"))}
            keys |= {(a.get("file"), tuple(a.get("groups", [])), a.get("key")) for a in rt.get("also_set", [])}
            if (t["file"], tuple(t["groups"]), t["key"]) not in keys:
                rep.error(where, f"{t['file']} {t['groups']} {t['key']} not in reference")
        elif be == "defaults":
            if (t["domain"], t["key"]) != (rt.get("domain"), rt.get("key")):
                rep.error(where, f"{t['domain']} {t['key']} != {rt.get('domain')} {rt.get('key')}")
        elif be == "registry":
            rpath = rt.get("hive", "") + "\\" + rt.get("path", "") if rt.get("hive") else rt.get("path", "")
            names = {(rpath, rt.get("value_name"))}
            names |= {(a.get("path"), a.get("value_name")) for a in rt.get("also_set", [])}
            if (t["path"], t["name"]) not in names:
                rep.error(where, f"{t['path']} {t['name']} not in reference {sorted(names)}")
        elif be == "command":
            if mech not in ("command", "osascript"):
                rep.error(where, f"reference mechanism {mech}, catalog command")
            else:
                ref_cmd = (rt.get("write") or "").split()
                tool = ref_cmd[1] if ref_cmd[:1] == ["sudo"] else (ref_cmd[0] if ref_cmd else "")
                if not re.fullmatch(r"[A-Za-z0-9._-]+", tool or ""):
                    tool = "powershell"  # the reference writes PowerShell expressions
                if tool and tool not in t["write"][0] and tool != t["write"][0]:
                    rep.error(where, f"tool {t['write'][0]} differs from reference {tool}")


def knob_check(rep):
    """`knob settings check` on the files here: knob's own loader validates the format.
    Returns whether they loaded; the other checks read the files as knob accepted them."""
    files = sorted(PROFILES.glob("*.toml")) + sorted((PROFILES / "presets").glob("*.toml"))
    r = subprocess.run([knob_bin(), "settings", "check", *map(str, files)],
                       capture_output=True, text=True, timeout=120)
    for line in r.stderr.splitlines():
        rep.error("knob settings check", line)
    if r.returncode != 0 and not r.stderr.strip():
        rep.error("knob settings check", f"failed with status {r.returncode}")
    print(f"knob settings check: {r.stdout.strip() or 'failed'}")
    return r.returncode == 0


def load_catalog(rep):
    settings = []
    for f in sorted(PROFILES.glob("*.toml")):
        d = load_toml(f, rep)
        if d is None:
            continue
        for s in d.get("setting", []):
            settings.append((f, s))
    return settings


def check_presets(byid, rep):
    names = set()
    files = sorted((PROFILES / "presets").glob("*.toml"))
    for f in files:
        d = load_toml(f, rep)
        if d is None:
            continue
        where = f"presets/{f.name}"
        if d.get("name") != f.stem:
            rep.error(where, f"name {d.get('name')!r} differs from the file name")
        if d.get("name") in names:
            rep.error(where, "preset name repeats")
        names.add(d.get("name"))
        if not (3 <= len(d.get("synonyms", [])) <= 12):
            rep.error(where, "want 3-12 synonyms")
        vals = d.get("values", {})
        check_preset_conflicts(where, vals, byid, rep)
        rep.count("presets")
    return names


def backend_text(s, t, x):
    """The backend text knob writes for catalog value X (None when the platform refuses it)."""
    if "map" in t:
        k = ("true" if x else "false") if isinstance(x, bool) else (fmt_num(x) if isinstance(x, (int, float)) else x)
        return t["map"].get(k)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return fmt_num(x * t.get("scale", 1))
    return x


def targets(t):
    be = t["backend"]
    if be == "gsettings":
        return [("gsettings", t["schema"], t["key"], t.get("map"))] + [
            ("gsettings", a["schema"], a["key"], a.get("map")) for a in t.get("also", [])]
    if be == "kconfig":
        return [("kconfig", t["file"], tuple(t["groups"]), t["key"], t.get("map"))]
    if be == "defaults":
        return [("defaults", t["domain"], t["key"], t.get("map"))]
    if be == "registry":
        return [("registry", t["path"], t["name"], t.get("map"))]
    return [("command", t["name"], t.get("map"))]


def check_preset_conflicts(where, vals, byid, rep):
    """Two settings of one preset must not write different texts to the same key."""
    for plat in PLATFORMS:
        seen = {}
        for sid, x in vals.items():
            s = byid.get(sid)
            if not s or plat not in s:
                continue
            for tg in targets(s[plat]):
                key, m = tg[:-1], tg[-1]
                t = dict(s[plat])
                if m is None:
                    t.pop("map", None)
                else:
                    t["map"] = m
                text = backend_text(s, t, x)
                if key in seen and seen[key][1] != text:
                    rep.error(where, f"{seen[key][0]} and {sid} both write {key} on {plat} with different values")
                seen[key] = (sid, text)


# ---------------------------------------------------------------- real tools

def gv_quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


STRING_SAMPLES = {
    "appearance.icon_theme": "Adwaita",
    "appearance.cursor_theme": "DMZ-White",
    "text.ui_font": "Cantarell 14",
    "text.monospace_font": "DejaVu Sans Mono 12",
    "region.formats": "de_DE.UTF-8",
}


def test_values(s, t):
    """(catalog value, backend text) pairs to try on a real backend."""
    v = s["value"]
    if "map" in t:
        out = []
        for k, x in t["map"].items():
            if v["type"] == "bool":
                out.append((k == "true", x))
            elif v["type"] in ("int", "float"):
                out.append((float(k), x))
            else:
                out.append((k, x))
        return out
    if v["type"] in ("int", "float"):
        lo, hi, st = v["min"], v["max"], v["step"]
        mid = lo + st * math.floor((hi - lo) / st / 2)
        out = []
        for x in (lo, mid, hi):
            y = x * t.get("scale", 1)
            integral = t.get("type") in ("i", "u", "int", "REG_DWORD", "x", "t", "n", "q", "y") or v["type"] == "int" and t.get("type") not in ("d", "double")
            out.append((x, str(int(round(y))) if integral else fmt_num(float(y))))
        return out
    if v["type"] == "string":
        x = STRING_SAMPLES.get(s["id"], "Example")
        if "pattern" in v and not re.search(v["pattern"], x):
            raise ValueError(f"{s['id']}: string sample {x!r} does not match the setting's pattern")
        return [(x, gv_quote(x) if t.get("type") == "s" else x)]
    return []


def same_text(a, b):
    a, b = a.strip(), b.strip()
    if a == b:
        return True
    a2 = re.sub(r"^(uint32|int32|int64|uint64|byte|int16|uint16|double) ", "", a)
    b2 = re.sub(r"^(uint32|int32|int64|uint64|byte|int16|uint16|double) ", "", b)
    if a2 == b2:
        return True
    try:
        return math.isclose(float(a2), float(b2), rel_tol=1e-9, abs_tol=1e-9)
    except ValueError:
        return False


# Schemas or keys the Debian 12 test machine does not have (newer GNOME, or packages that are not
# installed here); their round trip is skipped with a warning instead of failing.
MAY_BE_MISSING = {
    ("org.gnome.desktop.interface", "accent-color"): "GNOME 47+",
    ("org.gnome.shell.extensions.dash-to-dock", None): "gnome-shell-extension-dashtodock",
    ("org.gnome.SessionManager", None): "gnome-session-bin",
    ("org.gtk.gtk4.Settings.FileChooser", None): "libgtk-4-common",
}


def run(argv, env):
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def gsettings_roundtrips(settings, rep):
    if not shutil.which("gsettings"):
        rep.error("gsettings", "gsettings not installed: cannot run the real round trips")
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: x for k, x in os.environ.items() if k != "XDG_CURRENT_DESKTOP"}
        env.update(GSETTINGS_BACKEND="keyfile", XDG_CONFIG_HOME=tmp, HOME=tmp)
        schemas = set(run(["gsettings", "list-schemas"], env).stdout.split())
        for f, s in settings:
            t = s.get("gnome")
            if not t or t.get("backend") != "gsettings":
                continue
            keys = [(t["schema"], t["key"], t.get("map"), t.get("type"), t.get("scale"))]
            keys += [(a["schema"], a["key"], a.get("map"), a.get("type"), a.get("scale")) for a in t.get("also", [])]
            for schema, key, m, gtype, scale in keys:
                where = f"{s['id']} [gnome] {schema} {key}"
                base = schema.split(":")[0]
                if base not in schemas:
                    why = MAY_BE_MISSING.get((base, None)) or MAY_BE_MISSING.get((base, key))
                    if why:
                        rep.warn(where, f"schema not installed here ({why}); round trip skipped")
                        rep.count("gsettings skipped")
                    else:
                        rep.error(where, "schema not installed")
                    continue
                r = run(["gsettings", "range", schema, key], env)
                if r.returncode != 0:
                    why = MAY_BE_MISSING.get((base, key))
                    if why:
                        rep.warn(where, f"key not in this GNOME ({why}); round trip skipped")
                        rep.count("gsettings skipped")
                    else:
                        rep.error(where, f"gsettings range failed: {r.stderr.strip()}")
                    continue
                rng = r.stdout.split()
                if rng and rng[0] == "type" and gtype not in ("enum",):
                    real = rng[1]
                    if real != gtype:
                        rep.error(where, f"catalog type {gtype} but the schema says {real}")
                if rng and rng[0] == "enum" and gtype != "enum":
                    rep.error(where, f"catalog type {gtype} but the key is an enum")
                tt = dict(t)
                tt["map"] = m
                if m is None:
                    tt.pop("map")
                tt["type"] = gtype
                if scale is not None:
                    tt["scale"] = scale
                for val, text in test_values(s, tt):
                    w = run(["gsettings", "set", schema, key, text], env)
                    if w.returncode != 0:
                        rep.error(where, f"gsettings set {text!r} failed: {w.stderr.strip()}")
                        continue
                    g = run(["gsettings", "get", schema, key], env)
                    if g.returncode != 0 or not same_text(g.stdout, text):
                        rep.error(where, f"set {text!r} but get gave {g.stdout.strip()!r}")
                    else:
                        rep.count("gsettings round trips")
                run(["gsettings", "reset", schema, key], env)
        keyfile = Path(tmp) / "glib-2.0" / "settings" / "keyfile"
        if rep.counts.get("gsettings round trips") and not keyfile.exists():
            rep.error("gsettings", "keyfile backend wrote nothing: values went to memory")


def kconfig_roundtrips(settings, rep):
    kw = shutil.which("kwriteconfig6") or shutil.which("kwriteconfig5")
    kr = shutil.which("kreadconfig6") or shutil.which("kreadconfig5")
    if not kw or not kr:
        rep.error("kconfig", "kwriteconfig5/kreadconfig5 not installed: cannot run the real round trips")
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(XDG_CONFIG_HOME=tmp, HOME=tmp)
        for f, s in settings:
            t = s.get("kde")
            if not t or t.get("backend") != "kconfig":
                continue
            where = f"{s['id']} [kde] {t['file']} {t['groups']} {t['key']}"
            file = t["file"]
            if file.startswith("/"):
                rep.error(where, "absolute kconfig file: not testable in a temporary directory")
                continue
            gargs = []
            for g in t["groups"]:
                gargs += ["--group", g]
            for val, text in test_values(s, t):
                # "--" ends the options: a value such as "-1" would be taken for an option otherwise
                w = run([kw, "--file", file, *gargs, "--key", t["key"], "--type", t["type"], "--", text], env)
                if w.returncode != 0:
                    rep.error(where, f"kwriteconfig {text!r} failed: {w.stderr.strip()}")
                    continue
                r = run([kr, "--file", file, *gargs, "--key", t["key"]], env)
                got = r.stdout.rstrip("\n")
                if got != text and not (t["type"] == "double" and same_text(got, text)):
                    rep.error(where, f"wrote {text!r}, read {got!r}")
                else:
                    rep.count("kconfig round trips")
        for p in Path(tmp).rglob("*"):
            if p.is_file() and not str(p).startswith(tmp):
                rep.error("kconfig", f"file outside the temporary directory: {p}")


EXTRA_SCHEMA_PACKAGES = ["gnome-shell-extension-dashtodock", "gnome-session-bin", "libgtk-4-common"]


def fetch_schemas(dest):
    """apt-get download the packages whose schemas the catalog uses but CI does not install,
    unpack only their .gschema.xml files into DEST and compile them (for GSETTINGS_SCHEMA_DIR)."""
    dest = Path(dest)
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *EXTRA_SCHEMA_PACKAGES], cwd=debs, check=True,
                   capture_output=True, timeout=300)
    out = dest / "x"
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(out)], check=True, timeout=120)
    schemas = dest / "schemas"
    schemas.mkdir(exist_ok=True)
    for xml in out.rglob("*.gschema.xml"):
        shutil.copy(xml, schemas / xml.name)
    subprocess.run(["glib-compile-schemas", str(schemas)], check=True, timeout=120)
    return schemas


def self_test():
    """The checks must catch broken entries: each case is one mistake and the error it must give."""
    base = {"id": "t.x", "title": "T", "description": "D.", "synonyms": [f"s{i}" for i in range(6)],
            "examples": [f"e{i}" for i in range(6)], "value": {"type": "bool"},
            "gnome": {"backend": "gsettings", "schema": "a.b", "key": "k", "type": "b",
                      "map": {"true": "true", "false": "false"}}}
    cases = [
        ({"gnome": {**base["gnome"], "map": {"true": "x", "false": "x"}}}, "map texts repeat"),
        ({"value": {"type": "int", "min": 1, "max": 5, "step": 1}, "gnome": {**base["gnome"], "map": None}}, "int value needs `unit`"),
        ({"value": {"type": "enum", "values": ["Big"]}, "gnome": {**base["gnome"], "map": {"Big": "'x'"}}}, "snake_case"),
        ({"synonyms": ["a"]}, "1 synonyms"),
        ({"kde": {"backend": "kconfig", "file": "f", "groups": ["<id>"], "key": "k", "type": "bool", "map": {"true": "true", "false": "false"}}}, "placeholder"),
        ({"windows": {"backend": "registry", "path": r"HKLM\X", "name": "n", "type": "REG_DWORD", "map": {"true": "1", "false": "0"}}}, "admin = true"),
        ({"linux": {"backend": "command", "name": "x", "read": ["x"], "parse": "(a)$", "write": ["x", "{value}"], "map": {"true": "1", "false": "0"}}}, "`parse` uses $"),
        ({"linux": {"backend": "command", "name": "x", "read": ["sh", "-c", "x"], "parse": "(a)", "write": ["x", "{value}"], "map": {"true": "1", "false": "0"}}}, "runs a shell"),
        ({"macos": {"backend": "command", "name": "x", "read": ["x"], "parse": "(a)", "write": ["sudo", "x", "{value}"], "map": {"true": "1", "false": "0"}}}, "starts with sudo"),
        ({"macos": {"backend": "defaults", "domain": "d", "key": "k", "type": "bool", "map": {"true": "1", "false": "0"}}}, "-bool takes true/false"),
    ]
    failed = 0
    for change, want in cases:
        s = {**base, **change}
        if s["gnome"].get("map") is None:
            s["gnome"] = {k: x for k, x in s["gnome"].items() if k != "map"}
        rep = Report(False)
        check_setting(s, Path("selftest.toml"), rep)
        if not any(want in e for e in rep.errors):
            failed += 1
            print(f"self-test: expected an error containing {want!r}, got {rep.errors}")
    rep = Report(False)
    check_setting(base, Path("selftest.toml"), rep)
    if rep.errors:
        failed += 1
        print(f"self-test: the valid entry gave errors {rep.errors}")
    print(f"self-test: {len(cases) + 1 - failed}/{len(cases) + 1} cases passed")
    return failed == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, help="reference catalog TOML (coverage and facts)")
    ap.add_argument("--no-tools", action="store_true", help="skip the gsettings/kconfig round trips")
    ap.add_argument("--fetch-schemas", action="store_true",
                    help="apt-get download the dash-to-dock, gnome-session and GTK4 schemas so that "
                         "their keys are round-tripped too (needs the Debian archive)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print warnings too")
    args = ap.parse_args()
    rep = Report(args.verbose)

    if not self_test():
        print("FAILED: the checker's self-test failed")
        return 1

    tmp_schemas = None
    if args.fetch_schemas and not args.no_tools:
        tmp_schemas = tempfile.TemporaryDirectory()
        d = fetch_schemas(tmp_schemas.name)
        old = os.environ.get("GSETTINGS_SCHEMA_DIR")
        os.environ["GSETTINGS_SCHEMA_DIR"] = str(d) + (os.pathsep + old if old else "")

    if not knob_check(rep):
        for e in rep.errors:
            print("error:", e)
        print(f"FAILED: {len(rep.errors)} errors")
        return 1
    settings = load_catalog(rep)
    byid = {}
    for f, s in settings:
        check_setting(s, f, rep)
        sid = s.get("id")
        if sid in byid:
            rep.error(f"{f.name}:{sid}", "id repeats")
        byid[sid] = s

    if args.reference and args.reference.exists():
        ref = reference_core(args.reference, rep)
        missing = sorted(set(ref) - set(byid))
        for m in missing:
            rep.error("coverage", f"core setting {m} missing")
        for _, s in settings:
            if "id" in s and "value" in s:
                compare_reference(s, ref, rep)
        print(f"reference core settings: {len(ref)}, covered: {len(ref) - len(missing)}")
    else:
        rep.warn("coverage", f"reference {args.reference} not found; coverage not checked" if args.reference
                 else "no --reference; coverage not checked")

    check_presets(byid, rep)
    if not args.no_tools:
        gsettings_roundtrips(settings, rep)
        kconfig_roundtrips(settings, rep)

    print(f"settings: {len(settings)}")
    for p in ("gnome", "kde"):
        own = sum(1 for _, x in settings if p in x)
        via = sum(1 for _, x in settings if p not in x and "linux" in x)
        print(f"{p}: {own + via} settings ({own} own tables, {via} through the linux table)")
    for p in ("macos", "windows"):
        print(f"{p}: {sum(1 for _, x in settings if p in x)} settings")
    for k in sorted(rep.counts):
        print(f"{k}: {rep.counts[k]}")
    if args.verbose:
        for w in rep.warnings:
            print("warning:", w)
    else:
        print(f"warnings: {len(rep.warnings)} (-v to list)")
    for e in rep.errors:
        print("error:", e)
    print("OK" if not rep.errors else f"FAILED: {len(rep.errors)} errors")
    return 0 if not rep.errors else 1


if __name__ == "__main__":
    sys.exit(main())
