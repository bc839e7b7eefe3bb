//! Command-line definitions (clap derive). One variant per subcommand.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::ColorChoice;
use crate::settings::Platform;

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

/// Options every subcommand accepts, before or after its name (`knob
/// --platform kde ask ...` is `knob ask ... --platform kde`).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Read the config from PATH instead of the default location.
    #[arg(long, global = true, value_name = "PATH", env = "KNOB_CONFIG")]
    pub config: Option<PathBuf>,

    /// Ignore the config file (also an invalid one) and use the defaults.
    #[arg(long, global = true)]
    pub ignore_config: bool,

    /// When to use colour: auto (on a terminal), always or never.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        long_help = "When to use colour: auto (when the output is a terminal), always \
(also into a pipe or file) or never. --color always and --color never win over NO_COLOR; \
otherwise a non-empty NO_COLOR in the environment means never, and then the config's \
`color` applies."
    )]
    pub color: Option<ColorChoice>,

    /// Plan for this platform instead of the detected one: gnome, kde, macos or windows.
    #[arg(
        long,
        global = true,
        value_name = "PLATFORM",
        long_help = "Plan for this platform (read, apply and show settings for it): gnome, \
kde, macos or windows. Without it, the config's `platform`; else the detected one: macOS \
and Windows by the OS, else the desktop session (XDG_CURRENT_DESKTOP, XDG_SESSION_DESKTOP, \
DESKTOP_SESSION, KDE_FULL_SESSION), else a guess from the tools installed (gsettings with \
GNOME's schemas, kreadconfig6/5), said once on stderr. Applying on a guessed platform asks \
first; without a terminal it needs --platform or --yes. Used by ask, batch, set, get, \
apply and the chat interface; `settings list` shows only this platform's settings."
    )]
    pub platform: Option<Platform>,

    /// Threads for the models (default: the config's `threads`, else per command).
    #[arg(
        long,
        global = true,
        value_name = "N",
        value_parser = parse_threads,
        long_help = "Threads for the models. ask: the settings model (default 1) and the \
chat model; batch and eval: workers, one request each at a time (default: all cores); \
chat, generate and embed: the matrix kernels (default: all cores, at most 8); bench model: \
the one count to measure (default 1 and 2). The config's `threads` is the default where \
it is set, except for bench model."
    )]
    pub threads: Option<usize>,

    /// A GGUF model: the chat model (ask, chat), or the model to run (generate, embed, bench model).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        long_help = "A GGUF model file. ask, chat and knob alone: the chat model that \
answers requests not about settings (default: the config's `chat_model`). generate, \
embed and bench model: the model to run (required there; embed takes a BERT model)."
    )]
    pub model: Option<PathBuf>,

    /// A settings model (mu GGUF) to use instead of the embedded one.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        long_help = "A settings model (a mu GGUF file, as train/run-v2.sh writes) to use \
instead of the one built into knob: ask, batch, eval, bench agent and the chat interface \
understand requests with it, and settings search ranks by its encoder. For trying a freshly trained model before it is built in."
    )]
    pub settings_model: Option<PathBuf>,

    /// KV cache of the chat model (chat, ask, generate, bench model): f16 (default) or f32.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "TYPE",
        long_help = "Element type of the chat model's KV cache (ask, chat, generate and bench \
model): f16 (the default, as llama.cpp: half the memory, keys and values rounded to the \
nearest half) or f32."
    )]
    pub kv: Option<crate::model::kv_cache::KvType>,
}

