# One module per service of deploy/pcc.toml deployed to a cloud environment (a test checks the list against
# the manifest). Each gets its secret, its Google service account, access to that secret alone, and
# Workload Identity for its pods' Kubernetes service account.

module "pcc_client_api" {
  source = "./modules/service"

  service               = "pcc-client-api"
  environment           = var.environment
  project               = var.project
  build_service_account = var.build_service_account
  rotator_role          = google_project_iam_custom_role.pcc_secret_rotator.id
}
