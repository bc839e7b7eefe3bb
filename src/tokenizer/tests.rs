//! Tokenizers built from small synthetic vocabularies.

use super::*;
use crate::gguf::{Array, Value};

fn md(entries: Vec<(&str, Value)>) -> Metadata {
    let mut m = Metadata::default();
    for (k, v) in entries {
        m.insert(k.to_string(), v);
    }
    m
}

fn strings(v: &[&str]) -> Value {
    Value::Array(Array::String(v.iter().map(|s| s.to_string()).collect()))
}

/// A byte-level vocabulary: 3 control tokens, the 256 byte characters, then merges.
fn gpt2_tokenizer(pre: &str) -> Tokenizer {
    let mut tokens: Vec<String> = vec![
        "<|endoftext|>".into(),
        "<|im_start|>".into(),
        "<|im_end|>".into(),
    ];
    let mut types = vec![3i32, 3, 3];
    let table = super::ggml::tests_support::byte_chars();
    tokens.extend(table.iter().map(|c| c.to_string()));
    types.extend(std::iter::repeat_n(1, 256));
    let merged = [
        "he", "ll", "llo", "hello", "Ġw", "or", "orl", "orld", "Ġworld", "Ġhello", "12",
    ];
    tokens.extend(merged.iter().map(|s| s.to_string()));
    types.extend(std::iter::repeat_n(1, merged.len()));
    let merges = [
        "h e", "l l", "ll o", "he llo", "Ġ w", "o r", "or l", "orl d", "Ġw orld", "Ġ hello", "1 2",
    ];
    let n = tokens.len();
    let m = md(vec![
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String(pre.into())),
        ("tokenizer.ggml.tokens", Value::Array(Array::String(tokens))),
        ("tokenizer.ggml.token_type", Value::Array(Array::I32(types))),
        ("tokenizer.ggml.merges", strings(&merges)),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
    ]);
    let t = Tokenizer::from_metadata(&m).unwrap();
    assert_eq!(t.vocab_size(), n);
    t
}

fn ids(t: &Tokenizer, texts: &[&str]) -> Vec<u32> {
    texts
        .iter()
        .map(|s| t.token_id(s).unwrap_or_else(|| panic!("{s} not in vocab")))
        .collect()
}

#[test]
fn gpt2_bpe_merges_and_round_trips() {
    let t = gpt2_tokenizer("gpt-2");
    let got = t.encode("hello world", true, false).unwrap();
    assert_eq!(got, ids(&t, &["hello", "Ġworld"]));
    for text in [
        "hello world",
        "héllo wörld ☃ 🦀",
        "tab\there\n\nnew  spaces ",
        "x=1; // ok",
        "",
    ] {
        let enc = t.encode(text, false, false).unwrap();
        assert_eq!(t.decode(&enc, false), text);
    }
}

#[test]
fn special_tokens_parse_only_when_asked() {
    let t = gpt2_tokenizer("gpt-2");
    let with = t
        .encode("<|im_start|>hello<|im_end|>", false, true)
        .unwrap();
    assert_eq!(with, ids(&t, &["<|im_start|>", "hello", "<|im_end|>"]));
    let without = t.encode("<|im_start|>hello", false, false).unwrap();
    assert!(!without.contains(&1), "{without:?}");
    assert_eq!(t.decode(&without, false), "<|im_start|>hello");
    // Control tokens print only with `special`.
    assert_eq!(t.token_bytes(1, false), b"");
    assert_eq!(t.token_bytes(1, true), b"<|im_start|>");
    assert_eq!(t.decode(&with, false), "hello");
    assert_eq!(t.decode(&with, true), "<|im_start|>hello<|im_end|>");
}

#[test]
fn end_of_generation_ids_follow_llama_cpp() {
    let t = gpt2_tokenizer("gpt-2");
    assert!(t.is_eog(2), "eos");
    assert!(t.is_eog(0), "<|endoftext|> by its text");
    assert!(!t.is_eog(1));
    assert_eq!(t.bos(), Some(1));
    assert!(!t.add_bos());
    assert_eq!(t.encode("hello", true, false).unwrap(), ids(&t, &["hello"]));
}

#[test]
fn smollm_pre_tokenizer_splits_digits() {
    let gpt2 = gpt2_tokenizer("gpt-2");
    assert_eq!(
        gpt2.encode("12", false, false).unwrap(),
        ids(&gpt2, &["12"])
    );
    let smol = gpt2_tokenizer("smollm");
    assert_eq!(
        smol.encode("12", false, false).unwrap(),
        ids(&smol, &["1", "2"])
    );
    // GPT-2's regex keeps a space before a word, and the trailing spaces apart.
    assert_eq!(
        smol.encode("hello  world", false, false).unwrap(),
        ids(&smol, &["hello", "Ġ", "Ġworld"])
    );
}

