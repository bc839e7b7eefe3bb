#!/usr/bin/env python3
"""Validate knob's settings catalog (settings-profiles/) against docs/catalog-format.md.

Checks, in order:
  * every table has only the fields the format allows (the loader uses deny_unknown_fields);
  * ids are unique and well formed, texts are present, synonyms and examples are in range;
  * value types: int/float ranges and steps are sane, enum names are short snake_case;
  * every `map` covers every value of a bool/enum setting (exceptions listed in PARTIAL_MAPS),
    and only maps values the setting can take;
  * backend tables: gsettings/kconfig/defaults/registry types are known, command argv templates
    contain {value}, parse regexes compile and have a group;
  * coverage: every `tier = "core"` id of the reference data is in the catalog;
  * facts: gsettings schema/key, kconfig file/groups/key, defaults domain/key and registry
    path/name agree with the reference (deliberate differences are listed in DEVIATIONS);
  * presets: names, fields, and every value valid for its setting's type and range;
  * real tools: for GNOME, `gsettings range` and `gsettings set` + `get` with
    GSETTINGS_BACKEND=keyfile in a temporary XDG_CONFIG_HOME for every mapped value (or min/mid/max
    for numbers); for KDE, kwriteconfig5 + kreadconfig5 round trips in a temporary XDG_CONFIG_HOME.

Usage: scripts/check_catalog.py [--reference PATH] [--no-tools] [-v]
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

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "settings-profiles"
DEFAULT_REFERENCE = Path("/work/shared/settings-catalog.toml")

SETTING_FIELDS = {"id", "title", "description", "synonyms", "examples", "value",
                  "gnome", "kde", "macos", "windows", "linux"}
VALUE_FIELDS = {"type", "min", "max", "step", "unit", "values", "pattern"}
COMMON_FIELDS = {"backend", "notes", "admin", "after", "map", "scale"}
BACKEND_FIELDS = {
    "gsettings": {"schema", "key", "type", "also"},
    "kconfig": {"file", "groups", "key", "type"},
    "defaults": {"domain", "key", "type"},
    "registry": {"path", "name", "type"},
    "command": {"name", "read", "parse", "write", "unescape"},
}
ALSO_FIELDS = {"schema", "key", "type", "map"}
PLATFORMS = ["gnome", "kde", "macos", "windows", "linux"]
PRESET_FIELDS = {"name", "title", "description", "synonyms", "values"}

GVARIANT_TYPES = {"b", "i", "u", "d", "s", "enum", "as", "a(ss)", "x", "t", "n", "q", "y"}
KCONFIG_TYPES = {"bool", "int", "double", "string"}
DEFAULTS_TYPES = {"bool", "int", "float", "string"}
REGISTRY_TYPES = {"REG_DWORD", "REG_SZ", "REG_QWORD"}
VALUE_TYPES = {"bool", "int", "float", "enum", "string"}
# Programs whose arguments are script text: {value} may only be a whole argument there.
SCRIPT_HOSTS = {"osascript", "powershell", "pwsh", "qdbus", "qdbus6"}

ID_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
ENUM_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")

# (setting id, platform): why the map may leave out some values of the setting.
# knob refuses such a value on that platform, and the plan says so.
PARTIAL_MAPS = {
    ("appearance.accent_color", "macos"): "macOS has no teal accent",
    ("appearance.wallpaper_fit", "kde"): "Plasma has no span mode",
    ("appearance.wallpaper_fit", "windows"): "tile needs a second value (TileWallpaper)",
    ("display.scale", "gnome"): "GNOME's X11 scaling-factor is a whole number",
    ("display.scale", "windows"): "LogPixels has fixed steps up to 200 %",
    ("night_light.schedule", "gnome"): "GNOME has no always-on mode",
    ("text.antialiasing", "kde"): "subpixel needs a second key (XftSubPixel)",
    ("text.antialiasing", "windows"): "grayscale needs a second value (FontSmoothingType)",
    ("a11y.cursor_size", "windows"): "the Windows slider has 16 px steps from 32 px",
    ("a11y.color_filter", "macos"): "macOS key is greyscale on/off only",
    ("a11y.color_filter", "windows"): "off is a second value (Active)",
    ("touchpad.click_method", "macos"): "only the two-finger secondary click is one key",
    ("touchpad.click_method", "windows"): "two Precision Touchpad values",
    ("keyboard.repeat_delay", "windows"): "KeyboardDelay has four steps",
    ("keyboard.repeat_rate", "gnome"): "GNOME stores the interval (1000/rate ms)",
    ("keyboard.numlock_on_startup", "windows"): "Windows has no remember mode",
    ("input.switch_shortcut", "gnome"): "GNOME binds keys, not XKB modifier toggles",
    ("input.switch_shortcut", "windows"): "Win+Space always works; no super_space value",
    ("power.power_button_action", "gnome"): "GNOME has no direct shut-down action",
    ("power.power_button_action", "windows"): "Windows has no ask action in powercfg",
    ("power.lid_close_action", "windows"): "powercfg has no lock action for the lid",
    ("power.power_mode", "macos"): "Low Power Mode is on/off only",
    ("dock.position", "macos"): "the Dock cannot sit at the top",
    ("taskbar.combine_buttons", "kde"): "the Plasma task manager groups or does not",
    ("files.default_view", "gnome"): "Nautilus has icon and list views only",
    ("files.default_view", "macos"): "Finder has no compact view",
    ("files.new_window_location", "macos"): "downloads/this_pc need a path value",
    ("files.new_window_location", "windows"): "Explorer offers Home, This PC and Downloads",
    ("files.thumbnails", "windows"): "Explorer has no local-only mode",
    ("wm.titlebar_buttons", "kde"): "left-side buttons are a second key (ButtonsOnLeft)",
    ("wm.titlebar_double_click", "macos"): "macOS has no shade",
    ("network.proxy", "windows"): "auto (PAC) is a second value (AutoConfigURL)",
    ("region.first_day_of_week", "windows"): "",
}

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


def unknown(where, table, allowed, rep):
    for k in table:
        if k not in allowed:
            rep.error(where, f"unknown field `{k}` (allowed: {', '.join(sorted(allowed))})")


def value_domain(value):
    """Catalog values a bool/enum setting can take, as map keys."""
    if value["type"] == "bool":
        return ["true", "false"]
    if value["type"] == "enum":
        return list(value.get("values", []))
    return None


def fmt_num(x):
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return repr(x)


def check_value(where, v, rep):
    unknown(where + ".value", v, VALUE_FIELDS, rep)
    t = v.get("type")
    if t not in VALUE_TYPES:
        rep.error(where, f"value type `{t}` not one of {sorted(VALUE_TYPES)}")
        return
    extra = set(v) - {"type"}
    if t in ("int", "float"):
        for k in ("min", "max", "step", "unit"):
            if k not in v:
                rep.error(where, f"{t} value needs `{k}`")
        if extra - {"min", "max", "step", "unit"}:
            rep.error(where, f"{t} value has fields {sorted(extra - {'min', 'max', 'step', 'unit'})}")
        if "unit" in v and not re.fullmatch(r"[a-z][a-z_]*", str(v["unit"])):
            rep.error(where, f"unit {v['unit']!r} should be one lowercase word (percent, ms, px, ...)")
        lo, hi, st = v.get("min"), v.get("max"), v.get("step")
        for k, x in (("min", lo), ("max", hi), ("step", st)):
            if x is None:
                continue
            if t == "int" and not isinstance(x, int):
                rep.error(where, f"int `{k}` must be an integer, got {x!r}")
            if not isinstance(x, (int, float)) or isinstance(x, bool):
                rep.error(where, f"`{k}` must be a number")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo >= hi:
            rep.error(where, f"min {lo} >= max {hi}")
        if isinstance(st, (int, float)) and isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            if st <= 0 or st > hi - lo:
                rep.error(where, f"step {st} not in (0, max-min]")
    elif t == "enum":
        vals = v.get("values")
        if not vals or not isinstance(vals, list):
            rep.error(where, "enum needs a non-empty `values` list")
            return
        if len(set(vals)) != len(vals):
            rep.error(where, "enum values repeat")
        for x in vals:
            if not isinstance(x, str) or not ENUM_RE.match(x):
                rep.error(where, f"enum value {x!r} is not short lowercase snake_case")
        if extra - {"values"}:
            rep.error(where, f"enum value has fields {sorted(extra - {'values'})}")
    elif t == "string":
        if extra - {"pattern"}:
            rep.error(where, f"string value has fields {sorted(extra - {'pattern'})}")
        if "pattern" in v:
            try:
                re.compile(v["pattern"])
            except re.error as e:
                rep.error(where, f"pattern does not compile: {e}")
    elif t == "bool":
        if extra:
            rep.error(where, f"bool value has fields {sorted(extra)}")


def check_map(where, sid, plat, m, value, rep):
    if not isinstance(m, dict):
        rep.error(where, "`map` must be a table")
        return
    for k, x in m.items():
        if not isinstance(x, str):
            rep.error(where, f"map value for {k} must be a string (backend text), got {x!r}")
    dom = value_domain(value)
    if dom is not None:
        for k in m:
            if k not in dom:
                rep.error(where, f"map key `{k}` is not a value of the setting ({dom})")
        missing = [d for d in dom if d not in m]
        if missing and (sid, plat) not in PARTIAL_MAPS:
            rep.error(where, f"map leaves out {missing}")
        if missing and (sid, plat) in PARTIAL_MAPS:
            rep.count("partial maps")
    elif value["type"] in ("int", "float"):
        for k in m:
            try:
                x = float(k)
            except ValueError:
                rep.error(where, f"map key `{k}` is not a number")
                continue
            if not (value["min"] <= x <= value["max"]):
                rep.error(where, f"map key {k} outside {value['min']}..{value['max']}")
        if (sid, plat) not in PARTIAL_MAPS and sid not in ("keyboard.repeat_delay",):
            rep.warn(where, "numeric setting with a map: values outside the map are refused")
    else:
        rep.error(where, "string settings cannot have a map")
    inv = {}
    for k, x in m.items():
        if x in inv:
            rep.error(where, f"map texts repeat ({inv[x]} and {k} both give {x!r}): reading is ambiguous")
        inv[x] = k


def check_argv(where, argv, rep, what):
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        rep.error(where, f"`{what}` must be a non-empty list of strings")
        return False
    if argv[0] in ("sh", "bash", "cmd", "cmd.exe", "zsh") or argv[0].endswith("/sh"):
        rep.error(where, f"`{what}` runs a shell")
    if argv[0] == "sudo":
        rep.error(where, f"`{what}` starts with sudo: use admin = true")
    return True


def check_platform(sid, plat, t, value, rep):
    where = f"{sid} [{plat}]"
    be = t.get("backend")
    if be not in BACKEND_FIELDS:
        rep.error(where, f"backend `{be}` unknown")
        return
    unknown(where, t, COMMON_FIELDS | BACKEND_FIELDS[be], rep)
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
    for k in ("notes",):
        if k in t and (not isinstance(t[k], list) or not all(isinstance(x, str) and x for x in t[k])):
            rep.error(where, "`notes` must be a list of non-empty strings")
    if "admin" in t and not isinstance(t["admin"], bool):
        rep.error(where, "`admin` must be a boolean")
    if "after" in t:
        if not isinstance(t["after"], list):
            rep.error(where, "`after` must be a list of argv lists")
        else:
            for a in t["after"]:
                check_argv(where, a, rep, "after")
    if "scale" in t:
        if not isinstance(t["scale"], (int, float)) or isinstance(t["scale"], bool) or t["scale"] <= 0:
            rep.error(where, "`scale` must be a positive number")
        if value["type"] not in ("int", "float"):
            rep.error(where, "`scale` on a non-numeric setting")
        if "map" in t:
            rep.error(where, "both `map` and `scale`")
    if "map" in t:
        check_map(where, sid, plat, t["map"], value, rep)
    elif value["type"] in ("bool", "enum"):
        rep.error(where, f"{value['type']} setting without a `map`")

    if be == "gsettings":
        for k in ("schema", "key", "type"):
            if k not in t:
                rep.error(where, f"gsettings needs `{k}`")
        if t.get("type") not in GVARIANT_TYPES:
            rep.error(where, f"gsettings type {t.get('type')!r} unknown")
        if value["type"] == "string" and t.get("type") not in ("s",):
            rep.error(where, "string setting on a non-s key needs a map")
        for i, a in enumerate(t.get("also", [])):
            unknown(f"{where} also[{i}]", a, ALSO_FIELDS, rep)
            if "map" in a:
                check_map(f"{where} also[{i}]", sid, plat, a["map"], value, rep)
            elif value["type"] in ("bool", "enum"):
                rep.error(where, f"also[{i}] needs a map for a {value['type']} setting")
    elif be == "kconfig":
        for k in ("file", "groups", "key", "type"):
            if k not in t:
                rep.error(where, f"kconfig needs `{k}`")
        if t.get("type") not in KCONFIG_TYPES:
            rep.error(where, f"kconfig type {t.get('type')!r} not in {sorted(KCONFIG_TYPES)}")
        g = t.get("groups")
        if not isinstance(g, list) or not g or not all(isinstance(x, str) and x for x in g):
            rep.error(where, "`groups` must be a non-empty list of names")
        elif any("<" in x for x in g):
            rep.error(where, "`groups` has a placeholder")
        if str(t.get("file", "")).startswith("~"):
            rep.error(where, "kconfig file starting with ~ is not expanded")
    elif be == "defaults":
        for k in ("domain", "key", "type"):
            if k not in t:
                rep.error(where, f"defaults needs `{k}`")
        if t.get("type") not in DEFAULTS_TYPES:
            rep.error(where, f"defaults type {t.get('type')!r} not in {sorted(DEFAULTS_TYPES)}")
        if t.get("type") == "bool" and "map" in t:
            for k, x in t["map"].items():
                if x not in ("true", "false", "<delete>"):
                    rep.error(where, f"defaults -bool takes true/false, map gives {x!r}")
        if t.get("type") == "int" and "map" in t:
            for k, x in t["map"].items():
                if x != "<delete>" and not re.fullmatch(r"-?[0-9]+", x):
                    rep.error(where, f"defaults -int value {x!r}")
    elif be == "registry":
        for k in ("path", "name", "type"):
            if k not in t:
                rep.error(where, f"registry needs `{k}`")
        if t.get("type") not in REGISTRY_TYPES:
            rep.error(where, f"registry type {t.get('type')!r} not in {sorted(REGISTRY_TYPES)}")
        p = t.get("path", "")
        if not re.match(r"^(HKCU|HKLM|HKU|HKCR|HKCC)\\", p):
            rep.error(where, f"registry path {p!r} must start with a hive")
        if "<" in p or "<" in t.get("name", ""):
            rep.error(where, "registry path has a placeholder")
        if p.startswith(("HKLM", "HKU")) and not t.get("admin"):
            rep.error(where, "HKLM/HKU writes need admin = true")
        if t.get("type") in ("REG_DWORD", "REG_QWORD") and "map" in t:
            for k, x in t["map"].items():
                if not re.fullmatch(r"[0-9]+", x):
                    rep.error(where, f"{t['type']} /d value {x!r} is not decimal")
                elif t["type"] == "REG_DWORD" and int(x) > 0xFFFFFFFF:
                    rep.error(where, f"REG_DWORD value {x} too large")
    elif be == "command":
        for k in ("name", "read", "parse", "write"):
            if k not in t:
                rep.error(where, f"command needs `{k}`")
        check_argv(where, t.get("read"), rep, "read")
        if check_argv(where, t.get("write"), rep, "write"):
            w = t["write"]
            if not any("{value" in a for a in w):
                rep.error(where, "`write` never uses {value}")
            # knob's loader has the full rules (src/settings/template.rs); this catches the
            # splice the format forbids: a plain {value} inside script text.
            if w[0] in SCRIPT_HOSTS and any("{value}" in a and a != "{value}" for a in w):
                rep.error(where, f"`write` splices {{value}} into {w[0]} script text")
            if any("{value:gvariant}" in a for a in w) and t.get("unescape") != "gvariant":
                rep.error(where, "`write` uses {value:gvariant} without unescape = \"gvariant\"")
        if "unescape" in t and t["unescape"] != "gvariant":
            rep.error(where, f"unescape `{t['unescape']}` unknown (gvariant)")
        if "{value" in "".join(t.get("read", [])):
            rep.error(where, "`read` uses {value}")
        try:
            rx = re.compile(t.get("parse", ""))
            if rx.groups < 1:
                rep.error(where, "`parse` has no group")
        except re.error as e:
            rep.error(where, f"`parse` does not compile: {e}")
        for bad in ("(?<=", "(?<!", "(?=", "(?!", "\\1"):
            if bad in t.get("parse", ""):
                rep.error(where, f"`parse` uses {bad}, which the Rust regex crate lacks")
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
    unknown(where, s, SETTING_FIELDS, rep)
    if not isinstance(sid, str) or not ID_RE.match(sid):
        rep.error(where, "id must be area.name in [a-z0-9_.]")
    for k in ("title", "description"):
        if not isinstance(s.get(k), str) or not s.get(k).strip():
            rep.error(where, f"`{k}` missing")
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
    v = s.get("value")
    if not isinstance(v, dict):
        rep.error(where, "missing [setting.value]")
        return
    check_value(where, v, rep)
    if v.get("type") not in VALUE_TYPES:
        return
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


def load_catalog(rep):
    settings = []
    for f in sorted(PROFILES.glob("*.toml")):
        d = load_toml(f, rep)
        if d is None:
            continue
        unknown(f.name, d, {"setting"}, rep)
        for s in d.get("setting", []):
            settings.append((f, s))
    return settings


def value_ok(v, x):
    t = v["type"]
    if t == "bool":
        return isinstance(x, bool)
    if t == "int":
        return isinstance(x, int) and not isinstance(x, bool) and v["min"] <= x <= v["max"]
    if t == "float":
        return isinstance(x, (int, float)) and not isinstance(x, bool) and v["min"] <= x <= v["max"]
    if t == "enum":
        return isinstance(x, str) and x in v["values"]
    if t == "string":
        return isinstance(x, str) and (("pattern" not in v) or re.search(v["pattern"], x) is not None)
    return False


def check_presets(byid, rep):
    names = set()
    files = sorted((PROFILES / "presets").glob("*.toml"))
    for f in files:
        d = load_toml(f, rep)
        if d is None:
            continue
        where = f"presets/{f.name}"
        unknown(where, d, PRESET_FIELDS, rep)
        for k in ("name", "title", "description"):
            if not isinstance(d.get(k), str) or not d[k]:
                rep.error(where, f"`{k}` missing")
        if d.get("name") != f.stem:
            rep.error(where, f"name {d.get('name')!r} differs from the file name")
        if d.get("name") in names:
            rep.error(where, "preset name repeats")
        names.add(d.get("name"))
        if not (3 <= len(d.get("synonyms", [])) <= 12):
            rep.error(where, "want 3-12 synonyms")
        vals = d.get("values", {})
        if not vals:
            rep.error(where, "no values")
        for sid, x in vals.items():
            s = byid.get(sid)
            if s is None:
                rep.error(where, f"unknown setting {sid}")
            elif not value_ok(s["value"], x):
                rep.error(where, f"{sid} = {x!r} is not valid for {s['value']}")
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
        ({"gnome": {**base["gnome"], "mapp": {}}}, "unknown field `mapp`"),
        ({"gnome": {**base["gnome"], "map": {"true": "true"}}}, "map leaves out ['false']"),
        ({"value": {"type": "int", "min": 5, "max": 1, "step": 1, "unit": "px"}, "gnome": {**base["gnome"], "map": None}}, "min 5 >= max 1"),
        ({"value": {"type": "enum", "values": ["Big"]}, "gnome": {**base["gnome"], "map": {"Big": "'x'"}}}, "snake_case"),
        ({"synonyms": ["a"]}, "1 synonyms"),
        ({"kde": {"backend": "kconfig", "file": "f", "groups": ["<id>"], "key": "k", "type": "bool", "map": {"true": "true", "false": "false"}}}, "placeholder"),
        ({"windows": {"backend": "registry", "path": r"HKLM\X", "name": "n", "type": "REG_DWORD", "map": {"true": "1", "false": "0"}}}, "admin = true"),
        ({"linux": {"backend": "command", "name": "x", "read": ["x"], "parse": "nogroup", "write": ["x", "1"], "map": {"true": "1", "false": "0"}}}, "never uses {value}"),
        ({"linux": {"backend": "command", "name": "x", "read": ["sh", "-c", "x"], "parse": "(a)", "write": ["x", "{value}"], "map": {"true": "1", "false": "0"}}}, "runs a shell"),
        ({"macos": {"backend": "command", "name": "x", "read": ["osascript", "-e", "x"], "parse": "(a)", "write": ["osascript", "-e", "set x to {value}"], "map": {"true": "1", "false": "0"}}}, "splices {value}"),
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
    ap.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
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

    settings = load_catalog(rep)
    byid = {}
    for f, s in settings:
        check_setting(s, f, rep)
        sid = s.get("id")
        if sid in byid:
            rep.error(f"{f.name}:{sid}", "id repeats")
        byid[sid] = s

    if args.reference.exists():
        ref = reference_core(args.reference, rep)
        missing = sorted(set(ref) - set(byid))
        for m in missing:
            rep.error("coverage", f"core setting {m} missing")
        for _, s in settings:
            if "id" in s and "value" in s:
                compare_reference(s, ref, rep)
        print(f"reference core settings: {len(ref)}, covered: {len(ref) - len(missing)}")
    else:
        rep.warn("coverage", f"reference {args.reference} not found; coverage not checked")

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
