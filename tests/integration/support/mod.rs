//! Helpers shared by every integration test: a sandboxed environment for
//! running knob and real tools, reading what a child printed, the real test
//! model's path, a terminal (tmux) for knob, and a chat model the tests write
//! themselves.
pub mod chat_model;
pub mod golden;
mod output;
mod sandbox;
mod test_model;
mod tmux;

pub use output::*;
pub use sandbox::*;
pub use test_model::*;
pub use tmux::Tmux;

/// The knob binary built for these tests.
pub const KNOB: &str = env!("CARGO_BIN_EXE_knob");
