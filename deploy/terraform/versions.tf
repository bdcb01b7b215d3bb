# What the platform needs on GCP beyond the AlloyDB cluster itself (which exists already: its instances are
# read below, not managed here): the admin login, the Secret Manager secrets pccdb writes and the services
# read, the pipelines' and the services' service accounts with exactly the access the plan gives them, and
# Workload Identity between each service's Kubernetes and Google service accounts.
#
#   terraform init -backend-config="bucket=<project>-pcc-tfstate"
#   terraform apply -var-file=environments/devtest.tfvars
#   terraform output -json > environments/devtest.outputs.json   # read by deploy/pcc.toml (never copy IPs)

terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.36"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  backend "gcs" {
    prefix = "pcc-platform"
  }
}

provider "google" {
  project = var.project
  region  = var.region
}
