//! `pcc-client-api`: configuration from the environment, then serve. With no `PCC_DB_PRIMARY`, the embedded
//! default starts a local primary + replica under .pcc/dev and prints the URL and a development token.

/// mimalloc instead of glibc malloc: a request allocates many small, short-lived buffers (headers, JSON,
/// rows), and this halves their cost (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// No transparent huge pages for this process. mimalloc reserves its arenas 2 MiB-aligned, and with THP the
/// kernel backs them with huge pages, either at a page fault (`always`) or later when khugepaged collapses a
/// sparsely used 2 MiB range (by default even one with a single resident 4 KiB page). The collapsed pages
/// count in full against the pod's memory and mimalloc never frees the parts it did not use, so the
/// resident set rose in steps of several MiB over a soak and did not come back. The feature `no_thp`
/// stops mimalloc from asking for huge pages; this also covers hosts whose THP setting is `always`.
/// A heap of a few dozen MiB gains nothing measurable from huge pages.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        // Not fatal: only the memory figure is at stake.
        eprintln!("pcc-client-api: cannot disable transparent huge pages ({e}); memory use may rise in steps");
    }
}

fn main() -> std::process::ExitCode {
    disable_transparent_huge_pages();
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
