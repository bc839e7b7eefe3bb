//! `knob settings list|show|search|check|check-program|export`: inspect, search and check the catalog;
//! the hidden `knob settings vectors` writes semantic search's shipped vectors.
use anyhow::{bail, Context as _};
use serde::Serialize;

use super::settings_ui::{catalog, plural};
use crate::cli::SettingsCommand;
use crate::exit::Exit;
use crate::settings::export::{export, preset_json, setting_json, PresetJson, SettingJson};
use crate::settings::load::{dir_files, load, read_files, shipped_files};
use crate::settings::render::format_argv;
use crate::settings::{paths, Catalog, Platform, Setting};

/// `knob settings list --json`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ListJson {
    pub presets: Vec<PresetItem>,
    /// The settings listed (with `--platform`, those it can change).
    pub settings: Vec<SettingItem>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SettingItem {
    pub id: String,
    /// Platforms that can change it.
    pub platforms: Vec<Platform>,
    pub title: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PresetItem {
    pub name: String,
    pub title: String,
}

/// `knob settings show --json`: a setting or a preset, as
/// `knob settings export --json` lists them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ShowJson {
    Setting(SettingJson),
    Preset(PresetJson),
}

/// `platform` is `--platform`: `settings list` shows only its settings.
/// `ctx` gives `--settings-model` to `settings search` and `settings vectors`.
pub fn run(
    cmd: SettingsCommand,
    platform: Option<Platform>,
    ctx: &super::Context,
) -> anyhow::Result<Exit> {
    match cmd {
        SettingsCommand::List { json } => list(&catalog()?, platform, json),
        SettingsCommand::Show { id, json } => show(&catalog()?, &id, json),
        SettingsCommand::Check { paths } => check(&paths),
        SettingsCommand::CheckProgram(args) => super::check_program::run(args),
        SettingsCommand::Export { json: _ } => {
            outln!("{}", serde_json::to_string_pretty(&export(&catalog()?))?);
            Ok(Exit::Ok)
        }
        SettingsCommand::Search { query, limit } => search(ctx, &query.join(" "), limit),
        SettingsCommand::Vectors { write } => vectors(ctx, &write),
    }
}

/// `knob settings search QUERY`: the ranking of the assistant's search
/// fallback (`Agent::suggest`), one setting or preset a line, best first.
fn search(ctx: &super::Context, query: &str, limit: usize) -> anyhow::Result<Exit> {
    let catalog = catalog()?;
    let model = super::ask::load_settings_model(ctx, 1)?;
    let mut agent = crate::agent::Agent::new(&catalog, model);
    let hits = agent.suggest(query, limit)?;
    if hits.is_empty() {
        outln!("nothing in the catalog matches; `knob settings list` shows every setting");
        return Ok(Exit::NotUnderstood);
    }
    for s in hits {
        outln!("  {:<34} {}", s.setting, s.title);
    }
    Ok(Exit::Ok)
}

/// `knob settings vectors --write FILE`: the shipped catalog's phrases (the
/// user's own presets are not shipped) embedded with the settings model, as
/// semantic search reads them from assets/search-vectors.bin.
fn vectors(ctx: &super::Context, file: &std::path::Path) -> anyhow::Result<Exit> {
    use crate::agent::semantic::DocVectors;
    let catalog = crate::settings::load::load_with_user_dir(None)
        .context("loading the shipped settings catalog")?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut model = super::ask::load_settings_model(ctx, threads)?;
    let phrases = crate::agent::pipeline::search_index(&catalog).phrases();
    let Some(bytes) =
        DocVectors::precompute(&phrases, crate::agent::semantic::OFF_CATALOG, &mut model)?
    else {
        bail!(
            "the settings model '{}' has no sentence encoder: search is BM25 alone, there are no vectors to write",
            model.name
        );
    };
    std::fs::write(file, &bytes).with_context(|| format!("writing {}", file.display()))?;
    outln!(
        "wrote the vectors of {} catalog phrases and {} off-catalog texts to {} ({} bytes, model {})",
        phrases
            .iter()
            .flatten()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        crate::agent::semantic::OFF_CATALOG.len(),
        file.display(),
        bytes.len(),
        model.file_fingerprint().unwrap_or("none")
    );
    Ok(Exit::Ok)
}

fn list(cat: &Catalog, platform: Option<Platform>, json: bool) -> anyhow::Result<Exit> {
    let settings: Vec<&Setting> = cat
        .settings()
        .iter()
        .filter(|s| platform.is_none_or(|p| s.mapping(p).is_some()))
        .collect();
    if json {
        let list = ListJson {
            presets: cat
                .presets()
                .iter()
                .map(|p| PresetItem {
                    name: p.name.clone(),
                    title: p.title.clone(),
                })
                .collect(),
            settings: settings
                .iter()
                .map(|s| SettingItem {
                    id: s.id.clone(),
                    platforms: s.platforms(),
                    title: s.title.clone(),
                })
                .collect(),
        };
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(Exit::Ok);
    }
    let w = settings.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let tw = settings
        .iter()
        .map(|s| s.title.chars().count())
        .max()
        .unwrap_or(0);
    for s in &settings {
        let on: Vec<&str> = s.platforms().iter().map(|p| p.name()).collect();
        let pad = tw - s.title.chars().count();
        outln!("{:w$}  {}{:pad$}  {}", s.id, s.title, "", on.join(" "));
    }
    outln!("{} setting{}", settings.len(), plural(settings.len()));
    if !cat.presets().is_empty() {
        outln!();
        outln!("presets (knob apply NAME):");
        let pw = cat
            .presets()
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(0);
        for p in cat.presets() {
            outln!("{:pw$}  {}", p.name, p.title);
        }
    }
    Ok(Exit::Ok)
}

