//! Human output for plans: a compact table with one status letter per row,
//! as chezmoi's `status` prints, and with `--verbose` the exact argv.
use std::fmt::Write as _;

use super::backend::{Current, DELETE};
use super::plan::{Action, Plan};

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
