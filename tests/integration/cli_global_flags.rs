//! One set of global flags: --platform, --threads, --model and --color are
//! accepted before and after every subcommand (and by bare `knob`), and
//! mean the same wherever they are written. --color always and never decide
//! whether plain output has ANSI colour, also into a pipe.
use clap::CommandFactory;

use crate::support::{assert_contains, json, stderr, stdout, Sandbox};

const FLAGS: [[&str; 2]; 4] = [
    ["--platform", "gnome"],
    ["--threads", "2"],
    ["--model", "some.gguf"],
    ["--color", "never"],
];

/// The path of every subcommand, `["settings", "list"]` and so on.
fn subcommand_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&knob::cli::Cli::command(), &[], &mut out);
    out
}

#[test]
fn every_global_flag_is_accepted_before_and_after_every_subcommand() {
    let sb = Sandbox::new();
    let paths = subcommand_paths();
    assert!(paths.len() > 20, "{paths:?}");
    let mut rejected = Vec::new();
    for path in &paths {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        for flag in FLAGS {
            // --help last: clap rejects an unknown flag before it shows help.
            for args in [
                [&flag[..], &path, &["--help"]].concat(),
                [&path[..], &flag, &["--help"]].concat(),
            ] {
                let out = sb.knob(&args);
                if out.status.code() != Some(0) {
                    rejected.push(format!("knob {}: {}", args.join(" "), stderr(&out)));
                }
            }
        }
    }
    assert!(rejected.is_empty(), "{}", rejected.join("\n"));
}

#[test]
fn bare_knob_takes_the_global_flags_too() {
    let sb = Sandbox::new();
    let all: Vec<&str> = FLAGS.iter().flatten().copied().collect();
    // No terminal: the usual hint (exit 2), not an argument error.
    let out = sb.knob(&all);
    assert_eq!(out.status.code(), Some(2));
    assert_contains(&stderr(&out), "the chat interface needs a terminal");
    let out = sb.knob(&["chat", "--platform", "gnome"]);
    assert_contains(&stderr(&out), "the chat interface needs a terminal");
}

#[test]
fn a_global_flag_means_the_same_before_and_after_the_subcommand() {
    let sb = Sandbox::new();
    for args in [
        &[
            "--platform",
            "windows",
            "ask",
            "turn on dark mode",
            "--json",
        ][..],
        &[
            "ask",
            "--platform",
            "windows",
            "turn on dark mode",
            "--json",
        ][..],
        &[
            "ask",
            "turn on dark mode",
            "--json",
            "--platform",
            "windows",
        ][..],
    ] {
        let out = sb.knob(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(json(&out)["platform"], "windows", "{args:?}");
    }
    for args in [
        &["--model", "/nonexistent/model.gguf", "generate", "hi"][..],
        &["generate", "hi", "--model", "/nonexistent/model.gguf"][..],
        &["--model", "/nonexistent/model.gguf", "embed", "hi"][..],
    ] {
        let out = sb.knob(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_contains(&stderr(&out), "/nonexistent/model.gguf");
    }
    // A command that needs --model says so, with a usage status.
    let out = sb.knob(&["generate", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert_contains(
        &stderr(&out),
        "knob generate needs a model: pass --model FILE",
    );
    // --threads is checked wherever it is written.
    for args in [
        &["--threads", "0", "batch"][..],
        &["batch", "--threads", "0"][..],
    ] {
        let out = sb.knob(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_contains(&stderr(&out), "must be at least 1");
    }
    // --platform filters `settings list` before and after.
    let listed = |args: &[&str]| {
        let out = sb.knob(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        json(&out)["settings"].as_array().map_or(0, Vec::len)
    };
    let all = listed(&["settings", "list", "--json"]);
    let before = listed(&["--platform", "macos", "settings", "list", "--json"]);
    let after = listed(&["settings", "list", "--json", "--platform", "macos"]);
    assert_eq!(before, after);
    assert!(before < all, "{before} of {all}");
}

/// `knob ask` for windows (no backend reads), with NO_COLOR as given.
fn ask(sb: &Sandbox, no_color: Option<&str>, flags: &[&str]) -> String {
    let mut args = vec!["ask", "turn on dark mode", "--platform", "windows"];
    args.extend_from_slice(flags);
    let mut cmd = sb.command(&args);
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().expect("running knob");
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

const ESC: &str = "\x1b[";

/// `text` without its SGR sequences (`ESC [ ... m`).
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(ESC) {
        out.push_str(&rest[..i]);
        let after = &rest[i + ESC.len()..];
        rest = after.find('m').map_or("", |m| &after[m + 1..]);
    }
    out.push_str(rest);
    out
}

#[test]
fn color_always_colours_a_pipe_and_never_does_not() {
    let sb = Sandbox::new();
    let coloured = ask(&sb, None, &["--color", "always"]);
    assert_contains(
        &coloured,
        "\x1b[1munderstood: set appearance.dark_mode true",
    );
    // The plan row's status letter (`!` here: no `reg` on this machine).
    let row = coloured
        .lines()
        .find(|l| l.contains("appearance.dark_mode  "))
        .unwrap_or_else(|| panic!("no plan row:\n{coloured}"));
    assert!(row.starts_with(ESC), "{row:?}");
    assert!(
        strip_sgr(row).starts_with("! appearance.dark_mode"),
        "{row:?}"
    );
    // Before the subcommand, the same.
    let mut cmd = sb.command(&[
        "--color",
        "always",
        "ask",
        "turn on dark mode",
        "--platform",
        "windows",
    ]);
    let out = cmd.output().unwrap();
    assert_eq!(stdout(&out), coloured);
    // A pipe is no terminal: auto means none.
    let plain = ask(&sb, None, &[]);
    assert!(!plain.contains(ESC), "{plain:?}");
    assert_eq!(ask(&sb, None, &["--color", "never"]), plain);
    assert_eq!(ask(&sb, None, &["--color", "auto"]), plain);
    // The words are the same.
    assert_eq!(strip_sgr(&coloured), plain);
}

#[test]
fn no_color_means_never_unless_color_always_is_given() {
    let sb = Sandbox::new();
    let config = sb.path("config").join("knob").join("config.toml");
    std::fs::write(&config, "color = \"always\"\n").unwrap();
    // The config alone colours a pipe; NO_COLOR wins over the config.
    assert!(ask(&sb, None, &[]).contains(ESC));
    assert!(!ask(&sb, Some("1"), &[]).contains(ESC));
    assert!(!ask(&sb, Some("1"), &["--color", "auto"]).contains(ESC));
    // An empty NO_COLOR does not count (no-color.org).
    assert!(ask(&sb, Some(""), &[]).contains(ESC));
    // --color always wins over NO_COLOR.
    assert!(ask(&sb, Some("1"), &["--color", "always"]).contains(ESC));
    std::fs::write(&config, "color = \"never\"\n").unwrap();
    assert!(!ask(&sb, None, &[]).contains(ESC));
    assert!(ask(&sb, None, &["--color", "always"]).contains(ESC));
}
