//! The newcomer's commands through the binary: --version, doctor, config
//! errors and --ignore-config, completions.
use std::process::{Command, Output};

use crate::support::{assert_contains, text, KNOB};

fn knob(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(KNOB);
    cmd.args(args)
        .env_remove("KNOB_CONFIG")
        .env_remove("KNOB_ISA");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running knob")
}

#[test]
fn version_names_the_commit_the_kernel_path_and_the_model() {
    let out = knob(&["--version"], &[]);
    assert!(out.status.success());
    let v = text(&out.stdout);
    assert!(
        v.starts_with(&format!("knob {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(v.contains("kernels: ") && v.contains("(detected)"), "{v}");
    let sha = v
        .split("sha256 ")
        .nth(1)
        .expect("a checksum")
        .split(',')
        .next()
        .unwrap();
    assert_eq!(sha.len(), 64, "{v}");
    assert!(sha.chars().all(|c| c.is_ascii_hexdigit()), "{v}");
    // A forced path shows as forced; an impossible one as an error.
    let v = text(&knob(&["--version"], &[("KNOB_ISA", "scalar")]).stdout);
    assert_contains(&v, "kernels: scalar (forced by KNOB_ISA)");
    let out = knob(&["doctor"], &[("KNOB_ISA", "nonsense")]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&text(&out.stderr), "KNOB_ISA");
}

#[test]
fn doctor_reports_the_machine_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = knob(
        &["doctor"],
        &[
            ("KNOB_DATA_DIR", data.to_str().unwrap()),
            (
                "KNOB_CONFIG_DIR",
                dir.path().join("config").to_str().unwrap(),
            ),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for part in [
        "platform:",
        "backend tools:",
        "gsettings",
        "CPU kernels:",
        "chosen:",
        "catalog: ",
        "journal:",
    ] {
        assert!(report.contains(part), "doctor lacks {part:?}:\n{report}");
    }
    assert!(!data.exists(), "doctor created the data directory");
}

#[test]
fn an_invalid_config_stops_knob_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "threads = 2\ncolour = \"never\"\n").unwrap();
    let p = path.to_str().unwrap();
    let out = knob(&["--config", p, "config", "show"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_contains(&err, &format!("{p}:2:1: unknown field `colour`"));
    assert_contains(&err, "--ignore-config");
    let out = knob(&["--config", p, "--ignore-config", "config", "show"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(ignored)"));
    // KNOB_CONFIG names the file too.
    let out = knob(&["config", "path"], &[("KNOB_CONFIG", p)]);
    assert_eq!(text(&out.stdout).trim(), p);
}

#[test]
fn completions_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = knob(&["completions", shell], &[]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(
            script.contains("knob") && script.contains("batch"),
            "{shell}"
        );
    }
    assert_eq!(knob(&["completions", "tcsh"], &[]).status.code(), Some(2));
}

#[test]
fn bench_model_profiles_decode_and_prefill_section_by_section() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny-chat.gguf");
    crate::support::chat_model::write_chat_model(
        &model,
        crate::support::chat_model::Shape {
            dim: 64,
            hidden: 128,
            layers: 2,
            heads: 2,
            context: 1024,
        },
    );
    let model = model.to_str().unwrap();
    let base = [
        "bench",
        "model",
        "--profile",
        "--reps",
        "2",
        "--model",
        model,
    ];
    for (extra, header, tokens) in [
        (&[][..], "decode profile, 1 thread(s), 256 tokens", true),
        (
            &["--prefill", "40", "--threads", "2"][..],
            "prefill profile (40-token prompts), 2 thread(s), 80 tokens",
            false,
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = knob(&args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let report = text(&out.stdout);
        assert_contains(&report, header);
        for section in ["attention", "matvec ffn_gate/up", "rms norms", "logits"] {
            assert_contains(&report, section);
        }
        // Prefill samples nothing, so it has no sampling row.
        assert_eq!(report.contains("sampling"), tokens, "{report}");
    }
    // --prefill needs --profile, and a prompt the bench has tokens for.
    for bad in [
        &["bench", "model", "--prefill", "8", "--model", model][..],
        &[
            "bench",
            "model",
            "--profile",
            "--prefill",
            "513",
            "--model",
            model,
        ][..],
    ] {
        let out = knob(bad, &[]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert_contains(&text(&out.stderr), "--prefill");
    }
}
