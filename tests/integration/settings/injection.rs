//! Values never become options or script text (issue 14, defects 4 and 5):
//! every command mapping of the shipped catalog is planned with values that
//! start with '-' and values with quotes, backslashes and newlines; values
//! read back from the system are checked before a restore command takes
//! them; and the real tools see exactly one argument per value.
use std::path::Path;

use knob::settings::backend::Current;
use knob::settings::catalog::{Key, Target};
use knob::settings::load::{load, shipped_files};
use knob::settings::system::Output;
use knob::settings::template::{self, Escape};
use knob::settings::value::Kind;
use knob::settings::{apply, plan, undo, FakeSystem, Journal, Platform, Setting, Value};

use crate::support::{read_back, require_tool, stderr, stdout, Sandbox};

/// Texts that start with '-' or carry quotes, backslashes, newlines, the
/// curly quotes PowerShell reads as quotes, and script that would run if it
/// were spliced.
const HOSTILE: &[&str] = &[
    "--help",
    "-sevil.example.com:4713",
    "-x.desktop",
    "/tmp/a'b",
    "/tmp/a\"b",
    r"/tmp/a\b",
    "/tmp/a\nb",
    "/tmp/x\" & (do shell script \"touch /tmp/pwned\") & \".png",
    "/tmp/'); evil(); ('.png",
    "/tmp/‘curly’ $(Remove-Item x) `whoami`.png",
    r#"/tmp/all ' " \ ‚ ‛ .png"#,
    "C:\\Users\\me\\it's.jpg",
];

/// Values to plan for a setting: the hostile texts for a string, numbers
/// that are negative or at the ends of the range, and every name.
fn values(s: &Setting) -> Vec<Value> {
    let v = &s.value;
    match v.kind {
        Kind::String => HOSTILE.iter().map(|t| Value::Text(t.to_string())).collect(),
        Kind::Int | Kind::Float => {
            let mut out = vec![-1.0, -100.5, -0.5];
            out.extend(v.min);
            out.extend(v.max);
            out.into_iter()
                .map(|n| {
                    if v.kind == Kind::Int {
                        Value::Int(n as i64)
                    } else {
                        Value::Float(n)
                    }
                })
                .collect()
        }
        Kind::Bool => vec![Value::Bool(true), Value::Bool(false)],
        Kind::Enum => v.values.iter().map(|n| Value::Text(n.clone())).collect(),
    }
}

/// The inverse of an escape, written independently of the escaper: `None`
/// when the text would end the string literal it sits in.
fn unescape(escape: Escape, mid: &str) -> Option<String> {
    match escape {
        // A JSON string parser reads JS string escapes; a raw quote of
        // either kind would end a JS string.
        Escape::Js => {
            if mid.contains(['\'', '"', '\u{2028}', '\u{2029}']) {
                return None;
            }
            serde_json::from_str(&format!("\"{mid}\"")).ok()
        }
        Escape::Ps => template::ps_unescape(mid),
        Escape::Gvariant => {
            let mut escaped = false;
            for c in mid.chars() {
                if !escaped && (c == '\'' || c == '"') {
                    return None;
                }
                escaped = !escaped && c == '\\';
            }
            template::gvariant_unescape(mid)
        }
        Escape::Plain => Some(mid.to_string()),
    }
}

const SCRIPT_HOSTS: &[&str] = &["osascript", "powershell", "pwsh", "qdbus"];

