//! One module per subcommand; `run` loads the config once and dispatches.
use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

pub mod apply;
pub mod ask;
pub mod batch;
pub mod bench;
mod bench_agent;
mod bench_arch;
mod bench_kernels;
mod bench_model;
pub mod chat;
mod chat_assistant;
mod check_program;
mod completions;
mod config;
mod context;
mod doctor;
mod embed;
pub mod eval;
mod generate;
pub mod get;
pub mod history;
pub mod json_schema;
pub mod model;
mod paint;
pub mod set;
pub mod settings;
pub mod settings_ui;
pub mod undo;

pub use context::{resolve_color, Context, OutputStyle};

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    // `knob config path` must work even when the config is broken.
    let ignore = cli.global.ignore_config
        || matches!(&cli.command, Some(Command::Config(a)) if matches!(a.action, crate::cli::ConfigAction::Path));
    let ctx = Context::from_args(&crate::cli::GlobalArgs {
        ignore_config: ignore,
        ..cli.global.clone()
    })?;
    // A bad KNOB_ISA is an error here, before any kernel would panic on it.
    knob_kernels::isa_from_env().context("KNOB_ISA")?;
    match cli.command {
        // `knob` alone opens the chat interface on a terminal; elsewhere it
        // says how to use `knob ask` and `knob batch` instead (exit 2).
        None | Some(Command::Chat) => chat::run(&ctx),
        Some(Command::Ask(args)) => ask::run(&ctx, args),
        Some(Command::Batch(args)) => batch::run(&ctx, args),
        Some(Command::Eval(args)) => eval::run(&ctx, args),
        Some(Command::Config(args)) => config::run(&ctx, &args.action),
        Some(Command::Doctor) => doctor::run(&ctx),
        Some(Command::Completions(args)) => completions::run(args.shell),
        Some(Command::Generate(args)) => generate::run(&ctx, args),
        Some(Command::Embed(args)) => embed::run(&ctx, args),
        Some(Command::Bench(cmd)) => bench::run(&ctx, cmd),
        Some(Command::Model(cmd)) => model::run(cmd),
        Some(Command::Set(args)) => set::run(&ctx, args),
        Some(Command::Get(args)) => get::run(&ctx, args),
        Some(Command::Apply(args)) => apply::run(&ctx, args),
        Some(Command::Undo(args)) => undo::run(&ctx, args),
        Some(Command::History(args)) => history::run(&ctx, args),
        Some(Command::Settings(cmd)) => settings::run(cmd, ctx.platform_flag(), &ctx),
    }
}
