//! `pccdb render k8s --env <env> --service <service> [--out DIR] [--check]`: the Kubernetes objects of a
//! service in an environment, from the manifest (crate k8s_render). The default directory is
//! `deploy/k8s/<service>-<env>`, where the render is committed; `--check` writes nothing and exits 2 when the
//! directory differs from a fresh render (a manifest changed without a new render).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::manifest_args::{TargetArgs, print_json};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// What `pccdb render` renders.
#[derive(Debug, Subcommand)]
pub enum RenderCommand {
    /// Namespace, ServiceAccount (Workload Identity), SecretProviderClass, Deployment, Service,
    /// PodDisruptionBudget and a kustomization, for one service in one environment.
    K8s(K8sArgs),
}

/// Options of `pccdb render k8s`.
#[derive(Debug, Args)]
pub struct K8sArgs {
    /// Manifest and environment.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The service (a key of `[services]`, e.g. pcc-client-api).
    #[arg(long)]
    pub service: String,
    /// The output directory. Default: deploy/k8s/<service>-<env>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write nothing; exit 2 when the directory differs from a fresh render.
    #[arg(long)]
    pub check: bool,
}

#[derive(serde::Serialize)]
struct Report {
    directory: String,
    files: Vec<String>,
    differences: Vec<String>,
    written: bool,
}

/// Runs `pccdb render`.
///
/// # Errors
/// A manifest that cannot be rendered (nothing is written), or an unwritable directory.
pub fn run(command: &RenderCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let RenderCommand::K8s(args) = command;
    let manifest = args.target.load()?;
    let rendered = k8s_render::render(&manifest, &args.target.env, &args.service)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("deploy/k8s").join(&rendered.name));
    let files: Vec<String> = rendered.files.iter().map(|f| f.name.clone()).collect();
    let (differences, written) = if args.check {
        (rendered.compare(&dir)?, false)
    } else {
        rendered.write(&dir)?;
        (Vec::new(), true)
    };
    let report = Report {
        directory: dir.display().to_string(),
        files,
        differences: differences.iter().map(ToString::to_string).collect(),
        written,
    };
    match global.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Human if written => {
            println!("Rendered {} file(s) into {}.", report.files.len(), report.directory);
        }
        OutputFormat::Human if report.differences.is_empty() => {
            println!("{} is up to date with the manifest.", report.directory);
        }
        OutputFormat::Human => {
            println!("{} differs from a fresh render:", report.directory);
            for d in &report.differences {
                println!("  {d}");
            }
            println!(
                "Run `pccdb render k8s --env {} --service {}` and commit the result.",
                args.target.env, args.service
            );
        }
    }
    Ok(if report.differences.is_empty() {
        Outcome::Success
    } else {
        Outcome::Findings
    })
}