/// Checks where the backend text `text` went in `argv`, rendered from the
/// command template `write`.
fn assert_value_is_contained(id: &str, write: &[String], argv: &[String], text: &str) {
    let ctx = format!("{id}: {text:?} in {argv:?}");
    assert_eq!(argv.len(), write.len(), "{ctx}");
    assert_eq!(argv[0], write[0], "{ctx}");
    let script_host = SCRIPT_HOSTS.contains(&write[0].as_str());
    for (i, (element, arg)) in write.iter().zip(argv).enumerate() {
        let slots = template::slots(element).unwrap();
        let before_dashes = write[..i].iter().any(|a| a == "--");
        match slots.as_slice() {
            [] => assert_eq!(arg, element, "{ctx}: a fixed argument changed"),
            [slot] if slot.escape == Escape::Plain && slot.range == (0..element.len()) => {
                assert_eq!(arg, text, "{ctx}");
                if text.starts_with('-') {
                    assert!(before_dashes, "{ctx}: option-like value without --");
                }
                if script_host {
                    assert!(
                        before_dashes && write.iter().any(|a| a == "on run argv"),
                        "{ctx}: a script host gets the value only as a script argument"
                    );
                }
            }
            [slot] => {
                let (prefix, suffix) = (&element[..slot.range.start], &element[slot.range.end..]);
                assert!(
                    arg.starts_with(prefix) && arg.ends_with(suffix),
                    "{ctx}: the text around the value changed"
                );
                let mid = &arg[prefix.len()..arg.len() - suffix.len()];
                if slot.escape == Escape::Plain {
                    // Embedded as it is: only knob's own texts (numbers,
                    // names, map texts), never in a script.
                    assert!(!script_host, "{ctx}: spliced into a script");
                    assert!(
                        text.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                        "{ctx}: free text embedded in an argument"
                    );
                    assert!(slot.range.start > 0 || !text.starts_with('-'), "{ctx}");
                    assert_eq!(mid, text, "{ctx}");
                } else {
                    assert_eq!(
                        unescape(slot.escape, mid).as_deref(),
                        Some(text),
                        "{ctx}: the escaped literal does not round-trip"
                    );
                }
            }
            more => panic!("{ctx}: {} placeholders in one argument", more.len()),
        }
    }
}

fn command_write(key: &Key) -> Option<&[String]> {
    match &key.target {
        Target::Command { write, .. } => Some(write),
        _ => None,
    }
}

/// Every command and script mapping of the shipped catalog, on every
/// platform, with every kind of value: either the plan refuses the value
/// with an error that names the setting and the value, or the value is a
/// whole argument (after `--` when it could be an option; an osascript argv
/// item) or sits in a string literal that round-trips through the inverse
/// of its escape.
#[test]
fn every_command_mapping_keeps_values_out_of_options_and_scripts() {
    let cat = load(&shipped_files(), &[]).unwrap();
    // No programs: every current value is unknown, so every write is planned.
    let fake = FakeSystem::with_programs(&[]);
    let (mut mappings, mut refused, mut accepted) = (0, 0, 0);
    let mut escapes_seen = std::collections::BTreeSet::new();
    for platform in Platform::ALL {
        for s in cat.settings() {
            let Some(m) = s.mapping(platform) else {
                continue;
            };
            let Some(write) = command_write(&m.primary) else {
                continue;
            };
            mappings += 1;
            for e in write.iter().flat_map(|e| template::slots(e).unwrap()) {
                escapes_seen.insert(format!("{:?}", e.escape));
            }
            for value in values(s) {
                match plan(&cat, &[(s.id.clone(), value.clone())], platform, &fake) {
                    Err(e) => {
                        refused += 1;
                        let msg = e.to_string();
                        let shown = match &value {
                            Value::Text(t) if t.contains(char::is_control) => format!("{t:?}"),
                            other => other.to_string(),
                        };
                        assert!(
                            msg.starts_with(&format!("{}: ", s.id)) && msg.contains(&shown),
                            "{} on {platform}: the error must name the setting and the value {shown}: {msg}",
                            s.id
                        );
                    }
                    Ok(p) => {
                        accepted += 1;
                        let w = p.actions[0].primary();
                        assert_value_is_contained(&s.id, write, &w.argv, &w.new);
                        assert!(w.restore.is_none(), "nothing was read, nothing to restore");
                    }
                }
            }
        }
    }
    assert!(mappings >= 40, "only {mappings} command mappings");
    assert!(
        refused > 100 && accepted > 100,
        "{refused} refused, {accepted} accepted"
    );
    assert_eq!(
        escapes_seen.into_iter().collect::<Vec<_>>(),
        ["Gvariant", "Js", "Plain", "Ps"],
        "the shipped catalog uses every escape"
    );
}

