//! Applying a plan and undoing it. Applying writes the journal first, then
//! runs each change in order; when one fails, the changes already made are
//! restored in reverse order and both facts are reported. The same code
//! runs against the real, dry-run and fake systems.
use super::journal::{self, Change, ChangeStatus, Entry, Journal, JournalError, State};
use super::plan::Plan;
use super::system::System;

/// A command that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
        for w in action.writes.iter().filter(|w| w.changed) {
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
        after: plan.after(),
        undone: None,
    }
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
    let after_failures = run_after(sys, &entry.after);
    entry.state = State::Applied;
    if let Some(j) = journal {
        j.update(&entry)?;
    }
    Ok(Outcome::Applied {
        journal_id,
        after_failures,
    })
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

/// What an undo did.
#[derive(Debug)]
pub struct UndoReport {
    pub id: u64,
    pub summary: String,
    /// Settings whose every key was restored (a partly restored one is
    /// listed in `failures` only).
    pub restored: Vec<String>,
    pub failures: Vec<Failure>,
    pub after_failures: Vec<Failure>,
}

/// Reverts plan `id`, or the newest plan that can be undone. A pending entry
/// (knob stopped between the journal write and the end of apply) restores
/// every change it lists.
pub fn undo(
    journal: &Journal,
    id: Option<u64>,
    sys: &dyn System,
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
            _ => matches!(
                c.status,
                ChangeStatus::Applied | ChangeStatus::RestoreFailed | ChangeStatus::RollbackFailed
            ),
        })
        .map(|(i, _)| i)
        .collect();
    let mut selected: Vec<Change> = todo.iter().map(|&i| entry.changes[i].clone()).collect();
    let (restored, failures) = restore(
        sys,
        &mut selected,
        ChangeStatus::Restored,
        ChangeStatus::RestoreFailed,
    );
    for (&i, c) in todo.iter().zip(selected) {
        entry.changes[i] = c;
    }
    let after_failures = run_after(sys, &entry.after);
    entry.state = if failures.is_empty() {
        State::Undone
    } else {
        State::UndoFailed
    };
    entry.undone = Some(journal::now());
    journal.update(&entry)?;
    Ok(UndoReport {
        id: entry.id,
        summary: entry.summary,
        restored,
        failures,
        after_failures,
    })
}
