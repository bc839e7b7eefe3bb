//! `knob model info FILE`: a GGUF file's metadata and tensor table.
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::cli::ModelCommand;
use crate::exit::Exit;
use crate::gguf::{Array, Gguf, Value};

/// Arrays longer than this are summarized in text output.
const MAX_ITEMS: usize = 8;
/// Strings longer than this (in chars, escaped) are cut in text output.
const MAX_CHARS: usize = 120;

pub fn run(cmd: ModelCommand) -> anyhow::Result<Exit> {
    match cmd {
        ModelCommand::Info { file, json, full } => info(&file, json, full),
    }
}

fn info(path: &Path, as_json: bool, full: bool) -> anyhow::Result<Exit> {
    let gguf = Gguf::open(path).with_context(|| format!("cannot load model {}", path.display()))?;
    let mut out = crate::output::stdout();
    if as_json {
        serde_json::to_writer_pretty(&mut out, &info_json(&gguf, full))?;
        writeln!(out)?;
    } else {
        write_info_text(&mut out, &gguf, path, full)?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// The text report: header, metadata (one line per key), tensor table.
pub fn write_info_text(
    out: &mut impl Write,
    gguf: &Gguf,
    path: &Path,
    full: bool,
) -> std::io::Result<()> {
    let (max_items, max_chars) = if full {
        (usize::MAX, usize::MAX)
    } else {
        (MAX_ITEMS, MAX_CHARS)
    };
    let total: u64 = gguf.tensor_infos().iter().map(|t| t.n_bytes).sum();
    let params: u64 = gguf.tensor_infos().iter().map(|t| t.n_elements).sum();
    writeln!(out, "file:       {}", path.display())?;
    writeln!(
        out,
        "gguf:       version {}, alignment {}",
        gguf.version(),
        gguf.alignment()
    )?;
    writeln!(
        out,
        "tensors:    {} ({} parameters, {} bytes)",
        gguf.tensor_infos().len(),
        params,
        total
    )?;
    writeln!(out, "\nmetadata ({} keys):", gguf.metadata().len())?;
    let key_width = gguf
        .metadata()
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0);
    for (key, value) in gguf.metadata().iter() {
        writeln!(
            out,
            "  {key:<key_width$}  {:<10} {}",
            value.type_name_short(),
            value.summary(max_items, max_chars)
        )?;
    }
    let name_width = gguf
        .tensor_infos()
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "\n  {:<name_width$}  {:<7} {:<20} {:>12}",
        "name", "type", "dims", "bytes"
    )?;
    for t in gguf.tensor_infos() {
        let dims = format!("{:?}", t.dims);
        writeln!(
            out,
            "  {:<name_width$}  {:<7} {:<20} {:>12}",
            t.name,
            t.ggml_type.name(),
            dims,
            t.n_bytes
        )?;
    }
    Ok(())
}

/// The JSON report: long arrays are summarized unless `full`.
pub fn info_json(gguf: &Gguf, full: bool) -> serde_json::Value {
    let metadata: serde_json::Map<String, serde_json::Value> = gguf
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_string(), value_json(v, full)))
        .collect();
    let tensors: Vec<serde_json::Value> = gguf
        .tensor_infos()
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "type": t.ggml_type.name(),
                "dims": t.dims,
                "elements": t.n_elements,
                "bytes": t.n_bytes,
                "offset": gguf.data_start() + t.offset,
            })
        })
        .collect();
    json!({
        "version": gguf.version(),
        "alignment": gguf.alignment(),
        "metadata": metadata,
        "tensors": tensors,
    })
}

fn value_json(v: &Value, full: bool) -> serde_json::Value {
    match v {
        Value::Array(a) if !full && a.len() > MAX_ITEMS => {
            let head: Vec<serde_json::Value> = (0..MAX_ITEMS)
                .filter_map(|i| a.get(i))
                .map(|v| value_json(&v, full))
                .collect();
            json!({ "type": v.type_name(), "len": a.len(), "head": head })
        }
        Value::Array(a) => serde_json::Value::Array(
            (0..a.len())
                .filter_map(|i| a.get(i))
                .map(|v| value_json(&v, full))
                .collect(),
        ),
        Value::U8(x) => json!(x),
        Value::I8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::I32(x) => json!(x),
        Value::U64(x) => json!(x),
        Value::I64(x) => json!(x),
        Value::F32(x) => json!(x),
        Value::F64(x) => json!(x),
        Value::Bool(x) => json!(x),
        Value::String(s) => json!(s),
    }
}

trait ShortTypeName {
    fn type_name_short(&self) -> String;
}

impl ShortTypeName for Value {
    /// `u32`, `string`, `[string]`.
    fn type_name_short(&self) -> String {
        match self {
            Value::Array(a) => format!("[{}]", array_elem(a)),
            v => v.value_type().name().to_string(),
        }
    }
}

fn array_elem(a: &Array) -> &'static str {
    a.element_type().name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::writer::GgufWriter;

    fn tiny() -> Gguf {
        let mut w = GgufWriter::new();
        w.set("general.architecture", "llama").set(
            "tokenizer.ggml.tokens",
            (0..100).map(|i| format!("t{i}")).collect::<Vec<_>>(),
        );
        w.add_f32("output_norm.weight", &[32], &[1.0; 32]).unwrap();
        w.add_q8_0("token_embd.weight", &[32, 4], &[0.5; 128])
            .unwrap();
        Gguf::from_bytes(&w.to_bytes()).unwrap()
    }

    #[test]
    fn text_lists_metadata_and_tensors_with_long_arrays_summarized() {
        let mut out = Vec::new();
        write_info_text(&mut out, &tiny(), Path::new("tiny.gguf"), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("general.architecture   string     \"llama\""),
            "{text}"
        );
        assert!(text.contains("[\"t0\", \"t1\", \"t2\", \"t3\", \"t4\", \"t5\", \"t6\", \"t7\", …] (100 × string)"), "{text}");
        assert!(
            text.contains("token_embd.weight   q8_0    [32, 4]                       136"),
            "{text}"
        );
        assert!(
            text.contains("tensors:    2 (160 parameters, 264 bytes)"),
            "{text}"
        );
    }

    #[test]
    fn json_has_every_key_and_tensor() {
        let v = info_json(&tiny(), false);
        assert_eq!(v["metadata"]["general.architecture"], "llama");
        assert_eq!(v["metadata"]["tokenizer.ggml.tokens"]["len"], 100);
        assert_eq!(v["tensors"][1]["type"], "q8_0");
        assert_eq!(v["tensors"][1]["dims"], json!([32, 4]));
        let full = info_json(&tiny(), true);
        assert_eq!(
            full["metadata"]["tokenizer.ggml.tokens"]
                .as_array()
                .map(Vec::len),
            Some(100)
        );
    }
}
