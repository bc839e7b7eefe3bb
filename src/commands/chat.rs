//! `knob chat` (and `knob` alone on a terminal): the terminal chat interface.
use std::io::{self, IsTerminal};
use std::time::Duration;

use super::chat_assistant::RealAssistant;
use super::Context;
use crate::exit::Exit;
use crate::tui::fake::FakeAssistant;
use crate::tui::theme::Theme;
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

pub fn run(ctx: &Context) -> anyhow::Result<Exit> {
    if !on_terminal() {
        errln!("{NOT_A_TERMINAL}");
        return Ok(Exit::Usage);
    }
    // Loaded before the terminal is taken over, so an error prints plainly.
    let assistant = assistant(ctx)?;
    let startup = ctx
        .chat_model()
        .into_iter()
        .map(Command::SetModel)
        .collect();
    // The interface is on a terminal: auto means colour.
    let theme = Theme {
        color: ctx.style.colors(true),
    };
    crate::tui::run(assistant, startup, theme)?;
    Ok(Exit::Ok)
}

/// The assistant behind the interface: the settings agent and, once loaded,
/// a chat model; or the demo assistant when `KNOB_TUI_FAKE` is set.
fn assistant(ctx: &Context) -> anyhow::Result<Box<dyn Assistant>> {
    if std::env::var_os(FAKE_ENV).is_none() {
        let catalog = super::settings_ui::catalog()?;
        let threads = ctx
            .threads()
            .unwrap_or_else(super::generate::default_threads);
        let agent = super::ask::load_agent(ctx, &catalog, Some(1))?;
        let journal = ctx.journal().ok().cloned();
        let system = ctx.shared_system();
        // A guessed platform is said in the interface (stderr is hidden
        // behind it), in the first answer.
        let choice = ctx.platform_choice();
        let assistant =
            RealAssistant::new(catalog, agent, choice.platform, system, journal, threads);
        let assistant = match choice.assumed {
            Some(why) => assistant.with_note(format!("{why}; /platform NAME chooses another")),
            None => assistant,
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
