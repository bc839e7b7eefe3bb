use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use knob::cli::{BenchCommand, Cli, Command, ModelCommand, SettingsCommand};
use knob::exit::{self, Exit};
use knob::{errln, outln, output};

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
            // A usage error (status 2); --json still gets its error object.
            if json_in_args() {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                print_json_error(Exit::Usage, first.trim_start_matches("error: "));
            }
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
    let json = prints_json(cli.command.as_ref());
    match knob::commands::run(cli) {
        Ok(exit) => exit.code(),
        Err(err) => {
            let exit = Exit::for_error(&err);
            let message = exit::message(&err);
            if json {
                print_json_error(exit, &message);
            }
            errln!("knob: error: {message}");
            exit.code()
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

fn print_json_error(exit: Exit, message: &str) {
    let json = exit::ErrorJson::new(exit, message);
    outln!(
        "{}",
        serde_json::to_string(&json).expect("an error object serializes")
    );
}

/// `--json` among the options (before any `--`), for errors found before
/// the arguments could be parsed.
fn json_in_args() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Whether the command's output is JSON, so that an error must be too.
fn prints_json(command: Option<&Command>) -> bool {
    let Some(command) = command else {
        return false;
    };
    match command {
        Command::Ask(a) => a.flags.json,
        // One JSON object per line, with or without --json.
        Command::Batch(_) => true,
        Command::Eval(a) => a.json,
        Command::Generate(a) => a.json,
        Command::Embed(a) => a.json,
        Command::Bench(BenchCommand::Kernels(a)) => a.json,
        Command::Bench(BenchCommand::Model(a)) => a.json,
        Command::Bench(BenchCommand::Agent(a)) => a.json,
        Command::Bench(BenchCommand::Arch(a)) => a.json,
        Command::Model(ModelCommand::Info { json, .. }) => *json,
        Command::Set(a) => a.flags.json,
        Command::Apply(a) => a.flags.json,
        Command::Get(a) => a.json,
        Command::Undo(a) => a.json,
        Command::History(a) => a.json,
        Command::Settings(SettingsCommand::List { json, .. }) => *json,
        Command::Settings(SettingsCommand::Show { json, .. }) => *json,
        Command::Settings(SettingsCommand::CheckProgram(a)) => a.json,
        // JSON is its only format.
        Command::Settings(SettingsCommand::Export { .. }) => true,
        Command::Settings(SettingsCommand::Check { .. })
        | Command::Settings(SettingsCommand::Vectors { .. })
        | Command::Settings(SettingsCommand::Search { .. })
        | Command::Config(_)
        | Command::Doctor
        | Command::Completions(_)
        | Command::Chat => false,
    }
}
