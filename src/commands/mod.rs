//! One module per subcommand; `run` dispatches the parsed command line.
use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub mod chat;

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        // `knob` alone opens the chat interface on a terminal.
        None if chat::on_terminal() => chat::run(crate::cli::ChatArgs { model: None }),
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(Exit::Ok)
        }
        Some(command) => match command {
            Command::Chat(args) => chat::run(args),
        },
    }
}
