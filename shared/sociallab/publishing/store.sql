-- publish-due: claims, leases and every state write of the publishing protocol (DESIGN.md §4).
-- Used by sociallab.publishing.store. A status change carries its event's actor and detail in
-- `status_note`; the database writes the post_events row (migrations/012_post_transitions.sql).
--
-- Time: `%(now)s` is NULL in production (the database clock, one clock for every instance) and a
-- fixed instant in tests that move time instead of sleeping.
-- Leases: a run owns an account (instagram_accounts.publish_lease_*) and that account's one post in
-- flight (posts.lease_*). Every write after the claim is guarded by `lease_owner = %(run)s`, so a run
-- that lost its lease (it was too slow and another run reclaimed the post) writes nothing.

-- name: claim
-- Claims due posts, one per account, in one of two ways:
-- - %(account_id)s NULL: up to %(limit)s accounts that have a due post, are usable, not paused and
--   not held by a live run (locked with SKIP LOCKED, so concurrent runs divide them); each is leased
--   to this run (a pause that has run out ends here);
-- - %(account_id)s given: the next due post of that account, which this run already holds
--   (sequential within an account); its lease is extended, or released when nothing is due or the
--   account is no longer usable.
-- Each account's most urgent post (a crashed run's post first, then the oldest due) becomes
-- `publishing` with a lease and attempts + 1; the database records the event from status_note.
-- "Due" includes the next %(lookahead_seconds)s: a run takes the posts of its tick and publishes each at
-- its time (the lease covers the wait).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t,
           coalesce(%(now)s::timestamptz, now()) + make_interval(secs => %(lookahead_seconds)s::double precision)
               AS horizon
),
due AS (
    SELECT p.instagram_account_id AS account_id, min(coalesce(p.next_attempt_at, p.scheduled_at)) AS due_at
    FROM public.posts p, clock
    WHERE %(account_id)s::uuid IS NULL
      AND p.instagram_account_id IS NOT NULL
      AND ((p.status = 'scheduled' AND coalesce(p.next_attempt_at, p.scheduled_at) <= clock.horizon)
        OR (p.status = 'publishing' AND p.lease_expires_at <= clock.t))
    GROUP BY p.instagram_account_id
),
free_accounts AS (
    SELECT a.id
    FROM due
    JOIN public.instagram_accounts a ON a.id = due.account_id
    CROSS JOIN clock
    WHERE a.status IN ('active', 'rate_limited')
      AND (a.rate_limited_until IS NULL OR a.rate_limited_until <= clock.t)
      AND (a.publish_lease_expires_at IS NULL OR a.publish_lease_expires_at <= clock.t)
      AND NOT EXISTS (SELECT 1 FROM public.posts live
                      WHERE live.instagram_account_id = a.id
                        AND live.status = 'publishing' AND live.lease_expires_at > clock.t)
    ORDER BY due.due_at, a.id
    LIMIT %(limit)s::integer
    FOR NO KEY UPDATE OF a SKIP LOCKED
),
held_account AS (
    SELECT a.id
    FROM public.instagram_accounts a, clock
    WHERE a.id = %(account_id)s::uuid
      AND a.publish_lease_owner = %(run)s::text
      AND a.status = 'active'
      AND (a.rate_limited_until IS NULL OR a.rate_limited_until <= clock.t)
    FOR NO KEY UPDATE OF a
),
accounts AS (
    SELECT id FROM free_accounts
    UNION ALL
    SELECT id FROM held_account
),
picked AS (
    SELECT next_post.id, next_post.status AS from_status
    FROM accounts
    CROSS JOIN clock
    CROSS JOIN LATERAL (
        SELECT p.id, p.status
        FROM public.posts p
        WHERE p.instagram_account_id = accounts.id
          AND ((p.status = 'scheduled' AND coalesce(p.next_attempt_at, p.scheduled_at) <= clock.horizon)
            OR (p.status = 'publishing' AND p.lease_expires_at <= clock.t))
        ORDER BY (p.status = 'publishing') DESC, coalesce(p.next_attempt_at, p.scheduled_at), p.id
        LIMIT 1
        FOR NO KEY UPDATE SKIP LOCKED
    ) AS next_post
),
claimed AS (
    UPDATE public.posts p
    SET status = 'publishing',
        lease_owner = %(run)s::text,
        lease_expires_at = clock.t + make_interval(secs => %(lease_seconds)s::double precision),
        attempts = p.attempts + 1,
        status_note = jsonb_build_object(
            'actor', %(actor)s::text,
            'detail', jsonb_build_object('run', %(run)s::text, 'attempt', p.attempts + 1,
                                         'reclaimed', picked.from_status = 'publishing'))
    FROM picked, clock
    WHERE p.id = picked.id
    RETURNING p.*, picked.from_status
),
lease_changes AS (
    -- Every account with a claimed post is leased to this run; a held account without one is released.
    SELECT c.instagram_account_id AS account_id, true AS claimed FROM claimed c
    UNION ALL
    SELECT %(account_id)s::uuid, false
    WHERE %(account_id)s::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM claimed)
),
leased AS (
    UPDATE public.instagram_accounts a
    SET publish_lease_owner = CASE WHEN lc.claimed THEN %(run)s::text END,
        publish_lease_expires_at = CASE WHEN lc.claimed
                                        THEN clock.t + make_interval(secs => %(lease_seconds)s::double precision)
                                   END,
        -- A pause that has run out ends here.
        status = CASE WHEN lc.claimed AND a.status = 'rate_limited' THEN 'active' ELSE a.status END,
        rate_limited_until = CASE WHEN lc.claimed AND a.status = 'rate_limited' THEN NULL
                                  ELSE a.rate_limited_until END
    FROM lease_changes lc, clock
    WHERE a.id = lc.account_id AND (lc.claimed OR a.publish_lease_owner = %(run)s::text)
    RETURNING a.id, a.status, a.username, a.ig_user_id, a.token_ciphertext, a.token_key_id, a.token_expires_at
)
SELECT c.id, c.workspace_id, c.instagram_account_id, c.media_type, c.caption, c.alt_text, c.hashtags,
       c.first_comment, c.first_comment_id, c.attempts, c.max_attempts, c.container_id,
       c.container_created_at, c.child_container_ids, c.scheduled_at, c.from_status, c.transient_failures,
       coalesce(c.next_attempt_at, c.scheduled_at) AS due_at,
       l.status AS account_status, l.username, l.ig_user_id, l.token_ciphertext, l.token_key_id,
       l.token_expires_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('position', m.position, 'storage_path', m.storage_path,
                                                     'child_container_id', m.child_container_id)
                                  ORDER BY m.position)
                 FROM public.post_media m
                 WHERE m.post_id = c.id), '[]'::jsonb) AS media,
       -- What we published for the account in the last 24 h: the quota is read from Instagram only
       -- when this gets near it.
       (SELECT count(*)
        FROM public.posts q
        WHERE q.instagram_account_id = c.instagram_account_id
          AND q.status = 'published'
          AND q.published_at > clock.t - interval '24 hours') AS published_24h
