//! What a plan runs after its writes so that a change takes effect (KDE's
//! `--notify`, Plasma's own apply tools and D-Bus calls), and what it needs
//! before anything runs (macOS permissions), on the shipped catalog.
use knob::settings::apply::Outcome;
use knob::settings::catalog::Target;
use knob::settings::load::{load, shipped_files};
use knob::settings::render::render_plan;
use knob::settings::system::Output;
use knob::settings::{apply, plan, undo, Catalog, FakeSystem, Journal, Platform, Value};

use crate::support::read_back;

const KWIN_RECONFIGURE: [&str; 6] = [
    "dbus-send",
    "--session",
    "--type=method_call",
    "--dest=org.kde.KWin",
    "/KWin",
    "org.kde.KWin.reconfigure",
];

fn shipped() -> Catalog {
    load(&shipped_files(), &[]).expect("the shipped catalog loads")
}

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Plasma 6 with KDE Frameworks 6.11 or later: kwriteconfig6 takes --notify.
fn plasma6() -> FakeSystem {
    plasma6_with(&["dbus-send"])
}

/// Plasma 6 with `extra` programs installed too.
fn plasma6_with(extra: &[&str]) -> FakeSystem {
    let mut programs = vec!["kwriteconfig6", "kreadconfig6"];
    programs.extend_from_slice(extra);
    FakeSystem::with_programs(&programs).script(
        &["kwriteconfig6", "--help"],
        Output::ok("Options:\n  --delete  Delete the designated key if enabled\n  --notify  Notify applications of the change\n"),
    )
}

#[test]
fn kwin_setting_notifies_reconfigures_and_undo_does_both_again() {
    let cat = shipped();
    let sys = plasma6();
    let p = plan(
        &cat,
        &[("night_light.enabled".into(), Value::Bool(true))],
        Platform::Kde,
        &sys,
    )
    .unwrap();
    let write = argv(&[
        "kwriteconfig6",
        "--file",
        "kwinrc",
        "--group",
        "NightColor",
        "--key",
        "Active",
        "--notify",
        "--type",
        "bool",
        "true",
    ]);
    assert_eq!(p.actions[0].writes[0].argv, write);
    assert_eq!(p.after(), vec![argv(&KWIN_RECONFIGURE)]);
    // The plan says so before anything runs; -v shows the argv.
    let table = render_plan(&p, false);
    assert!(
        table.contains("then: dbus-send (1 command after the changes"),
        "{table}"
    );
    assert!(render_plan(&p, true).contains("$ dbus-send --session --type=method_call --dest=org.kde.KWin /KWin org.kde.KWin.reconfigure"));

    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    match apply(&p, &sys, Some(&journal), "night light").unwrap() {
        Outcome::Applied { after_failures, .. } => assert!(after_failures.is_empty()),
        other => panic!("{other:?}"),
    }
    let report = undo(&journal, None, &sys, read_back(&cat)).unwrap();
    assert_eq!(report.restored, ["night_light.enabled"]);
    let writes: Vec<Vec<String>> = sys
        .log()
        .into_iter()
        .filter(|a| a[0] != "kreadconfig6" && a[1] != "--help")
        .collect();
    let restore = argv(&[
        "kwriteconfig6",
        "--file",
        "kwinrc",
        "--group",
        "NightColor",
        "--key",
        "Active",
        "--notify",
        "--delete",
    ]);
    assert_eq!(
        writes,
        vec![
            write,
            argv(&KWIN_RECONFIGURE),
            restore,
            argv(&KWIN_RECONFIGURE)
        ]
    );
}

/// kaccess holds the accessibility settings in X's keyboard state; a second
/// start of it asks the running one to read kaccessrc again, through
/// org.freedesktop.Application.Activate (KDBusService::Unique).
const KACCESS_RELOAD: [&str; 10] = [
    "gdbus",
    "call",
    "--session",
    "--dest",
    "org.kde.kaccess",
    "--object-path",
    "/org/kde/kaccess",
    "--method",
    "org.freedesktop.Application.Activate",
    "{}",
];

