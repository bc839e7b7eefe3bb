//! `knob doctor`: what knob sees on this machine — the platform, which
//! backends' tools are here, the CPU's kernel paths, where files live and the
//! state of the journal. It changes nothing.
use std::io::Write;

use super::Context;
use crate::exit::Exit;
use crate::settings::paths;

/// Programs knob runs, by what they serve.
const TOOLS: &[(&str, &[&str])] = &[
    ("gnome", &["gsettings"]),
    (
        "kde",
        &[
            "kwriteconfig6",
            "kreadconfig6",
            "kwriteconfig5",
            "kreadconfig5",
        ],
    ),
    ("macos", &["defaults", "osascript", "killall"]),
    ("windows", &["reg"]),
    (
        "commands",
        &[
            "wpctl",
            "pactl",
            "brightnessctl",
            "busctl",
            "bluetoothctl",
            "powerprofilesctl",
            "timedatectl",
            "xdg-settings",
        ],
    ),
];

pub fn run(ctx: &Context) -> anyhow::Result<Exit> {
    let mut out = crate::output::stdout();
    let sys = ctx.system();
    writeln!(
        out,
        "knob {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        crate::version::COMMIT
    )?;

    let found = ctx.detected();
    let detected = match &found.assumed {
        None => found.platform.name().to_string(),
        Some(why) => format!("{} (a guess: {why})", found.platform),
    };
    writeln!(out, "\nplatform: {detected}")?;
    if let Some(p) = ctx.platform_flag() {
        writeln!(out, "  --platform chooses: {p}")?;
    }
    if let Some(p) = &ctx.config.platform {
        writeln!(out, "  config sets: {p}")?;
    }

    writeln!(out, "\nbackend tools:")?;
    for (what, programs) in TOOLS {
        let found: Vec<String> = programs
            .iter()
            .map(|p| format!("{p} {}", if sys.has_program(p) { "✓" } else { "✗" }))
            .collect();
        writeln!(out, "  {what:<9} {}", found.join("  "))?;
    }

    writeln!(out, "\nCPU kernels:")?;
    let available: Vec<&str> = knob_kernels::available_isas()
        .iter()
        .map(|i| i.name())
        .collect();
    writeln!(out, "  available: {}", available.join(", "))?;
    writeln!(out, "  chosen:    {}", crate::version::kernel_path())?;

    writeln!(
        out,
        "\nsettings model: {} (sha256 {})",
        crate::version::model_name(),
        &crate::version::model_sha256()[..16]
    )?;
    match crate::settings::load_catalog() {
        Ok(c) => writeln!(
            out,
            "catalog: {} settings, {} presets",
            c.settings().len(),
            c.presets().len()
        )?,
        Err(e) => writeln!(out, "catalog: ERROR\n{e}")?,
    }

    writeln!(out, "\nfiles:")?;
    let state = |p: &std::path::Path| if p.exists() { "exists" } else { "absent" };
    match &ctx.config_path {
        Some(p) => {
            let note = if ctx.ignore_config {
                "ignored"
            } else {
                state(p)
            };
            writeln!(out, "  config:   {} ({note})", p.display())?;
        }
        None => writeln!(out, "  config:   no config directory (is HOME set?)")?,
    }
    if let Some(p) = paths::profiles_dir() {
        writeln!(out, "  profiles: {} ({})", p.display(), state(&p))?;
    }
    match paths::journal_dir() {
        Some(dir) => {
            writeln!(out, "  journal:  {} ({})", dir.display(), state(&dir))?;
            let journal = crate::settings::Journal::new(dir);
            match journal.list() {
                Ok(list) => {
                    let bad = list.iter().filter(|l| l.entry.is_err()).count();
                    let undoable = list
                        .iter()
                        .filter(|l| l.entry.as_ref().is_ok_and(|e| e.state.undoable()))
                        .count();
                    writeln!(
                        out,
                        "            {} plans, {undoable} can be undone, {bad} unreadable",
                        list.len()
                    )?;
                    for l in list.iter().filter(|l| l.entry.is_err()) {
                        if let Err(e) = &l.entry {
                            writeln!(out, "            unreadable: {}: {e}", l.path.display())?;
                        }
                    }
                }
                Err(e) => writeln!(out, "            cannot be read: {e}")?,
            }
        }
        None => writeln!(out, "  journal:  no data directory (set KNOB_DATA_DIR)")?,
    }
    Ok(Exit::Ok)
}