FROM claimed c
JOIN leased l ON l.id = c.instagram_account_id
CROSS JOIN clock;

-- name: release_account
UPDATE public.instagram_accounts
SET publish_lease_owner = NULL, publish_lease_expires_at = NULL
WHERE id = %(account_id)s::uuid AND publish_lease_owner = %(run)s::text;

-- name: save_child_container
-- A carousel child exists at Instagram: remember it at once, so a retry reuses it.
UPDATE public.post_media m
SET child_container_id = %(child_id)s::text
WHERE m.post_id = %(post_id)s::uuid
  AND m.position = %(position)s::smallint
  AND EXISTS (SELECT 1 FROM public.posts p
              WHERE p.id = m.post_id AND p.status = 'publishing' AND p.lease_owner = %(run)s::text)
RETURNING m.post_id;

-- name: save_container
-- The container exists at Instagram: its id is written before anything else happens. Extends both
-- leases (the post's and its account's).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
saved AS (
    UPDATE public.posts p
    SET container_id = %(container_id)s::text,
        container_created_at = clock.t,
        child_container_ids = %(children)s::text[],
        lease_expires_at = clock.t + make_interval(secs => %(lease_seconds)s::double precision)
    FROM clock
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id, p.workspace_id, p.instagram_account_id
),
account AS (
    UPDATE public.instagram_accounts a
    SET publish_lease_expires_at = clock.t + make_interval(secs => %(lease_seconds)s::double precision)
    FROM saved, clock
    WHERE a.id = saved.instagram_account_id AND a.publish_lease_owner = %(run)s::text
),
events AS (
    INSERT INTO public.post_events (post_id, workspace_id, kind, actor, detail)
    SELECT id, workspace_id, 'container.created', %(actor)s::text,
           jsonb_build_object('container_id', %(container_id)s::text,
                              'children', cardinality(%(children)s::text[]), 'run', %(run)s::text)
    FROM saved
)
SELECT id FROM saved;

