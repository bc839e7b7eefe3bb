//! The catalog as JSON (`knob settings export --json`), read by the training
//! pipeline. Every key is always present (null or empty when unused), and
//! settings and presets are sorted, so the output is stable.
use std::collections::BTreeMap;

use serde::Serialize;

use super::catalog::{Catalog, Key, Mapping, Preset, Setting, Target, TargetJson};
use super::value::{Value, ValueSpec};

/// Bumped when a field changes meaning or goes away.
pub const EXPORT_FORMAT: u32 = 1;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ExportJson {
    pub format: u32,
    pub settings: Vec<SettingJson>,
    pub presets: Vec<PresetJson>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SettingJson {
    pub id: String,
    pub title: String,
    pub description: String,
    pub synonyms: Vec<String>,
    pub examples: Vec<String>,
    pub value: ValueJson,
    /// Platforms that can change it: gnome, kde, macos, windows.
    pub platforms: Vec<String>,
    /// Per catalog table (gnome, kde, macos, windows, linux).
    pub mappings: BTreeMap<String, MappingJson>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ValueJson {
    #[serde(rename = "type")]
    pub kind: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub step: Option<f64>,
    pub unit: Option<String>,
    pub values: Vec<String>,
    pub pattern: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MappingJson {
    pub backend: String,
    pub target: TargetJson,
    #[serde(rename = "type")]
    pub vtype: String,
    pub map: Option<BTreeMap<String, String>>,
    pub scale: f64,
    pub also: Vec<KeyJson>,
    /// For the command backend: the read and write argv templates and parser.
    pub read: Option<Vec<String>>,
    pub parse: Option<String>,
    pub write: Option<Vec<String>>,
    /// For the command backend: how the parsed text is unescaped (`gvariant`).
    pub unescape: Option<String>,
    pub notes: Vec<String>,
    pub admin: bool,
    pub after: Vec<Vec<String>>,
    /// Argv run after the writes when the setting takes the named value.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub after_value: std::collections::BTreeMap<String, Vec<Vec<String>>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct KeyJson {
    pub target: TargetJson,
    #[serde(rename = "type")]
    pub vtype: String,
    pub map: Option<BTreeMap<String, String>>,
    pub scale: f64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PresetJson {
    pub name: String,
    pub title: String,
    pub description: String,
    pub synonyms: Vec<String>,
    pub examples: Vec<String>,
    pub values: BTreeMap<String, Value>,
}

pub fn value_json(v: &ValueSpec) -> ValueJson {
    ValueJson {
        kind: v.kind.name().to_string(),
        min: v.min,
        max: v.max,
        step: v.step,
        unit: v.unit.clone(),
        values: v.values.clone(),
        pattern: v.pattern.as_ref().map(|p| p.as_str().to_string()),
    }
}

fn mapping_json(m: &Mapping) -> MappingJson {
    let k = &m.primary;
    let (read, parse, write, unescape) = match &k.target {
        Target::Command {
            read,
            parse,
            write,
            unescape,
            ..
        } => (
            Some(read.clone()),
            Some(parse.as_str().to_string()),
            Some(write.clone()),
            unescape.map(|e| e.name().to_string()),
        ),
        _ => (None, None, None, None),
    };
    MappingJson {
        backend: k.target.backend().name().to_string(),
        target: k.target_json(),
        vtype: k.vtype.clone(),
        map: k.map.clone(),
        scale: k.scale,
        also: m.also.iter().map(key_json).collect(),
        read,
        parse,
        write,
        unescape,
        notes: m.notes.clone(),
        admin: m.admin,
        after: m.after.clone(),
        after_value: m.after_value.clone(),
    }
}

fn key_json(k: &Key) -> KeyJson {
    KeyJson {
        target: k.target_json(),
        vtype: k.vtype.clone(),
        map: k.map.clone(),
        scale: k.scale,
    }
}

pub fn setting_json(s: &Setting) -> SettingJson {
    SettingJson {
        id: s.id.clone(),
        title: s.title.clone(),
        description: s.description.clone(),
        synonyms: s.synonyms.clone(),
        examples: s.examples.clone(),
        value: value_json(&s.value),
        platforms: s.platforms().iter().map(|p| p.name().to_string()).collect(),
        mappings: s
            .mappings
            .iter()
            .map(|(t, m)| (t.name().to_string(), mapping_json(m)))
            .collect(),
    }
}

pub fn preset_json(p: &Preset) -> PresetJson {
    PresetJson {
        name: p.name.clone(),
        title: p.title.clone(),
        description: p.description.clone(),
        synonyms: p.synonyms.clone(),
        examples: p.examples.clone(),
        values: p.values.iter().cloned().collect(),
    }
}

pub fn export(catalog: &Catalog) -> ExportJson {
    ExportJson {
        format: EXPORT_FORMAT,
        settings: catalog.settings().iter().map(setting_json).collect(),
        presets: catalog.presets().iter().map(preset_json).collect(),
    }
}
