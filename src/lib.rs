//! knob: a local, private terminal assistant for computer settings.
#![deny(unsafe_code)]

pub mod chat_template;
pub mod cli;
pub mod commands;
pub mod model;
pub mod sampling;
pub mod exit;
pub mod generate;
pub mod gguf;
pub mod tokenizer;
