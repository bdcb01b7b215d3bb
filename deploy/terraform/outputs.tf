# Read by deploy/pcc.toml (`terraform_output`) from `terraform output -json`, so no address is copied by hand.

output "alloydb_primary_ip" {
  description = "Private IP of the primary instance (the manifest's primary)."
  value       = data.google_alloydb_instance.primary.ip_address
}

output "alloydb_read_pool_ip" {
  description = "Private IP of the read pool instance (the manifest's replica, Read Pool=true)."
  value       = data.google_alloydb_instance.read_pool.ip_address
}

output "service_accounts" {
  description = "Google service account of each service (the Workload Identity annotation pccdb renders)."
  value       = {
    (module.pcc_client_api.service) = module.pcc_client_api.service_account_email
  }
}
