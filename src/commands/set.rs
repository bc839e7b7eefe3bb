//! `knob set SETTING VALUE`: plan one change; with --apply, make it.
use anyhow::{anyhow, bail};

use super::settings_ui::{catalog, execute, lock_for_apply};
use super::Context;
use crate::agent::respond::Response;
use crate::cli::SetArgs;
use crate::exit::Exit;
use crate::settings::{Change, Relative};

/// A relative value: `toggle`, `up`, `down`, `+=N`, `-=N`.
fn relative(text: &str) -> Option<Result<Relative, String>> {
    let t = text.trim();
    let amount = |n: &str| {
        n.trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("'{t}': expected a number after the sign"))
    };
    Some(match t {
        "toggle" => Ok(Relative::Toggle),
        "up" => Ok(Relative::Increase(None)),
        "down" => Ok(Relative::Decrease(None)),
        _ if t.starts_with("+=") => amount(&t[2..]).map(Relative::Increase),
        _ if t.starts_with("-=") => amount(&t[2..]).map(Relative::Decrease),
        _ => return None,
    })
}

pub fn run(ctx: &Context, args: SetArgs) -> anyhow::Result<Exit> {
    let cat = catalog()?;
    let platform = ctx.platform();
    let setting = cat.setting(&args.setting).ok_or_else(|| {
        anyhow!(crate::settings::PlanError::UnknownSetting {
            id: args.setting.clone(),
            similar: cat
                .similar_ids(&args.setting)
                .into_iter()
                .map(str::to_string)
                .collect(),
        })
    })?;
    if let Some(why) = setting.unavailable_reason(platform) {
        let on: Vec<&str> = setting.platforms().iter().map(|p| p.name()).collect();
        bail!(
            "{} cannot be changed: {why} (it can on: {})",
            setting.id,
            if on.is_empty() {
                "none".to_string()
            } else {
                on.join(", ")
            }
        );
    }
    // The value is checked before waiting for the writers' lock; a
    // relative change is computed by the plan, under it, from the one read.
    let change = match relative(&args.value) {
        None => Change::To(
            setting
                .value
                .parse_text(&args.value)
                .map_err(|e| anyhow!("{}: {e}", setting.id))?,
        ),
        Some(relative) => Change::By(relative.map_err(|e| anyhow!(e))?),
    };
    let _lock = lock_for_apply(ctx, &args.flags)?;
    let mut response =
        Response::for_changes(&[(setting.id.clone(), change)], &ctx.env(&cat, platform));
    if let Some(e) = response.error.take() {
        return Err(e.into());
    }
    let Some(action) = response.plan.as_ref().and_then(|p| p.actions.first()) else {
        // A relative change whose current value could not be read.
        return Err(anyhow!(response.notes.join("; ")));
    };
    let summary = format!("set {} {}", setting.id, action.value);
    execute(ctx, &mut response, &args.flags, &summary, false)
}
