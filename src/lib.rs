//! knob: a local, private terminal assistant for computer settings.
#![deny(unsafe_code)]

// First, so that every module can use `out!`, `outln!` and `errln!`.
#[macro_use]
pub mod output;

pub mod agent;
#[cfg(test)]
mod architecture_test;
pub mod chat;
pub mod chat_template;
pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
#[doc(hidden)]
pub mod fuzz;
pub mod generate;
pub mod gguf;
pub mod man;
pub mod model;
pub mod sampling;
pub mod settings;
pub mod tokenizer;
pub mod toml_error;
pub mod tui;
pub mod version;
