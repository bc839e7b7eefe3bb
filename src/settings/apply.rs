//! Applying a plan and undoing it. Applying writes the journal first, then
//! runs each change in order; when one fails, the changes already made are
//! restored in reverse order and both facts are reported. The same code
//! runs against the real, dry-run and fake systems.
use super::backend::{self, Current, Tools, DELETE};
use super::catalog::{Catalog, Key, Target};
use super::journal::{self, Change, ChangeStatus, Entry, Journal, JournalError, State};
use super::plan::{self, Plan};
use super::platform::Platform;
use super::system::{DryRunSystem, System};
use super::value::ValueSpec;

/// A command that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Failure {
    pub setting: String,
    pub argv: Vec<String>,
    pub reason: String,
}

#[derive(Debug)]
pub enum Outcome {
    /// Every action was already at its new value.
    NothingToDo,
    Applied {
        journal_id: Option<u64>,
        /// `after` commands that failed (the changes themselves stand).
        after_failures: Vec<Failure>,
    },
    RolledBack {
        journal_id: Option<u64>,
        /// The change that failed.
        failed: Failure,
        /// Settings restored to their values before.
        rolled_back: Vec<String>,
        /// Restores that failed in turn.
        rollback_failures: Vec<Failure>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Runs one argv through `write`, turning a failure into its reason.
fn run(sys: &dyn System, argv: &[String]) -> Result<(), String> {
    match sys.write(argv) {
        Ok(out) if out.success => Ok(()),
        Ok(out) => Err(out.reason()),
        Err(e) => Err(e.to_string()),
    }
}

/// The journal record of a plan's changed writes.
pub fn journal_entry(plan: &Plan, summary: &str) -> Entry {
    let mut changes = Vec::new();
    for action in plan.changes() {
        // An action's value-bound follow-ups go with its first changed key.
        let mut first = true;
        for w in action.writes.iter().filter(|w| w.changed) {
            let (then, undo_then) = if std::mem::take(&mut first) {
                (action.value_after.clone(), action.undo_value_after.clone())
            } else {
                (Vec::new(), Vec::new())
            };
            changes.push(Change {
                setting: action.setting.clone(),
                backend: action.backend.name().to_string(),
                target: serde_json::to_value(w.key.target_json()).expect("targets serialize"),
                key: w.key.label(),
                before: w.current.text().map(str::to_string),
                before_state: w.current.state().to_string(),
                after: w.new.clone(),
                apply: w.argv.clone(),
                restore: w.restore.clone(),
                status: ChangeStatus::Pending,
                then,
                undo_then,
                found: None,
            });
        }
    }
    Entry {
        format: journal::FORMAT,
        id: 0,
        knob_version: env!("CARGO_PKG_VERSION").to_string(),
        created: journal::now(),
        platform: plan.platform.to_string(),
        summary: summary.to_string(),
        state: State::Pending,
        changes,
        after: plan.shared_after(),
        undone: None,
    }
}

/// What a dry run of a plan did.
#[derive(Debug)]
pub struct DryRun {
    /// What apply reported. Its writes never fail, so this is `NothingToDo`
    /// or `Applied` (with no journal id).
    pub outcome: Outcome,
    /// The argv apply would have run, in order: the changed writes, then
    /// the `after` commands.
    pub writes: Vec<Vec<String>>,
}

/// Runs `plan` through the same [`apply`] as a real run, on a
/// [`DryRunSystem`] over `sys`: reads go through, writes are only
/// recorded, and nothing is journaled. Every dry run (set, apply, ask,
/// batch, the chat interface's plan cards) goes through here.
pub fn dry_run(plan: &Plan, sys: &dyn System, summary: &str) -> Result<DryRun, ApplyError> {
    let dry = DryRunSystem::new(sys);
    let outcome = apply(plan, &dry, None, summary)?;
    Ok(DryRun {
        outcome,
        writes: dry.writes(),
    })
}

/// Applies `plan` through `sys`. With a journal, the entry is synced to disk
/// before the first change (a dry run passes `None`).
pub fn apply(
    plan: &Plan,
    sys: &dyn System,
    journal: Option<&Journal>,
    summary: &str,
) -> Result<Outcome, ApplyError> {
    if let Some(reason) = plan.refusal() {
        return Err(ApplyError::Refused(reason));
    }
    let mut entry = journal_entry(plan, summary);
    if entry.changes.is_empty() {
        return Ok(Outcome::NothingToDo);
    }
    let journal_id = match journal {
        Some(j) => Some(j.create(&mut entry)?),
        None => None,
    };
    for i in 0..entry.changes.len() {
        let result = run(sys, &entry.changes[i].apply);
        if let Err(reason) = result {
            entry.changes[i].status = ChangeStatus::Failed;
            let failed = Failure {
                setting: entry.changes[i].setting.clone(),
                argv: entry.changes[i].apply.clone(),
                reason,
            };
            let (rolled_back, rollback_failures) = restore(
                sys,
                &mut entry.changes[..i],
                ChangeStatus::RolledBack,
                ChangeStatus::RollbackFailed,
            );
            entry.state = if rollback_failures.is_empty() {
                State::RolledBack
            } else {
                State::RollbackFailed
            };
            if let Some(j) = journal {
                j.update(&entry)?;
            }
            return Ok(Outcome::RolledBack {
                journal_id,
                failed,
                rolled_back,
                rollback_failures,
            });
        }
        entry.changes[i].status = ChangeStatus::Applied;
        if let Some(j) = journal {
            // The synced pending entry already lets undo restore every
            // change, so a failed progress update is not fatal.
            let _ = j.update(&entry);
        }
    }
    let after_failures = run_after(sys, &follow_ups(&entry.after, &entry.changes, |c| &c.then));
    entry.state = State::Applied;
    if let Some(j) = journal {
        j.update(&entry)?;
    }
    Ok(Outcome::Applied {
        journal_id,
        after_failures,
    })
}

/// `shared`, then each change's own argv (`pick`), without repeats: the
/// order [`Plan::after`] shows.
fn follow_ups<'c>(
    shared: &[Vec<String>],
    changes: impl IntoIterator<Item = &'c Change>,
    pick: impl Fn(&'c Change) -> &'c Vec<Vec<String>>,
) -> Vec<Vec<String>> {
    let mut out = shared.to_vec();
    plan::push_new(&mut out, changes.into_iter().flat_map(pick));
    out
}

fn run_after(sys: &dyn System, after: &[Vec<String>]) -> Vec<Failure> {
    after
        .iter()
        .filter_map(|argv| {
            run(sys, argv).err().map(|reason| Failure {
                setting: String::new(),
                argv: argv.clone(),
                reason,
            })
        })
        .collect()
}

/// Restores `changes` in reverse order, marking each `ok` or `failed`.
/// Returns the settings all of whose keys were restored, and the failures:
/// a setting written through several keys of which one failed is only a
/// failure, never both.
fn restore(
    sys: &dyn System,
    changes: &mut [Change],
    ok: ChangeStatus,
    failed: ChangeStatus,
) -> (Vec<String>, Vec<Failure>) {
    let mut restored = Vec::new();
    let mut failures = Vec::new();
    for change in changes.iter_mut().rev() {
        let Some(argv) = change.restore.clone() else {
            change.status = failed;
            failures.push(Failure {
                setting: change.setting.clone(),
                argv: Vec::new(),
                reason: format!(
                    "cannot restore {}: its value before was {}",
                    change.key, change.before_state
                ),
            });
            continue;
        };
        match run(sys, &argv) {
            Ok(()) => {
                change.status = ok;
                if !restored.contains(&change.setting) {
                    restored.push(change.setting.clone());
                }
            }
            Err(reason) => {
                change.status = failed;
                failures.push(Failure {
                    setting: change.setting.clone(),
                    argv,
                    reason,
                });
            }
        }
    }
    restored.retain(|s| !failures.iter().any(|f| &f.setting == s));
    restored.reverse();
    (restored, failures)
}

/// A key undo left as it was: its value is no longer what knob wrote, or
/// cannot be read. `knob undo --force` restores it anyway.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LeftAsIs {
    pub setting: String,
    /// A readable name of the key.
    pub key: String,
    /// What the key holds now (`(not set)` when absent); `None` when it
    /// cannot be read.
    pub now: Option<String>,
    /// Why the key cannot be read, when it cannot.
    pub unreadable: Option<String>,
    /// What knob wrote.
    pub wrote: String,
    /// What `--force` restores (`(not set)` removes the key).
    pub before: String,
}

impl LeftAsIs {
    /// What undo found: `display.brightness: changed since knob set it (now
    /// 70, knob wrote 40)`.
    pub fn finding(&self) -> String {
        match (&self.now, &self.unreadable) {
            (Some(now), _) => format!(
                "{}: changed since knob set it (now {now}, knob wrote {})",
                self.setting, self.wrote
            ),
            (None, reason) => format!(
                "{}: its value now cannot be read ({})",
                self.setting,
                reason.as_deref().unwrap_or("no reason given")
            ),
        }
    }

