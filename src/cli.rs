//! Command-line definitions (clap derive). One variant per subcommand.
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "knob", version, about, long_about = None, after_help = crate::exit::EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure parts of knob on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// What `knob bench` measures.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The int8 matrix kernels: gemv and gemm on every CPU path, next to
    /// ggml and to the machine's memory read bandwidth.
    Kernels(BenchKernelsArgs),
}

#[derive(Debug, Args)]
pub struct BenchKernelsArgs {
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Fewer, shorter samples (a rough look in seconds).
    #[arg(long)]
    pub quick: bool,
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
