//! `knob embed`: sentence vectors from a BERT GGUF (all-MiniLM-L6-v2).
//!
//! Each text gives one line: its vector's values separated by spaces (what
//! `paste`, numpy's `loadtxt` and awk read), in the order the texts came.
//! `--json` gives one JSON object per text instead. Texts come from the
//! arguments (one text each) or from standard input (one text per line).
use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};

use crate::cli::EmbedArgs;
use crate::commands::generate::default_threads;
use crate::exit::{Exit, UsageError};
use crate::gguf::Gguf;
use crate::model::bert::Bert;
use crate::model::gguf_source::GgufSource;
use crate::tokenizer::Tokenizer;

/// One text's vector, as `--json` prints it.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Embedding<'a> {
    model: &'a str,
    dimensions: usize,
    /// tokens the model read, [CLS] and [SEP] included
    tokens: usize,
    embedding: &'a [f32],
}

pub fn run(ctx: &super::Context, args: EmbedArgs) -> Result<Exit> {
    let path = ctx.required_model("embed")?;
    let texts = if args.text.is_empty() {
        read_stdin_lines()?
    } else {
        args.text.clone()
    };
    let file = Gguf::open(path).with_context(|| format!("opening {}", path.display()))?;
    let name = file
        .metadata()
        .get_str_opt("general.name")
        .ok()
        .flatten()
        .map(str::to_string)
        .unwrap_or_else(|| {
            path.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        });
    let threads = ctx.threads().unwrap_or_else(default_threads).max(1);
    let src = GgufSource::new(file);
    // The model first: a chat model given by mistake is named as such before
    // its (large) tokenizer is built.
    let mut model = Bert::load(&src, threads)
        .with_context(|| format!("loading {} as an embedding model", path.display()))?;
    let tokenizer = Tokenizer::from_gguf(&src.file)
        .with_context(|| format!("tokenizer of {}", path.display()))?;
    drop(src);
    let limit = model.config.n_ctx;

    for (i, text) in texts.iter().enumerate() {
        let mut tokens = tokenizer
            .encode(text, true, true)
            .with_context(|| format!("tokenizing text {}", i + 1))?;
        if tokens.len() > limit {
            if !args.truncate {
                bail!(
                    "text {} is {} tokens, but {name} reads at most {limit} \
                     ([CLS] and [SEP] included); shorten it or pass --truncate",
                    i + 1,
                    tokens.len()
                );
            }
            // As sentence-transformers truncates: keep the first tokens and
            // end with [SEP].
            let sep = tokens[tokens.len() - 1];
            tokens.truncate(limit - 1);
            tokens.push(sep);
        }
        let vector = model
            .sentence_embedding(&tokens, !args.no_normalize)
            .with_context(|| format!("embedding text {}", i + 1))?;
        if args.json {
            let line = serde_json::to_string(&Embedding {
                model: &name,
                dimensions: vector.len(),
                tokens: tokens.len(),
                embedding: &vector,
            })?;
            outln!("{line}");
        } else {
            let values: Vec<String> = vector.iter().map(f32::to_string).collect();
            outln!("{}", values.join(" "));
        }
        if crate::output::closed() {
            break;
        }
    }
    Ok(Exit::Ok)
}

/// One text per line of standard input (empty lines are texts too, so that
/// output line N always belongs to input line N).
fn read_stdin_lines() -> Result<Vec<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(UsageError("no text: give TEXT or pipe lines to standard input".into()).into());
    }
    let mut texts = Vec::new();
    for (i, line) in stdin.lock().split(b'\n').enumerate() {
        let mut bytes = line.context("reading standard input")?;
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            UsageError(format!(
                "line {} of standard input is not valid UTF-8",
                i + 1
            ))
        })?;
        texts.push(text);
    }
    if texts.is_empty() {
        return Err(UsageError("standard input is empty: no text to embed".into()).into());
    }
    Ok(texts)
}
