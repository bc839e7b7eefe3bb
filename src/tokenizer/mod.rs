//! Tokenizers for GGUF models, through the `tokenizers` crate.
//!
//! - `mu` models carry a whole `tokenizer.json` in `tokenizer.huggingface.json`.
//! - llama-family files carry `tokenizer.ggml.*` arrays, from which
//!   [`ggml`] builds an equivalent tokenizer: byte-level BPE (`gpt2`) with
//!   llama.cpp's pre-tokenizer regexes, SentencePiece-style BPE (`llama`), or
//!   BERT's WordPiece (`bert`).
//!
//! Special tokens follow llama.cpp: control tokens in the text are parsed as
//! single tokens only when `parse_special` is set, user-defined tokens always;
//! BOS/EOS are added per `tokenizer.ggml.add_bos_token`/`add_eos_token`;
//! end-of-generation ids are EOS, EOT, EOM and the usual end-of-turn texts.

mod error;
mod ggml;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::gguf::{Gguf, Metadata};
use error::Result;
pub use error::TokenizerError;
pub use ggml::TokenType;

/// How token ids turn back into bytes.
enum Pieces {
    /// Bytes of every token (llama.cpp's `token_to_piece` with special = true)
    /// and each token's type: decoding is concatenation.
    Table {
        bytes: Vec<Vec<u8>>,
        types: Vec<TokenType>,
    },
    /// A `tokenizer.json`: decoded by the tokenizer's own decoder.
    Hf,
}

/// A model's tokenizer.
pub struct Tokenizer {
    /// Parses control tokens in the text.
    with_special: tokenizers::Tokenizer,
    /// Treats control tokens in the text as plain text. Built on first use:
    /// a second copy of a 49k-token vocabulary costs ~15 MB, and chat models
    /// only ever encode with control tokens parsed.
    without_special: OnceLock<tokenizers::Tokenizer>,
    pieces: Pieces,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    eog: BTreeSet<u32>,
    vocab_size: usize,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("eog", &self.eog)
            .finish()
    }
}

/// Token texts llama.cpp treats as end of generation when present.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
];

impl Tokenizer {
    /// The tokenizer of a GGUF model: its `tokenizer.huggingface.json` when
    /// present (mu models), else one built from `tokenizer.ggml.*`.
    pub fn from_gguf(gguf: &Gguf) -> Result<Tokenizer> {
        Self::from_metadata(gguf.metadata())
    }

    pub fn from_metadata(md: &Metadata) -> Result<Tokenizer> {
        if let Some(json) = md.get_str_opt("tokenizer.huggingface.json")? {
            return Self::from_hf_json(json, md);
        }
        let built = ggml::build(md)?;
        let mut t = Tokenizer {
            with_special: built.inner,
            without_special: OnceLock::new(),
            vocab_size: built.types.len(),
            pieces: Pieces::Table {
                bytes: built.bytes,
                types: built.types,
            },
            bos: None,
            eos: None,
            eot: None,
            add_bos: false,
            add_eos: false,
            eog: BTreeSet::new(),
        };
        t.read_special_ids(md)?;
        if built.sentencepiece && !md.contains("tokenizer.ggml.add_bos_token") {
            t.add_bos = true; // llama.cpp's default for SentencePiece vocabularies
        }
        if let Some((cls, sep)) = built.wrap {
            t.bos = Some(cls);
            t.eos = Some(sep);
            t.add_bos = true;
            t.add_eos = true;
            // An encoder generates nothing: no end-of-generation ids.
            t.eog.clear();
        }
        Ok(t)
    }

    /// A tokenizer from a `tokenizer.json`; special ids come from `md`'s
    /// `tokenizer.ggml.*_token_id` keys where present.
    pub fn from_hf_json(json: &str, md: &Metadata) -> Result<Tokenizer> {
        let with_special: tokenizers::Tokenizer = json
            .parse()
            .map_err(|e| TokenizerError::Build(format!("tokenizer.huggingface.json: {e}")))?;
        let vocab_size = with_special.get_vocab_size(true);
        let mut t = Tokenizer {
            with_special,
            without_special: OnceLock::new(),
            pieces: Pieces::Hf,
            bos: None,
            eos: None,
            eot: None,
            add_bos: false,
            add_eos: false,
            eog: BTreeSet::new(),
            vocab_size,
        };
        t.read_special_ids(md)?;
        t.add_bos = false; // the tokenizer.json's post-processor adds its own specials
        t.add_eos = false;
        Ok(t)
    }

