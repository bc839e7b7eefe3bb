//! One `commands::Context` (config, platform, system, journal) reaches every
//! settings command, and a dry run is the same apply as a real one, on a
//! system that records writes: through the binary with real gsettings, and
//! through the library with a fake system injected.
use std::sync::Arc;

use clap::Parser;
use knob::cli::{Cli, Command};
use knob::commands::{self, Context};
use knob::config::Config;
use knob::exit::Exit;
use knob::settings::load::load_with_user_dir;
use knob::settings::{plan, FakeSystem, Journal, Platform, Value};

use crate::support::{json, require_tool, stderr, stdout, Sandbox, IFACE};

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A gnome machine in memory, with dark mode off.
fn light_gnome() -> Arc<FakeSystem> {
    let fake = FakeSystem::with_programs(&["gsettings"]);
    fake.set(&format!("gsettings {IFACE} color-scheme"), "'default'");
    fake.set(&format!("gsettings {IFACE} gtk-theme"), "'Adwaita'");
    Arc::new(fake)
}

/// A context on `fake`, planning for gnome, journaling in `journal`.
fn context(fake: &Arc<FakeSystem>, journal: &std::path::Path) -> Context {
    Context::new(Config::default(), fake.clone())
        .with_platform(Platform::Gnome)
        .with_journal(Journal::new(journal.to_path_buf()))
}

fn command(args: &[&str]) -> Command {
    let mut full = vec!["knob"];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).expect("parses").command.unwrap()
}

/// Runs a settings command (`set`, `undo`) through the library.
fn run(ctx: &Context, args: &[&str]) -> Exit {
    let result = match command(args) {
        Command::Set(a) => commands::set::run(ctx, a),
        Command::Undo(a) => commands::undo::run(ctx, a),
        other => panic!("not a settings command here: {other:?}"),
    };
    result.expect("the command runs")
}

fn writes(fake: &FakeSystem) -> Vec<Vec<String>> {
    fake.log()
        .into_iter()
        .filter(|a| a.get(1).is_some_and(|v| v == "set"))
        .collect()
}

#[test]
fn commands_use_the_injected_system_and_journal() {
    let fake = light_gnome();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&fake, dir.path());

    let exit = run(
        &ctx,
        &["set", "appearance.dark_mode", "on", "--apply", "--yes"],
    );
    assert_eq!(exit, Exit::Ok);
    assert_eq!(
        fake.stored(&format!("gsettings {IFACE} color-scheme"))
            .as_deref(),
        Some("'prefer-dark'")
    );
    assert_eq!(
        fake.stored(&format!("gsettings {IFACE} gtk-theme"))
            .as_deref(),
        Some("'Adwaita-dark'")
    );
    let listed = ctx.journal().unwrap().list().unwrap();
    assert_eq!(listed.len(), 1, "the context's journal records the plan");

    let exit = run(&ctx, &["undo"]);
    assert_eq!(exit, Exit::Ok);
    assert_eq!(
        fake.stored(&format!("gsettings {IFACE} color-scheme"))
            .as_deref(),
        Some("'default'")
    );
}

#[test]
fn a_dry_run_reads_through_the_injected_system_and_writes_nothing() {
    let fake = light_gnome();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&fake, dir.path());

    let exit = run(&ctx, &["set", "appearance.dark_mode", "on", "--json"]);
    assert_eq!(exit, Exit::Ok);
    assert!(
        fake.log()
            .contains(&argv(&["gsettings", "get", IFACE, "color-scheme"])),
        "the plan reads the current value through the context's system: {:?}",
        fake.log()
    );
    assert_eq!(writes(&fake), Vec::<Vec<String>>::new());
    assert_eq!(
        fake.stored(&format!("gsettings {IFACE} color-scheme"))
            .as_deref(),
        Some("'default'")
    );
    assert!(ctx.journal().unwrap().list().unwrap().is_empty());
}

#[test]
fn the_shared_dry_run_records_what_apply_would_run_in_order() {
    // A macOS plan: the change, then its `after` command, only as apply runs them.
    let sb = Sandbox::new();
    let cat = load_with_user_dir(Some(&sb.path("config").join("knob/profiles"))).unwrap();
    let fake = FakeSystem::with_programs(&["defaults", "killall"]);
    let p = plan(
        &cat,
        &[("fixture.cursor_size".to_string(), Value::Int(64))],
        Platform::Macos,
        &fake,
    )
    .unwrap();
    let dry = knob::settings::apply::dry_run(&p, &fake, "test").unwrap();
    let changed = p.actions[0].primary().argv.clone();
    assert_eq!(
        dry.writes,
        vec![changed, argv(&["killall", "SystemUIServer"])]
    );
    assert!(
        matches!(
            dry.outcome,
            knob::settings::Outcome::Applied {
                journal_id: None,
                ..
            }
        ),
        "{:?}",
        dry.outcome
    );
    assert!(
        fake.log()
            .iter()
            .all(|a| a[0] == "defaults" && a[1] == "read"),
        "only reads reach the system: {:?}",
        fake.log()
    );
}

#[test]
fn cli_dry_run_lists_the_writes_the_dry_run_system_recorded() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let dry = |extra: &[&str]| {
        let mut args = vec!["set", "fixture.dark_mode", "on", "--platform", "gnome"];
        args.extend_from_slice(extra);
        sb.knob(&args)
    };
    let out = dry(&["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = json(&out);
    let a = &plan["actions"][0];
    assert_eq!(
        plan["dry_run_writes"],
        serde_json::json!([a["argv"], a["also"][0]["argv"]]),
        "the writes a dry run records are the plan's argv, in apply's order"
    );
    assert_eq!(sb.gsettings_get(IFACE, "color-scheme"), "'default'");
    // The text is unchanged: the plan, then what the dry run found.
    let out = dry(&[]);
    assert!(
        stdout(&out).ends_with("dry run: 1 change planned; add --apply to make it.\n"),
        "{}",
        stdout(&out)
    );

    let out = dry(&["--apply", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Nothing left to change: the dry run records no writes.
    let plan = json(&dry(&["--json"]));
    assert_eq!(plan["dry_run_writes"], serde_json::json!([]));
    assert!(stdout(&dry(&[])).ends_with("nothing to change.\n"));
}
