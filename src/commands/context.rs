//! What every subcommand gets besides its own arguments.
use std::ffi::OsStr;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, Context as _};

use crate::agent::respond::Env;
use crate::config::{ColorChoice, Config};
use crate::settings::platform::{self, Detection, Surroundings};
use crate::settings::{paths, Catalog, Journal, Platform, RealSystem, System};

/// What every subcommand may need besides its own arguments, built once in
/// [`super::run`] and passed down: nothing below reads a global for these.
pub struct Context {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub ignore_config: bool,
    /// `--platform` (or [`Context::with_platform`]).
    platform_flag: Option<Platform>,
    /// `--threads`.
    threads_flag: Option<usize>,
    /// `--model`.
    model_flag: Option<PathBuf>,
    /// `--settings-model`.
    settings_model: Option<PathBuf>,
    /// The detected platform, found the first time a command needs one.
    detected: OnceLock<Detection>,
    /// Whether a guessed platform has been announced on stderr.
    announced: AtomicBool,
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
    /// What [`resolve_color`] made of `--color`, NO_COLOR and the config.
    pub color: ColorChoice,
}

impl OutputStyle {
    /// Whether to colour standard output: always, never, or (auto) when it
    /// is a terminal.
    pub fn stdout_color(&self) -> bool {
        self.colors(std::io::stdout().is_terminal())
    }

    /// Whether to colour an output that is (or is not) a terminal.
    pub fn colors(&self, terminal: bool) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal,
        }
    }
}

