//! JSON Schemas of the commands' `--json` output, generated from the very
//! types that serialize it (schemars), so that a schema cannot drift from
//! the output. They are committed in docs/json/ (see docs/json.md); a test
//! keeps them current, and `KNOB_UPDATE_SCHEMAS=1 cargo test json_schemas`
//! rewrites them. tests/json_schema.rs runs each command and validates what
//! it prints against its committed schema.
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};

/// One kind of `--json` output.
pub struct JsonOutput {
    /// The schema's file name in docs/json/ without `.schema.json`: the
    /// command's words joined by `-` (`settings-list`), or `error`.
    pub name: &'static str,
    /// What prints it, for the schema's description.
    pub what: &'static str,
    schema: fn() -> Schema,
}

impl JsonOutput {
    /// The schema as committed: pretty JSON with a final newline.
    pub fn render(&self) -> String {
        let mut schema = (self.schema)();
        schema.insert("description".into(), self.what.into());
        let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
        text.push('\n');
        text
    }

    /// The path of its committed schema, relative to the repository root.
    pub fn file(&self) -> String {
        format!("docs/json/{}.schema.json", self.name)
    }
}

/// Every typed `--json` output. A command that prints JSON gets a row here
/// (the test `every_json_flag_has_a_schema` fails until it has one).
pub const OUTPUTS: &[JsonOutput] = &[
    JsonOutput {
        name: "ask",
        what: "knob ask --json: the request's response (understanding, plan, answers, outcome; a chat answer)",
        schema: schema_of::<crate::agent::respond::ResponseJson<'static>>,
    },
    JsonOutput {
        name: "set",
        what: "knob set --json: the plan's response (no understanding)",
        schema: schema_of::<crate::agent::respond::ResponseJson<'static>>,
    },
    JsonOutput {
        name: "apply",
        what: "knob apply --json: the preset's plan as a response (no understanding)",
        schema: schema_of::<crate::agent::respond::ResponseJson<'static>>,
    },
    JsonOutput {
        name: "batch",
        what: "knob batch: each line, the line number and id, then the response's fields",
        schema: schema_of::<super::batch::LineJson<'static>>,
    },
    JsonOutput {
        name: "embed",
        what: "knob embed --json: one object per text",
        schema: schema_of::<super::embed::Embedding<'static>>,
    },
    JsonOutput {
        name: "error",
        what: "What any command prints on standard output for an error under --json (and always for knob batch and knob settings export).",
        schema: schema_of::<crate::exit::ErrorJson>,
    },
    JsonOutput {
        name: "bench-agent",
        what: "knob bench agent --json",
        schema: schema_of::<super::bench_agent::BenchAgentJson>,
    },
    JsonOutput {
        name: "bench-arch",
        what: "knob bench arch --json",
        schema: schema_of::<super::bench_arch::BenchArchJson>,
    },
    JsonOutput {
        name: "bench-kernels",
        what: "knob bench kernels --json",
        schema: schema_of::<super::bench_kernels::BenchKernelsJson>,
    },
    JsonOutput {
        name: "bench-model",
        what: "knob bench model --json",
        schema: schema_of::<super::bench_model::Report>,
    },
    JsonOutput {
        name: "eval",
        what: "knob eval --json",
        schema: schema_of::<super::eval::Report>,
    },
    JsonOutput {
        name: "generate",
        what: "knob generate --json",
        schema: schema_of::<super::generate::GenerateJson>,
    },
    JsonOutput {
        name: "get",
        what: "knob get --json",
        schema: schema_of::<super::get::GetJson>,
    },
    JsonOutput {
        name: "history",
        what: "knob history --json: the journal's plans, oldest first",
        schema: schema_of::<Vec<super::history::HistoryItem>>,
    },
    JsonOutput {
        name: "model-info",
        what: "knob model info --json",
        schema: schema_of::<super::model::ModelInfo>,
    },
    JsonOutput {
        name: "settings-check-program",
        what: "knob settings check-program --json: one object per line, one line per program",
        schema: schema_of::<super::check_program::Verdict>,
    },
    JsonOutput {
        name: "settings-export",
        what: "knob settings export --json",
        schema: schema_of::<crate::settings::export::ExportJson>,
    },
    JsonOutput {
        name: "settings-list",
        what: "knob settings list --json",
        schema: schema_of::<super::settings::ListJson>,
    },
    JsonOutput {
        name: "settings-show",
        what: "knob settings show --json: a setting or a preset",
        schema: schema_of::<super::settings::ShowJson>,
    },
    JsonOutput {
        name: "undo",
        what: "knob undo --json",
        schema: schema_of::<super::undo::UndoJson<'static>>,
    },
];

