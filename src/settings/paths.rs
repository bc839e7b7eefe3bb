//! Where knob keeps user profiles, the journal and its cache. `KNOB_CONFIG_DIR`
//! and `KNOB_DATA_DIR` override the platform directories (the `directories`
//! crate, which honours XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_CACHE_HOME on
//! Linux).
use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "knob")
}

fn from_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `<config>/knob`.
pub fn config_dir() -> Option<PathBuf> {
    from_env("KNOB_CONFIG_DIR").or_else(|| project().map(|p| p.config_dir().to_path_buf()))
}

/// `<data>/knob`.
pub fn data_dir() -> Option<PathBuf> {
    from_env("KNOB_DATA_DIR").or_else(|| project().map(|p| p.data_dir().to_path_buf()))
}

/// `<cache>/knob`: files knob can always make again (semantic search's vectors).
pub fn cache_dir() -> Option<PathBuf> {
    project().map(|p| p.cache_dir().to_path_buf())
}

/// The user's profiles: `<config>/knob/profiles` (presets in `presets/` below it).
pub fn profiles_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("profiles"))
}

/// The journal: `<data>/knob/journal`.
pub fn journal_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("journal"))
}
