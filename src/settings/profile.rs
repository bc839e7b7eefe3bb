//! Parses one profile or preset file (docs/catalog-format.md) into catalog
//! types. Every table denies unknown fields, and every error carries
//! `file:line:col` from toml's spans.
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::catalog::{Key, Mapping, Preset, Setting, Table, Target};
use super::followup;
use super::preset_conflicts;
use super::template::{self, Escape};
use super::value::{Kind, Value, ValueSpec};

/// An error in a profile file, located at a line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct ProfileError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ProfileError {
    pub fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ProfileError {
        let (line, col) = line_col(text, span.map_or(0, |s| s.start));
        ProfileError {
            file: file.to_string(),
            line,
            col,
            message: message.into(),
        }
    }
}

/// All errors of a load or check, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileErrors(pub Vec<ProfileError>);

impl fmt::Display for ProfileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// What a file holds, judged by its top-level keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Profile,
    Preset,
}

/// A preset has a top-level `name` or `values`; anything else is a profile.
pub fn file_kind(text: &str) -> FileKind {
    match text.parse::<toml::Table>() {
        Ok(t)
            if !t.contains_key("setting")
                && (t.contains_key("name") || t.contains_key("values")) =>
        {
            FileKind::Preset
        }
        _ => FileKind::Profile,
    }
}

// ---- raw TOML shapes -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    setting: Vec<RawSetting>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetting {
    id: Spanned<String>,
    title: Spanned<String>,
    description: Spanned<String>,
    #[serde(default)]
    synonyms: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    value: Spanned<RawValue>,
    gnome: Option<Spanned<RawMapping>>,
    kde: Option<Spanned<RawMapping>>,
    macos: Option<Spanned<RawMapping>>,
    windows: Option<Spanned<RawMapping>>,
    linux: Option<Spanned<RawMapping>>,
    /// Platform table name to why that platform has no mapping.
    unavailable: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
    step: Option<Spanned<f64>>,
    unit: Option<Spanned<String>>,
    values: Option<Spanned<Vec<String>>>,
    pattern: Option<Spanned<String>>,
}

/// A scalar written as a string, number or boolean; kept as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => super::value::format_number(*f),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

type RawMap = Spanned<BTreeMap<String, Scalar>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    backend: Spanned<String>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    admin: bool,
    after: Option<Spanned<Vec<Vec<String>>>>,
    /// Argv run after the writes when the setting takes a given value.
    after_value: Option<Spanned<BTreeMap<String, Vec<Vec<String>>>>>,
    map: Option<RawMap>,
    /// Why the maps may leave out some values of a bool or enum setting.
    partial_map: Option<Spanned<String>>,
    scale: Option<Spanned<f64>>,
    // gsettings
    schema: Option<Spanned<String>>,
    also: Option<Spanned<Vec<Spanned<RawAlso>>>>,
    // gsettings, kconfig, defaults
    key: Option<Spanned<String>>,
    // all but command
    #[serde(rename = "type")]
    vtype: Option<Spanned<String>>,
    // kconfig
    file: Option<Spanned<String>>,
    groups: Option<Spanned<Vec<String>>>,
    // defaults
    domain: Option<Spanned<String>>,
    // registry
    path: Option<Spanned<String>>,
    // registry, command
    name: Option<Spanned<String>>,
    // command
    read: Option<Spanned<Vec<String>>>,
    parse: Option<Spanned<String>>,
    /// Sample outputs of `read` and the text `parse` must take from each:
    /// catalog policy (settings::policy) tests them, the engine ignores them.
    parse_samples: Option<Spanned<Vec<(String, String)>>>,
    write: Option<Spanned<Vec<Spanned<String>>>>,
    unescape: Option<Spanned<String>>,
    // kconfig: the text an unset key stands for (`kreadconfig --default`)
    default: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlso {
    schema: Spanned<String>,
    key: Spanned<String>,
    #[serde(rename = "type")]
    vtype: Spanned<String>,
    map: Option<RawMap>,
    scale: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreset {
    name: Spanned<String>,
    title: Spanned<String>,
    description: Spanned<String>,
    #[serde(default)]
    synonyms: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    values: Spanned<OrderedValues>,
}

/// A preset's `[values]` in file order (the order the plan applies them).
struct OrderedValues(Vec<(Spanned<String>, Spanned<toml::Value>)>);

impl<'de> Deserialize<'de> for OrderedValues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OrderedValues;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of setting ids and values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedValues, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry()? {
                    out.push((k, v));
                }
                Ok(OrderedValues(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

// ---- checking ----------------------------------------------------------------

/// Collects errors for one file.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<ProfileError>,
}

impl Ctx<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors
            .push(ProfileError::at(self.file, self.text, Some(span), message));
    }
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> ProfileError {
    ProfileError::at(file, text, e.span(), e.message().trim_end())
}

/// Parses a profile file into settings. The settings are not yet checked
/// against other files (duplicate ids across files are the loader's job).
pub fn parse_profile(
    file: &str,
    text: &str,
) -> Result<Vec<(Setting, Range<usize>)>, Vec<ProfileError>> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    let mut ctx = Ctx {
        file,
        text,
        errors: Vec::new(),
    };
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
    for raw_setting in raw.setting {
        let id_span = raw_setting.id.span();
        let id = raw_setting.id.get_ref().clone();
        if let Some(first) = seen.get(&id) {
            let (line, _) = line_col(text, first.start);
            ctx.error(
                id_span.clone(),
                format!("duplicate setting id '{id}' (first defined on line {line})"),
            );
            continue;
        }
        seen.insert(id.clone(), id_span.clone());
        if let Some(setting) = check_setting(&mut ctx, raw_setting) {
            out.push((setting, id_span));
        }
    }
    if ctx.errors.is_empty() {
        Ok(out)
    } else {
        Err(ctx.errors)
    }
}

