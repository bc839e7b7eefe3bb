//! knob: a local, private terminal assistant for computer settings.
#![deny(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod exit;
pub mod settings;
