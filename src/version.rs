//! What `knob --version` says: the version, the commit, the kernel path the
//! CPU will use, and the embedded settings model's name and checksum.
use sha2::{Digest, Sha256};

use crate::agent::settings_model::EMBEDDED_MODEL;
use crate::gguf::Gguf;

pub const COMMIT: &str = env!("KNOB_GIT_COMMIT");

/// SHA-256 of the embedded model, in hex.
pub fn model_sha256() -> String {
    Sha256::digest(EMBEDDED_MODEL)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The embedded model's `general.name`.
pub fn model_name() -> String {
    Gguf::from_static(EMBEDDED_MODEL)
        .ok()
        .and_then(|g| {
            g.metadata()
                .get_str_opt("general.name")
                .ok()
                .flatten()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unreadable".into())
}

/// The kernel path, or why KNOB_ISA cannot be honoured.
pub fn kernel_path() -> String {
    match knob_kernels::isa_from_env() {
        Ok(isa) => {
            let forced = std::env::var_os("KNOB_ISA").is_some();
            format!(
                "{}{}",
                isa.name(),
                if forced {
                    " (forced by KNOB_ISA)"
                } else {
                    " (detected)"
                }
            )
        }
        Err(e) => format!("error: {e}"),
    }
}

pub fn long_version() -> String {
    format!(
        "{} (commit {COMMIT})\nkernels: {}\nsettings model: {} (sha256 {}, {:.1} MiB)",
        env!("CARGO_PKG_VERSION"),
        kernel_path(),
        model_name(),
        model_sha256(),
        EMBEDDED_MODEL.len() as f64 / (1024.0 * 1024.0),
    )
}
