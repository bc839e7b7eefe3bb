//! Helpers shared by every integration test: a sandboxed environment for
//! running knob and real tools, and a chat model the tests write themselves.
pub mod chat_model;
mod sandbox;

pub use sandbox::*;
