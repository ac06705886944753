-- insights-sync: claims, and one write per account (sociallab.insights_sync.store).
--
-- Time: `%(now)s` is NULL in production (the database clock) and a fixed instant in tests.
-- Leases: a run owns the accounts it syncs (instagram_accounts.insights_lease_*), so overlapping runs
-- divide the accounts between them; the write is guarded by `insights_lease_owner = %(run)s`. Giving an
-- account back clears the expiry but leaves the run's name, so a run never claims an account twice.

-- name: skipped
-- The accounts this run leaves alone and why (counted in the run's result).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
)
SELECT count(*) FILTER (WHERE a.status = 'reauth_required') AS reauth,
       count(*) FILTER (WHERE a.status IN ('active', 'rate_limited')
                          AND (a.rate_limited_until > clock.t OR a.insights_paused_until > clock.t)) AS paused
FROM public.instagram_accounts a, clock;

-- name: claim
-- Up to %(limit)s usable accounts not synced for %(min_interval_seconds)s, oldest sync first, not paused
-- (by a throttle: rate_limited_until; by their usage: insights_paused_until) and not held by a live run;
-- each is leased to this run. With each: what the run must not read again (media whose snapshot was taken
-- after their first 48 h: frozen) and the stories it must read while they live (24 h).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
picked AS (
    SELECT a.id
    FROM public.instagram_accounts a, clock
    WHERE a.status IN ('active', 'rate_limited')
      AND a.token_ciphertext IS NOT NULL
      AND (a.rate_limited_until IS NULL OR a.rate_limited_until <= clock.t)
      AND (a.insights_paused_until IS NULL OR a.insights_paused_until <= clock.t)
      AND (a.insights_lease_expires_at IS NULL OR a.insights_lease_expires_at <= clock.t)
      AND a.insights_lease_owner IS DISTINCT FROM %(run)s::text
      AND (a.last_insights_synced_at IS NULL
           OR a.last_insights_synced_at
              <= clock.t - make_interval(secs => %(min_interval_seconds)s::double precision))
    ORDER BY a.last_insights_synced_at NULLS FIRST, a.id
    LIMIT %(limit)s::integer
    FOR NO KEY UPDATE OF a SKIP LOCKED
),
leased AS (
    UPDATE public.instagram_accounts a
    SET insights_lease_owner = %(run)s::text,
        insights_lease_expires_at = clock.t + make_interval(secs => %(lease_seconds)s::double precision)
    FROM picked, clock
    WHERE a.id = picked.id
    RETURNING a.id, a.workspace_id, a.ig_user_id, a.status, a.status_reason, a.token_ciphertext, a.token_key_id,
              a.token_expires_at, a.last_insights_synced_at, a.audience_synced_at
)
SELECT l.*,
       coalesce((SELECT jsonb_agg(f.ig_media_id)
                 FROM (SELECT m.ig_media_id
                       FROM public.media_insights m
                       WHERE m.instagram_account_id = l.id
                         AND m.fetched_at >= m.posted_at + interval '48 hours'
                       ORDER BY m.posted_at DESC
                       LIMIT %(frozen_limit)s::integer) AS f), '[]'::jsonb) AS frozen_media,
       coalesce((SELECT jsonb_agg(jsonb_build_object('id', p.ig_media_id, 'published_at', p.published_at))
                 FROM public.posts p
                 WHERE p.instagram_account_id = l.id
                   AND p.status = 'published'
                   AND p.media_type = 'STORY'
                   AND p.ig_media_id IS NOT NULL
                   AND p.published_at > clock.t - interval '24 hours'), '[]'::jsonb) AS live_stories
FROM leased l, clock;

