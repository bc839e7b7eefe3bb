//! `knob settings check-program`: checks action programs (docs/action-grammar.md)
//! with the engine's own parser, so that scripts and the training pipeline
//! need no grammar of their own. A program is valid when it parses against
//! the catalog, changes each setting and preset at most once, and every `set`
//! value passes the setting's value rules (a string's pattern included).
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::settings_ui::{catalog, plural};
use crate::agent::grammar::grammar_catalog;
use crate::agent::grammar::{self, ActionValue, GrammarCatalog, GrammarError, Program, ValueKind};
use crate::cli::CheckProgramArgs;
use crate::exit::{Exit, UsageError};
use crate::settings::value::{Kind, Value, ValueSpec};

/// The catalog programs are checked against: the grammar's view, and each
/// setting's full value type for the checks beyond the grammar.
struct Checker {
    grammar: GrammarCatalog,
    specs: BTreeMap<String, ValueSpec>,
}

/// One program's verdict; `--json` prints one per line, in input order.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    pub program: String,
    pub valid: bool,
    /// Why it is not valid (null when it is).
    pub error: Option<String>,
    /// The actions in canonical form (empty for `none` and invalid programs).
    pub actions: Vec<String>,
    /// What each action changes: a setting id or `preset:NAME`.
    pub targets: Vec<String>,
}

pub fn run(args: CheckProgramArgs) -> anyhow::Result<Exit> {
    let checker = match &args.catalog {
        Some(path) => Checker::from_export_file(path)?,
        None => Checker::from_catalog(&catalog()?),
    };
    let programs = if args.programs.is_empty() {
        read_stdin_lines()?
    } else {
        args.programs
    };
    let verdicts: Vec<Verdict> = programs.into_iter().map(|p| checker.check(p)).collect();
    let invalid = verdicts.iter().filter(|v| !v.valid).count();
    if args.json {
        for v in &verdicts {
            outln!("{}", serde_json::to_string(v)?);
        }
    } else {
        for (n, v) in verdicts.iter().enumerate() {
            if let Some(e) = &v.error {
                errln!("{}: {}: {e}", n + 1, v.program);
            }
        }
        if invalid == 0 {
            outln!("ok: {} program{}", verdicts.len(), plural(verdicts.len()));
        } else {
            errln!(
                "knob: {invalid} of {} program{} invalid",
                verdicts.len(),
                plural(verdicts.len())
            );
        }
    }
    Ok(if invalid == 0 { Exit::Ok } else { Exit::Error })
}

/// Every line is one program, blank lines included, so that verdicts line
/// up with the input.
fn read_stdin_lines() -> anyhow::Result<Vec<String>> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("reading programs from standard input")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| UsageError("standard input is not UTF-8".to_string()))?;
    Ok(text.lines().map(str::to_string).collect())
}

impl Checker {
    fn from_catalog(cat: &crate::settings::Catalog) -> Checker {
        Checker {
            grammar: grammar_catalog(cat),
            specs: cat
                .settings()
                .iter()
                .map(|s| (s.id.clone(), s.value.clone()))
                .collect(),
        }
    }

