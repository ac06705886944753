terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }

  # Remote state; configured at init time (see README):
  #   terraform init -backend-config="bucket=<state-bucket>" -backend-config="prefix=sociallab/prod"
  backend "gcs" {}
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = merge({ app = "sociallab" }, var.labels)
}
