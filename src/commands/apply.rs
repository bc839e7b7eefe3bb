//! `knob apply PRESET`: plan a preset's values; with --apply, make them.
use anyhow::anyhow;

use super::settings_ui::{catalog, execute, lock_for_apply};
use super::Context;
use crate::cli::ApplyArgs;
use crate::exit::Exit;
use crate::settings::plan;

pub fn run(ctx: &Context, args: ApplyArgs) -> anyhow::Result<Exit> {
    let cat = catalog()?;
    let platform = ctx.platform(args.flags.platform)?;
    let preset = cat.preset(&args.preset).ok_or_else(|| {
        let names: Vec<&str> = cat.presets().iter().map(|p| p.name.as_str()).collect();
        anyhow!(
            "unknown preset '{}' (presets: {})",
            args.preset,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )
    })?;
    let _lock = lock_for_apply(ctx, &args.flags)?;
    let mut plan = plan(&cat, &preset.values, platform, ctx.system())?;
    // A preset applies what this machine can; the rest is listed as skipped.
    plan.set_aside_unavailable();
    execute(
        ctx,
        &mut plan,
        &args.flags,
        &format!("apply {}", preset.name),
    )
}
