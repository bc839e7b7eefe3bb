//! Documented process exit codes (see `knob --help` and the man page).

/// Exit statuses knob returns. Scripts may rely on these numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, or a plan was made.
    Ok = 0,
    /// An error: bad input file, a failed backend, an I/O error.
    Error = 1,
    /// A usage error: unknown flag, bad argument.
    Usage = 2,
    /// The request was not understood; only suggestions were given.
    NotUnderstood = 3,
    /// Applying was refused, or a failure rolled the plan back.
    ApplyRefused = 4,
    /// With --no-wait: another knob was applying or undoing changes, so
    /// nothing was done.
    Busy = 5,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status for an error that ended a command.
    pub fn for_error(err: &anyhow::Error) -> Exit {
        let busy = err.chain().any(|c| {
            matches!(
                c.downcast_ref::<crate::settings::LockError>(),
                Some(crate::settings::LockError::Busy { .. })
            )
        });
        if busy {
            Exit::Busy
        } else {
            Exit::Error
        }
    }
}

/// The text shown under "Exit status" in `--help` and the man page.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0  done, or a plan was made
  1  error
  2  usage error
  3  not understood (only suggestions were given)
  4  apply refused or rolled back
  5  busy: another knob is applying or undoing (--no-wait)";
