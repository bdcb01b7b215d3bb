//! `pcc-client-api`: configuration from the environment, then serve. With no `PCC_DB_PRIMARY`, the embedded
//! default starts a local primary + replica under .pcc/dev and prints the URL and a development token.

/// mimalloc instead of glibc malloc: a request allocates many small, short-lived buffers (headers, JSON,
/// rows), and this halves their cost (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The runtime exists before the configuration is read; its one setting is documented with the HTTP
    // settings (config/http.rs, PCC_HTTP_WORKERS).
    let workers = client_api::config::HttpConfig::workers_from(&client_api::config::ProcessEnv);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
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
