//! The engine on the fake and dry-run systems: the same apply code path,
//! rollback, undo of deleted keys, and refusal when the tools are absent.
use knob::settings::apply::Outcome;
use knob::settings::load::{load, read_files, shipped_files};
use knob::settings::{
    apply, plan, undo, Catalog, DryRunSystem, FakeSystem, Journal, Platform, RealSystem,
    UndoOptions, Value,
};

use crate::support::{assert_contains, read_back, stderr, Sandbox, FIXTURES};

fn fixtures() -> Catalog {
    let files = read_files(&[format!("{FIXTURES}/profiles/fixtures.toml").into()]).unwrap();
    load(&shipped_files(), &files).unwrap()
}

fn req(id: &str, v: Value) -> (String, Value) {
    (id.to_string(), v)
}

const PERSONALIZE: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Themes\Personalize";

#[test]
fn macos_apply_and_undo_on_the_fake_system() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["defaults", "killall"]);
    fake.set(
        "defaults com.apple.universalaccess mouseDriverCursorSize",
        "1",
    );
    let p = plan(
        &cat,
        &[
            req("fixture.dark_mode", Value::Bool(true)),
            req("fixture.cursor_size", Value::Int(64)),
        ],
        Platform::Macos,
        &fake,
    )
    .unwrap();
    let dark = &p.actions[0];
    assert_eq!(
        dark.primary().current,
        knob::settings::backend::Current::Absent
    );
    assert_eq!(
        dark.current_value,
        Some(Value::Bool(false)),
        "absent reads as the <delete> value"
    );
    assert_eq!(p.actions[1].current_value, Some(Value::Int(32)));
    assert_eq!(
        p.after(),
        vec![vec!["killall".to_string(), "SystemUIServer".to_string()]]
    );

    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    let outcome = apply(&p, &fake, Some(&journal), "test").unwrap();
    assert!(
        matches!(outcome, Outcome::Applied { journal_id: Some(1), ref after_failures } if after_failures.is_empty()),
        "{outcome:?}"
    );
    assert_eq!(
        fake.stored("defaults NSGlobalDomain AppleInterfaceStyle")
            .as_deref(),
        Some("Dark")
    );
    assert_eq!(
        fake.stored("defaults com.apple.universalaccess mouseDriverCursorSize")
            .as_deref(),
        Some("2")
    );

    let report = undo(&journal, None, &fake, read_back(&cat)).unwrap();
    assert_eq!(
        report.restored,
        vec!["fixture.dark_mode", "fixture.cursor_size"]
    );
    assert!(report.failures.is_empty());
    assert_eq!(
        fake.stored("defaults NSGlobalDomain AppleInterfaceStyle"),
        None,
        "undo deletes a key that was absent"
    );
    assert_eq!(
        fake.stored("defaults com.apple.universalaccess mouseDriverCursorSize")
            .as_deref(),
        Some("1")
    );
    let log = fake.log();
    assert_eq!(
        log.iter().filter(|a| a[0] == "killall").count(),
        2,
        "after steps run after apply and after undo: {log:?}"
    );
}

/// The journal entry `id` as JSON.
fn entry_json(dir: &std::path::Path, id: u64) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{id:06}.json"))).unwrap())
        .unwrap()
}

/// Applies cursor size 48 and text scale 2.0 on a fake GNOME, from 24 and 1.0.
fn apply_cursor_and_text(cat: &Catalog, fake: &FakeSystem, journal: &Journal) {
    fake.set("gsettings org.gnome.desktop.interface cursor-size", "24");
    fake.set(
        "gsettings org.gnome.desktop.interface text-scaling-factor",
        "1.0",
    );
    let p = plan(
        cat,
        &[
            req("fixture.cursor_size", Value::Int(48)),
            req("fixture.text_scale", Value::Float(2.0)),
        ],
        Platform::Gnome,
        fake,
    )
    .unwrap();
    assert!(matches!(
        apply(&p, fake, Some(journal), "test").unwrap(),
        Outcome::Applied { .. }
    ));
}

