//! Writes the generated reference-data migrations (migrations/client_api/R__reference_*.sql) from reference/*.csv.
//!
//! `cargo run -p schema_tests --bin generate-reference-sql`; the test `reference_files` fails while the committed
//! files differ from what this writes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let generated = match schema_tests::reference::generate_all(&schema_tests::reference_dir()) {
        Ok(generated) => generated,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for file in generated {
        let path = schema_tests::migrations_dir().join(file.file_name);
        if let Err(e) = std::fs::write(&path, &file.sql) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