/// Hostile wallpaper paths are accepted now that every mapping passes them
/// safely, and each lands in one place only.
#[test]
fn wallpaper_paths_with_quotes_are_arguments_or_escaped_literals() {
    let cat = load(&shipped_files(), &[]).unwrap();
    let fake = FakeSystem::with_programs(&[]);
    let path = r#"/tmp/it's "q" \ b.png"#;
    let argv = |platform| {
        let p = plan(
            &cat,
            &[("appearance.wallpaper".into(), Value::Text(path.into()))],
            platform,
            &fake,
        )
        .unwrap();
        p.actions[0].primary().argv.clone()
    };
    assert_eq!(
        argv(Platform::Gnome),
        [
            "gsettings",
            "set",
            "org.gnome.desktop.background",
            "picture-uri",
            r#"'file:///tmp/it\'s \"q\" \\ b.png'"#
        ]
    );
    assert_eq!(
        argv(Platform::Kde),
        ["plasma-apply-wallpaperimage", "--", path]
    );
    let mac = argv(Platform::Macos);
    assert_eq!(mac.last().map(String::as_str), Some(path));
    assert_eq!(mac[mac.len() - 2], "--");
    assert!(
        mac[..mac.len() - 1].iter().all(|a| !a.contains("it's")),
        "{mac:?}"
    );
}

const MAC_WALLPAPER_READ: &[&str] = &[
    "osascript",
    "-e",
    "tell application \"System Events\" to get picture of desktop 1",
];

/// A macOS wallpaper read back with `"` and `do shell script` in it: the
/// restore command passes it as a script argument, never as script text.
#[test]
fn a_read_back_wallpaper_is_never_script_text_in_the_restore_command() {
    let cat = load(&shipped_files(), &[]).unwrap();
    let evil = "/Users/a\" & (do shell script \"touch /tmp/pwned\") & \".png";
    let fake = FakeSystem::with_programs(&["osascript"])
        .script(MAC_WALLPAPER_READ, Output::ok(format!("{evil}\n")));
    let p = plan(
        &cat,
        &[(
            "appearance.wallpaper".into(),
            Value::Text("/Users/me/b.png".into()),
        )],
        Platform::Macos,
        &fake,
    )
    .unwrap();
    let w = p.actions[0].primary();
    assert_eq!(w.current, Current::Set(evil.into()));
    let restore = w.restore.clone().expect("a valid path can be restored");
    let (last, script) = restore.split_last().unwrap();
    assert_eq!(last, evil, "the value read is the script's argument");
    assert_eq!(script.last().map(String::as_str), Some("--"));
    for arg in script {
        assert!(
            !arg.contains("do shell script") && !arg.contains("/Users/a"),
            "script text built from the value read: {restore:?}"
        );
    }

    // Apply and undo run exactly that argv.
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path());
    apply(&p, &fake, Some(&journal), "test").unwrap();
    undo(&journal, None, &fake, read_back(&cat)).unwrap();
    let log = fake.log();
    assert_eq!(log.last(), Some(&restore), "{log:?}");
}