-- name: save
-- Everything one account's sync read, in one statement, and the account given back:
-- - %(media)s: [{ig_media_id, media_type, posted_at, reach, likes, ...}] -> media_insights (the latest
--   snapshot; a metric Instagram did not return is NULL); post_id links our own posts;
-- - %(days)s: [{metric, day, value}] -> account_insights (period 'day', the UTC day);
-- - %(audience)s: [{weekday, hour, followers_online, samples}] or NULL -> audience_online_hours, replacing
--   the account's profile when not empty (an empty answer keeps the last profile);
-- - the account: last_insights_synced_at (%(synced)s), audience_synced_at (%(audience_read)s), usage,
--   a pause of insights only (%(insights_pause_seconds)s: near the usage limit) or of the account
--   (%(throttle_seconds)s: Instagram throttled it, as publish-due's pause), and the lease released.
-- Nothing is written when the lease is no longer this run's.
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
account AS (
    SELECT a.id, a.workspace_id
    FROM public.instagram_accounts a
    WHERE a.id = %(account_id)s::uuid
      AND a.insights_lease_owner = %(run)s::text
      AND a.insights_lease_expires_at IS NOT NULL
),
media_in AS (
    SELECT *
    FROM jsonb_to_recordset(%(media)s::jsonb) AS m(ig_media_id text, media_type text, posted_at timestamptz,
                                                    reach bigint, likes bigint, comments bigint, saved bigint,
                                                    shares bigint, total_interactions bigint, views bigint)
),
media_saved AS (
    INSERT INTO public.media_insights AS mi
        (workspace_id, instagram_account_id, ig_media_id, post_id, media_type, posted_at, reach, likes, comments,
         saved, shares, total_interactions, views, fetched_at)
    SELECT account.workspace_id, account.id, m.ig_media_id,
           (SELECT p.id FROM public.posts p
            WHERE p.ig_media_id = m.ig_media_id AND p.workspace_id = account.workspace_id),
           m.media_type, m.posted_at, m.reach, m.likes, m.comments, m.saved, m.shares, m.total_interactions,
           m.views, clock.t
    FROM media_in m, account, clock
    ON CONFLICT (instagram_account_id, ig_media_id) DO UPDATE
    SET post_id = coalesce(EXCLUDED.post_id, mi.post_id),
        media_type = EXCLUDED.media_type,
        posted_at = coalesce(EXCLUDED.posted_at, mi.posted_at),
        reach = EXCLUDED.reach,
        likes = EXCLUDED.likes,
        comments = EXCLUDED.comments,
        saved = EXCLUDED.saved,
        shares = EXCLUDED.shares,
        total_interactions = EXCLUDED.total_interactions,
        views = EXCLUDED.views,
        fetched_at = EXCLUDED.fetched_at
    RETURNING 1
),
days_saved AS (
    INSERT INTO public.account_insights AS ai (workspace_id, instagram_account_id, metric, period, day, value)
    SELECT account.workspace_id, account.id, d.metric, 'day', d.day, d.value
    FROM jsonb_to_recordset(%(days)s::jsonb) AS d(metric text, day date, value numeric), account
    ON CONFLICT (instagram_account_id, metric, period, day) DO UPDATE
    SET value = EXCLUDED.value
    WHERE ai.value IS DISTINCT FROM EXCLUDED.value
    RETURNING 1
),
audience_in AS (
    SELECT *
    FROM jsonb_to_recordset(coalesce(%(audience)s::jsonb, '[]'::jsonb))
         AS h(weekday smallint, hour smallint, followers_online numeric, samples integer)
),
audience_dropped AS (
    -- Hours the new profile no longer has (disjoint from the rows audience_saved writes).
    DELETE FROM public.audience_online_hours old
    USING account
    WHERE old.instagram_account_id = account.id
      AND EXISTS (SELECT 1 FROM audience_in)
      AND NOT EXISTS (SELECT 1 FROM audience_in h WHERE h.weekday = old.weekday AND h.hour = old.hour)
    RETURNING 1
),
audience_saved AS (
    INSERT INTO public.audience_online_hours AS ao
        (workspace_id, instagram_account_id, weekday, hour, followers_online, samples)
    SELECT account.workspace_id, account.id, h.weekday, h.hour, h.followers_online, h.samples
    FROM audience_in h, account
    ON CONFLICT (instagram_account_id, weekday, hour) DO UPDATE
    SET followers_online = EXCLUDED.followers_online, samples = EXCLUDED.samples
    WHERE (ao.followers_online, ao.samples) IS DISTINCT FROM (EXCLUDED.followers_online, EXCLUDED.samples)
    RETURNING 1
),
released AS (
    UPDATE public.instagram_accounts a
    SET insights_lease_expires_at = NULL,
        last_insights_synced_at = CASE WHEN %(synced)s::boolean THEN clock.t ELSE a.last_insights_synced_at END,
        audience_synced_at = CASE WHEN %(audience_read)s::boolean THEN clock.t ELSE a.audience_synced_at END,
        usage_pct = coalesce(%(usage_pct)s::numeric, a.usage_pct),
        insights_paused_until = CASE
            WHEN %(insights_pause_seconds)s::double precision IS NULL THEN a.insights_paused_until
            ELSE clock.t + make_interval(secs => %(insights_pause_seconds)s::double precision) END,
        status = CASE WHEN %(throttle_seconds)s::double precision IS NOT NULL AND a.status = 'active'
                      THEN 'rate_limited' ELSE a.status END,
        rate_limited_until = CASE
            WHEN %(throttle_seconds)s::double precision IS NULL OR a.status NOT IN ('active', 'rate_limited')
                THEN a.rate_limited_until
            ELSE greatest(coalesce(a.rate_limited_until, clock.t),
                          clock.t + make_interval(secs => %(throttle_seconds)s::double precision)) END,
        status_reason = CASE WHEN %(throttle_seconds)s::double precision IS NOT NULL AND a.status = 'active'
                             THEN %(reason)s::text ELSE a.status_reason END
    FROM account, clock
    WHERE a.id = account.id
    RETURNING a.id
)
SELECT (SELECT count(*) FROM media_saved) AS media,
       (SELECT count(*) FROM days_saved) AS days,
       (SELECT count(*) FROM audience_saved) AS audience_hours,
       (SELECT count(*) FROM audience_dropped) AS audience_dropped,
       (SELECT count(*) FROM released) AS released;

-- name: release
-- Give the account back without writing anything else (its token is dead: mark_reauth_required ran).
UPDATE public.instagram_accounts
SET insights_lease_expires_at = NULL
WHERE id = %(account_id)s::uuid AND insights_lease_owner = %(run)s::text;
