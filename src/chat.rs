//! A GGUF chat model loaded once and asked many times: the fallback for
//! requests that are not about settings (`knob ask`, the TUI).
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};

use crate::chat_template::{ChatTemplate, Message};
use crate::generate::{generate, GenerateOptions, Generation, Stats};
use crate::gguf::Gguf;
use crate::model::gguf_source::GgufSource;
use crate::model::llama::SessionOptions;
use crate::model::{LanguageModel, ModelSource};
use crate::sampling::SamplerConfig;
use crate::tokenizer::Tokenizer;

/// Longest reply, in tokens.
pub const MAX_REPLY_TOKENS: usize = 512;
/// KV cache size: the conversation's prompt plus the reply must fit.
const CONTEXT: usize = 2048;

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
                context: Some(CONTEXT),
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

    pub fn threads(&self) -> usize {
        self.model.threads()
    }

    /// Answers the last user message of `messages`, streaming text pieces.
    /// Greedy decoding: the same question gets the same answer.
    pub fn reply(
        &mut self,
        messages: &[Message],
        cancel: &AtomicBool,
        on_piece: &mut dyn FnMut(&str, &Stats),
    ) -> Result<Generation> {
        let prompt = self
            .template
            .render(messages, true)
            .context("rendering the chat template")?;
        let tokens = self
            .tokenizer
            .encode(&prompt, true, true)
            .context("tokenizing the prompt")?;
        let room = CONTEXT.saturating_sub(tokens.len());
        if room < 16 {
            bail!(
                "the conversation is {} tokens; the chat context holds {CONTEXT}",
                tokens.len()
            );
        }
        let opts = GenerateOptions {
            max_tokens: MAX_REPLY_TOKENS.min(room),
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
            &tokens,
            &opts,
            cancel,
            on_piece,
        )?)
    }
}
