//! The shipped catalog's policy: rules on style and on backend use that the
//! loader does not need to read a profile or a preset, but that keep the catalog
//! consistent for users and for the model trained on it. `knob settings
//! check` applies them to the shipped profiles and to the files it is given;
//! a user's own profiles loaded at run time are not held to them.
//! (These rules were in scripts/check_catalog.py; Python now keeps only what
//! needs the real gsettings/kconfig tools.)
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::load::SourceFile;
use super::profile::{file_kind, FileKind, ProfileError};

/// One rule's finding: where in the file, and what is wrong.
type Finding = (Range<usize>, String);

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    setting: Vec<RawSetting>,
}

#[derive(Deserialize)]
struct RawSetting {
    id: Spanned<String>,
    title: Spanned<String>,
    description: Spanned<String>,
    synonyms: Option<Spanned<Vec<String>>>,
    examples: Option<Spanned<Vec<String>>>,
    value: Spanned<RawValue>,
    gnome: Option<Spanned<RawMapping>>,
    kde: Option<Spanned<RawMapping>>,
    macos: Option<Spanned<RawMapping>>,
    windows: Option<Spanned<RawMapping>>,
    linux: Option<Spanned<RawMapping>>,
}

#[derive(Deserialize)]
struct RawValue {
    #[serde(rename = "type")]
    kind: String,
    min: Option<f64>,
    max: Option<f64>,
    step: Option<f64>,
    unit: Option<Spanned<String>>,
    values: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
struct RawMapping {
    backend: Spanned<String>,
    map: Option<Spanned<BTreeMap<String, toml::Value>>>,
    scale: Option<Spanned<toml::Value>>,
    #[serde(rename = "type")]
    vtype: Option<String>,
    after: Option<Spanned<Vec<Vec<String>>>>,
    after_value: Option<Spanned<BTreeMap<String, Vec<Vec<String>>>>>,
    read: Option<Spanned<Vec<String>>>,
    write: Option<Spanned<Vec<String>>>,
    parse: Option<Spanned<String>>,
    parse_samples: Option<Spanned<Vec<(String, String)>>>,
    groups: Option<Spanned<Vec<String>>>,
    file: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    name: Option<String>,
    admin: Option<bool>,
    also: Option<Spanned<Vec<RawAlso>>>,
}

#[derive(Deserialize)]
struct RawAlso {
    map: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

/// The parts of a preset file the policy reads (the loader checks the rest).
#[derive(Deserialize)]
struct PresetFile {
    name: Spanned<String>,
    synonyms: Option<Spanned<Vec<String>>>,
}

/// Applies every policy rule to the profile and preset files among `files`
/// (files that do not parse are the loader's to report).
pub fn check_files(files: &[SourceFile]) -> Vec<ProfileError> {
    let mut errors = Vec::new();
    for f in files {
        if file_kind(&f.text) == FileKind::Preset {
            if let Ok(preset) = toml::from_str::<PresetFile>(&f.text) {
                for (span, message) in check_preset(&f.name, &preset) {
                    errors.push(ProfileError::at(&f.name, &f.text, Some(span), message));
                }
            }
            continue;
        }
        let Ok(parsed) = toml::from_str::<File>(&f.text) else {
            continue;
        };
        for s in &parsed.setting {
            for (span, message) in check_setting(s) {
                errors.push(ProfileError::at(
                    &f.name,
                    &f.text,
                    Some(span),
                    format!("{}: {message}", s.id.get_ref()),
                ));
            }
        }
    }
    errors
}

/// A preset is found by its file name in the profiles directory, and by its
/// synonyms in requests ("movie mode" for `movie`).
fn check_preset(file: &str, p: &PresetFile) -> Vec<Finding> {
    let mut out = Vec::new();
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if *p.name.get_ref() != stem {
        out.push((
            p.name.span(),
            format!(
                "preset name '{}' differs from the file name '{stem}'",
                p.name.get_ref()
            ),
        ));
    }
    phrase_list("synonyms", &p.synonyms, 3, 12, p.name.span(), &mut out);
    out
}

fn check_setting(s: &RawSetting) -> Vec<Finding> {
    let mut out = Vec::new();
    title_length(&s.title, &mut out);
    description_sentence(&s.description, &mut out);
    phrase_list("synonyms", &s.synonyms, 6, 12, s.id.span(), &mut out);
    phrase_list("examples", &s.examples, 6, 10, s.id.span(), &mut out);
    numbers_complete(&s.value, &mut out);
    enum_names(s.value.get_ref(), &mut out);
    for (plat, m) in [
        ("gnome", &s.gnome),
        ("kde", &s.kde),
        ("macos", &s.macos),
        ("windows", &s.windows),
        ("linux", &s.linux),
    ] {
        let Some(m) = m else { continue };
        let kind = s.value.get_ref().kind.as_str();
        check_platform(plat, m.get_ref(), kind, &mut out);
    }
    out
}

/// Titles are shown in one column of `knob settings list` and the TUI.
fn title_length(title: &Spanned<String>, out: &mut Vec<Finding>) {
    let n = title.get_ref().chars().count();
    if n > 48 {
        out.push((
            title.span(),
            format!("title is {n} characters long (at most 48)"),
        ));
    }
}

/// Descriptions are shown as one line of help and read as a sentence.
fn description_sentence(d: &Spanned<String>, out: &mut Vec<Finding>) {
    if !d.get_ref().trim_end().ends_with('.') {
        out.push((
            d.span(),
            "description should be one sentence ending with a full stop".into(),
        ));
    }
}

/// Synonyms and examples are the model's training data: too few and it does
/// not learn the setting, too many and one setting outweighs the others;
/// repeats and stray spaces add nothing but weight.
fn phrase_list(
    name: &str,
    list: &Option<Spanned<Vec<String>>>,
    min: usize,
    max: usize,
    id_span: Range<usize>,
    out: &mut Vec<Finding>,
) {
    let (items, span) = match list {
        Some(l) => (l.get_ref().as_slice(), l.span()),
        None => (&[][..], id_span),
    };
    if !(min..=max).contains(&items.len()) {
        out.push((
            span.clone(),
            format!("{} {name} (want {min}-{max})", items.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    for x in items {
        if !seen.insert(x.to_lowercase()) {
            out.push((span.clone(), format!("{name} repeat {x:?}")));
        }
        if x.is_empty() || x.trim() != x {
            out.push((
                span.clone(),
                format!("{name} must be trimmed non-empty strings: {x:?}"),
            ));
        }
    }
}

/// A number without range, step and unit cannot be resolved from "a bit
/// more" or "50 percent"; a step wider than the range makes relative changes
/// jump from end to end.
fn numbers_complete(v: &Spanned<RawValue>, out: &mut Vec<Finding>) {
    let raw = v.get_ref();
    if raw.kind != "int" && raw.kind != "float" {
        return;
    }
    for (field, present) in [
        ("min", raw.min.is_some()),
        ("max", raw.max.is_some()),
        ("step", raw.step.is_some()),
        ("unit", raw.unit.is_some()),
    ] {
        if !present {
            out.push((v.span(), format!("{} value needs `{field}`", raw.kind)));
        }
    }
    if let Some(unit) = &raw.unit {
        let u = unit.get_ref();
        let word = u.starts_with(|c: char| c.is_ascii_lowercase())
            && u.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if !word {
            out.push((
                unit.span(),
                format!("unit {u:?} should be one lowercase word (percent, ms, px, ...)"),
            ));
        }
    }
    if let (Some(lo), Some(hi), Some(st)) = (raw.min, raw.max, raw.step) {
        if st > hi - lo {
            out.push((v.span(), format!("step {st} larger than max - min")));
        }
    }
}

/// Enum values are words of the action grammar the model writes.
fn enum_names(v: &RawValue, out: &mut Vec<Finding>) {
    let Some(values) = &v.values else { return };
    if v.kind != "enum" {
        return;
    }
    for x in values.get_ref() {
        let ok = x.len() <= 24
            && x.starts_with(|c: char| c.is_ascii_lowercase())
            && x.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            out.push((
                values.span(),
                format!("enum value {x:?} is not short lowercase snake_case"),
            ));
        }
    }
}

/// Each platform table uses its platform's settings store, or a command;
/// the linux table is for commands that work on every desktop.
fn backend_for_platform(plat: &str, be: &Spanned<String>, out: &mut Vec<Finding>) {
    let native = match plat {
        "gnome" => Some("gsettings"),
        "kde" => Some("kconfig"),
        "macos" => Some("defaults"),
        "windows" => Some("registry"),
        _ => None,
    };
    let b = be.get_ref().as_str();
    if b != "command" && Some(b) != native {
        let msg = match native {
            Some(_) => format!("backend {b} on {plat}"),
            None => "the linux table is for desktop-independent commands".into(),
        };
        out.push((be.span(), msg));
    }
}

/// knob runs argv directly: a shell would reopen the quoting problems argv
/// avoids, and sudo would prompt invisibly (admin = true asks properly).
fn argv_direct(what: &str, argv: &Spanned<Vec<String>>, out: &mut Vec<Finding>) {
    let Some(first) = argv.get_ref().first() else {
        return;
    };
    if ["sh", "bash", "cmd", "cmd.exe", "zsh"].contains(&first.as_str()) || first.ends_with("/sh") {
        out.push((argv.span(), format!("`{what}` runs a shell")));
    }
    if first == "sudo" {
        out.push((
            argv.span(),
            format!("`{what}` starts with sudo: use admin = true"),
        ));
    }
}

/// Two values with one backend text would read back ambiguously.
fn map_texts_unique(map: &Spanned<BTreeMap<String, toml::Value>>, out: &mut Vec<Finding>) {
    let mut inv: BTreeMap<String, &str> = BTreeMap::new();
    for (k, x) in map.get_ref() {
        let text = scalar_text(x);
        if let Some(first) = inv.get(&text) {
            out.push((
                map.span(),
                format!(
                    "map texts repeat ({first} and {k} both give {text:?}): reading is ambiguous"
                ),
            ));
        } else {
            inv.insert(text, k);
        }
    }
}

fn scalar_text(x: &toml::Value) -> String {
    match x {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_platform(plat: &str, m: &RawMapping, kind: &str, out: &mut Vec<Finding>) {
    backend_for_platform(plat, &m.backend, out);
    if let Some(after) = &m.after_value {
        for a in after.get_ref().values().flatten() {
            let one = Spanned::new(after.span(), a.clone());
            argv_direct("after_value", &one, out);
        }
    }
    if let Some(after) = &m.after {
        for a in after.get_ref() {
            let one = Spanned::new(after.span(), a.clone());
            argv_direct("after", &one, out);
        }
    }
    map_or_scale(m, kind, out);
    if let Some(map) = &m.map {
        map_texts_unique(map, out);
    }
    match m.backend.get_ref().as_str() {
        "gsettings" => gsettings_rules(m, kind, out),
        "kconfig" => kconfig_rules(m, out),
        "defaults" => defaults_rules(m, out),
        "registry" => registry_rules(m, out),
        "command" => {
            for (what, argv) in [("read", &m.read), ("write", &m.write)] {
                if let Some(a) = argv {
                    argv_direct(what, a, out);
                }
            }
            parse_end_anchor(m, out);
            parse_samples_agree(m, out);
        }
        _ => {}
    }
}

/// A map and a scale both translate the value: with both, one is ignored.
/// bool and enum values have no backend form of their own without a map.
fn map_or_scale(m: &RawMapping, kind: &str, out: &mut Vec<Finding>) {
    if let (Some(_), Some(scale)) = (&m.map, &m.scale) {
        out.push((scale.span(), "both `map` and `scale`".into()));
    }
    if m.map.is_none() && (kind == "bool" || kind == "enum") {
        out.push((m.backend.span(), format!("{kind} setting without a `map`")));
    }
}

/// A string setting written to a non-string key would need translating.
fn gsettings_rules(m: &RawMapping, kind: &str, out: &mut Vec<Finding>) {
    if kind == "string" && m.map.is_none() && m.vtype.as_deref() != Some("s") {
        out.push((
            m.backend.span(),
            "string setting on a non-s key needs a map".into(),
        ));
    }
    if let Some(also) = &m.also {
        for (i, a) in also.get_ref().iter().enumerate() {
            match &a.map {
                Some(map) => map_texts_unique(map, out),
                None if kind == "bool" || kind == "enum" => out.push((
                    also.span(),
                    format!("also[{i}] needs a map for a {kind} setting"),
                )),
                None => {}
            }
        }
    }
}

/// kconfig groups are fixed names, and kwriteconfig does not expand `~`.
fn kconfig_rules(m: &RawMapping, out: &mut Vec<Finding>) {
    if let Some(w) = &m.write {
        argv_direct("write", w, out);
    }
    if let Some(g) = &m.groups {
        if g.get_ref().iter().any(|x| x.contains('<')) {
            out.push((g.span(), "`groups` has a placeholder".into()));
        }
    }
    if let Some(f) = &m.file {
        if f.get_ref().starts_with('~') {
            out.push((
                f.span(),
                "kconfig file starting with ~ is not expanded".into(),
            ));
        }
    }
}

/// `defaults write -bool/-int` rejects other texts at apply time.
fn defaults_rules(m: &RawMapping, out: &mut Vec<Finding>) {
    let Some(map) = &m.map else { return };
    for x in map.get_ref().values() {
        let t = scalar_text(x);
        let bad = match m.vtype.as_deref() {
            Some("bool") => !["true", "false", "<delete>"].contains(&t.as_str()),
            Some("int") => t != "<delete>" && !is_decimal(t.strip_prefix('-').unwrap_or(&t)),
            _ => false,
        };
        if bad {
            let ty = m.vtype.as_deref().unwrap_or("");
            out.push((map.span(), format!("defaults -{ty} value {t:?}")));
        }
    }
}

/// Machine-wide keys need admin rights; `reg add /d` takes decimal numbers.
fn registry_rules(m: &RawMapping, out: &mut Vec<Finding>) {
    if let Some(p) = &m.path {
        let path = p.get_ref();
        if path.contains('<') || m.name.as_deref().is_some_and(|n| n.contains('<')) {
            out.push((p.span(), "registry path has a placeholder".into()));
        }
        if (path.starts_with("HKLM") || path.starts_with("HKU")) && m.admin != Some(true) {
            out.push((p.span(), "HKLM/HKU writes need admin = true".into()));
        }
    }
    let ty = m.vtype.as_deref();
    if let (Some(map), Some("REG_DWORD" | "REG_QWORD")) = (&m.map, ty) {
        for x in map.get_ref().values() {
            let t = scalar_text(x);
            if !is_decimal(&t) {
                out.push((
                    map.span(),
                    format!("{} /d value {t:?} is not decimal", ty.unwrap_or("")),
                ));
            } else if ty == Some("REG_DWORD") && t.parse::<u64>().map_or(true, |n| n > 0xFFFF_FFFF)
            {
                out.push((map.span(), format!("REG_DWORD value {t} too large")));
            }
        }
    }
}

fn is_decimal(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// In Rust's regex `$` matches only at the very end, not before the
/// output's final newline as in Python or grep.
fn parse_end_anchor(m: &RawMapping, out: &mut Vec<Finding>) {
    let Some(p) = &m.parse else { return };
    let mut escaped = false;
    for c in p.get_ref().chars() {
        if c == '$' && !escaped {
            out.push((
                p.span(),
                "`parse` uses $: in Rust it does not match before the output's final newline"
                    .into(),
            ));
            return;
        }
        escaped = c == '\\' && !escaped;
    }
}

/// `parse` and `map` must agree with what the read command really prints
/// (the samples come from the tools' documentation and source): a regex
/// that misses, or a text the map lacks, makes reading say "unknown".
/// The samples are tested with the regex crate the engine uses.
fn parse_samples_agree(m: &RawMapping, out: &mut Vec<Finding>) {
    let (Some(samples), Some(parse)) = (&m.parse_samples, &m.parse) else {
        return;
    };
    let Ok(re) = regex::Regex::new(parse.get_ref()) else {
        return; // the loader reports a bad regex
    };
    for (output, want) in samples.get_ref() {
        let got = re
            .captures(output)
            .and_then(|c| c.get(1))
            .map(|g| g.as_str());
        if got != Some(want.as_str()) {
            out.push((
                samples.span(),
                format!("parse of sample {output:?} gave {got:?}, expected {want:?}"),
            ));
        } else if let Some(map) = &m.map {
            if !map.get_ref().values().any(|x| scalar_text(x) == *want) {
                out.push((
                    samples.span(),
                    format!("parsed text {want:?} is not a map text: reading would say unknown"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[setting]]
id = "sound.volume"
title = "Volume"
description = "How loud the sound is."
synonyms = ["loudness", "sound level", "audio volume", "speaker volume", "output volume", "level"]
examples = ["louder", "quieter", "volume 50", "mute less", "turn it up", "turn it down"]
value = { type = "int", min = 0, max = 100, step = 5, unit = "percent" }

[setting.linux]
backend = "command"
read = ["wpctl", "get-volume", "@DEFAULT_AUDIO_SINK@"]
write = ["wpctl", "set-volume", "@DEFAULT_AUDIO_SINK@", "{value}%"]
parse = "Volume: ([0-9.]+)"
parse_samples = [["Volume: 0.40\n", "0.40"], ["Volume: 0.55 [MUTED]\n", "0.55"]]
"#;

    fn errors(text: &str) -> Vec<String> {
        let f = SourceFile {
            name: "t.toml".into(),
            text: text.into(),
        };
        check_files(&[f]).iter().map(|e| e.to_string()).collect()
    }

    fn one_error(from: &str, to: &str, want: &str) {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "{from} not in the fixture");
        let errs = errors(&text);
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "want {want:?} in {errs:?}"
        );
    }

    #[test]
    fn a_good_profile_passes() {
        assert_eq!(errors(GOOD), Vec::<String>::new());
    }

    #[test]
    fn shipped_profiles_pass() {
        let shipped = super::super::load::shipped_files();
        // A file the rules cannot read would pass unseen.
        for f in shipped
            .iter()
            .filter(|f| file_kind(&f.text) == FileKind::Profile)
        {
            let parsed = toml::from_str::<File>(&f.text);
            assert!(parsed.is_ok_and(|p| !p.setting.is_empty()), "{}", f.name);
        }
        let errs = check_files(&shipped);
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(msgs.is_empty(), "{msgs:#?}");
    }

    #[test]
    fn errors_carry_file_line_and_col() {
        let errs = errors(&GOOD.replace(
            "title = \"Volume\"",
            &format!("title = \"{}\"", "x".repeat(49)),
        ));
        assert!(
            errs[0].starts_with("t.toml:4:9: sound.volume: title is 49"),
            "{errs:?}"
        );
    }

    #[test]
    fn text_rules() {
        one_error("\"How loud the sound is.\"", "\"How loud\"", "full stop");
        one_error("\"loudness\", ", "", "5 synonyms (want 6-12)");
        one_error("\"level\"", "\"Loudness\"", "synonyms repeat");
        one_error("\"quieter\"", "\" quieter\"", "examples must be trimmed");
        one_error("\"louder\", ", "", "5 examples (want 6-10)");
    }

    #[test]
    fn value_rules() {
        one_error(", unit = \"percent\"", "", "int value needs `unit`");
        one_error("\"percent\"", "\"Percent\"", "one lowercase word");
        one_error("step = 5", "step = 500", "larger than max - min");
        one_error(
            "type = \"int\", min = 0, max = 100, step = 5, unit = \"percent\"",
            "type = \"enum\", values = [\"Low\", \"high\"]",
            "enum value \"Low\"",
        );
    }

    #[test]
    fn argv_rules() {
        one_error(
            "[\"wpctl\", \"get-volume\"",
            "[\"sh\", \"-c\"",
            "`read` runs a shell",
        );
        one_error(
            "[\"wpctl\", \"set-volume\"",
            "[\"sudo\", \"wpctl\"",
            "`write` starts with sudo",
        );
        one_error("Volume: ([0-9.]+)", "Volume: ([0-9.]+)$", "`parse` uses $");
        one_error(
            "Volume: ([0-9.]+)",
            "Volume: ([0-9]+)",
            r#"parse of sample "Volume: 0.40\n" gave Some("0"), expected "0.40""#,
        );
        with_table(
            "[setting.macos]\nbackend = \"command\"\nread = [\"x\"]\nwrite = [\"y\"]\nparse = \"Mute: (.*)\"\nmap = { 0 = \"no\", 100 = \"yes\" }\nparse_samples = [[\"Mute: on\", \"on\"]]",
            "parsed text \"on\" is not a map text",
        );
    }

    fn with_table(table: &str, want: &str) {
        let errs = errors(&format!("{GOOD}\n{table}"));
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "want {want:?} in {errs:?}"
        );
    }

    #[test]
    fn platform_rules() {
        one_error(
            "[setting.linux]\nbackend = \"command\"",
            "[setting.linux]\nbackend = \"gsettings\"",
            "linux table is for desktop-independent",
        );
        with_table("[setting.gnome]\nbackend = \"kconfig\"\nfile = \"kdeglobals\"\ngroups = [\"G\"]\nkey = \"k\"", "backend kconfig on gnome");
        with_table(
            "[setting.kde]\nbackend = \"kconfig\"\nfile = \"~/x\"\ngroups = [\"G\"]\nkey = \"k\"",
            "~ is not expanded",
        );
        with_table(
            "[setting.kde]\nbackend = \"kconfig\"\nfile = \"x\"\ngroups = [\"<n>\"]\nkey = \"k\"",
            "`groups` has a placeholder",
        );
        with_table("[setting.windows]\nbackend = \"registry\"\npath = 'HKLM\\X'\nname = \"n\"\ntype = \"REG_DWORD\"", "need admin = true");
        with_table("[setting.windows]\nbackend = \"registry\"\npath = 'HKCU\\X'\nname = \"n\"\ntype = \"REG_DWORD\"\nmap = { 0 = \"0x1\", 100 = \"1\" }", "is not decimal");
        with_table("[setting.windows]\nbackend = \"registry\"\npath = 'HKCU\\X'\nname = \"n\"\ntype = \"REG_DWORD\"\nmap = { 0 = \"1\", 100 = \"1\" }", "map texts repeat");
        with_table("[setting.windows]\nbackend = \"registry\"\npath = 'HKCU\\X'\nname = \"n\"\ntype = \"REG_DWORD\"\nmap = { 0 = \"4294967296\" }", "too large");
        with_table("[setting.macos]\nbackend = \"defaults\"\ndomain = \"d\"\nkey = \"k\"\ntype = \"int\"\nmap = { 0 = \"no\" }", "defaults -int value");
        with_table("[setting.macos]\nbackend = \"defaults\"\ndomain = \"d\"\nkey = \"k\"\ntype = \"bool\"\nmap = { 0 = \"1\" }", "defaults -bool value \"1\"");
        with_table("[setting.macos]\nbackend = \"defaults\"\ndomain = \"d\"\nkey = \"k\"\ntype = \"int\"\nscale = 2.0\nmap = { 0 = \"1\" }", "both `map` and `scale`");
        with_table("[setting.gnome]\nbackend = \"command\"\nread = [\"x\"]\nwrite = [\"y\"]\nparse = \"(.*)\"\nafter = [[\"bash\", \"-c\", \"z\"]]", "`after` runs a shell");
    }

    #[test]
    fn bool_and_string_rules() {
        let b = GOOD.replacen(
            "type = \"int\", min = 0, max = 100, step = 5, unit = \"percent\"",
            "type = \"bool\"",
            1,
        );
        let errs = errors(&format!("{b}\n[setting.gnome]\nbackend = \"gsettings\"\nschema = \"s\"\nkey = \"k\"\ntype = \"b\""));
        assert!(
            errs.iter()
                .any(|e| e.contains("bool setting without a `map`")),
            "{errs:?}"
        );
        let s = GOOD.replacen(
            "type = \"int\", min = 0, max = 100, step = 5, unit = \"percent\"",
            "type = \"string\"",
            1,
        );
        let errs = errors(&format!("{s}\n[setting.gnome]\nbackend = \"gsettings\"\nschema = \"s\"\nkey = \"k\"\ntype = \"i\""));
        assert!(
            errs.iter().any(|e| e.contains("non-s key needs a map")),
            "{errs:?}"
        );
    }
}
