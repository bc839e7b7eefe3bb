//! A sandbox: temporary HOME, XDG directories and knob data directory, with
//! the fixture profiles installed as user profiles. Environment changes are
//! made per child process only, so tests run in parallel safely.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::SystemTime;

use knob::settings::{Catalog, RealSystem, System, UndoOptions};

use super::{output_with_stdin, stderr, stdout};

/// The GNOME schema of most settings the tests change.
pub const IFACE: &str = "org.gnome.desktop.interface";

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Undo that reads each key back through `catalog` first (no `--force`).
pub fn read_back(catalog: &Catalog) -> UndoOptions<'_> {
    UndoOptions {
        catalog: Some(catalog),
        force: false,
    }
}

/// Fails (never skips) when a tool the test needs is missing.
pub fn require_tool(name: &str) {
    if !RealSystem::new().has_program(name) {
        panic!(
            "{name} is not installed, and this test needs the real tool. Install it with scripts/setup-dev.sh \
             (Debian packages libglib2.0-bin gsettings-desktop-schemas for gsettings, libkf5config-bin for kwriteconfig5/kreadconfig5; \
             on a distribution with KDE Frameworks 6, its kconfig tools package, e.g. Debian's libkf6config-bin)."
        );
    }
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sb = Sandbox { dir };
        for d in ["home", "config", "data", "cache", "state", "runtime"] {
            fs::create_dir_all(sb.path(d)).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(sb.path("runtime"), fs::Permissions::from_mode(0o700)).unwrap();
        }
        let profiles = sb.path("config").join("knob").join("profiles");
        fs::create_dir_all(profiles.join("presets")).unwrap();
        fs::copy(
            Path::new(FIXTURES).join("profiles/fixtures.toml"),
            profiles.join("fixtures.toml"),
        )
        .unwrap();
        for entry in fs::read_dir(Path::new(FIXTURES).join("profiles/presets")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(
                entry.path(),
                profiles.join("presets").join(entry.file_name()),
            )
            .unwrap();
        }
        sb
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.path("data").join("knob").join("journal")
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("HOME", self.path("home")),
            ("XDG_CONFIG_HOME", self.path("config")),
            ("XDG_DATA_HOME", self.path("data")),
            ("XDG_CACHE_HOME", self.path("cache")),
            ("XDG_STATE_HOME", self.path("state")),
            ("XDG_RUNTIME_DIR", self.path("runtime")),
        ]
    }

    /// No desktop session (knob detects the platform from these), none of
    /// the caller's knob directories, no colour preference.
    const REMOVE: [&'static str; 9] = [
        "XDG_CURRENT_DESKTOP",
        "XDG_SESSION_DESKTOP",
        "DESKTOP_SESSION",
        "KDE_FULL_SESSION",
        "GNOME_DESKTOP_SESSION_ID",
        "KNOB_DATA_DIR",
        "KNOB_CONFIG_DIR",
        "DBUS_SESSION_BUS_ADDRESS",
        "NO_COLOR",
    ];

    /// Sets the sandbox environment on a child command.
    pub fn prepare(&self, cmd: &mut Command) {
        for k in Self::REMOVE {
            cmd.env_remove(k);
        }
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        // Without dconf, gsettings silently writes to memory: be explicit.
        cmd.env("GSETTINGS_BACKEND", "keyfile");
        cmd.stdin(Stdio::null());
    }

    /// The same environment for library calls that run tools.
    pub fn system(&self) -> RealSystem {
        let mut sys = RealSystem::new().env("GSETTINGS_BACKEND", "keyfile");
        for k in Self::REMOVE {
            sys = sys.env_remove(k);
        }
        for (k, v) in self.env() {
            sys = sys.env(k, v);
        }
        sys
    }

    /// A knob command in the sandbox, with no terminal on stdin.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(super::KNOB);
        cmd.args(args);
        self.prepare(&mut cmd);
        cmd
    }

    /// Runs knob in the sandbox with no terminal on stdin.
    pub fn knob(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running knob")
    }

    /// Runs knob in the sandbox and asserts that it succeeded.
    #[track_caller]
    pub fn knob_ok(&self, args: &[&str]) -> Output {
        let out = self.knob(args);
        assert!(out.status.success(), "knob {args:?}: {}", stderr(&out));
        out
    }

    /// Runs knob in the sandbox with `input` on stdin.
    pub fn knob_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        output_with_stdin(cmd, input)
    }

    /// `gsettings get SCHEMA KEY` in the sandbox (keyfile backend).
    pub fn gsettings_get(&self, schema: &str, key: &str) -> String {
        self.tool(&["gsettings", "get", schema, key])
    }

    /// `gsettings set SCHEMA KEY VALUE` in the sandbox (keyfile backend).
    pub fn gsettings_set(&self, schema: &str, key: &str, value: &str) {
        self.tool(&["gsettings", "set", schema, key, value]);
    }

    /// Runs a tool in the sandbox; asserts success and returns trimmed stdout.
    pub fn tool(&self, argv: &[&str]) -> String {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]);
        self.prepare(&mut cmd);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("running {argv:?}: {e}"));
        assert!(out.status.success(), "{argv:?} failed: {}", stderr(&out));
        stdout(&out).trim_end_matches('\n').to_string()
    }
}

/// Files (path -> size, modification time) under the real user's
/// directories that a settings test could touch by mistake.
pub fn outside_snapshot() -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return out;
    };
    let roots = [
        ".config/glib-2.0",
        ".config/dconf",
        ".config/knob",
        ".local/share/knob",
        ".config/kdeglobals",
        ".config/kcminputrc",
    ];
    fn walk(p: &Path, out: &mut BTreeMap<PathBuf, (u64, Option<SystemTime>)>) {
        let Ok(meta) = fs::symlink_metadata(p) else {
            return;
        };
        out.insert(p.to_path_buf(), (meta.len(), meta.modified().ok()));
        if meta.is_dir() {
            for e in fs::read_dir(p).into_iter().flatten().flatten() {
                walk(&e.path(), out);
            }
        }
    }
    for r in roots {
        walk(&home.join(r), &mut out);
    }
    out
}

/// A directory in the sandbox holding links to these real tools only, for
/// a PATH on which knob finds exactly them (platform detection looks at
/// which desktop tools are installed).
pub fn only_tools(sb: &Sandbox, name: &str, tools: &[&str]) -> PathBuf {
    let dir = sb.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for tool in tools {
        require_tool(tool);
        let real = std::env::split_paths(&path_var)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .expect("the tool on PATH");
        std::os::unix::fs::symlink(real, dir.join(tool)).unwrap();
    }
    dir
}

/// A `gsettings` wrapper in `dir` (a shell script that runs `guard`, then
/// the real gsettings with the same arguments) and the PATH that puts it
/// first, for knob processes that must meet a slow or failing gsettings.
pub fn gsettings_wrapper(dir: &Path, guard: &str) -> std::ffi::OsString {
    require_tool("gsettings");
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let real = std::env::split_paths(&path_var)
        .map(|d| d.join("gsettings"))
        .find(|p| p.is_file())
        .expect("gsettings on PATH");
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("gsettings");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n{guard}\nexec '{}' \"$@\"\n", real.display()),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(&path_var));
    std::env::join_paths(paths).unwrap()
}
