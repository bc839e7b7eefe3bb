//! `knob completions SHELL`.
use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Exit;

pub fn run(shell: clap_complete::Shell) -> anyhow::Result<Exit> {
    let mut out = crate::output::stdout();
    clap_complete::generate(shell, &mut Cli::command(), "knob", &mut out);
    Ok(Exit::Ok)
}