    /// The finding, and what `--force` does.
    pub fn describe(&self) -> String {
        format!(
            "{}; left as it is — use --force to restore {} anyway",
            self.finding(),
            self.before
        )
    }
}

/// What an undo did.
#[derive(Debug)]
pub struct UndoReport {
    pub id: u64,
    pub summary: String,
    /// Settings whose every key was restored (a partly restored one is
    /// listed in `failures` or `left` only).
    pub restored: Vec<String>,
    pub failures: Vec<Failure>,
    /// Keys left as they were because they changed since knob set them or
    /// cannot be read (never with `force`).
    pub left: Vec<LeftAsIs>,
    pub after_failures: Vec<Failure>,
}

/// How to undo.
#[derive(Debug, Clone, Copy)]
pub struct UndoOptions<'a> {
    /// The catalog that says how to read each key back; `None` when it
    /// could not be loaded, so that every key reads as unknown.
    pub catalog: Option<&'a Catalog>,
    /// Restore every key without reading it first.
    pub force: bool,
}

/// A key's value now, compared with the journal.
enum Found {
    /// What knob wrote, or what was there before (never applied, or put
    /// back by hand): restoring loses nothing.
    Expected,
    Changed(String),
    Unreadable(String),
}

/// The catalog key a change wrote, and its setting's value rules. `None`
/// when the catalog no longer has that key for the platform.
fn catalog_key<'c>(
    catalog: &'c Catalog,
    platform: Platform,
    change: &Change,
) -> Option<(&'c Key, &'c ValueSpec)> {
    let setting = catalog.setting(&change.setting)?;
    let mapping = setting.mapping(platform)?;
    let key = std::iter::once(&mapping.primary)
        .chain(&mapping.also)
        .find(|k| {
            k.label() == change.key
                && serde_json::to_value(k.target_json()).ok().as_ref() == Some(&change.target)
        })?;
    Some((key, &setting.value))
}

