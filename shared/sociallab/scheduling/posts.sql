-- Queries of the posts API (sociallab.scheduling.posts and .states). Every query names the
-- workspace: functions connect as a privileged role, so the SQL is what keeps tenants apart.

-- name: workspace_context
-- The workspace's rules and the actor's role in it (NULL when the actor is not a member or is a system).
SELECT w.id, w.timezone, w.require_approval, w.default_post_time,
       (SELECT m.role FROM workspace_members m
        WHERE m.workspace_id = w.id AND m.user_id = %(user_id)s::uuid) AS actor_role
FROM workspaces w
WHERE w.id = %(workspace_id)s::uuid;

-- name: account_in_workspace
SELECT id, status, status_reason, username
FROM instagram_accounts
WHERE id = %(account_id)s::uuid AND workspace_id = %(workspace_id)s::uuid;

-- name: assets_in_workspace
-- What a photo posted as it is publishes: its rendition to Instagram's specification, or (imported before
-- renditions existed) its normalised JPEG.
SELECT id, status, coalesce(rendition_path, normalized_path) AS publish_path,
       coalesce(rendition_width, width) AS publish_width, coalesce(rendition_height, height) AS publish_height
FROM media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND id = ANY(%(asset_ids)s::uuid[]);

-- name: insert_post
-- The post and its images in one statement (the database records its first event from
-- status_note). A repeated dedupe_key inserts nothing and returns no row (the caller raises
-- DuplicatePostError).
WITH p AS (
    INSERT INTO posts (workspace_id, instagram_account_id, match_id, template_id, content_type,
                       dedupe_key, media_type, status, caption, caption_source, alt_text,
                       first_comment, hashtags, scheduled_at, approved_by, approved_at, created_by,
                       status_note)
    VALUES (%(workspace_id)s::uuid, %(instagram_account_id)s::uuid, %(match_id)s::uuid,
            %(template_id)s::uuid, %(content_type)s::text, %(dedupe_key)s::text,
            %(media_type)s::text, %(status)s::text, %(caption)s::text, %(caption_source)s::text,
            %(alt_text)s::text, %(first_comment)s::text, %(hashtags)s::text[],
            %(scheduled_at)s::timestamptz, %(approved_by)s::uuid, %(approved_at)s::timestamptz,
            %(actor_user_id)s::uuid,
            jsonb_build_object('actor', %(actor)s::text, 'detail', %(event_detail)s::jsonb))
    ON CONFLICT ON CONSTRAINT posts_workspace_dedupe_key DO NOTHING
    RETURNING *
), media AS (
    INSERT INTO post_media (post_id, workspace_id, position, asset_id, storage_path, width, height)
    SELECT p.id, p.workspace_id, (i.ord - 1)::smallint, i.asset_id, i.storage_path, i.width, i.height
    FROM p, unnest(%(image_asset_ids)s::uuid[], %(image_paths)s::text[], %(image_widths)s::int[],
                   %(image_heights)s::int[]) WITH ORDINALITY AS i (asset_id, storage_path, width, height, ord)
)
SELECT * FROM p;

-- name: post_by_dedupe_key
SELECT id FROM posts WHERE workspace_id = %(workspace_id)s::uuid AND dedupe_key = %(dedupe_key)s::text;

-- name: post_for_member
-- A post and the caller's role in its workspace; no row when either is missing (-> 404).
SELECT p.*, m.role AS actor_role
FROM posts p
JOIN workspace_members m ON m.workspace_id = p.workspace_id AND m.user_id = %(user_id)s::uuid
WHERE p.id = %(post_id)s::uuid;

-- name: lock_post
SELECT * FROM posts
WHERE id = %(post_id)s::uuid AND workspace_id = %(workspace_id)s::uuid
FOR UPDATE;

-- name: images_of_posts
SELECT post_id, position, asset_id, storage_path, width, height
FROM post_media
WHERE workspace_id = %(workspace_id)s::uuid AND post_id = ANY(%(post_ids)s::uuid[])
ORDER BY post_id, position;

-- name: events_of_post
SELECT id, kind, from_status, to_status, actor, detail, created_at
FROM post_events
WHERE workspace_id = %(workspace_id)s::uuid AND post_id = %(post_id)s::uuid
ORDER BY created_at, id;

