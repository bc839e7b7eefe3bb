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

fn relative(
    out: &mut Resolved,
    catalog: &Catalog,
    platform: Platform,
    sys: &dyn System,
    id: &str,
    change: Relative,
) {
    let Some(setting) = catalog.setting(id) else {
        out.notes.push(format!("unknown setting '{id}'"));
        return;
    };
    let what = match change {
        Relative::Toggle => "toggle",
        Relative::Increase(_) => "increase",
        Relative::Decrease(_) => "decrease",
    };
    let reading = match read_current(catalog, id, platform, sys) {
        Ok(Some(r)) => r,
        Ok(None) => {
            out.notes
                .push(format!("{id} cannot be changed on {platform}"));
            return;
        }
        Err(e) => {
            out.notes.push(format!("{id}: {e}"));
            return;
        }
    };
    let Some(current) = reading.value else {
        out.notes.push(format!(
            "cannot {what} {id} on {platform}: its current value is unknown ({}); say the value you want instead",
            reading.current.display()
        ));
        return;
    };
    match setting.value.relative(&current, change) {
        Ok(v) => out.requests.push((id.to_string(), v)),
        Err(e) => out.notes.push(format!("cannot {what} {id}: {e}")),
    }
}
