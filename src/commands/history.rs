//! `knob history`: list the plans in the journal, oldest first. Entries
//! that cannot be read are listed with the reason; keys the last undo left
//! as they were (changed since knob set them) are counted.
use serde_json::json;

use super::settings_ui::plural;
use super::Context;
use crate::cli::HistoryArgs;
use crate::exit::Exit;
use crate::settings::journal::{format_time, Entry};

pub fn run(ctx: &Context, args: HistoryArgs) -> anyhow::Result<Exit> {
    let journal = ctx.journal()?;
    let listed = journal.list()?;
    if args.json {
        let items: Vec<_> = listed
            .iter()
            .map(|l| match &l.entry {
                Ok(e) => json!({
                    "id": l.id, "created": e.created, "state": e.state, "platform": e.platform,
                    "summary": e.summary, "settings": settings(e), "keys": e.changes.len(),
                    "left": left(e), "error": null,
                }),
                Err(err) => json!({"id": l.id, "error": err.to_string()}),
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(Exit::Ok);
    }
    if listed.is_empty() {
        outln!("no plans applied yet.");
        return Ok(Exit::Ok);
    }
    for l in &listed {
        match &l.entry {
            Ok(e) => {
                let n = settings(e);
                let mut left: Vec<&str> = e
                    .changes
                    .iter()
                    .filter(|c| c.status.left_by_undo())
                    .map(|c| c.setting.as_str())
                    .collect();
                left.dedup();
                let note = if left.is_empty() {
                    String::new()
                } else {
                    format!("; undo left {} as it is", left.join(", "))
                };
                outln!(
                    "{:>4}  {}  {:<15}  {:<7}  {}  ({n} setting{}{note})",
                    l.id,
                    format_time(e.created),
                    e.state.name(),
                    e.platform,
                    e.summary,
                    plural(n)
                )
            }
            Err(err) => outln!("{:>4}  unreadable: {err}", l.id),
        }
    }
    Ok(Exit::Ok)
}

/// How many settings an entry changed (a setting may write several keys).
fn settings(e: &Entry) -> usize {
    let mut ids: Vec<&str> = e.changes.iter().map(|c| c.setting.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// The keys the last undo left as they were, with what it found.
fn left(e: &Entry) -> Vec<serde_json::Value> {
    e.changes
        .iter()
        .filter(|c| c.status.left_by_undo())
        .map(|c| json!({"setting": c.setting, "key": c.key, "status": c.status, "found": c.found}))
        .collect()
}
