# Project, APIs and identities. Functions: functions.tf; schedules: scheduler.tf; secrets: secrets.tf.

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "this" {
  for_each = toset([
    "artifactregistry.googleapis.com", # images built from the function sources
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "drive.googleapis.com", # only used if the Drive service account lives in this project
    "iam.googleapis.com",
    "logging.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

locals {
  # Cloud Run's deterministic URL of each function (https://SERVICE-PROJECT_NUMBER.REGION.run.app).
  # Known before the function exists, so a function can be told its own URL (OAuth redirect,
  # OIDC audience) without a dependency cycle. Every function name here is short enough to get one.
  run_url = {
    for name in keys(local.functions) :
    name => "https://${name}-${data.google_project.this.number}.${var.region}.run.app"
  }
}

# --- Identities -----------------------------------------------------------------------------------

# What the functions run as: reads its secrets, nothing else (Supabase, Instagram, Drive and
# Gemini are reached with their own credentials).
resource "google_service_account" "runtime" {
  account_id   = "${var.name_prefix}-fn"
  display_name = "SocialLab functions (runtime)"
  depends_on   = [google_project_service.this]
}

# What Cloud Scheduler signs its OIDC tokens as; may invoke the scheduled functions, nothing else.
resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "SocialLab Cloud Scheduler invoker"
  depends_on   = [google_project_service.this]
}

# What Cloud Build builds the function images as (instead of the default compute account,
# which new projects no longer grant broad roles to).
resource "google_service_account" "build" {
  account_id   = "${var.name_prefix}-build"
  display_name = "SocialLab function builds"
  depends_on   = [google_project_service.this]
}

resource "google_project_iam_member" "build" {
  project = var.project_id
  role    = "roles/cloudbuild.builds.builder" # read sources, write logs and Artifact Registry images
  member  = "serviceAccount:${google_service_account.build.email}"
}
