//! knob: a local, private terminal assistant for computer settings.
#![deny(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
pub mod man;
pub mod toml_error;
