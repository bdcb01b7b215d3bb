//! The router's futures can be spawned: every statement and transaction future is `Send + 'static` when it
//! owns its router, the shape `tokio::spawn` needs. A compile-time check: a refactor once made the write
//! futures not provably `Send` (a higher-ranked lifetime in a shared async closure), which only a distant
//! crate's test noticed.

use std::future::Future;

use db_router::{Consistency, Router};

fn spawnable<F: Future + Send + 'static>(future: F) -> F {
    future
}

/// Never run: it only has to compile.
#[allow(dead_code)]
fn every_router_future_is_spawnable(router: Router) {
    drop(spawnable(async move {
        let id = 1_i64;
        let name = String::from("x");
        let write = router.write();
        let _ = write.query("SELECT $1::bigint", &[&id]).await;
        let _ = write.query_one("SELECT $1::text", &[&name]).await;
        let _ = write.execute("SELECT 1", &[]).await;
        if let Ok(mut tx) = write.transaction().await {
            let _ = tx.execute("SELECT $1::bigint", &[&id]).await;
            let _ = tx.commit().await;
        }
        for consistency in [Consistency::Strong, Consistency::Any] {
            let read = router.read(consistency);
            let _ = read.query("SELECT $1::bigint", &[&id]).await;
            let _ = read.query_opt("SELECT $1::text", &[&name]).await;
            if let Ok(tx) = read.transaction().await {
                let _ = tx.query("SELECT 1", &[]).await;
            }
        }
    }));
}

#[test]
fn router_futures_are_send() {
    // The check is the compilation of the function above; referencing it keeps it from being optimized out
    // of the test target's type checking on any future toolchain.
    let check: fn(Router) = every_router_future_is_spawnable;
    let _ = check;
}