/// Undo reads each key first: one the user changed after knob's apply is
/// left as it is, reported and journaled; the rest is restored. Undo again
/// checks it again; `force` restores it.
#[test]
fn undo_leaves_a_key_changed_since_apply_unless_forced() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["gsettings"]);
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply_cursor_and_text(&cat, &fake, &journal);
    let cursor = "gsettings org.gnome.desktop.interface cursor-size";
    let text = "gsettings org.gnome.desktop.interface text-scaling-factor";
    assert_eq!(fake.stored(cursor).as_deref(), Some("48"));
    // The user changes the pointer size behind knob's back.
    fake.set(cursor, "64");

    let report = undo(&journal, None, &fake, read_back(&cat)).unwrap();
    assert_eq!(report.restored, vec!["fixture.text_scale"]);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.left.len(), 1, "{:?}", report.left);
    let left = &report.left[0];
    assert_eq!(left.setting, "fixture.cursor_size");
    assert_eq!(left.key, "org.gnome.desktop.interface cursor-size");
    assert_eq!(left.now.as_deref(), Some("64"));
    assert_eq!(left.unreadable, None);
    assert_eq!(
        left.describe(),
        "fixture.cursor_size: changed since knob set it (now 64, knob wrote 48); \
         left as it is — use --force to restore 24 anyway"
    );
    assert_eq!(fake.stored(cursor).as_deref(), Some("64"), "left untouched");
    assert_eq!(fake.stored(text).as_deref(), Some("1.0"), "restored");
    let e = entry_json(dir.path(), 1);
    assert_eq!(e["format"], 2);
    assert_eq!(e["state"], "partly_undone");
    assert_eq!(e["changes"][0]["status"], "changed_since");
    assert_eq!(e["changes"][0]["found"], "64");
    assert_eq!(e["changes"][1]["status"], "restored");
    assert!(e["changes"][1].get("found").is_none());

    // Still undoable: a plain undo checks the key again and leaves it again.
    let again = undo(&journal, None, &fake, read_back(&cat)).unwrap();
    assert_eq!(again.id, 1);
    assert!(again.restored.is_empty());
    assert_eq!(again.left, report.left);
    assert_eq!(fake.stored(cursor).as_deref(), Some("64"));

    // --force restores it, and the plan is then fully undone.
    let opts = UndoOptions {
        catalog: Some(&cat),
        force: true,
    };
    let forced = undo(&journal, None, &fake, opts).unwrap();
    assert_eq!(forced.restored, vec!["fixture.cursor_size"]);
    assert!(forced.left.is_empty() && forced.failures.is_empty());
    assert_eq!(fake.stored(cursor).as_deref(), Some("24"));
    let e = entry_json(dir.path(), 1);
    assert_eq!(e["state"], "undone");
    assert_eq!(e["changes"][0]["status"], "restored");
    assert!(e["changes"][0].get("found").is_none());
    let err = undo(&journal, None, &fake, read_back(&cat)).unwrap_err();
    assert!(err.to_string().contains("nothing to undo"), "{err}");
}

/// A key put back by hand to its value before, or never written (a crash),
/// loses nothing by being restored; a value equal to knob's by value but
/// not by text (gsettings prints `2.0` for `2`) is still knob's.
#[test]
fn undo_restores_a_key_at_its_value_before_or_equal_by_value() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["gsettings"]);
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply_cursor_and_text(&cat, &fake, &journal);
    let cursor = "gsettings org.gnome.desktop.interface cursor-size";
    let text = "gsettings org.gnome.desktop.interface text-scaling-factor";
    fake.set(cursor, "24");
    let written = fake.stored(text).unwrap();
    assert_ne!(written, "2.000");
    fake.set(text, "2.000");
    let report = undo(&journal, None, &fake, read_back(&cat)).unwrap();
    assert!(report.left.is_empty(), "{:?}", report.left);
    assert_eq!(
        report.restored,
        vec!["fixture.cursor_size", "fixture.text_scale"]
    );
    assert_eq!(fake.stored(text).as_deref(), Some("1.0"));
}

