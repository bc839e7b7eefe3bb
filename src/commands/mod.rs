//! One module per subcommand; `run` dispatches the parsed command line.
use crate::cli::{Cli, Command};

pub mod bench_model;
pub mod generate;
use crate::exit::Exit;

pub mod model;
pub mod bench;

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(Exit::Ok)
        }
        Some(command) => match command {
            Command::Generate(args) => generate::run(args),
            Command::Bench(cmd) => bench::run(cmd),
            Command::Model(cmd) => model::run(cmd),
        },
    }
}
