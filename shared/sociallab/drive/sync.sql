-- Syncing verified Drive sources. Every query names its workspace or source.

-- name: active_source_ids
SELECT id FROM public.drive_sources WHERE status = 'active' ORDER BY last_synced_at NULLS FIRST, id;

-- name: claim_source
-- Take the source for one sync, unless another sync holds it. Only verified sources sync.
UPDATE public.drive_sources
SET sync_lease_until = now() + make_interval(secs => %(lease_seconds)s::integer)
WHERE id = %(source_id)s::uuid
  AND verified_at IS NOT NULL
  AND status IN ('active', 'error')
  AND (sync_lease_until IS NULL OR sync_lease_until < now())
RETURNING *;

-- name: save_page_token
UPDATE public.drive_sources SET changes_page_token = %(page_token)s::text WHERE id = %(source_id)s::uuid;

-- name: finish_sync
UPDATE public.drive_sources
SET sync_lease_until = NULL,
    last_synced_at = CASE WHEN %(ok)s::boolean THEN now() ELSE last_synced_at END,
    status = %(status)s::text,
    last_error = %(last_error)s::text
WHERE id = %(source_id)s::uuid;

-- name: file_state
-- The Drive file's current ready version and its failure record (each at most one).
SELECT id, status, md5, error_transient, import_attempts FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND drive_file_id = %(drive_file_id)s::text
  AND superseded_at IS NULL;

-- name: ready_md5_exists
SELECT 1 FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND md5 = %(md5)s::text AND status = 'ready' AND superseded_at IS NULL
LIMIT 1;

-- name: transient_failures
SELECT drive_file_id FROM public.media_assets
WHERE drive_source_id = %(source_id)s::uuid AND workspace_id = %(workspace_id)s::uuid
  AND status = 'failed' AND error_transient AND import_attempts < %(max_attempts)s::integer
ORDER BY updated_at
LIMIT 50;
