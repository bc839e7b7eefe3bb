//! The generation loop shared by `knob generate`, the settings agent and the
//! TUI: prefill, then sample and decode one token at a time, streaming text
//! pieces with running statistics to a callback.
//!
//! The callback runs on the generating thread; a UI forwards each piece over a
//! channel (`move |piece, stats| tx.send(...)`) and keeps inference off its
//! own thread. Generation stops on an end-of-generation token, after
//! `max_tokens`, when the context is full, or when the cancel flag is set; the
//! flag is checked before every token.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::model::{LanguageModel, ModelError};
use crate::sampling::{Sampler, SamplerConfig};

/// What the loop needs from a tokenizer.
pub trait Detokenize {
    /// Text of `ids`, special tokens left out.
    fn decode(&self, ids: &[u32]) -> String;
    /// Whether `id` ends generation (eos, eot, im_end, ...).
    fn is_eog(&self, id: u32) -> bool;
}

#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// most tokens to generate
    pub max_tokens: usize,
    pub sampler: SamplerConfig,
}

/// Running statistics, updated before every callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Stats {
    /// tokens in the prompt
    pub prompt_tokens: usize,
    /// seconds spent in prefill
    pub prefill_secs: f64,
    /// seconds from the start to the first generated token
    pub time_to_first_token_secs: f64,
    /// tokens generated so far (end-of-generation token not counted)
    pub generated_tokens: usize,
    /// seconds spent producing the tokens after the first
    pub decode_secs: f64,
}

impl Stats {
    pub fn prefill_tokens_per_sec(&self) -> f64 {
        rate(self.prompt_tokens, self.prefill_secs)
    }
    /// Tokens after the first, per second of decoding.
    pub fn decode_tokens_per_sec(&self) -> f64 {
        rate(self.generated_tokens.saturating_sub(1), self.decode_secs)
    }
}

fn rate(n: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// the model produced an end-of-generation token
    EndOfGeneration,
    /// `max_tokens` were generated
    MaxTokens,
    /// the session's context is full
    ContextFull,
    /// the cancel flag was set
    Cancelled,
}

/// The result of one generation.
#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    pub stats: Stats,
    pub stop: StopReason,
}

/// Turns a growing list of token ids into text pieces, holding back bytes of a
/// character split across tokens (byte-level BPE and SentencePiece byte
/// fallback both do this) until it is complete. The approach of
/// text-generation-inference: decode a short window of recent tokens twice
/// and emit the difference once it does not end in U+FFFD.
#[derive(Debug, Default)]
pub struct TextStream {
    ids: Vec<u32>,
    prefix_offset: usize,
    read_offset: usize,
}

impl TextStream {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ids: Vec::with_capacity(n),
            prefix_offset: 0,
            read_offset: 0,
        }
    }

    /// Adds a token; returns the text it completes, if any.
    pub fn push(&mut self, tok: &dyn Detokenize, id: u32) -> Option<String> {
        self.ids.push(id);
        let prefix = tok.decode(&self.ids[self.prefix_offset..self.read_offset]);
        let text = tok.decode(&self.ids[self.prefix_offset..]);
        if text.len() > prefix.len() && !text.ends_with('\u{FFFD}') && text.starts_with(&prefix) {
            let piece = text[prefix.len()..].to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = self.ids.len();
            Some(piece)
        } else {
            None
        }
    }

    /// Whatever is held back at the end (an incomplete character shows as U+FFFD).
    pub fn finish(&mut self, tok: &dyn Detokenize) -> Option<String> {
        let prefix = tok.decode(&self.ids[self.prefix_offset..self.read_offset]);
        let text = tok.decode(&self.ids[self.prefix_offset..]);
        self.prefix_offset = self.ids.len();
        self.read_offset = self.ids.len();
        match text.strip_prefix(&prefix) {
            Some(rest) if !rest.is_empty() => Some(rest.to_string()),
            _ => None,
        }
    }
}

