//! Planning: for a list of (setting, value) pairs, read each current value
//! through the platform's backend and build the exact actions that would run.
use serde::Serialize;

use super::backend::{self, Current, Tools};
use super::catalog::{Backend, Catalog, Key, Mapping, Setting, Target};
use super::followup;
use super::platform::Platform;
use super::system::System;
use super::value::{Kind, Relative, Value};

/// What a request does to a setting: a value, or a change relative to the
/// current one (`knob set X up`, the model's `inc`, `dec` and `toggle`).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    To(Value),
    By(Relative),
}

/// One backend key an action writes.
#[derive(Debug, Clone)]
pub struct Write {
    pub key: Key,
    pub current: Current,
    /// Backend text of the new value (`<delete>` removes the key).
    pub new: String,
    pub changed: bool,
    /// The argv that writes `new`.
    pub argv: Vec<String>,
    /// The argv that puts `current` back; `None` when it cannot be.
    pub restore: Option<Vec<String>>,
}

/// One setting's change on one platform.
#[derive(Debug, Clone)]
pub struct Action {
    pub setting: String,
    pub title: String,
    /// The checked new value.
    pub value: Value,
    /// The current value as a catalog value, when it can be told.
    pub current_value: Option<Value>,
    pub backend: Backend,
    /// The primary key first, then `also` keys.
    pub writes: Vec<Write>,
    pub notes: Vec<String>,
    pub admin: bool,
    /// Programs this action needs that are not on this machine.
    pub missing: Vec<String>,
    /// Argv to run after the plan's writes when this action changes something.
    pub after: Vec<Vec<String>>,
    /// `after` argv that name the key's value ([`followup::COLOR`]), given
    /// the new value: they belong to this action's change, run after the
    /// plan's writes, and are not run again by undo.
    pub value_after: Vec<Vec<String>>,
    /// The same argv given the value before, for undo to run once it has
    /// restored this action's key (none where that value is no colour or
    /// cannot be read).
    pub undo_value_after: Vec<Vec<String>>,
}

impl Action {
    pub fn changed(&self) -> bool {
        self.writes.iter().any(|w| w.changed)
    }
    pub fn primary(&self) -> &Write {
        &self.writes[0]
    }
}

/// A requested setting the platform cannot change.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    pub setting: String,
    pub reason: String,
}

/// A plan of actions for one platform.
#[derive(Debug, Clone)]
pub struct Plan {
    pub platform: Platform,
    pub actions: Vec<Action>,
    pub skipped: Vec<Skipped>,
    /// Relative changes that could not be made (the current value could not
    /// be read): said to the user, never guessed.
    pub unresolved: Vec<RelativeError>,
    pub applied: bool,
}

/// Why a relative change could not be turned into a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RelativeError {
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

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("unknown setting '{id}'{}", did_you_mean(.similar))]
    UnknownSetting { id: String, similar: Vec<String> },
    #[error("{id}: {message}")]
    InvalidValue { id: String, message: String },
    #[error("{first} and {second} both write {key}, with different values ({first_text} and {second_text}); ask for one of them")]
    Conflict {
        key: String,
        first: String,
        first_text: String,
        second: String,
        second_text: String,
    },
}

fn did_you_mean(similar: &[String]) -> String {
    if similar.is_empty() {
        " (see `knob settings list`)".to_string()
    } else {
        format!(" (did you mean {}?)", similar.join(", "))
    }
}