#[test]
fn every_kaccess_setting_asks_the_running_kaccess_to_reload() {
    let cat = shipped();
    let mut ids = Vec::new();
    for s in cat.settings() {
        let Some(m) = s.mapping(Platform::Kde) else {
            continue;
        };
        let Target::Kconfig { file, .. } = &m.primary.target else {
            continue;
        };
        if file != "kaccessrc" {
            continue;
        }
        ids.push(s.id.clone());
        assert_eq!(m.after, vec![argv(&KACCESS_RELOAD)], "{}", s.id);
    }
    assert!(ids.len() >= 5, "kaccessrc settings: {ids:?}");
}

#[test]
fn kaccess_reload_runs_after_the_write_and_its_failure_keeps_the_change() {
    let cat = shipped();
    let change = [("a11y.sticky_keys".to_string(), Value::Bool(true))];
    // With kaccess running (gdbus answers), the reload follows the write.
    let sys = FakeSystem::with_programs(&["kwriteconfig6", "kreadconfig6", "gdbus"]);
    let p = plan(&cat, &change, Platform::Kde, &sys).unwrap();
    assert_eq!(p.after(), vec![argv(&KACCESS_RELOAD)]);
    match apply(&p, &sys, None, "sticky").unwrap() {
        Outcome::Applied { after_failures, .. } => assert!(after_failures.is_empty()),
        other => panic!("{other:?}"),
    }
    let log = sys.log();
    let write = log
        .iter()
        .position(|a| a[0] == "kwriteconfig6" && a.len() > 2);
    let reload = log.iter().position(|a| *a == argv(&KACCESS_RELOAD));
    assert!(write.is_some() && reload > write, "{log:?}");

    // Without a running kaccess the call fails; the setting is still written
    // and kept, and the failed reload is reported.
    let sys = FakeSystem::with_programs(&["kwriteconfig6", "kreadconfig6", "gdbus"])
        .fail_writes_containing("org.kde.kaccess");
    let p = plan(&cat, &change, Platform::Kde, &sys).unwrap();
    match apply(&p, &sys, None, "sticky").unwrap() {
        Outcome::Applied { after_failures, .. } => {
            assert_eq!(after_failures.len(), 1);
            assert_eq!(after_failures[0].argv, argv(&KACCESS_RELOAD));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn kde_dark_mode_is_written_and_undone_by_plasma_apply_colorscheme() {
    let cat = shipped();
    let sys =
        FakeSystem::with_programs(&["kwriteconfig5", "kreadconfig5", "plasma-apply-colorscheme"]);
    let p = plan(
        &cat,
        &[("appearance.dark_mode".into(), Value::Bool(true))],
        Platform::Kde,
        &sys,
    )
    .unwrap();
    let a = &p.actions[0];
    // An unset ColorScheme reads as Plasma's default, BreezeLight: light.
    assert_eq!(a.current_value, Some(Value::Bool(false)));
    assert_eq!(
        a.writes[0].argv,
        argv(&["plasma-apply-colorscheme", "BreezeDark"])
    );
    assert_eq!(
        a.writes[0].restore,
        Some(argv(&["plasma-apply-colorscheme", "BreezeLight"]))
    );
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    assert!(matches!(
        apply(&p, &sys, Some(&journal), "dark").unwrap(),
        Outcome::Applied { .. }
    ));
    // The fake does not run Plasma's tool; undo puts the light scheme back
    // with it (force: the fake's kdeglobals never changed).
    let mut opts = read_back(&cat);
    opts.force = true;
    undo(&journal, None, &sys, opts).unwrap();
    assert_eq!(
        sys.log().last(),
        Some(&argv(&["plasma-apply-colorscheme", "BreezeLight"]))
    );
    // Without Plasma's tool the plan cannot be applied, and says which tool.
    let bare = FakeSystem::with_programs(&["kwriteconfig5", "kreadconfig5"]);
    let p = plan(
        &cat,
        &[("appearance.dark_mode".into(), Value::Bool(true))],
        Platform::Kde,
        &bare,
    )
    .unwrap();
    assert_eq!(p.actions[0].missing, ["plasma-apply-colorscheme"]);
}

#[test]
fn every_kde_kconfig_mapping_notifies_with_a_new_kwriteconfig6() {
    let cat = shipped();
    let sys = plasma6();
    let mut checked = 0;
    for s in cat.settings() {
        let Some(m) = s.mapping(Platform::Kde) else {
            continue;
        };
        if !matches!(
            m.primary.target,
            knob::settings::catalog::Target::Kconfig { write: None, .. }
        ) {
            continue;
        }
        let Some(text) = m
            .primary
            .map
            .as_ref()
            .and_then(|m| m.keys().next().cloned())
        else {
            continue;
        };
        let value = s.value.parse_text(&text).unwrap();
        let p = plan(&cat, &[(s.id.clone(), value)], Platform::Kde, &sys).unwrap();
        let w = &p.actions[0].writes[0].argv;
        assert_eq!(w[0], "kwriteconfig6", "{}", s.id);
        assert!(w.contains(&"--notify".to_string()), "{}: {w:?}", s.id);
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} mapped kconfig settings");
}

#[test]
fn macos_plans_say_which_permission_they_need() {
    let cat = shipped();
    let sys = FakeSystem::with_programs(&[]);
    let p = plan(
        &cat,
        &[
            ("appearance.animations".into(), Value::Bool(false)),
            ("appearance.dark_mode".into(), Value::Bool(true)),
        ],
        Platform::Macos,
        &sys,
    )
    .unwrap();
    let notes = |id: &str| {
        p.actions
            .iter()
            .find(|a| a.setting == id)
            .unwrap()
            .notes
            .join("\n")
    };
    assert!(
        notes("appearance.animations").contains("needs Full Disk Access"),
        "{}",
        notes("appearance.animations")
    );
    assert!(
        notes("appearance.dark_mode").contains("needs Automation permission for System Events"),
        "{}",
        notes("appearance.dark_mode")
    );
    // Shown in the plain table, before anything runs.
    assert!(render_plan(&p, false).contains("note: needs Full Disk Access"));
}

#[test]
fn windows_volume_and_mute_say_why_they_are_not_available() {
    let cat = shipped();
    let sys = FakeSystem::with_programs(&[]);
    let p = plan(
        &cat,
        &[
            ("sound.volume".into(), Value::Int(40)),
            ("sound.mute".into(), Value::Bool(true)),
        ],
        Platform::Windows,
        &sys,
    )
    .unwrap();
    assert!(p.actions.is_empty());
    assert_eq!(p.skipped.len(), 2);
    for s in &p.skipped {
        assert!(
            s.reason
                .starts_with("not available on windows: Windows 11 has no built-in command"),
            "{}: {}",
            s.setting,
            s.reason
        );
        assert!(s.reason.contains("IAudioEndpointVolume"), "{}", s.reason);
    }
}

/// Plasma recolours with an accent only when plasma-apply-colorscheme is
/// given it (as #rrggbb); that tool does not store the key, so knob writes
/// kdeglobals as well.
fn accent_colorscheme(color: &str) -> Vec<String> {
    argv(&["plasma-apply-colorscheme", "--accent-color", color])
}

fn plasma6_with_colorscheme_tool() -> FakeSystem {
    plasma6_with(&["plasma-apply-colorscheme"])
}

const ACCENT_KEY: &str = "kconfig kdeglobals General AccentColor";

fn accent_plan(cat: &Catalog, sys: &FakeSystem, color: &str) -> knob::settings::Plan {
    plan(
        cat,
        &[("appearance.accent_color".into(), Value::Text(color.into()))],
        Platform::Kde,
        sys,
    )
    .unwrap()
}

#[test]
fn kde_accent_recolours_after_the_write_and_undo_restores_the_schemes_own_colours() {
    let cat = shipped();
    let sys = plasma6_with_colorscheme_tool();
    let p = accent_plan(&cat, &sys, "purple");
    let write = argv(&[
        "kwriteconfig6",
        "--file",
        "kdeglobals",
        "--group",
        "General",
        "--key",
        "AccentColor",
        "--notify",
        "--type",
        "string",
        "145,65,172",
    ]);
    assert_eq!(p.actions[0].writes[0].argv, write);
    assert_eq!(p.after(), vec![accent_colorscheme("#9141ac")]);
    assert!(render_plan(&p, true).contains("$ plasma-apply-colorscheme --accent-color \"#9141ac\""));

    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    match apply(&p, &sys, Some(&journal), "purple accent").unwrap() {
        Outcome::Applied { after_failures, .. } => assert!(after_failures.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(sys.stored(ACCENT_KEY).as_deref(), Some("145,65,172"));
    // The key was not set: undo removes it and tells Plasma there is no
    // accent ("transparent"), so the colour scheme's own colours come back.
    // The purple recolouring is not run again.
    let report = undo(&journal, None, &sys, read_back(&cat)).unwrap();
    assert_eq!(report.restored, ["appearance.accent_color"]);
    assert!(report.after_failures.is_empty());
    assert_eq!(sys.stored(ACCENT_KEY), None);
    let runs: Vec<Vec<String>> = sys
        .log()
        .into_iter()
        .filter(|a| a[0] != "kreadconfig6" && a[1] != "--help")
        .collect();
    let restore = argv(&[
        "kwriteconfig6",
        "--file",
        "kdeglobals",
        "--group",
        "General",
        "--key",
        "AccentColor",
        "--notify",
        "--delete",
    ]);
    assert_eq!(
        runs,
        vec![
            write,
            accent_colorscheme("#9141ac"),
            restore,
            accent_colorscheme("transparent"),
        ]
    );
}

#[test]
fn kde_accent_undo_gives_back_the_users_own_colour() {
    let cat = shipped();
    let sys = plasma6_with_colorscheme_tool();
    // A custom colour set in System Settings, not one of knob's values.
    sys.set(ACCENT_KEY, "61,174,233");
    let p = accent_plan(&cat, &sys, "green");
    assert_eq!(p.after(), vec![accent_colorscheme("#3a944a")]);
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply(&p, &sys, Some(&journal), "green accent").unwrap();
    undo(&journal, None, &sys, read_back(&cat)).unwrap();
    assert_eq!(sys.stored(ACCENT_KEY).as_deref(), Some("61,174,233"));
    assert_eq!(sys.log().last(), Some(&accent_colorscheme("#3daee9")));
}

#[test]
fn kde_accent_changed_since_is_left_with_its_colours() {
    let cat = shipped();
    let sys = plasma6_with_colorscheme_tool();
    let p = accent_plan(&cat, &sys, "red");
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply(&p, &sys, Some(&journal), "red accent").unwrap();
    // The user picks another colour in System Settings afterwards.
    sys.set(ACCENT_KEY, "1,2,3");
    let before = sys.log().len();
    let report = undo(&journal, None, &sys, read_back(&cat)).unwrap();
    assert_eq!(report.left.len(), 1, "{:?}", report.left);
    assert!(report.restored.is_empty());
    assert_eq!(sys.stored(ACCENT_KEY).as_deref(), Some("1,2,3"));
    // Neither the key nor the colours are touched.
    let ran: Vec<Vec<String>> = sys.log()[before..]
        .iter()
        .filter(|a| a[0] != "kreadconfig6" && a[1] != "--help")
        .cloned()
        .collect();
    assert!(ran.is_empty(), "{ran:?}");
}

#[test]
fn kde_accent_without_plasmas_tool_keeps_the_key_and_says_so() {
    let cat = shipped();
    let sys = plasma6_with_colorscheme_tool().fail_writes_containing("--accent-color");
    let p = accent_plan(&cat, &sys, "orange");
    match apply(&p, &sys, None, "orange accent").unwrap() {
        Outcome::Applied { after_failures, .. } => {
            assert_eq!(after_failures.len(), 1);
            assert_eq!(after_failures[0].argv, accent_colorscheme("#ed5b00"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sys.stored(ACCENT_KEY).as_deref(), Some("237,91,0"));
}

/// KDE mappings whose key System Settings only writes: the program that uses
/// it reads it when it starts, at login or at logout, so there is nothing to
/// run. Every other KDE mapping runs what System Settings runs.
const READ_WHEN_USED: [(&str, &str); 6] = [
    ("files.path_bar", "Dolphin reads dolphinrc when it starts"),
    (
        "privacy.diagnostics",
        "KUserFeedback reads its level when it next sends",
    ),
    (
        "privacy.recent_files",
        "the recent-files page only saves; kactivitymanagerd follows the file",
    ),
    (
        "region.formats",
        "System Settings applies formats at next login",
    ),
    (
        "region.measurement_units",
        "System Settings applies formats at next login",
    ),
    (
        "session.restore_apps",
        "ksmserver reads loginMode when the session ends",
    ),
];

#[test]
fn every_kde_mapping_runs_what_system_settings_runs_or_says_why_not() {
    let cat = shipped();
    let mut without = Vec::new();
    for s in cat.settings() {
        let Some(m) = s.mapping(Platform::Kde) else {
            continue;
        };
        let applies_itself = match &m.primary.target {
            // Plasma's own tool writes it (plasma-apply-colorscheme).
            Target::Kconfig { write, .. } => write.is_some(),
            // A running plasmashell or a Plasma tool is asked directly.
            Target::Command { .. } => true,
            _ => false,
        };
        if !applies_itself && m.after.is_empty() && m.after_value.is_empty() {
            without.push(s.id.as_str());
        }
    }
    let expected: Vec<&str> = READ_WHEN_USED.iter().map(|(id, _)| *id).collect();
    assert_eq!(without, expected);
}

#[test]
fn kde_mouse_and_font_dpi_run_plasmas_start_up_modules() {
    let cat = shipped();
    let refresh_fonts = argv(&[
        "dbus-send",
        "--session",
        "--type=signal",
        "/KDEPlatformTheme",
        "org.kde.KDEPlatformTheme.refreshFonts",
    ]);
    for id in [
        "mouse.speed",
        "mouse.acceleration",
        "mouse.left_handed",
        "mouse.natural_scroll",
    ] {
        let m = cat.setting(id).unwrap().mapping(Platform::Kde).unwrap();
        assert_eq!(m.after, vec![argv(&["kcminit", "kcm_mouse_init"])], "{id}");
    }
    for id in ["text.size", "a11y.large_text"] {
        let m = cat.setting(id).unwrap().mapping(Platform::Kde).unwrap();
        assert_eq!(
            m.after,
            vec![argv(&["kcminit", "kcm_fonts_init"]), refresh_fonts.clone()],
            "{id}"
        );
    }
}

const BALOO_KEY: &str = "kconfig baloofilerc Basic Settings Indexing-Enabled";

#[test]
fn kde_file_indexing_stops_and_undo_starts_baloo_again() {
    let cat = shipped();
    let sys = FakeSystem::with_programs(&["kwriteconfig6", "kreadconfig6", "balooctl6"]);
    let off = [("search.file_indexing".to_string(), Value::Bool(false))];
    let p = plan(&cat, &off, Platform::Kde, &sys).unwrap();
    // An unset key reads as Baloo's default: indexing on.
    assert_eq!(p.actions[0].current_value, Some(Value::Bool(true)));
    assert_eq!(p.after(), vec![argv(&["balooctl6", "disable"])]);
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply(&p, &sys, Some(&journal), "no indexing").unwrap();
    assert_eq!(sys.stored(BALOO_KEY).as_deref(), Some("false"));
    let report = undo(&journal, None, &sys, read_back(&cat)).unwrap();
    assert_eq!(report.restored, ["search.file_indexing"]);
    let runs: Vec<Vec<String>> = sys
        .log()
        .into_iter()
        .filter(|a| a[0] == "balooctl6")
        .collect();
    assert_eq!(
        runs,
        vec![
            argv(&["balooctl6", "disable"]),
            argv(&["balooctl6", "enable"])
        ]
    );
    assert_eq!(sys.log().last(), Some(&argv(&["balooctl6", "enable"])));

    // Plasma 5 has the same tool as balooctl.
    let plasma5 = FakeSystem::with_programs(&["kwriteconfig5", "kreadconfig5", "balooctl"]);
    let p = plan(&cat, &off, Platform::Kde, &plasma5).unwrap();
    assert_eq!(p.after(), vec![argv(&["balooctl", "disable"])]);
    let on = [("search.file_indexing".to_string(), Value::Bool(true))];
    plasma5.set(BALOO_KEY, "false");
    let p = plan(&cat, &on, Platform::Kde, &plasma5).unwrap();
    assert_eq!(p.after(), vec![argv(&["balooctl", "enable"])]);
}
