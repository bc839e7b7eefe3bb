//! The action grammar (docs/action-grammar.md): the typed program the settings
//! model writes, in two halves that share these types:
//!
//! - [`parser`]: text to a [`Program`], every name and value checked against
//!   the catalog;
//! - [`automaton`]: the prefix automaton that constrained decoding uses to
//!   reject any token that could not lead to a valid program.
use std::collections::BTreeMap;
use std::fmt;

use crate::settings::value::{Kind, ValueSpec};
use crate::settings::Catalog;

mod automaton;
mod parser;

pub use automaton::{PrefixAutomaton, PrefixState};
pub use parser::{parse, parse_label};

/// What values a setting takes, as far as the grammar is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    Bool,
    Int { min: i64, max: i64 },
    Float { min: f64, max: f64 },
    Enum(Vec<String>),
    String,
}

impl ValueKind {
    /// The grammar's view of a setting's declared value type.
    pub fn from_spec(spec: &ValueSpec) -> ValueKind {
        match spec.kind {
            Kind::Bool => ValueKind::Bool,
            Kind::Int => ValueKind::Int {
                min: spec.min.map_or(i64::MIN, |m| m.ceil() as i64),
                max: spec.max.map_or(i64::MAX, |m| m.floor() as i64),
            },
            Kind::Float => ValueKind::Float {
                min: spec.min.unwrap_or(f64::NEG_INFINITY),
                max: spec.max.unwrap_or(f64::INFINITY),
            },
            Kind::Enum => ValueKind::Enum(spec.values.clone()),
            Kind::String => ValueKind::String,
        }
    }
}

/// The settings and presets the grammar may name.
#[derive(Debug, Clone, Default)]
pub struct GrammarCatalog {
    pub settings: BTreeMap<String, ValueKind>,
    pub presets: Vec<String>,
    /// Whether decoding may write `get <id>` and `chat` (a model trained on
    /// them). The parser always accepts them: labels and checks use them.
    pub questions: bool,
}

/// The grammar's view of the catalog.
pub fn grammar_catalog(catalog: &Catalog) -> GrammarCatalog {
    let settings = catalog
        .settings()
        .iter()
        .map(|s| (s.id.clone(), ValueKind::from_spec(&s.value)))
        .collect();
    let presets = catalog.presets().iter().map(|p| p.name.clone()).collect();
    GrammarCatalog {
        settings,
        presets,
        questions: false,
    }
}

/// A typed value in a `set` action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Enum(String),
    Str(String),
}

/// One action of a program.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Set {
        setting: String,
        value: ActionValue,
    },
    Inc {
        setting: String,
        amount: Option<f64>,
    },
    Dec {
        setting: String,
        amount: Option<f64>,
    },
    Toggle {
        setting: String,
    },
    Preset {
        name: String,
    },
    /// A question about the current value: read it, change nothing.
    Get {
        setting: String,
    },
}

/// What the model said: nothing to do, or a list of actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// Neither a setting nor a request for the chat model.
    None,
    /// A request for the chat model ("write a haiku").
    Chat,
    Actions(Vec<Action>),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GrammarError {
    #[error("empty action")]
    Empty,
    #[error("unknown verb '{0}' (expected set, inc, dec, toggle, preset, get, chat or none)")]
    UnknownVerb(String),
    #[error("unknown setting '{0}'")]
    UnknownSetting(String),
    #[error("unknown preset '{0}'")]
    UnknownPreset(String),
    #[error("'{verb}' needs {what}")]
    Missing {
        verb: &'static str,
        what: &'static str,
    },
    #[error("'{value}' is not a valid value for {setting}: {why}")]
    BadValue {
        setting: String,
        value: String,
        why: String,
    },
    #[error("'{0}' cannot be used with {1}")]
    WrongVerb(&'static str, String),
    #[error("unexpected text after the action: '{0}'")]
    Trailing(String),
    #[error("'{0}' is changed twice: a program changes each setting and applies each preset at most once")]
    Repeated(String),
}

/// The separator between actions of one program.
pub const SEPARATOR: &str = " ; ";

impl fmt::Display for ActionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionValue::Bool(b) => write!(f, "{b}"),
            ActionValue::Int(i) => write!(f, "{i}"),
            ActionValue::Float(x) => write!(f, "{}", format_number(*x)),
            ActionValue::Enum(e) => f.write_str(e),
            ActionValue::Str(s) => write!(f, "\"{s}\""),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Set { setting, value } => write!(f, "set {setting} {value}"),
            Action::Inc {
                setting,
                amount: None,
            } => write!(f, "inc {setting}"),
            Action::Inc {
                setting,
                amount: Some(a),
            } => {
                write!(f, "inc {setting} {}", format_number(*a))
            }
            Action::Dec {
                setting,
                amount: None,
            } => write!(f, "dec {setting}"),
            Action::Dec {
                setting,
                amount: Some(a),
            } => {
                write!(f, "dec {setting} {}", format_number(*a))
            }
            Action::Toggle { setting } => write!(f, "toggle {setting}"),
            Action::Preset { name } => write!(f, "preset {name}"),
            Action::Get { setting } => write!(f, "get {setting}"),
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Program::None => f.write_str("none"),
            Program::Chat => f.write_str("chat"),
            Program::Actions(actions) => {
                for (i, action) in actions.iter().enumerate() {
                    if i > 0 {
                        f.write_str(SEPARATOR)?;
                    }
                    write!(f, "{action}")?;
                }
                Ok(())
            }
        }
    }
}

/// Integers print without a fractional part, others in their shortest form.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Action {
    /// The setting this action touches, if any.
    pub fn setting(&self) -> Option<&str> {
        match self {
            Action::Set { setting, .. }
            | Action::Inc { setting, .. }
            | Action::Dec { setting, .. }
            | Action::Toggle { setting }
            | Action::Get { setting } => Some(setting),
            Action::Preset { .. } => None,
        }
    }

    /// What the action changes: the setting id, or `preset:NAME` (the id
    /// search results use for presets).
    pub fn target(&self) -> String {
        match self {
            Action::Preset { name } => format!("preset:{name}"),
            other => other.setting().unwrap_or_default().to_string(),
        }
    }
}

/// A small catalog with one setting of every kind, for the tests of both halves.
#[cfg(test)]
fn sample_catalog() -> GrammarCatalog {
    let mut settings = BTreeMap::new();
    settings.insert("appearance.dark_mode".to_string(), ValueKind::Bool);
    settings.insert(
        "sound.volume".to_string(),
        ValueKind::Int { min: 0, max: 100 },
    );
    settings.insert(
        "display.scale".to_string(),
        ValueKind::Float { min: 0.5, max: 3.0 },
    );
    settings.insert(
        "time.offset".to_string(),
        ValueKind::Int { min: -12, max: 14 },
    );
    settings.insert(
        "dock.position".to_string(),
        ValueKind::Enum(vec!["left".into(), "bottom".into(), "right".into()]),
    );
    settings.insert("time.timezone".to_string(), ValueKind::String);
    GrammarCatalog {
        settings,
        presets: vec!["night".into(), "focus".into()],
        questions: true,
    }
}
