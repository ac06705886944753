# Cloud Scheduler stands in for cron: POST {} with a Google OIDC token signed as the scheduler's
# service account, audience = the function's URL (the same value as its SCHEDULER_AUDIENCE); a job
# in `schedule_paths` calls that route below the URL (the audience stays the URL).
# Overlapping runs are safe by design (row claims with SKIP LOCKED, leases), so ticks never wait.

locals {
  # A job calls its function's URL, or this route below it (the function serves other callers too).
  schedule_paths = { "generate-content" = "/webhook/pickup" }

  schedules = {
    "publish-due" = {
      cron        = "* * * * *"
      deadline    = "540s" # = function timeout: the attempt's outcome is the run's real outcome
      retries     = 0      # the next tick, a minute later, is the retry
      description = "Claim due posts and publish them to Instagram"
    }
    "drive-sync" = {
      cron        = "*/15 * * * *"
      deadline    = "540s"
      retries     = 0
      description = "Import new photos from every connected Drive folder"
    }
    "generate-content" = {
      cron        = "*/5 * * * *"
      deadline    = "120s" # = function timeout
      retries     = 0      # the next tick is the retry
      description = "Finish match-webhook deliveries whose work did not finish (instance throttled or gone)"
    }
    "insights-sync" = {
      cron        = "7 * * * *"
      deadline    = "540s"
      retries     = 0 # the next hour is the retry; values keep settling for 48 h anyway
      description = "Pull account and media insights"
    }
    "refresh-tokens" = {
      cron        = "17 3 * * *"
      deadline    = "540s"
      retries     = 3 # once a day only: worth retrying a failed run
      description = "Refresh long-lived Instagram tokens"
    }
    "housekeeping" = {
      cron        = "41 4 * * *"
      deadline    = "300s"
      retries     = 3
      description = "Delete expired rate-limit counters, webhook receipts and OAuth states"
    }
  }
}

resource "google_cloud_scheduler_job" "job" {
  for_each = local.schedules

  name             = "${var.name_prefix}-${each.key}"
  description      = each.value.description
  region           = var.region
  schedule         = each.value.cron
  time_zone        = var.scheduler_time_zone
  attempt_deadline = each.value.deadline
  paused           = var.scheduler_paused

  retry_config {
    retry_count          = each.value.retries
    min_backoff_duration = "30s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = "${local.run_url[each.key]}${lookup(local.schedule_paths, each.key, "")}"
    body        = base64encode("{}")
    headers     = { "Content-Type" = "application/json" }

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.run_url[each.key]
    }
  }

  depends_on = [
    google_cloudfunctions2_function.fn,
    google_cloud_run_service_iam_member.scheduler,
  ]
}
