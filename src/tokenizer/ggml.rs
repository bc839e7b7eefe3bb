//! Tokenizers built from `tokenizer.ggml.*` metadata, matching llama.cpp's
//! `llm_tokenizer_bpe` (model `gpt2`) and `llm_tokenizer_spm` (model `llama`),
//! and BERT's WordPiece (model `bert`, in [`wordpiece`]).

mod vocab;
mod wordpiece;

pub use vocab::TokenType;
use vocab::{read_vocab, Vocab};

use std::collections::{BTreeSet, HashMap};

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

use super::error::{Result, TokenizerError};
use crate::gguf::Metadata;

/// GPT-2's pre-tokenizer regex.
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
/// Llama 3's (case-insensitive contractions, numbers in runs of up to 3).
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2's (single digits).
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The regexes llama.cpp applies, one after the other, for `tokenizer.ggml.pre`
/// (from `llm_tokenizer_bpe`'s constructor).
fn pre_regexes(pre: &str) -> Option<Vec<&'static str>> {
    Some(match pre {
        "default" => vec![r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" => vec![LLAMA3],
        "qwen2" | "stablelm2" | "deepseek-r1-qwen" | "megrez" => vec![QWEN2],
        // SmolLM and StarCoder: each digit on its own, then GPT-2's regex.
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => {
            vec![r"\p{N}", GPT2]
        }
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v1-en" | "jina-v2-es"
        | "jina-v2-de" | "jina-v2-code" | "roberta-bpe" | "mpt" | "olmo" | "jais" | "trillion" => {
            vec![GPT2]
        }
        _ => return None,
    })
}

/// GPT-2's map from bytes to the printable characters byte-level vocabularies use.
fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).expect("latin-1")
        } else {
            next += 1;
            char::from_u32(next - 1).expect("below surrogates")
        };
    }
    table
}

/// A tokenizer built from `tokenizer.ggml.*`, for [`super::Tokenizer`] to
/// read its special ids into.
pub(super) struct Built {
    /// Control and user-defined tokens registered.
    pub inner: tokenizers::Tokenizer,
    /// The bytes of every token.
    pub bytes: Vec<Vec<u8>>,
    /// The type of every token.
    pub types: Vec<TokenType>,
    /// A SentencePiece vocabulary (model `llama`), which adds BOS unless the
    /// file says otherwise.
    pub sentencepiece: bool,
    /// BERT's [CLS] and [SEP] (model `bert`), around every text.
    pub wrap: Option<(u32, u32)>,
}

pub(super) fn build(md: &Metadata) -> Result<Built> {
    let model = md.get_str("tokenizer.ggml.model")?;
    let vocab = read_vocab(md)?;
    let (inner, bytes) = match model {
        "gpt2" => build_bpe(md, &vocab)?,
        "llama" => build_spm(md, &vocab)?,
        "bert" => wordpiece::build(md, &vocab)?,
        other => return Err(TokenizerError::UnsupportedModel(other.to_string())),
    };
    let inner = with_added_tokens(inner, &vocab)?;
    let wrap = match model {
        "bert" => Some(wordpiece::specials(md, &inner, vocab.types.len())?),
        _ => None,
    };
    Ok(Built {
        wrap,
        inner,
        bytes,
        types: vocab.types,
        sentencepiece: model == "llama",
    })
}

fn build_err(e: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Build(e.to_string())
}

/// Token → id; the first of duplicate texts wins, as in llama.cpp.
fn vocab_map(vocab: &Vocab) -> ahash::AHashMap<String, u32> {
    let mut map = ahash::AHashMap::with_capacity(vocab.tokens.len());
    for (i, t) in vocab.tokens.iter().enumerate() {
        map.entry(t.clone()).or_insert(i as u32);
    }
    map
}