/// `--threads`: a whole number of at least 1.
fn parse_threads(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is not a whole number")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Understand one request and show the plan (apply it with --apply).
    #[command(after_help = crate::exit::EXIT_CODES_HELP)]
    Ask(AskArgs),
    /// Understand many requests, one per line (plain text or JSONL), as JSON lines.
    #[command(after_help = crate::exit::EXIT_CODES_HELP)]
    Batch(BatchArgs),
    /// Measure the settings model's accuracy on a JSONL file of requests and expected actions.
    Eval(EvalArgs),
    /// Show where the config file is, or what it holds.
    Config(ConfigArgs),
    /// Check what knob sees here: platform, tools, CPU kernels, files, journal.
    Doctor,
    /// Print a shell completion script to stdout.
    Completions(CompletionsArgs),
    /// Generate text with the GGUF model of --model (text to stdout, statistics to stderr)
    Generate(GenerateArgs),
    /// Print sentence vectors from the BERT embedding model of --model (all-MiniLM-L6-v2 GGUF).
    Embed(EmbedArgs),
    /// Measure speed
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Inspect GGUF model files.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Open the terminal chat interface (also what `knob` alone does on a terminal).
    Chat,
    /// Plan a change to one setting; with --apply, make it.
    Set(SetArgs),
    /// Show a setting's current value.
    Get(GetArgs),
    /// Plan a preset's values; with --apply, make them.
    Apply(ApplyArgs),
    /// Revert the last applied plan (or the plan --id N).
    Undo(UndoArgs),
    /// List applied plans, newest last.
    History(HistoryArgs),
    /// Inspect and check the settings catalog.
    #[command(subcommand)]
    Settings(SettingsCommand),
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The request in plain words; read from standard input when absent.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Also show the model's n-best list with probabilities.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Input file, one request per line or JSONL {"id": ..., "query": ...}; `-` or absent: standard input.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Print full plan objects (the default prints them too; kept for symmetry with ask).
    #[arg(long)]
    pub json: bool,
    /// Apply each plan (needs --yes).
    #[arg(long, requires = "yes")]
    pub apply: bool,
    /// Apply without asking; required with --apply.
    #[arg(long)]
    pub yes: bool,
    /// If another knob is applying or undoing changes, fail at once (exit 5)
    /// instead of waiting for it to finish.
    #[arg(long)]
    pub no_wait: bool,
    /// Also give each line the model's n-best list with probabilities
    /// (`candidates`), as `knob ask --explain` does.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// JSONL file of {"query": ..., "expect": [actions]}.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print one JSON report.
    #[arg(long)]
    pub json: bool,
    /// Failures to list (all with --json).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub show: usize,
}

#[derive(Debug, clap::Args)]
pub struct BenchAgentArgs {
    /// Queries, one per line or JSONL with "query" (default: the built-in natural-request set)
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// Passes over the queries
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub reps: usize,
    /// Print a JSON report
    #[arg(long)]
    pub json: bool,
    /// Skip the JAX baseline
    #[arg(long)]
    pub no_jax: bool,
    /// Python of train/'s venv, for the JAX baseline
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
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

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
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
    /// Print one JSON object with the text and statistics at the end instead of streaming
    #[arg(long)]
    pub json: bool,
    /// The prompt; read from standard input when absent
    pub prompt: Option<String>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "--model is a GGUF file of a BERT model (general.architecture = bert), as \
llama.cpp's converter or train/knobtrain/bert_gguf.py writes it. \
Each text gives one line: its vector's values separated by spaces \
(or, with --json, one JSON object). Vectors are L2-normalized, as sentence-transformers \
makes them, so the cosine similarity of two texts is the dot product of their lines."
)]
pub struct EmbedArgs {
    /// Print one JSON object per text: {"model", "dimensions", "tokens", "embedding"}
    #[arg(long)]
    pub json: bool,
    /// Cut texts longer than the model's context (512 tokens) instead of refusing them
    #[arg(long)]
    pub truncate: bool,
    /// Print the pooled vector as it is, without scaling it to unit length
    #[arg(long)]
    pub no_normalize: bool,
    /// Texts to embed, one vector each; read one per line from standard input when absent
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The int8 matrix kernels: gemv and gemm on every CPU path, next to
    /// ggml and to the machine's memory read bandwidth.
    Kernels(BenchKernelsArgs),
    /// Prefill (64 and 512 tokens) and decode (128 tokens) speed of the GGUF model of --model, on 1 and 2 threads (or --threads N)
    Model(BenchModelArgs),
    /// Latency and throughput of the settings agent, side by side with the same model in JAX
    Agent(BenchAgentArgs),
    /// Two settings models side by side (encoder-decoder vs decoder-only, issue 19): first-token time, decode speed, latency, throughput, accuracy
    Arch(BenchArchArgs),
}

