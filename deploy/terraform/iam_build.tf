# What the pipelines' service account may do (deploy/ci/cloudbuild-*.yaml), and nothing more:
# - read the cluster CA (clusters.generateClientCertificate, in roles/alloydb.client);
# - read the admin credential, and read, add versions to and move the alias of the migrator's and each
#   service's credential (pccdb apply and rotate);
# - push and pull the images; deploy to GKE.
# The Secret Manager part is run, not only read: crates/pccdb/tests/it/deploy/pipeline_iam.rs evaluates these
# bindings (and the service module's) and runs the pipelines' pccdb steps with exactly them, so a permission
# a step needs and this file does not grant fails that test instead of a production build.

resource "google_project_iam_member" "build_alloydb_client" {
  project = var.project
  role    = "roles/alloydb.client"
  member  = "serviceAccount:${var.build_service_account}"
}

resource "google_project_iam_member" "build_gke_deployer" {
  project = var.project
  role    = "roles/container.developer"
  member  = "serviceAccount:${var.build_service_account}"
}

# Moving the alias `current` is secrets.update (no predefined role short of secretmanager.admin has it);
# finishing a rotation disables old versions, and once a rotation settled pccdb destroys the disabled
# versions past the manifest's retention (rotation.keep_disabled, rotation.destroy_disabled_after_days),
# so the role needs versions.destroy too: without it the first rotation with an old enough disabled
# version would fail with 403.
resource "google_project_iam_custom_role" "pcc_secret_rotator" {
  role_id     = "pccSecretRotator"
  title       = "PCC credential rotation"
  description = "Move a secret's version aliases, disable its old versions and destroy them past their retention (pccdb apply and rotate)."
  permissions = [
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
    "secretmanager.versions.disable",
    "secretmanager.versions.destroy",
  ]
}

resource "google_secret_manager_secret_iam_member" "build_admin_accessor" {
  secret_id = google_secret_manager_secret.platform["pcc-admin-${var.environment}-db"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.build_service_account}"
}

resource "google_secret_manager_secret_iam_member" "build_migrator_accessor" {
  secret_id = google_secret_manager_secret.platform["flyway-user-${var.environment}-db"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.build_service_account}"
}

resource "google_secret_manager_secret_iam_member" "build_migrator_version_adder" {
  secret_id = google_secret_manager_secret.platform["flyway-user-${var.environment}-db"].id
  role      = "roles/secretmanager.secretVersionAdder"
  member    = "serviceAccount:${var.build_service_account}"
}

resource "google_secret_manager_secret_iam_member" "build_migrator_rotator" {
  secret_id = google_secret_manager_secret.platform["flyway-user-${var.environment}-db"].id
  role      = google_project_iam_custom_role.pcc_secret_rotator.id
  member    = "serviceAccount:${var.build_service_account}"
}

resource "google_artifact_registry_repository" "pcc" {
  location      = var.region
  repository_id = "pcc"
  format        = "DOCKER"
  description   = "Images built by deploy/ci/cloudbuild-image.yaml, tagged with their commit."
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  location   = google_artifact_registry_repository.pcc.location
  repository = google_artifact_registry_repository.pcc.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${var.build_service_account}"
}
