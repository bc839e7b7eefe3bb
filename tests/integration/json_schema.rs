//! Every command's `--json` output, through the real binary on fixtures,
//! validates against its committed schema in docs/json/ (generated from the
//! types that serialize it; `KNOB_UPDATE_SCHEMAS=1 cargo test --lib
//! json_schemas` rewrites them). The schemas are strict: a field printed
//! that the type does not have fails here.
//!
//! The test is a table of rows run in order in one sandbox: the arguments,
//! the schema the output must match, and the exit status. A row without a
//! schema only prepares state for the rows after it (a plan in the journal).
//! To cover a command, add a row; to add a schema, see
//! src/commands/json_schema.rs.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::chat_model;
use crate::support::{require_tool, Sandbox};

// ---------------------------------------------------------------------------
// The table.

/// One command run, and what its standard output must be.
struct Row {
    /// Arguments after `knob`, or a program and its arguments for a tool.
    args: Vec<String>,
    /// The schema in docs/json/ its output must match; `None`: the row only
    /// prepares state (its output is not checked, only its status).
    schema: Option<&'static str>,
    /// The exit status it must end with.
    status: i32,
    /// One JSON document per line (check-program, batch) instead of one.
    lines: bool,
    /// Run this program instead of knob (to change a key behind knob's back).
    tool: bool,
}

/// A row whose output must match `schema`, with exit status 0.
fn json(args: &[&str], schema: &'static str) -> Row {
    Row {
        args: args.iter().map(|a| a.to_string()).collect(),
        schema: Some(schema),
        status: 0,
        lines: false,
        tool: false,
    }
}

/// A knob run that only prepares state for the rows after it.
fn step(args: &[&str]) -> Row {
    Row {
        schema: None,
        ..json(args, "")
    }
}

/// A program other than knob, run in the sandbox to prepare state.
fn tool(argv: &[&str]) -> Row {
    Row {
        tool: true,
        ..step(argv)
    }
}

impl Row {
    fn status(mut self, status: i32) -> Row {
        self.status = status;
        self
    }
    fn lines(mut self) -> Row {
        self.lines = true;
        self
    }
}

/// Files the rows name: a chat model, an eval file, a query list.
struct Files {
    model: String,
    eval: String,
    queries: String,
}

const IFACE: &str = "org.gnome.desktop.interface";

fn rows(f: &Files) -> Vec<Row> {
    let model = f.model.as_str();
    vec![
        json(&["settings", "list", "--json"], "settings-list"),
        json(
            &["settings", "list", "--json", "--platform", "windows"],
            "settings-list",
        ),
        json(
            &["settings", "show", "--json", "fixture.dark_mode"],
            "settings-show",
        ),
        json(
            &["settings", "show", "--json", "fixture-evening"],
            "settings-show",
        ),
        json(&["settings", "export", "--json"], "settings-export"),
        json(
            &[
                "settings",
                "check-program",
                "--json",
                "set fixture.dark_mode true ; preset fixture-evening",
                "none",
                "set no.such.setting 1",
            ],
            "settings-check-program",
        )
        .lines()
        .status(1),
        // gnome through gsettings in the sandbox: a value; windows on Linux:
        // reg is missing, so the value is unknown.
        json(
            &["get", "fixture.dark_mode", "--platform", "gnome", "--json"],
            "get",
        ),
        json(
            &[
                "get",
                "fixture.dark_mode",
                "--platform",
                "windows",
                "--json",
            ],
            "get",
        ),
        json(
            &[
                "embed",
                "--json",
                "--model",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bert_tiny.gguf"),
                "turn on dark mode",
            ],
            "embed",
        )
        .lines(),
        json(&["history", "--json"], "history"),
        // The response of set, apply, ask and batch: a dry run, then a plan
        // applied into the journal.
        json(
            &[
                "set",
                "fixture.dark_mode",
                "on",
                "--platform",
                "gnome",
                "--json",
            ],
            "set",
        ),
        json(
            &["apply", "fixture-evening", "--platform", "gnome", "--json"],
            "apply",
        ),
        json(
            &[
                "ask",
                "--platform",
                "gnome",
                "--json",
                "--explain",
                "turn on dark mode",
            ],
            "ask",
        ),
        json(&["ask", "--json", "write a poem about the sea"], "ask").status(3),
        json(&["batch", "--platform", "gnome", &f.eval], "batch").lines(),
        json(
            &[
                "set",
                "fixture.dark_mode",
                "on",
                "--platform",
                "gnome",
                "--apply",
                "--yes",
                "--json",
            ],
            "set",
        ),
        json(&["history", "--json"], "history"),
        // Changed behind knob's back: undo leaves the key (status 4, `left`).
        tool(&["gsettings", "set", IFACE, "gtk-theme", "'HighContrast'"]),
        json(&["undo", "--json"], "undo").status(4),
        json(&["history", "--json"], "history"),
        json(&["undo", "--json", "--force"], "undo"),
        json(&["history", "--json"], "history"),
        json(&["model", "info", "--json", model], "model-info"),
        json(&["model", "info", "--json", "--full", model], "model-info"),
        json(
            &[
                "generate",
                "--json",
                "--model",
                model,
                "--max-tokens",
                "4",
                "--threads",
                "1",
                "hello",
            ],
            "generate",
        ),
        json(
            &[
                "bench",
                "model",
                "--json",
                "--model",
                model,
                "--reps",
                "1",
                "--threads",
                "1",
            ],
            "bench-model",
        ),
        // The smallest run: one in-cache shape, one thread, quick sampling.
        json(
            &[
                "bench",
                "kernels",
                "--json",
                "--quick",
                "--shape",
                "attn",
                "--threads",
                "1",
            ],
            "bench-kernels",
        ),
        json(&["eval", "--json", &f.eval, "--threads", "1"], "eval"),
        json(
            &[
                "bench",
                "agent",
                "--json",
                "--reps",
                "1",
                "--no-jax",
                "--queries",
                &f.queries,
            ],
            "bench-agent",
        ),
        // The embedded model against the decoder-only golden fixture, smallest run.
        json(
            &[
                "bench",
                "arch",
                "--json",
                "--compare",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/dec-golden/dec.gguf"
                ),
                "--reps",
                "1",
                "--threads",
                "1",
                "--lengths",
                "8",
                "--accuracy",
                &f.eval,
            ],
            "bench-arch",
        ),
        // Errors under --json: the command's own, and a usage error.
        json(&["get", "no.such.setting", "--json"], "error").status(1),
        json(&["history", "--json", "--no-such-flag"], "error").status(2),
        json(&["undo", "--json", "--id", "999"], "error").status(1),
    ]
}

