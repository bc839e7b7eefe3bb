use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use knob::cli::Cli;
use knob::exit::Exit;

fn main() -> ExitCode {
    let mut command = Cli::command();
    // Hashing the embedded model costs a few milliseconds: only for --version.
    if std::env::args_os().any(|a| a == "--version") {
        command = command.long_version(knob::version::long_version());
    }
    let cli = match command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with status 0, usage errors with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            });
        }
    };
    match knob::commands::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let mut stderr = io::stderr().lock();
            let _ = write!(stderr, "knob: error: {err}");
            for cause in err.chain().skip(1) {
                let _ = write!(stderr, ": {cause}");
            }
            let _ = writeln!(stderr);
            ExitCode::from(Exit::for_error(&err).code())
        }
    }
}

/// A closed pipe (`knob ... | head`) is a normal way for a reader to stop.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
