//! Per-backend argv and text rules: how a key is read, how its output is
//! parsed, how a catalog value becomes backend text (and back), and the argv
//! that writes or restores it. Pure functions; running is `System`'s job.
use super::catalog::{Key, Target};
use super::system::{Output, System};
use super::template::{self, ArgvError, Escape};
use super::value::{format_number, Kind, Value, ValueSpec};

/// The map text that means "remove the key" (defaults, registry, kconfig).
pub const DELETE: &str = "<delete>";

/// A key's value as read from the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// The backend's text.
    Set(String),
    /// The key does not exist (defaults, registry, kconfig).
    Absent,
    /// Could not be read; the reason.
    Unknown(String),
}

impl Current {
    pub fn text(&self) -> Option<&str> {
        match self {
            Current::Set(t) => Some(t),
            _ => None,
        }
    }
    pub fn state(&self) -> &'static str {
        match self {
            Current::Set(_) => "set",
            Current::Absent => "absent",
            Current::Unknown(_) => "unknown",
        }
    }
    /// How the plan table shows it.
    pub fn display(&self) -> String {
        match self {
            Current::Set(t) => t.clone(),
            Current::Absent => "(not set)".to_string(),
            Current::Unknown(_) => "(unknown)".to_string(),
        }
    }
}

/// The programs a platform's keys use on this system.
#[derive(Debug, Clone)]
pub struct Tools {
    pub kreadconfig: &'static str,
    pub kwriteconfig: &'static str,
    /// kwriteconfig takes `--notify` (KConfig 6.11 and later), which tells
    /// running Plasma components that watch the file (KConfigWatcher) to
    /// re-read the key. Older kwriteconfig refuse the option, so it is only
    /// passed when the tool's `--help` lists it.
    pub notify: bool,
}

impl Tools {
    /// Prefers kreadconfig6/kwriteconfig6 when present, and asks
    /// kwriteconfig6 whether it takes `--notify` (kwriteconfig5 never does).
    pub fn detect(sys: &dyn System) -> Tools {
        let six = sys.has_program("kwriteconfig6") && sys.has_program("kreadconfig6");
        let notify = six
            && sys
                .read(&[s("kwriteconfig6"), s("--help")])
                .is_ok_and(|out| takes_notify(&out.stdout));
        Tools {
            kreadconfig: if six { "kreadconfig6" } else { "kreadconfig5" },
            kwriteconfig: if six {
                "kwriteconfig6"
            } else {
                "kwriteconfig5"
            },
            notify,
        }
    }

    /// The programs `key` needs, reading and writing.
    pub fn programs(&self, key: &Key) -> Vec<String> {
        match &key.target {
            Target::Gsettings { .. } => vec!["gsettings".into()],
            // Plasma's own tool writes the key (and applies it); kwriteconfig
            // is not used.
            Target::Kconfig {
                write: Some(write), ..
            } => vec![self.kreadconfig.into(), write[0].clone()],
            Target::Kconfig { .. } => vec![self.kreadconfig.into(), self.kwriteconfig.into()],
            Target::Defaults { .. } => vec!["defaults".into()],
            Target::Registry { .. } => vec!["reg".into()],
            Target::Command { read, write, .. } => {
                let mut p = vec![read[0].clone()];
                if write[0] != read[0] {
                    p.push(write[0].clone());
                }
                p
            }
        }
    }
}

/// Whether a kwriteconfig `--help` text lists the `--notify` option.
/// Only an option line counts (`  -n, --notify  Notify ...`), not a
/// description that mentions the option.
fn takes_notify(help: &str) -> bool {
    help.lines().any(|l| {
        l.split_whitespace()
            .map(|w| w.trim_end_matches(','))
            .take_while(|w| w.starts_with('-'))
            .any(|w| w == "--notify")
    })
}

fn s(x: &str) -> String {
    x.to_string()
}

fn kconfig_base(program: &str, file: &str, groups: &[String], key: &str) -> Vec<String> {
    let mut argv = vec![s(program), s("--file"), s(file)];
    for g in groups {
        argv.push(s("--group"));
        argv.push(g.clone());
    }
    argv.push(s("--key"));
    argv.push(s(key));
    argv
}

