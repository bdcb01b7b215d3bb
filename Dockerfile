# syntax=docker/dockerfile:1
#
# The production images, built once per commit by deploy/ci/cloudbuild-image.yaml:
#
#   docker build --target pcc-client-api -t pcc-client-api .   # the service (no embedded launcher)
#   docker build --target pccdb -t pccdb .                     # the platform CLI the pipelines run
#
# Two images from one build stage, not one image with both binaries: a service pod never carries the tool
# that provisions roles and rotates credentials, and the pipelines never carry the service. Both run on
# distroless cc (glibc, libgcc, CA certificates, tzdata; no shell, no package manager) as the numeric
# non-root user 65532, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
#
# The toolchain is the one rust-toolchain.toml pins (a test compares them), so the image builds what CI
# tested; --locked builds the Cargo.lock that CI tested.

FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
# The service without its default feature `embedded`: no pg_launcher, provisioning or migration code, and
# no manifest or migrations compiled in (ARCHITECTURE.md, "One platform path").
RUN cargo build --release --locked -p client_api --no-default-features \
 && cargo build --release --locked -p pccdb

FROM gcr.io/distroless/cc-debian12:nonroot AS pcc-client-api
COPY --from=build /src/target/release/pcc-client-api /usr/local/bin/pcc-client-api
USER 65532:65532
# The pod spec (deploy/k8s) runs the same path as its command; 8080 is PCC_HTTP_ADDR's port there.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pcc-client-api"]

FROM gcr.io/distroless/cc-debian12:nonroot AS pccdb
COPY --from=build /src/target/release/pccdb /usr/local/bin/pccdb
USER 65532:65532
# Pipelines run it in their checkout (Cloud Build's /workspace), where deploy/pcc.toml and migrations/ of the
# same commit are: the manifest and migration paths are relative to the working directory.
ENTRYPOINT ["/usr/local/bin/pccdb"]