impl Plan {
    /// Actions that change something.
    pub fn changes(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| a.changed())
    }

    /// Every argv apply runs after the writes, deduplicated, in the order
    /// it runs them: the shared `after` commands, then those given a value.
    pub fn after(&self) -> Vec<Vec<String>> {
        let mut out = self.shared_after();
        push_new(&mut out, self.changes().flat_map(|a| &a.value_after));
        out
    }

    /// The `after` argv of changed actions that do not depend on a value,
    /// deduplicated, in order: run after apply and again after undo.
    pub fn shared_after(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        push_new(&mut out, self.changes().flat_map(|a| &a.after));
        out
    }

    /// Moves actions whose programs are missing here (a preset's
    /// `brightnessctl` on a desktop without it) to `skipped`, so the rest can
    /// be applied. Does nothing when no changing action could run, so a plan
    /// for another platform's tools (windows on Linux) keeps its refusal.
    /// Returns how many actions were set aside.
    pub fn set_aside_unavailable(&mut self) -> usize {
        let runnable = self.changes().any(|a| a.missing.is_empty());
        if !runnable {
            return 0;
        }
        let (unavailable, keep): (Vec<Action>, Vec<Action>) = std::mem::take(&mut self.actions)
            .into_iter()
            .partition(|a| !a.missing.is_empty());
        self.actions = keep;
        for a in &unavailable {
            self.skipped.push(Skipped {
                setting: a.setting.clone(),
                reason: format!("{} not found on this machine", a.missing.join(", ")),
            });
        }
        unavailable.len()
    }

    /// Why this plan cannot be applied on this machine, if it cannot.
    pub fn refusal(&self) -> Option<String> {
        let mut missing: Vec<&str> = Vec::new();
        for a in self.changes() {
            for m in &a.missing {
                if !missing.contains(&m.as_str()) {
                    missing.push(m);
                }
            }
        }
        if missing.is_empty() {
            return None;
        }
        Some(format!(
            "cannot apply this {} plan here: {} not found on this machine, so the current values are unknown",
            self.platform,
            missing.join(", ")
        ))
    }
}

/// Appends the argv of `more` that `out` does not hold yet, in order: a
/// follow-up runs once however many actions ask for it.
pub(crate) fn push_new<'a>(
    out: &mut Vec<Vec<String>>,
    more: impl IntoIterator<Item = &'a Vec<String>>,
) {
    for argv in more {
        if !out.contains(argv) {
            out.push(argv.clone());
        }
    }
}

/// A mapping's `after`, split for one action.
struct FollowUps {
    shared: Vec<Vec<String>>,
    /// Those that name the key's value, given the new value.
    value_after: Vec<Vec<String>>,
    /// The same, given the value before.
    undo_value_after: Vec<Vec<String>>,
}

/// Splits a mapping's `after` into the shared argv and those that depend on
/// the value (`{color}`, `after_value`), given the new value and the value
/// before (`current`, as read).
fn follow_ups(
    mapping: &Mapping,
    primary: &Write,
    value: &Value,
    current: Option<&Value>,
    sys: &dyn System,
) -> FollowUps {
    let (named, shared): (Vec<_>, Vec<_>) = mapping
        .after
        .iter()
        .cloned()
        .partition(|argv| followup::names_value(argv));
    if named.is_empty() && mapping.after_value.is_empty() {
        // Nearly every mapping: nothing to read the values for.
        return FollowUps {
            shared,
            value_after: Vec::new(),
            undo_value_after: Vec::new(),
        };
    }
    let color = |text: Option<&str>| followup::qt_color(text.filter(|t| *t != backend::DELETE));
    let new = color(Some(&primary.new));
    let before = match &primary.current {
        Current::Set(t) => color(Some(t)),
        Current::Absent => color(None),
        Current::Unknown(_) => None,
    };
    let given = |c: &Option<String>, v: Option<&Value>| -> Vec<Vec<String>> {
        let colored = c
            .iter()
            .flat_map(|c| named.iter().map(|argv| followup::render(argv, c)));
        let by_value = v
            .and_then(|v| mapping.after_value.get(&v.map_key()))
            .into_iter()
            .flatten()
            .map(|argv| followup::installed_name(argv, sys));
        colored.chain(by_value).collect()
    };
    FollowUps {
        shared,
        value_after: given(&new, Some(value)),
        undo_value_after: given(&before, current),
    }
}

/// A current value read through the backend.
#[derive(Debug, Clone)]
pub struct Reading {
    pub setting: String,
    pub platform: Platform,
    pub backend: Backend,
    pub key: Key,
    pub current: Current,
    pub value: Option<Value>,
}

