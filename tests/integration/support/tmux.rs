//! A real terminal for knob: a tmux server of its own per test
//! (`tmux -L <unique socket>`) with one session, killed at the end, pass or
//! fail.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for the screen to show what it expects.
const WAIT: Duration = Duration::from_secs(60);
/// The one session of the server.
const SESSION: &str = "main";

pub struct Tmux {
    socket: String,
    /// The socket file, removed at the end (kill-server leaves it behind).
    socket_path: Option<PathBuf>,
}

impl Tmux {
    /// Starts a server named after `name` with one `width` x `height`
    /// session; `args` follow `new-session` (`-e VAR=value`, then the
    /// command the pane runs).
    pub fn start(name: &str, (width, height): (u16, u16), args: &[&str]) -> Tmux {
        let mut tmux = Tmux {
            socket: format!("knob-test-{}-{name}", std::process::id()),
            socket_path: None,
        };
        let (width, height) = (width.to_string(), height.to_string());
        let mut argv = vec![
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            &width,
            "-y",
            &height,
        ];
        argv.extend(args);
        let out = tmux.cmd(&argv);
        assert!(
            out.status.success(),
            "tmux new-session failed (is tmux installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux.socket_path = Some(tmux.format("#{socket_path}").into());
        tmux
    }

    /// Runs a tmux command on this server.
    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run tmux; it must be installed for this test")
    }

    /// Types text literally (no key names).
    pub fn type_text(&self, text: &str) {
        assert!(self
            .cmd(&["send-keys", "-t", SESSION, "-l", text])
            .status
            .success());
    }

    /// Sends tmux key names: "Enter", "Escape", "C-c".
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", SESSION]).stdout)
            .into_owned()
    }

    /// The screen with its colours and attributes as SGR escape sequences.
    pub fn screen_with_escapes(&self) -> String {
        String::from_utf8_lossy(
            &self
                .cmd(&["capture-pane", "-p", "-e", "-t", SESSION])
                .stdout,
        )
        .into_owned()
    }

    /// A tmux format (`#{alternate_on}`, ...) for the pane.
    pub fn format(&self, format: &str) -> String {
        let out = self.cmd(&["display-message", "-p", "-t", SESSION, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits until the screen passes `check`; fails with the screen otherwise.
    pub fn wait_for(&self, check: impl Fn(&str) -> bool, what: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < WAIT,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}