#[test]
fn unknown_pre_tokenizer_and_model_are_errors() {
    let mut m = md(vec![
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("martian".into())),
        ("tokenizer.ggml.tokens", strings(&["a"])),
        ("tokenizer.ggml.merges", strings(&[])),
    ]);
    let e = Tokenizer::from_metadata(&m).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unsupported pre-tokenizer \"martian\" in tokenizer.ggml.pre"
    );
    m = md(vec![
        ("tokenizer.ggml.model", Value::String("rwkv".into())),
        ("tokenizer.ggml.tokens", strings(&["a"])),
    ]);
    assert!(matches!(
        Tokenizer::from_metadata(&m).unwrap_err(),
        TokenizerError::UnsupportedModel(_)
    ));
    let m = md(vec![]);
    assert_eq!(
        Tokenizer::from_metadata(&m).unwrap_err().to_string(),
        "missing metadata key tokenizer.ggml.model"
    );
}

#[test]
fn stream_holds_back_partial_utf8() {
    let t = gpt2_tokenizer("gpt-2");
    let crab = t.encode("🦀!", false, false).unwrap();
    assert_eq!(crab.len(), 5, "four byte tokens and '!'");
    let mut s = t.stream(false);
    let pieces: Vec<String> = crab.iter().map(|&id| s.push(id)).collect();
    assert_eq!(pieces, ["", "", "", "🦀", "!"]);
    let mut s = t.stream(false);
    s.push(crab[0]);
    assert_eq!(s.finish(), "\u{FFFD}");
}

/// A SentencePiece vocabulary: <unk>, <s>, </s>, 256 byte tokens, then pieces.
fn spm_tokenizer() -> Tokenizer {
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![2i32, 3, 3];
    let mut scores = vec![0.0f32, 0.0, 0.0];
    for b in 0..256 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    let pieces = [
        "▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "lo", "llo", "ello", "▁hello", "▁w", "or",
        "▁wor", "ld", "▁world",
    ];
    for (i, p) in pieces.iter().enumerate() {
        tokens.push(p.to_string());
        types.push(1);
        scores.push(-(i as f32) - 1.0 + if p.chars().count() > 1 { 100.0 } else { 0.0 });
    }
    let m = md(vec![
        ("tokenizer.ggml.model", Value::String("llama".into())),
        ("tokenizer.ggml.tokens", Value::Array(Array::String(tokens))),
        ("tokenizer.ggml.token_type", Value::Array(Array::I32(types))),
        ("tokenizer.ggml.scores", Value::Array(Array::F32(scores))),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.unknown_token_id", Value::U32(0)),
    ]);
    Tokenizer::from_metadata(&m).unwrap()
}

#[test]
fn sentencepiece_merges_by_score_with_byte_fallback() {
    let t = spm_tokenizer();
    assert!(
        t.add_bos(),
        "llama.cpp adds BOS for SentencePiece vocabularies by default"
    );
    let got = t.encode("hello world", true, false).unwrap();
    assert_eq!(got, ids(&t, &["<s>", "▁hello", "▁world"]));
    // 'é' is not a piece: its UTF-8 bytes become byte tokens.
    let got = t.encode("hé", false, false).unwrap();
    assert_eq!(got, ids(&t, &["▁h", "<0xC3>", "<0xA9>"]));
    assert_eq!(t.decode(&got, false), " hé");
    assert_eq!(
        t.decode(&t.encode("hello world", true, false).unwrap(), false),
        " hello world"
    );
}

