//! Turning the model's actions into the settings engine's changes: absolute
//! values as they are, relative ones ("inc", "toggle") as relative changes,
//! presets expanded. Nothing is read here: the plan reads each key once and
//! computes a relative value from that reading (`settings::plan_changes`).
use super::grammar::{Action, ActionValue, Program};
use crate::settings::{Catalog, Change, Relative, Value};

/// The changes for a plan, and what could not be turned into one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub changes: Vec<(String, Change)>,
    /// Settings whose current value was asked for.
    pub gets: Vec<String>,
    pub notes: Vec<String>,
}

pub fn resolve(program: &Program, catalog: &Catalog) -> Resolved {
    let mut out = Resolved::default();
    let Program::Actions(actions) = program else {
        return out;
    };
    for action in actions {
        let (id, change) = match action {
            Action::Set { setting, value } => (setting, Change::To(to_value(value))),
            Action::Inc { setting, amount } => (setting, Change::By(Relative::Increase(*amount))),
            Action::Dec { setting, amount } => (setting, Change::By(Relative::Decrease(*amount))),
            Action::Toggle { setting } => (setting, Change::By(Relative::Toggle)),
            Action::Get { setting } => {
                out.gets.push(setting.clone());
                continue;
            }
            Action::Preset { name } => {
                match catalog.preset(name) {
                    Some(p) => out.changes.extend(
                        p.values
                            .iter()
                            .map(|(id, v)| (id.clone(), Change::To(v.clone()))),
                    ),
                    None => out.notes.push(format!("unknown preset '{name}'")),
                }
                continue;
            }
        };
        out.changes.push((id.clone(), change));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::grammar::grammar_catalog;
    use crate::agent::grammar::parse;
    use crate::settings::load_catalog;

    #[test]
    fn actions_become_changes_and_presets_expand_in_order_without_reading() {
        let catalog = load_catalog().expect("the shipped catalog loads");
        let g = grammar_catalog(&catalog);
        let program = parse(
            "set appearance.dark_mode true ; inc a11y.cursor_size 8 ; toggle network.wifi ; preset night",
            &g,
        )
        .expect("parses");
        let r = resolve(&program, &catalog);
        let night = catalog.preset("night").expect("the night preset ships");
        let mut want = vec![
            (
                "appearance.dark_mode".to_string(),
                Change::To(Value::Bool(true)),
            ),
            (
                "a11y.cursor_size".to_string(),
                Change::By(Relative::Increase(Some(8.0))),
            ),
            ("network.wifi".to_string(), Change::By(Relative::Toggle)),
        ];
        want.extend(
            night
                .values
                .iter()
                .map(|(id, v)| (id.clone(), Change::To(v.clone()))),
        );
        assert_eq!(r.changes, want);
        assert!(r.notes.is_empty());
    }
}
