//! One module per subcommand; `run` dispatches the parsed command line.
use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub mod apply;
pub mod get;
pub mod history;
pub mod set;
pub mod settings;
mod settings_ui;
pub mod undo;

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(Exit::Ok)
        }
        Some(command) => match command {
            Command::Set(args) => set::run(args),
            Command::Get(args) => get::run(args),
            Command::Apply(args) => apply::run(args),
            Command::Undo(args) => undo::run(args),
            Command::History(args) => history::run(args),
            Command::Settings(cmd) => settings::run(cmd),
        },
    }
}