-- name: clear_container
-- The container expired at Instagram (24 h): forget it and its children; a new one is created.
WITH cleared AS (
    UPDATE public.posts p
    SET container_id = NULL, container_created_at = NULL, child_container_ids = '{}'
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id, p.workspace_id
),
children AS (
    UPDATE public.post_media m
    SET child_container_id = NULL
    FROM cleared
    WHERE m.post_id = cleared.id AND m.child_container_id IS NOT NULL
),
events AS (
    INSERT INTO public.post_events (post_id, workspace_id, kind, actor, detail)
    SELECT id, workspace_id, 'container.expired', %(actor)s::text,
           jsonb_build_object('container_id', %(container_id)s::text, 'run', %(run)s::text)
    FROM cleared
)
SELECT id FROM cleared;

-- name: confirm_lease
-- Right before the one step that cannot be undone (media_publish): is the post still ours? Extends
-- both leases so nobody can reclaim it while the publish call is in flight.
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
post AS (
    UPDATE public.posts p
    SET lease_expires_at = clock.t + make_interval(secs => %(lease_seconds)s::double precision)
    FROM clock
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id, p.instagram_account_id
),
account AS (
    UPDATE public.instagram_accounts a
    SET publish_lease_expires_at = clock.t + make_interval(secs => %(lease_seconds)s::double precision)
    FROM post, clock
    WHERE a.id = post.instagram_account_id AND a.publish_lease_owner = %(run)s::text
)
SELECT id FROM post;

-- name: mark_published
-- The media id is written the moment Instagram returned it (or it was recovered after a lost answer:
-- then found in the account's media list, or NULL until a later run's backfill finds it). A recovered
-- id that another post already holds is not taken (the post keeps NULL; the backfill looks again).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
media AS (
    SELECT CASE WHEN %(recovered)s::boolean
                     AND EXISTS (SELECT 1 FROM public.posts q
                                 WHERE q.ig_media_id = %(media_id)s::text AND q.id <> %(post_id)s::uuid)
                THEN NULL
                ELSE %(media_id)s::text
           END AS id
),
done AS (
    UPDATE public.posts p
    SET status = 'published',
        ig_media_id = media.id,
        permalink = CASE WHEN media.id IS NOT NULL THEN coalesce(%(permalink)s::text, p.permalink)
                         ELSE p.permalink END,
        published_at = clock.t,
        lease_owner = NULL,
        lease_expires_at = NULL,
        next_attempt_at = NULL,
        last_error = NULL,
        last_error_code = NULL,
        failure_reason = NULL,
        status_note = jsonb_build_object(
            'actor', %(actor)s::text,
            'detail', jsonb_strip_nulls(jsonb_build_object('media_id', media.id,
                                                           'container_id', %(container_id)s::text,
                                                           'media_lookup', %(lookup)s::text))
                      || jsonb_build_object('recovered', %(recovered)s::boolean, 'attempt', p.attempts,
                                            'run', %(run)s::text))
    FROM clock, media
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id, p.ig_media_id, p.permalink
)
SELECT id, ig_media_id, permalink FROM done;

