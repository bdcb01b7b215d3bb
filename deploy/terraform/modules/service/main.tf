# One service in one environment: its credential secret (<service>-<env>-db, versions written by pccdb),
# its Google service account (<service>-<env>, the name pccdb render k8s annotates the Kubernetes one with),
# read access to its own secret alone, the pipelines' rotation access to it, and Workload Identity for the
# Kubernetes service account <service>-<env> in the namespace <service>-<env>. With iam_auth (the manifest's
# auth = "iam" for the service there): its IAM database user, named after the service account's address
# without .gserviceaccount.com, and the roles that let the pods log in with their access tokens.

variable "service" {
  description = "The service name of deploy/pcc.toml, e.g. pcc-client-api."
  type        = string
}

variable "environment" {
  description = "The environment, e.g. devtest."
  type        = string
}

variable "project" {
  description = "The environment's project (Secret Manager, GKE, service accounts)."
  type        = string
}

variable "build_service_account" {
  description = "The pipelines' service account (apply writes first credentials, rotate new ones)."
  type        = string
}

variable "rotator_role" {
  description = "The custom role that moves aliases and disables old versions."
  type        = string
}

variable "iam_auth" {
  description = "Whether the service logs in to AlloyDB as an IAM user in this environment."
  type        = bool
  default     = false
}

variable "alloydb_cluster" {
  description = "The AlloyDB cluster (projects/<p>/locations/<r>/clusters/<c>) of its IAM database user."
  type        = string
}

locals {
  name = "${var.service}-${var.environment}"
}

resource "google_secret_manager_secret" "credential" {
  secret_id = "${var.service}-${var.environment}-db"

  replication {
    auto {}
  }

  labels = {
    environment = var.environment
    service     = var.service
    managed-by  = "terraform"
  }
}

resource "google_service_account" "service" {
  account_id   = local.name
  display_name = "${var.service} in ${var.environment}"
}

# The pods read their own credential (alias `current`, mounted by the Secret Manager add-on), nothing else.
resource "google_secret_manager_secret_iam_member" "service_accessor" {
  secret_id = google_secret_manager_secret.credential.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service.email}"
}

# Workload Identity: the Kubernetes service account the pods run as acts as the Google one.
resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.service.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[${local.name}/${local.name}]"
}

# The pipelines: check logs in with the credential, apply writes the first one, rotate adds and moves.
resource "google_secret_manager_secret_iam_member" "build_accessor" {
  secret_id = google_secret_manager_secret.credential.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.build_service_account}"
}

resource "google_secret_manager_secret_iam_member" "build_version_adder" {
  secret_id = google_secret_manager_secret.credential.id
  role      = "roles/secretmanager.secretVersionAdder"
  member    = "serviceAccount:${var.build_service_account}"
}

resource "google_secret_manager_secret_iam_member" "build_rotator" {
  secret_id = google_secret_manager_secret.credential.id
  role      = var.rotator_role
  member    = "serviceAccount:${var.build_service_account}"
}

# IAM database authentication: the database user AlloyDB checks the pods' tokens against (pccdb apply
# grants it the service's privileges, as any login), permission to log in with a token, and to use the
# project's AlloyDB API as the caller the token names.
resource "google_alloydb_user" "iam" {
  count     = var.iam_auth ? 1 : 0
  cluster   = var.alloydb_cluster
  user_id   = trimsuffix(google_service_account.service.email, ".gserviceaccount.com")
  user_type = "ALLOYDB_IAM_USER"
}

resource "google_project_iam_member" "alloydb_database_user" {
  count   = var.iam_auth ? 1 : 0
  project = var.project
  role    = "roles/alloydb.databaseUser"
  member  = "serviceAccount:${google_service_account.service.email}"
}

resource "google_project_iam_member" "service_usage_consumer" {
  count   = var.iam_auth ? 1 : 0
  project = var.project
  role    = "roles/serviceusage.serviceUsageConsumer"
  member  = "serviceAccount:${google_service_account.service.email}"
}

output "service" {
  value = var.service
}

output "service_account_email" {
  value = google_service_account.service.email
}