/// The schema of what serializing a `T` prints (the serialize contract: a
/// field always written is required). Strict: an object has no properties
/// but the type's, so output with a field the type lacks fails validation.
fn schema_of<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(RecursiveTransform(forbid_other_properties))
        .into_generator()
        .into_root_schema_for::<T>()
}

/// `additionalProperties: false` on every object schema with named
/// properties (a struct); maps keep their value schema.
fn forbid_other_properties(schema: &mut Schema) {
    if let Some(object) = schema.as_object_mut() {
        if object.contains_key("properties") && !object.contains_key("additionalProperties") {
            object.insert("additionalProperties".into(), false.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn json_schemas_are_current() {
        let dir = root().join("docs/json");
        if std::env::var_os("KNOB_UPDATE_SCHEMAS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.to_string_lossy().ends_with(".schema.json") {
                    std::fs::remove_file(path).unwrap();
                }
            }
            for output in OUTPUTS {
                std::fs::write(root().join(output.file()), output.render()).unwrap();
            }
        }
        let stale: Vec<&str> = OUTPUTS
            .iter()
            .filter(|o| std::fs::read_to_string(root().join(o.file())).ok() != Some(o.render()))
            .map(|o| o.name)
            .collect();
        let extra: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|f| {
                        f.strip_suffix(".schema.json")
                            .is_some_and(|n| !OUTPUTS.iter().any(|o| o.name == n))
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            stale.is_empty() && extra.is_empty(),
            "docs/json/ is stale (changed: {stale:?}, no longer generated: {extra:?}); \
             run `KNOB_UPDATE_SCHEMAS=1 cargo test --lib json_schemas` and commit docs/json/"
        );
    }

    /// Every object schema with named properties forbids others.
    fn assert_strict(value: &serde_json::Value, at: &str) {
        match value {
            serde_json::Value::Object(map) => {
                if map.contains_key("properties") {
                    assert_eq!(
                        map.get("additionalProperties"),
                        Some(&serde_json::Value::Bool(false)),
                        "{at} allows properties its type does not have"
                    );
                }
                for (k, v) in map {
                    assert_strict(v, &format!("{at}/{k}"));
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    assert_strict(v, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }

    #[test]
    fn json_schemas_are_strict_and_name_their_command() {
        for output in OUTPUTS {
            let schema: serde_json::Value = serde_json::from_str(&output.render()).unwrap();
            assert_strict(&schema, output.name);
            assert_eq!(schema["description"], output.what);
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
        }
        // The strictness reaches structs nested in enums and $defs.
        let history: serde_json::Value = serde_json::from_str(
            &OUTPUTS
                .iter()
                .find(|o| o.name == "history")
                .unwrap()
                .render(),
        )
        .unwrap();
        assert_eq!(
            history["$defs"]["LeftKey"]["additionalProperties"],
            serde_json::Value::Bool(false),
            "{history:#}"
        );
    }

    /// Names of the (sub)commands that take `--json`: `settings-list`.
    fn json_commands(cmd: &clap::Command, prefix: &str, found: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = if prefix.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{prefix}-{}", sub.get_name())
            };
            if sub.get_arguments().any(|a| a.get_id() == "json") {
                found.push(name.clone());
            }
            json_commands(sub, &name, found);
        }
    }

    #[test]
    fn every_json_flag_has_a_schema() {
        let mut commands = Vec::new();
        json_commands(&Cli::command(), "", &mut commands);
        assert!(
            commands.contains(&"model-info".to_string())
                && commands.contains(&"bench-kernels".to_string()),
            "{commands:?}"
        );
        let missing: Vec<&String> = commands
            .iter()
            .filter(|c| !OUTPUTS.iter().any(|o| o.name == c.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "commands with --json but no schema in OUTPUTS: {missing:?}"
        );
    }
}