/// Runs one generation from `prompt` (token ids, special tokens included).
/// Calls `on_piece(text, stats)` for every piece of text as it completes.
/// Errors only on model errors: a prompt that does not fit the context is
/// [`ModelError::ContextFull`], before any work is done.
pub fn generate(
    model: &mut dyn LanguageModel,
    tok: &dyn Detokenize,
    prompt: &[u32],
    opts: &GenerateOptions,
    cancel: &AtomicBool,
    on_piece: &mut dyn FnMut(&str, &Stats),
) -> Result<Generation, ModelError> {
    let start = Instant::now();
    let mut stats = Stats {
        prompt_tokens: prompt.len(),
        ..Stats::default()
    };
    let mut sampler = Sampler::new(opts.sampler, model.vocab_size());
    let mut history = Vec::with_capacity(prompt.len() + opts.max_tokens);
    history.extend_from_slice(prompt);
    let mut stream = TextStream::with_capacity(opts.max_tokens);
    let mut text = String::new();
    let mut tokens = Vec::with_capacity(opts.max_tokens);

    model.reset();
    let mut logits = model.prefill(prompt)?;
    stats.prefill_secs = start.elapsed().as_secs_f64();
    let mut first_token_at: Option<Instant> = None;

    let stop = loop {
        if cancel.load(Ordering::Relaxed) {
            break StopReason::Cancelled;
        }
        if tokens.len() >= opts.max_tokens {
            break StopReason::MaxTokens;
        }
        let next = sampler.sample(logits, &history);
        let now = Instant::now();
        match first_token_at {
            None => {
                first_token_at = Some(now);
                stats.time_to_first_token_secs = (now - start).as_secs_f64();
            }
            Some(t) => stats.decode_secs = (now - t).as_secs_f64(),
        }
        if tok.is_eog(next) {
            break StopReason::EndOfGeneration;
        }
        tokens.push(next);
        history.push(next);
        stats.generated_tokens = tokens.len();
        if let Some(piece) = stream.push(tok, next) {
            text.push_str(&piece);
            on_piece(&piece, &stats);
        }
        if tokens.len() >= opts.max_tokens {
            break StopReason::MaxTokens;
        }
        logits = match model.decode(next) {
            Ok(l) => l,
            Err(ModelError::ContextFull { .. }) => break StopReason::ContextFull,
            Err(e) => return Err(e),
        };
    };
    if let Some(piece) = stream.finish(tok) {
        text.push_str(&piece);
        on_piece(&piece, &stats);
    }
    if stats.time_to_first_token_secs == 0.0 {
        stats.time_to_first_token_secs = start.elapsed().as_secs_f64();
    }
    Ok(Generation {
        text,
        tokens,
        stats,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte-level toy tokenizer: token i < 256 is byte i, 256 is EOS.
    struct Bytes;
    impl Detokenize for Bytes {
        fn decode(&self, ids: &[u32]) -> String {
            let b: Vec<u8> = ids.iter().filter(|&&i| i < 256).map(|&i| i as u8).collect();
            String::from_utf8_lossy(&b).into_owned()
        }
        fn is_eog(&self, id: u32) -> bool {
            id == 256
        }
    }

    /// A model that "predicts" a fixed script of tokens, one per step.
    struct Script {
        script: Vec<u32>,
        pos: usize,
        logits: Vec<f32>,
        ctx: usize,
    }
    impl Script {
        fn new(text: &str, eos: bool, ctx: usize) -> Self {
            let mut script: Vec<u32> = text.bytes().map(u32::from).collect();
            if eos {
                script.push(256);
            }
            Self {
                script,
                pos: 0,
                logits: vec![0.0; 257],
                ctx,
            }
        }
        fn set(&mut self, step: usize) -> &[f32] {
            self.logits.fill(0.0);
            if let Some(&t) = self.script.get(step) {
                self.logits[t as usize] = 10.0;
            }
            &self.logits
        }
    }
    impl LanguageModel for Script {
        fn vocab_size(&self) -> usize {
            257
        }
        fn context_length(&self) -> usize {
            self.ctx
        }
        fn position(&self) -> usize {
            self.pos
        }
        fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
            if tokens.len() > self.ctx {
                return Err(ModelError::ContextFull {
                    needed: tokens.len(),
                    limit: self.ctx,
                });
            }
            self.pos = tokens.len();
            Ok(self.set(0))
        }
        fn decode(&mut self, _token: u32) -> Result<&[f32], ModelError> {
            if self.pos + 1 > self.ctx {
                return Err(ModelError::ContextFull {
                    needed: self.pos + 1,
                    limit: self.ctx,
                });
            }
            self.pos += 1;
            let step = self.pos - 3;
            Ok(self.set(step))
        }
        fn reset(&mut self) {
            self.pos = 0;
        }
        fn threads(&self) -> usize {
            1
        }
        fn memory(&self) -> crate::model::MemoryUse {
            crate::model::MemoryUse::default()
        }
    }

    fn run(
        model: &mut Script,
        max_tokens: usize,
        cancel: &AtomicBool,
    ) -> (Generation, Vec<String>) {
        let mut pieces = Vec::new();
        let opts = GenerateOptions {
            max_tokens,
            sampler: SamplerConfig::greedy(),
        };
        let g = generate(model, &Bytes, &[1, 2, 3], &opts, cancel, &mut |p, s| {
            assert!(s.generated_tokens > 0 && s.prompt_tokens == 3);
            pieces.push(p.to_string());
        })
        .unwrap();
        (g, pieces)
    }

    #[test]
    fn multibyte_characters_split_across_tokens_stream_whole() {
        // "é" is 2 bytes, "日" 3, "🦀" 4: each arrives as separate tokens
        let mut m = Script::new("aé日🦀!", true, 100);
        let (g, pieces) = run(&mut m, 50, &AtomicBool::new(false));
        assert_eq!(pieces, ["a", "é", "日", "🦀", "!"]);
        assert_eq!(g.text, "aé日🦀!");
        assert_eq!(g.stop, StopReason::EndOfGeneration);
        assert_eq!(g.stats.generated_tokens, 1 + 2 + 3 + 4 + 1);
        assert!(g.tokens.iter().all(|&t| t != 256));
    }

    #[test]
    fn stops_at_max_tokens_and_flushes_a_cut_character() {
        let mut m = Script::new("ab日", false, 100);
        let (g, pieces) = run(&mut m, 3, &AtomicBool::new(false));
        assert_eq!(g.stop, StopReason::MaxTokens);
        assert_eq!(g.tokens.len(), 3);
        assert_eq!(pieces, ["a", "b", "\u{FFFD}"]);
    }

    #[test]
    fn a_set_cancel_flag_stops_before_the_first_token() {
        let mut m = Script::new("hello", true, 100);
        let (g, pieces) = run(&mut m, 50, &AtomicBool::new(true));
        assert_eq!(g.stop, StopReason::Cancelled);
        assert!(g.tokens.is_empty() && pieces.is_empty());
    }

    #[test]
    fn cancel_from_the_callback_stops_the_next_token() {
        let mut m = Script::new("hello world", true, 100);
        let cancel = AtomicBool::new(false);
        let opts = GenerateOptions {
            max_tokens: 50,
            sampler: SamplerConfig::greedy(),
        };
        let g = generate(&mut m, &Bytes, &[1, 2, 3], &opts, &cancel, &mut |p, _| {
            if p == "l" {
                cancel.store(true, Ordering::Relaxed);
            }
        })
        .unwrap();
        assert_eq!(g.text, "hel");
        assert_eq!(g.stop, StopReason::Cancelled);
    }

    #[test]
    fn full_context_ends_generation_and_an_oversized_prompt_is_an_error() {
        let mut m = Script::new("abcdefgh", true, 6);
        let (g, _) = run(&mut m, 50, &AtomicBool::new(false));
        assert_eq!(g.stop, StopReason::ContextFull);
        assert_eq!(g.text, "abcd");
        let mut m = Script::new("abc", true, 2);
        let opts = GenerateOptions {
            max_tokens: 5,
            sampler: SamplerConfig::greedy(),
        };
        let err = generate(
            &mut m,
            &Bytes,
            &[1, 2, 3],
            &opts,
            &AtomicBool::new(false),
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ModelError::ContextFull {
                needed: 3,
                limit: 2
            }
        ));
    }

    #[test]
    fn rates() {
        let s = Stats {
            prompt_tokens: 64,
            prefill_secs: 0.5,
            generated_tokens: 11,
            decode_secs: 0.1,
            ..Stats::default()
        };
        assert_eq!(s.prefill_tokens_per_sec(), 128.0);
        assert!((s.decode_tokens_per_sec() - 100.0).abs() < 1e-9);
        assert_eq!(Stats::default().decode_tokens_per_sec(), 0.0);
    }
}