/// When to colour: `--color` always or never wins; else a non-empty
/// NO_COLOR means never (<https://no-color.org>); else the config's `color`;
/// else auto (colour on a terminal). `--color auto` defers to NO_COLOR too.
pub fn resolve_color(
    flag: Option<ColorChoice>,
    config: Option<ColorChoice>,
    no_color: Option<&OsStr>,
) -> ColorChoice {
    let no_color = no_color.is_some_and(|v| !v.is_empty());
    match flag {
        Some(ColorChoice::Always) => ColorChoice::Always,
        Some(ColorChoice::Never) => ColorChoice::Never,
        _ if no_color => ColorChoice::Never,
        Some(ColorChoice::Auto) => ColorChoice::Auto,
        None => config.unwrap_or(ColorChoice::Auto),
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("config_path", &self.config_path)
            .field("platform_flag", &self.platform_flag)
            .field("threads_flag", &self.threads_flag)
            .field("model_flag", &self.model_flag)
            .field("settings_model", &self.settings_model)
            .field("detected", &self.detected.get())
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
        let color = resolve_color(
            global.color,
            config.color,
            std::env::var_os("NO_COLOR").as_deref(),
        );
        let mut ctx = Context::new(config, Arc::new(RealSystem::new()));
        ctx.config_path = config_path;
        ctx.ignore_config = global.ignore_config;
        ctx.style.color = color;
        ctx.platform_flag = global.platform;
        ctx.threads_flag = global.threads;
        ctx.model_flag = global.model.clone();
        ctx.settings_model = global.settings_model.clone();
        ctx.journal = paths::journal_dir().map(Journal::new);
        Ok(ctx)
    }

    /// A context over `config` and `system`, with no journal (add one with
    /// [`Context::with_journal`]) and no global flags. The platform is the
    /// config's, else the one [`platform::detect`] finds on `system`.
    pub fn new(config: Config, system: Arc<dyn System + Send + Sync>) -> Context {
        Context {
            config,
            config_path: None,
            ignore_config: false,
            platform_flag: None,
            threads_flag: None,
            model_flag: None,
            settings_model: None,
            detected: OnceLock::new(),
            announced: AtomicBool::new(false),
            system,
            journal: None,
            style: OutputStyle {
                color: ColorChoice::Auto,
            },
        }
    }

    /// Plans for `platform`, as `--platform` does.
    pub fn with_platform(mut self, platform: Platform) -> Context {
        self.platform_flag = Some(platform);
        self
    }

    /// Applies and undoes with the journal in `journal`.
    pub fn with_journal(mut self, journal: Journal) -> Context {
        self.journal = Some(journal);
        self
    }

    /// The platform to plan for, by the one rule: `--platform`, else the
    /// config's, else the detected one. A guessed platform is announced on
    /// stderr, once per run, the first time a command asks.
    pub fn platform(&self) -> Platform {
        let choice = self.platform_choice();
        if let Some(why) = &choice.assumed {
            if !self.announced.swap(true, Ordering::Relaxed) {
                errln!("knob: {why}. Pass --platform to choose.");
            }
        }
        choice.platform
    }

    /// The platform and whether it is a guess, without announcing it (the
    /// chat interface shows the guess itself).
    pub fn platform_choice(&self) -> Detection {
        let chosen = self
            .platform_flag
            .or_else(|| self.config.platform.as_deref().and_then(|p| p.parse().ok()));
        match chosen {
            Some(p) => Detection {
                platform: p,
                assumed: None,
            },
            None => self.detected().clone(),
        }
    }

    /// Why the platform is a guess; `None` when it was chosen or certain.
    pub fn platform_assumed(&self) -> Option<String> {
        self.platform_choice().assumed
    }

    /// What detection finds on this context's system, whatever the flag
    /// and the config say (`knob doctor`).
    pub fn detected(&self) -> &Detection {
        self.detected.get_or_init(|| {
            platform::detect(&ThisMachine {
                system: self.system(),
            })
        })
    }

    /// `--platform` as given (`knob settings list` filters by it).
    pub fn platform_flag(&self) -> Option<Platform> {
        self.platform_flag
    }

    /// `--threads`, else the config's `threads`.
    pub fn threads(&self) -> Option<usize> {
        self.threads_flag.or(self.config.threads)
    }

    /// `--threads` as given (a benchmark measures only what it was asked to).
    pub fn threads_flag(&self) -> Option<usize> {
        self.threads_flag
    }

    /// `--model` as given.
    pub fn model_flag(&self) -> Option<&Path> {
        self.model_flag.as_deref()
    }

    /// `--settings-model`: a settings model file to use instead of the embedded one.
    pub fn settings_model(&self) -> Option<&Path> {
        self.settings_model.as_deref()
    }

    /// The chat model: `--model`, else the config's `chat_model`.
    pub fn chat_model(&self) -> Option<PathBuf> {
        self.model_flag
            .clone()
            .or_else(|| self.config.chat_model.clone())
    }

    /// The model file a command must have: `--model` (required by `knob
    /// generate`, `knob embed` and `knob bench model`).
    pub fn required_model(&self, command: &str) -> anyhow::Result<&Path> {
        self.model_flag().ok_or_else(|| {
            crate::exit::UsageError(format!("knob {command} needs a model: pass --model FILE"))
                .into()
        })
    }

    /// The system every backend command goes through.
    pub fn system(&self) -> &(dyn System + Send + Sync) {
        self.system.as_ref()
    }

    /// What planning on `platform` needs: the catalog and this system.
    pub fn env<'a>(&'a self, catalog: &'a Catalog, platform: Platform) -> Env<'a> {
        Env {
            catalog,
            platform,
            system: self.system(),
        }
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

/// This machine as platform detection sees it: the process's environment,
/// and the programs and schemas that `system` has.
struct ThisMachine<'a> {
    system: &'a (dyn System + Send + Sync),
}

impl Surroundings for ThisMachine<'_> {
    fn os(&self) -> &str {
        std::env::consts::OS
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn has_program(&self, program: &str) -> bool {
        self.system.has_program(program)
    }

    fn has_gsettings_schema(&self, schema: &str) -> bool {
        let argv = ["gsettings", "list-keys", schema].map(String::from);
        self.system.read(&argv).is_ok_and(|out| out.success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColorChoice::{Always, Auto, Never};

    #[test]
    fn color_flag_beats_no_color_which_beats_the_config() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        let cases = [
            // (flag, config, NO_COLOR, resolved)
            (None, None, None, Auto),
            (None, Some(Always), None, Always),
            (None, Some(Never), None, Never),
            (None, Some(Always), set, Never),
            (None, None, set, Never),
            (None, None, empty, Auto),
            (Some(Always), None, set, Always),
            (Some(Always), Some(Never), None, Always),
            (Some(Never), Some(Always), None, Never),
            (Some(Auto), Some(Never), None, Auto),
            (Some(Auto), None, set, Never),
        ];
        for (flag, config, no_color, want) in cases {
            assert_eq!(
                resolve_color(flag, config, no_color),
                want,
                "{flag:?} {config:?} {no_color:?}"
            );
        }
        let style = |color| OutputStyle { color };
        assert!(style(Always).colors(false));
        assert!(!style(Never).colors(true));
        assert!(style(Auto).colors(true) && !style(Auto).colors(false));
    }
}
