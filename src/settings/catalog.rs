//! The catalog's resolved types: settings, their per-platform mappings and
//! presets. `profile.rs` builds them from TOML (docs/catalog-format.md).
use std::collections::{BTreeMap, HashMap};

use regex::Regex;

use super::platform::Platform;
use super::template::Escape;
use super::value::{Value, ValueSpec};

/// One setting of the catalog.
#[derive(Debug, Clone)]
pub struct Setting {
    /// `area.name`, lowercase.
    pub id: String,
    pub title: String,
    /// One sentence.
    pub description: String,
    /// Words people use for it.
    pub synonyms: Vec<String>,
    /// Whole requests, including problem statements.
    pub examples: Vec<String>,
    pub value: ValueSpec,
    /// Per-platform tables, keyed by the table name.
    pub mappings: BTreeMap<Table, Mapping>,
    /// Why a platform has no mapping (the profile's `[setting.unavailable]`).
    pub unavailable: BTreeMap<Table, String>,
    /// The file the setting came from (for messages).
    pub source: String,
}

impl Setting {
    /// The mapping that serves `platform`: its own table, or `[setting.linux]`
    /// for GNOME and KDE when they have none.
    pub fn mapping(&self, platform: Platform) -> Option<&Mapping> {
        self.mappings.get(&Table::of(platform)).or_else(|| {
            if platform.is_linux() {
                self.mappings.get(&Table::Linux)
            } else {
                None
            }
        })
    }

    /// Why `platform` cannot change this setting, in the user's terms:
    /// "not available on kde: " and the catalog's reason, or that the
    /// catalog has no mapping there. `None` when it has one.
    pub fn unavailable_reason(&self, platform: Platform) -> Option<String> {
        if self.mapping(platform).is_some() {
            return None;
        }
        let why = self
            .unavailable
            .get(&Table::of(platform))
            .or_else(|| {
                platform
                    .is_linux()
                    .then(|| self.unavailable.get(&Table::Linux))
                    .flatten()
            })
            .cloned()
            .unwrap_or_else(|| format!("knob's catalog has no {platform} mapping for it"));
        Some(format!("not available on {platform}: {why}"))
    }

    /// The platforms this setting can be changed on.
    pub fn platforms(&self) -> Vec<Platform> {
        Platform::ALL
            .into_iter()
            .filter(|p| self.mapping(*p).is_some())
            .collect()
    }
}

/// The name of a platform table in a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Gnome,
    Kde,
    Macos,
    Windows,
    Linux,
}

impl Table {
    /// The platform's own table.
    pub fn of(platform: Platform) -> Table {
        match platform {
            Platform::Gnome => Table::Gnome,
            Platform::Kde => Table::Kde,
            Platform::Macos => Table::Macos,
            Platform::Windows => Table::Windows,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Gnome => "gnome",
            Table::Kde => "kde",
            Table::Macos => "macos",
            Table::Windows => "windows",
            Table::Linux => "linux",
        }
    }
}

/// How one platform changes a setting.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The key written with the setting's value.
    pub primary: Key,
    /// Further keys written with the same value (gsettings `also`).
    pub also: Vec<Key>,
    /// Shown in the plan.
    pub notes: Vec<String>,
    /// Needs administrator rights.
    pub admin: bool,
    /// Argv run once after the plan's writes (deduplicated).
    pub after: Vec<Vec<String>>,
    /// Argv run after the writes when the setting takes the value named by
    /// the key (a `map` key: `true`, an enum name); undo runs the entry of
    /// the value it restores.
    pub after_value: BTreeMap<String, Vec<Vec<String>>>,
    /// Why this platform's map leaves out values of the setting (the
    /// profile's `partial_map`): shown by `knob settings show`.
    pub partial_map: Option<String>,
}

/// One backend key and the rules that turn a catalog value into its text.
#[derive(Debug, Clone)]
pub struct Key {
    pub target: Target,
    /// The backend's type name: a GVariant type, `bool|int|double|string`
    /// for kconfig, `bool|int|float|string` for defaults, `REG_*`; empty
    /// where the backend has none.
    pub vtype: String,
    /// Catalog value (map key) to backend text.
    pub map: Option<BTreeMap<String, String>>,
    /// Backend number = catalog number * scale.
    pub scale: f64,
}

/// Where a value lives, per backend.
#[derive(Debug, Clone)]
pub enum Target {
    Gsettings {
        schema: String,
        key: String,
    },
    Kconfig {
        file: String,
        groups: Vec<String>,
        key: String,
        /// Plasma's own tool that writes the key and applies it (an argv
        /// template, `template.rs`), used instead of kwriteconfig where
        /// writing the file alone changes nothing on screen
        /// (`plasma-apply-colorscheme {value}`).
        write: Option<Vec<String>>,
        /// The text an unset key stands for (`kreadconfig --default`), so
        /// that it can be put back with `write`.
        default: Option<String>,
    },
    Defaults {
        domain: String,
        key: String,
    },
    Registry {
        path: String,
        name: String,
    },
    Command {
        name: String,
        read: Vec<String>,
        parse: Regex,
        /// An argv template (`template.rs`): `{value}` and its escaped forms.
        write: Vec<String>,
        /// How the text `parse` captures is unescaped (`unescape = "gvariant"`
        /// for `gsettings get` output); `None`: used as it is.
        unescape: Option<Escape>,
    },
}

