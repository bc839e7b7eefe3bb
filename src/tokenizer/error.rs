//! What can go wrong building or running a tokenizer.
use crate::gguf::GgufError;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error(transparent)]
    Metadata(#[from] GgufError),
    #[error("unsupported tokenizer model {0:?} (supported: gpt2, llama, bert, or a tokenizer.huggingface.json)")]
    UnsupportedModel(String),
    #[error("unsupported pre-tokenizer {0:?} in tokenizer.ggml.pre")]
    UnsupportedPre(String),
    #[error("tokenizer metadata: {0}")]
    Invalid(String),
    #[error("building the tokenizer: {0}")]
    Build(String),
    #[error("tokenizing: {0}")]
    Encode(String),
}

pub(super) type Result<T> = std::result::Result<T, TokenizerError>;
