//! Picks the architecture a GGUF file names and loads it.
use super::gguf_source::GgufSource;
use super::llama::{Llama, SessionOptions};
use super::mu::Mu;
use super::{LanguageModel, ModelError, ModelSource};

/// Loads the model in a GGUF file: `llama` or `mu` by `general.architecture`.
pub fn load(src: &GgufSource, opts: SessionOptions) -> Result<Box<dyn LanguageModel>, ModelError> {
    match src.meta_str("general.architecture").as_deref() {
        Some("llama") => Ok(Box::new(Llama::load(src, opts)?)),
        Some("mu") => Ok(Box::new(Mu::load(src, opts.threads)?)),
        Some("bert") => Err(ModelError::Unsupported(
            "architecture \"bert\" is an embedding model: it makes sentence vectors \
             (knob embed), not text"
                .into(),
        )),
        Some(other) => Err(ModelError::Unsupported(format!(
            "architecture {other:?} (knob runs llama and mu)"
        ))),
        None => Err(ModelError::MissingKey("general.architecture".into())),
    }
}
