//! A GGUF chat model loaded once and asked many times: the fallback for
//! requests that are not about settings (`knob ask`, the TUI), and the
//! conversation the TUI keeps with it ([`ChatSession`]).
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};

use crate::chat_template::{ChatTemplate, Message};
use crate::generate::{generate, GenerateOptions, Generation, Stats, StopReason};
use crate::gguf::Gguf;
use crate::model::gguf_source::GgufSource;
use crate::model::llama::SessionOptions;
use crate::model::{LanguageModel, ModelSource};
use crate::sampling::SamplerConfig;
use crate::tokenizer::Tokenizer;

/// Most tokens a session holds (prompt and reply together), whatever the
/// model was trained for: the KV cache is f32, so this bounds its memory.
const MAX_CONTEXT: usize = 2048;
/// A prompt that leaves less room than this for the reply cannot be answered.
const MIN_REPLY_ROOM: usize = 16;
/// Turns (a user message and its reply) of a conversation kept in the prompt.
pub const HISTORY_TURNS: usize = 8;

pub struct ChatModel {
    pub path: PathBuf,
    pub name: String,
    model: Box<dyn LanguageModel>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
}

impl ChatModel {
    pub fn load(path: &Path, threads: usize) -> Result<ChatModel> {
        let file = Gguf::open(path).with_context(|| format!("opening {}", path.display()))?;
        let tokenizer = Tokenizer::from_gguf(&file)
            .with_context(|| format!("tokenizer of {}", path.display()))?;
        let template =
            ChatTemplate::for_model(file.metadata(), &tokenizer).context("chat template")?;
        let name = file
            .metadata()
            .get_str_opt("general.name")
            .ok()
            .flatten()
            .map(str::to_string)
            .unwrap_or_else(|| {
                path.file_stem()
                    .map_or("model".into(), |s| s.to_string_lossy().into_owned())
            });
        let src = GgufSource::new(file);
        let arch = src.meta_str("general.architecture").unwrap_or_default();
        if arch == "mu" {
            bail!(
                "{} is a settings model (mu), not a chat model",
                path.display()
            );
        }
        let model = crate::model::load(
            &src,
            SessionOptions {
                threads: threads.max(1),
                context: Some(MAX_CONTEXT),
                max_batch: 256,
            },
        )
        .with_context(|| format!("loading {} ({arch})", path.display()))?;
        Ok(ChatModel {
            path: path.to_path_buf(),
            name,
            model,
            tokenizer,
            template,
        })
    }

    /// Puts a wrapper around the language model, e.g. one that records what
    /// reaches it (the tests of the chat session do).
    pub fn map_model(
        mut self,
        wrap: impl FnOnce(Box<dyn LanguageModel>) -> Box<dyn LanguageModel>,
    ) -> ChatModel {
        self.model = wrap(self.model);
        self
    }

    pub fn threads(&self) -> usize {
        self.model.threads()
    }

    /// Tokens the session holds, prompt and reply together: the model's own
    /// context, capped at [`MAX_CONTEXT`].
    pub fn context(&self) -> usize {
        self.model.context_length()
    }

    /// Tokens in the KV cache now.
    pub fn position(&self) -> usize {
        self.model.position()
    }

    /// Empties the KV cache: the model keeps nothing of earlier prompts.
    pub fn reset(&mut self) {
        self.model.reset();
    }

    /// The prompt for `messages`, as token ids.
    fn prompt(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let prompt = self
            .template
            .render(messages, true)
            .context("rendering the chat template")?;
        self.tokenizer
            .encode(&prompt, true, true)
            .context("tokenizing the prompt")
    }

    /// Answers the last user message of `messages`, streaming text pieces.
    /// Greedy decoding: the same question gets the same answer. The reply may
    /// take all of the context the prompt leaves.
    pub fn reply(
        &mut self,
        messages: &[Message],
        cancel: &AtomicBool,
        on_piece: &mut dyn FnMut(&str, &Stats),
    ) -> Result<Generation> {
        let tokens = self.prompt(messages)?;
        self.reply_to(&tokens, cancel, on_piece)
    }

