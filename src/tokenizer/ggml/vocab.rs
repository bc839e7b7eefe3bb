//! The vocabulary arrays of `tokenizer.ggml.*`: token texts, llama.cpp's
//! token types and (for SentencePiece) scores, shared by every builder.
use crate::gguf::Metadata;
use crate::tokenizer::error::{Result, TokenizerError};

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenType {
    fn from_id(id: i64) -> TokenType {
        match id {
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Normal,
        }
    }
}

pub(super) struct Vocab {
    pub tokens: Vec<String>,
    pub types: Vec<TokenType>,
    pub scores: Option<Vec<f32>>,
}

pub(super) fn read_vocab(md: &Metadata) -> Result<Vocab> {
    let tokens = md.get_str_array("tokenizer.ggml.tokens")?.to_vec();
    let types = if md.contains("tokenizer.ggml.token_type") {
        let t = md.get_int_array("tokenizer.ggml.token_type")?;
        if t.len() != tokens.len() {
            return Err(TokenizerError::Invalid(format!(
                "tokenizer.ggml.token_type has {} entries for {} tokens",
                t.len(),
                tokens.len()
            )));
        }
        t.into_iter().map(TokenType::from_id).collect()
    } else {
        vec![TokenType::Normal; tokens.len()]
    };
    let scores = if md.contains("tokenizer.ggml.scores") {
        let s = md.get_f32_array("tokenizer.ggml.scores")?.to_vec();
        if s.len() != tokens.len() {
            return Err(TokenizerError::Invalid(format!(
                "tokenizer.ggml.scores has {} entries for {} tokens",
                s.len(),
                tokens.len()
            )));
        }
        Some(s)
    } else {
        None
    };
    if tokens.is_empty() || tokens.len() > u32::MAX as usize {
        return Err(TokenizerError::Invalid(format!(
            "tokenizer.ggml.tokens has {} entries",
            tokens.len()
        )));
    }
    Ok(Vocab {
        tokens,
        types,
        scores,
    })
}
