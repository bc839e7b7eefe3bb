//! The write-ahead journal: one JSON file per applied plan in
//! `<data>/knob/journal/`, written and synced before the first change. Each
//! change records its key, the value before and after, and the argv that
//! restores it. A file that is corrupt or from a newer knob is reported,
//! never skipped or overwritten.
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The journal format this knob writes and reads.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Written before the first change; the plan may be partly applied
    /// (a crash leaves it so). Undo restores every change.
    Pending,
    Applied,
    /// A change failed and the earlier ones were restored.
    RolledBack,
    /// A change failed and restoring an earlier one failed too.
    RollbackFailed,
    Undone,
    /// Undo restored only some changes; undo may be run again.
    UndoFailed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Applied => "applied",
            State::RolledBack => "rolled back",
            State::RollbackFailed => "rollback failed",
            State::Undone => "undone",
            State::UndoFailed => "undo failed",
        }
    }
    /// Whether `knob undo` has something to restore.
    pub fn undoable(self) -> bool {
        matches!(
            self,
            State::Pending | State::Applied | State::UndoFailed | State::RollbackFailed
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    Pending,
    Applied,
    Failed,
    RolledBack,
    RollbackFailed,
    Restored,
    RestoreFailed,
}

/// One key written by a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub setting: String,
    pub backend: String,
    pub target: serde_json::Value,
    /// A readable name of the key.
    pub key: String,
    /// Backend text before; `None` when absent or unknown (see `before_state`).
    pub before: Option<String>,
    /// `set`, `absent` or `unknown`.
    pub before_state: String,
    pub after: String,
    /// The argv that applied the change.
    pub apply: Vec<String>,
    /// The argv that restores `before`; `None` when it cannot be restored.
    pub restore: Option<Vec<String>>,
    pub status: ChangeStatus,
}

/// One applied plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub format: u32,
    pub id: u64,
    pub knob_version: String,
    /// Unix seconds.
    pub created: u64,
    pub platform: String,
    /// What was asked for: `set appearance.dark_mode true`, `apply night`.
    pub summary: String,
    pub state: State,
    pub changes: Vec<Change>,
    /// Argv run after the writes (and again after an undo).
    pub after: Vec<Vec<String>>,
    /// Unix seconds of the last undo.
    #[serde(default)]
    pub undone: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("journal entry {} is corrupt: {message}; it is kept as it is, move it away or undo another plan with --id", .path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("journal entry {} was written by a newer knob (format {format}, this knob reads {FORMAT}); upgrade knob to undo it", .path.display())]
    Newer { path: PathBuf, format: u64 },
    #[error("no plan with id {0} in the journal (see `knob history`)")]
    NotFound(u64),
    #[error("nothing to undo: no applied plan in the journal")]
    NothingToUndo,
    #[error("plan {id} cannot be undone: it is {state}")]
    NotUndoable { id: u64, state: &'static str },
}

/// A journal file as listed: its id, and the entry or why it cannot be read.
#[derive(Debug)]
pub struct Listed {
    pub id: u64,
    pub path: PathBuf,
    pub entry: Result<Entry, JournalError>,
}