/// A `tokenizer.json` as a mu model would carry it (here: the byte-level
/// tokenizer above, serialized by the tokenizers crate, with a post-processor
/// that appends `<|im_end|>`).
fn hf_tokenizer() -> Tokenizer {
    let base = gpt2_tokenizer("gpt-2");
    let mut inner = base.with_special.clone();
    let post = tokenizers::processors::template::TemplateProcessing::builder()
        .try_single("$A <|im_end|>")
        .unwrap()
        .special_tokens(vec![("<|im_end|>", 2)])
        .build()
        .unwrap();
    inner.with_post_processor(Some(post));
    let json = inner.to_string(false).unwrap();
    let m = md(vec![
        ("tokenizer.huggingface.json", Value::String(json)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.padding_token_id", Value::U32(0)),
    ]);
    Tokenizer::from_metadata(&m).unwrap()
}

#[test]
fn huggingface_json_tokenizer_for_mu() {
    let t = hf_tokenizer();
    let plain = t.encode("hello world", false, false).unwrap();
    assert_eq!(plain, ids(&t, &["hello", "Ġworld"]));
    // add_special runs the tokenizer.json's own post-processor.
    let with_eos = t.encode("hello world", true, false).unwrap();
    assert_eq!(with_eos, ids(&t, &["hello", "Ġworld", "<|im_end|>"]));
    assert_eq!(t.eos(), Some(2));
    assert!(t.is_eog(2));
    assert_eq!(t.decode(&with_eos, false), "hello world");
    assert_eq!(t.decode(&with_eos, true), "hello world<|im_end|>");
    assert_eq!(t.encode("<|im_start|>", false, true).unwrap(), vec![1]);
    assert_ne!(t.encode("<|im_start|>", false, false).unwrap(), vec![1]);
    let text = "héllo 🦀";
    let enc = t.encode(text, false, false).unwrap();
    let mut s = t.stream(false);
    let pieces: Vec<String> = enc.iter().map(|&id| s.push(id)).collect();
    assert_eq!(pieces.concat(), text);
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')), "{pieces:?}");
}

#[test]
fn broken_huggingface_json_is_an_error() {
    let m = md(vec![(
        "tokenizer.huggingface.json",
        Value::String("{not json".into()),
    )]);
    let e = Tokenizer::from_metadata(&m).unwrap_err().to_string();
    assert!(
        e.starts_with("building the tokenizer: tokenizer.huggingface.json:"),
        "{e}"
    );
}

/// A WordPiece vocabulary in llama.cpp's layout ("▁" marks word starts,
/// continuations are bare, control tokens unchanged).
fn bert_tokenizer(extra: Vec<(&str, Value)>) -> Tokenizer {
    let tokens = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁hello", "▁world", "!", "▁!", "▁un", "aff", "able",
        "▁cafe", "▁Hello", "▁日", "▁本",
    ];
    let types: Vec<i32> = (0..tokens.len())
        .map(|i| if i < 4 { 3 } else { 1 })
        .collect();
    let mut entries = vec![
        ("tokenizer.ggml.model", Value::String("bert".into())),
        ("tokenizer.ggml.tokens", strings(&tokens)),
        ("tokenizer.ggml.token_type", Value::Array(Array::I32(types))),
        ("tokenizer.ggml.unknown_token_id", Value::U32(1)),
        ("tokenizer.ggml.seperator_token_id", Value::U32(3)),
        ("tokenizer.ggml.padding_token_id", Value::U32(0)),
    ];
    entries.extend(extra);
    Tokenizer::from_metadata(&md(entries)).unwrap()
}

#[test]
fn bert_wordpiece_splits_words_into_pieces_between_cls_and_sep() {
    let t = bert_tokenizer(vec![]);
    // No bos/cls key: [CLS] is found by its text.
    assert_eq!(
        t.encode("Hello WORLD!", true, true).unwrap(),
        vec![2, 4, 5, 7, 3]
    );
    // "##aff" and "##able" are stored as bare continuations.
    assert_eq!(t.encode("unaffable", false, true).unwrap(), vec![8, 9, 10]);
    // Accents are stripped with lowercasing; CJK ideographs are words of their own.
    assert_eq!(
        t.encode("Café 日本", false, true).unwrap(),
        vec![11, 13, 14]
    );
    // A word the pieces cannot cover is [UNK] as a whole.
    assert_eq!(t.encode("unknownword", false, true).unwrap(), vec![1]);
    assert_eq!(t.encode("", true, true).unwrap(), vec![2, 3]);
    // Word starts decode with their space, as llama.cpp's token_to_piece.
    assert_eq!(t.decode(&[4, 5, 7], false), " hello world !");
}

#[test]
fn bert_wordpiece_keeps_case_when_the_file_says_so() {
    let t = bert_tokenizer(vec![(
        "tokenizer.ggml.normalizer.lowercase",
        Value::Bool(false),
    )]);
    assert_eq!(t.encode("Hello hello", false, true).unwrap(), vec![12, 4]);
}

#[test]
fn bert_wordpiece_needs_its_unknown_and_separator_tokens() {
    let err = Tokenizer::from_metadata(&md(vec![
        ("tokenizer.ggml.model", Value::String("bert".into())),
        ("tokenizer.ggml.tokens", strings(&["[CLS]", "▁a"])),
        (
            "tokenizer.ggml.token_type",
            Value::Array(Array::I32(vec![3, 1])),
        ),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("unknown token"), "{err}");
    let err = Tokenizer::from_metadata(&md(vec![
        ("tokenizer.ggml.model", Value::String("bert".into())),
        ("tokenizer.ggml.tokens", strings(&["[CLS]", "[UNK]", "▁a"])),
        (
            "tokenizer.ggml.token_type",
            Value::Array(Array::I32(vec![3, 3, 1])),
        ),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("[SEP]"), "{err}");
}
