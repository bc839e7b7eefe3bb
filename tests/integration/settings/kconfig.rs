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
