//! Settings-engine tests: catalog loading and errors, golden argv for macOS
//! and Windows, the engine on a fake system, and real gsettings and
//! kwriteconfig5 round trips in temporary directories.
mod catalog_real;
mod check_program;
mod concurrency;
mod confirm;
mod context;
mod detection;
mod engine;
mod followups;
mod golden;
mod gsettings;
mod injection;
mod journal;
mod kconfig;
mod profiles;