/// The journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Syncs a directory so a new or renamed file in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Journal {
    pub fn new(dir: impl Into<PathBuf>) -> Journal {
        Journal { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:06}.json"))
    }

    /// Ids of the entry files, ascending.
    fn ids(&self) -> Result<Vec<u64>, JournalError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        let mut ids: Vec<u64> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?;
                if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                stem.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Writes a new entry (assigning its id) and syncs it to disk.
    pub fn create(&self, entry: &mut Entry) -> Result<u64, JournalError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let mut id = self.ids()?.last().map_or(1, |last| last + 1);
        loop {
            entry.id = id;
            let path = self.path(id);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let text = serde_json::to_vec_pretty(entry).expect("journal entries serialize");
                    f.write_all(&text)
                        .and_then(|_| f.write_all(b"\n"))
                        .and_then(|_| f.sync_all())
                        .map_err(io_err(&path))?;
                    sync_dir(&self.dir).map_err(io_err(&self.dir))?;
                    return Ok(id);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => id += 1,
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
    }

    /// Replaces an entry atomically (temporary file, sync, rename, sync).
    pub fn update(&self, entry: &Entry) -> Result<(), JournalError> {
        let path = self.path(entry.id);
        let tmp = self.dir.join(format!("{:06}.json.tmp", entry.id));
        let text = serde_json::to_vec_pretty(entry).expect("journal entries serialize");
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&text)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir)
        };
        write().map_err(io_err(&path))
    }

    fn read(&self, id: u64) -> Result<Entry, JournalError> {
        let path = self.path(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(JournalError::NotFound(id))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let corrupt = |message: String| JournalError::Corrupt {
            path: path.clone(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        match value.get("format").and_then(|f| f.as_u64()) {
            None => return Err(corrupt("no format number".to_string())),
            Some(f) if f > u64::from(FORMAT) => {
                return Err(JournalError::Newer { path, format: f })
            }
            Some(_) => {}
        }
        let entry: Entry = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        if entry.id != id {
            return Err(corrupt(format!(
                "it says it is entry {} but its file name says {id}",
                entry.id
            )));
        }
        Ok(entry)
    }

    /// Every entry, oldest first; unreadable ones carry their error.
    pub fn list(&self) -> Result<Vec<Listed>, JournalError> {
        Ok(self
            .ids()?
            .into_iter()
            .map(|id| Listed {
                id,
                path: self.path(id),
                entry: self.read(id),
            })
            .collect())
    }

    /// The entry `id`, or else the newest entry that can be undone. An
    /// unreadable entry newer than that stops the search with its error.
    pub fn undo_target(&self, id: Option<u64>) -> Result<Entry, JournalError> {
        if let Some(id) = id {
            let entry = self.read(id)?;
            if !entry.state.undoable() {
                return Err(JournalError::NotUndoable {
                    id,
                    state: entry.state.name(),
                });
            }
            return Ok(entry);
        }
        for id in self.ids()?.into_iter().rev() {
            let entry = self.read(id)?;
            if entry.state.undoable() {
                return Ok(entry);
            }
        }
        Err(JournalError::NothingToUndo)
    }
}

/// `YYYY-MM-DD HH:MM` UTC for unix seconds (for `knob history`).
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: State) -> Entry {
        Entry {
            format: FORMAT,
            id: 0,
            knob_version: "test".into(),
            created: 0,
            platform: "gnome".into(),
            summary: "s".into(),
            state,
            changes: vec![],
            after: vec![],
            undone: None,
        }
    }

    #[test]
    fn ids_increase_and_entries_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("journal"));
        let mut a = entry(State::Applied);
        let mut b = entry(State::Pending);
        assert_eq!(j.create(&mut a).unwrap(), 1);
        assert_eq!(j.create(&mut b).unwrap(), 2);
        assert_eq!(j.undo_target(None).unwrap().id, 2);
        b.state = State::Undone;
        j.update(&b).unwrap();
        assert_eq!(j.undo_target(None).unwrap().id, 1);
        assert!(matches!(
            j.undo_target(Some(2)),
            Err(JournalError::NotUndoable { id: 2, .. })
        ));
        assert!(matches!(
            j.undo_target(Some(9)),
            Err(JournalError::NotFound(9))
        ));
    }

    #[test]
    fn corrupt_and_newer_entries_are_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        j.create(&mut entry(State::Applied)).unwrap();
        fs::write(dir.path().join("000002.json"), "{ not json").unwrap();
        let err = j.undo_target(None).unwrap_err().to_string();
        assert!(err.contains("000002.json is corrupt"), "{err}");
        fs::write(dir.path().join("000002.json"), r#"{"format": 7, "id": 2}"#).unwrap();
        let err = j.undo_target(None).unwrap_err().to_string();
        assert!(
            err.contains("written by a newer knob (format 7, this knob reads 1)"),
            "{err}"
        );
        let listed = j.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[1].entry.is_err());
        // A new entry never reuses the unreadable one's id.
        assert_eq!(j.create(&mut entry(State::Applied)).unwrap(), 3);
        assert!(fs::read_to_string(dir.path().join("000002.json"))
            .unwrap()
            .contains("\"format\": 7"));
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13");
    }
}