fn valid_id(id: &str) -> bool {
    id.contains('.')
        && !id.starts_with('.')
        && !id.ends_with('.')
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
}

fn check_setting(ctx: &mut Ctx, raw: RawSetting) -> Option<Setting> {
    let before = ctx.errors.len();
    let id = raw.id.get_ref().clone();
    if !valid_id(&id) {
        ctx.error(
            raw.id.span(),
            format!("setting id '{id}' must look like area.name, using only a-z, 0-9, '_' and '.'"),
        );
    }
    for (field, text) in [("title", &raw.title), ("description", &raw.description)] {
        if text.get_ref().trim().is_empty() {
            ctx.error(text.span(), format!("{field} must not be empty"));
        }
    }
    let value = check_value(ctx, &raw.value);
    let mut mappings = BTreeMap::new();
    // Tables written in the file, valid or not (an unavailable reason for
    // one of them would contradict it).
    let present: Vec<Table> = [
        (Table::Gnome, raw.gnome.is_some()),
        (Table::Kde, raw.kde.is_some()),
        (Table::Macos, raw.macos.is_some()),
        (Table::Windows, raw.windows.is_some()),
        (Table::Linux, raw.linux.is_some()),
    ]
    .into_iter()
    .filter_map(|(t, present)| present.then_some(t))
    .collect();
    if let Some(spec) = &value {
        for (table, mapping) in [
            (Table::Gnome, raw.gnome),
            (Table::Kde, raw.kde),
            (Table::Macos, raw.macos),
            (Table::Windows, raw.windows),
            (Table::Linux, raw.linux),
        ] {
            let Some(mapping) = mapping else { continue };
            if let Some(m) = check_mapping(ctx, table, mapping.into_inner(), spec.get_ref()) {
                mappings.insert(table, m);
            }
        }
    }
    let unavailable = check_unavailable(ctx, raw.unavailable, &present);
    if ctx.errors.len() > before {
        return None;
    }
    Some(Setting {
        id,
        title: raw.title.into_inner(),
        description: raw.description.into_inner(),
        synonyms: raw.synonyms,
        examples: raw.examples,
        value: value?.into_inner(),
        mappings,
        unavailable,
        source: ctx.file.to_string(),
    })
}

/// `[setting.unavailable]`: platform table names and why each has no
/// mapping, so a plan can say so rather than only that there is none.
fn check_unavailable(
    ctx: &mut Ctx,
    raw: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    present: &[Table],
) -> BTreeMap<Table, String> {
    let mut out = BTreeMap::new();
    let Some(raw) = raw else { return out };
    for (name, reason) in raw.into_inner() {
        let table = match name.get_ref().as_str() {
            "gnome" => Table::Gnome,
            "kde" => Table::Kde,
            "macos" => Table::Macos,
            "windows" => Table::Windows,
            "linux" => Table::Linux,
            other => {
                ctx.error(
                    name.span(),
                    format!("unavailable: '{other}' is not a platform table (gnome, kde, macos, windows, linux)"),
                );
                continue;
            }
        };
        if present.contains(&table) {
            ctx.error(
                name.span(),
                format!(
                    "unavailable: {} has a [setting.{}] table; drop one of them",
                    table.name(),
                    table.name()
                ),
            );
            continue;
        }
        if reason.get_ref().trim().is_empty() {
            ctx.error(reason.span(), "unavailable: the reason must not be empty");
            continue;
        }
        out.insert(table, reason.into_inner());
    }
    out
}

