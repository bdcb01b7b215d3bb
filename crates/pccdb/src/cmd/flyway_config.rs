//! `pccdb migrate ... --print-flyway-config`: the configuration pccdb resolved (manifest, files,
//! `FLYWAY_*` variables, flags) as a `flyway.toml` for the real Flyway, so a team can run Flyway's
//! own image in its pipeline with exactly these settings. Nothing connects.
//!
//! The url becomes a JDBC url (Flyway needs one) that picks a read-write server, as pccdb does; the
//! password is never printed: the file reads it from `FLYWAY_PASSWORD`.

use anyhow::Context as _;
use migrate::Config;
use provision::resolve::MigrationTarget;
use secrecy::ExposeSecret as _;

/// The JDBC url Flyway gets: the configured url, read-write server, no credentials.
fn jdbc_url(config: &Config) -> anyhow::Result<String> {
    let url = config.url.as_ref().ok_or_else(|| {
        anyhow::anyhow!("no database url to print: set url (flyway.toml, FLYWAY_URL, --url) or use --env/--service")
    })?;
    let mut spec = conninfo::ConnSpec::parse(url.expose_secret()).context("parsing the database url")?;
    spec.password = None;
    if spec.target_session_attrs == conninfo::TargetSessionAttrs::Any {
        spec = spec.with_target_session_attrs(conninfo::TargetSessionAttrs::ReadWrite);
    }
    spec.to_jdbc_url()
        .context("the real Flyway connects with a JDBC url, and this one has no JDBC form")
}

/// The file's text: what it is, where the password comes from, then the settings.
pub fn render(config: &Config, platform: Option<&MigrationTarget>) -> anyhow::Result<String> {
    let mut text = String::from(
        "# flyway.toml for the real Flyway (10 or later), printed by `pccdb migrate --print-flyway-config`.\n\
         # The password is not in this file: export FLYWAY_PASSWORD before running Flyway.\n",
    );
    if let Some(target) = platform {
        text.push_str(&format!(
            "# Resolved from the platform manifest: database {}, login {}, objects owned by {} (initSql).\n\
             # FLYWAY_PASSWORD is {}'s credential from the environment's secret store. After Flyway has\n\
             # created the history table, run `pccdb apply`: it takes the service's write access to the\n\
             # history away again (pccdb migrate does that itself).\n",
            target.database, target.user, target.owner_role, target.user
        ));
    }
    text.push_str("# Run it from the directory pccdb ran in: locations are relative to it.\n\n");
    text.push_str(&migrate::config::to_flyway_toml(config, &jdbc_url(config)?));
    Ok(text)
}
