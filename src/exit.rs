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
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The text shown under "Exit status" in `--help` and the man page.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0  done, or a plan was made
  1  error
  2  usage error
  3  not understood (only suggestions were given)
  4  apply refused or rolled back";