/// Whether `now` holds `text` (backend text; [`DELETE`] means absent), by
/// text or, through the catalog's rules, by value (gsettings prints `1.0`
/// for a double written as `1`).
fn holds(key: &Key, spec: &ValueSpec, now: &Current, text: &str) -> bool {
    match now {
        Current::Unknown(_) => false,
        Current::Absent => {
            text == DELETE || (text.is_empty() && !matches!(key.target, Target::Gsettings { .. }))
        }
        Current::Set(t) => {
            t == text
                || match (
                    backend::decode(key, spec, now),
                    backend::decode(key, spec, &Current::Set(text.to_string())),
                ) {
                    (Some(a), Some(b)) => backend::values_equal(&a, &b),
                    _ => false,
                }
        }
    }
}

/// Reads the key of `change` as the plan reads it, and compares it with
/// what knob wrote and with what was there before.
fn find(
    change: &Change,
    opts: &UndoOptions,
    platform: &str,
    tools: &Tools,
    sys: &dyn System,
) -> Found {
    let Some(catalog) = opts.catalog else {
        return Found::Unreadable("the settings catalog could not be loaded".to_string());
    };
    let Ok(platform) = platform.parse::<Platform>() else {
        return Found::Unreadable(format!(
            "the journal names an unknown platform {platform:?}"
        ));
    };
    let Some((key, spec)) = catalog_key(catalog, platform, change) else {
        return Found::Unreadable(format!(
            "the catalog no longer has {} for {} on {platform}",
            change.key, change.setting
        ));
    };
    let now = plan::read_key(key, tools, sys);
    if let Current::Unknown(reason) = &now {
        return Found::Unreadable(reason.clone());
    }
    let before = match (change.before_state.as_str(), &change.before) {
        ("set", Some(text)) => holds(key, spec, &now, text),
        ("absent", _) => now == Current::Absent,
        _ => false,
    };
    if before || holds(key, spec, &now, &change.after) {
        Found::Expected
    } else {
        Found::Changed(now.display())
    }
}

