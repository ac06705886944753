-- name: has_history
SELECT EXISTS (SELECT 1 FROM account_insights WHERE instagram_account_id = %(account_id)s::uuid);

-- name: audience
INSERT INTO audience_online_hours (workspace_id, instagram_account_id, weekday, hour, followers_online)
SELECT %(workspace_id)s::uuid, %(account_id)s::uuid, h.weekday, h.hour, h.followers_online
FROM jsonb_to_recordset(%(rows)s::jsonb) AS h(weekday smallint, hour smallint, followers_online numeric)
ON CONFLICT (instagram_account_id, weekday, hour) DO NOTHING;

-- name: days
INSERT INTO account_insights (workspace_id, instagram_account_id, metric, period, day, value)
SELECT %(workspace_id)s::uuid, %(account_id)s::uuid, d.metric, 'day', d.day, d.value
FROM jsonb_to_recordset(%(rows)s::jsonb) AS d(metric text, day date, value numeric)
ON CONFLICT (instagram_account_id, metric, period, day) DO NOTHING;

-- name: photo
SELECT id, normalized_path, width, height FROM media_assets
WHERE workspace_id = %(workspace_id)s::uuid AND status = 'ready' AND normalized_path IS NOT NULL
ORDER BY created_at, id
LIMIT 1;

-- name: post
-- A post published before `make run` existed (no event trail beyond its creation).
INSERT INTO posts (workspace_id, instagram_account_id, template_id, content_type, media_type, status, caption,
                   scheduled_at, published_at, attempts, ig_media_id, dedupe_key, created_at)
VALUES (%(workspace_id)s::uuid, %(account_id)s::uuid, %(template_id)s::uuid, 'match_result', 'IMAGE', 'published',
        %(caption)s::text, %(at)s::timestamptz, %(at)s::timestamptz, 1, %(ig_media_id)s::text, %(dedupe_key)s::text,
        %(at)s::timestamptz - interval '1 day')
ON CONFLICT (workspace_id, dedupe_key) DO NOTHING
RETURNING id;

-- name: post_media
INSERT INTO post_media (post_id, workspace_id, position, asset_id, storage_path, width, height)
VALUES (%(post_id)s::uuid, %(workspace_id)s::uuid, 0, %(asset_id)s::uuid, %(path)s::text, %(width)s::int,
        %(height)s::int);

-- name: media_insights
INSERT INTO media_insights (workspace_id, instagram_account_id, ig_media_id, post_id, media_type, posted_at, reach,
                            likes, comments, saved, shares, total_interactions, views)
VALUES (%(workspace_id)s::uuid, %(account_id)s::uuid, %(ig_media_id)s::text, %(post_id)s::uuid, 'IMAGE',
        %(at)s::timestamptz, %(reach)s::bigint, %(likes)s::bigint, %(comments)s::bigint, %(saved)s::bigint,
        %(shares)s::bigint, %(total)s::bigint, %(views)s::bigint)
ON CONFLICT (instagram_account_id, ig_media_id) DO NOTHING;
