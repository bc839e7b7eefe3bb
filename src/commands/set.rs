//! `knob set SETTING VALUE`: plan one change; with --apply, make it.
use anyhow::{anyhow, bail};

use super::settings_ui::{catalog, execute, lock_for_apply};
use super::Context;
use crate::agent::resolve::relative_value;
use crate::cli::SetArgs;
use crate::exit::Exit;
use crate::settings::{plan, Catalog, Platform, Relative, Setting, System, Value};

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

fn resolve_value(
    cat: &Catalog,
    setting: &Setting,
    text: &str,
    platform: Platform,
    sys: &dyn System,
) -> anyhow::Result<Value> {
    let Some(change) = relative(text) else {
        return setting
            .value
            .parse_text(text)
            .map_err(|e| anyhow!("{}: {e}", setting.id));
    };
    let change = change.map_err(|e| anyhow!(e))?;
    relative_value(cat, &setting.id, change, platform, sys).map_err(|e| anyhow!(e))
}

pub fn run(ctx: &Context, args: SetArgs) -> anyhow::Result<Exit> {
    let cat = catalog()?;
    let platform = ctx.platform(args.flags.platform)?;
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
    if setting.mapping(platform).is_none() {
        let on: Vec<&str> = setting.platforms().iter().map(|p| p.name()).collect();
        bail!(
            "{} cannot be changed on {platform} (it can on: {})",
            setting.id,
            if on.is_empty() {
                "none".to_string()
            } else {
                on.join(", ")
            }
        );
    }
    // An absolute value is checked before waiting for the writers' lock; a
    // relative one reads the current value, so it is resolved under it.
    let absolute = match relative(&args.value) {
        None => Some(resolve_value(
            &cat,
            setting,
            &args.value,
            platform,
            ctx.system(),
        )?),
        Some(_) => None,
    };
    let _lock = lock_for_apply(ctx, &args.flags)?;
    let value = match absolute {
        Some(value) => value,
        None => resolve_value(&cat, setting, &args.value, platform, ctx.system())?,
    };
    let mut plan = plan(
        &cat,
        &[(setting.id.clone(), value.clone())],
        platform,
        ctx.system(),
    )?;
    execute(
        ctx,
        &mut plan,
        &args.flags,
        &format!("set {} {value}", setting.id),
    )
}
