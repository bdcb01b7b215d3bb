//! `pccdb`, the platform CLI: parses the command line and hands over to the command modules.
//!
//! The binary stays thin on purpose: every capability lives in a library crate (`pg_launcher`,
//! `migrate`, `provision`, `secrets`, `conninfo`); the modules under `cmd/` only translate flags
//! into library calls and results into human or JSON output.

mod cli;
mod cmd;
mod outcome;

use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = <cli::Cli as clap::Parser>::parse();
    cli::init_logging(&cli.global);
    match cli.run() {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: "what failed: why".
            eprintln!("error: {err:#}");
            ExitCode::from(outcome::EXIT_ERROR)
        }
    }
}

/// Rust ignores SIGPIPE, so `pccdb ... | head` would panic on the first write after `head` exits.
/// A command-line tool should simply end, as every Unix filter does.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL installs no
    // Rust code as a handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