// ---------------------------------------------------------------------------
// Running the table.

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema_file(name: &str) -> PathBuf {
    root().join("docs/json").join(format!("{name}.schema.json"))
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = schema_file(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
}

/// The schema's complaints about `value`; empty when it is valid.
fn violations(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("at '{}': {e}", e.instance_path()))
        .collect()
}

fn run(sb: &Sandbox, row: &Row) -> Output {
    let (program, args) = if row.tool {
        (PathBuf::from(&row.args[0]), &row.args[1..])
    } else {
        (PathBuf::from(env!("CARGO_BIN_EXE_knob")), &row.args[..])
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    sb.prepare(&mut cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.output().expect("running the command")
}

/// The JSON documents a row printed.
fn documents(row: &Row, stdout: &str) -> Vec<Value> {
    let texts: Vec<&str> = if row.lines {
        stdout.lines().collect()
    } else {
        vec![stdout]
    };
    texts
        .iter()
        .map(|t| {
            serde_json::from_str(t)
                .unwrap_or_else(|e| panic!("{:?} printed no JSON ({e}): {t}", row.args))
        })
        .collect()
}

fn files(dir: &Path) -> Files {
    let model = dir.join("tiny-chat.gguf");
    // bench model prefills 512 tokens: the context must hold them.
    chat_model::write_chat_model(
        &model,
        chat_model::Shape {
            dim: 64,
            hidden: 128,
            layers: 1,
            heads: 2,
            context: 1024,
        },
    );
    let eval = dir.join("eval.jsonl");
    std::fs::File::create(&eval)
        .and_then(|mut f| {
            f.write_all(
                b"{\"query\": \"turn on dark mode\", \"expect\": [\"set appearance.dark_mode true\"]}\n\
                  {\"query\": \"what time is it in paris\", \"expect\": \"none\"}\n",
            )
        })
        .unwrap();
    let queries = dir.join("queries.txt");
    std::fs::write(&queries, "turn on dark mode\nlouder\n").unwrap();
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    Files {
        model: s(model),
        eval: s(eval),
        queries: s(queries),
    }
}

#[test]
fn every_json_output_matches_its_committed_schema() {
    require_tool("gsettings");
    let sb = Sandbox::new();
    let files = files(sb.dir.path());
    let mut checked = std::collections::BTreeSet::new();
    for row in rows(&files) {
        let out = run(&sb, &row);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(row.status),
            "{:?}: stdout {stdout}\nstderr {stderr}",
            row.args
        );
        let Some(name) = row.schema else {
            continue;
        };
        let validator = validator(name);
        let documents = documents(&row, &stdout);
        assert!(!documents.is_empty(), "{:?} printed nothing", row.args);
        for doc in &documents {
            let wrong = violations(&validator, doc);
            assert!(
                wrong.is_empty(),
                "{:?} does not match docs/json/{name}.schema.json:\n{}\n{doc:#}",
                row.args,
                wrong.join("\n")
            );
        }
        checked.insert(name);
    }
    // Every committed schema was checked against real output by some row.
    let committed: Vec<String> = std::fs::read_dir(root().join("docs/json"))
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".schema.json")
                .map(str::to_string)
        })
        .filter(|n| !checked.contains(n.as_str()))
        .collect();
    assert!(committed.is_empty(), "schemas no row checks: {committed:?}");
}

/// The schemas forbid what their types lack, so a field printed without
/// the type is caught; and they check types, not only names.
#[test]
fn a_field_the_type_lacks_or_a_wrong_type_fails_validation() {
    let sb = Sandbox::new();
    let row = json(
        &[
            "get",
            "fixture.dark_mode",
            "--platform",
            "windows",
            "--json",
        ],
        "get",
    );
    let out = run(&sb, &row);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let good: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = validator("get");
    assert_eq!(violations(&v, &good), Vec::<String>::new());

    let mut extra = good.clone();
    extra["added"] = Value::from(1);
    assert!(!violations(&v, &extra).is_empty(), "{extra}");
    let mut nested = good.clone();
    nested["target"]["added"] = Value::from(1);
    assert!(!violations(&v, &nested).is_empty(), "{nested}");
    let mut wrong = good.clone();
    wrong["platform"] = Value::from("beos");
    assert!(!violations(&v, &wrong).is_empty(), "{wrong}");
    let mut missing = good;
    missing.as_object_mut().unwrap().remove("current");
    assert!(!violations(&v, &missing).is_empty(), "{missing}");
}
