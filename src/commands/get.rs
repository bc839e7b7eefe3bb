//! `knob get SETTING`: read a setting's current value.
use anyhow::anyhow;
use serde::Serialize;

use super::settings_ui::catalog;
use super::Context;
use crate::cli::GetArgs;
use crate::exit::Exit;
use crate::settings::backend::Current;
use crate::settings::catalog::{Backend, TargetJson};
use crate::settings::{read_current, Platform, Value};

/// `knob get --json`.
// Fields in alphabetical order, the order the output had when it was built
// with json!, which scripts may rely on.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GetJson {
    pub backend: Backend,
    /// The backend's text; null when the key is absent or cannot be read.
    pub current: Option<String>,
    /// `set`, `absent` or `unknown`.
    pub current_state: &'static str,
    pub platform: Platform,
    pub setting: String,
    pub target: TargetJson,
    /// The current value as a catalog value; null when it is not one the
    /// catalog knows (or cannot be read).
    pub value: Option<Value>,
}

pub fn run(ctx: &Context, args: GetArgs) -> anyhow::Result<Exit> {
    let cat = catalog()?;
    let platform = ctx.platform();
    let reading = read_current(&cat, &args.setting, platform, ctx.system())?.ok_or_else(|| {
        let why = cat
            .setting(&args.setting)
            .and_then(|s| s.unavailable_reason(platform))
            .unwrap_or_else(|| format!("not available on {platform}"));
        anyhow!("{} cannot be read: {why}", args.setting)
    })?;
    if args.json {
        let out = GetJson {
            backend: reading.backend,
            current: reading.current.text().map(str::to_string),
            current_state: reading.current.state(),
            platform,
            setting: reading.setting.clone(),
            target: reading.key.target_json(),
            value: reading.value.clone(),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Exit::Ok);
    }
    let target = format!("{} {}", reading.backend.name(), reading.key.label());
    match (&reading.value, &reading.current) {
        (_, Current::Unknown(reason)) => outln!("{}: unknown ({reason})", reading.setting),
        (Some(v), c) => outln!("{}: {v}  ({}, {target})", reading.setting, c.display()),
        (None, c) => outln!(
            "{}: {} is not a value the catalog knows  ({target})",
            reading.setting,
            c.display()
        ),
    }
    Ok(Exit::Ok)
}
