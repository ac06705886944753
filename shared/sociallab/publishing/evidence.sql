-- name: old_container
-- A failed post's media container and its account's token, when it has one.
SELECT p.id, p.workspace_id, p.instagram_account_id, p.container_id, a.status AS account_status, a.username,
       a.token_ciphertext, a.token_key_id, a.token_expires_at
FROM public.posts p
JOIN public.instagram_accounts a ON a.id = p.instagram_account_id AND a.workspace_id = p.workspace_id
WHERE p.id = %(post_id)s::uuid AND p.workspace_id = %(workspace_id)s::uuid
  AND p.status = 'failed' AND p.container_id IS NOT NULL;

-- name: record_published
-- The container went out: the post is published, identified by its container until publish-due's media
-- backfill finds the media it became (within a day of `published_at`). Only if nothing changed meanwhile.
UPDATE public.posts p
SET status = 'published',
    published_at = now(),
    failure_reason = NULL,
    next_attempt_at = NULL,
    status_note = jsonb_build_object(
        'actor', %(actor)s::text,
        'detail', jsonb_build_object('evidence', 'container_published', 'container_id', p.container_id,
                                     'previous_failure', p.failure_reason))
WHERE p.id = %(post_id)s::uuid AND p.workspace_id = %(workspace_id)s::uuid
  AND p.status = 'failed' AND p.container_id = %(container_id)s::text
RETURNING p.id;
