//! `knob history`: list the plans in the journal, oldest first. Entries
//! that cannot be read are listed with the reason.
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
                    "summary": e.summary, "settings": settings(e), "keys": e.changes.len(), "error": null,
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
                outln!(
                    "{:>4}  {}  {:<15}  {:<7}  {}  ({n} setting{})",
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