fn check_value(ctx: &mut Ctx, raw: &Spanned<RawValue>) -> Option<Spanned<ValueSpec>> {
    let v = raw.get_ref();
    let before = ctx.errors.len();
    let Some(kind) = Kind::parse(v.kind.get_ref()) else {
        ctx.error(
            v.kind.span(),
            format!(
                "unknown value type '{}' (expected bool, int, float, enum or string)",
                v.kind.get_ref()
            ),
        );
        return None;
    };
    let numeric = matches!(kind, Kind::Int | Kind::Float);
    for (field, opt) in [("min", &v.min), ("max", &v.max), ("step", &v.step)] {
        if let Some(n) = opt {
            if !numeric {
                ctx.error(
                    n.span(),
                    format!(
                        "'{field}' applies only to int and float values, not {}",
                        kind.name()
                    ),
                );
            } else if let Some(why) = not_finite(*n.get_ref()) {
                ctx.error(
                    n.span(),
                    format!("'{field}' must be a finite number, not {why}"),
                );
            } else if kind == Kind::Int && n.get_ref().fract() != 0.0 {
                ctx.error(
                    n.span(),
                    format!("'{field}' of an int value must be a whole number"),
                );
            }
        }
    }
    if let Some(unit) = &v.unit {
        if !numeric {
            ctx.error(
                unit.span(),
                format!(
                    "'unit' applies only to int and float values, not {}",
                    kind.name()
                ),
            );
        }
    }
    if let (Some(min), Some(max)) = (&v.min, &v.max) {
        if min.get_ref() > max.get_ref() {
            ctx.error(min.span(), "min is greater than max");
        }
    }
    if let Some(step) = &v.step {
        if *step.get_ref() <= 0.0 {
            ctx.error(step.span(), "step must be positive");
        }
    }
    let mut values = Vec::new();
    match (&v.values, kind) {
        (Some(list), Kind::Enum) => {
            if list.get_ref().is_empty() {
                ctx.error(list.span(), "an enum needs at least one value");
            }
            for (i, name) in list.get_ref().iter().enumerate() {
                if name.is_empty()
                    || !name.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                    })
                {
                    ctx.error(
                        list.span(),
                        format!("enum value '{name}' must use only a-z, 0-9, '_' and '-'"),
                    );
                } else if list.get_ref()[..i].contains(name) {
                    ctx.error(list.span(), format!("enum value '{name}' is listed twice"));
                }
            }
            values = list.get_ref().clone();
        }
        (None, Kind::Enum) => ctx.error(raw.span(), "an enum value needs 'values'"),
        (Some(list), _) => ctx.error(
            list.span(),
            format!("'values' applies only to enum values, not {}", kind.name()),
        ),
        (None, _) => {}
    }
    let mut pattern = None;
    if let Some(p) = &v.pattern {
        if kind != Kind::String {
            ctx.error(
                p.span(),
                format!(
                    "'pattern' applies only to string values, not {}",
                    kind.name()
                ),
            );
        } else {
            match Regex::new(p.get_ref()) {
                Ok(re) => pattern = Some(re),
                Err(e) => ctx.error(
                    p.span(),
                    format!(
                        "invalid pattern: {}",
                        e.to_string().lines().last().unwrap_or("")
                    ),
                ),
            }
        }
    }
    if ctx.errors.len() > before {
        return None;
    }
    let spec = ValueSpec {
        kind,
        min: v.min.as_ref().map(|s| *s.get_ref()),
        max: v.max.as_ref().map(|s| *s.get_ref()),
        step: v.step.as_ref().map(|s| *s.get_ref()),
        unit: v.unit.as_ref().map(|s| s.get_ref().clone()),
        values,
        pattern,
    };
    Some(Spanned::new(raw.span(), spec))
}

/// Why a bound or step is unusable: NaN compares false with everything, so
/// `min = nan` removes the bound and `step = nan` makes a relative change jump
/// to the maximum; an infinite step does the same.
fn not_finite(n: f64) -> Option<&'static str> {
    if n.is_nan() {
        Some("nan")
    } else if n.is_infinite() {
        Some(if n > 0.0 { "inf" } else { "-inf" })
    } else {
        None
    }
}

/// The fields each backend accepts besides the common ones.
fn backend_fields(backend: &str) -> Option<&'static [&'static str]> {
    Some(match backend {
        "gsettings" => &["schema", "key", "type", "map", "scale", "also"],
        "kconfig" => &[
            "file", "groups", "key", "type", "map", "scale", "write", "default",
        ],
        "defaults" => &["domain", "key", "type", "map", "scale"],
        "registry" => &["path", "name", "type", "map", "scale"],
        "command" => &[
            "name",
            "read",
            "parse",
            "parse_samples",
            "write",
            "unescape",
            "map",
            "scale",
        ],
        _ => return None,
    })
}

fn required(
    ctx: &mut Ctx,
    backend: &str,
    table_span: &Range<usize>,
    field: &str,
    v: &Option<Spanned<String>>,
) -> String {
    match v {
        Some(s) if !s.get_ref().is_empty() => s.get_ref().clone(),
        Some(s) => {
            ctx.error(s.span(), format!("'{field}' must not be empty"));
            String::new()
        }
        None => {
            ctx.error(
                table_span.clone(),
                format!("a {backend} table needs '{field}'"),
            );
            String::new()
        }
    }
}

fn check_type(
    ctx: &mut Ctx,
    backend: &str,
    table_span: &Range<usize>,
    vtype: &Option<Spanned<String>>,
    allowed: &[&str],
    needed: bool,
) -> String {
    match vtype {
        None if needed => {
            ctx.error(
                table_span.clone(),
                format!("a {backend} table needs 'type'"),
            );
            String::new()
        }
        None => String::new(),
        Some(t) if allowed.contains(&t.get_ref().as_str()) => t.get_ref().clone(),
        Some(t) => {
            ctx.error(
                t.span(),
                format!(
                    "unknown {backend} type '{}' (expected {})",
                    t.get_ref(),
                    allowed.join(", ")
                ),
            );
            String::new()
        }
    }
}

/// Checks a GVariant type string (`b`, `u`, `as`, `a(ss)`, ...) or the
/// schema kinds `enum` and `flags`.
fn check_gvariant_type(
    ctx: &mut Ctx,
    span: &Range<usize>,
    vtype: &Option<Spanned<String>>,
) -> String {
    let Some(t) = vtype else {
        ctx.error(span.clone(), "a gsettings table needs 'type'");
        return String::new();
    };
    let text = t.get_ref();
    let mut depth = 0i32;
    let balanced = text.chars().all(|c| {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            _ => {}
        }
        depth >= 0
    }) && depth == 0;
    let valid = text == "enum"
        || text == "flags"
        || (!text.is_empty()
            && balanced
            && text.chars().all(|c| "bynqiuxthdsogvam(){}".contains(c)));
    if !valid {
        ctx.error(
            t.span(),
            format!(
                "'{text}' is not a GVariant type (such as b, i, u, d, s, as, a(ss)) or enum/flags"
            ),
        );
        return String::new();
    }
    text.clone()
}

