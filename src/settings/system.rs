//! The swappable system every backend command goes through, as in
//! chezmoi's system.go / dryrunsystem.go: the real system runs argv (never a
//! shell), the dry-run system reads for real but only records writes, and
//! the fake system simulates the backends in memory for tests.
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

/// What a finished command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(stdout: impl Into<String>) -> Output {
        Output {
            success: true,
            code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }
    pub fn fail(code: i32, stderr: impl Into<String>) -> Output {
        Output {
            success: false,
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }
    /// A one-line reason for a failure: stderr, else stdout, else the status.
    pub fn reason(&self) -> String {
        let text = if !self.stderr.trim().is_empty() {
            &self.stderr
        } else {
            &self.stdout
        };
        let line = text.trim().lines().next().unwrap_or("").trim().to_string();
        if line.is_empty() {
            match self.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".to_string(),
            }
        } else {
            line
        }
    }
}

/// Runs backend commands. Reads have no effect; writes change settings.
pub trait System {
    /// Whether `program` can be run here.
    fn has_program(&self, program: &str) -> bool;
    /// Runs a command that only reads.
    fn read(&self, argv: &[String]) -> io::Result<Output>;
    /// Runs a command that changes something.
    fn write(&self, argv: &[String]) -> io::Result<Output>;
}

/// The real machine. Environment changes apply to the child processes only,
/// so tests can run in parallel without touching the global environment.
#[derive(Debug, Clone, Default)]
pub struct RealSystem {
    set: Vec<(OsString, OsString)>,
    remove: Vec<OsString>,
}

impl RealSystem {
    pub fn new() -> RealSystem {
        RealSystem::default()
    }

    /// Sets a variable for every child process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> RealSystem {
        let key = key.into();
        self.remove.retain(|k| *k != key);
        self.set.push((key, value.into()));
        self
    }

    /// Removes a variable from every child process's environment.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> RealSystem {
        let key = key.into();
        self.set.retain(|(k, _)| *k != key);
        self.remove.push(key);
        self
    }

    fn path_var(&self) -> Option<OsString> {
        match self.set.iter().rev().find(|(k, _)| k == "PATH") {
            Some((_, v)) => Some(v.clone()),
            None => std::env::var_os("PATH"),
        }
    }

    fn run(&self, argv: &[String]) -> io::Result<Output> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty argv"))?;
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null());
        for k in &self.remove {
            cmd.env_remove(k);
        }
        for (k, v) in &self.set {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {program}: {e}")))?;
        Ok(Output {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

impl System for RealSystem {
    fn has_program(&self, program: &str) -> bool {
        let p = PathBuf::from(program);
        if p.components().count() > 1 {
            return p.is_file();
        }
        let Some(path) = self.path_var() else {
            return false;
        };
        std::env::split_paths(&path).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file() || (cfg!(windows) && dir.join(format!("{program}.exe")).is_file())
        })
    }

    fn read(&self, argv: &[String]) -> io::Result<Output> {
        self.run(argv)
    }

    fn write(&self, argv: &[String]) -> io::Result<Output> {
        self.run(argv)
    }
}

/// Reads through another system and records writes instead of running them.
pub struct DryRunSystem<'a> {
    inner: &'a dyn System,
    writes: RefCell<Vec<Vec<String>>>,
}

impl<'a> DryRunSystem<'a> {
    pub fn new(inner: &'a dyn System) -> DryRunSystem<'a> {
        DryRunSystem {
            inner,
            writes: RefCell::new(Vec::new()),
        }
    }

    /// The writes that would have run, in order.
    pub fn writes(&self) -> Vec<Vec<String>> {
        self.writes.borrow().clone()
    }
}

impl System for DryRunSystem<'_> {
    fn has_program(&self, program: &str) -> bool {
        self.inner.has_program(program)
    }
    fn read(&self, argv: &[String]) -> io::Result<Output> {
        self.inner.read(argv)
    }
    fn write(&self, argv: &[String]) -> io::Result<Output> {
        self.writes.borrow_mut().push(argv.to_vec());
        Ok(Output::ok(""))
    }
}