-- name: pick_media_backfill
-- Published posts whose media id is still unknown (a lost publish answer; DESIGN.md §4), or (with
-- %(with_permalinks)s) whose permalink is (a run died, or the permalink read failed, right after the
-- publish was written), published within %(window_seconds)s and whose lookup is due: the n-th lookup waits
-- retry_base * 2^n (at most retry_cap) after the previous one. Stories are left out (Instagram does not
-- list them on /{ig_user_id}/media). Each picked post gets a `media.lookup` event stamped with the
-- clock (that is how the next run knows when it was last looked up); SKIP LOCKED keeps concurrent
-- runs from picking the same post. Returns what the lookup needs: the account's token row and the
-- media ids the account's posts already hold (never matched twice).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
picked AS (
    SELECT p.id, p.workspace_id, p.instagram_account_id, p.media_type, p.caption, p.hashtags,
           p.ig_media_id, p.container_id, p.container_created_at, p.published_at, p.first_comment, p.first_comment_id,
           looked.n, a.status AS account_status, a.ig_user_id, a.token_ciphertext, a.token_key_id,
           a.token_expires_at
    FROM public.posts p
    JOIN public.instagram_accounts a ON a.id = p.instagram_account_id
    CROSS JOIN clock
    CROSS JOIN LATERAL (
        SELECT count(*) AS n, max((e.detail ->> 'at')::timestamptz) AS last_at
        FROM public.post_events e
        WHERE e.post_id = p.id AND e.kind = 'media.lookup'
    ) AS looked
    WHERE p.status = 'published'
      AND ((p.ig_media_id IS NULL AND p.container_id IS NOT NULL)
           OR (%(with_permalinks)s::boolean AND p.ig_media_id IS NOT NULL AND p.permalink IS NULL))
      AND p.media_type <> 'STORY'
      AND p.published_at > clock.t - make_interval(secs => %(window_seconds)s::double precision)
      AND a.status = 'active' AND (a.rate_limited_until IS NULL OR a.rate_limited_until <= clock.t)
      AND (looked.last_at IS NULL
           OR looked.last_at <= clock.t - make_interval(secs => least(
                  %(retry_cap_seconds)s::double precision,
                  %(retry_base_seconds)s::double precision * power(2, least(looked.n, 30)))))
    ORDER BY p.published_at, p.id
    LIMIT %(limit)s::integer
    FOR NO KEY UPDATE OF p SKIP LOCKED
),
marked AS (
    INSERT INTO public.post_events (post_id, workspace_id, kind, actor, detail)
    SELECT picked.id, picked.workspace_id, 'media.lookup', %(actor)s::text,
           jsonb_build_object('at', clock.t, 'lookup', picked.n + 1, 'run', %(run)s::text)
    FROM picked, clock
)
SELECT picked.id, picked.workspace_id, picked.instagram_account_id, picked.media_type, picked.caption,
       picked.hashtags, picked.ig_media_id, picked.container_id, picked.container_created_at, picked.published_at,
       picked.first_comment, picked.first_comment_id, picked.account_status, picked.ig_user_id,
       picked.token_ciphertext, picked.token_key_id, picked.token_expires_at,
       array(SELECT q.ig_media_id FROM public.posts q
             WHERE q.instagram_account_id = picked.instagram_account_id AND q.status = 'published'
               AND q.ig_media_id IS NOT NULL
               AND q.published_at > clock.t - make_interval(secs => 2 * %(window_seconds)s::double precision))
           AS taken_media_ids
