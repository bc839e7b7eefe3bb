//! `knob history`: list the plans in the journal, oldest first. Entries
//! that cannot be read are listed with the reason; keys the last undo left
//! as they were (changed since knob set them) are counted.
use serde::Serialize;

use super::settings_ui::plural;
use super::Context;
use crate::cli::HistoryArgs;
use crate::exit::Exit;
use crate::settings::journal::{format_time, ChangeStatus, Entry, State};

/// One journal entry in `knob history --json`.
// Fields in alphabetical order, the order the output had when it was built
// with json!, which scripts may rely on.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum HistoryItem {
    Entry(HistoryEntry),
    Unreadable(UnreadableEntry),
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct HistoryEntry {
    /// Unix seconds.
    pub created: u64,
    /// Always null for a readable entry, so that every item has `error`.
    pub error: (),
    pub id: u64,
    /// Backend keys the plan wrote.
    pub keys: usize,
    /// The keys the last undo left as they were.
    pub left: Vec<LeftKey>,
    pub platform: String,
    /// Settings the plan changed (a setting may write several keys).
    pub settings: usize,
    pub state: State,
    pub summary: String,
}

/// An entry that cannot be read, and why.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UnreadableEntry {
    pub error: String,
    pub id: u64,
}

/// A key the last undo left as it was, with what it found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LeftKey {
    /// The value found instead of what knob wrote, or why it cannot be read.
    pub found: Option<String>,
    pub key: String,
    pub setting: String,
    pub status: ChangeStatus,
}

pub fn run(ctx: &Context, args: HistoryArgs) -> anyhow::Result<Exit> {
    let journal = ctx.journal()?;
    let listed = journal.list()?;
    if args.json {
        let items: Vec<HistoryItem> = listed
            .iter()
            .map(|l| match &l.entry {
                Ok(e) => HistoryItem::Entry(HistoryEntry {
                    created: e.created,
                    error: (),
                    id: l.id,
                    keys: e.changes.len(),
                    left: left(e),
                    platform: e.platform.clone(),
                    settings: settings(e),
                    state: e.state,
                    summary: e.summary.clone(),
                }),
                Err(err) => HistoryItem::Unreadable(UnreadableEntry {
                    error: err.to_string(),
                    id: l.id,
                }),
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

/// The keys the last undo left as they were.
fn left(e: &Entry) -> Vec<LeftKey> {
    e.changes
        .iter()
        .filter(|c| c.status.left_by_undo())
        .map(|c| LeftKey {
            found: c.found.clone(),
            key: c.key.clone(),
            setting: c.setting.clone(),
            status: c.status,
        })
        .collect()
}