/// Whether `key` (a `map` or `after_value` key) names a value of the
/// setting: `true`/`false`, an enum name, a number in range.
fn names_a_value(spec: &ValueSpec, key: &str) -> bool {
    match spec.kind {
        Kind::Bool => key == "true" || key == "false",
        Kind::Enum => spec.values.iter().any(|v| v == key),
        Kind::Int | Kind::Float => key
            .parse::<f64>()
            .ok()
            .is_some_and(|n| spec.check(&Value::Float(n)).is_ok()),
        Kind::String => spec.check(&Value::Text(key.to_string())).is_ok(),
    }
}

fn check_map(
    ctx: &mut Ctx,
    spec: &ValueSpec,
    map: &Option<RawMap>,
) -> Option<BTreeMap<String, String>> {
    let map = map.as_ref()?;
    let mut out = BTreeMap::new();
    for (key, text) in map.get_ref() {
        if !names_a_value(spec, key) {
            let expected = match spec.kind {
                Kind::Bool => "true or false".to_string(),
                Kind::Enum => format!("one of: {}", spec.values.join(", ")),
                _ => format!("a valid {} value", spec.kind.name()),
            };
            ctx.error(
                map.span(),
                format!("map key '{key}' is not a value of this setting (expected {expected})"),
            );
        }
        out.insert(key.clone(), text.text());
    }
    Some(out)
}