FROM picked
CROSS JOIN clock;

-- name: save_recovered_media
-- The backfill found the media of a published post: written only if the post still has none and no
-- other post holds that media (the media id is immutable once set, and unique).
WITH saved AS (
    UPDATE public.posts p
    SET ig_media_id = %(media_id)s::text,
        permalink = coalesce(%(permalink)s::text, p.permalink)
    WHERE p.id = %(post_id)s::uuid AND p.status = 'published' AND p.ig_media_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM public.posts q WHERE q.ig_media_id = %(media_id)s::text)
    RETURNING p.id, p.workspace_id
),
events AS (
    INSERT INTO public.post_events (post_id, workspace_id, kind, actor, detail)
    SELECT id, workspace_id, 'media.recovered', %(actor)s::text,
           jsonb_build_object('media_id', %(media_id)s::text, 'container_id', %(container_id)s::text,
                              'run', %(run)s::text)
    FROM saved
)
SELECT id FROM saved;

-- name: save_published_extras
-- After publishing: the permalink and the first comment's id (posted once: a post that has one is
-- never commented on again). Written only on the published post.
WITH saved AS (
    UPDATE public.posts p
    SET permalink = coalesce(%(permalink)s::text, p.permalink),
        first_comment_id = coalesce(p.first_comment_id, %(comment_id)s::text)
    WHERE p.id = %(post_id)s::uuid AND p.status = 'published'
    RETURNING p.id, p.workspace_id
),
events AS (
    INSERT INTO public.post_events (post_id, workspace_id, kind, actor, detail)
    SELECT id, workspace_id, 'published.details', %(actor)s::text, %(detail)s::jsonb
    FROM saved
)
SELECT id FROM saved;

-- name: release_for_retry
-- Back to `scheduled` with the next attempt at now + delay. A %(transient)s failure (an outage, not the
-- post) gives its attempt back and is counted in transient_failures instead.
WITH due AS (
    SELECT coalesce(%(now)s::timestamptz, now()) + make_interval(secs => %(delay_seconds)s::double precision) AS at
),
released AS (
    UPDATE public.posts p
    SET status = 'scheduled',
        next_attempt_at = due.at,
        attempts = CASE WHEN %(transient)s::boolean THEN greatest(p.attempts - 1, 0) ELSE p.attempts END,
        transient_failures = p.transient_failures + CASE WHEN %(transient)s::boolean THEN 1 ELSE 0 END,
        lease_owner = NULL,
        lease_expires_at = NULL,
        last_error = %(error)s::text,
        last_error_code = %(error_code)s::text,
        status_note = jsonb_build_object(
            'actor', %(actor)s::text,
            'detail', jsonb_build_object('reason', %(reason)s::text, 'error', %(error)s::text,
                                         'error_code', %(error_code)s::text, 'next_attempt_at', due.at,
                                         'attempts', p.attempts, 'transient', %(transient)s::boolean,
                                         'run', %(run)s::text))
    FROM due
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id, p.next_attempt_at
)
SELECT id, next_attempt_at FROM released;

-- name: release_for_quota
-- The account's 24 h publishing quota is used up: try again when the window frees, i.e. when the
-- oldest post we published inside the window leaves it (or after %(fallback_seconds)s when the
-- quota was used outside SocialLab). The attempt is given back.
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
frees AS (
    SELECT coalesce(
               (SELECT min(q.published_at) + make_interval(secs => %(window_seconds)s::double precision)
                FROM public.posts q, clock
                WHERE q.instagram_account_id = %(account_id)s::uuid
                  AND q.status = 'published'
                  AND q.published_at > clock.t - make_interval(secs => %(window_seconds)s::double precision)),
               clock.t + make_interval(secs => %(fallback_seconds)s::double precision)) AS at
    FROM clock
),
due AS (
    SELECT greatest(frees.at, clock.t + interval '1 minute') AS at
    FROM frees, clock
),
released AS (
    UPDATE public.posts p
    SET status = 'scheduled',
        next_attempt_at = due.at,
        attempts = greatest(p.attempts - 1, 0),
        lease_owner = NULL,
        lease_expires_at = NULL,
        last_error = %(error)s::text,
        last_error_code = %(error_code)s::text,
        status_note = jsonb_build_object(
            'actor', %(actor)s::text,
            'detail', jsonb_build_object('reason', 'publish_limit', 'error', %(error)s::text,
                                         'next_attempt_at', due.at, 'run', %(run)s::text))
    FROM due
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id, p.next_attempt_at
)
SELECT id, next_attempt_at FROM released;

