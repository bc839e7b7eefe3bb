//! The shipped settings model: the `mu` GGUF embedded in the binary, its
//! tokenizer, and the glue that lets beam search drive it.
use std::sync::Arc;

use crate::gguf::Gguf;
use crate::model::gguf_source::GgufSource;
use crate::model::mu::{BeamCache, EncoderKind, Mu};
use crate::model::ModelError;
use crate::tokenizer::Tokenizer;

use super::beam::{BeamDecoder, TokenTable};

/// The model file compiled into knob: settings model v2 (`assets/knob-mu2.gguf`,
/// made by train/run-v2.sh: all-MiniLM-L6-v2 fine-tuned under a Mu-style
/// decoder), tested against JAX in tests/integration/mu2_golden.rs. The v1
/// model (`assets/knob-mu.gguf`, trained from nothing) stays in the tree as the
/// baseline `knob eval --settings-model` compares against.
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("../../assets/knob-mu2.gguf");

/// Most hypotheses beam search keeps.
pub const MAX_BEAMS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum SettingsModelError {
    #[error("reading the settings model: {0}")]
    Gguf(#[from] crate::gguf::GgufError),
    #[error("loading the settings model: {0}")]
    Model(#[from] ModelError),
    #[error("the settings model's tokenizer: {0}")]
    Tokenizer(String),
    #[error("the settings model is a '{0}' model, expected 'mu'")]
    NotMu(String),
}

/// A loaded settings model with its decoding state, reused for every query.
pub struct SettingsModel {
    pub name: String,
    /// The model was trained to write `get <id>` and `chat` (GGUF key
    /// `mu.grammar.questions`); older models write `none` for both.
    pub questions: bool,
    /// Logits are divided by it before the softmax (`mu.calibration.temperature`;
    /// 1 for models that were not calibrated).
    pub temperature: f32,
    pub(crate) mu: Mu,
    /// The request's tokenizer (v2: BERT's WordPieces).
    pub(crate) tokenizer: Arc<Tokenizer>,
    /// The output's tokens, as beam search sees them (v2: the action vocabulary).
    pub(crate) tokens: TokenTable,
    cache: BeamCache,
    /// The model file (its weights are read from it in place).
    file: Arc<Gguf>,
    fingerprint: std::sync::OnceLock<String>,
}

impl SettingsModel {
    /// The embedded model.
    pub fn embedded(threads: usize) -> Result<SettingsModel, SettingsModelError> {
        Self::from_gguf(Gguf::from_static(EMBEDDED_MODEL)?, threads)
    }

    pub fn from_gguf(gguf: Gguf, threads: usize) -> Result<SettingsModel, SettingsModelError> {
        let arch = gguf.architecture()?.to_string();
        if arch != "mu" {
            return Err(SettingsModelError::NotMu(arch));
        }
        let name = gguf
            .metadata()
            .get_str_opt("general.name")?
            .unwrap_or("mu")
            .to_string();
        let md = gguf.metadata();
        let questions = md.get_bool_opt("mu.grammar.questions")?.unwrap_or(false);
        let temperature = md.get_f32_opt("mu.calibration.temperature")?.unwrap_or(1.0);
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(SettingsModelError::Model(ModelError::BadValue {
                key: "mu.calibration.temperature".into(),
                why: format!("{temperature} is not a positive number"),
            }));
        }
        let tokenizer = Tokenizer::from_gguf(&gguf)
            .map_err(|e| SettingsModelError::Tokenizer(e.to_string()))?;
        // v2 writes from its own action vocabulary; v1 shares the request's.
        let decoder_tokenizer = Tokenizer::mu_decoder(md)
            .map_err(|e| SettingsModelError::Tokenizer(format!("the decoder's: {e}")))?;
        let source = GgufSource::new(gguf);
        let mu = Mu::load(&source, threads)?;
        let out_tokenizer = decoder_tokenizer.as_ref().unwrap_or(&tokenizer);
        let eos = mu
            .config
            .end_token
            .ok_or_else(|| SettingsModelError::Tokenizer("no end-of-output token".into()))?;
        // Each token's text on its own; tokens that are not whole UTF-8 (pieces
        // of a multi-byte character) and control tokens get none, so the
        // grammar never picks them.
        let text = (0..mu.config.vocab_size as u32)
            .map(|id| String::from_utf8(out_tokenizer.token_bytes(id, false)).unwrap_or_default())
            .collect();
        let tokens = TokenTable {
            text,
            start: mu.config.start_token,
            eos,
        };
        let cache = BeamCache::new(&mu, MAX_BEAMS);
        Ok(SettingsModel {
            name,
            questions,
            temperature,
            mu,
            tokenizer: Arc::new(tokenizer),
            tokens,
            cache,
            file: source.file,
            fingerprint: std::sync::OnceLock::new(),
        })
    }

    /// The SHA-256 of the model file, in hex: what names this model's
    /// precomputed search vectors (semantic.rs). Hashed on first use (the
    /// file is ~27 MB: some 20 ms), not at load.
    pub fn file_fingerprint(&self) -> &str {
        self.fingerprint.get_or_init(|| {
            use sha2::{Digest, Sha256};
            Sha256::digest(self.file.bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
    }

    /// The query's token ids, cut to the encoder's context; the flag says
    /// whether anything was cut.
    pub fn encode_query(&self, text: &str) -> Result<(Vec<u32>, bool), SettingsModelError> {
        // BERT reads `[CLS] pieces [SEP]`, which its tokenizer.json adds.
        let bert = self.mu.config.encoder == EncoderKind::Bert;
        let mut ids = self
            .tokenizer
            .encode(text, bert, false)
            .map_err(|e| SettingsModelError::Tokenizer(e.to_string()))?;
        let limit = self.mu.config.enc_ctx;
        let cut = ids.len() > limit;
        if cut && bert {
            // Keep [SEP] last, as the trainer cuts (minilm.encode_text).
            let sep = ids[ids.len() - 1];
            ids.truncate(limit - 1);
            ids.push(sep);
        } else {
            ids.truncate(limit);
        }
        Ok((ids, cut))
    }

    /// Runs the encoder once for this query.
    pub fn encode(&mut self, ids: &[u32]) -> Result<(), SettingsModelError> {
        self.mu.encode(ids)?;
        Ok(())
    }

    /// The sentence vector of `text` from the model's encoder (v2), for
    /// semantic search; `None` when the model has no sentence encoder (v1).
    pub fn sentence_embedding(
        &mut self,
        text: &str,
    ) -> Result<Option<Vec<f32>>, SettingsModelError> {
        if self.encoder_kind() != EncoderKind::Bert {
            return Ok(None);
        }
        let (ids, _) = self.encode_query(text)?;
        Ok(self.mu.sentence_embedding(&ids)?)
    }

    /// Which encoder the model has: v1's own, or v2's BERT.
    pub fn encoder_kind(&self) -> EncoderKind {
        self.mu.config.encoder
    }

    /// Splits the model into the decoder half beam search drives and the
    /// token facts it needs.
    pub fn decoder(&mut self) -> (MuBeams<'_>, &TokenTable) {
        (
            MuBeams {
                mu: &mut self.mu,
                cache: &mut self.cache,
                temperature: self.temperature,
                failed: None,
            },
            &self.tokens,
        )
    }

    pub fn threads(&self) -> usize {
        use crate::model::LanguageModel;
        self.mu.threads()
    }
}

/// The mu decoder seen as a [`BeamDecoder`].
pub struct MuBeams<'a> {
    mu: &'a mut Mu,
    cache: &'a mut BeamCache,
    temperature: f32,
    /// The first error, if a step failed; its logits rows are then all zero.
    pub failed: Option<ModelError>,
}

impl BeamDecoder for MuBeams<'_> {
    fn vocab_size(&self) -> usize {
        self.mu.config.vocab_size
    }

    fn max_len(&self) -> usize {
        // The start token takes one decoder position.
        self.mu.config.dec_ctx.saturating_sub(1)
    }

    fn start(&mut self, _beams: usize) {
        self.cache.reset();
    }

    fn step(&mut self, tokens: &[u32]) -> &[f32] {
        let n = tokens.len().min(self.cache.capacity());
        match self.mu.decode_beams(self.cache, &tokens[..n]) {
            Ok(_) => {}
            Err(e) => {
                self.failed.get_or_insert(e);
                // No logits: beam search stops here and the caller reports the error.
                return &[];
            }
        }
        self.cache.logits(n)
    }

    fn reorder(&mut self, from: &[usize]) {
        let n = from.len().min(self.cache.capacity());
        self.cache.reorder(self.mu, &from[..n]);
    }

    fn temperature(&self) -> f32 {
        self.temperature
    }
}
