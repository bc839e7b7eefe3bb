//! Documented process exit codes (see `knob --help` and the man page), and
//! how a command's error is reported: its status, its message, its JSON.

/// Exit statuses knob returns. Scripts may rely on these numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, or a plan was made.
    Ok = 0,
    /// An error: bad input file, a failed backend, an I/O error.
    Error = 1,
    /// A usage error: unknown flag, bad argument, or a request that is
    /// empty, too long or not UTF-8 (as an argument or on standard input).
    Usage = 2,
    /// The request was not understood; only suggestions were given.
    NotUnderstood = 3,
    /// Applying was refused, or a failure rolled the plan back, or undo
    /// left a key that was changed since knob set it as it is.
    ApplyRefused = 4,
    /// With --no-wait: another knob was applying or undoing changes, so
    /// nothing was done.
    Busy = 5,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status for a command's error: [`Exit::Busy`] when another knob
    /// holds the writers' lock, [`Exit::Usage`] when the user's input was at
    /// fault (a [`UsageError`] in the chain), else [`Exit::Error`].
    pub fn for_error(err: &anyhow::Error) -> Exit {
        let busy = err.chain().any(|c| {
            matches!(
                c.downcast_ref::<crate::settings::LockError>(),
                Some(crate::settings::LockError::Busy { .. })
            )
        });
        if busy {
            Exit::Busy
        } else if err.chain().any(|cause| cause.is::<UsageError>()) {
            Exit::Usage
        } else {
            Exit::Error
        }
    }

    /// The `kind` of an error object in `--json` output.
    pub fn kind(self) -> ErrorKind {
        match self {
            Exit::Usage => ErrorKind::Usage,
            _ => ErrorKind::Error,
        }
    }
}

/// What `--json` prints on standard output for an error, so that a reader
/// of the JSON always gets an object: `{"error": {"kind", "message"}}`, with
/// the same exit status as without `--json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorJson {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    /// The error and its causes on one line, as standard error shows it.
    pub message: String,
}

/// Whose fault an error is: the user's input (exit status 2) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    Usage,
    Error,
}

impl ErrorJson {
    pub fn new(exit: Exit, message: &str) -> ErrorJson {
        ErrorJson {
            error: ErrorBody {
                kind: exit.kind(),
                message: message.to_string(),
            },
        }
    }
}

/// Input the user gave that knob cannot take, wherever it came from (the
/// arguments or standard input): reported like a bad argument, exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The error and its causes on one line, each said once: a cause whose text
/// the message before it already contains (a library error that formats its
/// source) is left out.
pub fn message(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    let mut previous = text.clone();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !cause.is_empty() && !previous.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        previous = cause;
    }
    text
}

/// The text shown under "Exit status" in `--help` and the man page.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0  done, or a plan was made
  1  error
  2  usage error: a bad flag or argument, or a request that is empty, too
     long or not UTF-8 (as arguments or on standard input)
  3  not understood (only suggestions were given)
  4  apply refused or rolled back; undo left a key changed since as it is
  5  busy: another knob is applying or undoing (--no-wait)
With --json, an error is also printed on standard output as
{\"error\": {\"kind\": \"usage\" or \"error\", \"message\": ...}}.";

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}: {source}")]
    struct ReadError {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = std::io::Error::from_raw_os_error(21);
        let err = anyhow::Error::new(ReadError {
            path: "/tmp".into(),
            source: io,
        })
        .context("cannot load model /tmp");
        let text = message(&err);
        assert_eq!(text.matches("os error 21").count(), 1, "{text}");
        assert!(
            text.starts_with("cannot load model /tmp: cannot read /tmp: "),
            "{text}"
        );
    }

    #[test]
    fn causes_not_yet_said_are_kept_in_order() {
        let err = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(message(&err), "outer: middle: inner");
    }

    #[test]
    fn usage_errors_anywhere_in_the_chain_exit_2() {
        let err = anyhow::Error::new(UsageError("not UTF-8".into())).context("reading");
        assert_eq!(Exit::for_error(&err), Exit::Usage);
        assert_eq!(Exit::for_error(&anyhow::anyhow!("disk")), Exit::Error);
        assert_eq!(Exit::Usage.kind(), ErrorKind::Usage);
        assert_eq!(Exit::Error.kind(), ErrorKind::Error);
        assert_eq!(
            serde_json::to_string(&ErrorJson::new(Exit::Usage, "bad")).unwrap(),
            r#"{"error":{"kind":"usage","message":"bad"}}"#
        );
    }
}
