//! The write-ahead journal: one JSON file per applied plan in
//! `<data>/knob/journal/`, written and synced before the first change. Each
//! change records its key, the value before and after, and the argv that
//! restores it. A file that is corrupt or from a newer knob is reported,
//! never skipped or overwritten.
//!
//! The directory may hold things knob did not put there, so entries are
//! opened only as regular files (never through a symbolic link, never
//! blocking on a FIFO) and only up to [`MAX_ENTRY_BYTES`]; replacements are
//! written to new, uniquely named files in a private `.tmp` directory and
//! renamed into place.
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

#[cfg(unix)]
use super::lock::open_flags;

/// The journal format this knob writes and reads. Format 2 added the
/// entry state `partly_undone`, the change statuses `changed_since` and
/// `unreadable`, and a change's `found`; format 1 entries read as they are.
pub const FORMAT: u32 = 2;

/// An entry larger than this is not read: real ones are a few KiB, and a
/// journal file must not be able to exhaust memory.
pub const MAX_ENTRY_BYTES: u64 = 4 << 20;

/// The private directory for files being written, inside the journal.
const TMP_DIR: &str = ".tmp";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Undo left keys that were changed since knob set them (or could not
    /// be read) as they are; undo checks them again, `--force` restores them.
    PartlyUndone,
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
            State::PartlyUndone => "partly undone",
        }
    }
    /// Whether `knob undo` has something to restore.
    pub fn undoable(self) -> bool {
        matches!(
            self,
            State::Pending
                | State::Applied
                | State::UndoFailed
                | State::RollbackFailed
                | State::PartlyUndone
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    Pending,
    Applied,
    Failed,
    RolledBack,
    RollbackFailed,
    Restored,
    RestoreFailed,
    /// Undo found another value than knob wrote and left it (see `found`).
    ChangedSince,
    /// Undo could not read the key, so left it as it was (see `found`).
    Unreadable,
}

impl ChangeStatus {
    /// Whether undo left the key as it was, to be checked again.
    pub fn left_by_undo(self) -> bool {
        matches!(self, ChangeStatus::ChangedSince | ChangeStatus::Unreadable)
    }
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
    /// Argv that name this key's new value, run after the plan's writes
    /// (`plasma-apply-colorscheme --accent-color #3584e4`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<Vec<String>>,
    /// The same argv given the value before: run by an undo that restored
    /// this key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undo_then: Vec<Vec<String>>,
    /// What the last undo found instead of `after` when it left the key as
    /// it was: the value now, or why it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
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
    /// Argv run after the writes (and again after an undo). Those that name
    /// a value are the changes' `then` and `undo_then` instead.
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
    #[error("journal entry {} is not read: it is {kind}, not a regular file; move it away or undo another plan with --id", .path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("journal entry {} is not read: it is {size} bytes, more than the {MAX_ENTRY_BYTES} bytes an entry may have; move it away or undo another plan with --id", .path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("journal entry {} has the largest possible id, so no entry can follow it; move it away to apply new plans", .path.display())]
    IdsExhausted { path: PathBuf },
    #[error("journal temporary directory {} is not a private directory of this user; move it away", .path.display())]
    BadTmpDir { path: PathBuf },
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

/// What a non-regular file is, for the error message.
fn file_kind(ft: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
    }
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else {
        "something else"
    }
}

/// Whether an open failed because its last component is a symbolic link
/// (O_NOFOLLOW), which can happen when one replaced the file after it was
/// checked.
fn is_symlink_error(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Reads a journal entry file: only a regular file, never through a
/// symbolic link, at most [`MAX_ENTRY_BYTES`].
fn read_regular(path: &Path) -> Result<Vec<u8>, JournalError> {
    let not_a_file = |kind| JournalError::NotAFile {
        path: path.to_path_buf(),
        kind,
    };
    // Checked before opening, so a FIFO or device is never opened at all.
    let meta = fs::symlink_metadata(path).map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(not_a_file(file_kind(meta.file_type())));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(open_flags());
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if is_symlink_error(&e) => return Err(not_a_file("a symbolic link")),
        Err(e) => return Err(io_err(path)(e)),
    };
    // The file opened may not be the one checked: check what is open.
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(not_a_file(file_kind(meta.file_type())));
    }
    let too_large = |size| JournalError::TooLarge {
        path: path.to_path_buf(),
        size,
    };
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Syncs a directory so a new or renamed file in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Creates a file that must not exist yet (O_EXCL: a link planted at the
/// name fails instead of being followed), readable by this user only.
fn new_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(open_flags());
    }
    options.open(path)
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

    /// The writers' lock, waiting for it (see [`super::lock`]).
    pub fn lock(&self) -> Result<super::lock::JournalLock, super::lock::LockError> {
        super::lock::JournalLock::acquire(&self.dir)
    }

    /// The writers' lock if it is free now.
    pub fn try_lock(&self) -> Result<super::lock::JournalLock, super::lock::LockError> {
        super::lock::JournalLock::try_acquire(&self.dir)
    }

    /// `.tmp` in the journal, created mode 0700; an existing one must be a
    /// real directory (not a link) that this user can make private.
    fn tmp_dir(&self) -> Result<PathBuf, JournalError> {
        let dir = self.dir.join(TMP_DIR);
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        match builder.create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&dir)(e)),
        }
        let meta = fs::symlink_metadata(&dir).map_err(io_err(&dir))?;
        if !meta.is_dir() {
            return Err(JournalError::BadTmpDir { path: dir });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                // Only its owner may change its mode.
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .map_err(|_| JournalError::BadTmpDir { path: dir.clone() })?;
            }
        }
        Ok(dir)
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
        let next = |id: u64| {
            id.checked_add(1).ok_or_else(|| JournalError::IdsExhausted {
                path: self.path(id),
            })
        };
        let mut id = match self.ids()?.last() {
            Some(&last) => next(last)?,
            None => 1,
        };
        loop {
            entry.id = id;
            let path = self.path(id);
            match new_file(&path) {
                Ok(mut f) => {
                    let text = serde_json::to_vec_pretty(entry).expect("journal entries serialize");
                    f.write_all(&text)
                        .and_then(|_| f.write_all(b"\n"))
                        .and_then(|_| f.sync_all())
                        .map_err(io_err(&path))?;
                    sync_dir(&self.dir).map_err(io_err(&self.dir))?;
                    return Ok(id);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => id = next(id)?,
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
    }

    /// Replaces an entry atomically (temporary file, sync, rename, sync).
    pub fn update(&self, entry: &Entry) -> Result<(), JournalError> {
        let path = self.path(entry.id);
        // A new file with a name no other writer uses, in a directory only
        // this user can write: nothing planted there can be followed.
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = self.tmp_dir()?.join(format!(
            "{:06}.{}.{}.tmp",
            entry.id,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let text = serde_json::to_vec_pretty(entry).expect("journal entries serialize");
        let write = || -> io::Result<()> {
            let mut f = new_file(&tmp)?;
            f.write_all(&text)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(&path)(e)
        })
    }

    fn read(&self, id: u64) -> Result<Entry, JournalError> {
        let path = self.path(id);
        let bytes = match read_regular(&path) {
            Ok(b) => b,
            Err(JournalError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(JournalError::NotFound(id))
            }
            Err(e) => return Err(e),
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

/// `YYYY-MM-DD HH:MM` UTC for unix seconds (for `knob history`); a time
/// past what a calendar date can hold (a hand-edited journal) as `@SECONDS`.
pub fn format_time(secs: u64) -> String {
    let Some(t) = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
    else {
        return format!("@{secs}");
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
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
            err.contains("written by a newer knob (format 7, this knob reads 2)"),
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

    /// Runs `f` on a thread and fails if it has not returned in 10 s (a
    /// FIFO opened for reading blocks until a writer comes).
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("blocked on a journal entry")
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_entry_is_reported_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        j.create(&mut entry(State::Applied)).unwrap();
        let fifo = dir.path().join("000002.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let j2 = j.clone();
        let (listed, target) = within_10s(move || (j2.list().unwrap(), j2.undo_target(None)));
        let err = listed[1].entry.as_ref().unwrap_err().to_string();
        assert!(
            err.contains("000002.json is not read: it is a FIFO, not a regular file"),
            "{err}"
        );
        let err = target.unwrap_err().to_string();
        assert!(err.contains("it is a FIFO"), "{err}");
        let j3 = j.clone();
        let err = within_10s(move || j3.undo_target(Some(2)).unwrap_err().to_string());
        assert!(err.contains("it is a FIFO"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_entry_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("000001.json")).unwrap();
        let j2 = j.clone();
        let err = within_10s(move || j2.undo_target(None).unwrap_err());
        assert!(
            matches!(
                err,
                JournalError::NotAFile {
                    kind: "a symbolic link",
                    ..
                }
            ),
            "{err}"
        );
        let listed = j.list().unwrap();
        assert!(listed[0].entry.is_err());
    }

    #[test]
    fn an_entry_over_the_size_cap_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        let f = File::create(dir.path().join("000001.json")).unwrap();
        f.set_len(MAX_ENTRY_BYTES + 1).unwrap();
        let err = j.undo_target(None).unwrap_err();
        assert!(
            matches!(err, JournalError::TooLarge { size, .. } if size == MAX_ENTRY_BYTES + 1),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("more than the 4194304 bytes an entry may have"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn update_does_not_follow_a_link_planted_at_a_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("journal"));
        let mut e = entry(State::Applied);
        j.create(&mut e).unwrap();
        let target = dir.path().join("precious");
        fs::write(&target, "keep").unwrap();
        // The name older knobs used for the temporary file.
        std::os::unix::fs::symlink(&target, j.dir().join("000001.json.tmp")).unwrap();
        e.state = State::Undone;
        j.update(&e).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(
            j.undo_target(Some(1)).unwrap_err().to_string(),
            "plan 1 cannot be undone: it is undone"
        );
        // The temporary directory is private and left empty.
        use std::os::unix::fs::PermissionsExt;
        let tmp = j.dir().join(TMP_DIR);
        assert_eq!(
            fs::metadata(&tmp).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_temporary_directory_that_is_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("journal"));
        let mut e = entry(State::Applied);
        j.create(&mut e).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, j.dir().join(TMP_DIR)).unwrap();
        let err = j.update(&e).unwrap_err();
        assert!(matches!(err, JournalError::BadTmpDir { .. }), "{err}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn the_largest_id_is_refused_instead_of_wrapping_to_0() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        j.create(&mut entry(State::Applied)).unwrap();
        fs::write(dir.path().join(format!("{}.json", u64::MAX)), "{}").unwrap();
        let err = j.create(&mut entry(State::Applied)).unwrap_err();
        assert!(matches!(err, JournalError::IdsExhausted { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("18446744073709551615.json has the largest possible id"),
            "{err}"
        );
        assert!(!dir.path().join("000000.json").exists());
        assert_eq!(j.list().unwrap().len(), 2);
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(format_time(951_825_600), "2000-02-29 12:00");
        assert_eq!(format_time(u64::MAX), "@18446744073709551615");
    }
}
