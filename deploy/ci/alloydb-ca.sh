#!/usr/bin/env bash
# Writes the CA certificate of an AlloyDB cluster (PEM) to a file, for clients that verify the server
# (`SSL Mode=VerifyCA;Root Certificate=...` in deploy/pcc.toml).
#
#   deploy/ci/alloydb-ca.sh PROJECT REGION CLUSTER OUT_FILE
#
# AlloyDB's v1 API hands the cluster CA out in one place: the response of
# clusters.generateClientCertificate (`caCert`, "the pem-encoded cluster ca X.509 certificate"). An
# instance's connectionInfo has only ipAddress, publicIpAddress, pscDnsName and instanceUid, and the cluster
# resource has no certificate either. The request's fields (publicKey, certDuration, ...) are all optional;
# we ask for no client certificate, only read caCert, and fail when it is missing.
#
# Needs gcloud, curl and python3 (the cloud-sdk image) and alloydb.clusters.generateClientCertificate on the
# cluster (roles/alloydb.client). The access token travels on stdin, never in a process argument.
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 PROJECT REGION CLUSTER OUT_FILE" >&2
  exit 2
fi
project=$1 region=$2 cluster=$3 out=$4
url="https://alloydb.googleapis.com/v1/projects/${project}/locations/${region}/clusters/${cluster}:generateClientCertificate"
token=$(gcloud auth print-access-token)
response=$(curl -sS --fail-with-body -X POST -H @- -H "Content-Type: application/json" -d '{}' "$url" \
  <<<"Authorization: Bearer ${token}")
mkdir -p "$(dirname "$out")"
printf '%s' "$response" | python3 -c '
import json, os, sys
ca = json.load(sys.stdin).get("caCert", "")
if "-----BEGIN CERTIFICATE-----" not in ca:
    sys.exit("generateClientCertificate answered without a caCert certificate")
with open(sys.argv[1], "w") as f:
    f.write(ca if ca.endswith("\n") else ca + "\n")
os.chmod(sys.argv[1], 0o644)
' "$out"
echo "wrote the CA of cluster ${cluster} to ${out}" >&2
