//! `knob generate`: run a GGUF model on one prompt. Text streams to stdout,
//! statistics go to stderr; `--json` prints one object at the end instead.
use std::io::{IsTerminal, Read};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};

use crate::chat_template::{ChatTemplate, Message};
use crate::cli::GenerateArgs;
use crate::exit::{Exit, UsageError};
use crate::generate::{generate, Detokenize, GenerateOptions, Generation, StopReason};
use crate::gguf::Gguf;
use crate::model::gguf_source::GgufSource;
use crate::model::llama::SessionOptions;
use crate::model::ModelSource;
use crate::sampling::SamplerConfig;
use crate::tokenizer::Tokenizer;

impl Detokenize for Tokenizer {
    fn decode(&self, ids: &[u32]) -> String {
        Tokenizer::decode(self, ids, false)
    }
    fn is_eog(&self, id: u32) -> bool {
        Tokenizer::is_eog(self, id)
    }
}

/// Streams generated text to stdout as it comes. Once stdout is closed (the
/// reader is gone), it asks generation to stop.
pub struct PieceWriter<'a> {
    /// Print nothing while generating (`--json` prints once at the end).
    quiet: bool,
    cancel: &'a AtomicBool,
}

impl<'a> PieceWriter<'a> {
    pub fn new(quiet: bool, cancel: &'a AtomicBool) -> Self {
        PieceWriter { quiet, cancel }
    }

    pub fn write(&mut self, piece: &str) {
        if self.quiet {
            return;
        }
        crate::output::print_now(piece);
        if crate::output::closed() {
            self.cancel
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Default thread count: the machine's cores, at most 8 (decode is bound by
/// memory bandwidth, which a few cores saturate).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

fn usage(message: &str) -> anyhow::Error {
    UsageError(message.to_string()).into()
}

pub fn run(ctx: &super::Context, args: GenerateArgs) -> Result<Exit> {
    let path = ctx.required_model("generate")?;
    let prompt = match &args.prompt {
        Some(p) => p.clone(),
        None => {
            if std::io::stdin().is_terminal() {
                return Err(usage("no prompt: give PROMPT or pipe it to standard input"));
            }
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading the prompt from standard input")?;
            // Exit status 2, as for an argument that is not UTF-8 (clap's check).
            String::from_utf8(bytes)
                .map_err(|_| usage("the prompt on standard input is not valid UTF-8"))?
        }
    };
    if prompt.trim().is_empty() {
        return Err(usage("the prompt is empty"));
    }
    let file = Gguf::open(path).with_context(|| format!("opening {}", path.display()))?;
    let tokenizer =
        Tokenizer::from_gguf(&file).with_context(|| format!("tokenizer of {}", path.display()))?;
    // A settings model v2 reads WordPieces and writes its own action vocabulary.
    let output_tokenizer = Tokenizer::mu_decoder(file.metadata())
        .with_context(|| format!("the decoder's tokenizer of {}", path.display()))?;
    let text = if args.chat {
        let template =
            ChatTemplate::for_model(file.metadata(), &tokenizer).context("chat template")?;
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(Message::new("system", system));
        }
        messages.push(Message::new("user", &prompt));
        template
            .render(&messages, true)
            .context("rendering the chat template")?
    } else {
        prompt
    };
    // As llama.cpp does: BOS if the model asks for it, special-token text parsed.
    let tokens = tokenizer
        .encode(&text, true, true)
        .context("tokenizing the prompt")?;
    if tokens.is_empty() {
        bail!("the prompt has no tokens");
    }

    let src = GgufSource::new(file);
    let arch = src.meta_str("general.architecture").unwrap_or_default();
    // A KV cache just big enough for this prompt and reply (the model's
    // context length caps it; a prompt over it is refused at prefill).
    let context = Some(tokens.len() + args.max_tokens);
    let threads = ctx.threads().unwrap_or_else(default_threads).max(1);
    let mut model = crate::model::load(
        &src,
        SessionOptions {
            threads,
            context,
            max_batch: 256,
        },
    )
    .with_context(|| format!("loading {} ({arch})", path.display()))?;
    // The model keeps what it borrows from the mapping (Q8_0 tensors); a file
    // that was re-quantized at load is no longer needed, and unmapping it
    // gives its pages back.
    drop(src);

    let opts = GenerateOptions {
        max_tokens: args.max_tokens,
        sampler: SamplerConfig {
            temperature: args.temp,
            top_k: args.top_k,
            top_p: args.top_p,
            min_p: args.min_p,
            repeat_penalty: args.repeat_penalty,
            repeat_last_n: 64,
            seed: args.seed,
        },
    };
    let cancel = AtomicBool::new(false);
    let json = args.json;
    let mut writer = PieceWriter::new(json, &cancel);
    let result = generate(
        model.as_mut(),
        output_tokenizer.as_ref().unwrap_or(&tokenizer),
        &tokens,
        &opts,
        &cancel,
        &mut |piece, _stats| writer.write(piece),
    );
    let g = result.with_context(|| format!("the prompt is {} tokens", tokens.len()))?;
    if json {
        outln!("{}", serde_json::to_string(&json_report(&g, threads))?);
    } else {
        outln!();
        errln!("{}", stats_line(&g));
    }
    Ok(Exit::Ok)
}

/// `knob generate --json`.
// Fields in alphabetical order, the order the output had when it was built
// with json!, which scripts may rely on.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct GenerateJson {
    /// Peak resident memory of the process (Linux; null elsewhere).
    pub peak_rss_bytes: Option<u64>,
    pub stats: StatsJson,
    pub stop: StopReason,
    pub text: String,
    pub threads: usize,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct StatsJson {
    pub decode_secs: f64,
    pub decode_tokens_per_sec: f64,
    pub generated_tokens: usize,
    pub prefill_secs: f64,
    pub prefill_tokens_per_sec: f64,
    pub prompt_tokens: usize,
    pub time_to_first_token_secs: f64,
}

fn json_report(g: &Generation, threads: usize) -> GenerateJson {
    let s = &g.stats;
    GenerateJson {
        peak_rss_bytes: crate::commands::bench_model::peak_rss_bytes(),
        stats: StatsJson {
            decode_secs: s.decode_secs,
            decode_tokens_per_sec: s.decode_tokens_per_sec(),
            generated_tokens: s.generated_tokens,
            prefill_secs: s.prefill_secs,
            prefill_tokens_per_sec: s.prefill_tokens_per_sec(),
            prompt_tokens: s.prompt_tokens,
            time_to_first_token_secs: s.time_to_first_token_secs,
        },
        stop: g.stop,
        text: g.text.clone(),
        threads,
    }
}

fn stats_line(g: &Generation) -> String {
    let s = &g.stats;
    format!(
        "prompt {} tokens at {:.1} tok/s, first token after {:.3} s, {} tokens at {:.1} tok/s, stop: {}",
        s.prompt_tokens,
        s.prefill_tokens_per_sec(),
        s.time_to_first_token_secs,
        s.generated_tokens,
        s.decode_tokens_per_sec(),
        serde_json::to_value(g.stop).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    )
}