/// How the journal's text shows: `(not set)` for an absent key.
fn shown(text: Option<&str>) -> String {
    match text {
        Some(t) if t != DELETE => t.to_string(),
        _ => "(not set)".to_string(),
    }
}

/// Reverts plan `id`, or the newest plan that can be undone. A pending entry
/// (knob stopped between the journal write and the end of apply) restores
/// every change it lists.
///
/// Each key is read first (unless `opts.force`): one that holds neither
/// what knob wrote nor its value before was changed since, and is left as
/// it is, as is one that cannot be read. The entry is then `partly_undone`
/// and stays undoable: undo checks those keys again, `force` restores them.
pub fn undo(
    journal: &Journal,
    id: Option<u64>,
    sys: &dyn System,
    opts: UndoOptions,
) -> Result<UndoReport, JournalError> {
    let mut entry = journal.undo_target(id)?;
    let todo: Vec<usize> = entry
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| match entry.state {
            State::Pending => {
                !matches!(c.status, ChangeStatus::Restored | ChangeStatus::RolledBack)
            }
            _ => {
                matches!(
                    c.status,
                    ChangeStatus::Applied
                        | ChangeStatus::RestoreFailed
                        | ChangeStatus::RollbackFailed
                ) || c.status.left_by_undo()
            }
        })
        .map(|(i, _)| i)
        .collect();
    let tools = Tools::detect(sys);
    let mut left = Vec::new();
    let mut chosen = Vec::new();
    for i in todo {
        let change = &mut entry.changes[i];
        // A key that cannot be restored fails in `restore` either way.
        if opts.force || change.restore.is_none() {
            chosen.push(i);
            continue;
        }
        let (status, now, unreadable) = match find(change, &opts, &entry.platform, &tools, sys) {
            Found::Expected => {
                chosen.push(i);
                continue;
            }
            Found::Changed(now) => (ChangeStatus::ChangedSince, Some(now), None),
            Found::Unreadable(reason) => (ChangeStatus::Unreadable, None, Some(reason)),
        };
        change.status = status;
        change.found = now.clone().or_else(|| unreadable.clone());
        left.push(LeftAsIs {
            setting: change.setting.clone(),
            key: change.key.clone(),
            now,
            unreadable,
            wrote: shown(Some(&change.after)),
            before: shown(change.before.as_deref()),
        });
    }
    let mut selected: Vec<Change> = chosen.iter().map(|&i| entry.changes[i].clone()).collect();
    let (mut restored, failures) = restore(
        sys,
        &mut selected,
        ChangeStatus::Restored,
        ChangeStatus::RestoreFailed,
    );
    // The colour Plasma is told is the one put back: only for keys that
    // were restored, so a key changed since keeps its colours.
    let after = follow_ups(
        &entry.after,
        selected
            .iter()
            .filter(|c| c.status == ChangeStatus::Restored),
        |c| &c.undo_then,
    );
    for (&i, mut c) in chosen.iter().zip(selected) {
        c.found = None;
        entry.changes[i] = c;
    }
    restored.retain(|s| !left.iter().any(|l| &l.setting == s));
    // Nothing written, nothing to follow up (`killall Dock` and the like).
    let after_failures = if chosen.is_empty() {
        Vec::new()
    } else {
        run_after(sys, &after)
    };
    entry.state = if !failures.is_empty() {
        State::UndoFailed
    } else if !left.is_empty() {
        State::PartlyUndone
    } else {
        State::Undone
    };
    // The entry may now hold format-2 states.
    entry.format = journal::FORMAT;
    entry.undone = Some(journal::now());
    journal.update(&entry)?;
    Ok(UndoReport {
        id: entry.id,
        summary: entry.summary,
        restored,
        failures,
        left,
        after_failures,
    })
}
