//! One module per subcommand; `run` loads the config once and dispatches.
use std::path::PathBuf;

use std::sync::Arc;

use anyhow::{anyhow, Context as _};

use crate::cli::{Cli, Command};
use crate::config::{ColorChoice, Config};
use crate::exit::Exit;
use crate::settings::{paths, platform, Journal, Platform, RealSystem, System};

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
mod embed;
pub mod eval;
mod generate;
pub mod get;
pub mod history;
pub mod model;
pub mod set;
pub mod settings;
pub mod settings_ui;
pub mod undo;

/// What every subcommand may need besides its own arguments, built once in
/// [`run`] and passed down: nothing below reads a global for these.
pub struct Context {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub ignore_config: bool,
    /// The platform a command plans for when it gets no `--platform`: the
    /// config's, else the detected one; or why none could be detected.
    default_platform: Result<Platform, String>,
    /// Every backend command runs through this: the real machine, or a fake
    /// one that a library caller injects.
    system: Arc<dyn System + Send + Sync>,
    /// `None` when no data directory can be found.
    journal: Option<Journal>,
    /// How output looks, from the global flags and the config.
    pub style: OutputStyle,
}

/// How output looks. `--json` and `--verbose` are each command's own flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputStyle {
    /// `--color`, else the config's `color`, else auto (NO_COLOR means never).
    pub color: ColorChoice,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("config_path", &self.config_path)
            .field("default_platform", &self.default_platform)
            .field("journal", &self.journal)
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Loads the config named by the global flags. An invalid config is an
    /// error unless --ignore-config was given. The system is the real one,
    /// the journal the one in the data directory.
    pub fn from_args(global: &crate::cli::GlobalArgs) -> anyhow::Result<Context> {
        let config_path = global.config.clone().or_else(crate::config::default_path);
        let config = match (&config_path, global.ignore_config) {
            (Some(path), false) => Config::load(path).context("invalid config")?,
            _ => Config::default(),
        };
        let color = global.color.or(config.color).unwrap_or(ColorChoice::Auto);
        let mut ctx = Context::new(config, Arc::new(RealSystem::new()));
        ctx.config_path = config_path;
        ctx.ignore_config = global.ignore_config;
        ctx.style.color = color;
        ctx.journal = paths::journal_dir().map(Journal::new);
        Ok(ctx)
    }

    /// A context over `config` and `system`, with no journal (add one with
    /// [`Context::with_journal`]). The platform is the config's, else the
    /// one detected from `XDG_CURRENT_DESKTOP`.
    pub fn new(config: Config, system: Arc<dyn System + Send + Sync>) -> Context {
        let from_config = config.platform.as_deref().and_then(|p| p.parse().ok());
        let default_platform = match from_config {
            Some(p) => Ok(p),
            None => detected_platform(),
        };
        Context {
            config,
            config_path: None,
            ignore_config: false,
            default_platform,
            system,
            journal: None,
            style: OutputStyle {
                color: ColorChoice::Auto,
            },
        }
    }

    /// Plans for `platform` whenever a command gets no `--platform`.
    pub fn with_platform(mut self, platform: Platform) -> Context {
        self.default_platform = Ok(platform);
        self
    }

    /// Applies and undoes with the journal in `journal`.
    pub fn with_journal(mut self, journal: Journal) -> Context {
        self.journal = Some(journal);
        self
    }

    /// The one rule: the `--platform` flag, else the config's platform,
    /// else the detected one.
    pub fn platform(&self, flag: Option<Platform>) -> anyhow::Result<Platform> {
        match (flag, &self.default_platform) {
            (Some(p), _) | (None, &Ok(p)) => Ok(p),
            (None, Err(e)) => Err(anyhow!(e.clone())),
        }
    }

    /// The system every backend command goes through.
    pub fn system(&self) -> &(dyn System + Send + Sync) {
        self.system.as_ref()
    }

    /// A handle on the system for a thread that outlives this borrow (the
    /// chat interface's worker).
    pub fn shared_system(&self) -> Arc<dyn System + Send + Sync> {
        Arc::clone(&self.system)
    }

    /// The journal, or why there is none.
    pub fn journal(&self) -> anyhow::Result<&Journal> {
        self.journal.as_ref().ok_or_else(|| {
            anyhow!("cannot find a data directory for the journal (set KNOB_DATA_DIR)")
        })
    }
}

/// This machine's platform, from `XDG_CURRENT_DESKTOP` (and the OS).
pub fn detected_platform() -> Result<Platform, String> {
    let desktop = std::env::var("XDG_CURRENT_DESKTOP").ok();
    platform::detect(desktop.as_deref())
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
        Some(Command::Embed(args)) => embed::run(args),
        Some(Command::Bench(cmd)) => bench::run(&ctx, cmd),
        Some(Command::Model(cmd)) => model::run(cmd),
        Some(Command::Set(args)) => set::run(&ctx, args),
        Some(Command::Get(args)) => get::run(&ctx, args),
        Some(Command::Apply(args)) => apply::run(&ctx, args),
        Some(Command::Undo(args)) => undo::run(&ctx, args),
        Some(Command::History(args)) => history::run(&ctx, args),
        Some(Command::Settings(cmd)) => settings::run(cmd),
    }
}
