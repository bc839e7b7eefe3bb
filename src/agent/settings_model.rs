//! The shipped settings model: the `mu` GGUF embedded in the binary, its
//! tokenizer, and the glue that lets beam search drive it. A decoder-only
//! settings model in llama's shape (issue 19, `decoder_only.rs`) runs through
//! the same interface, so `knob eval` and `knob bench arch` compare the two.
use std::sync::Arc;

use crate::gguf::Gguf;
use crate::model::gguf_source::GgufSource;
use crate::model::mu::{BeamCache, EncoderKind, Mu};
use crate::model::ModelError;
use crate::tokenizer::Tokenizer;

use super::beam::{BeamDecoder, TokenTable};

mod decoder_only;
mod error;

pub use error::SettingsModelError;

use decoder_only::{DecoderOnly, DecoderOnlyBeams};

/// The model file compiled into knob: settings model v2 (`assets/knob-mu2.gguf`,
/// made by train/run-v2.sh: all-MiniLM-L6-v2 fine-tuned under a Mu-style
/// decoder), tested against JAX in tests/integration/mu2_golden.rs. The v1
/// model (`assets/knob-mu.gguf`, trained from nothing) stays in the tree as the
/// baseline `knob eval --settings-model` compares against.
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("../../assets/knob-mu2.gguf");

/// Most hypotheses beam search keeps.
pub const MAX_BEAMS: usize = 8;

/// A loaded settings model with its decoding state, reused for every query.
pub struct SettingsModel {
    pub name: String,
    /// The model was trained to write `get <id>` and `chat` (GGUF key
    /// `mu.grammar.questions`); older models write `none` for both.
    pub questions: bool,
    /// Logits are divided by it before the softmax (`mu.calibration.temperature`;
    /// 1 for models that were not calibrated).
    pub temperature: f32,
    shape: Shape,
    /// Elements of every tensor in the file.
    parameters: u64,
    /// The request's tokenizer (v2: BERT's WordPieces).
    pub(crate) tokenizer: Arc<Tokenizer>,
    /// The output's tokens, as beam search sees them (v2: the action vocabulary).
    pub(crate) tokens: TokenTable,
    /// The model file of an encoder–decoder (its weights are read from it
    /// in place); none for a decoder-only model, which owns its file.
    file: Option<Arc<Gguf>>,
    fingerprint: std::sync::OnceLock<String>,
}

/// The network behind a settings model.
enum Shape {
    /// knob's encoder–decoder, with its beams' decoder state.
    Mu { mu: Box<Mu>, cache: BeamCache },
    /// A decoder-only model: query, separator, program.
    DecoderOnly(Box<DecoderOnly>),
}

impl SettingsModel {
    /// The embedded model.
    pub fn embedded(threads: usize) -> Result<SettingsModel, SettingsModelError> {
        Self::from_gguf(Gguf::from_static(EMBEDDED_MODEL)?, threads)
    }

