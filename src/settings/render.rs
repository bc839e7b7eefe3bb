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

/// A value as the plan table shows it: the catalog value (what `knob set`
/// takes) when the key's text decodes to one, else the key's state.
fn shown_current(action: &Action) -> String {
    action
        .current_value
        .as_ref()
        .map_or_else(|| action.primary().current.display(), Value::to_string)
}

/// The primary key's change in the user's terms: catalog values, so an
/// inverted key (GNOME's show-banners for Do Not Disturb) or a GUID reads
/// as the setting, not as the key.
fn change_text(action: &Action) -> String {
    if action.changed() {
        format!("{} -> {}", shown_current(action), action.value)
    } else {
        shown_current(action)
    }
}

/// The key's own texts, which `-v` shows when they differ from the catalog
/// values; `None` when they are the same.
fn raw_change_text(action: &Action) -> Option<String> {
    let p = action.primary();
    let raw = if action.changed() {
        format!("{} -> {}", p.current.display(), p.new)
    } else {
        p.current.display()
    };
    (raw != change_text(action)).then_some(raw)
}

/// What `-v` adds under an action (and `v` on the chat interface's plan
/// card): the key's own values where they differ from the catalog's, and
/// the exact argv of each write.
pub fn action_details(action: &Action) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(raw) = raw_change_text(action) {
        out.push(format!("key value: {raw}"));
    }
    for w in &action.writes {
        let prefix = if w.changed { "$" } else { "(unchanged) $" };
        out.push(format!("{prefix} {}", format_argv(&w.argv)));
    }
    out
}

