#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine that has only the Rust toolchain lacks:
#   - PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_basebackup, psql, pgbench), package `postgresql`;
#   - a C compiler for crates that build C (ring), package `gcc` + `libc6-dev`;
#   - with --api-tests: python3 with venv and curl, for scripts/schemathesis;
#   - with --bench: wrk, the HTTP load generator of the benchmarks (bench/);
#   - with --interop: a JDK (17 or later) and Maven for the real Flyway and pgjdbc of the interoperability
#     tests (crates/interop_tests, interop/jvm), and python3 with venv for libpq through psycopg;
#   - with --deploy-checks: python3 with venv, and the venv .pcc/venv-check-jsonschema with the pinned
#     scripts/lib/check-jsonschema.requirements.txt, the referee of the Cloud Build pipelines
#     (crates/pccdb/tests/it/deploy/cloudbuild_schema.rs); and kustomize at the tag pinned in
#     scripts/lib/kustomize.version, built with the machine's Go into .pcc/go-bin, the referee of
#     deploy/k8s/*/kustomization.yaml (crates/pccdb/tests/it/deploy/kustomize_build.rs).
# Idempotent and quiet when nothing is missing. Executed by scripts/start, scripts/test and .ci/run.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

have_pg_server() {
  local dir
  if [ -n "${PCC_PG_BIN:-}" ] && [ -x "$PCC_PG_BIN/initdb" ]; then return 0; fi
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then return 0; fi
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_basebackup" ]; then return 0; fi
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    log "need root to run: $*  (no sudo available). Run it as root, then retry."
    exit 1
  fi
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing packages ($*) and no apt-get: install them with your package manager, or set PCC_PG_BIN."
    exit 1
  fi
  log "installing $* (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
deploy_checks=""
have_pg_server || missing+=(postgresql postgresql-contrib)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
for option in "$@"; do
  case "$option" in
    --api-tests)
      command -v curl >/dev/null 2>&1 || missing+=(curl)
      command -v python3 >/dev/null 2>&1 || missing+=(python3)
      # Debian's python3 ships venv separately; pyenv and other builds include it.
      if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
      ;;
    --bench) command -v wrk >/dev/null 2>&1 || missing+=(wrk) ;;
    --interop)
      # javac, not only java: the tests compile the harness. Debian's default JDK is 17 on bookworm.
      command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
      command -v mvn >/dev/null 2>&1 || missing+=(maven)
      command -v python3 >/dev/null 2>&1 || missing+=(python3)
      if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
      ;;
    --deploy-checks)
      command -v python3 >/dev/null 2>&1 || missing+=(python3)
      if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
      deploy_checks=1
      ;;
    *) log "ensure-deps: unknown option $option"; exit 2 ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# As root, servers run as the `postgres` OS user, which the Debian package creates. If PostgreSQL came
# from somewhere else, create the user so the launcher has someone to run initdb as.
if [ "$(id -u)" = 0 ] && [ -z "${PCC_PG_OS_USER:-}" ] && ! id postgres >/dev/null 2>&1; then
  log "creating the system user postgres (initdb and postgres refuse to run as root)"
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

# The venv is rebuilt from scratch whenever the pinned file differs from the copy it was built from, so a
# bumped pin never runs against an older validator or schema; a failed install leaves no copy (next run retries).
if [ -n "$deploy_checks" ]; then
  root=$(cd "$(dirname "$0")/../.." && pwd)
  requirements="$root/scripts/lib/check-jsonschema.requirements.txt"
  venv="$root/.pcc/venv-check-jsonschema"
  if ! cmp -s "$requirements" "$venv/pcc-requirements.txt"; then
    log "installing check-jsonschema into $venv (pip, pinned by scripts/lib/check-jsonschema.requirements.txt)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/pcc-requirements.txt"
  fi

  # kustomize comes from source: no Debian package has v5, and `go install module@tag` builds exactly the
  # tag with the dependencies its go.mod and go.sum pin (checked against the Go checksum database). The
  # binary's own `kustomize version` is the marker, so a bumped pin rebuilds and a current one costs nothing.
  kustomize_version=$(grep -v '^#' "$root/scripts/lib/kustomize.version" | head -n 1)
  go_bin="$root/.pcc/go-bin"
  if [ "$("$go_bin/kustomize" version 2>/dev/null || true)" != "$kustomize_version" ]; then
    go=$(command -v go || true)
    # Go's own tarball installs to /usr/local/go, which a non-login shell's PATH often lacks.
    if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
    if [ -z "$go" ]; then
      log "--deploy-checks needs Go (the go command) to build kustomize $kustomize_version: install it from" \
        "https://go.dev/dl/ (at least the go version of that tag's go.mod, see scripts/lib/kustomize.version;" \
        "Debian's golang-go is older), put it on PATH, then retry."
      exit 1
    fi
    log "building kustomize $kustomize_version into $go_bin (go install; minutes the first time, the cache is kept)"
    # Run from an empty directory so no go.mod or go.work of the checkout is read or written; module and build
    # caches live under .pcc (git-ignored; -modcacherw so removing .pcc needs no chmod). GOTOOLCHAIN=local: a Go
    # older than the tag needs fails here, naming both versions, instead of downloading another toolchain.
    scratch=$(mktemp -d)
    if ! (cd "$scratch" && env GOBIN="$go_bin" GOPATH="$root/.pcc/go" GOMODCACHE="$root/.pcc/go/pkg/mod" \
      GOCACHE="$root/.pcc/go-cache" GOFLAGS=-modcacherw GOTOOLCHAIN=local GOWORK=off \
      "$go" install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"); then
      rm -rf "$scratch"
      log "building kustomize $kustomize_version failed (above); a newer Go is at https://go.dev/dl/"
      exit 1
    fi
    rm -rf "$scratch"
    built=$("$go_bin/kustomize" version 2>/dev/null || true)
    if [ "$built" != "$kustomize_version" ]; then
      log "the built kustomize says it is ${built:-nothing}, not $kustomize_version"
      exit 1
    fi
  fi
fi

# Debian's package starts a cluster on port 5432 on install; we never use it, and nothing here depends on it.
exit 0
