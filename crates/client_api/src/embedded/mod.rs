//! The embedded default: with no database configured, `pcc-client-api` runs against a local primary +
//! streaming replica (pg_launcher, in the `local_cluster` directory of the manifest's `dev` environment:
//! `.pcc/dev`, the directory `pccdb dev up` uses), brought up by the platform library exactly as `pccdb dev
//! up` and the tests do (provisioned from that environment, migrated as the migration user with `SET ROLE`
//! to the owner), optionally filled with a demo portfolio, and served on 127.0.0.1:8080 with a development
//! signing key. The manifest and the migrations are built into the binary, so it works from any directory.
//! A second run reuses the cluster and its data. Compiled only with the `embedded` feature.

pub mod demo;
mod setup;

use std::net::SocketAddr;

use secrecy::{ExposeSecret as _, SecretString};

use crate::auth::dev::DevKey;
use crate::config::DbConfig;

pub use setup::{BUILT_IN_MIGRATIONS, SERVICE, manifest, prepare, routing};

/// What the embedded default prepared.
#[derive(Debug)]
pub struct Prepared {
    /// How to reach the local databases as the service.
    pub db: DbConfig,
    /// The development signing key.
    pub key: DevKey,
    /// What to print once serving.
    pub banner: Banner,
}

/// The lines printed at start: where to go and how to authenticate.
pub struct Banner {
    /// A development token with both scopes.
    pub token: SecretString,
    /// Clients in the database.
    pub clients: i64,
    /// Whether this run created the cluster.
    pub created: bool,
    /// The cluster directory.
    pub cluster_dir: String,
}

impl std::fmt::Debug for Banner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Banner")
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

impl Banner {
    /// Prints the URLs and the development token on stdout (the only output of the process not in the logs:
    /// the token is meant for the developer at the terminal, and is never logged).
    pub fn print(&self, addr: SocketAddr) {
        use std::io::Write as _;
        let base = format!("http://{addr}");
        let state = if self.created { "new" } else { "reused" };
        let text = format!(
            "\npcc-client-api is running (embedded default: {state} local primary + replica in {}, {} clients)\n\
             \x20 API:      {base}/v1/clients\n\
             \x20 Docs:     {base}/docs\n\
             \x20 OpenAPI:  {base}/openapi.json\n\
             \x20 Health:   {base}/readyz   Metrics: {base}/metrics\n\n\
             Development token (scopes clients:read clients:write, valid 30 days):\n\
             \x20 export PCC_TOKEN='{}'\n\
             \x20 curl -H \"Authorization: Bearer $PCC_TOKEN\" '{base}/v1/clients?limit=5'\n\n\
             Stop with Ctrl-C; the data stays for the next run (`pccdb dev destroy` removes it).\n",
            self.cluster_dir,
            self.clients,
            self.token.expose_secret()
        );
        // One write, and its failure ignored: a service must not stop because whoever read its stdout went
        // away (println! panics on a closed pipe).
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}
