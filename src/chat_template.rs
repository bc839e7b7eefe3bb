//! Chat templates: a model's `tokenizer.chat_template` (Jinja) rendered with
//! minijinja the way Hugging Face's `apply_chat_template` and llama.cpp do
//! (trim_blocks and lstrip_blocks on, Python string methods, `raise_exception`,
//! `strftime_now`), with ChatML when the model has no template.

use minijinja::syntax::SyntaxConfig;
use minijinja::{context, Environment, Error, ErrorKind};
use serde::Serialize;

use crate::gguf::Metadata;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChatTemplateError {
    #[error("chat template does not parse: {0:#}")]
    Syntax(#[source] Error),
    #[error("chat template failed: {0:#}")]
    Render(#[source] Error),
    #[error(transparent)]
    Metadata(#[from] crate::gguf::GgufError),
}

/// Instructions one render may execute; real templates need a few thousand per message.
pub const TEMPLATE_FUEL: u64 = 5_000_000;

/// ChatML, the fallback (the same text llama.cpp's built-in `chatml` produces).
pub const CHATML: &str = "{% for message in messages %}\
{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}\
{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// A compiled chat template with the model's BOS and EOS texts.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    is_fallback: bool,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("is_fallback", &self.is_fallback)
            .finish()
    }
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token`/`eos_token` are the texts templates see.
    pub fn new(
        source: &str,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate, ChatTemplateError> {
        Self::with_fuel(source, bos_token, eos_token, TEMPLATE_FUEL)
    }

    fn with_fuel(
        source: &str,
        bos_token: &str,
        eos_token: &str,
        fuel: u64,
    ) -> Result<ChatTemplate, ChatTemplateError> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(ChatTemplateError::Syntax)?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        // A template comes from the model file: bound its work so a hostile
        // one (nested loops over huge ranges) fails instead of hanging.
        env.set_fuel(Some(fuel));
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
        env.add_template_owned("chat", source.to_string())
            .map_err(ChatTemplateError::Syntax)?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            is_fallback: false,
        })
    }

    /// ChatML.
    pub fn chatml() -> ChatTemplate {
        let mut t =
            Self::new(CHATML, "", "<|im_end|>").expect("the built-in ChatML template compiles");
        t.is_fallback = true;
        t
    }

    /// The model's `tokenizer.chat_template`, or ChatML when it has none.
    /// `bos_token`/`eos_token` are the texts of the model's BOS and EOS tokens.
    pub fn from_metadata(
        md: &Metadata,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate, ChatTemplateError> {
        match md.get_str_opt("tokenizer.chat_template")? {
            Some(source) => Self::new(source, bos_token, eos_token),
            None => {
                let mut t = Self::chatml();
                t.bos_token = bos_token.to_string();
                t.eos_token = eos_token.to_string();
                Ok(t)
            }
        }
    }

    /// The template of a model, with BOS/EOS texts from its tokenizer.
    pub fn for_model(
        md: &Metadata,
        tokenizer: &crate::tokenizer::Tokenizer,
    ) -> Result<ChatTemplate, ChatTemplateError> {
        let text = |id: Option<u32>| {
            id.map(|id| String::from_utf8_lossy(&tokenizer.token_bytes(id, true)).into_owned())
                .unwrap_or_default()
        };
        Self::from_metadata(md, &text(tokenizer.bos()), &text(tokenizer.eos()))
    }

    /// Whether this is the ChatML fallback rather than the model's own template.
    pub fn is_fallback(&self) -> bool {
        self.is_fallback
    }

    /// The prompt text for `messages`; with `add_generation_prompt` it ends
    /// where the assistant's reply starts.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, ChatTemplateError> {
        let tmpl = self
            .env
            .get_template("chat")
            .map_err(ChatTemplateError::Render)?;
        tmpl.render(context! {
            messages => minijinja::Value::from(minijinja::value::Serde(messages)),
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
        })
        .map_err(ChatTemplateError::Render)
    }
}

/// Python's `strftime` for the current UTC date, with the directives chat
/// templates use (`%d %b %Y`, `%Y-%m-%d`, `%B`, ...).
fn strftime_now(fmt: &str) -> String {
    format_date(time::OffsetDateTime::now_utc().date(), fmt)
}

/// Formats `date` with strftime directives; others are kept as written.
fn format_date(date: time::Date, fmt: &str) -> String {
    let (year, day) = (date.year(), date.day());
    let (month, name) = (u8::from(date.month()), date.month().to_string());
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('-') if fmt.contains("%-d") => {
                chars.next();
                out.push_str(&day.to_string());
            }
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year.rem_euclid(100))),
            Some('b') => out.push_str(&name[..3]),
            Some('B') => out.push_str(&name),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    /// Llama 3's template shape: bos_token, strip(), set/namespace-free.
    const LLAMA3: &str = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

    /// Zephyr / TinyLlama: block tags on their own lines (trim_blocks and
    /// lstrip_blocks matter), eos_token.
    const ZEPHYR: &str = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

    /// Mistral-style: alternation check with raise_exception, .strip().
    const MISTRAL: &str = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'].strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'].strip() + eos_token}}{% endif %}{% endfor %}";

    fn msgs(list: &[(&str, &str)]) -> Vec<Message> {
        list.iter().map(|(r, c)| Message::new(r, c)).collect()
    }

    #[test]
    fn template_table() {
        let hi = msgs(&[("user", "Hi there")]);
        let sys = msgs(&[
            ("system", "Be brief."),
            ("user", "Hi"),
            ("assistant", "Hello!"),
            ("user", " Bye "),
        ]);
        // (template, bos, eos, messages, add_generation_prompt, expected)
        type Row<'a> = (&'a str, &'a str, &'a str, Vec<Message>, bool, &'a str);
        let table: Vec<Row> = vec![
            (SMOLLM2, "<|im_start|>", "<|im_end|>", hi.clone(), true,
             "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"),
            (SMOLLM2, "<|im_start|>", "<|im_end|>", sys.clone(), false,
             "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n Bye <|im_end|>\n"),
            (CHATML, "", "<|im_end|>", hi.clone(), true,
             "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"),
            (LLAMA3, "<|begin_of_text|>", "<|eot_id|>", sys.clone(), true,
             "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
            (ZEPHYR, "<s>", "</s>", msgs(&[("system", "S"), ("user", "U")]), true,
             "<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n"),
            (MISTRAL, "<s>", "</s>", msgs(&[("user", " Q1 "), ("assistant", "A1 "), ("user", "Q2")]), false,
             "<s>[INST] Q1 [/INST]A1</s>[INST] Q2 [/INST]"),
        ];
        for (i, (src, bos, eos, messages, gen, expected)) in table.into_iter().enumerate() {
            let t = ChatTemplate::new(src, bos, eos).unwrap();
            assert_eq!(t.render(&messages, gen).unwrap(), expected, "row {i}");
        }
    }

    #[test]
    fn raise_exception_becomes_an_error() {
        let t = ChatTemplate::new(MISTRAL, "<s>", "</s>").unwrap();
        let e = t
            .render(&msgs(&[("assistant", "first")]), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Conversation roles must alternate"), "{e}");
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let src =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let t = ChatTemplate::with_fuel(src, "", "", 100_000).unwrap();
        let e = t.render(&[], false).unwrap_err().to_string();
        assert!(e.contains("fuel"), "{e}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let e = ChatTemplate::new("{% for m in messages %}", "", "").unwrap_err();
        assert!(matches!(e, ChatTemplateError::Syntax(_)), "{e}");
    }

    #[test]
    fn fallback_is_chatml() {
        let md = Metadata::default();
        let t = ChatTemplate::from_metadata(&md, "<s>", "</s>").unwrap();
        assert!(t.is_fallback());
        assert_eq!(
            t.render(&msgs(&[("user", "x")]), true).unwrap(),
            "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn dates_format_like_strftime() {
        let date = |y, m, d| time::Date::from_calendar_date(y, m, d).unwrap();
        let july_26 = date(2024, time::Month::July, 26);
        assert_eq!(format_date(july_26, "%d %b %Y"), "26 Jul 2024");
        assert_eq!(format_date(july_26, "%Y-%m-%d (%B)"), "2024-07-26 (July)");
        let epoch = date(1970, time::Month::January, 1);
        assert_eq!(format_date(epoch, "%d/%m/%y %%"), "01/01/70 %");
        assert_eq!(format_date(epoch, "%-d %q"), "1 %q");
        let t = ChatTemplate::new("{{ strftime_now('%Y') }}", "", "").unwrap();
        assert!(t.render(&[], false).unwrap().starts_with("20"));
    }
}
