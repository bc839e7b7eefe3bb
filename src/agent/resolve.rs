//! Turning the model's actions into the settings engine's requests: absolute
//! values as they are, relative ones ("inc", "toggle") from the current value,
//! presets expanded. A relative change whose current value cannot be read
//! (another platform's setting, a missing tool) is dropped with a note rather
//! than guessed.
use super::grammar::{Action, ActionValue, Program};
use crate::settings::{read_current, Catalog, Platform, Relative, System, Value};

/// The requests for a plan, and what could not be turned into one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub requests: Vec<(String, Value)>,
    pub notes: Vec<String>,
}

pub fn resolve(
    program: &Program,
    catalog: &Catalog,
    platform: Platform,
    sys: &dyn System,
) -> Resolved {
    let mut out = Resolved::default();
    let Program::Actions(actions) = program else {
        return out;
    };
    for action in actions {
        match action {
            Action::Set { setting, value } => out.requests.push((setting.clone(), to_value(value))),
            Action::Preset { name } => match catalog.preset(name) {
                Some(p) => out.requests.extend(p.values.iter().cloned()),
                None => out.notes.push(format!("unknown preset '{name}'")),
            },
            Action::Inc { setting, amount } => relative(
                &mut out,
                catalog,
                platform,
                sys,
                setting,
                Relative::Increase(*amount),
            ),
            Action::Dec { setting, amount } => relative(
                &mut out,
                catalog,
                platform,
                sys,
                setting,
                Relative::Decrease(*amount),
            ),
            Action::Toggle { setting } => {
                relative(&mut out, catalog, platform, sys, setting, Relative::Toggle)
            }
        }
    }
    out
}

fn to_value(v: &ActionValue) -> Value {
    match v {
        ActionValue::Bool(b) => Value::Bool(*b),
        ActionValue::Int(i) => Value::Int(*i),
        ActionValue::Float(f) => Value::Float(*f),
        ActionValue::Enum(s) | ActionValue::Str(s) => Value::Text(s.clone()),
    }
}

/// Why a relative change could not be turned into a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RelativeError {
    #[error("unknown setting '{0}'")]
    UnknownSetting(String),
    #[error("{id} cannot be changed on {platform}")]
    NotOnPlatform { id: String, platform: Platform },
    #[error("{id}: {message}")]
    Read { id: String, message: String },
    #[error("cannot {what} {id} on {platform}: its current value is unknown ({current}); say the value you want instead")]
    UnknownCurrent {
        what: &'static str,
        id: String,
        platform: Platform,
        current: String,
    },
    #[error("cannot {what} {id}: {message}")]
    Invalid {
        what: &'static str,
        id: String,
        message: String,
    },
}

/// The value `change` makes of setting `id`'s current value on `platform`.
/// The one place a relative value (`knob set X up`, the model's `inc`,
/// `dec` and `toggle`) is resolved.
pub fn relative_value(
    catalog: &Catalog,
    id: &str,
    change: Relative,
    platform: Platform,
    sys: &dyn System,
) -> Result<Value, RelativeError> {
    let Some(setting) = catalog.setting(id) else {
        return Err(RelativeError::UnknownSetting(id.to_string()));
    };
    let what = match change {
        Relative::Toggle => "toggle",
        Relative::Increase(_) => "increase",
        Relative::Decrease(_) => "decrease",
    };
    let reading = match read_current(catalog, id, platform, sys) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(RelativeError::NotOnPlatform {
                id: id.to_string(),
                platform,
            })
        }
        Err(e) => {
            return Err(RelativeError::Read {
                id: id.to_string(),
                message: e.to_string(),
            })
        }
    };
    let Some(current) = reading.value else {
        return Err(RelativeError::UnknownCurrent {
            what,
            id: id.to_string(),
            platform,
            current: reading.current.display(),
        });
    };
    setting
        .value
        .relative(&current, change)
        .map_err(|e| RelativeError::Invalid {
            what,
            id: id.to_string(),
            message: e.to_string(),
        })
}

