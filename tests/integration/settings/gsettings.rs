//! Real gsettings with GSETTINGS_BACKEND=keyfile in a temporary
//! XDG_CONFIG_HOME (no dconf, no D-Bus), through the knob binary.
use crate::support::{
    assert_contains, json, outside_snapshot, require_tool, stderr, stdout, Sandbox, IFACE,
};

#[test]
fn plan_apply_undo_round_trip() {
    require_tool("gsettings");
    let outside = outside_snapshot();
    let sb = Sandbox::new();
    assert_eq!(
        sb.gsettings_get(IFACE, "color-scheme"),
        "'default'",
        "the schema default (is gsettings-desktop-schemas installed?)"
    );
    assert_eq!(sb.gsettings_get(IFACE, "gtk-theme"), "'Adwaita'");

    // The plan shows the true current value and the exact argv.
    let out = sb.knob_ok(&[
        "set",
        "fixture.dark_mode",
        "on",
        "--platform",
        "gnome",
        "--json",
    ]);
    let plan = json(&out);
    assert_eq!(plan["platform"], "gnome");
    assert_eq!(plan["applied"], false);
    let a = &plan["actions"][0];
    assert_eq!(a["setting"], "fixture.dark_mode");
    assert_eq!(a["value"], true);
    assert_eq!(a["backend"], "gsettings");
    assert_eq!(
        a["target"],
        serde_json::json!({"schema": IFACE, "key": "color-scheme"})
    );
    assert_eq!(a["current"], "'default'");
    assert_eq!(a["new"], "'prefer-dark'");
    assert_eq!(a["changed"], true);
    assert_eq!(
        a["argv"],
        serde_json::json!(["gsettings", "set", IFACE, "color-scheme", "'prefer-dark'"])
    );
    assert_eq!(a["also"][0]["current"], "'Adwaita'");
    assert_eq!(
        a["also"][0]["argv"],
        serde_json::json!(["gsettings", "set", IFACE, "gtk-theme", "'Adwaita-dark'"])
    );
    assert_eq!(
        sb.gsettings_get(IFACE, "color-scheme"),
        "'default'",
        "a dry run must not change anything"
    );

    // No terminal and no --yes: refused, exit 4, nothing changed.
    let out = sb.knob(&[
        "set",
        "fixture.dark_mode",
        "on",
        "--platform",
        "gnome",
        "--apply",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no terminal to ask for confirmation on; add --yes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sb.gsettings_get(IFACE, "color-scheme"), "'default'");

    // Apply.
    let out = sb.knob(&[
        "set",
        "fixture.dark_mode",
        "on",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("applied 1 change (plan 1;"),
        "{}",
        stdout(&out)
    );
    assert_eq!(sb.gsettings_get(IFACE, "color-scheme"), "'prefer-dark'");
    assert_eq!(sb.gsettings_get(IFACE, "gtk-theme"), "'Adwaita-dark'");
    let keyfile = sb.path("config").join("glib-2.0/settings/keyfile");
    assert!(std::fs::read_to_string(&keyfile)
        .unwrap()
        .contains("color-scheme='prefer-dark'"));

    // Planning again shows nothing to change.
    let out = sb.knob(&["set", "fixture.dark_mode", "true", "--platform", "gnome"]);
    assert!(
        stdout(&out).starts_with("= fixture.dark_mode"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("nothing to change."));

    let out = sb.knob(&["history"]);
    assert!(
        stdout(&out).contains("applied") && stdout(&out).contains("set fixture.dark_mode true"),
        "{}",
        stdout(&out)
    );

    // Undo restores both keys.
    let out = sb.knob_ok(&["undo"]);
    assert_eq!(
        stdout(&out),
        "undid plan 1 (set fixture.dark_mode true): restored fixture.dark_mode.\n"
    );
    assert_eq!(sb.gsettings_get(IFACE, "color-scheme"), "'default'");
    assert_eq!(sb.gsettings_get(IFACE, "gtk-theme"), "'Adwaita'");
    let out = sb.knob(&["undo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&stderr(&out), "nothing to undo");

    assert_eq!(
        outside,
        outside_snapshot(),
        "files outside the sandbox changed"
    );
}

/// Real gsettings through the binary: undo leaves a key the user changed
/// after knob's apply as it is and says so (exit 4), history shows it, and
/// `undo --force` restores it.
#[test]
fn undo_leaves_a_key_changed_since_apply_until_forced() {
    require_tool("gsettings");
    let outside = outside_snapshot();
    let sb = Sandbox::new();
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    let out = sb.knob(&[
        "apply",
        "fixture-rollback",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(4), "the rollback fixture fails");
    let out = sb.knob(&[
        "set",
        "fixture.cursor_size",
        "48",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "48");
    // The user changes it again, outside knob.
    sb.gsettings_set(IFACE, "cursor-size", "64");

    let out = sb.knob(&["undo"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "undid plan 2 (set fixture.cursor_size 48): restored nothing; \
         left fixture.cursor_size as it is.\n"
    );
    assert_eq!(
        stderr(&out),
        "knob: fixture.cursor_size: changed since knob set it (now 64, knob wrote 48); \
         left as it is — use --force to restore 24 anyway\n"
    );
    assert_eq!(
        sb.gsettings_get(IFACE, "cursor-size"),
        "64",
        "left untouched"
    );

    let out = sb.knob(&["history"]);
    let text = stdout(&out);
    let line = text.lines().nth(1).unwrap_or_default();
    assert!(
        line.contains("partly undone")
            && line.ends_with("(1 setting; undo left fixture.cursor_size as it is)"),
        "{text}"
    );
    let out = sb.knob(&["history", "--json"]);
    let items = json(&out);
    assert_eq!(items[1]["state"], "partly_undone");
    assert_eq!(
        items[1]["left"],
        serde_json::json!([{
            "setting": "fixture.cursor_size",
            "key": "org.gnome.desktop.interface cursor-size",
            "status": "changed_since",
            "found": "64",
        }])
    );
    assert_eq!(items[0]["left"], serde_json::json!([]));

    // Still the plan undo picks (not the older rolled-back one), and still
    // left as it is without --force.
    let out = sb.knob(&["undo", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["id"], 2);
    assert_eq!(report["left"][0]["now"], "64");
    assert_eq!(report["left"][0]["wrote"], "48");
    assert_eq!(report["left"][0]["before"], "24");

    let out = sb.knob(&["undo", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "undid plan 2 (set fixture.cursor_size 48): restored fixture.cursor_size.\n"
    );
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    let out = sb.knob(&["history"]);
    let text = stdout(&out);
    let line = text.lines().nth(1).unwrap_or_default();
    assert!(
        line.contains("undone") && line.ends_with("(1 setting)"),
        "{text}"
    );
    assert_eq!(
        outside,
        outside_snapshot(),
        "files outside the sandbox changed"
    );
}

#[test]
fn third_action_failing_rolls_back_the_first_two() {
    require_tool("gsettings");
    let outside = outside_snapshot();
    let sb = Sandbox::new();
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    assert_eq!(sb.gsettings_get(IFACE, "text-scaling-factor"), "1.0");

    let out = sb.knob(&[
        "apply",
        "fixture-rollback",
        "--platform",
        "gnome",
        "--verbose",
    ]);
    let text = stdout(&out);
    assert_contains(&text, "M fixture.cursor_size");
    assert_contains(
        &text,
        "$ gsettings set org.gnome.desktop.interface cursor-size 48",
    );
    assert_contains(&text, "? fixture.not_installed");
    assert_contains(
        &text,
        "note: current value unknown: gsettings: No such schema",
    );

    let out = sb.knob(&[
        "apply",
        "fixture-rollback",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let result = json(&out);
    assert_eq!(result["applied"], false);
    assert_eq!(result["failed"]["setting"], "fixture.not_installed");
    assert!(
        result["failed"]["reason"]
            .as_str()
            .unwrap()
            .contains("No such schema"),
        "{result}"
    );
    assert_eq!(
        result["rolled_back"],
        serde_json::json!(["fixture.cursor_size", "fixture.text_scale"])
    );
    let err = stderr(&out);
    assert_contains(&err, "knob: failed: fixture.not_installed: No such schema");
    assert_contains(
        &err,
        "knob: rolled back: fixture.cursor_size, fixture.text_scale",
    );

    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "24");
    assert_eq!(sb.gsettings_get(IFACE, "text-scaling-factor"), "1.0");
    let out = sb.knob(&["history"]);
    assert!(
        stdout(&out).contains("rolled back") && stdout(&out).contains("apply fixture-rollback"),
        "{}",
        stdout(&out)
    );
    // A rolled-back plan has nothing left to undo.
    let out = sb.knob(&["undo"]);
    assert_contains(&stderr(&out), "nothing to undo");
    assert_eq!(
        outside,
        outside_snapshot(),
        "files outside the sandbox changed"
    );
}

#[test]
fn values_are_checked_before_any_command_runs() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let out = sb.knob(&[
        "set",
        "fixture.cursor_size",
        "500",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "knob: error: fixture.cursor_size: 500 px is above the maximum 96 px\n"
    );
    let out = sb.knob_ok(&[
        "set",
        "fixture.idle_delay",
        "1 hour",
        "--platform",
        "gnome",
        "--json",
    ]);
    let plan = json(&out);
    assert_eq!(plan["actions"][0]["value"], 60);
    assert_eq!(plan["actions"][0]["new"], "3600");
    assert_eq!(
        plan["actions"][0]["current"], "300",
        "idle-delay default is uint32 300"
    );
    assert_eq!(plan["actions"][0]["current_value"], 5);
    assert!(!sb.journal_dir().exists(), "no journal without --apply");
}

#[test]
fn relative_changes_read_the_current_value() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    sb.knob_ok(&[
        "set",
        "fixture.cursor_size",
        "up",
        "--platform",
        "gnome",
        "--apply",
        "--yes",
    ]);
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "32");
    let out = sb.knob(&["get", "fixture.cursor_size", "--platform", "gnome"]);
    assert_eq!(
        stdout(&out),
        "fixture.cursor_size: 32  (32, gsettings org.gnome.desktop.interface cursor-size)\n"
    );
}
