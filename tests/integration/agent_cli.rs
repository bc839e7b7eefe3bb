//! `knob ask` and `knob batch` end to end through the binary: inputs from
//! arguments and stdin, the JSON shapes, bad batch lines, hostile input, and
//! the documented exit codes. Behaviour that depends on what the shipped model
//! understands is in agent_model.rs.
use crate::support::{assert_contains, text, Sandbox, IFACE};
use serde_json::Value;

#[test]
fn an_empty_request_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = sb.knob(&["ask", "--platform", "gnome", ""]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_contains(&text(&out.stderr), "the request is empty");
    let out = sb.knob_stdin(&["ask", "--platform", "gnome"], b"  \n\t ");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the request is empty"));
}

#[test]
fn a_huge_request_is_refused_clearly_from_stdin_and_arguments() {
    let sb = Sandbox::new();
    let huge = vec![b'a'; 1 << 20];
    let out = sb.knob_stdin(&["ask", "--platform", "gnome"], &huge);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_contains(&text(&out.stderr), "longer than the limit of 4096 bytes");
    // One argument may be at most 128 KiB on Linux; this one is 100 KiB.
    let big = "b".repeat(100 * 1024);
    let out = sb.knob(&["ask", "--platform", "gnome", &big]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the request is 102400 bytes long; the limit is 4096 bytes"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("panicked"));
}

#[test]
fn control_characters_are_replaced_with_a_note() {
    let sb = Sandbox::new();
    let out = sb.knob(&[
        "ask",
        "--platform",
        "windows",
        "--json",
        "dark\u{1}\u{1b}[2J mode",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        text(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["query"], "dark [2J mode");
    assert!(
        v["notices"][0]
            .as_str()
            .unwrap()
            .contains("control characters"),
        "{v}"
    );
}

#[test]
fn a_keyword_query_gives_suggestions_and_exit_3() {
    let sb = Sandbox::new();
    let out = sb.knob(&["ask", "--platform", "gnome", "--json", "bluetooth"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["intent"], "search");
    assert_eq!(v["applied"], false);
    assert_eq!(v["actions"].as_array().unwrap().len(), 0);
    let ids: Vec<&str> = v["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["setting"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"bluetooth.enabled"), "{ids:?}");
    for key in ["query", "confidence", "timing"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    for key in ["total_ms", "encode_ms", "decode_ms", "tokens"] {
        assert!(v["timing"].get(key).is_some(), "timing lacks {key}: {v}");
    }
    // The human form lists the same suggestions.
    let out = sb.knob(&["ask", "--platform", "gnome", "bluetooth"]);
    assert_eq!(out.status.code(), Some(3));
    assert_contains(&text(&out.stdout), "bluetooth.enabled");
}

#[test]
fn batch_answers_every_line_in_order_and_reports_bad_ones() {
    let sb = Sandbox::new();
    let mut input = Vec::new();
    input.extend_from_slice(b"bluetooth\n");
    input.extend_from_slice(b"\xff\xfe not utf-8\n");
    input.extend_from_slice(b"{\"id\": \"a\", \"query\": \n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"{\"id\": 9, \"query\": \"wifi\"}\n");
    input.extend_from_slice(&vec![b'x'; 10_000]);
    input.extend_from_slice(b"\n{\"id\": [1], \"query\": \"mouse\"}\n");
    for threads in ["1", "2"] {
        let out = sb.knob_stdin(
            &["batch", "--platform", "windows", "--threads", threads, "-"],
            &input,
        );
        // Bad lines make the exit status 1; every line still has its object.
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let lines: Vec<Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        let numbers: Vec<u64> = lines.iter().map(|v| v["line"].as_u64().unwrap()).collect();
        assert_eq!(
            numbers,
            vec![1, 2, 3, 5, 6, 7],
            "blank line 4 skipped, order kept"
        );
        assert_eq!(lines[0]["intent"], "search");
        assert_eq!(lines[1]["error"], "line is not valid UTF-8");
        assert!(lines[2]["error"].as_str().unwrap().starts_with("bad JSON"));
        assert_eq!(lines[3]["id"], 9);
        assert_eq!(lines[3]["query"], "wifi");
        assert_eq!(lines[4]["error"], "line is longer than 4096 bytes");
        assert_eq!(lines[5]["id"], serde_json::json!([1]));
        let err = text(&out.stderr);
        assert!(
            err.contains("6 requests")
                && err.contains("requests/s")
                && err.contains("p50")
                && err.contains("p99"),
            "{err}"
        );
    }
}

/// `--explain` gives each answered line the n-best list, as `ask --explain`
/// does; without it the lines carry none.
#[test]
fn batch_explain_adds_the_n_best_list() {
    let sb = Sandbox::new();
    let input = b"turn off bluetooth\n{\"id\": 2, \"query\": \"make the volume louder\"}\n";
    let lines = |args: &[&str]| -> Vec<Value> {
        let out = sb.knob_stdin(args, input);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let explained = lines(&["batch", "--platform", "windows", "--explain", "-"]);
    assert_eq!(explained.len(), 2);
    for line in &explained {
        let candidates = line["candidates"].as_array().expect("candidates");
        assert_eq!(candidates[0]["program"], line["program"]);
        assert!(candidates.len() >= 2, "{line}");
        let p: Vec<f64> = candidates
            .iter()
            .map(|c| c["probability"].as_f64().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] >= w[1]), "likeliest first: {p:?}");
    }
    let plain = lines(&["batch", "--platform", "windows", "-"]);
    assert!(plain.iter().all(|l| l.get("candidates").is_none()));
}

#[test]
fn batch_reads_a_file_and_refuses_apply_without_yes() {
    let sb = Sandbox::new();
    let file = sb.path("requests.txt");
    std::fs::write(&file, "bluetooth\nmouse\n").unwrap();
    let out = sb.knob(&["batch", "--platform", "windows", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);
    let out = sb.knob(&["batch", "--apply", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--apply without --yes is a usage error"
    );
    let out = sb.knob(&[
        "batch",
        "--platform",
        "windows",
        "/nonexistent/requests.txt",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&text(&out.stderr), "opening /nonexistent/requests.txt");
}

#[test]
fn ask_and_batch_dry_runs_go_through_apply_on_the_dry_run_system() {
    crate::support::require_tool("gsettings");
    let sb = Sandbox::new();
    // What the dry-run system recorded: the plan's changed argv, in order.
    let expected = |plan: &Value| {
        let a = &plan["actions"][0];
        serde_json::json!([a["argv"], a["also"][0]["argv"]])
    };
    let out = sb.knob(&["ask", "--platform", "gnome", "--json", "turn on dark mode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["actions"][0]["setting"], "appearance.dark_mode");
    assert_eq!(plan["dry_run_writes"], expected(&plan));

    let out = sb.knob_stdin(
        &["batch", "--platform", "gnome", "-"],
        b"turn on dark mode\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["actions"][0]["setting"], "appearance.dark_mode");
    assert_eq!(line["dry_run_writes"], expected(&line));
    assert_eq!(
        sb.gsettings_get(IFACE, "color-scheme"),
        "'default'",
        "a dry run changes nothing"
    );
}

/// The JSON type of `v`, by name.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Each key of `obj` with its type, sorted by key.
fn schema(obj: &Value) -> Vec<(String, &'static str)> {
    let map = obj
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {obj}"));
    let mut out: Vec<_> = map.iter().map(|(k, v)| (k.clone(), kind(v))).collect();
    out.sort();
    out
}

fn keys(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    let mut out: Vec<_> = pairs.iter().map(|(k, t)| (k.to_string(), *t)).collect();
    out.sort();
    out
}

#[test]
fn ask_and_batch_json_have_one_schema() {
    crate::support::require_tool("gsettings");
    let sb = Sandbox::new();
    // The plan's fields, then the understanding's, then the dry run's.
    let plan_fields = [
        ("platform", "string"),
        ("actions", "array"),
        ("skipped", "array"),
        ("after", "array"),
        ("applied", "bool"),
        ("can_apply", "bool"),
        ("refusal", "null"),
        ("query", "string"),
        ("intent", "string"),
        ("confidence", "number"),
        ("suggestions", "array"),
        ("timing", "object"),
        ("program", "string"),
        ("dry_run_writes", "array"),
    ];
    let out = sb.knob(&["ask", "--platform", "gnome", "--json", "turn on dark mode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ask: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema(&ask), keys(&plan_fields));
    assert_eq!(
        schema(&ask["timing"]),
        keys(&[
            ("total_ms", "number"),
            ("encode_ms", "number"),
            ("decode_ms", "number"),
            ("tokens", "number"),
        ])
    );
    let out = sb.knob(&[
        "ask",
        "--platform",
        "gnome",
        "--json",
        "--explain",
        "turn on dark mode",
    ]);
    let explained: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut with_candidates = plan_fields.to_vec();
    with_candidates.push(("candidates", "array"));
    assert_eq!(schema(&explained), keys(&with_candidates));
    assert_eq!(
        schema(&explained["candidates"][0]),
        keys(&[("program", "string"), ("probability", "number")])
    );

    let out = sb.knob_stdin(
        &["batch", "--platform", "gnome", "-"],
        b"turn on dark mode\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    let mut batch_fields = plan_fields.to_vec();
    batch_fields.push(("line", "number"));
    assert_eq!(schema(&line), keys(&batch_fields));
    // The fields both share mean the same.
    for k in [
        "platform",
        "actions",
        "query",
        "intent",
        "program",
        "dry_run_writes",
    ] {
        assert_eq!(line[k], ask[k], "{k}");
    }
}

#[test]
fn set_and_get_say_why_a_setting_is_not_available_here() {
    let sb = Sandbox::new();
    let out = sb.knob(&[
        "set",
        "notifications.do_not_disturb",
        "true",
        "--platform",
        "kde",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // The catalog's reason, and where it can be changed instead.
    assert_contains(
        &text(&out.stderr),
        "notifications.do_not_disturb cannot be changed: not available on kde: Plasma keeps Do Not Disturb",
    );
    assert_contains(&text(&out.stderr), "(it can on: gnome, windows)");
    let out = sb.knob(&["get", "notifications.do_not_disturb", "--platform", "kde"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_contains(
        &text(&out.stderr),
        "notifications.do_not_disturb cannot be read: not available on kde: Plasma keeps",
    );
}

#[test]
fn set_and_ask_resolve_a_relative_value_the_same_way() {
    // Planning for macOS on Linux: `defaults` is not here, so the current
    // value cannot be read, and both say so with the same words.
    let sb = Sandbox::new();
    let out = sb.knob(&["set", "a11y.cursor_size", "up", "--platform", "macos"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = "cannot increase a11y.cursor_size on macos: its current value is unknown";
    assert_contains(&text(&out.stderr), said);
    assert_contains(&text(&out.stderr), "say the value you want instead");
    let out = sb.knob(&[
        "ask",
        "--platform",
        "macos",
        "--json",
        "make the mouse pointer bigger",
    ]);
    let ask: Value = serde_json::from_slice(&out.stdout).unwrap();
    let note = ask["notes"][0].as_str().unwrap_or_default();
    assert!(note.contains(said), "{ask}");
    assert!(
        text(
            &sb.knob(&["set", "a11y.cursor_size", "up", "--platform", "macos"])
                .stderr
        )
        .contains(note),
        "set's error is ask's note: {note}"
    );
}

/// Writes `lines` as a JSONL file in the sandbox and returns its path.
fn jsonl(sb: &Sandbox, name: &str, lines: &[&str]) -> String {
    let path = sb.path(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

#[test]
fn eval_scores_a_file_and_a_candidate_model_file_the_same_as_the_embedded_one() {
    let sb = Sandbox::new();
    let file = jsonl(
        &sb,
        "cases.jsonl",
        &[
            r#"{"query": "turn on dark mode", "expect": ["set appearance.dark_mode true"]}"#,
            r#"{"query": "turn on dark mode", "expect": ["set appearance.dark_mode false"]}"#,
            r#"{"query": "what is the capital of france", "expect": ["none"]}"#,
        ],
    );
    let embedded = sb.knob(&["eval", "--json", &file]);
    assert_eq!(
        embedded.status.code(),
        Some(0),
        "{}",
        text(&embedded.stderr)
    );
    let report: Value = serde_json::from_slice(&embedded.stdout).unwrap();
    assert_eq!(report["model"], "embedded");
    assert_eq!(report["total"], 3);
    // the same query cannot match two contradicting expectations
    assert!(report["correct"].as_u64().unwrap() <= 2);
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(
        failures.len() as u64,
        3 - report["correct"].as_u64().unwrap()
    );
    assert!(failures.iter().any(|f| f["line"] == 2));

    let asset = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/knob-mu2.gguf");
    let candidate = sb.knob(&["eval", "--json", "--settings-model", asset, &file]);
    assert_eq!(
        candidate.status.code(),
        Some(0),
        "{}",
        text(&candidate.stderr)
    );
    let other: Value = serde_json::from_slice(&candidate.stdout).unwrap();
    assert_eq!(other["model"], asset);
    assert_eq!(other["correct"], report["correct"]);
    assert_eq!(other["failures"], report["failures"]);
}

/// A reversed answer (the right setting, the opposite value) is counted, and
/// counted as planned when knob would plan it.
#[test]
fn eval_counts_reversed_answers() {
    let sb = Sandbox::new();
    let file = jsonl(
        &sb,
        "reversed.jsonl",
        &[
            // The model turns dark mode on: this expectation is its reversal.
            r#"{"query": "turn on dark mode", "expect": ["set appearance.dark_mode false"]}"#,
            r#"{"query": "turn on dark mode", "expect": ["set appearance.dark_mode true"]}"#,
            // Wrong, but not a reversal: another setting.
            r#"{"query": "turn on dark mode", "expect": ["set night_light.enabled true"]}"#,
        ],
    );
    let out = sb.knob(&["eval", "--json", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["correct"], 1);
    assert_eq!(report["reversed"], 1);
    assert_eq!(report["reversed_planned"], 1);
    assert_eq!(report["held_back_by_polarity_guard"], 0);
    let plain = text(&sb.knob(&["eval", &file]).stdout);
    assert_contains(
        &plain,
        "reversed (right setting, opposite value or direction): 1 (33.33%), 1 of them planned (33.33%); 0 answers held back by the polarity guard",
    );
}

#[test]
fn eval_reports_bad_files_with_their_line() {
    let sb = Sandbox::new();
    let bad_json = jsonl(
        &sb,
        "bad.jsonl",
        &[r#"{"query": "x", "expect": ["none"]}"#, "{nope"],
    );
    let out = sb.knob(&["eval", &bad_json]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&text(&out.stderr), "bad.jsonl:2");

    let bad_action = jsonl(
        &sb,
        "action.jsonl",
        &[r#"{"query": "x", "expect": ["set no.such_setting true"]}"#],
    );
    let out = sb.knob(&["eval", &bad_action]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&text(&out.stderr), "action.jsonl:1");

    let not_gguf = sb.path("model.gguf");
    std::fs::write(&not_gguf, b"not a gguf file").unwrap();
    let good = jsonl(
        &sb,
        "good.jsonl",
        &[r#"{"query": "x", "expect": ["none"]}"#],
    );
    let out = sb.knob(&[
        "eval",
        "--settings-model",
        &not_gguf.display().to_string(),
        &good,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&text(&out.stderr), "model.gguf");
}
