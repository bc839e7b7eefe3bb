//! `knob model info FILE`: a GGUF file's metadata and tensor table.
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

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
    // Natural order: blk.2 before blk.10, as people count layers.
    let mut tensors: Vec<_> = gguf.tensor_infos().iter().collect();
    tensors.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    for t in tensors {
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

/// Compares names with runs of digits as numbers: `blk.2.x` < `blk.10.x`.
/// Names equal but for leading zeros (`b01`, `b1`) fall back to plain
/// text order, so the order is total.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    by_numbers(a, b).then_with(|| a.cmp(b))
}

fn by_numbers(mut a: &str, mut b: &str) -> Ordering {
    loop {
        let (Some(ca), Some(cb)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let (da, ra) = split_digits(a);
            let (db, rb) = split_digits(b);
            // Compared as text without leading zeros: no overflow.
            let (ta, tb) = (da.trim_start_matches('0'), db.trim_start_matches('0'));
            match ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb)) {
                Ordering::Equal => (a, b) = (ra, rb),
                other => return other,
            }
        } else {
            match ca.cmp(&cb) {
                Ordering::Equal => (a, b) = (&a[ca.len_utf8()..], &b[cb.len_utf8()..]),
                other => return other,
            }
        }
    }
}

/// The leading ASCII digits of `s` and the rest.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// `knob model info --json`.
// Fields in alphabetical order, the order the output had when it was built
// with json!, which scripts may rely on.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ModelInfo {
    pub alignment: u64,
    /// Every metadata key, sorted.
    pub metadata: BTreeMap<String, MetaValue>,
    /// In file order.
    pub tensors: Vec<TensorJson>,
    /// The GGUF format version.
    pub version: u32,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TensorJson {
    pub bytes: u64,
    /// Fastest-varying first (ggml's `ne`).
    pub dims: Vec<u64>,
    pub elements: u64,
    pub name: String,
    /// Absolute offset of the data in the file.
    pub offset: u64,
    /// The ggml type: f32, f16, q8_0, ...
    #[serde(rename = "type")]
    pub ggml_type: &'static str,
}

/// A metadata value. Numbers keep their sign; floats (f32 ones widened) are
/// JSON numbers.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum MetaValue {
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    String(String),
    Array(Vec<MetaValue>),
    /// A long array without `--full`: its first items and its length.
    Summary(ArraySummary),
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ArraySummary {
    pub head: Vec<MetaValue>,
    pub len: usize,
    /// The array's type, as `array of string`.
    #[serde(rename = "type")]
    pub array_type: String,
}

/// The JSON report: long arrays are summarized unless `full`.
pub fn info_json(gguf: &Gguf, full: bool) -> ModelInfo {
    ModelInfo {
        alignment: gguf.alignment(),
        metadata: gguf
            .metadata()
            .iter()
            .map(|(k, v)| (k.to_string(), value_json(v, full)))
            .collect(),
        tensors: gguf
            .tensor_infos()
            .iter()
            .map(|t| TensorJson {
                bytes: t.n_bytes,
                dims: t.dims.clone(),
                elements: t.n_elements,
                name: t.name.clone(),
                offset: gguf.data_start() + t.offset,
                ggml_type: t.ggml_type.name(),
            })
            .collect(),
        version: gguf.version(),
    }
}

fn value_json(v: &Value, full: bool) -> MetaValue {
    match v {
        Value::Array(a) if !full && a.len() > MAX_ITEMS => MetaValue::Summary(ArraySummary {
            head: (0..MAX_ITEMS)
                .filter_map(|i| a.get(i))
                .map(|v| value_json(&v, full))
                .collect(),
            len: a.len(),
            array_type: v.type_name(),
        }),
        Value::Array(a) => MetaValue::Array(
            (0..a.len())
                .filter_map(|i| a.get(i))
                .map(|v| value_json(&v, full))
                .collect(),
        ),
        Value::U8(x) => MetaValue::Unsigned(u64::from(*x)),
        Value::I8(x) => MetaValue::Signed(i64::from(*x)),
        Value::U16(x) => MetaValue::Unsigned(u64::from(*x)),
        Value::I16(x) => MetaValue::Signed(i64::from(*x)),
        Value::U32(x) => MetaValue::Unsigned(u64::from(*x)),
        Value::I32(x) => MetaValue::Signed(i64::from(*x)),
        Value::U64(x) => MetaValue::Unsigned(*x),
        Value::I64(x) => MetaValue::Signed(*x),
        Value::F32(x) => MetaValue::Float(f64::from(*x)),
        Value::F64(x) => MetaValue::Float(*x),
        Value::Bool(x) => MetaValue::Bool(*x),
        Value::String(s) => MetaValue::String(s.clone()),
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
    fn text_lists_tensors_in_natural_order() {
        let mut w = GgufWriter::new();
        w.set("general.architecture", "llama");
        // File order is the writer's: blk.0, blk.1, blk.10, blk.2, ...
        for name in [
            "blk.0.attn_q.weight",
            "blk.1.attn_q.weight",
            "blk.10.attn_q.weight",
            "blk.11.attn_q.weight",
            "blk.2.attn_q.weight",
            "blk.9.attn_q.weight",
            "output.weight",
        ] {
            w.add_f32(name, &[4], &[0.0; 4]).unwrap();
        }
        let gguf = Gguf::from_bytes(&w.to_bytes()).unwrap();
        let mut out = Vec::new();
        write_info_text(&mut out, &gguf, Path::new("m.gguf"), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let listed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.ends_with(".weight"))
            .collect();
        assert_eq!(
            listed,
            [
                "blk.0.attn_q.weight",
                "blk.1.attn_q.weight",
                "blk.2.attn_q.weight",
                "blk.9.attn_q.weight",
                "blk.10.attn_q.weight",
                "blk.11.attn_q.weight",
                "output.weight",
            ]
        );
    }

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        let mut names = vec!["b10", "b2", "a", "b02", "b1x", "b", "b1", "b01", "c0"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["a", "b", "b01", "b1", "b1x", "b02", "b2", "b10", "c0"]
        );
        assert_eq!(natural_cmp("blk.2", "blk.2"), Ordering::Equal);
        assert_eq!(natural_cmp("9", "18446744073709551616"), Ordering::Less);
    }

    #[test]
    fn json_has_every_key_and_tensor() {
        use serde_json::json;
        let v = serde_json::to_value(info_json(&tiny(), false)).unwrap();
        assert_eq!(v["metadata"]["general.architecture"], "llama");
        assert_eq!(v["metadata"]["tokenizer.ggml.tokens"]["len"], 100);
        assert_eq!(v["tensors"][1]["type"], "q8_0");
        assert_eq!(v["tensors"][1]["dims"], json!([32, 4]));
        let full = serde_json::to_value(info_json(&tiny(), true)).unwrap();
        assert_eq!(
            full["metadata"]["tokenizer.ggml.tokens"]
                .as_array()
                .map(Vec::len),
            Some(100)
        );
    }
}