    /// The output tokenizer of a settings model v2 (`mu.encoder.kind =
    /// "bert"`): its decoder writes from its own action vocabulary
    /// (`mu.decoder.tokenizer.huggingface.json`, ending at
    /// `mu.decoder.eos_token_id`), not from the WordPieces it reads. `None`
    /// for every other model, whose one tokenizer reads and writes.
    pub fn mu_decoder(md: &Metadata) -> Result<Option<Tokenizer>> {
        let Some(json) = md.get_str_opt("mu.decoder.tokenizer.huggingface.json")? else {
            return Ok(None);
        };
        let with_special: tokenizers::Tokenizer = json.parse().map_err(|e| {
            TokenizerError::Build(format!("mu.decoder.tokenizer.huggingface.json: {e}"))
        })?;
        let vocab_size = with_special.get_vocab_size(true);
        let eos = match md.get_u32_opt("mu.decoder.eos_token_id")? {
            Some(id) if (id as usize) < vocab_size => id,
            Some(id) => {
                return Err(TokenizerError::Invalid(format!(
                    "mu.decoder.eos_token_id is {id}, but the decoder's vocabulary has {vocab_size} tokens"
                )))
            }
            None => {
                return Err(TokenizerError::Invalid(
                    "mu.decoder.eos_token_id is missing".into(),
                ))
            }
        };
        Ok(Some(Tokenizer {
            with_special,
            without_special: OnceLock::new(),
            pieces: Pieces::Hf,
            bos: None,
            eos: Some(eos),
            eot: None,
            add_bos: false,
            add_eos: false,
            eog: BTreeSet::from([eos]),
            vocab_size,
        }))
    }

    /// Reads BOS/EOS/EOT ids and add flags, and collects end-of-generation ids.
    fn read_special_ids(&mut self, md: &Metadata) -> Result<()> {
        let id = |key: &str| -> Result<Option<u32>> {
            match md.get_u32_opt(key)? {
                Some(id) if (id as usize) < self.vocab_size => Ok(Some(id)),
                Some(id) => Err(TokenizerError::Invalid(format!(
                    "{key} is {id}, but the vocabulary has {} tokens",
                    self.vocab_size
                ))),
                None => Ok(None),
            }
        };
        self.bos = id("tokenizer.ggml.bos_token_id")?;
        self.eos = id("tokenizer.ggml.eos_token_id")?;
        self.eot = id("tokenizer.ggml.eot_token_id")?;
        let eom = id("tokenizer.ggml.eom_token_id")?;
        let fim: Vec<Option<u32>> = ["fim_pad", "fim_rep", "fim_sep"]
            .iter()
            .map(|k| id(&format!("tokenizer.ggml.{k}_token_id")))
            .collect::<Result<_>>()?;
        self.add_bos = md
            .get_bool_opt("tokenizer.ggml.add_bos_token")?
            .unwrap_or(false);
        self.add_eos = md
            .get_bool_opt("tokenizer.ggml.add_eos_token")?
            .unwrap_or(false);
        self.eog = [self.eos, self.eot, eom]
            .into_iter()
            .chain(fim)
            .flatten()
            .collect();
        for text in EOG_TEXTS {
            if let Some(id) = self.with_special.token_to_id(text) {
                self.eog.insert(id);
            }
        }
        Ok(())
    }