/// The argv that reads `key`.
pub fn read_argv(key: &Key, tools: &Tools) -> Vec<String> {
    match &key.target {
        Target::Gsettings { schema, key: k } => {
            vec![s("gsettings"), s("get"), schema.clone(), k.clone()]
        }
        Target::Kconfig {
            file,
            groups,
            key: k,
            default,
            ..
        } => {
            let mut argv = kconfig_base(tools.kreadconfig, file, groups, k);
            // An unset key reads as the value Plasma uses for it.
            if let Some(d) = default {
                argv.push(s("--default"));
                argv.push(d.clone());
            }
            argv
        }
        Target::Defaults { domain, key: k } => {
            vec![s("defaults"), s("read"), domain.clone(), k.clone()]
        }
        Target::Registry { path, name } => {
            vec![s("reg"), s("query"), path.clone(), s("/v"), name.clone()]
        }
        Target::Command { read, .. } => read.clone(),
    }
}

/// Drops a GVariant type annotation such as `uint32 ` or `@as `.
fn strip_gvariant_prefix(text: &str) -> &str {
    const WORDS: &[&str] = &[
        "byte",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "handle",
        "double",
        "objectpath",
        "signature",
    ];
    if let Some((first, rest)) = text.split_once(' ') {
        if WORDS.contains(&first) || (first.starts_with('@') && first.len() > 1) {
            return rest;
        }
    }
    text
}

/// Parses a read command's result into the key's current value.
pub fn parse_read(key: &Key, out: &Output) -> Current {
    match &key.target {
        Target::Gsettings { .. } => {
            if !out.success {
                return Current::Unknown(format!("gsettings: {}", out.reason()));
            }
            Current::Set(strip_gvariant_prefix(out.stdout.trim()).to_string())
        }
        Target::Kconfig { .. } => {
            if !out.success {
                return Current::Unknown(format!("kreadconfig: {}", out.reason()));
            }
            let text = out.stdout.strip_suffix('\n').unwrap_or(&out.stdout);
            if text.is_empty() {
                Current::Absent
            } else {
                Current::Set(text.to_string())
            }
        }
        Target::Defaults { .. } => {
            if !out.success {
                let all = format!("{}{}", out.stderr, out.stdout);
                return if all.contains("does not exist") {
                    Current::Absent
                } else {
                    Current::Unknown(format!("defaults: {}", out.reason()))
                };
            }
            let text = out.stdout.trim();
            Current::Set(match (key.vtype.as_str(), text) {
                ("bool", "1") => s("true"),
                ("bool", "0") => s("false"),
                _ => text.to_string(),
            })
        }
        Target::Registry { name, .. } => {
            if !out.success {
                let all = format!("{}{}", out.stderr, out.stdout);
                return if all.contains("unable to find") {
                    Current::Absent
                } else {
                    Current::Unknown(format!("reg: {}", out.reason()))
                };
            }
            for line in out.stdout.lines() {
                let line = line.trim();
                let Some(rest) = line.get(name.len()..) else {
                    continue;
                };
                if !line[..name.len()].eq_ignore_ascii_case(name)
                    || !rest.starts_with(char::is_whitespace)
                {
                    continue;
                }
                let rest = rest.trim_start();
                let Some((ty, data)) = rest.split_once(char::is_whitespace).or(Some((rest, "")))
                else {
                    continue;
                };
                if !ty.starts_with("REG_") {
                    continue;
                }
                let data = data.trim_start();
                if matches!(ty, "REG_DWORD" | "REG_QWORD") {
                    if let Some(n) = data
                        .strip_prefix("0x")
                        .and_then(|h| u64::from_str_radix(h, 16).ok())
                    {
                        return Current::Set(n.to_string());
                    }
                }
                return Current::Set(data.to_string());
            }
            Current::Unknown(format!("reg: no value named {name} in the output"))
        }
        Target::Command {
            parse,
            read,
            unescape,
            ..
        } => {
            if !out.success {
                return Current::Unknown(format!("{}: {}", read[0], out.reason()));
            }
            let Some(m) = parse.captures(&out.stdout).and_then(|c| c.get(1)) else {
                return Current::Unknown(format!(
                    "{}: output did not match {}",
                    read[0],
                    parse.as_str()
                ));
            };
            match unescape {
                None => Current::Set(m.as_str().to_string()),
                Some(Escape::Gvariant) => match template::gvariant_unescape(m.as_str()) {
                    Some(t) => Current::Set(t),
                    None => Current::Unknown(format!(
                        "{}: {} is not GVariant string text",
                        read[0],
                        m.as_str()
                    )),
                },
                // The loader allows only gvariant.
                Some(other) => Current::Unknown(format!(
                    "{}: cannot unescape {}",
                    read[0],
                    other.placeholder()
                )),
            }
        }
    }
}

