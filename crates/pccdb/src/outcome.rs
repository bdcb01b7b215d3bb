//! Exit codes shared by every `pccdb` command, as documented in the README:
//! 0 success, 1 error (the command could not do its job), 2 validation failure or drift
//! (the command ran and found something wrong: `validate`, `check`, `plan --detailed-exitcode`).

use std::process::ExitCode;

/// The command could not do its job (bad input, unreachable server, failed migration).
pub const EXIT_ERROR: u8 = 1;
/// The command ran and found a validation failure or drift.
pub const EXIT_FINDINGS: u8 = 2;

/// What a successful run of a command concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is as it should be.
    Success,
    /// The command ran to completion and found problems (exit code 2).
    Findings,
}

impl Outcome {
    /// The process exit code for this outcome.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(EXIT_FINDINGS),
        }
    }
}
