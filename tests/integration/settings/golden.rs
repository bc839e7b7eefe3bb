//! Golden argv for every platform: the exact commands a plan would run,
//! for every setting in the shipped catalog (and the test fixtures), with
//! sample values covering each type. Regenerate with `cargo insta review`
//! (or INSTA_UPDATE=always) after the catalog changes, and read the diff.
use std::fmt::Write as _;

use knob::settings::load::{load, read_files, shipped_files};
use knob::settings::system::Output;
use knob::settings::value::Kind;
use knob::settings::{plan, Catalog, FakeSystem, Platform, Setting, Value};

use crate::support::FIXTURES;

/// Values that exercise a setting's type: both booleans, every enum name,
/// the range ends of a number, and a sample text.
fn samples(s: &Setting) -> Vec<Value> {
    let v = &s.value;
    let num = |x: f64| {
        if v.kind == Kind::Int {
            Value::Int(x as i64)
        } else {
            Value::Float(x)
        }
    };
    match v.kind {
        Kind::Bool => vec![Value::Bool(true), Value::Bool(false)],
        Kind::Enum => v.values.iter().map(|n| Value::Text(n.clone())).collect(),
        Kind::Int | Kind::Float => {
            let mut out: Vec<Value> = [v.min, v.max].into_iter().flatten().map(num).collect();
            if out.is_empty() {
                out.push(num(v.step.unwrap_or(1.0)));
            }
            out.dedup();
            out
        }
        Kind::String => {
            // The first candidate the setting's pattern accepts.
            let candidates = [
                "Knob Sample",
                "Europe/Berlin",
                "Cantarell 12",
                "de_DE.UTF-8",
                "/home/knob/Pictures/knob.png",
                r"C:\Users\knob\Pictures\knob.png",
                "knob",
            ];
            let ok = candidates
                .into_iter()
                .find(|c| v.check(&Value::Text(c.to_string())).is_ok());
            vec![Value::Text(ok.unwrap_or(candidates[0]).to_string())]
        }
    }
}

/// One block per setting the platform supports: each sample value and its argv.
fn golden(cat: &Catalog, platform: Platform) -> String {
    // No tools: current values are unknown, so every write is planned.
    golden_on(cat, platform, &FakeSystem::with_programs(&[]))
}

fn golden_on(cat: &Catalog, platform: Platform, sys: &FakeSystem) -> String {
    let mut out = String::new();
    for s in cat
        .settings()
        .iter()
        .filter(|s| s.mapping(platform).is_some())
    {
        let _ = writeln!(out, "{}", s.id);
        for value in samples(s) {
            let _ = write!(out, "  = {}", serde_json::to_string(&value).unwrap());
            match plan(cat, &[(s.id.clone(), value)], platform, sys) {
                Err(e) => {
                    let _ = writeln!(out, "\n    error: {e}");
                }
                Ok(p) => {
                    let _ = writeln!(out);
                    for w in &p.actions[0].writes {
                        let _ = writeln!(out, "    {}", serde_json::to_string(&w.argv).unwrap());
                    }
                    for a in p.after() {
                        let _ = writeln!(out, "    then {}", serde_json::to_string(&a).unwrap());
                    }
                }
            }
        }
    }
    out
}

fn shipped() -> Catalog {
    load(&shipped_files(), &[]).expect("the shipped catalog loads")
}

fn fixtures() -> Catalog {
    let files = read_files(&[format!("{FIXTURES}/profiles/fixtures.toml").into()]).unwrap();
    load(&[], &files).unwrap()
}

#[test]
fn shipped_macos_argv() {
    insta::assert_snapshot!("shipped_macos_argv", golden(&shipped(), Platform::Macos));
}

#[test]
fn shipped_windows_argv() {
    insta::assert_snapshot!(
        "shipped_windows_argv",
        golden(&shipped(), Platform::Windows)
    );
}

#[test]
fn shipped_gnome_argv() {
    insta::assert_snapshot!("shipped_gnome_argv", golden(&shipped(), Platform::Gnome));
}

#[test]
fn shipped_kde_argv() {
    insta::assert_snapshot!("shipped_kde_argv", golden(&shipped(), Platform::Kde));
}

/// Plasma 6 with a kwriteconfig6 that takes `--notify` (KDE Frameworks 6.11
/// and later). Its keys read as not set, so the `then` lines show each
/// change's follow-up where the value differs from the unset key's.
#[test]
fn shipped_kde6_argv() {
    let sys = FakeSystem::with_programs(&["kwriteconfig6", "kreadconfig6"]).script(
        &["kwriteconfig6", "--help"],
        Output::ok("Options:\n  --notify  Notify applications of the change\n"),
    );
    insta::assert_snapshot!(
        "shipped_kde6_argv",
        golden_on(&shipped(), Platform::Kde, &sys)
    );
}

#[test]
fn fixture_macos_argv() {
    insta::assert_snapshot!("fixture_macos_argv", golden(&fixtures(), Platform::Macos));
}

#[test]
fn fixture_windows_argv() {
    insta::assert_snapshot!(
        "fixture_windows_argv",
        golden(&fixtures(), Platform::Windows)
    );
}