    fn from_export_file(path: &Path) -> anyhow::Result<Checker> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the catalog {}", path.display()))?;
        let export: ExportCatalog = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a catalog export", path.display()))?;
        Checker::from_export(export).with_context(|| format!("in the catalog {}", path.display()))
    }

    fn from_export(export: ExportCatalog) -> anyhow::Result<Checker> {
        let mut specs = BTreeMap::new();
        for s in export.settings {
            let v = s.value;
            let kind = Kind::parse(&v.kind)
                .with_context(|| format!("{}: unknown value type '{}'", s.id, v.kind))?;
            let pattern = v
                .pattern
                .map(|p| regex::Regex::new(&p))
                .transpose()
                .with_context(|| format!("{}: invalid pattern", s.id))?;
            let spec = ValueSpec {
                kind,
                min: v.min,
                max: v.max,
                step: None,
                unit: None,
                values: v.values,
                pattern,
            };
            specs.insert(s.id, spec);
        }
        let grammar = GrammarCatalog {
            settings: specs
                .iter()
                .map(|(id, spec)| (id.clone(), ValueKind::from_spec(spec)))
                .collect(),
            presets: export.presets.into_iter().map(|p| p.name).collect(),
            questions: true,
        };
        Ok(Checker { grammar, specs })
    }

    fn check(&self, program: String) -> Verdict {
        match self.parse(&program) {
            Ok(Program::None | Program::Chat) => Verdict {
                program,
                valid: true,
                error: None,
                actions: Vec::new(),
                targets: Vec::new(),
            },
            Ok(Program::Actions(actions)) => Verdict {
                program,
                valid: true,
                error: None,
                actions: actions.iter().map(ToString::to_string).collect(),
                targets: actions.iter().map(grammar::Action::target).collect(),
            },
            Err(e) => Verdict {
                program,
                valid: false,
                error: Some(e.to_string()),
                actions: Vec::new(),
                targets: Vec::new(),
            },
        }
    }

    /// The grammar's parse, then each `set` value through the setting's own
    /// value rules: what the plan would check, found before any plan is made.
    fn parse(&self, text: &str) -> Result<Program, GrammarError> {
        let program = grammar::parse_label(text, &self.grammar)?;
        if let Program::Actions(actions) = &program {
            for action in actions {
                let grammar::Action::Set { setting, value } = action else {
                    continue;
                };
                let Some(spec) = self.specs.get(setting) else {
                    continue;
                };
                let typed = match value {
                    ActionValue::Bool(b) => Value::Bool(*b),
                    ActionValue::Int(i) => Value::Int(*i),
                    ActionValue::Float(f) => Value::Float(*f),
                    ActionValue::Enum(s) | ActionValue::Str(s) => Value::Text(s.clone()),
                };
                if let Err(why) = spec.check(&typed) {
                    return Err(GrammarError::BadValue {
                        setting: setting.clone(),
                        value: value.to_string(),
                        why: why.to_string(),
                    });
                }
            }
        }
        Ok(program)
    }
}

/// The parts of `knob settings export --json` a check needs; other fields
/// are ignored, so an older or trimmed export still reads.
#[derive(Deserialize)]
struct ExportCatalog {
    settings: Vec<ExportSetting>,
    #[serde(default)]
    presets: Vec<ExportPreset>,
}

#[derive(Deserialize)]
struct ExportSetting {
    id: String,
    value: ExportValue,
}

#[derive(Deserialize)]
struct ExportValue {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    pattern: Option<String>,
}

#[derive(Deserialize)]
struct ExportPreset {
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> Checker {
        let export: ExportCatalog = serde_json::from_value(serde_json::json!({
            "settings": [
                {"id": "sound.volume", "value": {"type": "int", "min": 0, "max": 100}, "extra": 1},
                {"id": "time.timezone", "value": {"type": "string", "pattern": "^[A-Za-z_]+/[A-Za-z_]+$"}},
                {"id": "dock.position", "value": {"type": "enum", "values": ["left", "bottom"]}}
            ],
            "presets": [{"name": "night"}]
        }))
        .unwrap();
        Checker::from_export(export).unwrap()
    }

    #[test]
    fn an_export_catalog_checks_names_ranges_patterns_and_repeats() {
        let c = checker();
        let ok = c.check("set time.timezone \"Europe/Paris\" ; inc sound.volume 5".into());
        assert!(ok.valid, "{ok:?}");
        assert_eq!(ok.targets, ["time.timezone", "sound.volume"]);
        for (text, want) in [
            ("set sound.volume 101", "out of range 0..=100"),
            ("set time.timezone \"Paris\"", "does not match the pattern"),
            ("set time.timezone \"-x/y\"", "starts with '-'"),
            (
                "preset night ; preset night",
                "'preset:night' is changed twice",
            ),
            ("", "empty action"),
        ] {
            let v = c.check(text.into());
            assert!(!v.valid, "{text}");
            let err = v.error.unwrap();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn an_unknown_value_type_in_the_export_is_an_error() {
        let export: ExportCatalog = serde_json::from_value(serde_json::json!({
            "settings": [{"id": "a.b", "value": {"type": "colour"}}]
        }))
        .unwrap();
        let err = format!("{:#}", Checker::from_export(export).err().unwrap());
        assert!(err.contains("a.b: unknown value type 'colour'"), "{err}");
    }
}