fn show(cat: &Catalog, id: &str, json: bool) -> anyhow::Result<Exit> {
    if let Some(s) = cat.setting(id) {
        if json {
            let json = ShowJson::Setting(setting_json(s));
            outln!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(Exit::Ok);
        }
        outln!("{}: {}", s.id, s.title);
        outln!("  {}", s.description);
        let v = &s.value;
        let mut ty = v.kind.name().to_string();
        if !v.values.is_empty() {
            ty.push_str(&format!(" ({})", v.values.join(", ")));
        }
        if v.min.is_some() || v.max.is_some() {
            let f =
                |x: Option<f64>| x.map_or("..".to_string(), crate::settings::value::format_number);
            ty.push_str(&format!(" {} to {}", f(v.min), f(v.max)));
        }
        if let Some(u) = &v.unit {
            ty.push_str(&format!(" {u}"));
        }
        if let Some(step) = v.step {
            ty.push_str(&format!(
                ", step {}",
                crate::settings::value::format_number(step)
            ));
        }
        outln!("  value: {ty}");
        if !s.synonyms.is_empty() {
            outln!("  also called: {}", s.synonyms.join(", "));
        }
        for e in &s.examples {
            outln!("  e.g. \"{e}\"");
        }
        for (table, m) in &s.mappings {
            outln!(
                "  {}: {} {}",
                table.name(),
                m.primary.target.backend().name(),
                m.primary.label()
            );
            for a in &m.also {
                outln!("    also {}", a.label());
            }
            for n in m.notes.iter().chain(&m.partial_map) {
                outln!("    note: {n}");
            }
            for a in &m.after {
                outln!("    then: {}", format_argv(a));
            }
            for (value, argvs) in &m.after_value {
                for a in argvs {
                    outln!("    then, when {value}: {}", format_argv(a));
                }
            }
        }
        for (table, why) in &s.unavailable {
            outln!("  {}: not available: {why}", table.name());
        }
        outln!("  defined in {}", s.source);
        return Ok(Exit::Ok);
    }
    if let Some(p) = cat.preset(id) {
        if json {
            let json = ShowJson::Preset(preset_json(p));
            outln!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(Exit::Ok);
        }
        outln!("preset {}: {}", p.name, p.title);
        outln!("  {}", p.description);
        for (id, v) in &p.values {
            outln!("  {id} = {v}");
        }
        outln!("  defined in {}", p.source);
        return Ok(Exit::Ok);
    }
    bail!(crate::settings::PlanError::UnknownSetting {
        id: id.to_string(),
        similar: cat
            .similar_ids(id)
            .into_iter()
            .map(str::to_string)
            .collect()
    })
}

/// Checks the given files together with the catalog (a preset is checked
/// against the settings it names); without files, the catalog itself.
fn check(files: &[std::path::PathBuf]) -> anyhow::Result<Exit> {
    let result = (|| {
        let mut user = match paths::profiles_dir() {
            Some(dir) => dir_files(&dir)?,
            None => Vec::new(),
        };
        let given = read_files(files)?;
        // A given file that is also in the user directory is checked once.
        let canon = |name: &str| std::fs::canonicalize(name).ok();
        let given_canon: Vec<_> = given.iter().map(|f| canon(&f.name)).collect();
        user.retain(|u| canon(&u.name).is_none_or(|c| !given_canon.contains(&Some(c))));
        // The catalog's policy holds for the shipped files and the given ones.
        let shipped = shipped_files();
        let mut policy = crate::settings::policy::check_files(&shipped);
        policy.extend(crate::settings::policy::check_files(&given));
        user.extend(given);
        let cat = load(&shipped, &user)?;
        if policy.is_empty() {
            Ok(cat)
        } else {
            Err(crate::settings::ProfileErrors(policy))
        }
    })();
    match result {
        Ok(cat) => {
            outln!(
                "ok: {} setting{}, {} preset{}",
                cat.settings().len(),
                plural(cat.settings().len()),
                cat.presets().len(),
                plural(cat.presets().len())
            );
            Ok(Exit::Ok)
        }
        Err(errors) => {
            for e in &errors.0 {
                errln!("{e}");
            }
            errln!(
                "knob: {} error{} in the profiles",
                errors.0.len(),
                plural(errors.0.len())
            );
            Ok(Exit::Error)
        }
    }
}