/// A target in plan JSON: `{schema, key}`, `{file, groups, key}`,
/// `{domain, key, type}`, `{path, name, type}` or `{name}`, in that order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum TargetJson {
    Gsettings {
        schema: String,
        key: String,
    },
    Kconfig {
        file: String,
        groups: Vec<String>,
        key: String,
    },
    Defaults {
        domain: String,
        key: String,
        #[serde(rename = "type")]
        vtype: String,
    },
    Registry {
        path: String,
        name: String,
        #[serde(rename = "type")]
        vtype: String,
    },
    Command {
        name: String,
    },
}

/// The backend a target belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Gsettings,
    Kconfig,
    Defaults,
    Registry,
    Command,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Gsettings => "gsettings",
            Backend::Kconfig => "kconfig",
            Backend::Defaults => "defaults",
            Backend::Registry => "registry",
            Backend::Command => "command",
        }
    }
}

impl Target {
    pub fn backend(&self) -> Backend {
        match self {
            Target::Gsettings { .. } => Backend::Gsettings,
            Target::Kconfig { .. } => Backend::Kconfig,
            Target::Defaults { .. } => Backend::Defaults,
            Target::Registry { .. } => Backend::Registry,
            Target::Command { .. } => Backend::Command,
        }
    }
}

impl Key {
    /// The target as the plan JSON shows it.
    pub fn target_json(&self) -> TargetJson {
        let t = |x: &String| x.clone();
        match &self.target {
            Target::Gsettings { schema, key } => TargetJson::Gsettings {
                schema: t(schema),
                key: t(key),
            },
            Target::Kconfig {
                file, groups, key, ..
            } => TargetJson::Kconfig {
                file: t(file),
                groups: groups.clone(),
                key: t(key),
            },
            Target::Defaults { domain, key } => TargetJson::Defaults {
                domain: t(domain),
                key: t(key),
                vtype: t(&self.vtype),
            },
            Target::Registry { path, name } => TargetJson::Registry {
                path: t(path),
                name: t(name),
                vtype: t(&self.vtype),
            },
            Target::Command { name, .. } => TargetJson::Command { name: t(name) },
        }
    }

    /// A short human label: `org.gnome.desktop.interface color-scheme`.
    pub fn label(&self) -> String {
        match &self.target {
            Target::Gsettings { schema, key } => format!("{schema} {key}"),
            Target::Kconfig {
                file, groups, key, ..
            } => {
                format!("{file} [{}] {key}", groups.join("]["))
            }
            Target::Defaults { domain, key } => format!("{domain} {key}"),
            Target::Registry { path, name } => format!("{path} {name}"),
            Target::Command { name, .. } => name.clone(),
        }
    }
}

/// A named bundle of desired values.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: String,
    pub title: String,
    pub description: String,
    pub synonyms: Vec<String>,
    pub examples: Vec<String>,
    /// (setting id, checked value), in file order.
    pub values: Vec<(String, Value)>,
    pub source: String,
}

/// The loaded catalog: shipped settings overridden and extended by the user's.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    settings: Vec<Setting>,
    index: HashMap<String, usize>,
    presets: Vec<Preset>,
}

impl Catalog {
    pub(crate) fn new(mut settings: Vec<Setting>, mut presets: Vec<Preset>) -> Catalog {
        settings.sort_by(|a, b| a.id.cmp(&b.id));
        presets.sort_by(|a, b| a.name.cmp(&b.name));
        let index = settings
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        Catalog {
            settings,
            index,
            presets,
        }
    }

    /// All settings, sorted by id.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// All presets, sorted by name.
    pub fn presets(&self) -> &[Preset] {
        &self.presets
    }

    pub fn setting(&self, id: &str) -> Option<&Setting> {
        self.index.get(id).map(|&i| &self.settings[i])
    }

    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.name == name)
    }

    /// Up to three ids close to `id` (a typo away, or the same name in
    /// another area), for "did you mean".
    pub fn similar_ids(&self, id: &str) -> Vec<&str> {
        let name = id.rsplit('.').next().unwrap_or(id);
        let mut scored: Vec<(usize, &str)> = self
            .settings
            .iter()
            .filter_map(|s| {
                let d = edit_distance(id, &s.id);
                let same_name = s.id.rsplit('.').next() == Some(name);
                (d <= (id.len() / 4).max(2) || same_name).then_some((d, s.id.as_str()))
            })
            .collect();
        scored.sort();
        scored.into_iter().take(3).map(|(_, s)| s).collect()
    }
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