#[derive(Debug, clap::Args)]
pub struct BenchArchArgs {
    /// The settings model to compare with the baseline (e.g. a decoder-only one from train/run-arch.sh)
    #[arg(long, value_name = "FILE")]
    pub compare: PathBuf,
    /// Passes over the queries (the baseline is the global --settings-model, else the embedded model)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub reps: usize,
    /// Hypotheses beam search keeps, for both models
    #[arg(long, value_name = "N", default_value_t = crate::agent::pipeline::DEFAULT_BEAM_WIDTH)]
    pub beam_width: usize,
    /// Thread counts to measure (default: 1,2)
    #[arg(long, value_name = "N,...", value_delimiter = ',',
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub threads: Vec<usize>,
    /// Query lengths in tokens for the sweep (default: 8,16,32,64)
    #[arg(long, value_name = "N,...", value_delimiter = ',',
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=512))]
    pub lengths: Vec<usize>,
    /// Accuracy files, JSONL as `knob eval` reads (default: train/eval/heldout.jsonl,
    /// train/eval/phrases-heldout.jsonl, tests/data/natural_requests.jsonl)
    #[arg(long, value_name = "FILE")]
    pub accuracy: Vec<PathBuf>,
    /// Skip the accuracy rows
    #[arg(long)]
    pub no_accuracy: bool,
    /// Print a JSON report
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchKernelsArgs {
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Fewer, shorter samples (a rough look in seconds).
    #[arg(long)]
    pub quick: bool,
    /// Only the shapes whose name contains this text (e.g. `attn`, `dram`).
    #[arg(long, value_name = "TEXT")]
    pub shape: Option<String>,
    /// Thread counts to measure (default: 1,2).
    #[arg(long, value_name = "N,...", value_delimiter = ',',
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub threads: Vec<usize>,
}