    fn reply_to(
        &mut self,
        tokens: &[u32],
        cancel: &AtomicBool,
        on_piece: &mut dyn FnMut(&str, &Stats),
    ) -> Result<Generation> {
        let context = self.context();
        let room = context.saturating_sub(tokens.len());
        if room < MIN_REPLY_ROOM {
            bail!(
                "the conversation is {} tokens; the chat context holds {context}",
                tokens.len()
            );
        }
        let opts = GenerateOptions {
            max_tokens: room,
            sampler: SamplerConfig {
                temperature: 0.0,
                top_k: 0,
                top_p: 1.0,
                min_p: 0.0,
                repeat_penalty: 1.1,
                repeat_last_n: 64,
                seed: 0,
            },
        };
        Ok(generate(
            self.model.as_mut(),
            &self.tokenizer,
            tokens,
            &opts,
            cancel,
            on_piece,
        )?)
    }

    /// What to tell the user when `g` ended at a limit rather than where the
    /// model ended it: the reply was cut mid-way.
    pub fn limit_note(&self, g: &Generation) -> Option<String> {
        match g.stop {
            StopReason::MaxTokens | StopReason::ContextFull => Some(format!(
                "[reply stopped: the model's context ({} tokens) is full]",
                self.context()
            )),
            StopReason::EndOfGeneration | StopReason::Cancelled => None,
        }
    }
}

/// A conversation with a chat model: the turns so far and the model whose
/// KV cache holds the last of them.
pub struct ChatSession {
    pub model: ChatModel,
    history: Vec<Message>,
}

/// One reply of a [`ChatSession`].
#[derive(Debug, Clone)]
pub struct Reply {
    pub generation: Generation,
    /// Set when the reply was cut at the context's end; says so.
    pub limit: Option<String>,
}

impl ChatSession {
    pub fn new(model: ChatModel) -> ChatSession {
        ChatSession {
            model,
            history: Vec::new(),
        }
    }

    /// The turns that the next prompt will start from, oldest first.
    pub fn history(&self) -> &[Message] {
        &self.history
    }

    /// Tokens in the model's KV cache now.
    pub fn position(&self) -> usize {
        self.model.position()
    }

    /// Forgets the conversation and empties the KV cache: the next prompt
    /// holds the next request alone.
    pub fn clear(&mut self) {
        self.history.clear();
        self.model.reset();
    }

    /// Answers `request` in the conversation so far; the request and the
    /// reply (also a stopped one) join the conversation. When the prompt
    /// would leave the reply less than a quarter of the context, the oldest
    /// turns are dropped for good.
    pub fn reply(
        &mut self,
        request: &str,
        cancel: &AtomicBool,
        on_piece: &mut dyn FnMut(&str, &Stats),
    ) -> Result<Reply> {
        self.history.push(Message::new("user", request));
        let tokens = match self.fitting_prompt() {
            Ok(tokens) => tokens,
            Err(e) => {
                self.history.pop();
                return Err(e);
            }
        };
        match self.model.reply_to(&tokens, cancel, on_piece) {
            Ok(generation) => {
                self.history
                    .push(Message::new("assistant", &generation.text));
                let limit = self.model.limit_note(&generation);
                Ok(Reply { generation, limit })
            }
            Err(e) => {
                self.history.pop();
                Err(e)
            }
        }
    }

    /// The prompt for the history, after dropping the turns that do not fit.
    fn fitting_prompt(&mut self) -> Result<Vec<u32>> {
        let keep = HISTORY_TURNS * 2 + 1;
        if self.history.len() > keep {
            self.history.drain(..self.history.len() - keep);
        }
        let want = self.model.context() - self.model.context() / 4;
        loop {
            let tokens = self.model.prompt(&self.history)?;
            // A turn is a user message and its reply: drop both together.
            if tokens.len() <= want || self.history.len() < 3 {
                return Ok(tokens);
            }
            self.history.drain(..2);
        }
    }
}