    pub fn from_gguf(gguf: Gguf, threads: usize) -> Result<SettingsModel, SettingsModelError> {
        let arch = gguf.architecture()?.to_string();
        let parameters = gguf.tensor_infos().iter().map(|t| t.n_elements).sum();
        if arch == "llama" && decoder_only::is_settings_model(&gguf) {
            return Self::decoder_only(gguf, threads, parameters);
        }
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
            shape: Shape::Mu {
                mu: Box::new(mu),
                cache,
            },
            parameters,
            tokenizer: Arc::new(tokenizer),
            tokens,
            file: Some(source.file),
            fingerprint: std::sync::OnceLock::new(),
        })
    }

    /// The SHA-256 of the model file, in hex: what names this model's
    /// precomputed search vectors (semantic.rs). Hashed on first use (the
    /// file is ~27 MB: some 20 ms), not at load. None for a decoder-only
    /// model, which has no sentence encoder and so no search vectors.
    pub fn file_fingerprint(&self) -> Option<&str> {
        let file = self.file.as_ref()?;
        let hex = self.fingerprint.get_or_init(|| {
            use sha2::{Digest, Sha256};
            Sha256::digest(file.bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
        Some(hex.as_str())
    }

    /// A decoder-only settings model (a `llama` file with `knob.settings_model.*` keys).
    fn decoder_only(
        gguf: Gguf,
        threads: usize,
        parameters: u64,
    ) -> Result<SettingsModel, SettingsModelError> {
        let name = gguf
            .metadata()
            .get_str_opt("general.name")?
            .unwrap_or("decoder-only")
            .to_string();
        let tokenizer = Tokenizer::from_gguf(&gguf)
            .map_err(|e| SettingsModelError::Tokenizer(e.to_string()))?;
        let model = DecoderOnly::load(gguf, threads, MAX_BEAMS)?;
        let text = (0..model.vocab_size() as u32)
            .map(|id| String::from_utf8(tokenizer.token_bytes(id, false)).unwrap_or_default())
            .collect();
        let tokens = TokenTable {
            text,
            start: model.separator,
            eos: model.eos,
        };
        Ok(SettingsModel {
            name,
            questions: false,
            temperature: 1.0,
            shape: Shape::DecoderOnly(Box::new(model)),
            parameters,
            tokenizer: Arc::new(tokenizer),
            tokens,
            file: None,
            fingerprint: std::sync::OnceLock::new(),
        })
    }

    /// What kind of network this is, for reports: "encoder-decoder" or "decoder-only".
    pub fn architecture(&self) -> &'static str {
        match self.shape {
            Shape::Mu { .. } => "encoder-decoder",
            Shape::DecoderOnly(_) => "decoder-only",
        }
    }

    /// The longest query, in tokens.
    pub fn query_limit(&self) -> usize {
        match &self.shape {
            Shape::Mu { mu, .. } => mu.config.enc_ctx,
            Shape::DecoderOnly(d) => d.query_len,
        }
    }

    /// Parameters of the network (every tensor's element count).
    pub fn parameters(&self) -> u64 {
        self.parameters
    }

    /// The query's token ids, cut to the encoder's context; the flag says
    /// whether anything was cut.
    pub fn encode_query(&self, text: &str) -> Result<(Vec<u32>, bool), SettingsModelError> {
        // BERT reads `[CLS] pieces [SEP]`, which its tokenizer.json adds.
        let bert = self.encoder_kind() == EncoderKind::Bert;
        let mut ids = self
            .tokenizer
            .encode(text, bert, false)
            .map_err(|e| SettingsModelError::Tokenizer(e.to_string()))?;
        let limit = self.query_limit();
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

    /// Runs the encoder once for this query (decoder-only: prefills the
    /// query and the separator).
    pub fn encode(&mut self, ids: &[u32]) -> Result<(), SettingsModelError> {
        match &mut self.shape {
            Shape::Mu { mu, .. } => mu.encode(ids)?,
            Shape::DecoderOnly(d) => d.prefill(ids)?,
        }
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
        match &mut self.shape {
            Shape::Mu { mu, .. } => Ok(mu.sentence_embedding(&ids)?),
            Shape::DecoderOnly(_) => Ok(None),
        }
    }

    /// Which encoder the model has: v1's own, or v2's BERT (a decoder-only
    /// model reads the request's own tokens, as v1 does).
    pub fn encoder_kind(&self) -> EncoderKind {
        match &self.shape {
            Shape::Mu { mu, .. } => mu.config.encoder,
            Shape::DecoderOnly(_) => EncoderKind::Mu,
        }
    }

    /// Splits the model into the decoder half beam search drives and the
    /// token facts it needs.
    pub fn decoder(&mut self) -> (ModelBeams<'_>, &TokenTable) {
        let inner = match &mut self.shape {
            Shape::Mu { mu, cache } => Inner::Mu {
                mu: mu.as_mut(),
                cache,
            },
            Shape::DecoderOnly(d) => Inner::DecoderOnly(d.beams()),
        };
        (
            ModelBeams {
                inner,
                temperature: self.temperature,
                failed: None,
            },
            &self.tokens,
        )
    }

    pub fn threads(&self) -> usize {
        use crate::model::LanguageModel;
        match &self.shape {
            Shape::Mu { mu, .. } => mu.threads(),
            Shape::DecoderOnly(d) => d.threads(),
        }
    }
}

/// The settings model's decoder seen as a [`BeamDecoder`].
pub struct ModelBeams<'a> {
    inner: Inner<'a>,
    temperature: f32,
    /// The first error, if a step failed; its logits rows are then all zero.
    pub failed: Option<ModelError>,
}

enum Inner<'a> {
    Mu {
        mu: &'a mut Mu,
        cache: &'a mut BeamCache,
    },
    DecoderOnly(DecoderOnlyBeams<'a>),
}

impl BeamDecoder for ModelBeams<'_> {
    fn vocab_size(&self) -> usize {
        match &self.inner {
            Inner::Mu { mu, .. } => mu.config.vocab_size,
            Inner::DecoderOnly(d) => d.vocab_size(),
        }
    }

    fn max_len(&self) -> usize {
        match &self.inner {
            // The start token takes one decoder position.
            Inner::Mu { mu, .. } => mu.config.dec_ctx.saturating_sub(1),
            Inner::DecoderOnly(d) => d.max_len(),
        }
    }

    fn start(&mut self, _beams: usize) {
        match &mut self.inner {
            Inner::Mu { cache, .. } => cache.reset(),
            Inner::DecoderOnly(d) => d.start(),
        }
    }

    fn step(&mut self, tokens: &[u32]) -> &[f32] {
        let result = match &mut self.inner {
            Inner::Mu { mu, cache } => {
                let n = tokens.len().min(cache.capacity());
                mu.decode_beams(cache, &tokens[..n]).map(|_| ())
            }
            Inner::DecoderOnly(d) => d.step(tokens),
        };
        if let Err(e) = result {
            self.failed.get_or_insert(e);
            // No logits: beam search stops here and the caller reports the error.
            return &[];
        }
        match &self.inner {
            Inner::Mu { cache, .. } => cache.logits(tokens.len().min(cache.capacity())),
            Inner::DecoderOnly(d) => d.logits(tokens.len()),
        }
    }

    fn reorder(&mut self, from: &[usize]) {
        match &mut self.inner {
            Inner::Mu { mu, cache } => {
                let n = from.len().min(cache.capacity());
                cache.reorder(mu, &from[..n]);
            }
            Inner::DecoderOnly(d) => d.reorder(from),
        }
    }

    fn temperature(&self) -> f32 {
        self.temperature
    }
}
