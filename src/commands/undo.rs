//! `knob undo [--id N] [--force]`: restore the values a plan changed. A key
//! changed since knob set it is left as it is unless `--force`.
use anyhow::anyhow;
use serde::Serialize;

use super::settings_ui::{catalog, lock_journal};
use super::Context;
use crate::cli::UndoArgs;
use crate::exit::Exit;
use crate::settings::apply::{Failure, LeftAsIs, UndoReport};
use crate::settings::render::format_argv;
use crate::settings::UndoOptions;

/// `knob undo --json`.
// Fields in alphabetical order, the order the output had when it was built
// with json!, which scripts may rely on.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UndoJson<'a> {
    /// `after` commands that failed (the restores themselves stand).
    pub after_failures: &'a [Failure],
    /// Keys that could not be restored.
    pub failures: &'a [Failure],
    /// The plan undone (its journal id).
    pub id: u64,
    /// Keys left as they were: changed since knob set them, or unreadable.
    pub left: &'a [LeftAsIs],
    /// Settings whose every key was restored.
    pub restored: &'a [String],
    pub summary: &'a str,
}

impl<'a> UndoJson<'a> {
    pub fn new(report: &'a UndoReport) -> UndoJson<'a> {
        UndoJson {
            after_failures: &report.after_failures,
            failures: &report.failures,
            id: report.id,
            left: &report.left,
            restored: &report.restored,
            summary: &report.summary,
        }
    }
}

pub fn run(ctx: &Context, args: UndoArgs) -> anyhow::Result<Exit> {
    let journal = ctx.journal()?;
    let _lock = lock_journal(journal, args.no_wait)?;
    // Without the catalog no key can be read back, so each is left as it
    // is (with the reason) unless --force, which needs no reading.
    let catalog = if args.force {
        None
    } else {
        match catalog() {
            Ok(c) => Some(c),
            Err(e) => {
                errln!("knob: warning: {e:#}; no key can be read back");
                None
            }
        }
    };
    let opts = UndoOptions {
        catalog: catalog.as_ref(),
        force: args.force,
    };
    let report =
        crate::settings::undo(journal, args.id, ctx.system(), opts).map_err(|e| anyhow!(e))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&UndoJson::new(&report))?);
    } else {
        let restored = if report.restored.is_empty() {
            "nothing".to_string()
        } else {
            report.restored.join(", ")
        };
        let mut left: Vec<&str> = report.left.iter().map(|l| l.setting.as_str()).collect();
        left.dedup();
        let left = if left.is_empty() {
            String::new()
        } else {
            format!("; left {} as it is", left.join(", "))
        };
        outln!(
            "undid plan {} ({}): restored {restored}{left}.",
            report.id,
            report.summary
        );
    }
    for l in &report.left {
        errln!("knob: {}", l.describe());
    }
    for f in &report.failures {
        let how = if f.argv.is_empty() || !args.verbose {
            String::new()
        } else {
            format!(" ($ {})", format_argv(&f.argv))
        };
        errln!("knob: could not restore {}: {}{how}", f.setting, f.reason);
    }
    for f in &report.after_failures {
        errln!(
            "knob: warning: a follow-up command failed: {} ($ {})",
            f.reason,
            format_argv(&f.argv)
        );
    }
    Ok(if !report.failures.is_empty() {
        Exit::Error
    } else if !report.left.is_empty() {
        Exit::ApplyRefused
    } else {
        Exit::Ok
    })
}