/// A key that cannot be read now is left as it is, with the reason: no
/// catalog, or the tool is gone. `force` needs no reading.
#[test]
fn undo_leaves_a_key_it_cannot_read_unless_forced() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["gsettings"]);
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply_cursor_and_text(&cat, &fake, &journal);

    let no_catalog = UndoOptions {
        catalog: None,
        force: false,
    };
    let report = undo(&journal, None, &fake, no_catalog).unwrap();
    assert!(report.restored.is_empty());
    assert_eq!(report.left.len(), 2);
    assert_eq!(report.left[0].now, None);
    assert_eq!(
        report.left[0].describe(),
        "fixture.cursor_size: its value now cannot be read (the settings catalog could not \
         be loaded); left as it is — use --force to restore 24 anyway"
    );
    assert_eq!(
        entry_json(dir.path(), 1)["changes"][0]["status"],
        "unreadable"
    );

    let no_tool = FakeSystem::with_programs(&[]);
    let report = undo(&journal, None, &no_tool, read_back(&cat)).unwrap();
    assert_eq!(report.left.len(), 2);
    let reason = report.left[1].unreadable.as_deref().unwrap();
    assert_contains(reason, "gsettings not found");
    assert!(
        no_tool.log().iter().all(|a| a[1] != "set"),
        "nothing written"
    );
    assert_eq!(
        fake.stored("gsettings org.gnome.desktop.interface cursor-size")
            .as_deref(),
        Some("48")
    );

    let forced = UndoOptions {
        catalog: None,
        force: true,
    };
    let report = undo(&journal, None, &fake, forced).unwrap();
    assert_eq!(
        report.restored,
        vec!["fixture.cursor_size", "fixture.text_scale"]
    );
    assert_eq!(
        fake.stored("gsettings org.gnome.desktop.interface cursor-size")
            .as_deref(),
        Some("24")
    );
}

/// An undo that writes nothing (every key changed since) runs no `after`
/// command either.
#[test]
fn undo_that_leaves_every_key_runs_no_after_command() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["defaults", "killall"]);
    let size = "defaults com.apple.universalaccess mouseDriverCursorSize";
    fake.set(size, "1");
    let p = plan(
        &cat,
        &[req("fixture.cursor_size", Value::Int(64))],
        Platform::Macos,
        &fake,
    )
    .unwrap();
    assert!(!p.after().is_empty(), "the fixture has an after step");
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply(&p, &fake, Some(&journal), "test").unwrap();
    let killalls = |fake: &FakeSystem| fake.log().iter().filter(|a| a[0] == "killall").count();
    assert_eq!(killalls(&fake), 1);
    fake.set(size, "3");
    let report = undo(&journal, None, &fake, read_back(&cat)).unwrap();
    assert_eq!(report.left.len(), 1, "{:?}", report.left);
    assert_eq!(report.left[0].now.as_deref(), Some("3"));
    assert_eq!(killalls(&fake), 1, "{:?}", fake.log());
    assert_eq!(fake.stored(size).as_deref(), Some("3"));
}

