-- Drive sources and their sync. Every query names its workspace or source.

-- name: insert_source
INSERT INTO public.drive_sources (workspace_id, folder_id, folder_name, drive_id, channel_token, created_by)
VALUES (%(workspace_id)s::uuid, %(folder_id)s::text, %(folder_name)s::text, %(drive_id)s::text,
        %(channel_token)s::text, %(created_by)s::uuid)
RETURNING *;

-- name: source_with_role
-- The source with the caller's role in its workspace (no row: not found or not a member).
SELECT s.*, m.role FROM public.drive_sources s
JOIN public.workspace_members m ON m.workspace_id = s.workspace_id AND m.user_id = %(user_id)s::uuid
WHERE s.id = %(source_id)s::uuid;

-- name: active_source_ids
SELECT id FROM public.drive_sources WHERE status = 'active' ORDER BY last_synced_at NULLS FIRST, id;

-- name: source_by_channel
SELECT id, channel_token FROM public.drive_sources WHERE channel_id = %(channel_id)s::text;

-- name: claim_source
-- Take the source for one sync, unless another sync holds it.
UPDATE public.drive_sources
SET sync_lease_until = now() + make_interval(secs => %(lease_seconds)s::integer)
WHERE id = %(source_id)s::uuid
  AND status <> 'paused'
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
SELECT id, status, md5, error_transient, import_attempts FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND drive_file_id = %(drive_file_id)s::text;

-- name: ready_md5_exists
SELECT 1 FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND md5 = %(md5)s::text AND status = 'ready'
LIMIT 1;

-- name: transient_failures
SELECT drive_file_id FROM public.media_assets
WHERE drive_source_id = %(source_id)s::uuid AND workspace_id = %(workspace_id)s::uuid
  AND status = 'failed' AND error_transient AND import_attempts < %(max_attempts)s::integer
ORDER BY updated_at
LIMIT 50;
