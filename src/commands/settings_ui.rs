//! What the settings commands share: loading the catalog, the writers'
//! lock, and showing a plan and applying it (confirmation, journal,
//! rollback report, exit status). A dry run goes through the same apply as
//! a real one, on a system that records writes instead of running them.
use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::{anyhow, Context};

use super::Context as Ctx;
use crate::cli::PlanFlags;
use crate::exit::Exit;
use crate::settings::apply::{self, ApplyError, Failure, Outcome};
use crate::settings::render::{format_argv, render_plan};
use crate::settings::{Catalog, DryRunSystem, Journal, JournalLock, LockError, Plan, System};

pub fn catalog() -> anyhow::Result<Catalog> {
    crate::settings::load_catalog().context("loading the settings catalog")
}

/// The journal's writers' lock. When another knob holds it: with `no_wait`
/// an error (exit 5), else a note on stderr and a wait until it is free.
pub fn lock_journal(journal: &Journal, no_wait: bool) -> anyhow::Result<JournalLock> {
    match journal.try_lock() {
        Err(LockError::Busy { path }) if !no_wait => {
            errln!(
                "knob: waiting for another knob to finish applying or undoing (lock {})...",
                path.display()
            );
            Ok(journal.lock()?)
        }
        result => Ok(result?),
    }
}