fn check_mapping(
    ctx: &mut Ctx,
    table: Table,
    raw: RawMapping,
    spec: &ValueSpec,
) -> Option<Mapping> {
    let before = ctx.errors.len();
    let backend = raw.backend.get_ref().as_str();
    let span = raw.backend.span();
    let Some(allowed) = backend_fields(backend) else {
        ctx.error(span, format!("unknown backend '{backend}' (expected gsettings, kconfig, defaults, registry or command)"));
        return None;
    };
    let present: [(&str, Option<Range<usize>>); 17] = [
        ("map", raw.map.as_ref().map(|s| s.span())),
        ("scale", raw.scale.as_ref().map(|s| s.span())),
        ("schema", raw.schema.as_ref().map(|s| s.span())),
        ("also", raw.also.as_ref().map(|s| s.span())),
        ("key", raw.key.as_ref().map(|s| s.span())),
        ("type", raw.vtype.as_ref().map(|s| s.span())),
        ("file", raw.file.as_ref().map(|s| s.span())),
        ("groups", raw.groups.as_ref().map(|s| s.span())),
        ("domain", raw.domain.as_ref().map(|s| s.span())),
        ("path", raw.path.as_ref().map(|s| s.span())),
        ("name", raw.name.as_ref().map(|s| s.span())),
        ("read", raw.read.as_ref().map(|s| s.span())),
        ("parse", raw.parse.as_ref().map(|s| s.span())),
        (
            "parse_samples",
            raw.parse_samples.as_ref().map(|s| s.span()),
        ),
        ("write", raw.write.as_ref().map(|s| s.span())),
        ("unescape", raw.unescape.as_ref().map(|s| s.span())),
        ("default", raw.default.as_ref().map(|s| s.span())),
    ];
    for (field, at) in present {
        if let Some(at) = at {
            if !allowed.contains(&field) {
                ctx.error(
                    at,
                    format!(
                        "'{field}' is not a field of a {backend} table (in [setting.{}])",
                        table.name()
                    ),
                );
            }
        }
    }
    if table == Table::Linux && !matches!(backend, "command" | "gsettings" | "kconfig") {
        ctx.error(
            span.clone(),
            format!("a [setting.linux] table cannot use the {backend} backend"),
        );
    }
    let mut after = Vec::new();
    if let Some(a) = &raw.after {
        for argv in a.get_ref() {
            if argv.is_empty() || argv[0].is_empty() {
                ctx.error(a.span(), "each 'after' entry must be a non-empty argv");
            }
            if let Some(bad) = followup::unknown_placeholder(argv) {
                ctx.error(
                    a.span(),
                    format!("unknown placeholder '{bad}' in 'after' (the one placeholder is {{color}}, as a whole argument)"),
                );
            }
            // {color} reads the key as kdeglobals keeps a colour (R,G,B):
            // every value knob writes must be one.
            if followup::names_value(argv) {
                if backend != "kconfig" {
                    ctx.error(a.span(), "{color} in 'after' needs a kconfig key");
                } else if let Some(raw_map) = &raw.map {
                    for (value, text) in raw_map.get_ref() {
                        let text = text.text();
                        if text != super::backend::DELETE
                            && followup::qt_color(Some(&text)).is_none()
                        {
                            ctx.error(
                                raw_map.span(),
                                format!("'after' passes {{color}}, but {value} writes {text:?}, which is no colour (R,G,B)"),
                            );
                        }
                    }
                } else {
                    ctx.error(
                        a.span(),
                        "{color} in 'after' needs a map of colours (R,G,B)",
                    );
                }
            }
        }
        after = a.get_ref().clone();
    }
    let mut after_value = BTreeMap::new();
    if let Some(a) = &raw.after_value {
        if !matches!(spec.kind, Kind::Bool | Kind::Enum) {
            ctx.error(a.span(), "'after_value' needs a bool or enum setting");
        }
        for (value, argvs) in a.get_ref() {
            if !names_a_value(spec, value) {
                ctx.error(
                    a.span(),
                    format!("'after_value' key '{value}' is not a value of this setting"),
                );
            }
            if argvs
                .iter()
                .any(|argv| argv.is_empty() || argv[0].is_empty())
            {
                ctx.error(
                    a.span(),
                    "each 'after_value' entry must be a non-empty argv",
                );
            }
            if argvs.iter().any(|argv| followup::names_value(argv)) {
                ctx.error(a.span(), "{color} belongs in 'after', not 'after_value'");
            }
        }
        after_value = a.get_ref().clone();
    }
    let scale = match &raw.scale {
        Some(s) if *s.get_ref() == 0.0 || !s.get_ref().is_finite() => {
            ctx.error(s.span(), "scale must be a non-zero number");
            1.0
        }
        Some(s) => {
            if !matches!(spec.kind, Kind::Int | Kind::Float) {
                ctx.error(s.span(), "'scale' applies only to int and float settings");
            }
            *s.get_ref()
        }
        None => 1.0,
    };
    let map = check_map(ctx, spec, &raw.map);
    let vtype;
    let target = match backend {
        "gsettings" => {
            vtype = check_gvariant_type(ctx, &span, &raw.vtype);
            Target::Gsettings {
                schema: required(ctx, backend, &span, "schema", &raw.schema),
                key: required(ctx, backend, &span, "key", &raw.key),
            }
        }
        "kconfig" => {
            vtype = check_type(
                ctx,
                backend,
                &span,
                &raw.vtype,
                &["bool", "int", "double", "string"],
                false,
            );
            let groups = raw
                .groups
                .as_ref()
                .map(|g| g.get_ref().clone())
                .unwrap_or_default();
            if groups.is_empty() {
                ctx.error(
                    raw.groups.as_ref().map_or(span.clone(), |g| g.span()),
                    "a kconfig table needs at least one group in 'groups'",
                );
            }
            let (write, default) = check_kconfig_write(ctx, spec, map.as_ref(), &raw, &span);
            Target::Kconfig {
                file: required(ctx, backend, &span, "file", &raw.file),
                groups,
                key: required(ctx, backend, &span, "key", &raw.key),
                write,
                default,
            }
        }
        "defaults" => {
            vtype = check_type(
                ctx,
                backend,
                &span,
                &raw.vtype,
                &["bool", "int", "float", "string"],
                true,
            );
            Target::Defaults {
                domain: required(ctx, backend, &span, "domain", &raw.domain),
                key: required(ctx, backend, &span, "key", &raw.key),
            }
        }
        "registry" => {
            vtype = check_type(
                ctx,
                backend,
                &span,
                &raw.vtype,
                &["REG_DWORD", "REG_QWORD", "REG_SZ", "REG_EXPAND_SZ"],
                true,
            );
            let path = required(ctx, backend, &span, "path", &raw.path);
            const ROOTS: &[&str] = &[
                "HKCU",
                "HKLM",
                "HKU",
                "HKCR",
                "HKCC",
                "HKEY_CURRENT_USER",
                "HKEY_LOCAL_MACHINE",
                "HKEY_USERS",
                "HKEY_CLASSES_ROOT",
                "HKEY_CURRENT_CONFIG",
            ];
            let root = path.split('\\').next().unwrap_or("");
            if !path.is_empty() && !ROOTS.contains(&root) {
                ctx.error(
                    raw.path.as_ref().map_or(span.clone(), |p| p.span()),
                    format!(
                        "a registry path starts with a root key ({}), not '{root}'",
                        ROOTS[..5].join(", ")
                    ),
                );
            }
            Target::Registry {
                path,
                name: required(ctx, backend, &span, "name", &raw.name),
            }
        }
        _ => {
            vtype = String::new();
            let name = required(ctx, backend, &span, "name", &raw.name);
            let mut argv = |field: &str, v: &Option<Spanned<Vec<String>>>| match v {
                Some(a) if !a.get_ref().is_empty() && !a.get_ref()[0].is_empty() => {
                    a.get_ref().clone()
                }
                Some(a) => {
                    ctx.error(a.span(), format!("'{field}' must be a non-empty argv"));
                    Vec::new()
                }
                None => {
                    ctx.error(span.clone(), format!("a command table needs '{field}'"));
                    Vec::new()
                }
            };
            let read = argv("read", &raw.read);
            let write_texts = raw.write.as_ref().map(|w| {
                Spanned::new(
                    w.span(),
                    w.get_ref().iter().map(|a| a.get_ref().clone()).collect(),
                )
            });
            let write = argv("write", &write_texts);
            let unescape = check_write_template(ctx, spec, map.as_ref(), &raw);
            if read.iter().any(|a| a.contains("{value")) {
                ctx.error(
                    raw.read.as_ref().map_or(span.clone(), |r| r.span()),
                    "'read' must not contain {value}",
                );
            }
            let parse = match &raw.parse {
                None => {
                    ctx.error(span.clone(), "a command table needs 'parse'");
                    None
                }
                Some(p) => match Regex::new(p.get_ref()) {
                    Ok(re) if re.captures_len() >= 2 => Some(re),
                    Ok(_) => {
                        ctx.error(
                            p.span(),
                            "'parse' needs a capture group: group 1 is the backend text",
                        );
                        None
                    }
                    Err(e) => {
                        ctx.error(
                            p.span(),
                            format!(
                                "invalid regex in 'parse': {}",
                                e.to_string().lines().last().unwrap_or("")
                            ),
                        );
                        None
                    }
                },
            };
            match parse {
                Some(parse) => Target::Command {
                    name,
                    read,
                    parse,
                    write,
                    unescape,
                },
                None => return None,
            }
        }
    };
    let mut also = Vec::new();
    let mut also_maps = Vec::new();
    if let Some(list) = &raw.also {
        for item in list.get_ref() {
            let a = item.get_ref();
            let vt = check_gvariant_type(ctx, &item.span(), &Some(a.vtype.clone()));
            let map = check_map(ctx, spec, &a.map);
            if let (Some(m), Some(raw_map)) = (&map, &a.map) {
                also_maps.push((m.clone(), raw_map.span()));
            }
            also.push(Key {
                target: Target::Gsettings {
                    schema: a.schema.get_ref().clone(),
                    key: a.key.get_ref().clone(),
                },
                vtype: vt,
                map,
                scale: a.scale.as_ref().map_or(1.0, |s| *s.get_ref()),
            });
        }
    }
    let mut maps: Vec<(&BTreeMap<String, String>, Range<usize>)> = Vec::new();
    if let (Some(m), Some(raw_map)) = (&map, &raw.map) {
        maps.push((m, raw_map.span()));
    }
    maps.extend(also_maps.iter().map(|(m, at)| (m, at.clone())));
    // Coverage is judged once the table is otherwise valid (a wrong map
    // key would also read as a missing value).
    if ctx.errors.len() == before {
        check_partial_map(ctx, spec, &maps, &raw.partial_map);
    }
    if ctx.errors.len() > before {
        return None;
    }
    Some(Mapping {
        primary: Key {
            target,
            vtype,
            map,
            scale,
        },
        also,
        notes: raw.notes,
        admin: raw.admin,
        after,
        after_value,
        partial_map: raw.partial_map.map(Spanned::into_inner),
    })
}

