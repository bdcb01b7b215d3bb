//! Replacing a running cluster's server certificate, as a managed service rotates its own: the new
//! certificate and key go into every node's data directory (owned by the server's OS user, the key
//! 0600), and each running server reloads its configuration, which re-reads them (PostgreSQL 10 and
//! later; new connections get the new certificate, open ones keep theirs). Tests use it to present what
//! another platform presents (AlloyDB: a server certificate for the instance's IP address, signed by the
//! cluster's own CA) without changing how clusters are created.

use crate::cluster::Cluster;
use crate::create::write_private;
use crate::error::{Result, io_err};

impl Cluster {
    /// Installs `cert_pem` (the server certificate, optionally followed by its intermediates) and
    /// `key_pem` (its private key) on every node and reloads the running ones. A stopped node reads them
    /// at its next start. The cluster's CA file is left as it is: clients that should trust the new
    /// certificate are given its issuer by the caller.
    ///
    /// # Errors
    /// [`crate::LauncherError::Io`] writing the files; the reload's failure.
    pub fn install_server_certificate(&self, cert_pem: &str, key_pem: &str) -> Result<()> {
        for node in self.nodes() {
            let data = self.layout.data_dir(node);
            let key = data.join("server.key");
            let cert = data.join("server.crt");
            write_private(&key, key_pem)?;
            std::fs::write(&cert, cert_pem).map_err(io_err("writing", &cert))?;
            self.user.own(&key, false)?;
            self.user.own(&cert, false)?;
            if self.node(node).running_pid().is_some() {
                self.query(node, "postgres", "SELECT pg_catalog.pg_reload_conf()")?;
            }
        }
        Ok(())
    }
}