-- name: fail
-- The post will not go out: `failed` with its reason. With %(notice)s, the workspace is told too (once per
-- post while unread).
WITH failed AS (
    UPDATE public.posts p
    SET status = 'failed',
        failure_reason = %(reason)s::text,
        last_error = %(error)s::text,
        last_error_code = %(error_code)s::text,
        next_attempt_at = NULL,
        lease_owner = NULL,
        lease_expires_at = NULL,
        status_note = jsonb_build_object(
            'actor', %(actor)s::text,
            'detail', jsonb_build_object('reason', %(reason)s::text, 'error', %(error)s::text,
                                         'error_code', %(error_code)s::text, 'attempts', p.attempts,
                                         'transient_failures', p.transient_failures, 'run', %(run)s::text))
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id, p.workspace_id
),
notice AS (
    INSERT INTO public.notifications (workspace_id, kind, severity, message, detail, dedupe_key)
    SELECT f.workspace_id, 'post.failed', 'error', %(notice)s::text,
           jsonb_build_object('post_id', f.id, 'reason', %(reason)s::text), 'post.failed:' || f.id
    FROM failed f
    WHERE %(notice)s::text IS NOT NULL
    ON CONFLICT (workspace_id, dedupe_key) WHERE read_at IS NULL DO NOTHING
)
SELECT id FROM failed;

-- name: pause_account
-- Instagram throttles the account: no calls for it until `rate_limited_until`; its post in flight
-- (if any) waits until then without losing an attempt. Other accounts are not affected.
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
paused AS (
    UPDATE public.instagram_accounts a
    SET status = 'rate_limited',
        rate_limited_until = greatest(coalesce(a.rate_limited_until, clock.t),
                                      clock.t + make_interval(secs => %(pause_seconds)s::double precision)),
        status_reason = %(error)s::text,
        usage_pct = coalesce(%(usage_pct)s::numeric, a.usage_pct),
        publish_lease_owner = NULL,
        publish_lease_expires_at = NULL
    FROM clock
    WHERE a.id = %(account_id)s::uuid AND a.status IN ('active', 'rate_limited')
    RETURNING a.id, a.rate_limited_until
),
due AS (
    SELECT coalesce((SELECT rate_limited_until FROM paused),
                    clock.t + make_interval(secs => %(pause_seconds)s::double precision)) AS at
    FROM clock
),
released AS (
    UPDATE public.posts p
    SET status = 'scheduled',
        next_attempt_at = due.at,
        attempts = greatest(p.attempts - 1, 0),
        lease_owner = NULL,
        lease_expires_at = NULL,
        last_error = %(error)s::text,
        last_error_code = %(error_code)s::text,
        status_note = jsonb_build_object(
            'actor', %(actor)s::text,
            'detail', jsonb_build_object('reason', 'rate_limited', 'error', %(error)s::text,
                                         'next_attempt_at', due.at, 'run', %(run)s::text))
    FROM due
    WHERE p.id = %(post_id)s::uuid AND p.status = 'publishing' AND p.lease_owner = %(run)s::text
    RETURNING p.id
)
SELECT (SELECT rate_limited_until FROM paused) AS rate_limited_until,
       (SELECT count(*) FROM released) AS released;
