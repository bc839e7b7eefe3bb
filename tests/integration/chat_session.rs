//! The TUI's conversation with a chat model (`knob::chat::ChatSession`) on a
//! small model written by the test: what reaches the model after `/clear`,
//! how long a reply may run, and what happens when the context is full.
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use knob::chat::{ChatModel, ChatSession, Reply};
use knob::generate::StopReason;
use knob::model::{LanguageModel, MemoryUse, ModelError};

use crate::support::chat_model::{write_chat_model, Shape};

/// What reached the model: each prompt, with the KV cache position it was
/// fed at.
type Log = Arc<Mutex<Vec<(usize, Vec<u32>)>>>;

/// A language model that records every prompt before passing it on.
struct Recording {
    inner: Box<dyn LanguageModel>,
    log: Log,
}

impl LanguageModel for Recording {
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }
    fn context_length(&self) -> usize {
        self.inner.context_length()
    }
    fn position(&self) -> usize {
        self.inner.position()
    }
    fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        let at = self.inner.position();
        self.log.lock().unwrap().push((at, tokens.to_vec()));
        self.inner.prefill(tokens)
    }
    fn decode(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.inner.decode(token)
    }
    fn reset(&mut self) {
        self.inner.reset()
    }
    fn threads(&self) -> usize {
        self.inner.threads()
    }
    fn memory(&self) -> MemoryUse {
        self.inner.memory()
    }
}

/// A tiny model (its replies never end by themselves) with `context` tokens.
fn session(dir: &Path, context: u32) -> (ChatSession, Log) {
    let path = dir.join("tiny-chat.gguf");
    write_chat_model(
        &path,
        Shape {
            dim: 64,
            hidden: 128,
            layers: 2,
            heads: 4,
            context,
        },
    );
    let log = Log::default();
    let model = ChatModel::load(&path, 1).expect("the test chat model loads");
    let model = model.map_model(|inner| {
        Box::new(Recording {
            inner,
            log: Arc::clone(&log),
        })
    });
    (ChatSession::new(model), log)
}

/// A reply stopped after `pieces` pieces of text, as Ctrl-C would.
fn short_reply(chat: &mut ChatSession, request: &str, pieces: usize) -> Reply {
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let reply = chat
        .reply(request, &cancel, &mut |_, _| {
            seen += 1;
            if seen == pieces {
                cancel.store(true, Ordering::Relaxed);
            }
        })
        .expect("a reply");
    assert_eq!(reply.generation.stop, StopReason::Cancelled);
    assert!(reply.limit.is_none(), "{:?}", reply.limit);
    reply
}

#[test]
fn clear_sends_the_next_prompt_alone_and_empties_the_kv_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (mut chat, log) = session(dir.path(), 4096);
    let first = short_reply(&mut chat, "hello there", 12);
    assert!(chat.position() > first.generation.stats.prompt_tokens);
    // Without /clear the next prompt carries the first turn.
    let second = short_reply(&mut chat, "hello there", 12);
    assert_eq!(chat.history().len(), 4);
    {
        let log = log.lock().unwrap();
        assert!(log[1].1.len() > log[0].1.len() + 12, "{log:?}");
        assert!(log[1].1.starts_with(&log[0].1[..4]));
    }
    assert!(second.generation.stats.prompt_tokens > first.generation.stats.prompt_tokens);

    chat.clear();
    assert!(chat.history().is_empty());
    assert_eq!(chat.position(), 0, "the KV cache is empty after /clear");

    let third = short_reply(&mut chat, "hello there", 12);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].0, 0, "the prompt is fed from position 0");
    assert_eq!(
        log[2].1, log[0].1,
        "after /clear the prompt holds the request alone, as the first did"
    );
    // Same prompt, greedy decoding: the reply of a fresh conversation.
    assert_eq!(third.generation.text, first.generation.text);
    assert_eq!(chat.history().len(), 2);
}

#[test]
fn a_reply_runs_to_the_end_of_the_context_and_says_it_was_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (mut chat, _) = session(dir.path(), 1024);
    let reply = chat
        .reply(
            "write a long story",
            &AtomicBool::new(false),
            &mut |_, _| {},
        )
        .expect("a reply");
    let g = &reply.generation;
    // Past the old fixed limit of 512 tokens, up to the context's end.
    assert!(g.stats.generated_tokens > 512, "{:?}", g.stats);
    assert_eq!(g.stats.prompt_tokens + g.stats.generated_tokens, 1024);
    assert!(matches!(
        g.stop,
        StopReason::MaxTokens | StopReason::ContextFull
    ));
    assert_eq!(
        reply.limit.as_deref(),
        Some("[reply stopped: the model's context (1024 tokens) is full]")
    );
}

#[test]
fn a_conversation_past_the_context_drops_its_oldest_turns() {
    let dir = tempfile::tempdir().unwrap();
    let (mut chat, log) = session(dir.path(), 256);
    let first = chat
        .reply(
            "tell me everything",
            &AtomicBool::new(false),
            &mut |_, _| {},
        )
        .expect("a reply");
    assert!(first.limit.is_some());
    // The first turn fills the context: the next prompt cannot hold it.
    let second = short_reply(&mut chat, "and then?", 4);
    assert_eq!(chat.history().len(), 2, "the first turn was dropped");
    assert_eq!(chat.history()[0].content, "and then?");
    let log = log.lock().unwrap();
    assert!(log[1].1.len() < 256 / 4, "{}", log[1].1.len());
    assert_eq!(second.generation.stats.prompt_tokens, log[1].1.len());
}
