"""Synthetic training data for the settings model, generated from the catalog.

Everything is a pure function of (catalog, seed): the same inputs give the
same files byte for byte. Each example is {"query", "expect": [actions],
"family", "name"}; `family` is the phrasing family (template id) and `name` the
synonym used, so that the held-out split can be checked to be disjoint:
training uses only training templates AND training synonyms; every evaluation
example uses a held-out template OR a held-out synonym.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass

from .catalog import Catalog, Preset, Setting
from .grammar import fmt_num, quote

# ---------------------------------------------------------------- numbers in words
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def words(n: int) -> str:
    if n < 0:
        return "minus " + words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        t, o = divmod(n, 10)
        return _TENS[t] + ("" if o == 0 else "-" + _ONES[o])
    if n < 1000:
        h, r = divmod(n, 100)
        return _ONES[h] + " hundred" + ("" if r == 0 else " and " + words(r))
    if n < 100000:
        th, r = divmod(n, 1000)
        return words(th) + " thousand" + ("" if r == 0 else " " + words(r))
    return str(n)


def num_text(rng: random.Random, x: float, allow_words: bool = True) -> str:
    """A number as a person might type it."""
    if abs(x - round(x)) < 1e-9:
        n = int(round(x))
        if allow_words and 0 <= n <= 1000 and rng.random() < 0.3:
            return words(n)
        return str(n)
    if allow_words and abs(x - 0.5) < 1e-9 and rng.random() < 0.3:
        return "half"
    if allow_words and abs(x * 2 - round(x * 2)) < 1e-9 and rng.random() < 0.25:
        return words(int(x)) + " and a half"
    return fmt_num(x, "float")


# ---------------------------------------------------------------- name handling
POLAR = set(
    """turn switch make stop disable enable reduce hide show off on use add remove change move keep set
    more less bigger smaller louder quieter brighter dimmer faster slower warmer cooler larger pin press
    open never always increase decrease lower raise don't dont no not too can't cant mute unmute allow
    block kill get let put want go goes start starts when what where which how why my i me it so fast""".split()
)
ANTONYMS = [("dark", "light"), ("on", "off"), ("show", "hide"), ("enable", "disable"), ("left", "right"),
            ("big", "small"), ("bigger", "smaller"), ("faster", "slower"), ("monday", "sunday")]


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().lower())


def clean_names(s: Setting) -> list[str]:
    """Title and the synonyms that name the setting without a verb, polarity or value."""
    title = norm(s.title)
    out = [title]
    tw = set(title.split())
    vals = {v.replace("_", " ").replace("-", " ") for v in s.values} | set(s.values)
    for syn in s.synonyms:
        n = norm(syn)
        w = set(re.findall(r"[a-z0-9']+", n))
        if not n or n in out or w & POLAR:
            continue
        if any(v in w or v == n for v in vals):
            continue
        if any((a in tw and b in w) or (b in tw and a in w) for a, b in ANTONYMS):
            continue
        if re.search(r"[0-9]", n):
            continue
        out.append(n)
    return out


# Catalog synonyms that name the opposite of a setting's value: "am/pm" is the
# 12-hour clock, so "turn on am/pm" means `set clock.24_hour false`; more
# "warmth" is a lower colour temperature, a faster "double-click speed" a
# shorter double-click time. As plain names they made reversed labels; they
# are kept apart and used with the direction flipped (a value given outright,
# "warmth 2700 k", stays as it is).
INVERSE_NAMES = {
    "appearance.scrollbars_always_visible": ("overlay scrollbars", "hidden scroll bars"),
    "clock.24_hour": ("am/pm",),
    "desktop.show_icons": ("clean desktop", "empty desktop"),
    "files.folders_first": ("mixed sorting",),
    "mouse.acceleration": ("flat accel", "raw input"),
    "mouse.double_click_speed": ("double-click speed", "click speed"),
    "night_light.temperature": ("warmth", "night light strength", "night light intensity", "tint strength"),
    "notifications.lock_screen": ("private lock screen", "notification privacy"),
    "text.cursor_blink": ("steady cursor",),
    "wm.alt_tab_current_workspace": ("alt+tab other desktops",),
}
# The share of such a setting's requests that use one of its inverse names.
INVERSE_SHARE = 0.15
# How an inverse name turns an intent around.
FLIPPED = {"on": "off", "off": "on", "inc": "dec", "dec": "inc", "inc_by": "dec_by", "dec_by": "inc_by",
           "max": "min", "min": "max"}


# ---------------------------------------------------------------- templates
# Each list is a pool of templates of one intent; every template is a family.
T = {
    "on": [
        "turn on {n}", "enable {n}", "switch on {n}", "switch {n} on", "turn {n} on", "activate {n}",
        "{n} on", "i want {n}", "can you turn on {n}?", "please enable {n}", "put {n} on", "use {n}",
        "start using {n}", "{n} please", "could you enable {n} for me", "i'd like {n} turned on",
        "set {n} to on", "{n}: on", "make sure {n} is on", "give me {n}", "let's have {n}",
        "i need {n}", "{n} enabled",
        "turn {n} back on", "enable the {n} setting", "{n} yes", "activate the {n} option",
    ],
    "off": [
        "turn off {n}", "disable {n}", "switch off {n}", "switch {n} off", "turn {n} off", "deactivate {n}",
        "{n} off", "no more {n}", "can you turn off {n}?", "please disable {n}", "get rid of {n}",
        "i don't want {n}", "don't use {n}", "stop using {n}", "kill {n}", "could you disable {n} for me",
        "set {n} to off", "{n}: off", "make sure {n} is off", "i hate {n}, turn it off", "{n} disabled",
        "remove {n}", "no {n}", "{n} no", "switch {n} off please", "shut off {n}",
        "i'd like {n} turned off", "deactivate the {n} option",
    ],
    "toggle": ["toggle {n}", "flip {n}", "toggle the {n} setting", "{n} toggle", "flip {n} around", "switch {n} the other way"],
    "set": [
        "set {n} to {v}", "{n} {v}", "change {n} to {v}", "make {n} {v}", "put {n} at {v}",
        "can you set {n} to {v}?", "i want {n} at {v}", "{n} = {v}", "adjust {n} to {v}", "{n} to {v}",
        "{n}: {v}", "please set {n} to {v}", "could you change {n} to {v}", "i'd like {n} set to {v}",
        "switch {n} to {v}", "{v} {n}", "use {v} for {n}", "set the {n} to {v} please", "update {n} to {v}",
        "make the {n} {v}", "{n} should be {v}", "go with {v} for {n}",
    ],
    "inc": [
        "increase {n}", "raise {n}", "turn up {n}", "more {n}", "{n} up", "higher {n}", "bump up {n}",
        "boost {n}", "can you increase {n}?", "turn {n} up", "increase the {n} a bit", "a little more {n}",
        "up the {n}", "crank up {n}", "{n} higher", "push {n} up", "raise the {n} please",
        "could you turn up the {n}", "{n} +", "i need more {n}",
    ],
    "dec": [
        "decrease {n}", "lower {n}", "turn down {n}", "less {n}", "{n} down", "reduce {n}", "drop {n}",
        "can you decrease {n}?", "turn {n} down", "lower the {n} a bit", "a little less {n}",
        "dial down {n}", "{n} lower", "bring {n} down", "reduce the {n} please", "could you turn down the {n}",
        "{n} -", "tone down {n}", "cut {n}",
    ],
    "inc_by": [
        "increase {n} by {a}", "{n} up by {a}", "raise {n} by {a}", "turn up {n} by {a}", "add {a} to {n}",
        "bump {n} up {a}", "{n} +{a}", "increase the {n} {a}", "can you raise {n} by {a}?", "{a} more {n}",
        "push {n} up by {a}",
    ],
    "dec_by": [
        "decrease {n} by {a}", "{n} down by {a}", "lower {n} by {a}", "turn down {n} by {a}",
        "take {a} off {n}", "reduce {n} by {a}", "{n} -{a}", "decrease the {n} {a}", "can you lower {n} by {a}?",
        "{a} less {n}", "drop {n} by {a}",
    ],
    "adj_inc": [
        "make {n} {adj}", "{adj} {n}", "{n} {adj}", "make the {n} {adj} please", "can you make {n} {adj}?",
        "i want {n} {adj}", "{n} a bit {adj}", "{n} should be {adj}", "a little {adj} {n}", "{n} much {adj}",
    ],
    "prob": [
        "the {n} is {p}", "{n} is {p}", "my {n} is {p}", "{n} {p}", "ugh, {n} is {p}", "the {n} is way {p}",
        "i think the {n} is {p}", "{n} seems {p}", "help, {n} is {p}", "the {n} feels {p}",
    ],
    "bare_adj": ["{adj}", "a bit {adj}", "{adj} please", "make it {adj}", "slightly {adj}", "much {adj}",
                 "it should be {adj}", "can it be {adj}?", "way {adj}"],
    "bare_prob": ["it's {p}", "it is {p}", "the {s} is {p}", "my {s} is {p}", "{s} {p}", "this is {p}", "the {s} is way {p}"],
    "max": ["{n} to max", "max {n}", "maximum {n}", "{n} all the way up", "full {n}", "set {n} to the maximum",
            "highest {n}", "{n} at 100 percent of its range"],
    "min": ["{n} to min", "min {n}", "minimum {n}", "{n} all the way down", "lowest {n}", "set {n} to the minimum"],
    "never": ["{n} never", "set {n} to never", "never {n}", "disable {n}", "turn off {n}", "{n} off", "no {n}"],
    "enum": [
        "set {n} to {v}", "{n} {v}", "change {n} to {v}", "use {v} {n}", "make {n} {v}", "i want {v} {n}",
        "switch {n} to {v}", "{v} {n}", "{n}: {v}", "can you set {n} to {v}?", "{n} should be {v}",
        "please use {v} for {n}", "i'd like the {n} to be {v}", "put {n} on {v}", "change the {n} to {v} please",
        "go with {v} {n}", "{n} = {v}", "select {v} for {n}",
    ],
    "string": [
        "set {n} to {v}", "change {n} to {v}", "use {v} as {n}", "{n} {v}", "make {v} my {n}",
        "can you set {n} to {v}?", "i want {v} as {n}", "{n}: {v}", "switch {n} to {v}", "please use {v} for {n}",
        "set the {n} to {v} please", "{n} = {v}",
    ],
    "preset": [
        "{p}", "{p} mode", "turn on {p} mode", "switch to {p}", "activate the {p} preset", "apply {p} preset",
        "go into {p} mode", "i want {p} mode", "set up for {p}", "{p} please", "enable {p} mode",
        "can you switch to {p} mode?", "load the {p} profile", "{p} preset", "put me in {p} mode",
        "use the {p} settings", "get ready for {p}",
    ],
    "example": ["{q}"],
    # questions about the current state: `get <id>`, never a change
    "get_bool": [
        "is {n} on?", "is {n} enabled?", "is {n} on", "is {n} turned on right now?", "is {n} off?",
        "is {n} active", "do i have {n} on?", "did i turn on {n}?", "check if {n} is on", "is {n} on or off?",
        "tell me whether {n} is enabled", "{n} on or off?", "is {n} currently disabled?", "is {n} switched off",
        "what's the status of {n}", "is {n} enabled at the moment", "have i turned {n} off?", "am i using {n}?",
        "are you sure {n} is on?", "quick check: is {n} on",
    ],
    "get_value": [
        "what's my {n}?", "what is the {n} set to?", "what's the current {n}", "what is {n} right now?",
        "what {n} am i using?", "tell me the {n}", "show me the current {n}", "check the {n}",
        "what's the {n} at?", "what value is {n} set to", "which {n} do i have?", "what is my current {n}",
        "how is {n} set up right now?", "what's {n} currently", "can you tell me my {n}?", "current {n}?",
        "what did i set {n} to?", "remind me what my {n} is",
    ],
    # polarity: negations, double negatives and "again" that mean ON / OFF
    "pol_on": [
        "don't turn off {n}", "don't disable {n}", "do not switch {n} off", "keep {n} on", "leave {n} on",
        "i don't want {n} off", "don't leave {n} off", "{n} again", "turn {n} on again", "i want {n} back",
        "bring back {n}", "never turn off {n}", "don't get rid of {n}", "i didn't mean to turn off {n}, turn it back on",
        "{n} shouldn't be off", "not off, {n} on", "stop disabling {n}", "why is {n} off? turn it on",
        "{n} is off and i need it", "i never said to turn off {n}, put it back", "{n} is not on, fix that",
        "don't keep {n} off", "i can't live without {n}, turn it on", "re-enable {n}",
    ],
    "pol_off": [
        "don't turn on {n}", "don't enable {n}", "keep {n} off", "leave {n} off", "i don't want {n} on",
        "don't leave {n} on", "i'm done with {n}", "{n} is annoying, disable it", "never use {n}",
        "i don't need {n} anymore", "{n} shouldn't be on", "not on, {n} off", "enough {n}", "make {n} stop",
        "stop {n}", "{n} is on and i don't want it", "i never asked for {n}, turn it off", "no {n} please",
        "don't keep {n} on", "i didn't mean to turn on {n}, switch it off", "{n} again? turn it off",
        "{n} keeps coming back, disable it",
    ],
    # contrast: "{m}" is another setting's name, which must not change
    "contrast_on": ["turn on {n}, not {m}", "not {m}, {n}: on", "enable {n} - not {m}", "{n} on, leave {m} alone",
                    "i said {n}, not {m}: turn it on", "not the {m}, the {n}: on"],
    "contrast_off": ["turn off {n}, not {m}", "not {m}, {n}: off", "disable {n} - not {m}", "{n} off, leave {m} alone",
                     "i said {n}, not {m}: turn it off", "not the {m}, the {n}: off"],
    # one verb over several settings: "{l}" is their names joined ("wifi and bluetooth")
    "shared_on": [
        "turn on {l}", "enable {l}", "switch on {l}", "turn {l} on", "{l} on", "activate {l}",
        "please enable {l}", "i want {l} turned on", "can you turn on {l}?", "put {l} on", "{l} enabled",
        "switch {l} on", "make sure {l} are on",
    ],
    "shared_off": [
        "turn off {l}", "disable {l}", "switch off {l}", "turn {l} off", "{l} off", "deactivate {l}",
        "please disable {l}", "i want {l} turned off", "can you turn off {l}?", "no more {l}", "{l} disabled",
        "switch {l} off", "make sure {l} are off", "kill {l}", "get rid of {l}",
    ],
    "shared_inc": [
        "increase {l}", "turn up {l}", "raise {l}", "{l} up", "more {l}", "boost {l}", "turn {l} up",
        "can you increase {l}?", "bump up {l}", "{l} higher",
    ],
    "shared_dec": [
        "decrease {l}", "turn down {l}", "lower {l}", "{l} down", "less {l}", "reduce {l}", "turn {l} down",
        "can you lower {l}?", "dial down {l}", "{l} lower",
    ],
}
JOINERS = [" and ", ", ", " and also ", " then ", " plus ", ", and ", " & ", " and then ", "; "]
LIST_JOINERS = [" and ", " & ", " and also ", " as well as ", " plus ", " and the "]

# Context that explains a request without asking for anything more: "..., the baby is asleep".
# Held out by index like the negatives.
REASONS = [
    "the baby is asleep", "i have a meeting in five minutes", "i'm on a long train ride", "it's getting late",
    "we're about to watch a movie", "my boss is watching", "it's for my grandma", "i'm working from a cafe",
    "i'm giving a talk soon", "the kids are using the laptop", "it's the weekend", "i'm travelling tomorrow",
    "i'm gaming tonight", "i'm reading a long report", "i need to concentrate", "the sun just went down",
    "it's really sunny in here", "i just got a new laptop", "my old settings got reset", "my friend recommended it",
    "i'm sharing my screen later", "it's been bugging me all week", "this is a shared computer",
    "i'm not a tech person", "i'm in a hotel room", "everyone else in the office did it", "it's my first day",
    "i'm setting up my parents' pc", "the update changed it", "i'm on a plane", "my eyes are getting old",
    "i'm left-handed", "we're in a library", "i'm on a video call all afternoon", "it's 3am",
    "i do a lot of writing", "i'm a designer", "i'm recording a podcast", "it's a demo machine",
    "i'm studying for exams",
]
REASON_T = ["{r}, {q}", "{q}, {r}", "{q} because {r}", "{q}. {r}", "{q} - {r}", "since {r}, {q}", "{r} so {q}"]
JOINER_FAMILY = {j: i for i, j in enumerate(JOINERS)}

PREFIX = ["", "", "", "", "please ", "hey, ", "hey knob, ", "could you ", "can you ", "um ", "ok ", "yo ",
          "i was wondering, ", "quick one: ", "knob ", "so ", "actually ", "pls "]
SUFFIX = ["", "", "", "", " please", " thanks", " thank you", " pls", " now", " asap", " for me", " right now",
          " if you can", " :)", " ty", " thx"]

# Relative-change lexicon, matched on words of the setting id and title.
# (keys, inc adjectives, dec adjectives, problems meaning inc, problems meaning dec, bare subjects)
LEX = [
    (("brightness",), ["brighter", "lighter", "more bright"], ["dimmer", "darker", "less bright"],
     ["too dark", "too dim", "hard to see", "not bright enough"], ["too bright", "blinding", "way too bright"],
     ["screen", "display", "monitor"]),
    (("volume",), ["louder", "higher", "stronger"], ["quieter", "softer", "lower"],
     ["too quiet", "too soft", "hard to hear", "not loud enough", "barely audible"],
     ["too loud", "deafening", "way too loud"], ["sound", "audio", "music", "speaker"]),
    (("size", "scale", "scaling"), ["bigger", "larger", "huger"], ["smaller", "tinier", "less big"],
     ["too small", "too tiny", "hard to read", "not big enough"], ["too big", "too large", "huge"], []),
    (("speed", "rate", "sensitivity"), ["faster", "quicker", "more responsive"], ["slower", "less sensitive"],
     ["too slow", "sluggish", "not fast enough"], ["too fast", "too jumpy", "too sensitive"], []),
    (("timeout", "delay", "lock"), ["longer", "later"], ["shorter", "sooner", "quicker"],
     ["too soon", "too quick", "too short"], ["too long", "too slow", "taking forever"], []),
    (("temperature",), ["cooler", "bluer", "less warm", "colder"], ["warmer", "more orange", "less blue"],
     ["too warm", "too orange", "too yellow"], ["too blue", "too cold", "too harsh"], []),
    (("count", "lines", "workspaces", "workspace"), ["more", "greater"], ["fewer", "less"],
     ["too few", "not enough"], ["too many"], []),
]

for _e in LEX:
    for _lst in _e[1:5]:
        for _phrase in _lst:
            POLAR.update(w for w in _phrase.split() if w not in ("to", "hard", "see", "read", "hear", "enough", "way"))
POLAR.update(["dim", "darken", "brighten", "bright", "loud", "quiet", "big", "small", "slow", "shut", "up", "down",
              "silence", "instead", "again", "only", "every", "all", "any"])

BARE_IDS = {"brightness": "display.brightness", "volume": "sound.volume"}  # last id part -> bare owner


def lex_for(s: Setting):
    w = set(re.split(r"[._ ]+", s.id.lower())) | set(norm(s.title).split())
    for entry in LEX:
        if w & set(entry[0]):
            return entry
    return None


# ---------------------------------------------------------------- units
@dataclass
class Unit:
    kind: str  # percent | factor | seconds | minutes | ms | px | kelvin | hours | plain
    word: str = ""
    never0: bool = False


def unit_of(s: Setting) -> Unit:
    u = s.unit.lower()
    never0 = "never" in u or (s.min == 0 and any(w in s.id for w in ("timeout", "sleep", "lock")))
    if u.startswith("factor") and (s.min or 0) < 0:
        return Unit("plain", never0=never0)  # a signed speed, not a multiplier
    for kind in ("percent", "factor", "seconds", "minutes", "ms", "px", "kelvin", "hours"):
        if u.startswith(kind) or (kind == "ms" and u.startswith("millisecond")):
            return Unit(kind, never0=never0)
    word = u.split("(")[0].strip() if u and not u.startswith("normalised") else ""
    return Unit("plain", word=word, never0=never0)


def value_phrase(rng: random.Random, s: Setting, x: float, unit: Unit, amount: bool = False) -> str:
    """Text for value x (in the setting's unit), using a unit the user might say."""
    k = unit.kind
    if k == "percent":
        n = num_text(rng, x)
        return rng.choice([f"{n}%", f"{n} percent", f"{n} per cent", n, f"{n}%"]) if not n.isalpha() or True else n
    if k == "factor":
        r = rng.random()
        if r < 0.4:
            return f"{fmt_num(x, 'float')}x"
        if r < 0.6:
            return f"{num_text(rng, x)} times"
        if r < 0.8 and not amount:
            return f"{int(round(x * 100))}%"
        return fmt_num(x, "float")
    if k in ("seconds", "minutes"):
        secs = x if k == "seconds" else x * 60
        opts = []
        if secs % 3600 == 0 and secs > 0:
            h = int(secs // 3600)
            opts += [f"{num_text(rng, h)} hour" + ("s" if h != 1 else ""), f"{h}h", f"{h} hr" + ("s" if h > 1 else "")]
            if h == 1:
                opts += ["an hour", "one hour"]
        if secs % 60 == 0 and secs > 0:
            m = int(secs // 60)
            opts += [f"{num_text(rng, m)} minute" + ("s" if m != 1 else ""), f"{m} min", f"{m}m", f"{m} mins"]
            if m == 1:
                opts += ["a minute"]
            if m == 30:
                opts += ["half an hour"]
        if secs < 600 or not opts:
            opts += [f"{num_text(rng, secs)} seconds", f"{int(secs)}s", f"{int(secs)} sec"]
        return rng.choice(opts)
    if k == "ms":
        opts = [f"{int(x)} ms", f"{int(x)}ms", f"{num_text(rng, x)} milliseconds"]
        if x % 1000 == 0:
            opts.append(f"{int(x // 1000)} second" + ("s" if x > 1000 else ""))
        if x == 500:
            opts.append("half a second")
        return rng.choice(opts)
    if k == "px":
        n = num_text(rng, x)
        return rng.choice([f"{n} px", f"{int(x)}px", f"{n} pixels", n])
    if k == "kelvin":
        return rng.choice([f"{int(x)}K", f"{int(x)} kelvin", f"{int(x)} k", str(int(x))])
    if k == "hours":
        h = int(x)
        m = int(round((x - h) * 60))
        if amount:
            return rng.choice([f"{num_text(rng, x)} hours", f"{fmt_num(x, 'float')}h"])
        ampm = "am" if h < 12 else "pm"
        h12 = h % 12 or 12
        opts = [f"{h:02d}:{m:02d}", f"{h}:{m:02d}"]
        opts += [f"{h12}:{m:02d} {ampm}" if m else f"{h12} {ampm}", f"{h12}{ampm}" if not m else f"{h12}:{m:02d}{ampm}"]
        if not m:
            opts.append(f"{h12} o'clock" + (" in the evening" if h >= 17 else " in the morning" if h < 12 else ""))
        return rng.choice(opts)
    n = num_text(rng, x) if s.type == "int" else fmt_num(x, "float")
    if unit.word and rng.random() < 0.5:
        return f"{n} {unit.word}"
    return n


def hours_value(s: Setting, rng: random.Random) -> float:
    h = rng.randrange(0, 24)
    m = rng.choice([0, 0, 0, 30, 30] + ([15, 45] if not s.step or s.step < 0.5 else []))
    return min(h + m / 60, s.max if s.max is not None else 23.99)


def sample_value(rng: random.Random, s: Setting, unit: Unit) -> float:
    lo = s.min if s.min is not None else 0.0
    hi = s.max if s.max is not None else (100.0 if s.type == "int" else 1.0)
    if unit.kind == "hours":
        return hours_value(s, rng)
    if unit.kind in ("seconds", "minutes") and rng.random() < 0.8:
        per = 1 if unit.kind == "seconds" else 1 / 60
        nice = [30, 60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 10800, 14400]
        cands = [v * per for v in nice if lo <= v * per <= hi and (s.type != "int" or float(v * per).is_integer())]
        if cands:
            return float(rng.choice(cands))
    if s.type == "int":
        step = s.step or (5 if hi - lo >= 50 else 1)
        if rng.random() < 0.7:
            k = rng.randrange(0, int((hi - lo) // step) + 1)
            return float(min(hi, lo + k * step))
        return float(rng.randrange(int(lo), int(hi) + 1))
    step = s.step or (0.25 if hi - lo >= 2 else 0.1)
    k = rng.randrange(0, int(round((hi - lo) / step)) + 1)
    return round(min(hi, lo + k * step), 2)


def sample_amount(rng: random.Random, s: Setting, unit: Unit) -> float:
    lo = s.min if s.min is not None else 0.0
    hi = s.max if s.max is not None else 100.0
    span = hi - lo
    if unit.kind in ("seconds", "minutes"):
        per = 1 if unit.kind == "seconds" else 1 / 60
        cands = [v * per for v in (30, 60, 120, 300, 600, 900, 1800, 3600)
                 if 1 <= v * per <= span / 2 and (s.type != "int" or float(v * per).is_integer())]
        return float(rng.choice(cands or [max(1.0, span / 10)]))
    if s.type == "int":
        cands = [v for v in (1, 2, 5, 10, 15, 20, 25, 50, 100, 200, 250, 500) if v <= span / 2]
        return float(rng.choice(cands or [1]))
    cands = [v for v in (0.1, 0.2, 0.25, 0.5, 1.0) if v <= span / 2]
    return float(rng.choice(cands or [round(span / 10, 2)]))


# ---------------------------------------------------------------- string values
# Values are drawn from open-ended generators, not short fixed lists: the model
# has to learn to copy the user's text (a path, a font and its size) through
# cross-attention, and it only does that when the values it sees vary.
_USERS = ["alex", "sam", "maria", "li", "jo", "pat", "nina", "omar", "kim", "dev", "sofia", "tom", "user"]
_DIRS = ["Pictures", "Downloads", "Desktop", "Documents", "Pictures/Screenshots", "Pictures/Wallpapers",
         "Images", "media/photos", "shots", "Dropbox/pics", "work/captures", "Bilder", "tmp"]
_FILES = ["beach", "forest", "mountains", "cat", "sunset", "city-night", "aurora", "lake_view", "dog2",
          "wallpaper", "bg", "space", "waves", "IMG_2041", "desert", "snow", "flowers", "abstract-blue"]
_FONTS = ["Inter", "Fira Code", "JetBrains Mono", "Noto Sans", "Ubuntu", "Cantarell", "Hack", "DejaVu Sans Mono",
          "Roboto", "Source Code Pro", "Open Sans", "Lato", "Iosevka", "Cascadia Code", "Segoe UI", "Helvetica Neue",
          "Menlo", "SF Mono", "Liberation Sans", "IBM Plex Sans", "IBM Plex Mono", "Fira Sans", "Consolas",
          "Monaco", "Noto Sans Mono", "Ubuntu Mono", "Arial", "Verdana", "Comic Sans MS", "Atkinson Hyperlegible"]
_THEMES = ["Papirus", "Adwaita", "Breeze", "Numix", "Yaru", "Breeze_Snow", "DMZ-White", "Bibata", "Papirus-Dark",
           "Tela", "Qogir", "Oxygen", "Vimix", "Capitaine", "Bibata-Modern-Ice", "WhiteSur", "Nordzy"]
_ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London", "UTC", "Australia/Sydney",
          "America/Los_Angeles", "Europe/Paris", "Asia/Kolkata", "America/Chicago", "Europe/Madrid", "Asia/Shanghai",
          "America/Sao_Paulo", "Africa/Nairobi", "Europe/Warsaw", "Pacific/Auckland", "America/Denver",
          "Asia/Singapore", "Europe/Stockholm", "America/Toronto"]
_LOCALES = ["en_US.UTF-8", "de_DE.UTF-8", "en_GB.UTF-8", "fr_FR.UTF-8", "es_ES.UTF-8", "it_IT.UTF-8",
            "nl_NL.UTF-8", "pt_BR.UTF-8", "ja_JP.UTF-8", "en_AU.UTF-8", "sv_SE.UTF-8", "pl_PL.UTF-8"]
_APPS = ["firefox.desktop", "org.gnome.Terminal.desktop", "code.desktop", "org.gnome.Nautilus.desktop",
         "thunderbird.desktop", "spotify.desktop", "org.gnome.Calendar.desktop", "slack.desktop", "gimp.desktop"]
_RESOLUTIONS = ["1920x1080", "2560x1440", "3840x2160", "1366x768", "1280x720", "1600x900", "2880x1800",
                "3440x1440", "1280x800", "1920x1200", "2256x1504"]
_NAMES = ["Default", "Custom One", "my-profile", "Work", "Home", "Office 2", "Travel", "Studio", "Lab", "Gaming"]


_BROWSER_IDS = {"firefox": "firefox.desktop", "chrome": "google-chrome.desktop", "google chrome": "google-chrome.desktop",
                "chromium": "chromium.desktop", "brave": "brave-browser.desktop", "vivaldi": "vivaldi-stable.desktop",
                "epiphany": "org.gnome.Epiphany.desktop", "gnome web": "org.gnome.Epiphany.desktop",
                "librewolf": "librewolf.desktop", "opera": "opera.desktop", "edge": "microsoft-edge.desktop",
                "falkon": "org.kde.falkon.desktop", "konqueror": "org.kde.konqueror.desktop"}
_DEVICE_IDS = ["headphones", "speakers", "HDMI", "hdmi-stereo", "USB-Audio", "bluez_output.AirPods", "analog-stereo",
               "alsa_output.usb-Jabra", "DisplayPort", "iec958-stereo", "Headset", "bluez_sink.WH-1000XM4"]


def _path(rng: random.Random, exts: tuple[str, ...]) -> str:
    """An absolute path (the catalog's patterns want / or a drive letter)."""
    user = rng.choice(_USERS)
    if rng.random() < 0.2:
        d = rng.choice(["Pictures", "Desktop", "Downloads", "Documents", "Pictures\\Screenshots", "OneDrive\\Pictures"])
        stem = rng.choice([f"C:\\Users\\{user}\\{d}", f"D:\\{rng.choice(['Wallpapers', 'Screenshots', 'Media'])}"])
        sep = "\\"
    else:
        stem = rng.choice([f"/home/{user}/{rng.choice(_DIRS)}", f"/Users/{user}/{rng.choice(_DIRS)}",
                           "/usr/share/backgrounds", f"/mnt/data/{rng.choice(_DIRS)}", f"/tmp/{rng.choice(_DIRS)}"])
        sep = "/"
    if not exts:
        return stem
    return f"{stem}{sep}{rng.choice(_FILES)}{rng.choice(exts)}"


def _font(rng: random.Random) -> str:
    return f"{rng.choice(_FONTS)} {rng.choice([8, 9, 10, 11, 12, 13, 14, 16, 18])}"  # the catalog wants a size


def _from(pool: list[str]):
    return lambda rng: rng.choice(pool)


STRING_GENERATORS = [
    (("font",), _font),
    (("icon", "cursor_theme", "theme"), _from(_THEMES)),
    (("timezone", "zone"), _from(_ZONES)),
    (("browser",), _from(sorted(set(_BROWSER_IDS.values())))),
    (("wallpaper", "background"), lambda rng: _path(rng, (".jpg", ".png", ".jpeg", ".webp"))),
    (("resolution",), _from(_RESOLUTIONS)),
    (("output_device", "device"), _from(_DEVICE_IDS)),
    (("location", "folder", "save"), lambda rng: _path(rng, ())),
    (("formats", "region"), _from(_LOCALES)),
    (("apps", "favorite"), _from(_APPS)),
]


def value_text(rng: random.Random, v: str) -> str:
    """How a user may write string value v: a browser by its name, others verbatim."""
    names = [n for n, i in _BROWSER_IDS.items() if i == v]
    if names and rng.random() < 0.6:
        return rng.choice(names)
    return v


def string_value(rng: random.Random, s: Setting) -> str:
    key = s.id.lower()
    for keys, gen in STRING_GENERATORS:
        if any(k in key for k in keys):
            return gen(rng)
    return rng.choice(_NAMES)


# ---------------------------------------------------------------- negatives
# Requests that are not about a setting. `chat`: for the chat model (greetings, small
# talk, questions, writing, explaining, coding); `none`: actions and settings knob
# does not have, and gibberish.
NEG_CHAT = [
    "what's the capital of france", "tell me a joke", "hi", "hello there", "how are you", "thanks", "thank you",
    "who won the world cup", "what time is it in tokyo", "what's the weather like", "good morning", "bye",
    "write a poem about cats", "how do i cook pasta", "what is the meaning of life", "translate hello to spanish",
    "what's 2 plus 2", "calculate 15% of 80", "who are you", "what can you do", "help", "lol", "ok", "cool",
    "nevermind", "never mind", "how tall is mount everest", "recommend a movie", "summarize this article",
    "explain quantum physics", "how do i take a screenshot", "why is my computer slow", "sing a song",
    "what day is it", "is it going to rain tomorrow", "define serendipity", "i love you", "you are great",
    "good night", "what's your name", "how old are you", "flip a coin", "roll a dice", "how bright is the sun",
    "why is the sky blue", "is dark chocolate healthy", "how loud is a jet engine", "what's a good font for a resume",
    "make my code faster", "write a haiku about autumn", "write a short story about a dragon",
    "draft an email to my landlord about the heating", "explain how photosynthesis works",
    "what is a black hole", "write a python function that reverses a string", "how do i center a div in css",
    "fix this sql query", "what does git rebase do", "give me a recipe for pancakes", "who painted the mona lisa",
    "explain the difference between tcp and udp", "write a cover letter for a barista job",
    "what's the square root of 144", "tell me a fun fact", "write a limerick about a cat", "what is dark matter",
    "explain recursion like i'm five", "write a bash one-liner to count lines in a file",
    "what are the symptoms of the flu", "write a birthday message for my sister", "how many planets are there",
    "what's the best way to learn spanish", "compose a tweet about monday mornings", "explain what an api is",
    "why do cats purr", "write a song about the sea", "what does brightness mean in astronomy",
    "how loud is too loud for headphones", "what is the history of the volume knob", "explain dark mode to my grandma",
    "write an essay about the roman empire", "tell me about the history of ancient egypt",
    "what's the difference between wifi and bluetooth", "how does night vision work",
    "good evening", "hey there", "you're funny", "what's up", "are you a robot", "test", "what's the news",
]
NEG_NONE = [
    "open spotify", "install vlc", "play some music", "set an alarm for 7am", "remind me to call mom",
    "send an email to bob", "format my hard drive", "delete all my files", "shut down the computer", "restart now",
    "update the system", "print this document", "change the printer paper size", "connect to the vpn",
    "add a new user account", "change my password", "book a flight to paris", "asdf", "?",
    "order a pizza", "call an uber", "create a new folder", "rename this file", "compress these photos",
    "empty the recycle bin now", "scan for viruses", "list running processes", "kill firefox", "open the terminal",
    "make me a sandwich", "search the web for cats", "set a timer for 10 minutes", "start a stopwatch",
    "change the oven temperature", "turn on the kitchen lights", "lock the front door", "turn up the thermostat",
    "make the coffee stronger", "set my car's mirror", "change the tv channel", "increase my salary",
    "turn on the dishwasher", "set the fridge to 4 degrees", "my cat is too loud", "the neighbours are too loud",
    "make the music playlist longer", "change the font in my document", "make this word bold", "turn the page",
    "open a new tab", "close all windows", "minimize everything", "install dark reader extension",
    "buy a bigger monitor", "delete my downloads", "reboot", "log me out", "uninstall chrome",
    "move my photos to the usb stick", "back up my documents", "turn off the tv", "dim the living room lights",
    "mute the group chat", "unsubscribe me from this newsletter", "clear my browser history",
    "make the car quieter", "turn on the porch light", "qwerty", "jkjkjk", "empty the trash",
    "kill the process using port 8080", "mount the external drive", "pair my phone with the car",
    # the state of the machine that no setting holds: knob cannot read it, and the chat model does not know it
    "how much ram do i have", "what is my ip address", "what version of linux is this", "what's on my calendar",
    "check disk space", "what's the battery level",
]
NEG = NEG_CHAT + NEG_NONE


def neg_label(i: int) -> str:
    return "chat" if i < len(NEG_CHAT) else "none"


NEG_T = ["{q}", "{q}?", "hey {q}", "can you {q}", "{q} please", "so, {q}", "um {q}", "quick question: {q}",
         "knob, {q}", "{q} thanks", "i want to know {q}", "tell me {q}"]


# ---------------------------------------------------------------- noise
def typo(rng: random.Random, q: str) -> str:
    ws = q.split(" ")
    idx = [i for i, w in enumerate(ws) if len(w) >= 4 and w.isalpha()]
    if not idx:
        return q
    i = rng.choice(idx)
    w = ws[i]
    j = rng.randrange(1, len(w) - 1)
    r = rng.random()
    if r < 0.3:
        w = w[:j] + w[j + 1:]
    elif r < 0.6:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif r < 0.8:
        w = w[:j] + w[j] + w[j:]
    else:
        w = w[:j] + rng.choice("qwertyuiopasdfghjklzxcvbnm") + w[j + 1:]
    ws[i] = w
    return " ".join(ws)


def noisy(rng: random.Random, q: str, polite: bool = True, verbatim: bool = False) -> str:
    """Politeness, typos, casing and punctuation. `verbatim`: the request holds a
    value the model must copy exactly (a path, a font), so no typos or case changes."""
    if polite and rng.random() < (0.7 if verbatim else 0.35):  # verbatim rows vary here only
        q = rng.choice(PREFIX) + q + rng.choice(SUFFIX)
    if rng.random() < 0.15 and not verbatim:
        q = typo(rng, q)
    r = rng.random()  # drawn even when verbatim, so other rows' noise does not shift
    if not verbatim and r < 0.12:
        q = q.upper() if rng.random() < 0.2 else q.capitalize()
    elif not verbatim and r < 0.2:
        q = q.title()
    r = rng.random()
    if r < 0.1:
        q = q.rstrip("?.!") + rng.choice(["?", ".", "!", "!!", "??"])
    elif r < 0.3 and not verbatim:
        q = q.replace("?", "").replace(",", "").replace("'", "")
    return re.sub(r"\s+", " ", q).strip()


# ---------------------------------------------------------------- generator
def _h(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12], 16)


_WORD = re.compile(r"[a-z0-9']+|[+=-]")  # a symbol that carries meaning ("{n} +{a}") counts as a word


def _words(text: str) -> set[str]:
    return set(_WORD.findall(re.sub(r"\{[a-z]+\}", " ", text.lower())))


@dataclass
class Split:
    """Which template families and synonyms are held out.

    A held-out family is a new phrasing built from known words: a template is
    held out only if every one of its words also occurs in a training template
    of the same intent, and a synonym only if every one of its words occurs in
    the setting's training names. A word the model has never seen anywhere
    ("deactivate", "luminosity") cannot be learnt from this data, so such
    phrasings stay in training instead of making the evaluation meaningless.
    """
    seed: int
    frac: float = 0.2

    def __post_init__(self):
        self._cache: dict = {}

    def family_held(self, fam: str) -> bool:
        intent, idx = fam.rsplit(":", 1)
        if intent in ("neg", "reason"):  # whole sentences, held out by index
            return _h(str(self.seed), intent, idx) % 5 == 0
        key = ("tpl", intent)
        if key not in self._cache:
            self._cache[key] = self._held_templates(intent)
        return int(idx) in self._cache[key]

    def _held_templates(self, intent: str) -> set[int]:
        pool = T.get(intent, [])
        if intent in ("example",) or len(pool) < 4:
            return set()
        # the first two templates of a pool are the canonical phrasings: always trained on
        order = sorted(range(2, len(pool)), key=lambda i: _h(str(self.seed), intent, str(i)))
        k = max(1, round(self.frac * len(pool)))
        return self._pick(order, [_words(t) for t in pool], k)

    @staticmethod
    def _pick(order: list[int], words: list[set[str]], k: int) -> set[int]:
        held: set[int] = set()
        for i in order:
            if len(held) >= k:
                break
            rest = set().union(*(words[j] for j in range(len(words)) if j != i and j not in held))
            if words[i] <= rest:
                held.add(i)
        return held

    def name_held(self, owner: str, name: str, names: list[str]) -> bool:
        key = ("name", owner, tuple(names))
        if key not in self._cache:
            self._cache[key] = self._held_names(owner, names)
        return name in self._cache[key]

    def _held_names(self, owner: str, names: list[str]) -> set[str]:
        if len(names) < 3:
            return set()
        # the title (names[0]) is always trained on
        order = sorted(range(1, len(names)), key=lambda i: _h(str(self.seed), owner, names[i]))
        k = max(1, round(self.frac * len(names)))
        return {names[i] for i in self._pick(order, [_words(n) for n in names], k)}


class Generator:
    def __init__(self, cat: Catalog, seed: int):
        self.cat = cat
        self.seed = seed
        self.split = Split(seed)
        self.names = {s.id: clean_names(s) for s in cat.settings}
        # a name shared by two settings is ambiguous: drop it from both
        seen: dict[str, int] = {}
        for ns in self.names.values():
            for n in ns[1:]:
                seen[n] = seen.get(n, 0) + 1
        for sid, ns in self.names.items():
            self.names[sid] = [ns[0]] + [n for n in ns[1:] if seen[n] == 1]
        # names of the false state never stand for the setting itself
        self.inverse = {sid: [n for n in ns if n in self.names[sid]]
                        for sid, ns in INVERSE_NAMES.items() if sid in self.names}
        for sid, inv in self.inverse.items():
            self.names[sid] = [n for n in self.names[sid] if n not in inv]
        taken = {n for ns in self.names.values() for n in ns}
        self.pnames = {}
        for p in cat.presets:
            ns = self._preset_names(p)
            # a preset name that also names a setting ("large text") stays only in "... mode/preset" phrasings
            free = [n for n in ns if n not in taken]
            self.pnames[p.name] = free or ns
        self.bare_owner = {}
        ids = cat.by_id()
        for key, sid in BARE_IDS.items():
            if sid in ids:
                self.bare_owner[sid] = key

    @staticmethod
    def _preset_names(p: Preset) -> list[str]:
        out = [norm(p.title)]
        plain = norm(p.name.replace("_", " ").replace("-", " "))
        if plain not in out:
            out.append(plain)
        for s in p.synonyms:
            n = norm(s)
            if n and n not in out:
                out.append(n)
        return out

    # -- choosing families and names for a split
    def _pick_template(self, rng, intent: str, held: bool | None) -> tuple[str, str]:
        pool = T[intent]
        idx = list(range(len(pool)))
        if held is not None:
            sub = [i for i in idx if self.split.family_held(f"{intent}:{i}") == held]
            idx = sub or idx
        i = rng.choice(idx)
        return pool[i], f"{intent}:{i}"

    def _pick_name(self, rng, owner: str, names: list[str], held: bool | None) -> str:
        if held is None:
            return rng.choice(names)
        sub = [n for n in names if self.split.name_held(owner, n, names) == held]
        return rng.choice(sub or names)

    # -- one single-setting example
    def single(self, rng, s: Setting, mode: str) -> dict | None:
        """mode: 'train' (train families and names), 'heldtpl', 'heldname'."""
        t_held = {"train": False, "heldtpl": True, "heldname": None}[mode]
        n_held = {"train": False, "heldtpl": None, "heldname": True}[mode]
        names = self.names[s.id]
        name = self._pick_name(rng, s.id, names, n_held)
        if mode == "heldname" and not self.split.name_held(s.id, name, names):
            return None
        if rng.random() < 0.25 and not name.startswith("the "):
            name_t = "the " + name if rng.random() < 0.5 else name
        else:
            name_t = name
        unit = unit_of(s)
        lex = lex_for(s)
        # "turn on am/pm", "more warmth": an inverse name turns the direction around
        inverse = self.inverse.get(s.id)
        flip = bool(inverse) and mode == "train" and rng.random() < INVERSE_SHARE
        if flip:
            name_t = rng.choice(inverse)
        if s.type == "bool":
            intent = rng.choices(["on", "off", "toggle"], [0.46, 0.46, 0.08])[0]
            tpl, fam = self._pick_template(rng, intent, t_held)
            q = tpl.format(n=name_t)
            does = FLIPPED.get(intent, intent) if flip else intent
            act = {"on": f"set {s.id} true", "off": f"set {s.id} false", "toggle": f"toggle {s.id}"}[does]
        elif s.type in ("int", "float"):
            opts = ["set", "inc", "dec", "inc_by", "dec_by", "max", "min"]
            w = [0.34, 0.1, 0.1, 0.08, 0.08, 0.03, 0.03]
            if lex:
                opts += ["adj_inc", "adj_dec", "prob_inc", "prob_dec"]
                w += [0.07, 0.07, 0.06, 0.06]
                if s.id in self.bare_owner:
                    opts += ["bare_adj_inc", "bare_adj_dec", "bare_prob_inc", "bare_prob_dec"]
                    w += [0.05, 0.05, 0.05, 0.05]
            if unit.never0 and (s.min or 0) <= 0:
                opts.append("never")
                w.append(0.05)
            intent = rng.choices(opts, w)[0]
            tintent = intent.replace("_inc", "").replace("_dec", "") if intent.startswith(("adj", "prob", "bare")) else intent
            if tintent == "adj":
                tintent = "adj_inc"
            tpl, fam = self._pick_template(rng, tintent, t_held)
            up = intent.endswith("_inc") or intent in ("inc", "inc_by")
            if flip and intent in FLIPPED:  # the template's words, the opposite action
                intent = FLIPPED[intent]
            if intent == "set":
                x = sample_value(rng, s, unit)
                q = tpl.format(n=name_t, v=value_phrase(rng, s, x, unit))
                act = f"set {s.id} {fmt_num(x, s.type)}"
            elif intent in ("inc", "dec"):
                q = tpl.format(n=name_t)
                act = f"{intent} {s.id}"
            elif intent in ("inc_by", "dec_by"):
                a = sample_amount(rng, s, unit)
                q = tpl.format(n=name_t, a=value_phrase(rng, s, a, unit, amount=True))
                act = f"{intent[:3]} {s.id} {fmt_num(a, s.type)}"
            elif intent in ("max", "min"):
                q = tpl.format(n=name_t)
                x = s.max if intent == "max" else s.min
                if x is None:
                    return None
                act = f"set {s.id} {fmt_num(x, s.type)}"
            elif intent == "never":
                q = tpl.format(n=name_t)
                act = f"set {s.id} 0"
            else:
                _, inc_a, dec_a, inc_p, dec_p, subjects = lex
                if intent.startswith("bare_prob"):
                    p = rng.choice(inc_p if up else dec_p)
                    q = tpl.format(p=p, s=rng.choice(subjects or [name]))
                elif intent.startswith("bare_adj"):
                    q = tpl.format(adj=rng.choice(inc_a if up else dec_a))
                elif intent.startswith("prob"):
                    q = tpl.format(n=self._subject(rng, s, name, lex), p=rng.choice(inc_p if up else dec_p))
                else:
                    q = tpl.format(n=self._subject(rng, s, name, lex), adj=rng.choice(inc_a if up else dec_a))
                act = f"{'inc' if up else 'dec'} {s.id}"
        elif s.type == "enum":
            if not s.values:
                return None
            tpl, fam = self._pick_template(rng, "enum", t_held)
            v = rng.choice(s.values)
            vt = v.replace("_", " ") if rng.random() < 0.8 else v
            vt = vt.replace("-", " ") if rng.random() < 0.5 else vt
            q = tpl.format(n=name_t, v=vt)
            act = f"set {s.id} {v}"
        else:
            tpl, fam = self._pick_template(rng, "string", t_held)
            v = string_value(rng, s)
            q = tpl.format(n=name_t, v=value_text(rng, v))
            act = f"set {s.id} {quote(v)}"
        q = re.sub(r"\b(the|my) the\b", r"\1", q)
        if mode != "train":  # an evaluation line must use a held-out template or a held-out name it shows
            if not (self.split.family_held(fam) or ("{n}" in tpl and self.split.name_held(s.id, name, names))):
                return None
        return {"query": q, "expect": [act], "family": fam, "name": f"{s.id}|{name}"}

    def _subject(self, rng, s: Setting, name: str, lex) -> str:
        """'text size' -> 'text' for 'the text is too small'; otherwise the name."""
        ws = name.split()
        rest = [w for w in ws if w not in lex[0]]
        if rest and len(rest) < len(ws) and rng.random() < 0.5:
            return " ".join(rest)
        return name

    def preset(self, rng, p: Preset, mode: str) -> dict | None:
        t_held = {"train": False, "heldtpl": True, "heldname": None}[mode]
        n_held = {"train": False, "heldtpl": None, "heldname": True}[mode]
        names = self.pnames[p.name]
        name = self._pick_name(rng, "preset:" + p.name, names, n_held)
        if mode == "heldname" and not self.split.name_held("preset:" + p.name, name, names):
            return None
        tpl, fam = self._pick_template(rng, "preset", t_held)
        if mode != "train" and not (self.split.family_held(fam) or self.split.name_held("preset:" + p.name, name, names)):
            return None
        if name.endswith(" mode") and "mode" in tpl:
            name = name[: -len(" mode")]
        return {"query": tpl.format(p=name), "expect": [f"preset {p.name}"], "family": fam, "name": f"preset:{p.name}|{name}"}

    def negative(self, rng, mode: str) -> dict:
        held = mode != "train"
        idx = [i for i in range(len(NEG)) if self.split.family_held(f"neg:{i}") == held]
        i = rng.choice(idx)
        tpl = rng.choice(NEG_T)
        lab = neg_label(i)
        return {"query": tpl.format(q=NEG[i]), "expect": [lab], "family": f"neg:{i}", "name": f"{lab}|{lab}"}

    def question(self, rng, s: Setting, mode: str) -> dict | None:
        """A question about the current value: `get <id>`, never a change ("is dark mode on?")."""
        t_held = {"train": False, "heldtpl": True, "heldname": None}[mode]
        n_held = {"train": False, "heldtpl": None, "heldname": True}[mode]
        names = self.names[s.id]
        name = self._pick_name(rng, s.id, names, n_held)
        tpl, fam = self._pick_template(rng, "get_bool" if s.type == "bool" else "get_value", t_held)
        if mode != "train" and not (self.split.family_held(fam) or self.split.name_held(s.id, name, names)):
            return None
        q = re.sub(r"\b(the|my) the\b", r"\1", tpl.format(n=name))
        return {"query": q, "expect": [f"get {s.id}"], "family": fam, "name": f"{s.id}|{name}"}

    def polarity(self, rng, s: Setting, mode: str) -> dict | None:
        """A bool request whose words point both ways: negations, double negatives, "again",
        a contrast with another setting ("turn on X, not Y"), and settings whose own title
        is a negative verb ("ignore touchpad while typing", "do not disturb")."""
        if s.type != "bool":
            return None
        t_held = {"train": False, "heldtpl": True, "heldname": None}[mode]
        n_held = {"train": False, "heldtpl": None, "heldname": True}[mode]
        names = self.names[s.id]
        name = self._pick_name(rng, s.id, names, n_held)
        on = rng.random() < 0.5
        kind = rng.choices(["pol", "contrast", "negname"], [0.7, 0.2, 0.1])[0]
        title = names[0]
        if kind == "negname" and re.match(r"(ignore|hide|disable|block|mute|lock|do not|don't|silence)\b", title):
            # the title is the imperative of the setting's "on": saying it turns it on, negating it turns it off
            forms = ["{t}", "please {t}", "i want you to {t}", "{t} from now on"] if on else \
                    ["don't {t}", "do not {t}", "stop: don't {t}", "no, don't {t} any more"]
            i = rng.randrange(len(forms))
            if mode != "train":  # few settings have such titles: all of them are trained on
                return None
            return {"query": forms[i].format(t=title), "expect": [f"set {s.id} {'true' if on else 'false'}"],
                    "family": f"negname:{int(on)}{i}", "name": f"{s.id}|{title}"}
        if kind == "contrast":
            others = [o for o in self.cat.settings if o.type == "bool" and o.id != s.id]
            if not others:
                return None
            o = rng.choice(others)
            m = self._pick_name(rng, o.id, self.names[o.id], False)
            if m == name:
                return None
            tpl, fam = self._pick_template(rng, "contrast_on" if on else "contrast_off", t_held)
            q = tpl.format(n=name, m=m)
        else:
            tpl, fam = self._pick_template(rng, "pol_on" if on else "pol_off", t_held)
            q = tpl.format(n=name)
        if mode != "train" and not (self.split.family_held(fam) or self.split.name_held(s.id, name, names)):
            return None
        q = re.sub(r"\b(the|my) the\b", r"\1", q)
        return {"query": q, "expect": [f"set {s.id} {'true' if on else 'false'}"], "family": fam, "name": f"{s.id}|{name}"}

    def examples(self) -> list[dict]:
        """Catalog examples with an explicit expectation, or one inferred with confidence."""
        out = []
        for s in self.cat.settings:
            for e in s.examples:
                if isinstance(e, dict) and "query" in e and "expect" in e:
                    exp = e["expect"] if isinstance(e["expect"], list) else [e["expect"]]
                    out.append({"query": e["query"], "expect": exp, "family": "example:0", "name": f"{s.id}|example"})
                    continue
                if not isinstance(e, str):
                    continue
                act = infer_example(s, e, lex_for(s))
                if act:
                    out.append({"query": e, "expect": [act], "family": "example:0", "name": f"{s.id}|example"})
        for p in self.cat.presets:
            for e in p.examples:
                if isinstance(e, str) and e.strip():
                    out.append({"query": e, "expect": [f"preset {p.name}"], "family": "example:0",
                                "name": f"preset:{p.name}|example"})
        return out

    def shared(self, rng, mode: str) -> dict | None:
        """One verb over two or three settings of a kind: "turn off wifi and bluetooth"."""
        t_held = {"train": False, "heldtpl": True}[mode]
        kind = rng.choices(["on", "off", "inc", "dec"], [0.35, 0.35, 0.15, 0.15])[0]
        types = ("bool",) if kind in ("on", "off") else ("int", "float")
        pool = [s for s in self.cat.settings if s.type in types]
        k = 3 if rng.random() < 0.2 else 2
        if len(pool) < k:
            return None
        picked = rng.sample(pool, k)
        tpl, fam = self._pick_template(rng, "shared_" + kind, t_held)
        names = []
        for s in picked:
            n = self._pick_name(rng, s.id, self.names[s.id], False)
            names.append("the " + n if rng.random() < 0.25 and not n.startswith("the ") else n)
        j = rng.choice(LIST_JOINERS)
        lst = names[0] + j + names[1] if len(names) == 2 else f"{names[0]}, {names[1]}{j}{names[2]}"
        q = re.sub(r"\b(the|my) the\b", r"\1", tpl.format(l=lst))
        act = {"on": "set {} true", "off": "set {} false", "inc": "inc {}", "dec": "dec {}"}[kind]
        return {"query": q, "expect": [act.format(s.id) for s in picked], "family": fam,
                "name": "+".join(s.id + "|" + n for s, n in zip(picked, names))}

    def with_reason(self, rng, mode: str) -> dict | None:
        """A single request or preset with a context clause that adds no action."""
        held = mode != "train"
        if rng.random() < 0.3:
            ex = self.preset(rng, rng.choice(self.cat.presets), "train")
        else:
            ex = self.single(rng, rng.choice(self.cat.settings), "train")
        if not ex:
            return None
        idx = [i for i in range(len(REASONS)) if self.split.family_held(f"reason:{i}") == held]
        i = rng.choice(idx)
        q = rng.choice(REASON_T).format(r=REASONS[i], q=ex["query"].rstrip("?"))
        return {"query": q, "expect": ex["expect"], "family": f"reason:{i}", "name": ex["name"]}

    def pair(self, rng, mode: str) -> dict | None:
        a, b = rng.sample(self.cat.settings, 2)
        ea = self.single(rng, a, mode)
        eb = self.single(rng, b, "train")  # the second half is always a training phrasing
        if not ea or not eb:
            return None
        j = rng.choice(JOINERS)
        qa, qb = ea["query"].rstrip("?"), eb["query"].rstrip("?")
        return {"query": qa + j + qb, "expect": ea["expect"] + eb["expect"],
                "family": ea["family"] + "+" + eb["family"], "name": ea["name"] + "+" + eb["name"]}


_OFF = re.compile(r"\b(off|disable|disabled|deactivate|don'?t|do not|no longer|hide|get rid|remove)\b|(^|[,.;] ?)stop\b")
_ON = re.compile(r"\b(turn|switch|put|back|keep)( \w+)* on\b|\b(enable|enabled|activate|start|show|use|want|let)\b")
_SUPPRESS = re.compile(r"\b(mute|muted|do not disturb|airplane|hide|autohide|auto-hide|disable|block|lock)\b")
_QUESTION = re.compile(r"^(is|are|what|what's|whats|how|does|do|which|where|when|why|can i|should)\b")
_STATE_Q = re.compile(r"^(is|are|what|what's|whats|which|does|do i have|am i|how (high|low|loud|bright|long|big|fast|dark) is)\b")
_UP = re.compile(r"\b(increase|raise|turn up|higher|more|up|maximum|boost)\b")
_DOWN = re.compile(r"\b(decrease|lower|reduce|turn down|less|down|minimum|cut)\b")
_NUM = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(%|percent|px|pixels|ms|milliseconds|k|kelvin|x|seconds?|secs?|minutes?|mins?|hours?|h|am|pm)?(?!\w)")


def infer_example(s: Setting, q: str, lex) -> str | None:
    """Label a catalog example only where the text makes the intent unambiguous; else None."""
    ql = q.lower().strip()
    if _STATE_Q.search(ql):
        return f"get {s.id}"  # asks for the current value: read it, change nothing
    if _QUESTION.search(ql):
        return None  # "how do i ...", "why ...": not a request to change, not a plain read either
    if s.type == "bool":
        on, off = bool(_ON.search(ql)), bool(_OFF.search(ql))
        if on == off or _SUPPRESS.search(norm(s.title)):
            return None
        return f"set {s.id} {'false' if off else 'true'}"
    if s.type == "enum":
        hits = [v for v in s.values if re.search(r"\b" + re.escape(v.replace("_", " ").replace("-", " ")) + r"\b",
                                                ql.replace("-", " "))]
        return f"set {s.id} {hits[0]}" if len(hits) == 1 else None
    if s.type in ("int", "float"):
        nums = _NUM.findall(ql)
        if len(nums) == 1:
            x, u = float(nums[0][0]), nums[0][1]
            kind = unit_of(s).kind
            if kind == "seconds" and u.startswith("min"):
                x *= 60
            elif kind == "seconds" and u.startswith("h"):
                x *= 3600
            elif kind == "minutes" and u.startswith("h"):
                x *= 60
            elif kind == "minutes" and u.startswith("s"):
                x /= 60
                if not float(x).is_integer():
                    return None
            elif kind == "factor" and u in ("%", "percent"):
                x /= 100
            elif kind == "hours":
                if (u == "pm" or re.search(r"\b(evening|tonight|afternoon)\b", ql)) and x < 12:
                    x += 12
                u = ""
            elif u and kind in ("percent", "plain") and u not in ("%", "percent"):
                return None
            if re.search(r"\bby\b", ql):
                if _UP.search(ql) != _DOWN.search(ql) and x > 0:
                    return f"{'inc' if _UP.search(ql) else 'dec'} {s.id} {fmt_num(x, s.type)}"
                return None
            if (s.min is None or x >= s.min) and (s.max is None or x <= s.max):
                return f"set {s.id} {fmt_num(x, s.type)}"
            return None
        if nums:
            return None
        if re.search(r"\b(max|maximum|all the way up|full)\b", ql) and s.max is not None:
            return f"set {s.id} {fmt_num(s.max, s.type)}"
        if re.search(r"\b(min|minimum|all the way down|lowest)\b", ql) and s.min is not None:
            return f"set {s.id} {fmt_num(s.min, s.type)}"
        up = bool(_UP.search(ql))
        down = bool(_DOWN.search(ql))
        if lex:
            _, inc_a, dec_a, inc_p, dec_p, _ = lex
            up = up or any(w in ql for w in inc_a + inc_p)
            down = down or any(w in ql for w in dec_a + dec_p)
        if up != down:
            return f"{'inc' if up else 'dec'} {s.id}"
    return None


def generate(cat: Catalog, seed: int, n_train_per_setting: int, n_eval_per_setting: int,
             phrases: list[dict] = ()) -> tuple[list[dict], list[dict]]:
    """Training and held-out rows. `phrases` are the hand-written training phrases
    (train/phrases, minus their held-out eighth): weighted up and noised, and
    paired with each other into two-part requests."""
    gen = Generator(cat, seed)
    rng = random.Random(seed)
    train: dict[str, dict] = {}
    bad: set[str] = set()

    def add(store: dict, ex: dict | None, polite: bool = True):
        if not ex:
            return
        ex = dict(ex)
        ex["query"] = noisy(rng, ex["query"], polite, verbatim=any('"' in a for a in ex["expect"]))
        k = ex["query"].lower()
        if k in bad:
            return
        if k in store and store[k]["expect"] != ex["expect"]:
            bad.add(k)
            del store[k]
            return
        store[k] = ex

    n_set = len(cat.settings)
    for s in cat.settings:
        for _ in range(n_train_per_setting):
            add(train, gen.single(rng, s, "train"))
    for p in cat.presets:
        for _ in range(n_train_per_setting):
            add(train, gen.preset(rng, p, "train"))
    for s in cat.settings:
        for _ in range(max(1, n_train_per_setting // 8)):
            add(train, gen.question(rng, s, "train"))
        for _ in range(max(1, n_train_per_setting // 4) if s.type == "bool" else 0):
            add(train, gen.polarity(rng, s, "train"))
    for _ in range(n_train_per_setting * n_set // 4):
        add(train, gen.pair(rng, "train"))
    for _ in range(n_train_per_setting * n_set // 12):
        add(train, gen.negative(rng, "train"))
    for _ in range(n_train_per_setting * n_set // 16):
        add(train, gen.shared(rng, "train"))
    for _ in range(n_train_per_setting * n_set // 16):
        add(train, gen.with_reason(rng, "train"))
    for ex in gen.examples():
        for _ in range(8):  # real requests from the catalog: weight them up, with noise
            add(train, ex)
        train[ex["query"].lower()] = ex
    phrase_rows = [{"query": r["query"], "expect": list(r["expect"]), "family": "phrase:0", "name": "phrase|phrase"}
                   for r in phrases]
    for ex in phrase_rows:
        for _ in range(PHRASE_WEIGHT):  # the words people use: weight them up, with noise
            add(train, ex)
    for ex in phrase_rows:
        train[ex["query"].lower()] = ex  # and the text exactly as written
    # changes pair with changes; a question never joins a change (`get` programs only hold gets)
    actions = [ex for ex in phrase_rows if len(ex["expect"]) == 1 and ex["expect"][0] not in ("none", "chat")]
    for _ in range(len(actions) * PHRASE_PAIRS if len(actions) >= 2 else 0):
        ea, eb = rng.sample(actions, 2)
        if ea["expect"][0].split(" ")[1] == eb["expect"][0].split(" ")[1]:
            continue  # two actions on one setting contradict each other
        if (ea["expect"][0].split(" ")[0] == "get") != (eb["expect"][0].split(" ")[0] == "get"):
            continue
        qb = eb["query"]
        qb = qb[0].lower() + qb[1:] if rng.random() < 0.7 else qb
        add(train, {"query": ea["query"].rstrip("?.!") + rng.choice(JOINERS) + qb, "expect": ea["expect"] + eb["expect"],
                    "family": "phrase:pair", "name": "phrase|pair"}, polite=False)

    ev: dict[str, dict] = {}
    for s in cat.settings:
        for i in range(n_eval_per_setting):
            add(ev, gen.single(rng, s, "heldtpl" if i % 2 == 0 else "heldname") or gen.single(rng, s, "heldtpl"))
    for p in cat.presets:
        for i in range(n_eval_per_setting):
            add(ev, gen.preset(rng, p, "heldtpl" if i % 2 == 0 else "heldname") or gen.preset(rng, p, "heldtpl"))
    for s in cat.settings:
        for i in range(max(1, n_eval_per_setting // 4)):
            add(ev, gen.question(rng, s, "heldtpl" if i % 2 == 0 else "heldname"))
        for i in range(max(1, n_eval_per_setting // 2) if s.type == "bool" else 0):
            add(ev, gen.polarity(rng, s, "heldtpl" if i % 2 == 0 else "heldname"))
    for _ in range(n_eval_per_setting * n_set // 5):
        add(ev, gen.pair(rng, "heldtpl"))
    for _ in range(n_eval_per_setting * n_set // 8):
        add(ev, gen.negative(rng, "eval"))
    for _ in range(n_eval_per_setting * n_set // 40):
        add(ev, gen.shared(rng, "heldtpl"))
    for _ in range(n_eval_per_setting * n_set // 40):
        add(ev, gen.with_reason(rng, "eval"))
    evl = [e for k, e in ev.items() if k not in train and k not in bad]
    trl = [e for k, e in train.items() if k not in bad]
    trl.sort(key=lambda e: _h(str(seed), e["query"]))
    evl.sort(key=lambda e: _h(str(seed), e["query"]))
    return trl, evl


PHRASE_WEIGHT = 10  # noisy copies of each hand-written phrase
PHRASE_PAIRS = 3  # two-part requests built from phrases, per single-action phrase


def write_jsonl(path, rows, keep_meta: bool = True) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            row = r if keep_meta else {"query": r["query"], "expect": r["expect"]}
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def target_text(expect: list[str]) -> str:
    return " ; ".join(expect) if expect else "none"
