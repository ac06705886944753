# Secret Manager holds the secrets; Terraform creates the containers only. Values are added out of
# band (`gcloud secrets versions add`, see README), so they never land in Terraform state.

locals {
  all_secrets = [
    "DATABASE_URL", # Supabase transaction pooler, port 6543
    "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_JWT_SECRET", # legacy HS256; omit (disabled_secrets) when only JWKS is used
    "INSTAGRAM_APP_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_JSON", # Drive reader
    "GEMINI_API_KEY",
    "TOKEN_ENCRYPTION_KEY",
    "URL_SIGNING_KEY",
    "WEBHOOK_SECRET",
  ]
  secrets = toset([for s in local.all_secrets : s if !contains(var.disabled_secrets, s)])
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  secret_id = "${var.name_prefix}-${lower(replace(each.key, "_", "-"))}" # e.g. sociallab-database-url
  labels    = { env_var = lower(each.key) }

  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each = google_secret_manager_secret.this

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}
