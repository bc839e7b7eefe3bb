//! What the settings commands share: loading the catalog, the writers'
//! lock, and showing a plan and applying it (confirmation, journal,
//! rollback report, exit status). A dry run goes through the same apply as
//! a real one, on a system that records writes instead of running them.
use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::{anyhow, Context};

use super::paint::Paint;
use super::Context as Ctx;
use crate::agent::respond::{Execution, Response};
use crate::cli::PlanFlags;
use crate::exit::Exit;
use crate::settings::apply::{self, ApplyError, DryRun, Failure, Outcome};
use crate::settings::render::{format_argv, nothing_to_change, render_plan};
use crate::settings::{Catalog, Journal, JournalLock, LockError, Platform};

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

/// Asks on the terminal; `false` unless the answer is yes. `assumed`
/// names a platform that was guessed, so the question says so.
fn confirm(changes: usize, assumed: Option<Platform>) -> anyhow::Result<bool> {
    let mut err = io::stderr().lock();
    let on = assumed.map_or(String::new(), |p| format!(" on {p} (assumed)"));
    write!(
        err,
        "Apply {changes} change{}{on}? [y/N] ",
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

/// Shows the response's plan, and with `--apply` applies it; the outcome
/// is recorded in the response, whose JSON `--json` prints. `summary` names
/// the request in the journal; `explain` adds the n-best list to the JSON.
pub fn execute(
    ctx: &Ctx,
    response: &mut Response,
    flags: &PlanFlags,
    summary: &str,
    explain: bool,
) -> anyhow::Result<Exit> {
    let Some(plan) = response.plan.as_ref() else {
        return Err(anyhow!("nothing was planned"));
    };
    let changes = plan.changes().count();
    if !flags.apply {
        return show_dry_run(ctx, response, flags, summary, explain);
    }
    let paint = Paint::new(ctx.style.stdout_color());
    let show = |response: &Response| -> anyhow::Result<()> {
        if flags.json {
            print_json(&response.json(explain))
        } else {
            if let Some(plan) = &response.plan {
                out!("{}", paint.plan(plan, &render_plan(plan, flags.verbose)));
            }
            Ok(())
        }
    };
    if let Some(reason) = plan.refusal() {
        show(response)?;
        errln!("knob: not applied: {reason}.");
        return Ok(Exit::ApplyRefused);
    }
    if changes == 0 {
        show(response)?;
        if !flags.json {
            outln!("{}", nothing_to_change(plan));
        }
        return Ok(Exit::Ok);
    }
    // A platform knob guessed (no desktop session) is confirmed like the
    // plan: on the terminal, or with --platform or --yes.
    let assumed = ctx.platform_assumed().map(|_| plan.platform);
    if !flags.yes {
        let interactive = io::stdin().is_terminal() && io::stderr().is_terminal();
        if !interactive {
            show(response)?;
            match assumed {
                Some(p) => errln!("knob: not applied: the platform {p} was assumed, and there is no terminal to ask for confirmation on; add --platform {p} to confirm it, or --yes to apply without asking."),
                None => errln!("knob: not applied: there is no terminal to ask for confirmation on; add --yes to apply without asking."),
            }
            return Ok(Exit::ApplyRefused);
        }
        if !flags.json {
            show(response)?;
        }
        if !confirm(changes, assumed)? {
            errln!("knob: not applied.");
            return Ok(Exit::ApplyRefused);
        }
    }
    let outcome =
        apply::apply(plan, ctx.system(), Some(ctx.journal()?), summary).map_err(|e| anyhow!(e))?;
    let exit = match &outcome {
        Outcome::NothingToDo => Exit::Ok,
        Outcome::Applied {
            journal_id,
            after_failures,
        } => {
            if let Some(plan) = response.plan.as_mut() {
                plan.applied = true;
            }
            if !flags.json {
                if flags.yes {
                    show(response)?;
                }
                let id = journal_id.map_or(String::new(), |id| {
                    format!(" (plan {id}; `knob undo` reverts it)")
                });
                let applied = format!("applied {changes} change{}{id}.", plural(changes));
                outln!("{}", paint.ok(&applied));
            }
            for f in after_failures {
                print_failure("warning: a follow-up command failed", f);
            }
            Exit::Ok
        }
        Outcome::RolledBack {
            failed,
            rolled_back,
            rollback_failures,
            ..
        } => {
            if !flags.json && flags.yes {
                show(response)?;
            }
            print_failure("failed", failed);
            if rolled_back.is_empty() {
                errln!("knob: nothing had been changed before the failure.");
            } else {
                errln!("knob: rolled back: {}", rolled_back.join(", "));
            }
            for f in rollback_failures {
                print_failure("rollback failed", f);
            }
            Exit::ApplyRefused
        }
    };
    response.execution = Some(Execution::Applied(outcome));
    if flags.json {
        print_json(&response.json(explain))?;
    }
    Ok(exit)
}

/// Shows the plan and what its dry run did. `--json` adds `dry_run_writes`,
/// the argv the dry run recorded.
fn show_dry_run(
    ctx: &Ctx,
    response: &mut Response,
    flags: &PlanFlags,
    summary: &str,
    explain: bool,
) -> anyhow::Result<Exit> {
    let Some(plan) = response.plan.as_ref() else {
        return Err(anyhow!("nothing was planned"));
    };
    let dry = match apply::dry_run(plan, ctx.system(), summary) {
        Ok(dry) => Ok(dry),
        Err(ApplyError::Refused(reason)) => Err(reason),
        Err(e) => return Err(anyhow!(e)),
    };
    let text = Paint::new(ctx.style.stdout_color()).plan(plan, &render_plan(plan, flags.verbose));
    let changes = plan.changes().count();
    let failed = match &dry {
        Ok(DryRun {
            outcome: Outcome::RolledBack { failed, .. },
            ..
        }) => Some(failed.clone()),
        _ => None,
    };
    let said = match &dry {
        Err(reason) => format!("dry run: {reason}."),
        Ok(DryRun {
            outcome: Outcome::NothingToDo,
            ..
        }) => nothing_to_change(plan),
        Ok(_) => format!(
            "dry run: {changes} change{} planned; add --apply to make {}.",
            plural(changes),
            if changes == 1 { "it" } else { "them" }
        ),
    };
    response.execution = Some(Execution::DryRun(dry));
    if flags.json {
        print_json(&response.json(explain))?;
        return Ok(Exit::Ok);
    }
    out!("{text}");
    // The dry-run system's writes always succeed; should that change, the
    // failure is reported as a real one would be.
    if let Some(failed) = failed {
        print_failure("dry run failed", &failed);
        return Ok(Exit::ApplyRefused);
    }
    outln!("{said}");
    Ok(Exit::Ok)
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
