//! One module per subcommand; `run` loads the config once and dispatches.
use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::exit::Exit;

pub mod apply;
pub mod ask;
pub mod batch;
pub mod bench;
mod bench_agent;
mod bench_model;
pub mod chat;
mod chat_assistant;
mod check_program;
mod completions;
mod config;
mod doctor;
pub mod eval;
mod generate;
pub mod get;
pub mod history;
pub mod model;
pub mod set;
pub mod settings;
mod settings_ui;
pub mod undo;

/// What every subcommand may need besides its own arguments.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub ignore_config: bool,
}

impl Context {
    /// Loads the config named by the global flags. An invalid config is an
    /// error unless --ignore-config was given.
    pub fn from_args(global: &crate::cli::GlobalArgs) -> anyhow::Result<Context> {
        let config_path = global.config.clone().or_else(crate::config::default_path);
        let config = match (&config_path, global.ignore_config) {
            (Some(path), false) => Config::load(path).context("invalid config")?,
            _ => Config::default(),
        };
        Ok(Context {
            config,
            config_path,
            ignore_config: global.ignore_config,
        })
    }
}

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
    if let Some(p) = ctx.config.platform.as_deref().and_then(|p| p.parse().ok()) {
        let _ = settings_ui::CONFIG_PLATFORM.set(p);
    }
    match cli.command {
        // `knob` alone opens the chat interface on a terminal; elsewhere it
        // says how to use `knob ask` and `knob batch` instead (exit 2).
        None => chat::run(&ctx, crate::cli::ChatArgs { model: None }),
        Some(Command::Chat(args)) => chat::run(&ctx, args),
        Some(Command::Ask(args)) => ask::run(&ctx, args),
        Some(Command::Batch(args)) => batch::run(&ctx, args),
        Some(Command::Eval(args)) => eval::run(&ctx, args),
        Some(Command::Config(args)) => config::run(&ctx, &args.action),
        Some(Command::Doctor) => doctor::run(&ctx),
        Some(Command::Completions(args)) => completions::run(args.shell),
        Some(Command::Generate(args)) => generate::run(args),
        Some(Command::Bench(cmd)) => bench::run(&ctx, cmd),
        Some(Command::Model(cmd)) => model::run(cmd),
        Some(Command::Set(args)) => set::run(args),
        Some(Command::Get(args)) => get::run(args),
        Some(Command::Apply(args)) => apply::run(args),
        Some(Command::Undo(args)) => undo::run(args),
        Some(Command::History(args)) => history::run(args),
        Some(Command::Settings(cmd)) => settings::run(cmd),
    }
}