fn missing_programs(key: &Key, tools: &Tools, sys: &dyn System) -> Vec<String> {
    tools
        .programs(key)
        .into_iter()
        .filter(|p| !sys.has_program(p))
        .collect()
}

/// One key's value now, as the plan reads it (undo reads keys back the
/// same way).
pub(crate) fn read_key(key: &Key, tools: &Tools, sys: &dyn System) -> Current {
    let missing = missing_programs(key, tools, sys);
    if !missing.is_empty() {
        return Current::Unknown(format!("{} not found on this machine", missing.join(", ")));
    }
    match sys.read(&backend::read_argv(key, tools)) {
        Ok(out) => backend::parse_read(key, &out),
        Err(e) => Current::Unknown(e.to_string()),
    }
}

fn lookup<'c>(catalog: &'c Catalog, id: &str) -> Result<&'c Setting, PlanError> {
    catalog
        .setting(id)
        .ok_or_else(|| PlanError::UnknownSetting {
            id: id.to_string(),
            similar: catalog
                .similar_ids(id)
                .into_iter()
                .map(str::to_string)
                .collect(),
        })
}

/// Reads a setting's current value (for `knob get` and relative changes).
/// `Ok(None)` when the platform has no mapping for the setting.
pub fn read_current(
    catalog: &Catalog,
    id: &str,
    platform: Platform,
    sys: &dyn System,
) -> Result<Option<Reading>, PlanError> {
    let setting = lookup(catalog, id)?;
    let Some(mapping) = setting.mapping(platform) else {
        return Ok(None);
    };
    let tools = Tools::detect(sys);
    let key = &mapping.primary;
    let current = read_key(key, &tools, sys);
    let value = backend::decode(key, &setting.value, &current);
    Ok(Some(Reading {
        setting: setting.id.clone(),
        platform,
        backend: key.target.backend(),
        key: key.clone(),
        current,
        value,
    }))
}

/// Builds the plan for absolute values. See [`plan_changes`].
pub fn plan(
    catalog: &Catalog,
    requests: &[(String, Value)],
    platform: Platform,
    sys: &dyn System,
) -> Result<Plan, PlanError> {
    let changes: Vec<(String, Change)> = requests
        .iter()
        .map(|(id, v)| (id.clone(), Change::To(v.clone())))
        .collect();
    plan_changes(catalog, &changes, platform, sys)
}

