output "function_urls" {
  description = "URL of every function (give the public ones to the frontend)."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.service_config[0].uri }
}

output "function_deterministic_urls" {
  description = "The deterministic run.app URL of every function: the OIDC audience and the base of the URLs below."
  value       = local.run_url
}

output "instagram_redirect_uri" {
  description = "Register this as a valid OAuth redirect URI in the Meta app."
  value       = local.common_env.INSTAGRAM_REDIRECT_URI
}

output "matches_webhook_url" {
  description = "Target of the Supabase database webhook on public.matches (INSERT, UPDATE)."
  value       = "${local.run_url["generate-content"]}/webhook"
}

output "drive_notifications_url" {
  description = "Address for Drive push notification channels."
  value       = "${local.run_url["drive-sync"]}/notifications"
}

output "service_accounts" {
  description = "Runtime, scheduler and build service accounts."
  value = {
    runtime   = google_service_account.runtime.email
    scheduler = google_service_account.scheduler.email
    build     = google_service_account.build.email
  }
}

output "secret_ids" {
  description = "Secret Manager secret per environment variable: add a version to each before the first full apply."
  value       = { for name, s in google_secret_manager_secret.this : name => s.secret_id }
}

output "studio_config" {
  description = "The studio's web/config.json: `terraform output -raw studio_config > ../web/config.json` before deploying web/."
  value = jsonencode({
    apiBase         = ""
    functionUrls    = { for name, fn in local.functions : name => local.run_url[name] if fn.public }
    supabaseUrl     = var.supabase_url
    supabaseAnonKey = var.supabase_anon_key
    devSignIn       = false
  })
}
