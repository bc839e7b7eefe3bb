//! `knob undo [--id N]`: restore the values a plan changed.
use anyhow::anyhow;
use serde_json::json;

use super::settings_ui::lock_journal;
use super::Context;
use crate::cli::UndoArgs;
use crate::exit::Exit;
use crate::settings::render::format_argv;

pub fn run(ctx: &Context, args: UndoArgs) -> anyhow::Result<Exit> {
    let journal = ctx.journal()?;
    let _lock = lock_journal(journal, args.no_wait)?;
    let report = crate::settings::undo(journal, args.id, ctx.system()).map_err(|e| anyhow!(e))?;
    if args.json {
        let out = json!({
            "id": report.id,
            "summary": report.summary,
            "restored": report.restored,
            "failures": report.failures,
            "after_failures": report.after_failures,
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let restored = if report.restored.is_empty() {
            "nothing".to_string()
        } else {
            report.restored.join(", ")
        };
        outln!(
            "undid plan {} ({}): restored {restored}.",
            report.id,
            report.summary
        );
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
    Ok(if report.failures.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}
