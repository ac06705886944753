-- Queries of sociallab.content.generate.

-- name: workspace
SELECT id, name, timezone, primary_color, secondary_color, accent_color, logo_asset_id, font,
       caption_language, caption_tone, default_hashtags, default_post_time
FROM public.workspaces
WHERE id = %(workspace_id)s::uuid;

-- name: match
SELECT id, workspace_id, team, opponent, kickoff_at, venue, competition, is_home, home_score, away_score,
       status, player_stats, data
FROM public.matches
WHERE id = %(match_id)s::uuid AND workspace_id = %(workspace_id)s::uuid;

-- name: match_by_id
-- For the webhook: the row is the source of truth, the payload only names it.
SELECT id, workspace_id, status, kickoff_at
FROM public.matches
WHERE id = %(match_id)s::uuid;

-- name: only_active_account
-- The workspace's Instagram account when it has exactly one usable one.
SELECT (array_agg(id ORDER BY id))[1] AS id
FROM public.instagram_accounts
WHERE workspace_id = %(workspace_id)s::uuid AND status = 'active'
HAVING count(*) = 1;

-- name: logo_asset
SELECT id, mime_type, original_path, normalized_path, width, height
FROM public.media_assets
WHERE id = %(asset_id)s::uuid AND workspace_id = %(workspace_id)s::uuid AND status = 'ready';

-- name: dedupe_taken
SELECT id FROM public.posts WHERE workspace_id = %(workspace_id)s::uuid AND dedupe_key = %(dedupe_key)s::text;

-- name: record_delivery
-- A new delivery with its work, leased to the attempt that answers it; or one recorded before whose
-- lease ran out unfinished (the instance died), taken over again. Nothing when it is done or held.
-- (Receipts from before migration 017 have no lease: their received_at + lease_seconds stands in.)
INSERT INTO public.webhook_receipts AS r
    (source, delivery_key, received_at, work, attempts, lease_id, lease_expires_at)
VALUES (%(source)s::text, %(delivery_key)s::text, %(now)s::timestamptz, %(work)s::jsonb, 1, %(lease_id)s::uuid,
        %(now)s::timestamptz + make_interval(secs => %(lease_seconds)s::int))
ON CONFLICT (source, delivery_key) DO UPDATE
SET work = EXCLUDED.work, attempts = r.attempts + 1, lease_id = EXCLUDED.lease_id,
    lease_expires_at = EXCLUDED.lease_expires_at
WHERE r.processed_at IS NULL
  AND coalesce(r.lease_expires_at, r.received_at + make_interval(secs => %(lease_seconds)s::int)) < %(now)s::timestamptz
RETURNING r.delivery_key;

-- name: claim_unfinished_delivery
-- The oldest delivery whose work was recorded but not finished and whose lease ran out, leased to a
-- new attempt. SKIP LOCKED: two pickups never take the same one; a lease another attempt renewed in
-- the meantime is seen (the row is re-checked after its lock) and skipped. In a CTE, so the locking
-- SELECT runs once (as a join's inner side it could be re-run and lock another row).
WITH due AS (
    SELECT source, delivery_key FROM public.webhook_receipts
    WHERE source = %(source)s::text AND processed_at IS NULL AND work IS NOT NULL
      AND lease_expires_at < %(now)s::timestamptz
    ORDER BY lease_expires_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE public.webhook_receipts r
SET attempts = r.attempts + 1, lease_id = %(lease_id)s::uuid,
    lease_expires_at = %(now)s::timestamptz + make_interval(secs => %(lease_seconds)s::int)
FROM due
WHERE r.source = due.source AND r.delivery_key = due.delivery_key
RETURNING r.delivery_key, r.work, r.attempts;

-- name: finish_delivery
-- Only the attempt holding the lease records the result; a late one (its lease was taken over) does not.
UPDATE public.webhook_receipts
SET processed_at = %(now)s::timestamptz, result = %(result)s::jsonb
WHERE source = %(source)s::text AND delivery_key = %(delivery_key)s::text
  AND lease_id = %(lease_id)s::uuid AND processed_at IS NULL
RETURNING delivery_key;