/// Builds the plan. Absolute values are checked against their settings
/// before anything is read; then each key is read once, and a relative
/// change is computed from that same reading (so the value shown as
/// "current" is the one the new value was computed from). A setting the
/// platform cannot change is listed as skipped; a relative change whose
/// current value is unknown is listed as unresolved. A setting requested
/// twice keeps its last change.
pub fn plan_changes(
    catalog: &Catalog,
    requests: &[(String, Change)],
    platform: Platform,
    sys: &dyn System,
) -> Result<Plan, PlanError> {
    let tools = Tools::detect(sys);
    let mut wanted: Vec<(&Setting, Change)> = Vec::new();
    for (id, change) in requests {
        let setting = lookup(catalog, id)?;
        let checked = match change {
            Change::To(value) => {
                Change::To(
                    setting
                        .value
                        .check(value)
                        .map_err(|e| PlanError::InvalidValue {
                            id: id.clone(),
                            message: e.0,
                        })?,
                )
            }
            Change::By(relative) => Change::By(*relative),
        };
        wanted.retain(|(s, _)| s.id != setting.id);
        wanted.push((setting, checked));
    }
    let mut actions = Vec::new();
    let mut skipped = Vec::new();
    let mut unresolved = Vec::new();
    for (setting, change) in wanted {
        let Some(mapping) = setting.mapping(platform) else {
            skipped.push(Skipped {
                setting: setting.id.clone(),
                reason: setting
                    .unavailable_reason(platform)
                    .unwrap_or_else(|| format!("not available on {platform}")),
            });
            continue;
        };
        let keys: Vec<&Key> = std::iter::once(&mapping.primary)
            .chain(&mapping.also)
            .collect();
        // The one read of each key.
        let currents: Vec<Current> = keys.iter().map(|k| read_key(k, &tools, sys)).collect();
        let current_value = backend::decode(&mapping.primary, &setting.value, &currents[0]);
        let value = match change {
            Change::To(value) => value,
            Change::By(relative) => {
                match relative_to(
                    setting,
                    &mapping.primary,
                    platform,
                    &currents[0],
                    current_value.as_ref(),
                    relative,
                ) {
                    Ok(v) => v,
                    Err(e) => {
                        unresolved.push(e);
                        continue;
                    }
                }
            }
        };
        let mut notes = mapping.notes.clone();
        if mapping.admin {
            notes.push("needs administrator rights".to_string());
        }
        notes.extend(super::permissions::notes(mapping));
        let mut missing = Vec::new();
        let mut writes = Vec::new();
        for (key, read) in keys.into_iter().zip(currents) {
            let new = backend::encode(key, &setting.value, &value).map_err(|m| {
                PlanError::InvalidValue {
                    id: setting.id.clone(),
                    message: m,
                }
            })?;
            for m in missing_programs(key, &tools, sys) {
                if !missing.contains(&m) {
                    missing.push(m);
                }
            }
            let (current, restore) = checked_restore(key, setting, &tools, read);
            if let Current::Unknown(reason) = &current {
                let note = format!("current value unknown: {reason}");
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            let changed = !backend::unchanged(key, &setting.value, &current, &value, &new);
            let argv =
                backend::write_argv(key, &tools, &new).map_err(|e| PlanError::InvalidValue {
                    id: setting.id.clone(),
                    message: e.to_string(),
                })?;
            writes.push(Write {
                argv,
                restore,
                key: key.clone(),
                current,
                new,
                changed,
            });
        }
        let current_value = backend::decode(&mapping.primary, &setting.value, &writes[0].current);
        let FollowUps {
            shared,
            value_after,
            undo_value_after,
        } = follow_ups(mapping, &writes[0], &value, current_value.as_ref(), sys);
        actions.push(Action {
            setting: setting.id.clone(),
            title: setting.title.clone(),
            value,
            current_value,
            backend: mapping.primary.target.backend(),
            writes,
            notes,
            admin: mapping.admin,
            missing,
            after: shared,
            value_after,
            undo_value_after,
        });
    }
    check_conflicts(&actions)?;
    Ok(Plan {
        platform,
        actions,
        skipped,
        unresolved,
        applied: false,
    })
}

/// The value `change` makes of a setting's current value, as read. On a
/// key that stores only some values (a `map` of numbers), a step goes to
/// the next value the key has in that direction, as far as the amount asks.
fn relative_to(
    setting: &Setting,
    key: &Key,
    platform: Platform,
    current: &Current,
    decoded: Option<&Value>,
    change: Relative,
) -> Result<Value, RelativeError> {
    let what = match change {
        Relative::Toggle => "toggle",
        Relative::Increase(_) => "increase",
        Relative::Decrease(_) => "decrease",
    };
    let Some(decoded) = decoded else {
        return Err(RelativeError::UnknownCurrent {
            what,
            id: setting.id.clone(),
            platform,
            // The reason itself, not "(unknown)" inside the parentheses.
            current: match current {
                Current::Unknown(reason) => reason.clone(),
                Current::Absent => {
                    "the key is not set here, so the desktop's own default applies".to_string()
                }
                other => other.display(),
            },
        });
    };
    let invalid = |message: String| RelativeError::Invalid {
        what,
        id: setting.id.clone(),
        message,
    };
    let next = setting
        .value
        .relative(decoded, change)
        .map_err(|e| invalid(e.to_string()))?;
    let Some(available) = mapped_numbers(key, &setting.value) else {
        return Ok(next);
    };
    let (Some(now), Some(wanted)) = (decoded.as_f64(), next.as_f64()) else {
        return Ok(next);
    };
    if available.contains(&wanted) {
        return Ok(next);
    }
    let up = matches!(change, Relative::Increase(_));
    // The value there nearest to the one asked for, at least one step
    // away; at an edge, the current value.
    let snapped = available
        .into_iter()
        .filter(|v| if up { *v > now } else { *v < now })
        .reduce(|a, b| {
            if (a - wanted).abs() <= (b - wanted).abs() {
                a
            } else {
                b
            }
        })
        .unwrap_or(now);
    setting
        .value
        .check(&Value::Float(snapped))
        .map_err(|e| invalid(e.to_string()))
}

/// The numbers a key with a map can store, in order; `None` when the key
/// stores any value of the setting (no map, or not a number setting).
fn mapped_numbers(key: &Key, spec: &super::value::ValueSpec) -> Option<Vec<f64>> {
    if !matches!(spec.kind, Kind::Int | Kind::Float) {
        return None;
    }
    let map = key.map.as_ref()?;
    let mut numbers: Vec<f64> = map
        .keys()
        .filter_map(|k| k.parse::<f64>().ok())
        .filter(|v| spec.check(&Value::Float(*v)).is_ok())
        .collect();
    numbers.sort_by(f64::total_cmp);
    Some(numbers)
}

/// The current value and the argv that puts it back. A command template
/// takes a value read back from the system only when it is a value of the
/// setting (type, name, pattern; a number must be plain decimal text, a
/// mapped key one of its map texts): anything else reads as unknown, with
/// the reason, and has no restore argv. Key/value backends put the exact
/// text back as one argument (see `backend::write_argv`).
fn checked_restore(
    key: &Key,
    setting: &Setting,
    tools: &Tools,
    current: Current,
) -> (Current, Option<Vec<String>>) {
    if let (Target::Command { .. }, Current::Set(text)) = (&key.target, &current) {
        if let Err(why) = read_back_is_a_value(key, setting, text) {
            let reason = format!(
                "read {text:?}, which is not a value of {}: {why}",
                setting.id
            );
            return (Current::Unknown(reason), None);
        }
    }
    match backend::restore_argv(key, tools, &current) {
        Ok(restore) => (current, restore),
        Err(e) => (
            Current::Unknown(format!("the value read cannot be put back: {e}")),
            None,
        ),
    }
}

fn read_back_is_a_value(key: &Key, setting: &Setting, text: &str) -> Result<(), String> {
    let spec = &setting.value;
    let current = Current::Set(text.to_string());
    let Some(value) = backend::decode(key, spec, &current) else {
        return Err(match &key.map {
            Some(_) => "not one of the mapped values".to_string(),
            None => format!("not a valid {} value", spec.kind.name()),
        });
    };
    if key.map.is_none() && matches!(spec.kind, Kind::Int | Kind::Float) && !plain_number(text) {
        return Err("not a plain decimal number".to_string());
    }
    spec.check_form(&value).map(|_| ()).map_err(|e| e.0)
}

/// `12`, `-3`, `0.40`: digits with an optional sign and fraction.
fn plain_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.chars().all(|c| c.is_ascii_digit())
}

/// Two actions may write the same key only with the same text; otherwise
/// the result would depend on their order, and undo could not tell them apart.
fn check_conflicts(actions: &[Action]) -> Result<(), PlanError> {
    let mut seen: Vec<(String, &str, &str)> = Vec::new();
    for a in actions {
        for w in &a.writes {
            let key = format!("{} {}", a.backend.name(), w.key.label());
            match seen.iter().find(|(k, _, _)| *k == key) {
                Some((_, first, text)) if *first != a.setting && *text != w.new => {
                    return Err(PlanError::Conflict {
                        key: w.key.label(),
                        first: first.to_string(),
                        first_text: text.to_string(),
                        second: a.setting.clone(),
                        second_text: w.new.clone(),
                    });
                }
                Some(_) => {}
                None => seen.push((key, &a.setting, &w.new)),
            }
        }
    }
    Ok(())
}
