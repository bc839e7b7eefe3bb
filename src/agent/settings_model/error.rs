//! Why a settings model could not be read or run: shared by the
//! encoder–decoder and the decoder-only shape.
use crate::model::ModelError;

#[derive(Debug, thiserror::Error)]
pub enum SettingsModelError {
    #[error("reading the settings model: {0}")]
    Gguf(#[from] crate::gguf::GgufError),
    #[error("loading the settings model: {0}")]
    Model(#[from] ModelError),
    #[error("the settings model's tokenizer: {0}")]
    Tokenizer(String),
    #[error("the settings model is a '{0}' model, expected 'mu' (or 'llama' with knob.settings_model.* keys)")]
    NotMu(String),
}