/// Byte-level BPE (`gpt2`).
fn build_bpe(md: &Metadata, vocab: &Vocab) -> Result<(tokenizers::Tokenizer, Vec<Vec<u8>>)> {
    let pre = md.get_str_opt("tokenizer.ggml.pre")?.unwrap_or("default");
    let regexes =
        pre_regexes(pre).ok_or_else(|| TokenizerError::UnsupportedPre(pre.to_string()))?;
    let merges_raw = md.get_str_array("tokenizer.ggml.merges")?;
    let mut merges = Vec::with_capacity(merges_raw.len());
    for (i, m) in merges_raw.iter().enumerate() {
        // Split at the first space after the first character, as llama.cpp does.
        let first_len = m.chars().next().map_or(0, char::len_utf8);
        let Some(pos) = m[first_len..].find(' ').map(|p| p + first_len) else {
            return Err(TokenizerError::Invalid(format!(
                "tokenizer.ggml.merges entry {i} {m:?} has no space"
            )));
        };
        merges.push((m[..pos].to_string(), m[pos + 1..].to_string()));
    }
    let bpe = BPE::builder()
        .vocab_and_merges(vocab_map(vocab), merges)
        .build()
        .map_err(build_err)?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    let mut steps: Vec<PreTokenizerWrapper> = Vec::new();
    for r in regexes {
        let split = Split::new(
            SplitPattern::Regex(r.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(build_err)?;
        steps.push(split.into());
    }
    steps.push(ByteLevel::new(false, false, false).into());
    tok.with_pre_tokenizer(Some(Sequence::new(steps)));
    tok.with_decoder(Some(ByteLevelDecoder::default()));

    let unicode_to_byte: HashMap<char, u8> = byte_to_char()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect();
    let bytes = vocab
        .tokens
        .iter()
        .zip(&vocab.types)
        .map(|(text, ty)| match ty {
            TokenType::Normal => text
                .chars()
                .flat_map(|c| match unicode_to_byte.get(&c) {
                    Some(&b) => vec![b],
                    // Not a byte-level character: llama.cpp keeps its UTF-8.
                    None => c.to_string().into_bytes(),
                })
                .collect(),
            _ => text.as_bytes().to_vec(),
        })
        .collect();
    Ok((tok, bytes))
}

/// SentencePiece BPE (`llama`): merges are every split of a vocabulary token
/// into two vocabulary tokens, ranked by the merged token's score, which is
/// the order llama.cpp's `llm_tokenizer_spm` merges in. Unknown bytes fall
/// back to the `<0xXX>` byte tokens.
fn build_spm(md: &Metadata, vocab: &Vocab) -> Result<(tokenizers::Tokenizer, Vec<Vec<u8>>)> {
    let scores = vocab.scores.as_ref().ok_or_else(|| {
        TokenizerError::Invalid("a llama tokenizer needs tokenizer.ggml.scores".into())
    })?;
    let map = vocab_map(vocab);
    let mut ranked: Vec<(f32, u32, String, String)> = Vec::new();
    for (id, text) in vocab.tokens.iter().enumerate() {
        if vocab.types[id] != TokenType::Normal {
            continue;
        }
        for (pos, _) in text.char_indices().skip(1) {
            let (l, r) = text.split_at(pos);
            let normal = |s: &str| {
                map.get(s)
                    .is_some_and(|&i| vocab.types[i as usize] == TokenType::Normal)
            };
            if normal(l) && normal(r) {
                ranked.push((scores[id], id as u32, l.to_string(), r.to_string()));
            }
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let merges = ranked.into_iter().map(|(_, _, l, r)| (l, r)).collect();
    let mut builder = BPE::builder()
        .vocab_and_merges(map, merges)
        .byte_fallback(true);
    if let Some(unk) = md.get_u32_opt("tokenizer.ggml.unknown_token_id")? {
        if let Some(t) = vocab.tokens.get(unk as usize) {
            builder = builder.unk_token(t.clone());
        }
    }
    let bpe = builder.build().map_err(build_err)?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    let add_space = md
        .get_bool_opt("tokenizer.ggml.add_space_prefix")?
        .unwrap_or(true);
    let mut norms: Vec<tokenizers::NormalizerWrapper> = Vec::new();
    if add_space {
        norms.push(Prepend::new("▁".into()).into());
    }
    norms.push(Replace::new(" ", "▁").map_err(build_err)?.into());
    tok.with_normalizer(Some(NormalizerSequence::new(norms)))
        .map_err(build_err)?;

    let bytes = vocab
        .tokens
        .iter()
        .zip(&vocab.types)
        .map(|(text, ty)| match ty {
            TokenType::Normal => text.replace('▁', " ").into_bytes(),
            TokenType::Byte => {
                parse_byte_token(text).map_or_else(|| text.as_bytes().to_vec(), |b| vec![b])
            }
            _ => text.as_bytes().to_vec(),
        })
        .collect();
    Ok((tok, bytes))
}

/// `<0x0A>` → 10.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    u8::from_str_radix(hex, 16).ok()
}

/// Registers control and user-defined tokens.
fn with_added_tokens(
    mut inner: tokenizers::Tokenizer,
    vocab: &Vocab,
) -> Result<tokenizers::Tokenizer> {
    let mut seen = BTreeSet::new();
    let mut special = Vec::new();
    let mut user = Vec::new();
    for (text, ty) in vocab.tokens.iter().zip(&vocab.types) {
        if text.is_empty() || !seen.insert(text.as_str()) {
            continue;
        }
        match ty {
            TokenType::Control | TokenType::Unknown => {
                special.push(AddedToken::from(text.clone(), true).normalized(false))
            }
            TokenType::UserDefined => {
                user.push(AddedToken::from(text.clone(), false).normalized(false))
            }
            _ => {}
        }
    }
    inner.add_special_tokens(special).map_err(build_err)?;
    inner.add_tokens(user).map_err(build_err)?;
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_table_matches_gpt2() {
        let t = byte_to_char();
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[0], 'Ā');
        assert_eq!(t[173], 'Ń'); // the 68th unprintable byte: U+0100 + 67
        let distinct: BTreeSet<char> = t.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn byte_tokens_parse() {
        assert_eq!(parse_byte_token("<0x0A>"), Some(10));
        assert_eq!(parse_byte_token("<0xFF>"), Some(255));
        assert_eq!(parse_byte_token("<0xZZ>"), None);
        assert_eq!(parse_byte_token("a"), None);
    }
}

#[cfg(test)]
pub(super) mod tests_support {
    /// The 256 characters of the byte-level alphabet, in byte order.
    pub fn byte_chars() -> [char; 256] {
        super::byte_to_char()
    }
}