/// GVariant text for a string: single quotes, with `\` and `'` escaped.
pub fn gvariant_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The inverse of `gvariant_quote` (also accepts double quotes).
pub fn gvariant_unquote(text: &str) -> Option<String> {
    let t = text.trim();
    let quote = t.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = t.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next()?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn is_integer_type(key: &Key) -> bool {
    match &key.target {
        Target::Gsettings { .. } => matches!(
            key.vtype.as_str(),
            "y" | "n" | "q" | "i" | "u" | "x" | "t" | "h"
        ),
        Target::Kconfig { .. } | Target::Defaults { .. } => key.vtype == "int",
        Target::Registry { .. } => matches!(key.vtype.as_str(), "REG_DWORD" | "REG_QWORD"),
        Target::Command { .. } => false,
    }
}

/// The backend text for a checked value. `Err` when the key's map has no
/// entry for the value.
pub fn encode(key: &Key, spec: &ValueSpec, value: &Value) -> Result<String, String> {
    if let Some(map) = &key.map {
        let k = value.map_key();
        return map.get(&k).cloned().ok_or_else(|| {
            let known: Vec<&str> = map.keys().map(String::as_str).collect();
            format!(
                "the value {k} is not available here (available: {})",
                known.join(", ")
            )
        });
    }
    let gsettings = matches!(key.target, Target::Gsettings { .. });
    Ok(match value {
        Value::Bool(b) => match key.target {
            Target::Registry { .. } => s(if *b { "1" } else { "0" }),
            _ => b.to_string(),
        },
        Value::Int(_) | Value::Float(_) => {
            let n = value.as_f64().unwrap_or(0.0) * key.scale;
            let integral =
                is_integer_type(key) || (spec.kind == Kind::Int && key.scale.fract() == 0.0);
            if integral {
                format!("{}", n.round() as i64)
            } else {
                let mut t = format_number(n);
                if gsettings && !t.contains(['.', 'e', 'n', 'i']) {
                    t.push_str(".0");
                }
                t
            }
        }
        Value::Text(t) => {
            if gsettings {
                match key.vtype.as_str() {
                    "as" => {
                        let items: Vec<String> = t
                            .split(',')
                            .map(str::trim)
                            .filter(|i| !i.is_empty())
                            .map(gvariant_quote)
                            .collect();
                        format!("[{}]", items.join(", "))
                    }
                    "s" | "enum" | "o" => gvariant_quote(t),
                    _ => t.clone(),
                }
            } else {
                t.clone()
            }
        }
    })
}

fn numbers_equal(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Whether two GVariant texts are the same value as far as knob can tell:
/// equal after dropping a type annotation (`@as []` is `[]`), or the same
/// string in either quote style.
fn same_gvariant(a: &str, b: &str) -> bool {
    let (a, b) = (
        strip_gvariant_prefix(a.trim()),
        strip_gvariant_prefix(b.trim()),
    );
    a == b || gvariant_unquote(a).is_some_and(|x| gvariant_unquote(b) == Some(x))
}

/// Whether two values are the same setting value (numbers with a tolerance).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => numbers_equal(x, y),
        _ => a == b,
    }
}

fn value_from_key(spec: &ValueSpec, key: &str) -> Option<Value> {
    match spec.kind {
        Kind::Bool => key.parse::<bool>().ok().map(Value::Bool),
        Kind::Int => key
            .parse::<f64>()
            .ok()
            .map(|n| Value::Int(n.round() as i64)),
        Kind::Float => key.parse::<f64>().ok().map(Value::Float),
        Kind::Enum | Kind::String => Some(Value::Text(key.to_string())),
    }
}

