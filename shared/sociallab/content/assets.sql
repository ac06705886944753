-- Photos (media_assets): intake, dedupe, listing, deletion. Every query names its workspace.

-- name: workspace_timezone
SELECT timezone FROM public.workspaces WHERE id = %(workspace_id)s::uuid;

-- name: match_exists
SELECT 1 FROM public.matches WHERE id = %(match_id)s::uuid AND workspace_id = %(workspace_id)s::uuid;

-- name: lock_md5
-- Serialises intake of the same bytes in one workspace, so two concurrent uploads make one asset.
SELECT pg_advisory_xact_lock(hashtextextended(%(workspace_id)s::text || ':' || %(md5)s::text, 4242));

-- name: ready_by_md5
-- The current asset with these bytes (a superseded Drive version is kept for its posts only).
SELECT * FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND md5 = %(md5)s::text AND status = 'ready' AND superseded_at IS NULL
ORDER BY created_at
LIMIT 1;

-- name: lock_drive_file
-- Serialises imports of one Drive file in one workspace (one current version at a time).
SELECT pg_advisory_xact_lock(hashtextextended(%(workspace_id)s::text || ':' || %(drive_file_id)s::text, 4243));

-- name: supersede_current_version
-- A Drive file changed: its current version steps aside (kept, unchanged, for the posts that use it).
UPDATE public.media_assets
SET superseded_at = now()
WHERE workspace_id = %(workspace_id)s::uuid AND drive_file_id = %(drive_file_id)s::text
  AND status = 'ready' AND superseded_at IS NULL
RETURNING id, tags, match_id, taken_at;

-- name: delete_failure_record
-- The file imported after all: its failure record is settled.
DELETE FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND drive_file_id = %(drive_file_id)s::text AND status = 'failed';

-- name: merge_tags
-- A duplicate upload adds its tags and, if the photo has none yet, its match.
UPDATE public.media_assets
SET tags = ARRAY(SELECT DISTINCT t FROM unnest(tags || %(tags)s::text[]) AS t ORDER BY t),
    match_id = coalesce(match_id, %(match_id)s::uuid)
WHERE id = %(id)s::uuid AND workspace_id = %(workspace_id)s::uuid
RETURNING *;

-- name: insert_ready
-- Always a new row with its own storage paths: a ready asset's content never changes.
INSERT INTO public.media_assets (
    id, workspace_id, source, drive_source_id, drive_file_id, original_filename, md5, mime_type, bytes,
    original_path, normalized_path, rendition_path, rendition_width, rendition_height, width, height, taken_at,
    tags, match_id, status, error, uploaded_by
) VALUES (
    %(id)s::uuid, %(workspace_id)s::uuid, %(source)s::text, %(drive_source_id)s::uuid, %(drive_file_id)s::text,
    %(original_filename)s::text, %(md5)s::text, %(mime_type)s::text, %(bytes)s::bigint,
    %(original_path)s::text, %(normalized_path)s::text, %(rendition_path)s::text, %(rendition_width)s::integer,
    %(rendition_height)s::integer, %(width)s::integer, %(height)s::integer,
    %(taken_at)s::timestamptz, %(tags)s::text[], %(match_id)s::uuid, 'ready', NULL, %(uploaded_by)s::uuid
)
RETURNING *;

-- name: record_failure
-- A Drive file that could not be imported: kept as a `failed` row beside the file's current ready
-- version (if any), so it is not retried until its content changes. Transient failures are
-- retried by the sync up to a bound (see sociallab.drive.sync); new content starts the count again.
-- `count_attempt` is false when the attempt was already counted (by its "import started" record).
INSERT INTO public.media_assets AS a (
    workspace_id, source, drive_source_id, drive_file_id, original_filename, md5, mime_type, bytes,
    status, error, error_transient, import_attempts
) VALUES (
    %(workspace_id)s::uuid, 'drive', %(drive_source_id)s::uuid, %(drive_file_id)s::text,
    %(original_filename)s::text, %(md5)s::text, %(mime_type)s::text, %(bytes)s::bigint,
    'failed', %(error)s::text, %(transient)s::boolean, 1
)
ON CONFLICT (workspace_id, drive_file_id, status) WHERE superseded_at IS NULL DO UPDATE
SET drive_source_id = EXCLUDED.drive_source_id,
    original_filename = coalesce(EXCLUDED.original_filename, a.original_filename),
    import_attempts = CASE WHEN EXCLUDED.md5 IS DISTINCT FROM a.md5 THEN 1
                           WHEN %(count_attempt)s::boolean THEN a.import_attempts + 1
                           ELSE a.import_attempts END,
    md5 = EXCLUDED.md5,
    mime_type = coalesce(EXCLUDED.mime_type, a.mime_type),
    bytes = coalesce(EXCLUDED.bytes, a.bytes),
    error = EXCLUDED.error,
    error_transient = EXCLUDED.error_transient
