//! WordPiece (`tokenizer.ggml.model = "bert"`), as BERT's own tokenizer.json
//! defines it for uncased models such as all-MiniLM-L6-v2: BertNormalizer
//! (clean control characters, space around CJK ideographs, lowercase, strip
//! accents), BertPreTokenizer (split on whitespace and punctuation), WordPiece
//! with "##" continuations and `[UNK]` for words it cannot cover (or longer
//! than 100 characters), then `[CLS] ... [SEP]`.
//!
//! llama.cpp's converter stores the vocabulary with "phantom space" marks:
//! a word-start piece "foo" is stored as "▁foo", a continuation "##bar" as
//! "bar", control tokens ([CLS], [SEP], ...) unchanged. [`hf_vocab`] undoes
//! that to get the tokenizer.json vocabulary back.
//!
//! Lowercasing follows `tokenizer.ggml.normalizer.lowercase` (true when
//! absent, as older llama.cpp files are all uncased).

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;

use super::vocab::{TokenType, Vocab};
use crate::gguf::Metadata;
use crate::tokenizer::error::{Result, TokenizerError};

fn build_err(e: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Build(e.to_string())
}

/// The word-start mark of llama.cpp's BERT vocabularies (U+2581).
const PHANTOM: char = '▁';

/// Longest word WordPiece splits; longer ones become [UNK] (HF's default).
const MAX_WORD_CHARS: usize = 100;

/// The vocabulary as tokenizer.json spells it: "▁foo" -> "foo", "bar" -> "##bar".
pub(super) fn hf_vocab(vocab: &Vocab) -> Vec<String> {
    vocab
        .tokens
        .iter()
        .zip(&vocab.types)
        .map(|(text, ty)| match ty {
            TokenType::Normal => match text.strip_prefix(PHANTOM) {
                Some(word) => word.to_string(),
                None => format!("##{text}"),
            },
            _ => text.clone(),
        })
        .collect()
}

/// The tokenizer and each token's bytes for decoding (llama.cpp's
/// `token_to_piece`: a word start decodes with a leading space).
pub(super) fn build(md: &Metadata, vocab: &Vocab) -> Result<(tokenizers::Tokenizer, Vec<Vec<u8>>)> {
    let hf = hf_vocab(vocab);
    let mut map = ahash::AHashMap::with_capacity(hf.len());
    for (i, t) in hf.iter().enumerate() {
        map.entry(t.clone()).or_insert(i as u32);
    }
    let unk = match md.get_u32_opt("tokenizer.ggml.unknown_token_id")? {
        Some(id) => hf.get(id as usize).cloned().ok_or_else(|| {
            TokenizerError::Invalid(format!(
                "tokenizer.ggml.unknown_token_id is {id}, but the vocabulary has {} tokens",
                hf.len()
            ))
        })?,
        None => "[UNK]".to_string(),
    };
    if !map.contains_key(&unk) {
        return Err(TokenizerError::Invalid(format!(
            "the unknown token {unk:?} is not in the vocabulary"
        )));
    }
    let model = WordPiece::builder()
        .vocab(map)
        .unk_token(unk)
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(MAX_WORD_CHARS)
        .build()
        .map_err(build_err)?;
    let mut tok = tokenizers::Tokenizer::new(model);
    // Newer llama.cpp converters write the tokenizer.json's lowercase flag;
    // older files have none and mean uncased. Accents are stripped exactly
    // when lowercasing (strip_accents None, as all-MiniLM's tokenizer.json says).
    let lowercase = md
        .get_bool_opt("tokenizer.ggml.normalizer.lowercase")?
        .unwrap_or(true);
    tok.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
        .map_err(build_err)?;
    tok.with_pre_tokenizer(Some(BertPreTokenizer));

    let bytes = vocab
        .tokens
        .iter()
        .zip(&vocab.types)
        .map(|(text, ty)| match ty {
            TokenType::Normal => text.replace(PHANTOM, " ").into_bytes(),
            _ => text.as_bytes().to_vec(),
        })
        .collect();
    Ok((tok, bytes))
}

/// [CLS] before and [SEP] after every text: llama.cpp reads [CLS] from
/// `tokenizer.ggml.bos_token_id` (older files: `cls_token_id`) and [SEP] from
/// `tokenizer.ggml.seperator_token_id` (sic), falling back to the token texts.
pub(super) fn specials(
    md: &Metadata,
    inner: &tokenizers::Tokenizer,
    vocab_size: usize,
) -> Result<(u32, u32)> {
    let find = |keys: &[&str], text: &str| -> Result<u32> {
        for key in keys {
            if let Some(id) = md.get_u32_opt(key)? {
                if (id as usize) < vocab_size {
                    return Ok(id);
                }
                return Err(TokenizerError::Invalid(format!(
                    "{key} is {id}, but the vocabulary has {vocab_size} tokens"
                )));
            }
        }
        inner.token_to_id(text).ok_or_else(|| {
            TokenizerError::Invalid(format!(
                "a bert tokenizer needs {} or a {text} token",
                keys.join(" or ")
            ))
        })
    };
    let cls = find(
        &["tokenizer.ggml.cls_token_id", "tokenizer.ggml.bos_token_id"],
        "[CLS]",
    )?;
    let sep = find(
        &[
            "tokenizer.ggml.seperator_token_id",
            "tokenizer.ggml.eos_token_id",
        ],
        "[SEP]",
    )?;
    Ok((cls, sep))
}
