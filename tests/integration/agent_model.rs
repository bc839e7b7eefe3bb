//! The settings agent on the shipped model, end to end through the binary and
//! against the real gsettings (keyfile backend in a sandbox): a request
//! becomes a plan, `--apply --yes` makes it, `knob undo` restores it. The
//! requests are plain ones any acceptable model must get right.
use crate::support::{assert_contains, json, require_tool, text, Sandbox, IFACE};
use serde_json::Value;

const SCHEME: [&str; 4] = ["gsettings", "get", IFACE, "color-scheme"];
const CURSOR: [&str; 4] = ["gsettings", "get", IFACE, "cursor-size"];

#[test]
fn ask_apply_and_undo_against_real_gsettings() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    assert_eq!(sb.tool(&SCHEME), "'default'");
    let out = sb.knob(&["ask", "--platform", "gnome", "--json", "turn on dark mode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = json(&out);
    assert_eq!(plan["intent"], "change");
    assert_eq!(plan["actions"][0]["setting"], "appearance.dark_mode");
    assert_eq!(plan["actions"][0]["current"], "'default'");
    assert_eq!(plan["applied"], false);
    // A dry run changed nothing.
    assert_eq!(sb.tool(&SCHEME), "'default'");

    let out = sb.knob(&[
        "ask",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
        "turn on dark mode",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(sb.tool(&SCHEME), "'prefer-dark'");
    let out = sb.knob(&["undo"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(sb.tool(&SCHEME), "'default'");
}

#[test]
fn applying_without_a_terminal_or_yes_is_refused() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let out = sb.knob(&["ask", "--platform", "gnome", "--apply", "turn on dark mode"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_contains(&text(&out.stderr), "add --yes");
    assert_eq!(sb.tool(&SCHEME), "'default'");
}

#[test]
fn a_relative_request_reads_the_current_value_and_stops_at_the_range_edge() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    sb.gsettings_set(IFACE, "cursor-size", "48");
    let out = sb.knob(&[
        "ask",
        "--platform",
        "gnome",
        "--json",
        "make the mouse pointer bigger",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = json(&out);
    assert_eq!(plan["actions"][0]["setting"], "a11y.cursor_size", "{plan}");
    let new: i64 = plan["actions"][0]["value"].as_i64().expect("an int value");
    assert!(new > 48, "{plan}");
    // At the top of the range, bigger stays at the top.
    sb.gsettings_set(IFACE, "cursor-size", "96");
    let out = sb.knob(&[
        "ask",
        "--platform",
        "gnome",
        "--json",
        "make the mouse pointer bigger",
    ]);
    let plan = json(&out);
    assert_eq!(plan["actions"][0]["value"], 96, "{plan}");
    assert_eq!(plan["actions"][0]["changed"], false, "{plan}");
    assert_eq!(sb.tool(&CURSOR), "96");
}

/// Each action of a plan as (setting, value), and each skipped setting.
fn planned(plan: &Value) -> (Vec<(String, Value)>, Vec<String>) {
    let actions = plan["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("no actions: {plan}"))
        .iter()
        .map(|a| {
            (
                a["setting"].as_str().unwrap().to_string(),
                a["value"].clone(),
            )
        })
        .collect();
    let skipped = plan["skipped"]
        .as_array()
        .unwrap_or_else(|| panic!("no skipped: {plan}"))
        .iter()
        .map(|s| s["setting"].as_str().unwrap().to_string())
        .collect();
    (actions, skipped)
}

/// Two changes in one request: both, with their values, and nothing else;
/// a preset: every value of the preset, planned or skipped.
#[test]
fn two_requests_in_one_and_a_preset() {
    let sb = Sandbox::new();
    let request = "turn on dark mode and turn off bluetooth";
    let both = vec![
        ("appearance.dark_mode".to_string(), Value::Bool(true)),
        ("bluetooth.enabled".to_string(), Value::Bool(false)),
    ];
    // GNOME maps both settings, so the plan shows both values.
    let plan = json(&sb.knob(&["ask", "--platform", "gnome", "--json", request]));
    assert_eq!(plan["intent"], "change", "{plan}");
    assert_eq!(planned(&plan), (both.clone(), vec![]), "{plan}");
    // Windows has no Bluetooth mapping: the second half is skipped, not lost.
    let plan = json(&sb.knob(&["ask", "--platform", "windows", "--json", request]));
    assert_eq!(plan["intent"], "change", "{plan}");
    assert_eq!(
        planned(&plan),
        (both[..1].to_vec(), vec!["bluetooth.enabled".to_string()]),
        "{plan}"
    );
    assert!(
        plan["skipped"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no windows mapping")),
        "{plan}"
    );

    let plan = json(&sb.knob(&[
        "ask",
        "--platform",
        "windows",
        "--json",
        "switch to presentation mode",
    ]));
    assert_eq!(plan["intent"], "preset", "{plan}");
    // The catalog knob loads in the sandbox (shipped and fixture profiles).
    let catalog =
        knob::settings::load::load_with_user_dir(Some(&sb.path("config").join("knob/profiles")))
            .unwrap();
    let preset = catalog.preset("presentation").expect("the shipped preset");
    let (actions, skipped) = planned(&plan);
    let mut got: Vec<String> = actions.iter().map(|(s, _)| s.clone()).collect();
    got.extend(skipped);
    let mut want: Vec<String> = preset.values.iter().map(|(s, _)| s.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every value of the preset: {plan}");
    assert!(actions.len() >= 2, "{plan}");
    for (setting, value) in &actions {
        let (_, wanted) = preset.values.iter().find(|(s, _)| s == setting).unwrap();
        assert_eq!(
            value,
            &serde_json::to_value(wanted).unwrap(),
            "{setting}: {plan}"
        );
    }
}

#[test]
fn another_platform_shows_argv_and_notes_an_unknown_current_value() {
    let sb = Sandbox::new();
    let out = sb.knob(&[
        "ask",
        "--platform",
        "windows",
        "--json",
        "turn on dark mode",
    ]);
    let plan = json(&out);
    assert_eq!(plan["platform"], "windows");
    assert_eq!(plan["actions"][0]["argv"][0], "reg", "{plan}");
    assert_eq!(plan["actions"][0]["current"], Value::Null, "{plan}");
    // A relative change there cannot be computed: a note, not a guess.
    let out = sb.knob(&[
        "ask",
        "--platform",
        "windows",
        "--json",
        "make the mouse pointer bigger",
    ]);
    let plan = json(&out);
    let notes = plan["notes"].to_string();
    assert!(notes.contains("current value is unknown"), "{plan}");
}

/// The v1 settings model (trained from nothing, no longer embedded). It
/// writes string values from its training data instead of the user's, so it
/// is the real model that exercises the guard against unsaid values.
const V1_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/knob-mu.gguf");

/// Requests whose string value the v1 model gets wrong (issue 14): it
/// wrote a value from its training data instead of the user's.
const UNSAID: [(&str, &str, &str); 3] = [
    (
        "set timezone to Europe/Zurich",
        "time.timezone",
        "Europe/Madrid",
    ),
    (
        "set the wallpaper to /home/bob/Pictures/dog.png",
        "appearance.wallpaper",
        "/home/ben/Pictures/dog2.png",
    ),
    (
        "set wallpaper to /tmp/a b c.png",
        "appearance.wallpaper",
        "/tmp/tmp/aurora.png",
    ),
];

/// A config with the threshold at 0.5. The unsaid-value guard is checked with
/// v1, whose answers here are less sure than the default threshold (0.8) plans;
/// at 0.5 they reach the guard, which is what these tests are about.
fn v1_config(sb: &Sandbox) -> String {
    let path = sb.path("v1-threshold.toml");
    std::fs::write(&path, "confidence_threshold = 0.5\n").unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_string_value_the_user_never_said_gives_suggestions_and_says_why() {
    let sb = Sandbox::new();
    let cfg = v1_config(&sb);
    for (request, setting, _) in UNSAID {
        let v1 = ["--config", &cfg, "--settings-model", V1_MODEL];
        let out = sb.knob(&[&v1[..], &["ask", "--platform", "gnome", "--json", request]].concat());
        assert_eq!(
            out.status.code(),
            Some(3),
            "{request}: {}",
            text(&out.stderr)
        );
        let v = json(&out);
        assert_eq!(v["intent"], "search", "{request}: {v}");
        assert_eq!(v["actions"], serde_json::json!([]), "{request}: {v}");
        let notices = v["notices"].to_string();
        assert!(
            notices.contains("which is not in your request") && notices.contains(setting),
            "{request}: {v}"
        );
        assert_eq!(v["suggestions"][0]["setting"], setting, "{request}: {v}");
        // The human form says why on stderr and plans nothing.
        let out = sb.knob(&[&v1[..], &["ask", "--platform", "gnome", request]].concat());
        assert_eq!(out.status.code(), Some(3));
        let err = text(&out.stderr);
        assert!(err.contains("not in your request"), "{request}: {err}");
        assert!(!text(&out.stdout).contains("understood:"), "{request}");
    }
    // The model's value is named, so the user can see what was refused.
    let out = sb.knob(&[
        "--config",
        &cfg,
        "--settings-model",
        V1_MODEL,
        "ask",
        "--platform",
        "gnome",
        "--json",
        UNSAID[0].0,
    ]);
    assert!(json(&out)["notices"]
        .to_string()
        .contains("'Europe/Madrid'"));
}

#[test]
fn the_embedded_model_plans_no_value_the_user_never_said() {
    let sb = Sandbox::new();
    for (request, setting, wrong) in UNSAID {
        let out = sb.knob(&["ask", "--platform", "gnome", "--json", request]);
        let v = json(&out);
        let planned = v["actions"].as_array().unwrap();
        // Either the user's own value, or no plan at all (suggestions).
        for action in planned {
            let value = action["value"].as_str().unwrap_or_default();
            assert!(value != wrong && request.contains(value), "{request}: {v}");
        }
        if planned.is_empty() {
            assert_eq!(v["intent"], "search", "{request}: {v}");
            let suggested = v["suggestions"].to_string();
            assert!(suggested.contains(setting), "{request}: {v}");
        }
    }
}

#[test]
fn batch_refuses_the_same_unsaid_values_line_by_line() {
    let sb = Sandbox::new();
    let input = sb.path("requests.txt");
    let mut lines: Vec<&str> = UNSAID.iter().map(|(r, _, _)| *r).collect();
    lines.push("Use Noto Sans 11 as the interface font");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let cfg = v1_config(&sb);
    let out = sb.knob(&[
        "--config",
        &cfg,
        "--settings-model",
        V1_MODEL,
        "batch",
        "--json",
        "--platform",
        "gnome",
        input.to_str().unwrap(),
    ]);
    let answers: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 4, "{}", text(&out.stderr));
    for (a, (request, _, wrong)) in answers.iter().zip(UNSAID) {
        assert_eq!(a["intent"], "search", "{request}: {a}");
        assert!(a.get("program").is_none(), "{request}: {a}");
        assert!(a["notices"].to_string().contains(wrong), "{request}: {a}");
    }
    assert_eq!(answers[3]["intent"], "change", "{}", answers[3]);
    assert_eq!(answers[3]["program"], "set text.ui_font \"Noto Sans 11\"");
}

#[test]
fn string_values_from_the_request_are_still_planned() {
    let sb = Sandbox::new();
    let cases = [
        ("Use Noto Sans 11 as the interface font", "Noto Sans 11"),
        // The check holds on a request with other text in it; the model's
        // extra action there has no string value (see docs/agent.md).
        ("set the font to 'Cantarell 11'; rm -rf ~", "Cantarell 11"),
        ("use British formats", "en_GB.UTF-8"),
    ];
    // The guard is checked with v1 (which writes string values freely), the
    // embedded model on the requests it plans.
    let runs = cases
        .iter()
        .map(|&(r, v)| (Some(V1_MODEL), r, v))
        .chain([cases[0], cases[2]].map(|(r, v)| (None, r, v)));
    let cfg = v1_config(&sb);
    for (model, request, value) in runs {
        let mut args = vec!["ask", "--platform", "gnome", "--json", request];
        if let Some(m) = model {
            args.splice(0..0, ["--config", &cfg, "--settings-model", m]);
        }
        let out = sb.knob(&args);
        let v = json(&out);
        assert!(
            matches!(v["intent"].as_str(), Some("change")),
            "{request}: {v}"
        );
        let values: Vec<&Value> = v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["value"])
            .collect();
        assert!(values.contains(&&Value::from(value)), "{request}: {v}");
        assert!(v.get("notices").is_none(), "{request}: {v}");
    }
}

#[test]
fn batch_apply_on_two_threads_plans_each_line_after_the_lines_before_it() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let file = sb.path("requests.txt");
    std::fs::write(
        &file,
        "turn on dark mode\nturn off dark mode\nset text size to 1.5\nmake the text bigger\n",
    )
    .unwrap();
    let out = sb.knob(&[
        "batch",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
        "--threads",
        "2",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for (line, setting) in lines.iter().zip([
        "appearance.dark_mode",
        "appearance.dark_mode",
        "text.size",
        "text.size",
    ]) {
        assert_eq!(line["actions"][0]["setting"], setting, "{line}");
        assert_eq!(
            line["applied"], true,
            "every line changes something: {line}"
        );
    }
    // Each line was planned against what the line before it left.
    assert_eq!(lines[1]["actions"][0]["current"], "'prefer-dark'");
    assert_eq!(lines[3]["actions"][0]["current"], "1.5");

    assert_eq!(
        sb.tool(&SCHEME),
        "'default'",
        "dark mode was turned off last"
    );
    let size: f64 = sb
        .tool(&["gsettings", "get", IFACE, "text-scaling-factor"])
        .parse()
        .unwrap();
    assert!(size > 1.5, "bigger than 1.5: {size}");
    let entry: Value = serde_json::from_str(
        &std::fs::read_to_string(sb.journal_dir().join("000004.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(entry["summary"], "batch: make the text bigger");
    assert_eq!(entry["changes"][0]["before"], "1.5");
}

/// A `gsettings` first on PATH that logs its verb to `log`, then runs the
/// real one.
fn logging_gsettings(sb: &Sandbox, log: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("gsettings"))
        .find(|p| p.is_file())
        .expect("gsettings on PATH");
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("gsettings");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn batch_reads_each_gsettings_schema_once_not_a_process_per_read() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    sb.gsettings_set(IFACE, "text-scaling-factor", "1.25");
    let log = sb.path("gsettings.log");
    let bin = logging_gsettings(&sb, &log);
    let file = sb.path("requests.txt");
    std::fs::write(
        &file,
        "turn on dark mode\nset text size to 1.5\nmake the text bigger\n".repeat(4),
    )
    .unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let out = sb
        .command(&[
            "batch",
            "--platform",
            "gnome",
            "--threads",
            "2",
            file.to_str().unwrap(),
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    // The real values, as a per-key read gives them.
    for line in &lines {
        let action = &line["actions"][0];
        match action["setting"].as_str() {
            Some("appearance.dark_mode") => {
                assert_eq!(action["current"], "'default'", "{line}");
                assert_eq!(action["also"][0]["current"], "'Adwaita'", "{line}");
            }
            Some("text.size") => assert_eq!(action["current"], "1.25", "{line}"),
            _ => panic!("{line}"),
        }
    }
    let verbs = std::fs::read_to_string(&log).unwrap();
    let count = |verb: &str| verbs.lines().filter(|l| *l == verb).count();
    assert_eq!(count("get"), 0, "no process per read: {verbs}");
    // 16 reads of one schema; the listing is at most a second old.
    assert!(
        (1..=3).contains(&count("list-recursively")),
        "one listing of the schema for the batch: {verbs}"
    );
}
