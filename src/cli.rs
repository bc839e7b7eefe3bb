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
    /// Generate text with a GGUF model (text to stdout, statistics to stderr)
    Generate(GenerateArgs),
    /// Measure speed
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Inspect GGUF model files.
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// GGUF model file
    #[arg(long, value_name = "FILE")]
    pub model: std::path::PathBuf,
    /// Wrap the prompt in the model's chat template as a user message
    #[arg(long)]
    pub chat: bool,
    /// System message (with --chat)
    #[arg(long, value_name = "TEXT", requires = "chat")]
    pub system: Option<String>,
    /// Most tokens to generate
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy (always the most likely token)
    #[arg(long, value_name = "T", default_value_t = 0.8)]
    pub temp: f32,
    /// Keep only the K most likely tokens (0 = off)
    #[arg(long, value_name = "K", default_value_t = 40)]
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches P (1 = off)
    #[arg(long, value_name = "P", default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than P times the most likely one (0 = off)
    #[arg(long, value_name = "P", default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalty for tokens among the last 64 (1 = off)
    #[arg(long, value_name = "R", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// Random seed; the same seed and settings give the same text
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Threads for the matrix kernels (default: all cores, at most 8)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print one JSON object with the text and statistics at the end instead of streaming
    #[arg(long)]
    pub json: bool,
    /// The prompt; read from standard input when absent
    pub prompt: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The int8 matrix kernels: gemv and gemm on every CPU path, next to
    /// ggml and to the machine's memory read bandwidth.
    Kernels(BenchKernelsArgs),
    /// Prefill (64 and 512 tokens) and decode (128 tokens) speed of a GGUF model, 1 and 2 threads
    Model(BenchModelArgs),
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

#[derive(Debug, clap::Args)]
pub struct BenchModelArgs {
    /// GGUF model file
    #[arg(long, value_name = "FILE")]
    pub model: std::path::PathBuf,
    /// Runs per test; the median is reported
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub reps: usize,
    /// Print a JSON report
    #[arg(long)]
    pub json: bool,
    /// Thread counts to measure
    #[arg(long, value_name = "N,...", value_delimiter = ',', default_values_t = [1usize, 2])]
    pub threads: Vec<usize>,
    /// Skip llama.cpp when built with the `llama-cpp` feature
    #[arg(long)]
    pub no_llama_cpp: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Print a GGUF file's metadata and a table of its tensors.
    Info {
        /// The GGUF file.
        file: std::path::PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Print long arrays and strings in full.
        #[arg(long)]
        full: bool,
    },
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
