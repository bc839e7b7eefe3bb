//! Command-line definitions (clap derive). One variant per subcommand.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::Platform;

#[derive(Debug, Parser)]
#[command(name = "knob", version, about, long_about = None, after_help = crate::exit::EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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

/// Flags shared by the commands that plan and apply changes.
#[derive(Debug, Args)]
pub struct PlanFlags {
    /// Plan for this platform instead of the detected one: gnome, kde, macos or windows.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<Platform>,
    /// Print the plan (and the result) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Make the changes. Without it knob only shows the plan.
    #[arg(long)]
    pub apply: bool,
    /// Apply without asking (needed when there is no terminal to ask on).
    #[arg(long, requires = "apply")]
    pub yes: bool,
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
    /// Read it on this platform instead of the detected one.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<Platform>,
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
        /// Only the settings this platform can change.
        #[arg(long, value_name = "PLATFORM")]
        platform: Option<Platform>,
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
    /// Print the whole catalog, presets included, as JSON.
    Export {
        /// Print JSON (the only format).
        #[arg(long)]
        json: bool,
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
