//! Embeds the shipped catalog: every `settings-profiles/*.toml` and
//! `settings-profiles/presets/*.toml` becomes an `include_str!` entry in
//! `$OUT_DIR/shipped_profiles.rs`, so knob works from any directory and a new
//! profile file needs no code change.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn main() {
    println!("cargo:rustc-env=KNOB_GIT_COMMIT={}", git_commit());
    // Rebuild when HEAD moves, so the commit shown stays true. The paths come
    // from git because in a worktree `.git` is a file, and a path that does not
    // exist would make cargo rebuild on every run.
    for path in git_head_paths() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-changed=assets/knob-mu2.gguf");
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let profiles = root.join("settings-profiles");
    // A directory path makes cargo rescan the whole tree for changes.
    println!("cargo:rerun-if-changed=settings-profiles");
    let mut out =
        String::from("/// (display name, text) of every shipped profile and preset file.\n");
    out.push_str("pub static SHIPPED: &[(&str, &str)] = &[\n");
    for (sub, dir) in [
        ("", profiles.clone()),
        ("presets/", profiles.join("presets")),
    ] {
        for file in toml_files(&dir) {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("profile file names are UTF-8");
            let abs = file.to_str().expect("profile paths are UTF-8");
            writeln!(
                out,
                "    ({:?}, include_str!({:?})),",
                format!("settings-profiles/{sub}{name}"),
                abs
            )
            .expect("writing to a String");
        }
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("shipped_profiles.rs");
    fs::write(dest, out).expect("writing shipped_profiles.rs");
}

/// HEAD and the branch refs of the checkout being built; none outside git.
fn git_head_paths() -> Vec<PathBuf> {
    let Some(out) = git(&["rev-parse", "--git-dir", "--git-common-dir"]) else {
        return Vec::new();
    };
    let mut dirs = out.lines().map(PathBuf::from);
    let (Some(git_dir), Some(common_dir)) = (dirs.next(), dirs.next()) else {
        return Vec::new();
    };
    [git_dir.join("HEAD"), common_dir.join("refs/heads")]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

fn git(args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
}

/// The commit knob is built from, for `knob --version`; "unknown" outside a
/// git checkout (a crate tarball).
fn git_commit() -> String {
    git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
}