/// An in-memory machine that understands gsettings, kreadconfig/kwriteconfig,
/// defaults and reg argv, plus scripted commands. For tests. It is `Sync`,
/// so a test can hand it to a `commands::Context` in place of the real one.
#[derive(Debug, Default)]
pub struct FakeSystem {
    programs: BTreeSet<String>,
    /// Stored values by key (`gsettings SCHEMA KEY`, `reg PATH NAME`, ...).
    values: Mutex<BTreeMap<String, String>>,
    /// Writes whose joined argv contains one of these fail.
    failing: Vec<String>,
    /// Fixed outputs for reads of other commands, by joined argv.
    scripted: BTreeMap<String, Output>,
    /// Every command run, reads and writes, in order.
    log: Mutex<Vec<Vec<String>>>,
}

impl FakeSystem {
    /// A machine on which `programs` exist.
    pub fn with_programs(programs: &[&str]) -> FakeSystem {
        FakeSystem {
            programs: programs.iter().map(|p| p.to_string()).collect(),
            ..FakeSystem::default()
        }
    }

    /// Presets a stored value; `key` as in `stored`.
    pub fn set(&self, key: &str, value: &str) {
        lock(&self.values).insert(key.to_string(), value.to_string());
    }

    /// The stored value of `key`: `gsettings SCHEMA KEY`, `kconfig FILE G1/G2 KEY`,
    /// `defaults DOMAIN KEY`, `reg PATH NAME`.
    pub fn stored(&self, key: &str) -> Option<String> {
        lock(&self.values).get(key).cloned()
    }

    /// Makes every write whose argv, joined with spaces, contains `needle` fail.
    pub fn fail_writes_containing(mut self, needle: &str) -> FakeSystem {
        self.failing.push(needle.to_string());
        self
    }

    /// Answers a read of `argv` with `output`.
    pub fn script(mut self, argv: &[&str], output: Output) -> FakeSystem {
        self.scripted.insert(argv.join(" "), output);
        self
    }

    /// Every command run, reads and writes, in order.
    pub fn log(&self) -> Vec<Vec<String>> {
        lock(&self.log).clone()
    }

    fn flag<'a>(argv: &'a [String], name: &str) -> Vec<&'a str> {
        argv.windows(2)
            .filter(|w| w[0] == name)
            .map(|w| w[1].as_str())
            .collect()
    }

    fn kconfig_key(argv: &[String]) -> String {
        let file = Self::flag(argv, "--file").first().copied().unwrap_or("");
        let groups = Self::flag(argv, "--group").join("/");
        let key = Self::flag(argv, "--key").first().copied().unwrap_or("");
        format!("kconfig {file} {groups} {key}")
    }

    fn simulate(&self, argv: &[String], writing: bool) -> Output {
        let joined = argv.join(" ");
        if writing && self.failing.iter().any(|n| joined.contains(n.as_str())) {
            return Output::fail(1, format!("simulated failure: {joined}"));
        }
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut values = lock(&self.values);
        match a.as_slice() {
            ["gsettings", "get", schema, key] => {
                match values.get(&format!("gsettings {schema} {key}")) {
                    Some(v) => Output::ok(format!("{v}\n")),
                    None => Output::fail(1, format!("No such schema “{schema}”\n")),
                }
            }
            ["gsettings", "set", schema, key, v] => {
                values.insert(format!("gsettings {schema} {key}"), v.to_string());
                Output::ok("")
            }
            // kwriteconfig's help, unless a test scripts it: without --notify.
            [p, "--help"] if p.starts_with("kwriteconfig") => {
                self.scripted.get(&joined).cloned().unwrap_or_else(|| {
                    Output::ok("Usage: kwriteconfig [options] value\n  --delete  Delete the designated key if enabled\n")
                })
            }
            [p, ..] if p.starts_with("kreadconfig") => Output::ok(format!(
                "{}\n",
                values
                    .get(&Self::kconfig_key(argv))
                    .cloned()
                    .or_else(|| Self::flag(argv, "--default").first().map(|d| d.to_string()))
                    .unwrap_or_default()
            )),
            [p, ..] if p.starts_with("kwriteconfig") => {
                let k = Self::kconfig_key(argv);
                if a.contains(&"--delete") {
                    values.remove(&k);
                } else {
                    values.insert(k, a.last().unwrap_or(&"").to_string());
                }
                Output::ok("")
            }
            ["defaults", "read", domain, key] => {
                match values.get(&format!("defaults {domain} {key}")) {
                    Some(v) => Output::ok(format!("{v}\n")),
                    None => Output::fail(
                        1,
                        format!("The domain/default pair of ({domain}, {key}) does not exist\n"),
                    ),
                }
            }
            ["defaults", "write", domain, key, _ty, v] => {
                values.insert(format!("defaults {domain} {key}"), v.to_string());
                Output::ok("")
            }
            ["defaults", "delete", domain, key] => {
                values.remove(&format!("defaults {domain} {key}"));
                Output::ok("")
            }
            ["reg", "query", path, "/v", name] => match values.get(&format!("reg {path} {name}")) {
                Some(v) => {
                    let (ty, data) = v.split_once(' ').unwrap_or(("REG_SZ", v));
                    Output::ok(format!(
                        "\r\n{path}\r\n    {name}    {ty}    {data}\r\n\r\n"
                    ))
                }
                None => Output::fail(
                    1,
                    "ERROR: The system was unable to find the specified registry key or value.\r\n",
                ),
            },
            ["reg", "add", path, "/v", name, "/t", ty, "/d", data, "/f"] => {
                let shown = match *ty {
                    "REG_DWORD" | "REG_QWORD" => data
                        .parse::<u64>()
                        .map(|n| format!("0x{n:x}"))
                        .unwrap_or_else(|_| data.to_string()),
                    _ => data.to_string(),
                };
                values.insert(format!("reg {path} {name}"), format!("{ty} {shown}"));
                Output::ok("The operation completed successfully.\r\n")
            }
            ["reg", "delete", path, "/v", name, "/f"] => {
                values.remove(&format!("reg {path} {name}"));
                Output::ok("The operation completed successfully.\r\n")
            }
            _ => match self.scripted.get(&joined) {
                Some(out) => out.clone(),
                None if writing => Output::ok(""),
                None => Output::fail(1, format!("fake system: no answer scripted for `{joined}`")),
            },
        }
    }
}

