//! Command-line definitions (clap derive). One variant per subcommand.
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "knob", version, about, long_about = None, after_help = crate::exit::EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the terminal chat interface (also what `knob` alone does on a terminal).
    Chat(ChatArgs),
}

#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// A GGUF chat model to load for requests that are not about settings.
    #[arg(long, value_name = "FILE")]
    pub model: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
