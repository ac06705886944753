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
-- A new delivery, or a stale one (recorded, never finished: the instance died) taken over again.
INSERT INTO public.webhook_receipts AS r (source, delivery_key, received_at)
VALUES (%(source)s::text, %(delivery_key)s::text, %(now)s::timestamptz)
ON CONFLICT (source, delivery_key) DO UPDATE SET received_at = EXCLUDED.received_at
WHERE r.processed_at IS NULL AND r.received_at < %(now)s::timestamptz - make_interval(secs => %(stale_seconds)s::int)
RETURNING r.delivery_key;

-- name: finish_delivery
UPDATE public.webhook_receipts
SET processed_at = %(now)s::timestamptz, result = %(result)s::jsonb
WHERE source = %(source)s::text AND delivery_key = %(delivery_key)s::text;
