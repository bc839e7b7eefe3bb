#!/usr/bin/env python3
"""Check knob's settings catalog (settings-profiles/) beyond what knob's loader checks.

`knob settings check` validates the files first: the format of
docs/catalog-format.md, fields, types, ranges, maps (partial maps need
`partial_map`), backend tables, command templates, presets, and the catalog's
policy (src/settings/policy.rs: text lengths, synonym and example counts,
units, enum names, which backend each platform uses, argv without shells or
sudo, map texts that repeat, registry and defaults value forms, the
`parse_samples` of read commands), and the presets (each loads, names are
unique and match their files, 3-12 synonyms, every setting exists and takes
the value, and no two settings of a preset write one key differently). This
script keeps what needs the real tools or outside data:
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
        byid[s.get("id")] = s
        for p in PLATFORMS:
            if p in s:
                rep.count(f"platform {p}")

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
