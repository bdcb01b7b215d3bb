# The cluster's instances, read for their private addresses (outputs.tf), and the platform's admin login.

data "google_alloydb_instance" "primary" {
  cluster_id  = var.alloydb_cluster
  instance_id = var.alloydb_primary_instance
  location    = var.region
}

data "google_alloydb_instance" "read_pool" {
  cluster_id  = var.alloydb_cluster
  instance_id = var.alloydb_read_pool_instance
  location    = var.region
}

# pcc_admin (deploy/pcc.toml [admin]): LOGIN CREATEROLE CREATEDB through alloydbsuperuser, never a
# superuser. `pccdb apply` connects as it; everything below it (owners, groups, logins, flyway_user) is
# created by pccdb, not here.
resource "random_password" "pcc_admin" {
  length  = 40
  special = false
}

resource "google_alloydb_user" "pcc_admin" {
  cluster        = "projects/${var.project}/locations/${var.region}/clusters/${var.alloydb_cluster}"
  user_id        = "pcc_admin"
  user_type      = "ALLOYDB_BUILT_IN"
  password       = random_password.pcc_admin.result
  database_roles = ["alloydbsuperuser"]
}

# Its credential, in the JSON form pccdb reads ({"username","password"}), as the first version of the
# admin secret (secrets.tf).
resource "google_secret_manager_secret_version" "pcc_admin" {
  secret      = google_secret_manager_secret.platform["pcc-admin-${var.environment}-db"].id
  secret_data = jsonencode({
    username = google_alloydb_user.pcc_admin.user_id
    password = random_password.pcc_admin.result
  })
}
