//! Output for plans: a compact table with one status letter per row, as
//! chezmoi's `status` prints, and with `--verbose` the exact argv; and the
//! plan's `--json` view. Both are views of `plan::Plan`, which knows neither.
use std::fmt::Write as _;

use serde::Serialize;

use super::apply::Failure;
use super::backend::{Current, DELETE};
use super::catalog::{Backend, TargetJson};
use super::plan::{Action, Plan, Skipped};
use super::platform::Platform;
use super::value::Value;

/// The status letter of an action:
/// `M` modify, `A` add a key that is not set, `D` delete the key,
/// `?` current value unknown, `=` already at the value, `!` cannot be
/// applied on this machine.
pub fn status_letter(action: &Action) -> char {
    let primary = action.primary();
    if !action.missing.is_empty() {
        '!'
    } else if !action.changed() {
        '='
    } else if primary.new == DELETE {
        'D'
    } else {
        match primary.current {
            Current::Unknown(_) => '?',
            Current::Absent => 'A',
            Current::Set(_) => 'M',
        }
    }
}

pub const LEGEND: &str = "M modify  A add  D delete  ? current unknown  = unchanged  ! cannot apply here  - not on this platform";

/// Quotes an argument for display only (knob never runs a shell).
pub fn quote_arg(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        arg.to_string()
    } else if !arg.contains(['"', '$', '`', '\\', '!']) {
        format!("\"{arg}\"")
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

pub fn format_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| quote_arg(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The plan as a table. `verbose` adds each argv and the legend.
pub fn render_plan(plan: &Plan, verbose: bool) -> String {
    let mut out = String::new();
    let rows: Vec<(char, &str, String, String)> = plan
        .actions
        .iter()
        .map(|a| {
            let p = a.primary();
            let change = if a.changed() {
                format!("{} -> {}", p.current.display(), p.new)
            } else {
                p.current.display()
            };
            (
                status_letter(a),
                a.setting.as_str(),
                change,
                format!("{} {}", a.backend.name(), p.key.label()),
            )
        })
        .collect();
    let id_w = rows
        .iter()
        .map(|r| r.1.len())
        .chain(plan.skipped.iter().map(|s| s.setting.len()))
        .max()
        .unwrap_or(0);
    let change_w = rows.iter().map(|r| r.2.chars().count()).max().unwrap_or(0);
    for (action, (letter, id, change, target)) in plan.actions.iter().zip(&rows) {
        let pad = change_w - change.chars().count();
        let _ = writeln!(out, "{letter} {id:id_w$}  {change}{:pad$}  {target}", "");
        for w in &action.writes[1..] {
            let c = if w.changed {
                format!("{} -> {}", w.current.display(), w.new)
            } else {
                w.current.display()
            };
            let _ = writeln!(out, "  {:id_w$}  also {} {c}", "", w.key.label());
        }
        for note in &action.notes {
            let _ = writeln!(out, "  {:id_w$}  note: {note}", "");
        }
        if verbose {
            for w in &action.writes {
                let prefix = if w.changed { "$" } else { "(unchanged) $" };
                let _ = writeln!(out, "  {:id_w$}  {prefix} {}", "", format_argv(&w.argv));
            }
        }
    }
    for s in &plan.skipped {
        let _ = writeln!(out, "- {:id_w$}  {}", s.setting, s.reason);
    }
    let after = plan.after();
    if verbose && !after.is_empty() {
        let _ = writeln!(out, "then:");
        for argv in &after {
            let _ = writeln!(out, "  $ {}", format_argv(argv));
        }
    }
    if verbose && !(plan.actions.is_empty() && plan.skipped.is_empty()) {
        let _ = writeln!(out, "({LEGEND})");
    }
    out
}

impl Plan {
    /// The plan as its `--json` object (filled in further once applied).
    pub fn to_json(&self) -> PlanJson {
        PlanJson {
            platform: Some(self.platform),
            actions: self.actions.iter().map(action_json).collect(),
            skipped: self.skipped.clone(),
            after: self.after(),
            applied: self.applied,
            can_apply: self.refusal().is_none(),
            refusal: self.refusal(),
            journal_id: None,
            failed: None,
            rolled_back: Vec::new(),
            errors: Vec::new(),
        }
    }
}

impl PlanJson {
    /// The plan fields of a response that planned nothing.
    pub fn empty(platform: Option<Platform>) -> PlanJson {
        PlanJson {
            platform,
            actions: Vec::new(),
            skipped: Vec::new(),
            after: Vec::new(),
            applied: false,
            can_apply: false,
            refusal: None,
            journal_id: None,
            failed: None,
            rolled_back: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// The plan JSON (issue 4's schema; extra fields come after the documented ones).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PlanJson {
    /// Null in a response that planned nothing and never chose a platform.
    pub platform: Option<Platform>,
    pub actions: Vec<ActionJson>,
    pub skipped: Vec<Skipped>,
    pub after: Vec<Vec<String>>,
    pub applied: bool,
    pub can_apply: bool,
    pub refusal: Option<String>,
    /// Set once applied: the journal entry `knob undo --id` takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_id: Option<u64>,
    /// The change that failed, when applying was rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Failure>,
    /// Settings restored by the rollback.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<String>,
    /// Restores or `after` commands that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Failure>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ActionJson {
    pub setting: String,
    pub value: Value,
    pub backend: Backend,
    pub target: TargetJson,
    pub current: Option<String>,
    pub new: String,
    pub changed: bool,
    pub argv: Vec<String>,
    pub notes: Vec<String>,
    /// `set`, `absent` or `unknown`.
    pub current_state: &'static str,
    pub current_value: Option<Value>,
    pub also: Vec<WriteJson>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WriteJson {
    pub target: TargetJson,
    pub current: Option<String>,
    pub current_state: &'static str,
    pub new: String,
    pub changed: bool,
    pub argv: Vec<String>,
}

fn action_json(a: &Action) -> ActionJson {
    let p = a.primary();
    ActionJson {
        setting: a.setting.clone(),
        value: a.value.clone(),
        backend: a.backend,
        target: p.key.target_json(),
        current: p.current.text().map(str::to_string),
        new: p.new.clone(),
        changed: a.changed(),
        argv: p.argv.clone(),
        notes: a.notes.clone(),
        current_state: p.current.state(),
        current_value: a.current_value.clone(),
        also: a.writes[1..]
            .iter()
            .map(|w| WriteJson {
                target: w.key.target_json(),
                current: w.current.text().map(str::to_string),
                current_state: w.current.state(),
                new: w.new.clone(),
                changed: w.changed,
                argv: w.argv.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_display() {
        assert_eq!(
            quote_arg("org.gnome.desktop.interface"),
            "org.gnome.desktop.interface"
        );
        assert_eq!(quote_arg("'prefer-dark'"), "\"'prefer-dark'\"");
        assert_eq!(quote_arg("a b"), "\"a b\"");
        assert_eq!(quote_arg(r"HKCU\X"), r"'HKCU\X'");
        assert_eq!(quote_arg("it's $x"), r"'it'\''s $x'");
        assert_eq!(quote_arg(""), "\"\"");
    }
}