/// Catalog policy: a bool or enum setting's maps give every value a text,
/// or `partial_map` says why this platform cannot take the rest (knob then
/// refuses those values there, and the plan says so). A `partial_map` that
/// excuses nothing is stale and an error too.
fn check_partial_map(
    ctx: &mut Ctx,
    spec: &ValueSpec,
    maps: &[(&BTreeMap<String, String>, Range<usize>)],
    partial: &Option<Spanned<String>>,
) {
    if let Some(p) = partial {
        if p.get_ref().trim().is_empty() {
            ctx.error(
                p.span(),
                "partial_map must say why the map leaves out values",
            );
            return;
        }
    }
    if let (Some(p), true) = (partial, maps.is_empty()) {
        ctx.error(p.span(), "partial_map applies only to a table with a map");
        return;
    }
    let domain: Vec<&str> = match spec.kind {
        Kind::Bool => vec!["true", "false"],
        Kind::Enum => spec.values.iter().map(String::as_str).collect(),
        // A numeric map refuses the numbers it lacks; partial_map may say why.
        Kind::Int | Kind::Float | Kind::String => return,
    };
    let mut left_out = false;
    for (map, at) in maps {
        let missing: Vec<&str> = domain
            .iter()
            .copied()
            .filter(|v| !map.contains_key(*v))
            .collect();
        if missing.is_empty() {
            continue;
        }
        left_out = true;
        if partial.is_none() {
            ctx.error(
                at.clone(),
                format!(
                    "the map leaves out {}: map every value, or say in partial_map why this platform cannot take them",
                    missing.join(", ")
                ),
            );
        }
    }
    if let Some(p) = partial {
        if !left_out {
            ctx.error(
                p.span(),
                "partial_map is set, but every map covers every value of the setting",
            );
        }
    }
}

/// Checks a command's `write` template (`template::check`: a value is a whole
/// argument or escaped inside a string literal, never spliced into script
/// text) and its `unescape`, which `{value:gvariant}` needs so that the value
/// read back is the one written. Returns the `unescape` form.
fn check_write_template(
    ctx: &mut Ctx,
    spec: &ValueSpec,
    map: Option<&BTreeMap<String, String>>,
    raw: &RawMapping,
) -> Option<Escape> {
    let unescape = match &raw.unescape {
        None => None,
        Some(u) => match Escape::parse(u.get_ref()) {
            Some(Escape::Gvariant) => Some(Escape::Gvariant),
            _ => {
                ctx.error(
                    u.span(),
                    format!("unknown unescape '{}' (expected gvariant)", u.get_ref()),
                );
                None
            }
        },
    };
    let write = raw.write.as_ref()?;
    let elements = write.get_ref();
    if elements.is_empty() {
        return unescape;
    }
    let texts: Vec<String> = elements.iter().map(|a| a.get_ref().clone()).collect();
    let free_text = spec.kind == Kind::String && map.is_none();
    let negative_scale = raw.scale.as_ref().is_some_and(|s| *s.get_ref() < 0.0);
    let dash = negative_scale || can_start_with_dash(spec, map);
    if let Err(p) = template::check(&texts, free_text, dash) {
        let at = p
            .element
            .and_then(|i| elements.get(i))
            .map_or(write.span(), |a| a.span());
        ctx.error(at, p.message);
    } else if template::first_escape(&texts) == Some(Escape::Gvariant) && unescape.is_none() {
        ctx.error(
            write.span(),
            "'write' uses {value:gvariant}: add unescape = \"gvariant\" so that the value read back is unescaped the same way",
        );
    }
    unescape
}

