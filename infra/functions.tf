# One Cloud Run function (gen2) per capability. Sources come from infra/dist/<name>.zip, built by
# infra/package.sh: functions/<name>/ + the sociallab wheel + a generated requirements.txt.

locals {
  # One entry per folder of functions/ (tests/unit/test_infra.py checks both ways).
  # public: allUsers may invoke (the function authenticates callers itself: user JWT, webhook
  # secret, signed OAuth state, Drive channel token, OIDC). Not public: only the scheduler's
  # service account may invoke; Cloud Run checks its OIDC token before the code runs.
  # db_pool: DB_POOL_MAX_SIZE; max_instances x db_pool summed over all functions is the worst-case
  # number of pooler connections (see README).
  # secrets: the Secret Manager secrets mounted as environment variables: those the code the
  # function loads reads (tests/unit/test_infra.py derives the list from the code and compares).
  functions = {
    "instagram-auth" = {
      public  = true, memory = "512Mi", concurrency = 40, max_instances = 3, timeout = 60, db_pool = 2
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "INSTAGRAM_APP_SECRET", "TOKEN_ENCRYPTION_KEY"]
    }
    "refresh-tokens" = {
      public  = false, memory = "512Mi", concurrency = 1, max_instances = 1, timeout = 540, db_pool = 2
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "INSTAGRAM_APP_SECRET", "TOKEN_ENCRYPTION_KEY"]
    }
    "drive-sync" = {
      public  = true, memory = "1Gi", concurrency = 4, max_instances = 3, timeout = 540, db_pool = 3
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "URL_SIGNING_KEY", "GOOGLE_SERVICE_ACCOUNT_JSON"]
    }
    "assets" = {
      public  = true, memory = "2Gi", concurrency = 4, max_instances = 10, timeout = 120, db_pool = 3
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "URL_SIGNING_KEY"]
    }
    "generate-content" = {
      public  = true, memory = "1Gi", concurrency = 4, max_instances = 10, timeout = 120, db_pool = 3
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "URL_SIGNING_KEY", "GEMINI_API_KEY"]
    }
    "posts" = {
      public  = true, memory = "512Mi", concurrency = 40, max_instances = 10, timeout = 60, db_pool = 5
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "URL_SIGNING_KEY", "INSTAGRAM_APP_SECRET", "TOKEN_ENCRYPTION_KEY"]
    }
    "insights-sync" = {
      public  = false, memory = "512Mi", concurrency = 1, max_instances = 2, timeout = 540, db_pool = 4
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "INSTAGRAM_APP_SECRET", "TOKEN_ENCRYPTION_KEY"]
    }
    "insights" = {
      public  = true, memory = "512Mi", concurrency = 40, max_instances = 5, timeout = 60, db_pool = 3
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "URL_SIGNING_KEY"]
    }
    "publish-due" = {
      public  = false, memory = "512Mi", concurrency = 1, max_instances = 3, timeout = 540, db_pool = 5
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "URL_SIGNING_KEY", "INSTAGRAM_APP_SECRET", "TOKEN_ENCRYPTION_KEY"]
    }
    "housekeeping" = {
      public  = false, memory = "512Mi", concurrency = 1, max_instances = 1, timeout = 300, db_pool = 1
      secrets = ["DATABASE_URL", "SUPABASE_JWT_SECRET", "WEBHOOK_SECRET"]
    }
  }

  source_zip = { for name in keys(local.functions) : name => "${path.module}/dist/${name}.zip" }

  common_env = {
    SUPABASE_URL           = var.supabase_url
    STORAGE_BACKEND        = var.storage_backend
    STORAGE_BUCKET         = var.storage_bucket
    PUBLIC_BASE_URL        = var.public_base_url
    FRONTEND_ORIGINS       = join(",", var.frontend_origins)
    INSTAGRAM_APP_ID       = var.instagram_app_id
    INSTAGRAM_REDIRECT_URI = var.instagram_redirect_uri != "" ? var.instagram_redirect_uri : "${local.run_url["instagram-auth"]}/callback"
    INSTAGRAM_API_VERSION  = var.instagram_api_version
    GEMINI_MODEL           = var.gemini_model
    PUBLISHING_ENABLED     = tostring(var.publishing_enabled)
    LOG_LEVEL              = var.log_level
    SECRETS_ROLLOUT        = var.secrets_rollout
    LOG_EXECUTION_ID       = "true"         # the platform adds it anyway; declaring it avoids a permanent plan diff
    GOOGLE_CLOUD_PROJECT   = var.project_id # the trace field of log lines; not set by current runtimes
  }

  # Per function: common values, its pool size and, for scheduled functions, what the scheduler's
  # OIDC token must carry. Empty values are dropped (unset rather than "").
  env = {
    for name, fn in local.functions : name => {
      for k, v in merge(local.common_env, {
        DB_POOL_MAX_SIZE          = tostring(fn.db_pool)
        SCHEDULER_AUDIENCE        = contains(keys(local.schedules), name) ? local.run_url[name] : ""
        SCHEDULER_SERVICE_ACCOUNT = contains(keys(local.schedules), name) ? google_service_account.scheduler.email : ""
        # Private functions: Cloud Run has verified the token (signature, audience, invoker role)
        # and strips its signature before the request reaches the code. See README, "Scheduler auth".
        SCHEDULER_PLATFORM_VERIFIED = contains(keys(local.schedules), name) && !fn.public ? "true" : ""
      }, var.extra_env) : k => v if v != ""
    }
  }
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-${var.name_prefix}-fn-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds only build inputs; every object is reproducible

  depends_on = [google_project_service.this]
}

resource "google_storage_bucket_object" "source" {
  for_each = local.functions

  bucket = google_storage_bucket.source.name
  # Content-addressed name: a new zip is a new object, which is what makes the function rebuild.
  name   = "${each.key}/${filemd5(local.source_zip[each.key])}.zip"
  source = local.source_zip[each.key]
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  name        = each.key
  location    = var.region
  description = "SocialLab ${each.key}"
  labels      = { function = each.key }

  build_config {
    runtime         = var.python_runtime
    entry_point     = replace(each.key, "-", "_") # publish-due -> publish_due in functions/publish-due/main.py
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    available_memory                 = each.value.memory
    available_cpu                    = "1" # required for concurrency > 1; one event loop per instance
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = lookup(var.min_instances, each.key, 0)
    max_instance_count               = lookup(var.max_instances, each.key, each.value.max_instances)
    timeout_seconds                  = each.value.timeout
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    environment_variables            = local.env[each.key]

    dynamic "secret_environment_variables" {
      for_each = [for s in each.value.secrets : s if contains(local.secrets, s)] # minus disabled_secrets
      content {
        key        = secret_environment_variables.value
        project_id = data.google_project.this.number # the API reports the number; an ID would diff forever
        secret     = google_secret_manager_secret.this[secret_environment_variables.value].secret_id
        version    = "latest" # read when an instance starts; bump secrets_rollout to roll
      }
    }
  }

  depends_on = [
    google_project_iam_member.build,
    google_secret_manager_secret_iam_member.runtime,
  ]
}

# --- Who may invoke -------------------------------------------------------------------------------
# A gen2 function is a Cloud Run service: invocation is roles/run.invoker on that service.

resource "google_cloud_run_service_iam_member" "public" {
  for_each = { for name, fn in local.functions : name => fn if fn.public }

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name # the function's Cloud Run service has its name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "scheduler" {
  for_each = local.schedules

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name # the function's Cloud Run service has its name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}