/// A value read back that is not a value of the setting gives no restore
/// command: the current value is unknown, with the reason.
#[test]
fn read_back_values_that_do_not_validate_are_unknown_and_not_restored() {
    let cat = load(&shipped_files(), &[]).unwrap();
    // (setting, platform, new value, read argv, read output, reason prefix)
    type Case<'a> = (&'a str, Platform, Value, &'a [&'a str], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            "time.timezone",
            Platform::Macos,
            Value::Text("Europe/Zurich".into()),
            &["systemsetup", "-gettimezone"],
            "Time Zone: -help\n",
            "read \"-help\", which is not a value of time.timezone: '-help' starts with '-'",
        ),
        (
            "sound.volume",
            Platform::Gnome,
            Value::Int(50),
            &["wpctl", "get-volume", "@DEFAULT_AUDIO_SINK@"],
            "Volume: 1.2.3\n",
            "read \"1.2.3\", which is not a value of sound.volume: not a valid int value",
        ),
        (
            "sound.output_device",
            Platform::Kde,
            Value::Text("alsa_output.hdmi".into()),
            &["pactl", "get-default-sink"],
            "-sevil.example.com:4713\n",
            "read \"-sevil.example.com:4713\", which is not a value of sound.output_device: '-sevil.example.com:4713' starts with '-'",
        ),
        (
            "dock.position",
            Platform::Kde,
            Value::Text("left".into()),
            &[
                "qdbus",
                "org.kde.plasmashell",
                "/PlasmaShell",
                "org.kde.PlasmaShell.evaluateScript",
                "print(panels()[0].location)",
            ],
            "floating\n",
            "read \"floating\", which is not a value of dock.position: not one of the mapped values",
        ),
    ];
    for (id, platform, value, read, output, reason) in cases {
        let fake = FakeSystem::with_programs(&[read[0]]).script(read, Output::ok(*output));
        let p = plan(&cat, &[(id.to_string(), value.clone())], *platform, &fake).unwrap();
        let w = p.actions[0].primary();
        match &w.current {
            Current::Unknown(why) => assert!(why.starts_with(reason), "{id}: {why}"),
            other => panic!("{id}: {other:?}"),
        }
        assert_eq!(w.restore, None, "{id}");
        assert!(
            p.actions[0]
                .notes
                .iter()
                .any(|n| n.starts_with("current value unknown: read ")),
            "{id}: {:?}",
            p.actions[0].notes
        );
    }
}

/// Writes a fake program that appends its arguments, one per line, to
/// `log` and prints `answer`.
fn fake_tool(dir: &Path, name: &str, log: &Path, answer: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\nprintf '%s\\n' '{answer}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The issue's reproduction: `knob set ... sound.output_device -- --help`
/// ran `pactl set-default-sink --help` and journaled it. Now the value is
/// refused before anything runs, with the setting and the value named.
#[test]
fn option_like_values_are_refused_before_any_command_runs() {
    let sb = Sandbox::new();
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = sb.path("tool.log");
    fake_tool(&bin, "pactl", &log, "alsa_output.old");
    fake_tool(&bin, "xdg-settings", &log, "firefox.desktop");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (id, value) in [
        ("sound.output_device", "--help"),
        ("sound.output_device", "-sevil.example.com:4713"),
        ("system.default_browser", "-x.desktop"),
    ] {
        let out = sb
            .command(&[
                "set",
                "--platform",
                "gnome",
                "--apply",
                "--yes",
                id,
                "--",
                value,
            ])
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{id} {value}: {}", stdout(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "knob: error: {id}: '{value}' starts with '-', which a command would read as an option\n"
            )
        );
        let ran = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!ran.contains(value), "{id}: the tool got {ran:?}");
    }
    assert!(!sb.journal_dir().exists(), "nothing was journaled");
}

fn picture_uri(sb: &Sandbox) -> String {
    sb.gsettings_get("org.gnome.desktop.background", "picture-uri")
}

/// The GNOME wallpaper with the real gsettings: paths with `'`, `"` and
/// `\` are written as GVariant strings, read back unescaped, and undone.
#[test]
fn gnome_wallpaper_paths_with_quotes_round_trip_through_real_gsettings() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let set = |path: &str| {
        let out = sb.knob(&[
            "set",
            "appearance.wallpaper",
            path,
            "--platform",
            "gnome",
            "--apply",
            "--yes",
        ]);
        assert!(out.status.success(), "{path}: {}", stderr(&out));
    };
    let get = || {
        let out = sb.knob_ok(&[
            "get",
            "appearance.wallpaper",
            "--platform",
            "gnome",
            "--json",
        ]);
        crate::support::json(&out)
    };
    set("/tmp/a'b.png");
    assert_eq!(picture_uri(&sb), r#""file:///tmp/a'b.png""#);
    assert_eq!(get()["value"], "/tmp/a'b.png", "{}", get());

    let second = r#"/tmp/it's "q" \ b.png"#;
    set(second);
    assert_eq!(picture_uri(&sb), r#""file:///tmp/it's \"q\" \\ b.png""#);
    assert_eq!(get()["value"], second);

    // The second change has a restore step: undo puts the first path back.
    sb.knob_ok(&["undo"]);
    assert_eq!(picture_uri(&sb), r#""file:///tmp/a'b.png""#);
}
