//! A decoder-only settings model (issue 19): a `llama` GGUF that reads
//! `query <separator> program` (train/knobtrain/model_dec.py). The query and
//! separator are prefilled once; beam search then advances every hypothesis
//! over that shared prompt KV ([`LlamaBeamCache`]), under the same grammar and
//! beam width as the encoder–decoder.
use crate::gguf::Gguf;
use crate::model::gguf_source::GgufSource;
use crate::model::llama::{Llama, LlamaBeamCache, SessionOptions};
use crate::model::{LanguageModel, ModelError};

use super::error::SettingsModelError;

/// The key whose presence makes a llama file a settings model.
const SEPARATOR_KEY: &str = "knob.settings_model.separator_token_id";

pub(super) fn is_settings_model(gguf: &Gguf) -> bool {
    gguf.metadata().contains(SEPARATOR_KEY)
}

pub(super) struct DecoderOnly {
    model: Llama,
    cache: LlamaBeamCache,
    /// Between query and program; beam search's start token.
    pub separator: u32,
    /// End of the program.
    pub eos: u32,
    /// Never produced (its logit is -inf, as mu's engine does).
    pad: Option<u32>,
    /// Longest query, in tokens.
    pub query_len: usize,
    /// Longest program, separator included (mu's decoder context).
    program_len: usize,
}

fn key(gguf: &Gguf, name: &str) -> Result<u32, SettingsModelError> {
    gguf.metadata()
        .get_u32_opt(name)?
        .ok_or_else(|| SettingsModelError::Model(ModelError::MissingKey(name.into())))
}

impl DecoderOnly {
    pub fn load(gguf: Gguf, threads: usize, beams: usize) -> Result<Self, SettingsModelError> {
        let separator = key(&gguf, SEPARATOR_KEY)?;
        let eos = key(&gguf, "tokenizer.ggml.eos_token_id")?;
        let pad = gguf
            .metadata()
            .get_u32_opt("tokenizer.ggml.padding_token_id")?;
        let query_len = key(&gguf, "knob.settings_model.query_length")? as usize;
        let program_len = key(&gguf, "knob.settings_model.program_length")? as usize;
        let opts = SessionOptions {
            threads,
            context: None,
            max_batch: 256,
            // f32 like the encoder–decoder's state: the comparison is of the
            // shapes, and the golden test holds it to the JAX model's math.
            kv: crate::model::kv_cache::KvType::F32,
        };
        let model = Llama::load(&GgufSource::new(gguf), opts)?;
        let vocab = model.config.vocab_size;
        if let Some(&token) = [separator, eos].iter().find(|&&t| t as usize >= vocab) {
            return Err(ModelError::BadToken { token, vocab }.into());
        }
        let needed = query_len + program_len;
        if program_len < 2 || needed > model.context_length() {
            return Err(ModelError::BadValue {
                key: "knob.settings_model.query_length".into(),
                why: format!(
                    "a {query_len}-token query and a {program_len}-token program need {needed} positions; \
                     the model has {}",
                    model.context_length()
                ),
            }
            .into());
        }
        let cache = LlamaBeamCache::new(&model, beams, program_len);
        Ok(DecoderOnly {
            model,
            cache,
            separator,
            eos,
            pad: pad.filter(|&p| (p as usize) < vocab),
            query_len,
            program_len,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.model.config.vocab_size
    }

    pub fn threads(&self) -> usize {
        self.model.threads()
    }

    /// Processes the query and the separator in one batch.
    pub fn prefill(&mut self, query: &[u32]) -> Result<(), ModelError> {
        crate::model::check_input(query, self.query_len, self.vocab_size(), "prompt")?;
        let mut prompt = Vec::with_capacity(query.len() + 1);
        prompt.extend_from_slice(query);
        prompt.push(self.separator);
        self.model.reset();
        self.model.prefill(&prompt)?;
        Ok(())
    }

    pub fn beams(&mut self) -> DecoderOnlyBeams<'_> {
        DecoderOnlyBeams {
            model: &mut self.model,
            cache: &mut self.cache,
            separator: self.separator,
            pad: self.pad,
            program_len: self.program_len,
            primed: false,
        }
    }
}

/// The decoder-only model as beam search drives it.
pub struct DecoderOnlyBeams<'a> {
    model: &'a mut Llama,
    cache: &'a mut LlamaBeamCache,
    separator: u32,
    pad: Option<u32>,
    program_len: usize,
    /// The prefill's logits wait as the first step's answer: the separator
    /// (beam search's start token) was part of the prompt.
    primed: bool,
}

impl DecoderOnlyBeams<'_> {
    pub fn vocab_size(&self) -> usize {
        self.model.config.vocab_size
    }

    /// Tokens a hypothesis may write, the separator's step included (as mu's
    /// `dec_ctx - 1` counts the start token's step).
    pub fn max_len(&self) -> usize {
        let room = self.model.context_length() - self.model.position();
        (self.program_len - 1).min(room + 1)
    }

    pub fn start(&mut self) {
        self.cache.start_after_prefill(self.model);
        self.primed = true;
    }

    pub fn step(&mut self, tokens: &[u32]) -> Result<(), ModelError> {
        if std::mem::take(&mut self.primed) {
            if tokens != [self.separator] {
                return Err(ModelError::BadValue {
                    key: "beams".into(),
                    why: "the first step must feed the separator".into(),
                });
            }
        } else {
            let n = tokens.len().min(self.cache.capacity());
            self.model.decode_beams(self.cache, &tokens[..n])?;
        }
        if let Some(pad) = self.pad {
            let vocab = self.vocab_size();
            for row in self.cache.logits_mut(tokens.len()).chunks_mut(vocab) {
                row[pad as usize] = f32::NEG_INFINITY;
            }
        }
        Ok(())
    }

    pub fn logits(&self, n: usize) -> &[f32] {
        self.cache.logits(n)
    }

    pub fn reorder(&mut self, from: &[usize]) {
        let n = from.len().min(self.cache.capacity());
        self.cache.reorder(self.model, &from[..n]);
    }
}
