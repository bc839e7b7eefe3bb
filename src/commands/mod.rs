//! One module per subcommand; `run` dispatches the parsed command line.
use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub mod bench;

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(Exit::Ok)
        }
        Some(command) => match command {
            Command::Bench(cmd) => bench::run(cmd),
        },
    }
}
