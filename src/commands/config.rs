//! `knob config path|show`.
use std::io::Write;

use crate::cli::ConfigAction;
use crate::commands::Context;
use crate::exit::Exit;

pub fn run(ctx: &Context, action: &ConfigAction) -> anyhow::Result<Exit> {
    let mut out = crate::output::stdout();
    match action {
        ConfigAction::Path => match &ctx.config_path {
            Some(path) => writeln!(out, "{}", path.display())?,
            None => anyhow::bail!("no config directory could be determined (is HOME set?)"),
        },
        ConfigAction::Show => {
            if let Some(path) = &ctx.config_path {
                let state = if ctx.ignore_config {
                    "ignored"
                } else if path.exists() {
                    "loaded"
                } else {
                    "absent, defaults in effect"
                };
                writeln!(out, "# {} ({state})", path.display())?;
            }
            write!(out, "{}", toml::to_string(&ctx.config)?)?;
        }
    }
    Ok(Exit::Ok)
}
