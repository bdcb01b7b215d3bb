# One module per service of deploy/pcc.toml deployed to a cloud environment (a test checks the list against
# the manifest). Each gets its secret, its Google service account, access to that secret alone, and
# Workload Identity for its pods' Kubernetes service account; where the environment's manifest says the
# service logs in with IAM (var.iam_auth_services), also its IAM database user and the roles to log in.

module "pcc_client_api" {
  source = "./modules/service"

  service               = "pcc-client-api"
  environment           = var.environment
  project               = var.project
  build_service_account = var.build_service_account
  rotator_role          = google_project_iam_custom_role.pcc_secret_rotator.id
  iam_auth              = contains(var.iam_auth_services, "pcc-client-api")
  alloydb_cluster       = "projects/${var.project}/locations/${var.region}/clusters/${var.alloydb_cluster}"
}
