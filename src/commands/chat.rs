//! `knob chat` (and `knob` alone on a terminal): the terminal chat interface.
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use crate::cli::ChatArgs;
use crate::exit::Exit;
use crate::tui::app::Command;
use crate::tui::fake::FakeAssistant;
use crate::tui::Assistant;

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

pub fn run(args: ChatArgs) -> anyhow::Result<Exit> {
    if !on_terminal() {
        let mut stderr = io::stderr().lock();
        writeln!(stderr, "{NOT_A_TERMINAL}")?;
        return Ok(Exit::Usage);
    }
    let assistant = assistant();
    let startup = args.model.into_iter().map(Command::SetModel).collect();
    crate::tui::run(assistant, startup)?;
    Ok(Exit::Ok)
}

/// The assistant behind the interface.
///
/// The settings agent and the GGUF chat model plug in here once they are
/// merged; until then every session uses the demo assistant, which says in
/// the status bar that it runs no model. `KNOB_TUI_FAKE=1` will keep
/// selecting it after that, for the end-to-end tests.
fn assistant() -> Box<dyn Assistant> {
    let delay_ms = std::env::var(FAKE_DELAY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(40)
        .min(10_000);
    let delay = Duration::from_millis(delay_ms);
    match std::env::var_os(FAKE_ENV) {
        Some(v) if v == "no-chat" => Box::new(FakeAssistant::without_chat(delay)),
        // `1`, and for now every other case: see above.
        _ => Box::new(FakeAssistant::new(delay)),
    }
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
