//! The writers' lock: an exclusive advisory lock (flock) on `.lock` in the
//! journal directory. Apply, undo and batch apply hold it from before they
//! read the values a plan starts from until their last journal write, so a
//! plan is never made against, or undone under, another knob's half-applied
//! changes. The operating system releases it when the holder exits, however
//! it exits.
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// The lock file's name inside the journal directory.
pub const LOCK_FILE: &str = ".lock";

/// Extra open(2) flags for every file knob opens in the journal directory
/// (this lock and the journal's records): a symbolic link fails instead of
/// being followed, and opening a FIFO returns at once instead of waiting for
/// a writer.
#[cfg(unix)]
pub(crate) fn open_flags() -> i32 {
    libc::O_NOFOLLOW | libc::O_NONBLOCK
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another knob is applying or undoing changes (it holds {}); try again when it is done, or leave out --no-wait to wait for it", .path.display())]
    Busy { path: PathBuf },
    #[error("journal lock {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("journal lock {} is not a regular file; move it away", .path.display())]
    NotAFile { path: PathBuf },
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct JournalLock {
    // Kept open: closing the file releases the lock.
    _file: File,
    path: PathBuf,
}

impl JournalLock {
    /// The lock file of the journal directory `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(LOCK_FILE)
    }

    /// Takes the lock if it is free; `Busy` when another process holds it.
    pub fn try_acquire(dir: &Path) -> Result<JournalLock, LockError> {
        let (file, path) = open(dir)?;
        match file.try_lock() {
            Ok(()) => Ok(JournalLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(LockError::Busy { path }),
            Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
        }
    }

    /// Waits until the lock is free and takes it.
    pub fn acquire(dir: &Path) -> Result<JournalLock, LockError> {
        let (file, path) = open(dir)?;
        match file.lock() {
            Ok(()) => Ok(JournalLock { _file: file, path }),
            Err(source) => Err(LockError::Io { path, source }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens (creating) the lock file: never through a symbolic link, never
/// blocking on a FIFO, and only a regular file.
fn open(dir: &Path) -> Result<(File, PathBuf), LockError> {
    let path = JournalLock::path_in(dir);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|source| LockError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(open_flags());
    }
    let file = options.open(&path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(LockError::NotAFile { path });
    }
    Ok((file, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_busy_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        let first = JournalLock::try_acquire(&journal).unwrap();
        // flock locks belong to the open file, so a second open in the same
        // process contends like another process would.
        assert!(matches!(
            JournalLock::try_acquire(&journal),
            Err(LockError::Busy { .. })
        ));
        drop(first);
        let again = JournalLock::try_acquire(&journal).unwrap();
        assert_eq!(again.path(), journal.join(LOCK_FILE));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_lock_path_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let journal = dir.path().join("journal");
        std::fs::create_dir(&journal).unwrap();
        std::os::unix::fs::symlink(&target, journal.join(LOCK_FILE)).unwrap();
        assert!(JournalLock::try_acquire(&journal).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
