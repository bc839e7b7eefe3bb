//! `knob chat` (and `knob` alone on a terminal): the terminal chat interface.
use std::io::{self, IsTerminal};
use std::time::Duration;

use super::chat_assistant::RealAssistant;
use super::Context;
use crate::cli::ChatArgs;
use crate::exit::Exit;
use crate::tui::fake::FakeAssistant;
use crate::tui::Assistant;
use crate::tui::Command;

/// What knob says instead of opening the interface when there is no terminal.
pub const NOT_A_TERMINAL: &str = "\
knob: the chat interface needs a terminal (stdin and stdout must both be one).
In scripts and pipes, use:
  knob ask \"turn on dark mode\"     plan one request (see knob ask --help)
  knob batch < requests.txt        plan one request per line (see knob batch --help)";

/// Environment variable: `1` selects the demo assistant, which runs no model
/// (for trying the interface, and for the end-to-end tests); `no-chat` selects
/// it without a pretend chat model, so other requests get suggestions.
pub const FAKE_ENV: &str = "KNOB_TUI_FAKE";
/// Environment variable: the demo assistant's delay per token in milliseconds (default 40).
pub const FAKE_DELAY_ENV: &str = "KNOB_TUI_FAKE_DELAY_MS";

/// Both stdin and stdout are terminals.
pub fn on_terminal() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

pub fn run(ctx: &Context, args: ChatArgs) -> anyhow::Result<Exit> {
    if !on_terminal() {
        errln!("{NOT_A_TERMINAL}");
        return Ok(Exit::Usage);
    }
    // Loaded before the terminal is taken over, so an error prints plainly.
    let assistant = assistant(ctx)?;
    let model = args.model.or_else(|| ctx.config.chat_model.clone());
    let startup = model.into_iter().map(Command::SetModel).collect();
    crate::tui::run(assistant, startup)?;
    Ok(Exit::Ok)
}

/// The assistant behind the interface: the settings agent and, once loaded,
/// a chat model; or the demo assistant when `KNOB_TUI_FAKE` is set.
fn assistant(ctx: &Context) -> anyhow::Result<Box<dyn Assistant>> {
    if std::env::var_os(FAKE_ENV).is_none() {
        let catalog = super::settings_ui::catalog()?;
        let threads = ctx
            .config
            .threads
            .unwrap_or_else(super::generate::default_threads);
        let agent = super::ask::load_agent(ctx, &catalog, Some(1))?;
        let journal = ctx.journal().ok().cloned();
        let system = ctx.shared_system();
        let assistant = match ctx.platform(None) {
            Ok(p) => RealAssistant::new(catalog, agent, p, system, journal, threads),
            // The interface still opens; the first answer says how to choose.
            Err(e) => RealAssistant::new(
                catalog,
                agent,
                crate::settings::Platform::Gnome,
                system,
                journal,
                threads,
            )
            .with_note(format!(
                "{e}; planning for gnome until /platform NAME says otherwise"
            )),
        };
        return Ok(Box::new(assistant));
    }
    let delay_ms = std::env::var(FAKE_DELAY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(40)
        .min(10_000);
    let delay = Duration::from_millis(delay_ms);
    Ok(match std::env::var_os(FAKE_ENV) {
        Some(v) if v == "no-chat" => Box::new(FakeAssistant::without_chat(delay)),
        _ => Box::new(FakeAssistant::new(delay)),
    })
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn chat_takes_an_optional_model() {
        let cli = Cli::try_parse_from(["knob", "chat", "--model", "tiny.gguf"]).expect("parses");
        match cli.command {
            Some(Command::Chat(args)) => assert_eq!(
                args.model.as_deref(),
                Some(std::path::Path::new("tiny.gguf"))
            ),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["knob", "chat", "extra"]).is_err());
        assert!(Cli::try_parse_from(["knob"])
            .expect("parses")
            .command
            .is_none());
    }
}
