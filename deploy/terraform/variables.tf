variable "project" {
  description = "The environment's project: AlloyDB, Secret Manager, GKE and the service accounts."
  type        = string
}

variable "region" {
  description = "Region of the AlloyDB cluster and the Artifact Registry repository."
  type        = string
}

variable "environment" {
  description = "The manifest's environment name (deploy/pcc.toml [environments.<name>]), e.g. devtest."
  type        = string
}

variable "alloydb_cluster" {
  description = "The AlloyDB cluster id (pcc-alloydb-cluster-<environment>)."
  type        = string
}

variable "alloydb_primary_instance" {
  description = "The cluster's primary instance id."
  type        = string
}

variable "alloydb_read_pool_instance" {
  description = "The cluster's read pool instance id (the manifest's replica)."
  type        = string
}

variable "build_service_account" {
  description = "Email of the service account Cloud Build runs the pipelines as (deploy/ci)."
  type        = string
}

variable "iam_auth_services" {
  description = "Services that log in to AlloyDB as IAM users in this environment (deploy/pcc.toml auth = \"iam\")."
  type        = list(string)
  default     = []
}
