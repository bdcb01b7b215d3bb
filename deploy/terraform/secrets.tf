# The platform's secrets. pccdb writes their versions (apply: first credentials; rotate: new ones) and moves
# the alias `current`; Terraform only creates them, so it never holds a service's password.
#   pcc-admin-<env>-db     pcc_admin (its first version is written by alloydb.tf)
#   flyway-user-<env>-db   flyway_user, the migrations' login
# Each service's own secret (<service>-<env>-db) is created with its service account (modules/service).

locals {
  platform_secrets = toset([
    "pcc-admin-${var.environment}-db",
    "flyway-user-${var.environment}-db",
  ])
}

resource "google_secret_manager_secret" "platform" {
  for_each  = local.platform_secrets
  secret_id = each.value

  replication {
    auto {}
  }

  labels = {
    environment = var.environment
    managed-by  = "terraform"
  }
}