/// The plan as a table. `verbose` adds the keys' own values where they
/// differ from the catalog's, each argv and the legend.
pub fn render_plan(plan: &Plan, verbose: bool) -> String {
    let mut out = String::new();
    let rows: Vec<(char, &str, String, String)> = plan
        .actions
        .iter()
        .map(|a| {
            (
                status_letter(a),
                a.setting.as_str(),
                change_text(a),
                format!("{} {}", a.backend.name(), a.primary().key.label()),
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
            // The same catalog value goes to every key; only -v shows the
            // keys' own texts.
            let c = match (verbose, w.changed) {
                (true, true) => format!(": {} -> {}", w.current.display(), w.new),
                (true, false) => format!(": {} (unchanged)", w.current.display()),
                (false, true) => String::new(),
                (false, false) => " (unchanged)".to_string(),
            };
            let _ = writeln!(out, "  {:id_w$}  also {}{c}", "", w.key.label());
        }
        for note in &action.notes {
            let _ = writeln!(out, "  {:id_w$}  note: {note}", "");
        }
        if verbose {
            for line in action_details(action) {
                let _ = writeln!(out, "  {:id_w$}  {line}", "");
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
    } else if !after.is_empty() {
        // The follow-ups run too (KWin reconfigure, killall Dock): say so
        // before anything runs, by program; -v shows the argv.
        let mut programs: Vec<&str> = Vec::new();
        for argv in &after {
            if !programs.contains(&argv[0].as_str()) {
                programs.push(&argv[0]);
            }
        }
        let (n, them) = match after.len() {
            1 => ("1 command".to_string(), "it"),
            n => (format!("{n} commands"), "them"),
        };
        let _ = writeln!(
            out,
            "then: {} ({n} after the changes, so they take effect now; -v shows {them})",
            programs.join(", ")
        );
    }
    if verbose && !(plan.actions.is_empty() && plan.skipped.is_empty()) {
        let _ = writeln!(out, "({LEGEND})");
    }
    out
}

/// The line after a plan that changes nothing: when no requested setting
/// exists on the platform, that, rather than a bare "nothing to change".
pub fn nothing_to_change(plan: &Plan) -> String {
    if !plan.actions.is_empty() || plan.skipped.is_empty() {
        return "nothing to change.".to_string();
    }
    let ids: Vec<&str> = plan.skipped.iter().map(|s| s.setting.as_str()).collect();
    format!(
        "nothing to change: {} {} not available on {}.",
        ids.join(", "),
        if ids.len() == 1 { "is" } else { "are" },
        plan.platform
    )
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
    use crate::settings::system::Output;
    use crate::settings::{load_catalog, plan, FakeSystem};

    fn planned(id: &str, value: Value, platform: Platform, sys: &FakeSystem) -> Plan {
        let catalog = load_catalog().expect("the shipped catalog loads");
        plan(&catalog, &[(id.to_string(), value)], platform, sys).expect("plans")
    }

    #[test]
    fn an_inverted_key_reads_as_the_setting_and_shows_the_key_only_with_verbose() {
        // GNOME's Do Not Disturb is show-banners, inverted: DND off is `true`.
        let sys = FakeSystem::with_programs(&["gsettings"]);
        sys.set(
            "gsettings org.gnome.desktop.notifications show-banners",
            "true",
        );
        let p = planned(
            "notifications.do_not_disturb",
            Value::Bool(true),
            Platform::Gnome,
            &sys,
        );
        let text = render_plan(&p, false);
        assert!(
            text.starts_with("M notifications.do_not_disturb  false -> true  gsettings org.gnome.desktop.notifications show-banners\n"),
            "{text}"
        );
        assert!(!text.contains("true -> false"), "{text}");
        let verbose = render_plan(&p, true);
        assert!(
            verbose.contains("  key value: true -> false\n"),
            "{verbose}"
        );
        assert!(
            verbose.contains("$ gsettings set org.gnome.desktop.notifications show-banners false"),
            "{verbose}"
        );
    }

    #[test]
    fn a_guid_reads_as_the_name_of_its_value() {
        let balanced = "381b4222-f694-41f0-9685-ff5bb260df2e";
        let saver = "a1841308-3541-4fab-bc81-f71556f20b4a";
        let sys = FakeSystem::with_programs(&["powercfg"]).script(
            &["powercfg", "/getactivescheme"],
            Output::ok(format!("Power Scheme GUID: {balanced}  (Balanced)\n")),
        );
        let p = planned(
            "power.power_mode",
            Value::Text("power_saver".into()),
            Platform::Windows,
            &sys,
        );
        let text = render_plan(&p, false);
        assert!(
            text.starts_with(
                "M power.power_mode  balanced -> power_saver  command powercfg power plan\n"
            ),
            "{text}"
        );
        assert!(!text.contains(saver), "{text}");
        let verbose = render_plan(&p, true);
        assert!(
            verbose.contains(&format!("key value: {balanced} -> {saver}")),
            "{verbose}"
        );
        assert!(
            verbose.contains(&format!("$ powercfg /setactive {saver}")),
            "{verbose}"
        );
    }

    #[test]
    fn an_unknown_current_value_is_said_once() {
        // Planning for Windows on Linux: reg cannot be run, nothing is read.
        let sys = FakeSystem::with_programs(&[]);
        let p = planned("a11y.cursor_size", Value::Int(48), Platform::Windows, &sys);
        let text = render_plan(&p, true);
        assert!(text.contains("(unknown) -> 48"), "{text}");
        assert!(!text.contains("(("), "{text}");
    }

    #[test]
    fn a_setting_the_platform_lacks_says_not_available_and_why() {
        let sys = FakeSystem::with_programs(&["kreadconfig6", "kwriteconfig6"]);
        // The catalog gives the reason for KDE.
        let p = planned(
            "notifications.do_not_disturb",
            Value::Bool(true),
            Platform::Kde,
            &sys,
        );
        let text = render_plan(&p, false);
        assert!(
            text.starts_with(
                "- notifications.do_not_disturb  not available on kde: Plasma keeps Do Not Disturb"
            ),
            "{text}"
        );
        assert_eq!(
            nothing_to_change(&p),
            "nothing to change: notifications.do_not_disturb is not available on kde."
        );
        // Without a reason in the catalog: that it has no mapping there.
        let catalog = load_catalog().expect("the shipped catalog loads");
        let unmapped = catalog
            .settings()
            .iter()
            .find(|s| {
                s.value.kind == crate::settings::value::Kind::Bool
                    && s.mapping(Platform::Windows).is_none()
                    && s.unavailable_reason(Platform::Windows)
                        .is_some_and(|r| r.contains("no windows mapping"))
            })
            .expect("a bool setting with no windows mapping and no reason");
        let p = plan(
            &catalog,
            &[(unmapped.id.clone(), Value::Bool(true))],
            Platform::Windows,
            &FakeSystem::with_programs(&[]),
        )
        .expect("plans");
        assert_eq!(
            p.skipped[0].reason,
            "not available on windows: knob's catalog has no windows mapping for it"
        );
        assert!(nothing_to_change(&p).ends_with("is not available on windows."));
        // With something to change, the line stays as it was.
        let sys = FakeSystem::with_programs(&["gsettings"]);
        sys.set(
            "gsettings org.gnome.desktop.notifications show-banners",
            "false",
        );
        let p = planned(
            "notifications.do_not_disturb",
            Value::Bool(true),
            Platform::Gnome,
            &sys,
        );
        assert_eq!(nothing_to_change(&p), "nothing to change.");
    }

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