fn relative(
    out: &mut Resolved,
    catalog: &Catalog,
    platform: Platform,
    sys: &dyn System,
    id: &str,
    change: Relative,
) {
    match relative_value(catalog, id, change, platform, sys) {
        Ok(v) => out.requests.push((id.to_string(), v)),
        Err(e) => out.notes.push(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::grammar::{parse, GrammarCatalog};
    use crate::agent::pipeline::grammar_catalog;
    use crate::settings::{load_catalog, FakeSystem};

    fn setup() -> (Catalog, GrammarCatalog) {
        let catalog = load_catalog().expect("the shipped catalog loads");
        let g = grammar_catalog(&catalog);
        (catalog, g)
    }

    fn run(text: &str, platform: Platform, sys: &FakeSystem) -> Resolved {
        let (catalog, g) = setup();
        let program = parse(text, &g).unwrap_or_else(|e| panic!("{text}: {e}"));
        resolve(&program, &catalog, platform, sys)
    }

    fn gnome(values: &[(&str, &str)]) -> FakeSystem {
        let sys = FakeSystem::with_programs(&["gsettings"]);
        for (k, v) in values {
            sys.set(k, v);
        }
        sys
    }

    const CURSOR: &str = "gsettings org.gnome.desktop.interface cursor-size";
    const TEXT: &str = "gsettings org.gnome.desktop.interface text-scaling-factor";

    #[test]
    fn increases_use_the_step_or_the_amount_and_stop_at_the_range_edges() {
        let sys = gnome(&[(CURSOR, "48")]);
        assert_eq!(
            run("inc a11y.cursor_size", Platform::Gnome, &sys).requests,
            vec![("a11y.cursor_size".into(), Value::Int(56))]
        );
        assert_eq!(
            run("dec a11y.cursor_size 16", Platform::Gnome, &sys).requests,
            vec![("a11y.cursor_size".into(), Value::Int(32))]
        );
        // Past the top of the range: clamped to 96, not refused.
        let sys = gnome(&[(CURSOR, "90")]);
        assert_eq!(
            run("inc a11y.cursor_size 50", Platform::Gnome, &sys).requests,
            vec![("a11y.cursor_size".into(), Value::Int(96))]
        );
        let sys = gnome(&[(CURSOR, "24")]);
        assert_eq!(
            run("dec a11y.cursor_size", Platform::Gnome, &sys).requests,
            vec![("a11y.cursor_size".into(), Value::Int(24))]
        );
        // Floats keep their fraction.
        let sys = gnome(&[(TEXT, "1.25")]);
        let r = run("inc text.size", Platform::Gnome, &sys).requests;
        assert_eq!(r.len(), 1);
        let Value::Float(v) = r[0].1 else {
            panic!("{r:?}")
        };
        assert!((v - 1.35).abs() < 1e-9, "{v}");
    }

    #[test]
    fn toggle_flips_the_current_value() {
        let key = "gsettings org.gnome.desktop.interface color-scheme";
        let sys = gnome(&[(key, "'prefer-dark'")]);
        assert_eq!(
            run("toggle appearance.dark_mode", Platform::Gnome, &sys).requests,
            vec![("appearance.dark_mode".into(), Value::Bool(false))]
        );
        let sys = gnome(&[(key, "'default'")]);
        assert_eq!(
            run("toggle appearance.dark_mode", Platform::Gnome, &sys).requests,
            vec![("appearance.dark_mode".into(), Value::Bool(true))]
        );
    }

    #[test]
    fn several_actions_and_presets_expand_in_order() {
        let sys = gnome(&[(CURSOR, "24")]);
        let r = run(
            "set appearance.dark_mode true ; inc a11y.cursor_size",
            Platform::Gnome,
            &sys,
        );
        assert_eq!(
            r.requests,
            vec![
                ("appearance.dark_mode".into(), Value::Bool(true)),
                ("a11y.cursor_size".into(), Value::Int(32))
            ]
        );
        assert!(r.notes.is_empty());
        let (catalog, _) = setup();
        let night = catalog.preset("night").expect("the night preset ships");
        let r = run("preset night", Platform::Gnome, &sys);
        assert_eq!(r.requests, night.values);
        assert!(!r.requests.is_empty());
    }

    #[test]
    fn a_relative_change_without_a_readable_value_is_a_note_not_a_guess() {
        // Planning for Windows on Linux: reg is not here, so nothing can be read.
        let sys = FakeSystem::with_programs(&[]);
        let r = run(
            "inc a11y.cursor_size ; set appearance.dark_mode true",
            Platform::Windows,
            &sys,
        );
        assert_eq!(
            r.requests,
            vec![("appearance.dark_mode".into(), Value::Bool(true))]
        );
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert!(
            r.notes[0].contains("cannot increase a11y.cursor_size on windows"),
            "{}",
            r.notes[0]
        );
        assert!(
            r.notes[0].contains("say the value you want"),
            "{}",
            r.notes[0]
        );
    }
}