#[test]
fn windows_rollback_on_the_fake_system_reports_both_facts() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["reg"]).fail_writes_containing("ScreenSaveTimeOut");
    fake.set(
        &format!("reg {PERSONALIZE} AppsUseLightTheme"),
        "REG_DWORD 0x1",
    );
    let p = plan(
        &cat,
        &[
            req("fixture.dark_mode", Value::Bool(true)),
            req("fixture.idle_delay", Value::Int(10)),
        ],
        Platform::Windows,
        &fake,
    )
    .unwrap();
    assert_eq!(p.actions[0].primary().current.text(), Some("1"));
    assert_eq!(p.actions[1].primary().new, "600");
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    match apply(&p, &fake, Some(&journal), "test").unwrap() {
        Outcome::RolledBack {
            failed,
            rolled_back,
            rollback_failures,
            journal_id,
        } => {
            assert_eq!(failed.setting, "fixture.idle_delay");
            assert!(failed.reason.starts_with("simulated failure"));
            assert_eq!(rolled_back, vec!["fixture.dark_mode"]);
            assert!(rollback_failures.is_empty());
            assert_eq!(journal_id, Some(1));
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert_eq!(
        fake.stored(&format!("reg {PERSONALIZE} AppsUseLightTheme"))
            .as_deref(),
        Some("REG_DWORD 0x1")
    );
    let entry = std::fs::read_to_string(dir.path().join("000001.json")).unwrap();
    assert_contains(&entry, "\"state\": \"rolled_back\"");
    assert!(
        entry.contains("\"status\": \"failed\"") && entry.contains("\"status\": \"rolled_back\""),
        "{entry}"
    );
}

#[test]
fn a_setting_with_one_key_not_restored_is_reported_only_as_not_restored() {
    let cat = fixtures();
    // fixture.dark_mode writes color-scheme and gtk-theme; only putting
    // gtk-theme back fails.
    let fake =
        FakeSystem::with_programs(&["gsettings"]).fail_writes_containing("gtk-theme 'Adwaita'");
    let iface = "gsettings org.gnome.desktop.interface";
    fake.set(&format!("{iface} color-scheme"), "'default'");
    fake.set(&format!("{iface} gtk-theme"), "'Adwaita'");
    fake.set(&format!("{iface} cursor-size"), "24");
    let p = plan(
        &cat,
        &[
            req("fixture.dark_mode", Value::Bool(true)),
            req("fixture.cursor_size", Value::Int(48)),
        ],
        Platform::Gnome,
        &fake,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    assert!(matches!(
        apply(&p, &fake, Some(&journal), "test").unwrap(),
        Outcome::Applied { .. }
    ));
    let report = undo(&journal, None, &fake, read_back(&cat)).unwrap();
    assert_eq!(report.restored, vec!["fixture.cursor_size"]);
    let failed: Vec<&str> = report.failures.iter().map(|f| f.setting.as_str()).collect();
    assert_eq!(failed, vec!["fixture.dark_mode"]);
    assert_eq!(
        fake.stored(&format!("{iface} color-scheme")).as_deref(),
        Some("'default'"),
        "the other key was still restored"
    );

    // Through the binary: the undo line does not name it as restored.
    let sb = Sandbox::new();
    // A gsettings whose only failing command is putting gtk-theme back.
    let path = crate::support::gsettings_wrapper(
        &sb.path("fail-bin"),
        "if [ \"$1 $3 $4\" = \"set gtk-theme 'Adwaita'\" ]; then echo refused >&2; exit 1; fi",
    );
    let knob = |args: &[&str]| sb.command(args).env("PATH", &path).output().unwrap();
    let out = knob(&[
        "apply",
        "fixture-evening",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = knob(&["undo"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("restored fixture.cursor_size.") && !text.contains("fixture.dark_mode"),
        "{text}"
    );
    assert_contains(
        &stderr(&out),
        "could not restore fixture.dark_mode: refused",
    );
}

#[test]
fn dry_run_runs_the_same_code_and_changes_nothing() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["gsettings"]);
    fake.set(
        "gsettings org.gnome.desktop.interface color-scheme",
        "'default'",
    );
    fake.set(
        "gsettings org.gnome.desktop.interface gtk-theme",
        "'Adwaita'",
    );
    let p = plan(
        &cat,
        &[req("fixture.dark_mode", Value::Bool(true))],
        Platform::Gnome,
        &fake,
    )
    .unwrap();
    let dry = DryRunSystem::new(&fake);
    let outcome = apply(&p, &dry, None, "dry").unwrap();
    assert!(matches!(
        outcome,
        Outcome::Applied {
            journal_id: None,
            ..
        }
    ));
    assert_eq!(
        dry.writes(),
        vec![
            vec![
                "gsettings",
                "set",
                "org.gnome.desktop.interface",
                "color-scheme",
                "'prefer-dark'"
            ],
            vec![
                "gsettings",
                "set",
                "org.gnome.desktop.interface",
                "gtk-theme",
                "'Adwaita-dark'"
            ],
        ]
    );
    assert_eq!(
        fake.stored("gsettings org.gnome.desktop.interface color-scheme")
            .as_deref(),
        Some("'default'")
    );
}

#[test]
fn windows_on_linux_has_unknown_values_and_refuses_to_apply() {
    let cat = fixtures();
    let sys = RealSystem::new().env("PATH", "/nonexistent");
    let p = plan(
        &cat,
        &[req("fixture.dark_mode", Value::Bool(true))],
        Platform::Windows,
        &sys,
    )
    .unwrap();
    let a = &p.actions[0];
    assert_eq!(a.primary().current.state(), "unknown");
    assert_eq!(
        a.primary().argv,
        vec![
            "reg",
            "add",
            PERSONALIZE,
            "/v",
            "AppsUseLightTheme",
            "/t",
            "REG_DWORD",
            "/d",
            "0",
            "/f"
        ]
    );
    let refusal = p.refusal().unwrap();
    assert_eq!(refusal, "cannot apply this windows plan here: reg not found on this machine, so the current values are unknown");
    let err = apply(&p, &sys, None, "x").unwrap_err();
    assert_eq!(err.to_string(), refusal);
}

#[test]
fn windows_on_linux_through_the_binary() {
    let sb = Sandbox::new();
    let out = sb.knob_ok(&[
        "set",
        "fixture.dark_mode",
        "on",
        "--platform",
        "windows",
        "--json",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["actions"][0]["current"], serde_json::Value::Null);
    assert_eq!(plan["actions"][0]["current_state"], "unknown");
    assert_eq!(plan["can_apply"], false);
    let out = sb.knob(&[
        "set",
        "fixture.dark_mode",
        "on",
        "--platform",
        "windows",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert_contains(
        &stderr(&out),
        "not applied: cannot apply this windows plan here: reg not found on this machine",
    );
    // Nothing journaled (the directory may hold the writers' lock file).
    let entries = std::fs::read_dir(sb.journal_dir()).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .count()
    });
    assert_eq!(entries, 0);
}

#[test]
fn unsupported_platform_and_unknown_ids_are_explained() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&[]);
    let p = plan(
        &cat,
        &[req("fixture.not_installed", Value::Bool(true))],
        Platform::Macos,
        &fake,
    )
    .unwrap();
    assert!(p.actions.is_empty());
    assert_eq!(
        p.skipped[0].reason,
        "not available on macos: knob's catalog has no macos mapping for it"
    );
    let err = plan(
        &cat,
        &[req("fixture.dark_mod", Value::Bool(true))],
        Platform::Gnome,
        &fake,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown setting 'fixture.dark_mod' (did you mean fixture.dark_mode?)"
    );
    let err = plan(
        &cat,
        &[req("fixture.button_layout", Value::Text("middle".into()))],
        Platform::Gnome,
        &fake,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fixture.button_layout: 'middle' is not one of: left, right"
    );
}

#[test]
fn unavailable_actions_are_set_aside_only_when_others_can_run() {
    let cat = fixtures();
    let fake = FakeSystem::with_programs(&["gsettings"]);
    fake.set("gsettings org.gnome.desktop.interface cursor-size", "24");
    let requests = [
        req("fixture.cursor_size", Value::Int(32)),
        req("fixture.volume", Value::Int(50)),
    ];
    let mut p = plan(&cat, &requests, Platform::Gnome, &fake).unwrap();
    assert!(p.refusal().unwrap().contains("wpctl not found"));
    assert_eq!(p.set_aside_unavailable(), 1);
    assert_eq!(p.refusal(), None);
    assert_eq!(p.actions.len(), 1);
    assert_eq!(p.skipped[0].setting, "fixture.volume");
    assert_eq!(p.skipped[0].reason, "wpctl not found on this machine");

    let none = FakeSystem::with_programs(&[]);
    let mut w = plan(
        &cat,
        &[req("fixture.dark_mode", Value::Bool(true))],
        Platform::Windows,
        &none,
    )
    .unwrap();
    assert_eq!(
        w.set_aside_unavailable(),
        0,
        "a plan nothing of which can run keeps its refusal"
    );
    assert!(w.refusal().is_some());
}

/// Every shipped macOS defaults and Windows registry mapping round-trips on
/// the fake system: from a key that is not set, and from one holding another
/// value, apply then undo leaves the stored state as it was.
#[test]
fn shipped_key_value_mappings_round_trip_on_the_fake_system() {
    use knob::settings::catalog::Target;
    use std::collections::BTreeSet;

    let cat = load(&shipped_files(), &[]).unwrap();
    let mut programs: BTreeSet<String> = ["defaults".to_string(), "reg".to_string()].into();
    for s in cat.settings() {
        for m in s.mappings.values() {
            programs.extend(m.after.iter().map(|a| a[0].clone()));
        }
    }
    let programs: Vec<&str> = programs.iter().map(String::as_str).collect();
    let mut checked = 0;
    for platform in [Platform::Macos, Platform::Windows] {
        for s in cat.settings() {
            let Some(m) = s.mapping(platform) else {
                continue;
            };
            if matches!(m.primary.target, Target::Command { .. }) {
                continue;
            }
            // Values this platform can write, from the setting's map or type.
            let values: Vec<Value> = match &m.primary.map {
                Some(map) => map
                    .keys()
                    .filter_map(|k| s.value.parse_text(k).ok())
                    .collect(),
                None => match s.value.kind {
                    knob::settings::value::Kind::Bool => {
                        vec![Value::Bool(true), Value::Bool(false)]
                    }
                    _ => [s.value.min, s.value.max]
                        .into_iter()
                        .flatten()
                        .filter_map(|n| s.value.check(&Value::Float(n)).ok())
                        .collect(),
                },
            };
            for (i, value) in values.iter().enumerate().take(3) {
                let fake = FakeSystem::with_programs(&programs);
                // Start either from nothing or from the previous value written.
                if i > 0 {
                    let p = plan(
                        &cat,
                        &[(s.id.clone(), values[i - 1].clone())],
                        platform,
                        &fake,
                    )
                    .unwrap();
                    apply(&p, &fake, None, "seed").unwrap();
                }
                let snapshot = format!("{:?}", fake_state(&fake, &p_keys(&cat, &s.id, platform)));
                let p = plan(&cat, &[(s.id.clone(), value.clone())], platform, &fake).unwrap();
                let dir = scratch_dir();
                let journal = Journal::new(dir.path());
                match apply(&p, &fake, Some(&journal), "test").unwrap() {
                    Outcome::NothingToDo => continue,
                    Outcome::Applied { .. } => {}
                    other => panic!("{} = {value:?} on {platform}: {other:?}", s.id),
                }
                let report = undo(&journal, None, &fake, read_back(&cat)).unwrap();
                assert!(
                    report.failures.is_empty(),
                    "{} on {platform}: {:?}",
                    s.id,
                    report.failures
                );
                assert!(
                    report.left.is_empty(),
                    "{} = {value:?} on {platform}: undo did not read back what knob wrote: {:?}",
                    s.id,
                    report.left
                );
                let after = format!("{:?}", fake_state(&fake, &p_keys(&cat, &s.id, platform)));
                assert_eq!(
                    snapshot, after,
                    "{} = {value:?} on {platform}: undo did not restore",
                    s.id
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} round trips");
}

/// The fake-store keys a setting's mapping writes.
fn p_keys(cat: &Catalog, id: &str, platform: Platform) -> Vec<String> {
    use knob::settings::catalog::Target;
    let m = cat.setting(id).unwrap().mapping(platform).unwrap();
    std::iter::once(&m.primary)
        .chain(&m.also)
        .filter_map(|k| match &k.target {
            Target::Defaults { domain, key } => Some(format!("defaults {domain} {key}")),
            Target::Registry { path, name } => Some(format!("reg {path} {name}")),
            _ => None,
        })
        .collect()
}

fn fake_state(fake: &FakeSystem, keys: &[String]) -> Vec<Option<String>> {
    keys.iter().map(|k| fake.stored(k)).collect()
}

/// A temporary directory in memory where there is one (journal syncs are
/// then cheap), else in the system's temporary directory.
fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

#[test]
fn two_settings_writing_one_key_differently_is_an_error() {
    let extra = r#"
[[setting]]
id = "fixture.big_text"
title = "Big text (fixture)"
description = "Writes the same key as fixture.text_scale."
[setting.value]
type = "bool"
[setting.gnome]
backend = "gsettings"
schema = "org.gnome.desktop.interface"
key = "text-scaling-factor"
type = "d"
map = { true = "1.25", false = "1.0" }
"#;
    let mut files = read_files(&[format!("{FIXTURES}/profiles/fixtures.toml").into()]).unwrap();
    files.push(knob::settings::load::SourceFile {
        name: "extra.toml".into(),
        text: extra.into(),
    });
    let cat = load(&[], &files).unwrap();
    let fake = FakeSystem::with_programs(&["gsettings"]);
    fake.set(
        "gsettings org.gnome.desktop.interface text-scaling-factor",
        "1.0",
    );
    let err = plan(
        &cat,
        &[
            req("fixture.big_text", Value::Bool(true)),
            req("fixture.text_scale", Value::Float(2.0)),
        ],
        Platform::Gnome,
        &fake,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fixture.big_text and fixture.text_scale both write org.gnome.desktop.interface text-scaling-factor, with different values (1.25 and 2.0); ask for one of them"
    );
    // The same text is fine.
    assert!(plan(
        &cat,
        &[
            req("fixture.big_text", Value::Bool(true)),
            req("fixture.text_scale", Value::Float(1.25))
        ],
        Platform::Gnome,
        &fake
    )
    .is_ok());
}
