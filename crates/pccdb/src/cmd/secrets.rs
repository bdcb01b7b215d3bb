//! `pccdb secrets`: inspect and seed the credentials of an environment without ever printing a
//! password. `list` shows each credential's secret, current version, login and age;
//! `set` stores a credential whose password is read from stdin (never from the arguments),
//! e.g. the admin credential of a new environment.

use std::io::Read as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use provision::rotate::targets;
use provision::target::{open_store, read_credential};
use secrecy::SecretString;
use secrets::{DbCredential, SecretName, VersionRef};
use serde::Serialize;

use super::manifest_args::{TargetArgs, print_json, runtime};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// `pccdb secrets` commands.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// List the credentials of an environment: secret, current version and login, age.
    List(TargetArgs),
    /// Store a credential (JSON username + password) as a new version and point `current` at it.
    Set(SetArgs),
}

/// Options of `pccdb secrets set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Manifest and environment.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The secret id (e.g. pcc-admin-devtest-db).
    #[arg(long)]
    pub secret: String,
    /// The login the password belongs to.
    #[arg(long)]
    pub username: String,
    /// Write to the environment's admin secret store instead of its service store.
    #[arg(long)]
    pub admin_store: bool,
}

#[derive(Serialize)]
struct Line {
    label: String,
    secret: String,
    current_version: Option<u64>,
    username: Option<String>,
    age_days: Option<i64>,
    problem: Option<String>,
}

/// Runs a `pccdb secrets` command.
///
/// # Errors
/// Manifest and secret store errors.
pub fn run(command: &SecretsCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    match command {
        SecretsCommand::List(target) => list(target, global),
        SecretsCommand::Set(args) => set(args, global),
    }
}

fn list(target: &TargetArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let manifest = target.load()?;
    let env = manifest.environment(&target.env)?;
    let lines = runtime()?.block_on(async {
        let store = open_store(&env.secrets)?;
        let now = time::OffsetDateTime::now_utc();
        let mut lines = Vec::new();
        for t in targets(&manifest, env) {
            let mut line = Line {
                label: t.label.clone(),
                secret: t.secret.to_string(),
                current_version: None,
                username: None,
                age_days: None,
                problem: None,
            };
            match read_credential(store.as_ref(), t.secret.as_str(), &VersionRef::current()).await {
                Ok(c) => line.username = Some(c.username),
                Err(e) => line.problem = Some(e.to_string()),
            }
            if let (Ok(aliases), Ok(versions)) = (store.aliases(&t.secret).await, store.list_versions(&t.secret).await)
            {
                let current = aliases.iter().find(|(a, _)| a.as_str() == "current").map(|(_, v)| *v);
                line.current_version = current.map(secrets::VersionId::get);
                line.age_days = versions
                    .iter()
                    .find(|v| Some(v.version) == current)
                    .and_then(|v| v.created)
                    .map(|c| (now - c).whole_days());
            }
            lines.push(line);
        }
        anyhow::Ok(lines)
    })?;
    match global.output {
        OutputFormat::Json => print_json(&lines)?,
        OutputFormat::Human => {
            for l in &lines {
                match &l.problem {
                    Some(p) => println!("{:<28} {:<40} {p}", l.label, l.secret),
                    None => println!(
                        "{:<28} {:<40} version {} login {} age {} day(s)",
                        l.label,
                        l.secret,
                        l.current_version.map_or_else(|| "-".to_owned(), |v| v.to_string()),
                        l.username.as_deref().unwrap_or("-"),
                        l.age_days.map_or_else(|| "-".to_owned(), |d| d.to_string())
                    ),
                }
            }
        }
    }
    Ok(Outcome::Success)
}

fn set(args: &SetArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let manifest = args.target.load()?;
    let env = manifest.environment(&args.target.env)?;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = SecretString::from(password.trim_end_matches(['\n', '\r']).to_owned());
    let name = SecretName::parse(&args.secret)?;
    let version = runtime()?.block_on(async {
        let store = open_store(if args.admin_store {
            &env.admin_secrets
        } else {
            &env.secrets
        })?;
        let value = DbCredential::new(args.username.clone(), password).to_json();
        let version = store.add_version(&name, &value).await?;
        store
            .set_alias(&name, &secrets::AliasName::parse("current")?, version)
            .await?;
        anyhow::Ok(version)
    })?;
    match global.output {
        OutputFormat::Json => print_json(&serde_json::json!({"secret": args.secret, "version": version.get()}))?,
        OutputFormat::Human => println!("Stored {} as version {version} (alias current).", args.secret),
    }
    Ok(Outcome::Success)
}