/// With --apply, the writers' lock, to take before reading the values a
/// plan starts from and to hold until it is applied; `None` for a dry run.
pub fn lock_for_apply(ctx: &Ctx, flags: &PlanFlags) -> anyhow::Result<Option<JournalLock>> {
    if !flags.apply {
        return Ok(None);
    }
    lock_journal(ctx.journal()?, flags.no_wait).map(Some)
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

/// Runs `plan` through the same [`apply::apply`] as a real run, on a
/// [`DryRunSystem`] over `sys`: reads go through, writes are only
/// recorded, and nothing is journaled. Every dry run (set, apply, ask,
/// batch, the chat interface's plan cards) goes through here.
pub fn dry_run(plan: &Plan, sys: &dyn System, summary: &str) -> Result<DryRun, ApplyError> {
    let dry = DryRunSystem::new(sys);
    let outcome = apply::apply(plan, &dry, None, summary)?;
    Ok(DryRun {
        outcome,
        writes: dry.writes(),
    })
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn print_failure(label: &str, f: &Failure) {
    let setting = if f.setting.is_empty() {
        String::new()
    } else {
        format!("{}: ", f.setting)
    };
    if f.argv.is_empty() {
        errln!("knob: {label}: {setting}{}", f.reason);
    } else {
        errln!(
            "knob: {label}: {setting}{} ($ {})",
            f.reason,
            format_argv(&f.argv)
        );
    }
}

/// Asks on the terminal; `false` unless the answer is yes.
fn confirm(changes: usize) -> anyhow::Result<bool> {
    let mut err = io::stderr().lock();
    write!(
        err,
        "Apply {changes} change{}? [y/N] ",
        if changes == 1 { "" } else { "s" }
    )?;
    err.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Shows `plan`, and with `--apply` applies it. `summary` names the request
/// in the journal.
pub fn execute(
    ctx: &Ctx,
    plan: &mut Plan,
    flags: &PlanFlags,
    summary: &str,
) -> anyhow::Result<Exit> {
    execute_with(ctx, plan, flags, summary, &serde_json::Map::new())
}

/// The plan JSON with the caller's fields added (`knob ask` adds the query,
/// intent, confidence and timing).
fn with_extra(
    plan_json: &impl serde::Serialize,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(plan_json)?;
    if let Some(obj) = value.as_object_mut() {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    Ok(value)
}

/// [`execute`], with `extra` fields added to the JSON output.
pub fn execute_with(
    ctx: &Ctx,
    plan: &mut Plan,
    flags: &PlanFlags,
    summary: &str,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<Exit> {
    let changes = plan.changes().count();
    let show = |plan: &Plan| -> anyhow::Result<()> {
        if flags.json {
            print_json(&with_extra(&plan.to_json(), extra)?)
        } else {
            out!("{}", render_plan(plan, flags.verbose));
            Ok(())
        }
    };
    if !flags.apply {
        return show_dry_run(ctx, plan, flags, summary, extra);
    }
    if let Some(reason) = plan.refusal() {
        show(plan)?;
        errln!("knob: not applied: {reason}.");
        return Ok(Exit::ApplyRefused);
    }
    if changes == 0 {
        show(plan)?;
        if !flags.json {
            outln!("nothing to change.");
        }
        return Ok(Exit::Ok);
    }
    if !flags.yes {
        let interactive = io::stdin().is_terminal() && io::stderr().is_terminal();
        if !interactive {
            show(plan)?;
            errln!("knob: not applied: there is no terminal to ask for confirmation on; add --yes to apply without asking.");
            return Ok(Exit::ApplyRefused);
        }
        if !flags.json {
            show(plan)?;
        }
        if !confirm(changes)? {
            errln!("knob: not applied.");
            return Ok(Exit::ApplyRefused);
        }
    }
    let outcome =
        apply::apply(plan, ctx.system(), Some(ctx.journal()?), summary).map_err(|e| anyhow!(e))?;
    let mut json = plan.to_json();
    let exit = match outcome {
        Outcome::NothingToDo => Exit::Ok,
        Outcome::Applied {
            journal_id,
            after_failures,
        } => {
            plan.applied = true;
            json.applied = true;
            json.journal_id = journal_id;
            json.errors = after_failures.clone();
            if !flags.json {
                if flags.yes {
                    show(plan)?;
                }
                let id = journal_id.map_or(String::new(), |id| {
                    format!(" (plan {id}; `knob undo` reverts it)")
                });
                outln!("applied {changes} change{}{id}.", plural(changes));
            }
            for f in &after_failures {
                print_failure("warning: a follow-up command failed", f);
            }
            Exit::Ok
        }
        Outcome::RolledBack {
            journal_id,
            failed,
            rolled_back,
            rollback_failures,
        } => {
            json.journal_id = journal_id;
            json.failed = Some(failed.clone());
            json.rolled_back = rolled_back.clone();
            json.errors = rollback_failures.clone();
            if !flags.json && flags.yes {
                show(plan)?;
            }
            print_failure("failed", &failed);
            if rolled_back.is_empty() {
                errln!("knob: nothing had been changed before the failure.");
            } else {
                errln!("knob: rolled back: {}", rolled_back.join(", "));
            }
            for f in &rollback_failures {
                print_failure("rollback failed", f);
            }
            Exit::ApplyRefused
        }
    };
    if flags.json {
        print_json(&with_extra(&json, extra)?)?;
    }
    Ok(exit)
}

/// Shows `plan` and what its dry run did. `--json` adds `dry_run_writes`,
/// the argv the dry run recorded.
fn show_dry_run(
    ctx: &Ctx,
    plan: &Plan,
    flags: &PlanFlags,
    summary: &str,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<Exit> {
    let dry = match dry_run(plan, ctx.system(), summary) {
        Ok(dry) => Ok(dry),
        Err(ApplyError::Refused(reason)) => Err(reason),
        Err(e) => return Err(anyhow!(e)),
    };
    if flags.json {
        let mut extra = extra.clone();
        let writes = dry.as_ref().map(|d| d.writes.clone()).unwrap_or_default();
        extra.insert("dry_run_writes".into(), serde_json::json!(writes));
        print_json(&with_extra(&plan.to_json(), &extra)?)?;
        return Ok(Exit::Ok);
    }
    out!("{}", render_plan(plan, flags.verbose));
    match dry {
        Err(reason) => outln!("dry run: {reason}."),
        Ok(DryRun {
            outcome: Outcome::NothingToDo,
            ..
        }) => outln!("nothing to change."),
        Ok(DryRun {
            outcome: Outcome::Applied { .. },
            ..
        }) => {
            let n = plan.changes().count();
            outln!(
                "dry run: {n} change{} planned; add --apply to make {}.",
                plural(n),
                if n == 1 { "it" } else { "them" }
            )
        }
        // The dry-run system's writes always succeed; should that change,
        // the failure is reported as a real one would be.
        Ok(DryRun {
            outcome: Outcome::RolledBack { failed, .. },
            ..
        }) => {
            print_failure("dry run failed", &failed);
            return Ok(Exit::ApplyRefused);
        }
    }
    Ok(Exit::Ok)
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
