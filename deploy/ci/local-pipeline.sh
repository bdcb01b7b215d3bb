#!/usr/bin/env bash
# The database pipeline of deploy/ci/cloudbuild-database.yaml against the local development
# cluster (`pccdb dev up`): apply, then migrate, then check. Run from the repository root.
set -euo pipefail
pccdb=${PCCDB:-target/debug/pccdb}
service=${SERVICE:-pcc-client-api}
"$pccdb" dev up >/dev/null
"$pccdb" apply --env dev
"$pccdb" migrate --env dev --service "$service"
"$pccdb" check --env dev