RETURNING *;

-- name: list_ready
SELECT * FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid
  AND status = 'ready'
  AND superseded_at IS NULL
  AND (%(match_id)s::uuid IS NULL OR match_id = %(match_id)s::uuid)
  AND (%(after_created)s::timestamptz IS NULL
       OR (created_at, id) < (%(after_created)s::timestamptz, %(after_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s::integer;

-- name: get_ready_many
SELECT * FROM public.media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND id = ANY(%(ids)s::uuid[]) AND status = 'ready';

-- name: for_match
-- Photos for a match: linked to it, or taken on its local match day; linked ones first.
SELECT a.* FROM public.media_assets a
WHERE a.workspace_id = %(workspace_id)s::uuid
  AND a.status = 'ready'
  AND a.superseded_at IS NULL
  AND (a.match_id = %(match_id)s::uuid
       OR (a.match_id IS NULL
           AND a.taken_at >= %(day_start)s::timestamptz AND a.taken_at < %(day_end)s::timestamptz))
ORDER BY (a.match_id IS NOT DISTINCT FROM %(match_id)s::uuid) DESC, a.taken_at NULLS LAST, a.created_at, a.id
LIMIT %(limit)s::integer;

-- name: lock_for_delete
-- The asset with the caller's role in its workspace (no row: not found or not a member).
SELECT a.id, a.workspace_id, a.original_path, a.normalized_path, a.rendition_path, m.role
FROM public.media_assets a
JOIN public.workspace_members m ON m.workspace_id = a.workspace_id AND m.user_id = %(user_id)s::uuid
WHERE a.id = %(id)s::uuid
FOR UPDATE OF a;

-- name: in_use_by_scheduled_post
SELECT p.id, p.status FROM public.post_media pm
JOIN public.posts p ON p.id = pm.post_id AND p.workspace_id = pm.workspace_id
WHERE pm.asset_id = %(id)s::uuid AND pm.workspace_id = %(workspace_id)s::uuid
  AND p.status IN ('scheduled', 'publishing')
LIMIT 1;

-- name: used_by_a_post
-- Any post (draft to published) whose image is this photo's file: the files must stay.
SELECT EXISTS (
    SELECT 1 FROM public.post_media pm
    WHERE pm.asset_id = %(id)s::uuid AND pm.workspace_id = %(workspace_id)s::uuid
) AS used;

-- name: delete_asset
DELETE FROM public.media_assets WHERE id = %(id)s::uuid AND workspace_id = %(workspace_id)s::uuid;

-- name: lock_unused_superseded
-- Old Drive versions that nothing uses any more (no post, not the logo); rows another
-- transaction is just referencing (its foreign key check holds a lock) are left for next time.
SELECT a.id FROM public.media_assets a
WHERE a.workspace_id = %(workspace_id)s::uuid AND a.superseded_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM public.post_media pm WHERE pm.asset_id = a.id AND pm.workspace_id = a.workspace_id)
  AND NOT EXISTS (SELECT 1 FROM public.workspaces w WHERE w.id = a.workspace_id AND w.logo_asset_id = a.id)
ORDER BY a.superseded_at
LIMIT %(limit)s::integer
FOR UPDATE OF a SKIP LOCKED;

-- name: delete_unused_superseded
-- Checked again in this statement: it sees every reference committed while we waited for the locks.
DELETE FROM public.media_assets a
WHERE a.workspace_id = %(workspace_id)s::uuid AND a.id = ANY(%(ids)s::uuid[]) AND a.superseded_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM public.post_media pm WHERE pm.asset_id = a.id AND pm.workspace_id = a.workspace_id)
  AND NOT EXISTS (SELECT 1 FROM public.workspaces w WHERE w.id = a.workspace_id AND w.logo_asset_id = a.id)
RETURNING a.original_path, a.normalized_path, a.rendition_path;
