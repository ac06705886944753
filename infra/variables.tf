# --- Google Cloud -------------------------------------------------------------------------------

variable "project_id" {
  description = "Google Cloud project that hosts the functions, scheduler jobs and secrets."
  type        = string
}

variable "region" {
  description = "Region of the functions and scheduler jobs (pick one close to the Supabase project)."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of service accounts, secrets and the source bucket (letters, digits, dashes)."
  type        = string
  default     = "sociallab"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,15}$", var.name_prefix))
    error_message = "name_prefix must be 3-16 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "python_runtime" {
  description = "Cloud Run functions Python runtime."
  type        = string
  default     = "python312"

  validation {
    condition     = contains(["python311", "python312", "python313"], var.python_runtime)
    error_message = "python_runtime must be python311, python312 or python313 (the project needs >= 3.11)."
  }
}

variable "labels" {
  description = "Extra labels put on every resource that supports labels."
  type        = map(string)
  default     = {}
}

# --- Application configuration (non-secret; names follow the project README, "Configuration") ----------

variable "supabase_url" {
  description = "SUPABASE_URL, e.g. https://<ref>.supabase.co (also the JWKS and JWT issuer base)."
  type        = string

  validation {
    condition     = can(regex("^https://", var.supabase_url))
    error_message = "supabase_url must start with https://."
  }
}

variable "storage_backend" {
  description = "STORAGE_BACKEND: supabase (production) or s3 (Supabase's S3-compatible endpoint)."
  type        = string
  default     = "supabase"

  validation {
    condition     = contains(["supabase", "s3"], var.storage_backend)
    error_message = "storage_backend must be supabase or s3 in the cloud (local is for make run)."
  }
}

variable "storage_bucket" {
  description = "STORAGE_BUCKET: the Supabase Storage bucket holding originals and composed images."
  type        = string
  default     = "media"
}

variable "public_base_url" {
  description = "PUBLIC_BASE_URL, if your deployment needs one (e.g. a custom domain in front of the functions). Empty = unset."
  type        = string
  default     = ""
}

variable "frontend_origins" {
  description = "FRONTEND_ORIGINS: the exact origins (scheme://host[:port], no path, no wildcard) of the studio and any other frontend; browsers on other origins are refused (CORS), and OAuth redirects may only go there."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for o in var.frontend_origins : can(regex("^https?://[^/*]+$", o))])
    error_message = "Each origin is scheme://host[:port], without a path or a wildcard."
  }
}

variable "supabase_anon_key" {
  description = "The Supabase project's anon (public) key, for the studio's config.json (output studio_config). Not a secret."
  type        = string
  default     = ""
}

variable "instagram_app_id" {
  description = "INSTAGRAM_APP_ID of the Meta app (Instagram API with Instagram Login)."
  type        = string
}

variable "instagram_redirect_uri" {
  description = "INSTAGRAM_REDIRECT_URI: the frontend page that receives code and state and calls POST /instagram-auth/complete with the user's token. Empty = <instagram-auth URL>/callback, which forwards code and state to the redirect_to page given at /start. Must be registered in the Meta app."
  type        = string
  default     = ""
}

variable "instagram_api_version" {
  description = "INSTAGRAM_API_VERSION (Graph API version pinned by the functions)."
  type        = string
  default     = "v25.0"
}

variable "gemini_model" {
  description = "GEMINI_MODEL used for captions."
  type        = string
  default     = "gemini-2.5-flash"
}

variable "publishing_enabled" {
  description = "Kill switch: PUBLISHING_ENABLED. false = publish-due claims nothing and nothing goes to Instagram."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "extra_env" {
  description = "More environment variables for every function (e.g. RATE_LIMIT_PER_MINUTE). Never put secrets here."
  type        = map(string)
  default     = {}
}

variable "secrets_rollout" {
  description = "Bump this (any new value) after adding secret versions: every function gets a new revision that reads the latest versions."
  type        = string
  default     = "1"
}

variable "disabled_secrets" {
  description = "Optional secrets not to create or mount: SUPABASE_JWT_SECRET (JWKS only), GEMINI_API_KEY (template captions only), GOOGLE_SERVICE_ACCOUNT_JSON (no Drive)."
  type        = set(string)
  default     = []

  validation {
    condition = alltrue([
      for s in var.disabled_secrets : contains(["SUPABASE_JWT_SECRET", "GEMINI_API_KEY", "GOOGLE_SERVICE_ACCOUNT_JSON"], s)
    ])
    error_message = "Only SUPABASE_JWT_SECRET, GEMINI_API_KEY and GOOGLE_SERVICE_ACCOUNT_JSON are optional."
  }
}

# --- Sizing overrides -----------------------------------------------------------------------------

variable "min_instances" {
  description = "min_instance_count per function name (default 0), e.g. { \"generate-content\" = 1 } to keep the webhook warm."
  type        = map(number)
  default     = {}
}

variable "max_instances" {
  description = "max_instance_count per function name, overriding the defaults in functions.tf. Mind the pooler's connection limit (README)."
  type        = map(number)
  default     = {}
}

# --- Cloud Scheduler ------------------------------------------------------------------------------

variable "scheduler_time_zone" {
  description = "Time zone of the cron schedules."
  type        = string
  default     = "Etc/UTC"
}

variable "scheduler_paused" {
  description = "Pause every scheduler job (maintenance). Publishing itself is stopped with publishing_enabled."
  type        = bool
  default     = false
}
