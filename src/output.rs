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
