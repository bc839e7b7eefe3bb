//! The tokenizer of the real test model (SmolLM2-135M-Instruct) named by
//! KNOB_TEST_MODEL. Fails, not skips, when the variable is unset.

use knob::gguf::Gguf;
use knob::tokenizer::Tokenizer;

use crate::support::test_model_path;

fn tokenizer() -> Tokenizer {
    let gguf = Gguf::open(test_model_path()).unwrap();
    Tokenizer::from_gguf(&gguf).unwrap()
}

#[test]
fn smollm2_round_trips_varied_text() {
    let t = tokenizer();
    let texts = [
        "Hello, world!",
        "Ça va? Déjà vu, naïve façade.",
        "日本語のテキストと中文",
        "emoji: 🦀🚀👍🏽",
        "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n",
        "numbers 1234567890 and 3.14159",
        "   leading and trailing spaces   ",
        "tabs\tand\r\nnewlines\n\n\n",
    ];
    for text in texts {
        let ids = t.encode(text, true, false).unwrap();
        assert!(!ids.is_empty());
        assert_eq!(t.decode(&ids, false), text, "{ids:?}");
        let mut stream = t.stream(false);
        let mut streamed: String = ids.iter().map(|&id| stream.push(id)).collect();
        streamed.push_str(&stream.finish());
        assert_eq!(streamed, text);
    }
}

#[test]
fn smollm2_special_tokens_and_digits() {
    let t = tokenizer();
    assert_eq!(t.vocab_size(), 49152);
    assert_eq!(t.token_id("<|im_start|>"), Some(1));
    assert_eq!(t.token_id("<|im_end|>"), Some(2));
    assert!(
        !t.add_bos(),
        "SmolLM2 sets tokenizer.ggml.add_bos_token = false"
    );
    assert!(t.is_eog(2) && t.is_eog(0) && !t.is_eog(1));
    let chat = t
        .encode("<|im_start|>user\nHi<|im_end|>\n", true, true)
        .unwrap();
    assert_eq!(chat[0], 1);
    assert_eq!(chat.iter().filter(|&&id| id == 2).count(), 1);
    let plain = t.encode("<|im_start|>user", true, false).unwrap();
    assert!(!plain.contains(&1));
    // The smollm pre-tokenizer gives every digit its own token.
    assert_eq!(t.encode("2024", false, false).unwrap().len(), 4);
    // " the" is one token in this vocabulary.
    let the = t.encode(" the", false, false).unwrap();
    assert_eq!(the.len(), 1);
    assert_eq!(t.token_text(the[0]).as_deref(), Some("Ġthe"));
}

#[test]
fn smollm2_chat_template_renders_and_tokenizes() {
    use knob::chat_template::{ChatTemplate, Message};
    let path = std::env::var("KNOB_TEST_MODEL").expect("KNOB_TEST_MODEL is not set");
    let gguf = Gguf::open(path).unwrap();
    let t = Tokenizer::from_gguf(&gguf).unwrap();
    let tmpl = ChatTemplate::for_model(gguf.metadata(), &t).unwrap();
    assert!(!tmpl.is_fallback());
    let text = tmpl
        .render(&[Message::new("user", "What is 2+2?")], true)
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    );
    let ids = t.encode(&text, true, true).unwrap();
    assert_eq!(
        ids.iter().filter(|&&id| id == 1).count(),
        3,
        "three <|im_start|>"
    );
    assert_eq!(
        ids.iter().filter(|&&id| id == 2).count(),
        2,
        "two <|im_end|>"
    );
    assert_eq!(t.decode(&ids, true), text);
}