impl System for FakeSystem {
    fn has_program(&self, program: &str) -> bool {
        self.programs.contains(program)
    }
    fn read(&self, argv: &[String]) -> io::Result<Output> {
        lock(&self.log).push(argv.to_vec());
        Ok(self.simulate(argv, false))
    }
    fn write(&self, argv: &[String]) -> io::Result<Output> {
        lock(&self.log).push(argv.to_vec());
        Ok(self.simulate(argv, true))
    }
}

/// A test's panic while holding the fake's state leaves it usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn real_system_runs_argv_with_child_only_env() {
        let sys = RealSystem::new().env("KNOB_TEST_VAR", "a b;c");
        let out = sys.read(&v(&["printenv", "KNOB_TEST_VAR"])).unwrap();
        assert!(out.success);
        assert_eq!(out.stdout, "a b;c\n");
        assert!(std::env::var_os("KNOB_TEST_VAR").is_none());
        assert!(sys.has_program("printenv"));
        assert!(!sys.has_program("knob-no-such-program"));
    }

    #[test]
    fn dry_run_records_writes_and_reads_through() {
        let fake = FakeSystem::with_programs(&["gsettings"]);
        fake.set("gsettings s k", "true");
        let dry = DryRunSystem::new(&fake);
        assert_eq!(
            dry.read(&v(&["gsettings", "get", "s", "k"]))
                .unwrap()
                .stdout,
            "true\n"
        );
        dry.write(&v(&["gsettings", "set", "s", "k", "false"]))
            .unwrap();
        assert_eq!(
            dry.writes(),
            vec![v(&["gsettings", "set", "s", "k", "false"])]
        );
        assert_eq!(fake.stored("gsettings s k").as_deref(), Some("true"));
    }

    #[test]
    fn fake_registry_prints_dwords_in_hex() {
        let fake = FakeSystem::with_programs(&["reg"]);
        fake.write(&v(&[
            "reg",
            "add",
            "HKCU\\X",
            "/v",
            "N",
            "/t",
            "REG_DWORD",
            "/d",
            "26",
            "/f",
        ]))
        .unwrap();
        let out = fake
            .read(&v(&["reg", "query", "HKCU\\X", "/v", "N"]))
            .unwrap();
        assert!(out.stdout.contains("    N    REG_DWORD    0x1a"));
    }
}
