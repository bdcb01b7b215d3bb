//! `pcc-client-api`: configuration from the environment, then serve. With no `PCC_DB_PRIMARY`, the embedded
//! default starts a local primary + replica under .pcc/dev and prints the URL and a development token.

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pcc-client-api: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(client_api::run::run(&client_api::config::ProcessEnv)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pcc-client-api: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