/// A kconfig table's `write` (Plasma's tool that writes the key and applies
/// it, in place of kwriteconfig) and `default`. `write` is a template like a
/// command's, and needs `default`: without it an unset key could only be put
/// back by deleting it, which the tool cannot do.
fn check_kconfig_write(
    ctx: &mut Ctx,
    spec: &ValueSpec,
    map: Option<&BTreeMap<String, String>>,
    raw: &RawMapping,
    span: &Range<usize>,
) -> (Option<Vec<String>>, Option<String>) {
    let default = raw.default.as_ref().map(|d| d.get_ref().clone());
    let Some(write) = &raw.write else {
        return (None, default);
    };
    let texts: Vec<String> = write
        .get_ref()
        .iter()
        .map(|a| a.get_ref().clone())
        .collect();
    if texts.first().is_none_or(|p| p.is_empty()) {
        ctx.error(write.span(), "'write' must be a non-empty argv");
        return (None, default);
    }
    if default.is_none() {
        ctx.error(
            span.clone(),
            "a kconfig table with 'write' needs 'default' (the value an unset key stands for), so that undo can put it back with the same tool",
        );
    }
    if map.is_some_and(|m| m.values().any(|t| t == super::backend::DELETE)) {
        ctx.error(
            write.span(),
            "a kconfig table with 'write' cannot map a value to <delete>",
        );
    }
    let before = ctx.errors.len();
    check_write_template(ctx, spec, map, raw);
    if ctx.errors.len() > before {
        return (None, default);
    }
    (Some(texts), default)
}

/// Whether a setting's backend text can start with '-': a number whose
/// range allows negatives, or a map text or enum name that does. Strings
/// never do (`ValueSpec::check` refuses them).
fn can_start_with_dash(spec: &ValueSpec, map: Option<&BTreeMap<String, String>>) -> bool {
    if let Some(map) = map {
        return map.values().any(|t| t.starts_with('-'));
    }
    match spec.kind {
        Kind::Int | Kind::Float => spec.min.is_none_or(|m| m < 0.0),
        Kind::Enum => spec.values.iter().any(|v| v.starts_with('-')),
        Kind::Bool | Kind::String => false,
    }
}

/// Parses a preset file. `lookup` finds the setting a value is checked against.
pub fn parse_preset<'c>(
    file: &str,
    text: &str,
    lookup: impl Fn(&str) -> Option<&'c Setting>,
) -> Result<(Preset, Range<usize>), Vec<ProfileError>> {
    let raw: RawPreset = toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    let mut ctx = Ctx {
        file,
        text,
        errors: Vec::new(),
    };
    let name = raw.name.get_ref().clone();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        ctx.error(
            raw.name.span(),
            format!("preset name '{name}' must use only a-z, 0-9, '-' and '_'"),
        );
    }
    if raw.values.get_ref().0.is_empty() {
        ctx.error(
            raw.values.span(),
            "a preset needs at least one value in [values]",
        );
    }
    let mut values = Vec::new();
    // Each checked value's setting and the span of its id (for conflicts).
    let mut checked: Vec<(&Setting, Range<usize>)> = Vec::new();
    for (id, value) in &raw.values.get_ref().0 {
        let Some(setting) = lookup(id.get_ref()) else {
            ctx.error(id.span(), format!("unknown setting '{}'", id.get_ref()));
            continue;
        };
        let Some(v) = Value::from_toml(value.get_ref()) else {
            ctx.error(
                value.span(),
                format!(
                    "'{}': a value must be a boolean, number or string",
                    id.get_ref()
                ),
            );
            continue;
        };
        match setting.value.check(&v) {
            Ok(v) => {
                values.push((id.get_ref().clone(), v));
                checked.push((setting, id.span()));
            }
            Err(e) => ctx.error(value.span(), format!("'{}': {e}", id.get_ref())),
        }
    }
    if ctx.errors.is_empty() {
        let pairs: Vec<(&Setting, &Value)> = checked
            .iter()
            .zip(&values)
            .map(|((setting, _), (_, v))| (*setting, v))
            .collect();
        let ids: Vec<&str> = values.iter().map(|(id, _)| id.as_str()).collect();
        for c in preset_conflicts::conflicts(&pairs) {
            ctx.error(checked[c.later].1.clone(), c.message(&ids));
        }
    }
    if !ctx.errors.is_empty() {
        return Err(ctx.errors);
    }
    let span = raw.name.span();
    Ok((
        Preset {
            name,
            title: raw.title.into_inner(),
            description: raw.description.into_inner(),
            synonyms: raw.synonyms,
            examples: raw.examples,
            values,
            source: file.to_string(),
        },
        span,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 10), (2, 4));
    }

    const KDE_WRITE: &str = r#"
