//! `knob apply PRESET`: plan a preset's values; with --apply, make them.
use anyhow::anyhow;

use super::settings_ui::{catalog, execute, lock_for_apply};
use super::Context;
use crate::agent::respond::Response;
use crate::cli::ApplyArgs;
use crate::exit::Exit;
use crate::settings::Change;

pub fn run(ctx: &Context, args: ApplyArgs) -> anyhow::Result<Exit> {
    let cat = catalog()?;
    let platform = ctx.platform();
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
    let changes: Vec<(String, Change)> = preset
        .values
        .iter()
        .map(|(id, v)| (id.clone(), Change::To(v.clone())))
        .collect();
    let mut response = Response::for_changes(&changes, &ctx.env(&cat, platform));
    if let Some(e) = response.error.take() {
        return Err(e.into());
    }
    // A preset applies what this machine can; the rest is listed as skipped.
    if let Some(plan) = response.plan.as_mut() {
        plan.set_aside_unavailable();
    }
    execute(
        ctx,
        &mut response,
        &args.flags,
        &format!("apply {}", preset.name),
        false,
    )
}
