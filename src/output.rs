//! Standard output and standard error for every command, without panics.
//!
//! `println!` panics when stdout is a closed pipe (`knob … | head`) or a full
//! disk, and `writeln!(io::stdout(), …)?` would stop a command in the middle
//! of its work, an apply included. Here a write never fails: the first error
//! is kept, later output is dropped, and `main` reports the kept error once
//! the command has finished, so an apply in progress always completes and is
//! journaled first. Loops that only produce output ask [`closed`] to stop
//! early.
//!
//! Use [`out!`](crate::out) and [`outln!`](crate::outln) like `print!` and
//! `println!`, [`errln!`](crate::errln) like `eprintln!`, and [`stdout`] where
//! an `io::Write` is needed (serde_json, clap_complete).
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set by the first failed write to stdout.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// That write's error, for `main` to report.
static FIRST_ERROR: Mutex<Option<io::Error>> = Mutex::new(None);

/// Whether a write to stdout has failed: the reader is gone (or the disk is
/// full), so further output would be dropped.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

fn remember(err: io::Error) {
    let mut first = FIRST_ERROR.lock().unwrap_or_else(|p| p.into_inner());
    if first.is_none() {
        *first = Some(err);
    }
    CLOSED.store(true, Ordering::Relaxed);
}

/// Keeps `err` as a failed write to stdout made elsewhere (clap prints help
/// itself).
pub fn failed(err: io::Error) {
    remember(err);
}

/// Runs one write on locked stdout, unless an earlier one failed.
fn with_stdout(write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>) {
    if closed() {
        return;
    }
    if let Err(e) = write(&mut io::stdout().lock()) {
        remember(e);
    }
}

/// `print!` without the panic (see the module comment). Used by [`out!`](crate::out).
pub fn print(args: fmt::Arguments<'_>) {
    with_stdout(|out| out.write_fmt(args));
}

/// Writes `text` and flushes it at once (streamed model output).
pub fn print_now(text: &str) {
    with_stdout(|out| {
        out.write_all(text.as_bytes())?;
        out.flush()
    });
}

/// Flushes stdout; a failure is kept like a failed write.
pub fn flush() {
    with_stdout(|out| out.flush());
}

/// `eprint!` without the panic: a closed or full stderr loses the message,
/// and nothing else can be done about it.
pub fn eprint(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Flushes stdout and hands back the first error any write to it had.
pub fn finish() -> Option<io::Error> {
    flush();
    FIRST_ERROR.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// Standard output as an `io::Write` whose writes always succeed; see the
/// module comment for where errors go.
pub struct Stdout(());

/// Standard output for `write!`, `serde_json::to_writer` and the like.
pub fn stdout() -> Stdout {
    Stdout(())
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        with_stdout(|out| out.write_all(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        flush();
        Ok(())
    }
}

/// The error a loop returns to stop once stdout is closed; the command's
/// caller treats it as a normal end.
#[derive(Debug, thiserror::Error)]
#[error("standard output is closed")]
pub struct Closed;

/// `print!` through [`crate::output`]: never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::print(format_args!($($arg)*))
    };
}

/// `println!` through [`crate::output`]: never panics.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` through [`crate::output`]: never panics.
#[macro_export]
macro_rules! errln {
    () => {
        $crate::output::eprint(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::eprint(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every file under `dir` ending in `.rs`.
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// `print!` and friends panic on a closed pipe: nothing in src/ may use
    /// them (this file names them only in comments and here).
    #[test]
    fn no_command_prints_with_the_panicking_macros() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let banned = ["println!(", "print!(", "eprintln!(", "eprint!("];
        let mut found = Vec::new();
        for file in files.iter().filter(|f| !f.ends_with("output.rs")) {
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if banned.iter().any(|b| {
                    code.match_indices(b).any(|(i, _)| {
                        // `outln!(` and `errln!(` end in `ln!(` too: only the
                        // std names, not preceded by an identifier character.
                        !code[..i]
                            .chars()
                            .last()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                }) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "use out!/outln!/errln! (src/output.rs) instead:\n{}",
            found.join("\n")
        );
    }
}
