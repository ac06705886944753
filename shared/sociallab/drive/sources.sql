-- Connected Drive folders (drive_sources) and the proof that a workspace controls its folder.

-- name: source_in_workspace
SELECT * FROM public.drive_sources
WHERE workspace_id = %(workspace_id)s::uuid AND folder_id = %(folder_id)s::text;

-- name: insert_source
-- A pending source; its random `verification_name` comes from the column's default.
INSERT INTO public.drive_sources (workspace_id, folder_id, status, channel_token, created_by)
VALUES (%(workspace_id)s::uuid, %(folder_id)s::text, 'pending', %(channel_token)s::text, %(created_by)s::uuid)
ON CONFLICT ON CONSTRAINT drive_sources_workspace_folder_key DO NOTHING
RETURNING *;

-- name: source_with_role
-- The source with the caller's role in its workspace (no row: not found or not a member).
SELECT s.*, m.role FROM public.drive_sources s
JOIN public.workspace_members m ON m.workspace_id = s.workspace_id AND m.user_id = %(user_id)s::uuid
WHERE s.id = %(source_id)s::uuid;

-- name: mark_verified
-- The proof was found: the source is active from now on (a source already verified is left as it is).
UPDATE public.drive_sources
SET status = 'active', verified_at = now(), folder_name = %(folder_name)s::text, drive_id = %(drive_id)s::text,
    last_error = NULL
WHERE id = %(source_id)s::uuid AND verified_at IS NULL
RETURNING *;

-- name: source_by_id
SELECT * FROM public.drive_sources WHERE id = %(source_id)s::uuid;

-- name: source_by_channel
SELECT id, channel_token FROM public.drive_sources WHERE channel_id = %(channel_id)s::text;