-- name: list_posts
-- Newest first; keyset pagination on (created_at, id). Optional filters are NULL when unused;
-- from/to bound scheduled_at (from inclusive, to exclusive).
SELECT * FROM posts
WHERE workspace_id = %(workspace_id)s::uuid
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(account_id)s::uuid IS NULL OR instagram_account_id = %(account_id)s::uuid)
  AND (%(from)s::timestamptz IS NULL OR scheduled_at >= %(from)s::timestamptz)
  AND (%(to)s::timestamptz IS NULL OR scheduled_at < %(to)s::timestamptz)
  AND (%(after_created_at)s::timestamptz IS NULL
       OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s::int;

-- name: update_post_content
-- PATCH, on a row the caller locked with lock_post and whose status it checked.
UPDATE posts
SET instagram_account_id = %(instagram_account_id)s::uuid,
    caption = %(caption)s::text,
    hashtags = %(hashtags)s::text[],
    alt_text = %(alt_text)s::text,
    first_comment = %(first_comment)s::text,
    caption_source = %(caption_source)s::text,
    scheduled_at = %(scheduled_at)s::timestamptz,
    next_attempt_at = CASE WHEN %(rescheduled)s::boolean THEN NULL ELSE next_attempt_at END,
    container_id = CASE WHEN %(content_changed)s::boolean THEN NULL ELSE container_id END,
    container_created_at = CASE WHEN %(content_changed)s::boolean THEN NULL ELSE container_created_at END,
    child_container_ids = CASE WHEN %(content_changed)s::boolean THEN '{}' ELSE child_container_ids END,
    approved_by = CASE WHEN %(approval_changed)s::boolean THEN %(approver)s::uuid ELSE approved_by END,
    approved_at = CASE WHEN NOT %(approval_changed)s::boolean THEN approved_at
                       WHEN %(approver)s::uuid IS NOT NULL THEN now() END
WHERE id = %(post_id)s::uuid AND workspace_id = %(workspace_id)s::uuid
RETURNING *;

-- name: delete_post_media
DELETE FROM post_media WHERE post_id = %(post_id)s::uuid AND workspace_id = %(workspace_id)s::uuid;

-- name: insert_post_media
INSERT INTO post_media (post_id, workspace_id, position, asset_id, storage_path, width, height)
SELECT %(post_id)s::uuid, %(workspace_id)s::uuid, (i.ord - 1)::smallint, i.asset_id, i.storage_path, i.width, i.height
FROM unnest(%(image_asset_ids)s::uuid[], %(image_paths)s::text[], %(image_widths)s::int[],
            %(image_heights)s::int[]) WITH ORDINALITY AS i (asset_id, storage_path, width, height, ord);

-- name: insert_event
INSERT INTO post_events (post_id, workspace_id, kind, from_status, to_status, detail, actor)
VALUES (%(post_id)s::uuid, %(workspace_id)s::uuid, %(kind)s::text, %(from_status)s::text,
        %(to_status)s::text, %(detail)s::jsonb, %(actor)s::text);

-- name: transition
-- Move one post along the state machine, only from one of the allowed statuses (the database
-- records the event from status_note). The row lock taken by `old` makes two racing transitions
-- serialise: the second one re-reads the status and finds it no longer allowed (no row: 409).
-- The set_... and reset_attempts flags choose which columns the transition writes.
WITH old AS (
    SELECT id, status FROM posts
    WHERE id = %(post_id)s::uuid AND workspace_id = %(workspace_id)s::uuid
    FOR UPDATE
), changed AS (
    UPDATE posts p
    SET status = %(to_status)s::text,
        scheduled_at = CASE WHEN %(set_scheduled_at)s::boolean THEN %(scheduled_at)s::timestamptz
                            ELSE p.scheduled_at END,
        next_attempt_at = CASE WHEN %(set_scheduled_at)s::boolean THEN NULL ELSE p.next_attempt_at END,
        approved_by = CASE WHEN %(set_approved)s::boolean THEN %(actor_user_id)s::uuid ELSE p.approved_by END,
        approved_at = CASE WHEN %(set_approved)s::boolean THEN now() ELSE p.approved_at END,
        attempts = CASE WHEN %(reset_attempts)s::boolean THEN 0 ELSE p.attempts END,
        transient_failures = CASE WHEN %(reset_attempts)s::boolean THEN 0 ELSE p.transient_failures END,
        last_error = CASE WHEN %(reset_attempts)s::boolean THEN NULL ELSE p.last_error END,
        last_error_code = CASE WHEN %(reset_attempts)s::boolean THEN NULL ELSE p.last_error_code END,
        failure_reason = CASE WHEN %(reset_attempts)s::boolean THEN NULL ELSE p.failure_reason END,
        lease_owner = CASE WHEN %(reset_attempts)s::boolean THEN NULL ELSE p.lease_owner END,
        lease_expires_at = CASE WHEN %(reset_attempts)s::boolean THEN NULL ELSE p.lease_expires_at END,
        status_note = jsonb_build_object('kind', %(kind)s::text, 'actor', %(actor)s::text,
                                         'detail', %(detail)s::jsonb)
    FROM old
    WHERE p.id = old.id AND old.status = ANY(%(allowed)s::text[])
    RETURNING p.*, old.status AS from_status
)
SELECT * FROM changed;
