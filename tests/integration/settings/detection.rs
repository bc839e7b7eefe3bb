//! Platform detection without a desktop session (ssh, tmux, a fresh VM):
//! knob plans on what the installed tools suggest, says its assumption once
//! on stderr, and applies on a guess only when confirmed (a terminal's
//! answer, --platform or --yes). The sandbox has no session variables; the
//! PATH holds exactly the tools a test gives it.
#![cfg(all(unix, not(target_os = "macos")))]
use std::path::Path;
use std::process::Output;

use crate::support::{
    assert_contains, json, json_lines, only_tools, stderr, stdout, Sandbox, IFACE,
};

/// The lines of stderr that announce a guessed platform.
fn assumptions(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("assuming"))
        .map(str::to_string)
        .collect()
}

fn knob_with_path(sb: &Sandbox, path: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = sb.command(args);
    cmd.env("PATH", path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running knob")
}

#[test]
fn ask_without_a_session_plans_for_gnome_and_says_so_once() {
    let sb = Sandbox::new();
    let tools = only_tools(&sb, "bin", &["gsettings"]);
    let out = knob_with_path(&sb, &tools, &[], &["ask", "turn on dark mode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_contains(&stdout(&out), "M appearance.dark_mode");
    assert_contains(&stdout(&out), "gsettings org.gnome.desktop.interface");
    assert_eq!(
        assumptions(&out),
        ["knob: no desktop session; assuming gnome (gsettings is installed). Pass --platform to choose."]
    );
}

#[test]
fn batch_without_a_session_plans_every_line_and_says_so_once() {
    let sb = Sandbox::new();
    let tools = only_tools(&sb, "bin", &["gsettings"]);
    let mut cmd = sb.command(&["batch", "--threads", "2"]);
    cmd.env("PATH", &tools)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = crate::support::output_with_stdin(
        cmd,
        b"dark mode on\nmake the text bigger\nturn on night light\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l["platform"], "gnome", "{l}");
    }
    assert_eq!(assumptions(&out).len(), 1, "{}", stderr(&out));
}

#[test]
fn kde_tools_alone_mean_kde_and_the_flag_silences_the_guess() {
    let sb = Sandbox::new();
    let tools = only_tools(&sb, "bin", &["kreadconfig5"]);
    let out = knob_with_path(&sb, &tools, &[], &["ask", "turn on dark mode", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["platform"], "kde");
    assert_eq!(
        assumptions(&out),
        ["knob: no desktop session; assuming kde (kreadconfig5 is installed). Pass --platform to choose."]
    );
    // Chosen, not assumed: nothing to say.
    let out = knob_with_path(
        &sb,
        &tools,
        &[],
        &["ask", "turn on dark mode", "--json", "--platform", "gnome"],
    );
    assert_eq!(json(&out)["platform"], "gnome");
    assert!(assumptions(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn session_variables_other_than_xdg_current_desktop_name_the_desktop() {
    let sb = Sandbox::new();
    // gsettings is installed, but the session says KDE: no guess.
    let tools = only_tools(&sb, "bin", &["gsettings", "kreadconfig5"]);
    for env in [
        ("XDG_SESSION_DESKTOP", "KDE"),
        ("DESKTOP_SESSION", "/usr/share/xsessions/plasma"),
        ("KDE_FULL_SESSION", "true"),
    ] {
        let out = knob_with_path(&sb, &tools, &[env], &["ask", "dark mode on", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{env:?}: {}", stderr(&out));
        assert_eq!(json(&out)["platform"], "kde", "{env:?}");
        assert!(assumptions(&out).is_empty(), "{env:?}: {}", stderr(&out));
    }
}

#[test]
fn applying_on_a_guessed_platform_without_a_terminal_needs_platform_or_yes() {
    let sb = Sandbox::new();
    let tools = only_tools(&sb, "bin", &["gsettings"]);
    let before = (
        sb.gsettings_get(IFACE, "cursor-size"),
        sb.gsettings_get(IFACE, "color-scheme"),
    );
    for args in [
        &["set", "fixture.cursor_size", "40", "--apply"][..],
        &["ask", "turn on dark mode", "--apply"][..],
    ] {
        let out = knob_with_path(&sb, &tools, &[], args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        assert_contains(
            &stderr(&out),
            "knob: not applied: the platform gnome was assumed, and there is no terminal to ask for confirmation on; add --platform gnome to confirm it, or --yes to apply without asking.",
        );
        let now = (
            sb.gsettings_get(IFACE, "cursor-size"),
            sb.gsettings_get(IFACE, "color-scheme"),
        );
        assert_eq!(now, before, "{args:?}");
    }
    // --yes applies on the guess.
    let out = knob_with_path(
        &sb,
        &tools,
        &[],
        &["set", "fixture.cursor_size", "40", "--apply", "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sb.gsettings_get(IFACE, "cursor-size"), "40");
}
