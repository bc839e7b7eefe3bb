//! Real kwriteconfig5/kreadconfig5 in a temporary XDG_CONFIG_HOME, through
//! the knob binary.
use crate::support::{
    assert_contains, json, outside_snapshot, require_tool, stderr, stdout, Sandbox,
};

fn kread(sb: &Sandbox, file: &str, group: &str, key: &str) -> String {
    sb.tool(&[
        "kreadconfig5",
        "--file",
        file,
        "--group",
        group,
        "--key",
        key,
    ])
}

fn tools() {
    require_tool("kwriteconfig5");
    require_tool("kreadconfig5");
}

#[test]
fn absent_key_is_added_then_deleted_by_undo() {
    tools();
    let outside = outside_snapshot();
    let sb = Sandbox::new();
    assert_eq!(kread(&sb, "kdeglobals", "General", "ColorScheme"), "");

    let out = sb.knob_ok(&[
        "set",
        "fixture.dark_mode",
        "on",
        "--platform",
        "kde",
        "--json",
    ]);
    let a = &json(&out)["actions"][0];
    assert_eq!(a["backend"], "kconfig");
    assert_eq!(
        a["target"],
        serde_json::json!({"file": "kdeglobals", "groups": ["General"], "key": "ColorScheme"})
    );
    assert_eq!(a["current"], serde_json::Value::Null);
    assert_eq!(a["current_state"], "absent");
    assert_eq!(a["new"], "BreezeDark");
    let argv: Vec<String> = serde_json::from_value(a["argv"].clone()).unwrap();
    assert!(argv[0].starts_with("kwriteconfig"), "{argv:?}");
    assert_eq!(
        argv[1..],
        [
            "--file",
            "kdeglobals",
            "--group",
            "General",
            "--key",
            "ColorScheme",
            "--type",
            "string",
            "BreezeDark"
        ]
    );

    let out = sb.knob(&[
        "set",
        "fixture.dark_mode",
        "on",
        "--platform",
        "kde",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        kread(&sb, "kdeglobals", "General", "ColorScheme"),
        "BreezeDark"
    );
    let file = std::fs::read_to_string(sb.path("config").join("kdeglobals")).unwrap();
    assert_contains(&file, "[General]\nColorScheme=BreezeDark");

    sb.knob_ok(&["undo"]);
    assert_eq!(kread(&sb, "kdeglobals", "General", "ColorScheme"), "");
    let file = std::fs::read_to_string(sb.path("config").join("kdeglobals")).unwrap();
    assert!(
        !file.contains("ColorScheme"),
        "undo must delete the key it added: {file}"
    );
    assert_eq!(
        outside,
        outside_snapshot(),
        "files outside the sandbox changed"
    );
}

#[test]
fn existing_values_are_restored_by_undo() {
    tools();
    let sb = Sandbox::new();
    sb.tool(&[
        "kwriteconfig5",
        "--file",
        "kdeglobals",
        "--group",
        "General",
        "--key",
        "ColorScheme",
        "BreezeLight",
    ]);
    sb.tool(&[
        "kwriteconfig5",
        "--file",
        "kcminputrc",
        "--group",
        "Mouse",
        "--key",
        "cursorSize",
        "24",
    ]);
    sb.tool(&[
        "kwriteconfig5",
        "--file",
        "kdeglobals",
        "--group",
        "KScreen",
        "--key",
        "ScaleFactor",
        "1",
    ]);

    let out = sb.knob(&["apply", "fixture-evening", "--platform", "kde"]);
    let text = stdout(&out);
    assert_contains(&text, "M fixture.dark_mode");
    // The setting's values; the colour scheme names are the key's.
    assert_contains(&text, "false -> true");
    assert_contains(&text, "M fixture.cursor_size");
    assert_contains(&text, "24 -> 32");

    let out = sb.knob(&[
        "apply",
        "fixture-evening",
        "--platform",
        "kde",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        kread(&sb, "kdeglobals", "General", "ColorScheme"),
        "BreezeDark"
    );
    assert_eq!(kread(&sb, "kcminputrc", "Mouse", "cursorSize"), "32");

    let out = sb.knob(&[
        "set",
        "fixture.text_scale",
        "1.25",
        "--platform",
        "kde",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(kread(&sb, "kdeglobals", "KScreen", "ScaleFactor"), "1.25");

    // Undo the last plan (the text scale), then the preset by id.
    let out = sb.knob(&["undo"]);
    assert!(
        stdout(&out).starts_with("undid plan 2 "),
        "{}",
        stdout(&out)
    );
    assert_eq!(kread(&sb, "kdeglobals", "KScreen", "ScaleFactor"), "1");
    sb.knob_ok(&["undo", "--id", "1"]);
    assert_eq!(
        kread(&sb, "kdeglobals", "General", "ColorScheme"),
        "BreezeLight"
    );
    assert_eq!(kread(&sb, "kcminputrc", "Mouse", "cursorSize"), "24");
    let out = sb.knob(&["undo", "--id", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&stderr(&out), "plan 1 cannot be undone: it is undone");
}

/// A Plasma 6 whose kwriteconfig6 predates `--notify` (KDE Frameworks 6.0 to
/// 6.10, which refuse the option): knob asks the real tool's `--help`, leaves
/// the option out, and the write lands. The kwriteconfig6/kreadconfig6 here
/// are links to the real kwriteconfig5/kreadconfig5, which behave the same.
#[test]
fn kwriteconfig6_without_notify_is_not_given_it() {
    use knob::settings::load::{load, shipped_files};
    use knob::settings::{apply, plan, Outcome, Platform, System, Value};
    tools();
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("plasma6-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for (six, five) in [
        ("kwriteconfig6", "kwriteconfig5"),
        ("kreadconfig6", "kreadconfig5"),
    ] {
        let real = std::env::split_paths(&path)
            .map(|d| d.join(five))
            .find(|p| p.is_file())
            .unwrap();
        std::os::unix::fs::symlink(real, bin.join(six)).unwrap();
    }
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    let sys = sb.system().env("PATH", std::env::join_paths(dirs).unwrap());
    assert!(sys.has_program("kwriteconfig6"));
    let cat = load(&shipped_files(), &[]).unwrap();
    let p = plan(
        &cat,
        &[("night_light.enabled".into(), Value::Bool(true))],
        Platform::Kde,
        &sys,
    )
    .unwrap();
    let argv = &p.actions[0].writes[0].argv;
    assert_eq!(argv[0], "kwriteconfig6");
    assert!(!argv.contains(&"--notify".to_string()), "{argv:?}");
    // The follow-up D-Bus call finds no session bus in the sandbox: a warning.
    assert!(matches!(
        apply(&p, &sys, None, "night light").unwrap(),
        Outcome::Applied { .. }
    ));
    assert_eq!(kread(&sb, "kwinrc", "NightColor", "Active"), "true");
}

/// Keys written through Plasma's own tool (plasma-apply-colorscheme,
/// plasma-apply-cursortheme) need a Plasma session to write, but knob reads
/// them with the real kreadconfig: unset, they read as their `default`; set
/// (as the tool leaves kdeglobals), they read back as that value.
#[test]
fn write_tool_mappings_read_their_default() {
    use knob::settings::backend::Current;
    use knob::settings::catalog::Target;
    use knob::settings::load::{load, shipped_files};
    use knob::settings::{read_current, Platform};
    tools();
    let sb = Sandbox::new();
    // knob plans only when the writer is there too; reads never run it, so
    // empty stand-ins on PATH do.
    let bin = sb.dir.path().join("plasma-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["plasma-apply-colorscheme", "plasma-apply-cursortheme"] {
        std::fs::write(bin.join(tool), "").unwrap();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    let sys = sb.system().env("PATH", std::env::join_paths(dirs).unwrap());
    let cat = load(&shipped_files(), &[]).unwrap();
    let mut seen = Vec::new();
    for s in cat.settings() {
        let Some(m) = s.mapping(Platform::Kde) else {
            continue;
        };
        let Target::Kconfig {
            file,
            groups,
            key,
            write: Some(_),
            default: Some(default),
        } = &m.primary.target
        else {
            continue;
        };
        let r = read_current(&cat, &s.id, Platform::Kde, &sys)
            .unwrap()
            .unwrap();
        assert_eq!(r.current, Current::Set(default.clone()), "{}", s.id);
        let other = match &m.primary.map {
            Some(map) => map.values().find(|t| *t != default).unwrap().clone(),
            None => "knob_sample".to_string(),
        };
        let mut argv = vec!["kwriteconfig5", "--file", file.as_str()];
        for g in groups {
            argv.extend(["--group", g.as_str()]);
        }
        argv.extend(["--key", key.as_str(), other.as_str()]);
        sb.tool(&argv);
        let r = read_current(&cat, &s.id, Platform::Kde, &sys)
            .unwrap()
            .unwrap();
        assert_eq!(r.current, Current::Set(other.clone()), "{}", s.id);
        assert!(
            r.value.is_some(),
            "{}: {other} does not read as a value",
            s.id
        );
        seen.push(s.id.clone());
    }
    assert_eq!(seen, ["appearance.cursor_theme", "appearance.dark_mode"]);
}

/// The accent colour through the knob binary, with the real kconfig tools:
/// kdeglobals gets `R,G,B`, Plasma's tool (a stand-in that records its
/// arguments) is told `#rrggbb`; undo deletes the key it added and tells the
/// tool there is no accent.
#[test]
fn accent_colour_round_trip_tells_plasma_the_colour() {
    use std::os::unix::fs::PermissionsExt;
    tools();
    let sb = Sandbox::new();
    let bin = sb.dir.path().join("plasma-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = sb.dir.path().join("colorscheme.log");
    let tool = bin.join("plasma-apply-colorscheme");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\necho 'Successfully applied the accent color'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(dirs).unwrap();
    let run = |args: &[&str]| {
        let out = sb.command(args).env("PATH", &path).output().unwrap();
        assert!(out.status.success(), "knob {args:?}: {}", stderr(&out));
        out
    };
    let recorded = || std::fs::read_to_string(&log).unwrap_or_default();

    // The dry run lists the follow-up and runs nothing.
    let out = run(&[
        "set",
        "appearance.accent_color",
        "purple",
        "--platform",
        "kde",
        "-v",
    ]);
    assert_contains(
        &stdout(&out),
        "$ plasma-apply-colorscheme --accent-color \"#9141ac\"",
    );
    assert_eq!(recorded(), "");

    run(&[
        "set",
        "appearance.accent_color",
        "purple",
        "--platform",
        "kde",
        "--apply",
        "--yes",
    ]);
    assert_eq!(
        kread(&sb, "kdeglobals", "General", "AccentColor"),
        "145,65,172"
    );
    assert_eq!(recorded(), "--accent-color #9141ac\n");

    run(&["undo"]);
    assert_eq!(kread(&sb, "kdeglobals", "General", "AccentColor"), "");
    assert_eq!(
        recorded(),
        "--accent-color #9141ac\n--accent-color transparent\n"
    );
}