#[derive(Debug, clap::Args)]
pub struct BenchModelArgs {
    /// Runs per test; the median is reported
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub reps: usize,
    /// Print a JSON report
    #[arg(long)]
    pub json: bool,
    /// Skip llama.cpp when built with the `llama-cpp` feature
    #[arg(long)]
    pub no_llama_cpp: bool,
    /// Instead, time each part of knob's decode (128 tokens, --reps times) on 1 thread (or --threads N) and print the shares
    #[arg(long, conflicts_with = "json")]
    pub profile: bool,
    /// With --profile: time the parts of a prefill of N prompt tokens (1 to 512) instead of decode; the rows are per prompt token
    #[arg(long, value_name = "N", requires = "profile",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=512))]
    pub prefill: Option<usize>,
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

/// Flags shared by the commands that plan and apply changes.
#[derive(Debug, Args)]
pub struct PlanFlags {
    /// Print the plan (and the result) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Make the changes. Without it knob only shows the plan.
    #[arg(long)]
    pub apply: bool,
    /// Apply without asking (needed when there is no terminal to ask on).
    #[arg(long, requires = "apply")]
    pub yes: bool,
    /// If another knob is applying or undoing changes, fail at once (exit 5)
    /// instead of waiting for it to finish.
    #[arg(long)]
    pub no_wait: bool,
    /// Show the exact commands that run.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The setting's id, such as appearance.dark_mode (see `knob settings list`).
    pub setting: String,
    /// The new value: on/off, a number with an optional unit (50%, 1.5x,
    /// 20 minutes), an enum name, or text. Relative: toggle, up, down, +=N, -=N.
    #[arg(allow_hyphen_values = true)]
    pub value: String,
    #[command(flatten)]
    pub flags: PlanFlags,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The setting's id.
    pub setting: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The preset's name, such as night (see `knob settings list`).
    pub preset: String,
    #[command(flatten)]
    pub flags: PlanFlags,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// Undo this plan (an id from `knob history`) instead of the last one.
    #[arg(long, value_name = "N")]
    pub id: Option<u64>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show the exact commands that ran.
    #[arg(long, short)]
    pub verbose: bool,
    /// Restore every key, also one changed since knob set it (or that
    /// cannot be read); without it such a key is left as it is.
    #[arg(long)]
    pub force: bool,
    /// If another knob is applying or undoing changes, fail at once (exit 5)
    /// instead of waiting for it to finish.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// List settings and presets.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one setting (or preset) in full.
    Show {
        /// A setting id or a preset name.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check profile and preset files (default: the shipped and user catalog).
    Check {
        /// Files to check together with the catalog.
        paths: Vec<PathBuf>,
    },
    /// Check action programs (docs/action-grammar.md) against the catalog,
    /// as the engine parses them; exit status 1 if any is invalid.
    CheckProgram(CheckProgramArgs),
    /// Print the whole catalog, presets included, as JSON.
    Export {
        /// Print JSON (the only format).
        #[arg(long)]
        json: bool,
    },
    /// Search the catalog as the assistant's fallback does: settings and
    /// presets ranked by their words (BM25) and, with a settings model that
    /// has a sentence encoder, by meaning; a search, never a change.
    Search {
        /// What to look for, in plain words.
        #[arg(value_name = "QUERY", required = true)]
        query: Vec<String>,
        /// Results to show.
        #[arg(long, value_name = "N", default_value_t = 5)]
        limit: usize,
    },
    /// Embed the catalog's phrases with the settings model and write them
    /// for semantic search (assets/search-vectors.bin; train/run-v2.sh runs
    /// it after exporting a model). `--settings-model FILE` embeds with that
    /// model instead of the embedded one.
    #[command(hide = true)]
    Vectors {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        write: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CheckProgramArgs {
    /// Programs to check, such as "set sound.volume 30 ; preset night";
    /// read from standard input, one per line, when absent.
    #[arg(value_name = "PROGRAM")]
    pub programs: Vec<String>,
    /// Check against this catalog (the JSON of `knob settings export --json`)
    /// instead of knob's own.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Print one JSON object per program, in input order: program, valid,
    /// error, actions, targets.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Cli {
        let mut argv = vec!["knob"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn global_flags_parse_before_and_after_the_subcommand() {
        let flags = [
            "--platform",
            "kde",
            "--threads",
            "3",
            "--model",
            "m.gguf",
            "--color",
            "never",
        ];
        for cli in [
            parse(&flags),
            parse(&[&flags[..], &["chat"]].concat()),
            parse(&[&["chat"], &flags[..]].concat()),
            parse(&[&["ask", "dark mode"], &flags[..]].concat()),
            parse(&[&flags[..4], &["settings", "list"], &flags[4..]].concat()),
        ] {
            let g = &cli.global;
            assert_eq!(g.platform, Some(Platform::Kde));
            assert_eq!(g.threads, Some(3));
            assert_eq!(g.model.as_deref(), Some(std::path::Path::new("m.gguf")));
            assert_eq!(g.color, Some(ColorChoice::Never));
        }
        assert!(parse(&[]).command.is_none());
        assert!(matches!(parse(&["chat"]).command, Some(Command::Chat)));
        assert!(Cli::try_parse_from(["knob", "chat", "extra"]).is_err());
        assert!(Cli::try_parse_from(["knob", "--threads", "0"]).is_err());
    }
}
