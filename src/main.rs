use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use knob::cli::Cli;
use knob::exit::Exit;
use knob::{errln, output};

fn main() -> ExitCode {
    let status = run();
    ExitCode::from(finish_output(status))
}

/// Runs the command and reports its error; the exit status.
fn run() -> u8 {
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
        Err(e) if e.use_stderr() => {
            // A usage error: status 2.
            let _ = e.print();
            return Exit::Usage.code();
        }
        Err(e) => {
            // Help and version go to stdout, through clap's own printer.
            if let Err(err) = e.print() {
                output::failed(err);
            }
            return Exit::Ok.code();
        }
    };
    match knob::commands::run(cli) {
        Ok(exit) => exit.code(),
        Err(err) => {
            let mut message = err.to_string();
            for cause in err.chain().skip(1) {
                message.push_str(&format!(": {cause}"));
            }
            errln!("knob: error: {message}");
            Exit::Error.code()
        }
    }
}

/// A closed stdout (`knob … | head`) is a normal way for a reader to stop:
/// the command's own status stands. Any other failed write (a full disk)
/// lost output, which is an error.
fn finish_output(status: u8) -> u8 {
    match output::finish() {
        None => status,
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => status,
        Some(e) => {
            errln!("knob: error: cannot write to standard output: {e}");
            Exit::Error.code()
        }
    }
}
