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
