//! One module per subcommand; `run` dispatches the parsed command line.
use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub mod chat;

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        // `knob` alone opens the chat interface on a terminal; elsewhere it
        // says how to use `knob ask` and `knob batch` instead (exit 2).
        None => chat::run(crate::cli::ChatArgs { model: None }),
        Some(command) => match command {
            Command::Chat(args) => chat::run(args),
        },
    }
}
