//! `pccdb dev up` from an empty directory to a streaming replica (target: 5 s or less on
//! a 2-core machine), against a baseline of the minimum steps run by hand with the same binaries:
//! initdb, pg_ctl start, pg_basebackup -R, pg_ctl start, wait for streaming. The difference is what
//! the launcher adds (TLS material, configuration, checks).

use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use pg_launcher::{PgBinaries, ServerUser};

use super::{Settings, median, release_binary};
use crate::report::{Better, Metric, ScenarioResult, Target};

/// Runs the scenario.
pub fn run(settings: &Settings) -> anyhow::Result<ScenarioResult> {
    let pccdb = release_binary(settings, "pccdb");
    if !pccdb.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p pccdb` (bench/run does)",
            pccdb.display()
        );
    }
    let bins = PgBinaries::locate()?;
    let user = ServerUser::detect()?;
    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    for run in 0..settings.runs {
        if run % 2 == 0 {
            ours.push(time_pccdb_up(&pccdb)?);
            baseline.push(time_by_hand(&bins, &user)?);
        } else {
            baseline.push(time_by_hand(&bins, &user)?);
            ours.push(time_pccdb_up(&pccdb)?);
        }
    }
    Ok(ScenarioResult {
        scenario: "dev-up".into(),
        notes: vec![
            format!(
                "{} runs each, alternating, medians; PostgreSQL {}; durable settings (fsync on)",
                settings.runs,
                bins.version()
            ),
            "baseline: initdb + pg_ctl start + pg_basebackup -R + pg_ctl start + wait for streaming, by hand".into(),
        ],
        metrics: vec![
            Metric::plain(
                "pccdb dev up, empty directory to a streaming replica",
                "s",
                median(ours),
                Better::Lower,
            )
            .against("the same steps by hand", median(baseline))
            .target(Target::AtMost(5.0)),
        ],
        seconds: 0.0,
        load_average: None,
    })
}

fn time_pccdb_up(pccdb: &std::path::Path) -> anyhow::Result<f64> {
    let dir = tempfile::Builder::new().prefix("pcc-bench-up-").tempdir()?;
    let cluster = dir.path().join("dev");
    let start = Instant::now();
    let status = Command::new(pccdb)
        .args(["--output", "json", "dev", "up", "--cluster-only", "--dir"])
        .arg(&cluster)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running pccdb dev up")?;
    let elapsed = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!("pccdb dev up failed ({status})");
    }
    let destroyed = Command::new(pccdb)
        .args(["dev", "destroy", "--dir"])
        .arg(&cluster)
        .output()?;
    if !destroyed.status.success() {
        bail!(
            "pccdb dev destroy failed: {}",
            String::from_utf8_lossy(&destroyed.stderr)
        );
    }
    Ok(elapsed)
}

/// The baseline, as a shell script run as the server's OS user.
fn time_by_hand(bins: &PgBinaries, user: &ServerUser) -> anyhow::Result<f64> {
    let dir = tempfile::Builder::new().prefix("pcc-bench-hand-").tempdir()?;
    let root = dir.path();
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
    let ports = (free_port()?, free_port()?);
    let script = format!(
        r#"set -e
B={bin}; D={root}
$B/initdb -D $D/p -U postgres -E UTF8 --locale=C --data-checksums --auth-local=trust --auth-host=scram-sha-256 >/dev/null
mkdir -p $D/s
$B/pg_ctl start -w -s -D $D/p -l $D/p.log -o "-p {p1} -k $D/s -c listen_addresses=127.0.0.1"
$B/pg_basebackup -D $D/r -h $D/s -p {p1} -U postgres -X stream -R -c fast
$B/pg_ctl start -w -s -D $D/r -l $D/r.log -o "-p {p2} -k $D/s -c listen_addresses=127.0.0.1"
until [ "$($B/psql -X -At -h $D/s -p {p1} -U postgres -d postgres -c "select count(*) from pg_stat_replication where state='streaming'")" = 1 ]; do sleep 0.025; done
"#,
        bin = bins.dir().display(),
        root = root.display(),
        p1 = ports.0,
        p2 = ports.1,
    );
    let mut command = user.command(std::path::Path::new("/bin/sh"));
    command.arg("-c").arg(&script);
    let start = Instant::now();
    let output = command.output().context("running the baseline script")?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut stop = user.command(&bins.program("pg_ctl"));
    let _ = stop
        .args(["stop", "-m", "immediate", "-D"])
        .arg(root.join("r"))
        .output();
    let mut stop = user.command(&bins.program("pg_ctl"));
    let _ = stop
        .args(["stop", "-m", "immediate", "-D"])
        .arg(root.join("p"))
        .output();
    if !output.status.success() {
        bail!("baseline failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(elapsed)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