[[setting]]
id = "a.dark"
title = "Dark"
description = "Dark."
[setting.value]
type = "bool"
[setting.kde]
backend = "kconfig"
write = ["plasma-apply-colorscheme", "{value}"]
DEFAULT
file = "kdeglobals"
groups = ["General"]
key = "ColorScheme"
type = "string"
map = { true = "BreezeDark", false = "BreezeLight" }
"#;

    #[test]
    fn kconfig_write_needs_a_default() {
        let with = KDE_WRITE.replace("DEFAULT", "default = \"BreezeLight\"");
        let settings = parse_profile("t.toml", &with).unwrap();
        match &settings[0].0.mappings[&Table::Kde].primary.target {
            Target::Kconfig { write, default, .. } => {
                assert_eq!(
                    write.as_deref(),
                    Some(
                        &[
                            "plasma-apply-colorscheme".to_string(),
                            "{value}".to_string()
                        ][..]
                    )
                );
                assert_eq!(default.as_deref(), Some("BreezeLight"));
            }
            other => panic!("{other:?}"),
        }
        let without = KDE_WRITE.replace("DEFAULT", "");
        let errors = parse_profile("t.toml", &without).unwrap_err();
        assert!(errors[0].message.contains("needs 'default'"), "{errors:?}");
        // The template rules of a command's `write` hold here too.
        let spliced = with.replace(r#""{value}"]"#, r#""x{value}y"]"#);
        assert!(parse_profile("t.toml", &spliced).is_ok());
        let gsettings_only = with.replace(
            "backend = \"kconfig\"",
            "backend = \"defaults\"\ndomain = \"d\"",
        );
        let errors = parse_profile("t.toml", &gsettings_only).unwrap_err();
        assert!(
            errors.iter().any(|e| e
                .message
                .contains("'default' is not a field of a defaults table")),
            "{errors:?}"
        );
    }

    const KDE_ACCENT: &str = r#"
[[setting]]
id = "a.accent"
title = "Accent"
description = "Accent."
[setting.value]
type = "enum"
values = ["blue", "none"]
[setting.kde]
backend = "kconfig"
file = "kdeglobals"
groups = ["General"]
key = "AccentColor"
type = "string"
map = { blue = "53,132,228", none = "<delete>" }
after = [["plasma-apply-colorscheme", "--accent-color", "{color}"]]
"#;

    fn messages(text: &str) -> Vec<String> {
        match parse_profile("t.toml", text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn after_color_needs_a_kconfig_map_of_colours() {
        assert_eq!(messages(KDE_ACCENT), Vec::<String>::new());
        let not_a_colour = KDE_ACCENT.replace("53,132,228", "53;132;228");
        let errs = messages(&not_a_colour);
        assert!(
            errs.iter().any(
                |e| e.contains("blue writes \"53;132;228\", which is no colour")
                    && e.starts_with("t.toml:15:")
            ),
            "{errs:?}"
        );
        let no_map =
            KDE_ACCENT.replace("map = { blue = \"53,132,228\", none = \"<delete>\" }\n", "");
        assert!(
            messages(&no_map)
                .iter()
                .any(|e| e.contains("needs a map of colours")),
            "{:?}",
            messages(&no_map)
        );
        let misspelt = KDE_ACCENT.replace("\"{color}\"", "\"{colour}\"");
        assert!(
            messages(&misspelt)
                .iter()
                .any(|e| e.contains("unknown placeholder '{colour}' in 'after'")),
            "{:?}",
            messages(&misspelt)
        );
        let gsettings = KDE_ACCENT
            .replace(
                "backend = \"kconfig\"\nfile = \"kdeglobals\"\ngroups = [\"General\"]",
                "backend = \"gsettings\"\nschema = \"s\"",
            )
            .replace("type = \"string\"", "type = \"s\"")
            .replace("none = \"<delete>\"", "none = \"''\"");
        assert!(
            messages(&gsettings)
                .iter()
                .any(|e| e.contains("{color} in 'after' needs a kconfig key")),
            "{:?}",
            messages(&gsettings)
        );
    }

    #[test]
    fn after_value_keys_are_values_of_the_setting() {
        let table = |after_value: &str| {
            KDE_ACCENT.replace(
                "after = [[\"plasma-apply-colorscheme\", \"--accent-color\", \"{color}\"]]",
                after_value,
            )
        };
        let good =
            table("after_value = { blue = [[\"tool\", \"on\"]], none = [[\"tool\", \"off\"]] }");
        let settings = parse_profile("t.toml", &good).unwrap();
        let m = &settings[0].0.mappings[&Table::Kde];
        assert_eq!(
            m.after_value["none"],
            vec![vec!["tool".to_string(), "off".to_string()]]
        );
        let unknown = table("after_value = { green = [[\"tool\"]] }");
        assert!(
            messages(&unknown)
                .iter()
                .any(|e| e.contains("'after_value' key 'green' is not a value of this setting")),
            "{:?}",
            messages(&unknown)
        );
        let empty = table("after_value = { blue = [[]] }");
        assert!(
            messages(&empty)
                .iter()
                .any(|e| e.contains("must be a non-empty argv")),
            "{:?}",
            messages(&empty)
        );
    }

    #[test]
    fn detects_presets() {
        assert_eq!(file_kind("name = \"x\"\n[values]\n"), FileKind::Preset);
        assert_eq!(file_kind("[[setting]]\nid = \"a.b\"\n"), FileKind::Profile);
        assert_eq!(file_kind("not toml ["), FileKind::Profile);
    }
}