    /// Token ids of `text`. `add_special` adds BOS/EOS as the model asks
    /// (llama.cpp's `add_special`); `parse_special` turns control-token texts
    /// such as `<|im_start|>` into their ids instead of tokenizing them as text.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<u32>> {
        let tok = if parse_special {
            &self.with_special
        } else {
            self.without_special.get_or_init(|| {
                let mut t = self.with_special.clone();
                t.set_encode_special_tokens(true);
                t
            })
        };
        let hf_specials = add_special && matches!(self.pieces, Pieces::Hf);
        let enc = tok
            .encode_fast(text, hf_specials)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let mut ids = Vec::with_capacity(enc.get_ids().len() + 2);
        if add_special && self.add_bos {
            ids.extend(self.bos);
        }
        ids.extend_from_slice(enc.get_ids());
        if add_special && self.add_eos {
            ids.extend(self.eos);
        }
        Ok(ids)
    }

    /// The bytes token `id` stands for, as llama.cpp's `token_to_piece`:
    /// control tokens give their text only when `special` is set. Empty for
    /// ids outside the vocabulary. For `tokenizer.json` tokenizers this is the
    /// token decoded on its own, which may differ from its part in a sequence.
    pub fn token_bytes(&self, id: u32, special: bool) -> Vec<u8> {
        self.token_piece(id, special).into_owned()
    }

    /// Like [`Tokenizer::token_bytes`], without allocating for vocabularies
    /// from `tokenizer.ggml.*` (the bytes are borrowed from a table).
    pub fn token_piece(&self, id: u32, special: bool) -> std::borrow::Cow<'_, [u8]> {
        use std::borrow::Cow;
        match &self.pieces {
            Pieces::Table { bytes, types } => {
                let hidden = matches!(
                    types.get(id as usize),
                    Some(TokenType::Control | TokenType::Unknown)
                );
                if hidden && !special {
                    return Cow::Borrowed(&[]);
                }
                bytes
                    .get(id as usize)
                    .map_or(Cow::Borrowed(&[][..]), |b| Cow::Borrowed(&b[..]))
            }
            Pieces::Hf => Cow::Owned(
                self.with_special
                    .decode(&[id], !special)
                    .unwrap_or_default()
                    .into_bytes(),
            ),
        }
    }

    /// The text of `ids` (invalid UTF-8 replaced by U+FFFD); control tokens
    /// are included only when `special` is set.
    pub fn decode(&self, ids: &[u32], special: bool) -> String {
        match &self.pieces {
            Pieces::Table { .. } => {
                let mut bytes = Vec::new();
                for &id in ids {
                    bytes.extend_from_slice(&self.token_piece(id, special));
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Pieces::Hf => {
                let valid: Vec<u32> = ids
                    .iter()
                    .copied()
                    .filter(|&id| (id as usize) < self.vocab_size)
                    .collect();
                self.with_special
                    .decode(&valid, !special)
                    .unwrap_or_default()
            }
        }
    }

    /// A decoder for generated tokens that yields text only once it is whole UTF-8.
    pub fn stream(&self, special: bool) -> TextStream<'_> {
        TextStream {
            tokenizer: self,
            special,
            pending: Vec::new(),
            ids: Vec::new(),
            emitted: 0,
        }
    }

    /// The token's text as stored in the vocabulary.
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.with_special.id_to_token(id)
    }

    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.with_special.token_to_id(text)
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    pub fn eot(&self) -> Option<u32> {
        self.eot
    }

    /// Whether BOS is added to prompts (`tokenizer.ggml.add_bos_token`).
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether generation stops at `id`.
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// All end-of-generation ids.
    pub fn eog_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.eog.iter().copied()
    }
}

/// Turns generated token ids into text pieces, holding back bytes until
/// they form whole UTF-8 characters.
pub struct TextStream<'a> {
    tokenizer: &'a Tokenizer,
    special: bool,
    /// Bytes of an incomplete UTF-8 sequence (table tokenizers).
    pending: Vec<u8>,
    /// All ids so far and the length of the text already returned (tokenizer.json).
    ids: Vec<u32>,
    emitted: usize,
}

impl TextStream<'_> {
    /// The text that `id` completes (possibly empty).
    pub fn push(&mut self, id: u32) -> String {
        if let Pieces::Hf = self.tokenizer.pieces {
            self.ids.push(id);
            let text = self.tokenizer.decode(&self.ids, self.special);
            if text.ends_with('\u{FFFD}')
                || text.len() < self.emitted
                || !text.is_char_boundary(self.emitted)
            {
                return String::new();
            }
            let out = text[self.emitted..].to_string();
            self.emitted = text.len();
            return out;
        }
        self.pending
            .extend_from_slice(&self.tokenizer.token_piece(id, self.special));
        take_utf8(&mut self.pending, false)
    }

    /// Whatever is held back (incomplete characters become U+FFFD).
    pub fn finish(&mut self) -> String {
        take_utf8(&mut self.pending, true)
    }
}

/// Removes and returns the longest prefix of `buf` that is valid UTF-8,
/// replacing invalid bytes; an incomplete sequence at the end stays unless `all`.
fn take_utf8(buf: &mut Vec<u8>, all: bool) -> String {
    let mut out = String::new();
    let mut rest: &[u8] = buf;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                rest = &[];
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).expect("checked by valid_up_to"));
                match e.error_len() {
                    Some(n) => {
                        out.push('\u{FFFD}');
                        rest = &after[n..];
                    }
                    None if all => {
                        out.push('\u{FFFD}');
                        rest = &[];
                        break;
                    }
                    None => {
                        rest = after;
                        break;
                    }
                }
            }
        }
    }
    let keep = rest.to_vec();
    *buf = keep;
    out
}

#[cfg(test)]
mod tests;
