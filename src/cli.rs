//! Command-line definitions (clap derive). One variant per subcommand.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "knob",
    version,
    about,
    long_about = None,
    after_help = crate::exit::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Read the config from PATH instead of the default location.
    #[arg(long, global = true, value_name = "PATH", env = "KNOB_CONFIG")]
    pub config: Option<PathBuf>,

    /// Ignore the config file (also an invalid one) and use the defaults.
    #[arg(long, global = true)]
    pub ignore_config: bool,

    /// When to use colour. NO_COLOR in the environment means never.
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<ColorChoice>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show where the config file is, or what it holds.
    Config(ConfigArgs),
    /// Print a shell completion script to stdout.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the path of the config file (it need not exist).
    Path,
    /// Print the config in effect, as TOML.
    Show,
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
