//! `knob get SETTING`: read a setting's current value.
use anyhow::anyhow;
use serde_json::json;

use super::settings_ui::catalog;
use super::Context;
use crate::cli::GetArgs;
use crate::exit::Exit;
use crate::settings::backend::Current;
use crate::settings::read_current;

pub fn run(ctx: &Context, args: GetArgs) -> anyhow::Result<Exit> {
    let cat = catalog()?;
    let platform = ctx.platform(args.platform)?;
    let reading = read_current(&cat, &args.setting, platform, ctx.system())?.ok_or_else(|| {
        anyhow!(
            "{} cannot be read on {platform}: the catalog has no {platform} mapping for it",
            args.setting
        )
    })?;
    if args.json {
        let out = json!({
            "setting": reading.setting,
            "platform": platform,
            "value": reading.value,
            "backend": reading.backend,
            "target": reading.key.target_json(),
            "current": reading.current.text(),
            "current_state": reading.current.state(),
        });
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