/// The catalog value a backend text stands for, when it can be told.
pub fn decode(key: &Key, spec: &ValueSpec, current: &Current) -> Option<Value> {
    let gsettings = matches!(key.target, Target::Gsettings { .. });
    if let Some(map) = &key.map {
        let same = |m: &str| match current {
            Current::Set(t) => m == t || (gsettings && same_gvariant(m, t)),
            // An empty map text writes an empty value, which reads as not set.
            Current::Absent => m == DELETE || m.is_empty(),
            Current::Unknown(_) => false,
        };
        return map
            .iter()
            .find(|(_, text)| same(text))
            .and_then(|(k, _)| value_from_key(spec, k));
    }
    let text = current.text()?.trim();
    match spec.kind {
        Kind::Bool => match text {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        Kind::Int | Kind::Float => {
            let n = text.parse::<f64>().ok()? / key.scale;
            Some(if spec.kind == Kind::Int {
                Value::Int(n.round() as i64)
            } else {
                Value::Float(n)
            })
        }
        Kind::Enum | Kind::String => {
            let t = if gsettings {
                gvariant_unquote(text).unwrap_or_else(|| text.to_string())
            } else {
                text.to_string()
            };
            if spec.kind == Kind::Enum && !spec.values.contains(&t) {
                return None;
            }
            Some(Value::Text(t))
        }
    }
}

/// Whether writing `new` over `current` changes nothing.
pub fn unchanged(
    key: &Key,
    spec: &ValueSpec,
    current: &Current,
    new_value: &Value,
    new_text: &str,
) -> bool {
    match current {
        Current::Unknown(_) => false,
        Current::Absent => {
            new_text == DELETE
                || (new_text.is_empty() && !matches!(key.target, Target::Gsettings { .. }))
        }
        Current::Set(t) => {
            t == new_text || decode(key, spec, current).is_some_and(|v| values_equal(&v, new_value))
        }
    }
}

/// The argv that writes `text` (or deletes the key for `<delete>`). `Err`
/// when a command template cannot take the text safely (see `template.rs`).
///
/// The key/value backends put the value in one whole argument where the
/// tool parses no options: gsettings reads none after `set` (a leading `-`
/// is part of the value), kconfig gets `--`, defaults takes the argument
/// after `-TYPE`, reg the one after `/d`.
pub fn write_argv(key: &Key, tools: &Tools, text: &str) -> Result<Vec<String>, ArgvError> {
    let delete = text == DELETE;
    Ok(match &key.target {
        Target::Gsettings { schema, key: k } => {
            vec![s("gsettings"), s("set"), schema.clone(), k.clone(), s(text)]
        }
        Target::Kconfig {
            write: Some(write), ..
        } if !delete => return template::render(write, text),
        Target::Kconfig {
            file,
            groups,
            key: k,
            ..
        } => {
            let mut argv = kconfig_base(tools.kwriteconfig, file, groups, k);
            if tools.notify {
                argv.push(s("--notify"));
            }
            if delete {
                argv.push(s("--delete"));
                return Ok(argv);
            }
            if !key.vtype.is_empty() {
                argv.push(s("--type"));
                argv.push(key.vtype.clone());
            }
            if text.starts_with('-') {
                argv.push(s("--"));
            }
            argv.push(s(text));
            argv
        }
        Target::Defaults { domain, key: k } if delete => {
            vec![s("defaults"), s("delete"), domain.clone(), k.clone()]
        }
        Target::Defaults { domain, key: k } => vec![
            s("defaults"),
            s("write"),
            domain.clone(),
            k.clone(),
            format!("-{}", key.vtype),
            s(text),
        ],
        Target::Registry { path, name } if delete => vec![
            s("reg"),
            s("delete"),
            path.clone(),
            s("/v"),
            name.clone(),
            s("/f"),
        ],
        Target::Registry { path, name } => {
            vec![
                s("reg"),
                s("add"),
                path.clone(),
                s("/v"),
                name.clone(),
                s("/t"),
                key.vtype.clone(),
                s("/d"),
                s(text),
                s("/f"),
            ]
        }
        Target::Command { write, .. } => return template::render(write, text),
    })
}

/// The argv that puts `before` back; `Ok(None)` when there is nothing to
/// put back (unknown, or absent where the key cannot be removed). The text
/// must already be checked against the setting (`plan.rs` does).
pub fn restore_argv(
    key: &Key,
    tools: &Tools,
    before: &Current,
) -> Result<Option<Vec<String>>, ArgvError> {
    match before {
        Current::Set(t) => write_argv(key, tools, t).map(Some),
        Current::Absent
            if !matches!(
                key.target,
                Target::Gsettings { .. } | Target::Command { .. }
            ) =>
        {
            write_argv(key, tools, DELETE).map(Some)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn key(target: Target, vtype: &str) -> Key {
        Key {
            target,
            vtype: vtype.into(),
            map: None,
            scale: 1.0,
        }
    }
    fn spec(kind: Kind) -> ValueSpec {
        ValueSpec {
            kind,
            min: None,
            max: None,
            step: None,
            unit: None,
            values: vec!["a".into(), "b c".into()],
            pattern: None,
        }
    }
    const TOOLS: Tools = Tools {
        kreadconfig: "kreadconfig5",
        kwriteconfig: "kwriteconfig5",
        notify: false,
    };

    #[test]
    fn gsettings_text_rules() {
        let k = key(
            Target::Gsettings {
                schema: "s".into(),
                key: "k".into(),
            },
            "u",
        );
        assert_eq!(
            parse_read(&k, &Output::ok("uint32 300\n")),
            Current::Set("300".into())
        );
        let mut minutes = k.clone();
        minutes.scale = 60.0;
        assert_eq!(
            encode(&minutes, &spec(Kind::Int), &Value::Int(5)).unwrap(),
            "300"
        );
        assert_eq!(
            decode(&minutes, &spec(Kind::Int), &Current::Set("300".into())),
            Some(Value::Int(5))
        );
        let d = key(
            Target::Gsettings {
                schema: "s".into(),
                key: "k".into(),
            },
            "d",
        );
        assert_eq!(
            encode(&d, &spec(Kind::Float), &Value::Float(1.0)).unwrap(),
            "1.0"
        );
        assert!(unchanged(
            &d,
            &spec(Kind::Float),
            &Current::Set("1.0".into()),
            &Value::Float(1.0),
            "1.0"
        ));
        let st = key(
            Target::Gsettings {
                schema: "s".into(),
                key: "k".into(),
            },
            "s",
        );
        assert_eq!(
            encode(&st, &spec(Kind::String), &Value::Text("it's".into())).unwrap(),
            r"'it\'s'"
        );
        assert_eq!(gvariant_unquote(r"'it\'s'").as_deref(), Some("it's"));
        assert_eq!(
            parse_read(&st, &Output::fail(1, "No such schema “x”\n")),
            Current::Unknown("gsettings: No such schema “x”".into())
        );
    }

    #[test]
    fn map_is_inverted_on_read() {
        let mut k = key(
            Target::Defaults {
                domain: "NSGlobalDomain".into(),
                key: "AppleInterfaceStyle".into(),
            },
            "string",
        );
        k.map = Some(BTreeMap::from([
            ("true".into(), "Dark".into()),
            ("false".into(), DELETE.into()),
        ]));
        let sp = spec(Kind::Bool);
        assert_eq!(decode(&k, &sp, &Current::Absent), Some(Value::Bool(false)));
        assert_eq!(
            decode(&k, &sp, &Current::Set("Dark".into())),
            Some(Value::Bool(true))
        );
        assert_eq!(decode(&k, &sp, &Current::Set("Light".into())), None);
        assert_eq!(
            write_argv(&k, &TOOLS, DELETE).unwrap(),
            vec![
                "defaults",
                "delete",
                "NSGlobalDomain",
                "AppleInterfaceStyle"
            ]
        );
        assert!(unchanged(
            &k,
            &sp,
            &Current::Absent,
            &Value::Bool(false),
            DELETE
        ));
        assert_eq!(
            encode(&k, &sp, &Value::Text("x".into())).unwrap_err(),
            "the value x is not available here (available: false, true)"
        );
    }

    #[test]
    fn annotated_and_empty_map_texts_match_what_is_read() {
        let mut g = key(
            Target::Gsettings {
                schema: "s".into(),
                key: "k".into(),
            },
            "as",
        );
        g.map = Some(BTreeMap::from([
            ("a".into(), "@as []".into()),
            ("b c".into(), "['x']".into()),
        ]));
        let sp = spec(Kind::Enum);
        assert_eq!(
            parse_read(&g, &Output::ok("@as []\n")),
            Current::Set("[]".into())
        );
        assert_eq!(
            decode(&g, &sp, &Current::Set("[]".into())),
            Some(Value::Text("a".into()))
        );
        assert!(unchanged(
            &g,
            &sp,
            &Current::Set("[]".into()),
            &Value::Text("a".into()),
            "@as []"
        ));
        let mut k = key(
            Target::Kconfig {
                file: "f".into(),
                groups: vec!["G".into()],
                key: "K".into(),
                write: None,
                default: None,
            },
            "string",
        );
        k.map = Some(BTreeMap::from([
            ("a".into(), "".into()),
            ("b c".into(), "x".into()),
        ]));
        assert_eq!(
            decode(&k, &sp, &Current::Absent),
            Some(Value::Text("a".into()))
        );
        assert!(unchanged(
            &k,
            &sp,
            &Current::Absent,
            &Value::Text("a".into()),
            ""
        ));
    }

    #[test]
    fn registry_reads_hex_dwords_and_absent_values() {
        let k = key(
            Target::Registry {
                path: r"HKCU\X".into(),
                name: "AppsUseLightTheme".into(),
            },
            "REG_DWORD",
        );
        let out = Output::ok(
            "\r\nHKEY_CURRENT_USER\\X\r\n    AppsUseLightTheme    REG_DWORD    0x1\r\n\r\n",
        );
        assert_eq!(parse_read(&k, &out), Current::Set("1".into()));
        let missing = Output::fail(
            1,
            "ERROR: The system was unable to find the specified registry key or value.",
        );
        assert_eq!(parse_read(&k, &missing), Current::Absent);
        assert_eq!(
            restore_argv(&k, &TOOLS, &Current::Absent).unwrap().unwrap(),
            vec!["reg", "delete", r"HKCU\X", "/v", "AppsUseLightTheme", "/f"]
        );
        assert_eq!(
            encode(&k, &spec(Kind::Bool), &Value::Bool(true)).unwrap(),
            "1"
        );
        let sz = key(
            Target::Registry {
                path: r"HKCU\X".into(),
                name: "Wall".into(),
            },
            "REG_SZ",
        );
        let out = Output::ok("    Wall    REG_SZ    C:\\My Pictures\\a b.jpg\r\n");
        assert_eq!(
            parse_read(&sz, &out),
            Current::Set("C:\\My Pictures\\a b.jpg".into())
        );
    }

    #[test]
    fn kconfig_argv_and_negative_values() {
        let k = key(
            Target::Kconfig {
                file: "kwinrc".into(),
                groups: vec!["A".into(), "B".into()],
                key: "K".into(),
                write: None,
                default: None,
            },
            "int",
        );
        assert_eq!(
            write_argv(&k, &TOOLS, "-1").unwrap(),
            vec![
                "kwriteconfig5",
                "--file",
                "kwinrc",
                "--group",
                "A",
                "--group",
                "B",
                "--key",
                "K",
                "--type",
                "int",
                "--",
                "-1"
            ]
        );
        assert_eq!(parse_read(&k, &Output::ok("\n")), Current::Absent);
        assert_eq!(
            restore_argv(&k, &TOOLS, &Current::Absent)
                .unwrap()
                .unwrap()
                .last()
                .map(String::as_str),
            Some("--delete")
        );
    }

    fn colour_scheme_key() -> Key {
        let mut k = key(
            Target::Kconfig {
                file: "kdeglobals".into(),
                groups: vec!["General".into()],
                key: "ColorScheme".into(),
                write: Some(vec!["plasma-apply-colorscheme".into(), "{value}".into()]),
                default: Some("BreezeLight".into()),
            },
            "string",
        );
        k.map = Some(BTreeMap::from([
            ("true".into(), "BreezeDark".into()),
            ("false".into(), "BreezeLight".into()),
        ]));
        k
    }

    #[test]
    fn kconfig_notify_follows_the_key_when_kwriteconfig_takes_it() {
        let k = key(
            Target::Kconfig {
                file: "kwinrc".into(),
                groups: vec!["NightColor".into()],
                key: "Active".into(),
                write: None,
                default: None,
            },
            "bool",
        );
        let six = Tools {
            kreadconfig: "kreadconfig6",
            kwriteconfig: "kwriteconfig6",
            notify: true,
        };
        assert_eq!(
            write_argv(&k, &six, "true").unwrap(),
            [
                "kwriteconfig6",
                "--file",
                "kwinrc",
                "--group",
                "NightColor",
                "--key",
                "Active",
                "--notify",
                "--type",
                "bool",
                "true"
            ]
        );
        assert_eq!(
            restore_argv(&k, &six, &Current::Absent).unwrap().unwrap()[7..],
            ["--notify", "--delete"]
        );
        // Reading never notifies.
        assert!(!read_argv(&k, &six).contains(&"--notify".to_string()));
        // kwriteconfig5 (and kwriteconfig6 before 6.11) refuse the option.
        assert!(!write_argv(&k, &TOOLS, "true")
            .unwrap()
            .contains(&"--notify".to_string()));
    }

    #[test]
    fn tools_ask_kwriteconfig6_whether_it_takes_notify() {
        use crate::settings::system::FakeSystem;
        let help = "Options:\n  --delete         Delete the designated key if enabled\n  --notify         Notify applications of the change\n";
        let new = FakeSystem::with_programs(&["kwriteconfig6", "kreadconfig6"])
            .script(&["kwriteconfig6", "--help"], Output::ok(help));
        let t = Tools::detect(&new);
        assert_eq!((t.kwriteconfig, t.notify), ("kwriteconfig6", true));
        // KDE Frameworks 6.0 to 6.10: no --notify in the help.
        let old = FakeSystem::with_programs(&["kwriteconfig6", "kreadconfig6"]);
        assert!(!Tools::detect(&old).notify);
        // Plasma 5: kwriteconfig5 is never asked.
        let five = FakeSystem::with_programs(&["kwriteconfig5", "kreadconfig5"]);
        let t = Tools::detect(&five);
        assert_eq!((t.kwriteconfig, t.notify), ("kwriteconfig5", false));
        assert!(five.log().is_empty(), "{:?}", five.log());
        assert!(!takes_notify("  --notifyx  no\n  Use --notify to...\n"));
    }

    #[test]
    fn kconfig_write_tool_and_default() {
        let k = colour_scheme_key();
        let sp = spec(Kind::Bool);
        let read = read_argv(&k, &TOOLS);
        assert_eq!(read[read.len() - 2..], ["--default", "BreezeLight"]);
        // Plasma's tool writes (and applies) the value, not kwriteconfig.
        let six = Tools {
            kreadconfig: "kreadconfig6",
            kwriteconfig: "kwriteconfig6",
            notify: true,
        };
        assert_eq!(
            write_argv(&k, &six, "BreezeDark").unwrap(),
            ["plasma-apply-colorscheme", "BreezeDark"]
        );
        assert_eq!(
            restore_argv(&k, &six, &Current::Set("BreezeLight".into()))
                .unwrap()
                .unwrap(),
            ["plasma-apply-colorscheme", "BreezeLight"]
        );
        assert_eq!(
            six.programs(&k),
            ["kreadconfig6", "plasma-apply-colorscheme"]
        );
        // An unset key reads as the default, which is a value of the setting.
        assert_eq!(
            decode(&k, &sp, &parse_read(&k, &Output::ok("BreezeLight\n"))),
            Some(Value::Bool(false))
        );
    }

    #[test]
    fn command_parse_and_template() {
        let k = Key {
            target: Target::Command {
                name: "wpctl".into(),
                read: vec![
                    "wpctl".into(),
                    "get-volume".into(),
                    "@DEFAULT_AUDIO_SINK@".into(),
                ],
                parse: regex::Regex::new(r"Volume: ([0-9.]+)").unwrap(),
                write: vec![
                    "wpctl".into(),
                    "set-volume".into(),
                    "@DEFAULT_AUDIO_SINK@".into(),
                    "{value}".into(),
                ],
                unescape: None,
            },
            vtype: String::new(),
            map: None,
            scale: 0.01,
        };
        let sp = spec(Kind::Int);
        assert_eq!(
            parse_read(&k, &Output::ok("Volume: 0.40\n")),
            Current::Set("0.40".into())
        );
        assert_eq!(
            decode(&k, &sp, &Current::Set("0.40".into())),
            Some(Value::Int(40))
        );
        assert_eq!(encode(&k, &sp, &Value::Int(50)).unwrap(), "0.5");
        assert_eq!(write_argv(&k, &TOOLS, "0.5").unwrap()[3], "0.5");
        assert!(matches!(
            parse_read(&k, &Output::ok("muted")),
            Current::Unknown(_)
        ));
    }
}
