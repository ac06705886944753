-- name: prune
-- Rows that only ever served a short while, older than their retention, in one statement:
-- usage_counters windows (the longest is a Pacific day), webhook deliveries and scheduler ticks (kept
-- long enough that any retried delivery is still recognised), and OAuth states (kept a day after they
-- expire, so "already used" can still be told apart from "never issued" while anyone asks).
WITH clock AS (
    SELECT coalesce(%(now)s::timestamptz, now()) AS t
),
counters AS (
    DELETE FROM public.usage_counters c
    USING clock
    WHERE c.window_start < clock.t - make_interval(secs => %(counter_seconds)s::double precision)
    RETURNING 1
),
receipts AS (
    DELETE FROM public.webhook_receipts r
    USING clock
    WHERE r.received_at < clock.t - make_interval(secs => %(receipt_seconds)s::double precision)
    RETURNING 1
),
states AS (
    DELETE FROM public.oauth_states s
    USING clock
    WHERE s.expires_at < clock.t - make_interval(secs => %(state_seconds)s::double precision)
    RETURNING 1
)
SELECT (SELECT count(*) FROM counters) AS usage_counters,
       (SELECT count(*) FROM receipts) AS webhook_receipts,
       (SELECT count(*) FROM states) AS oauth_states;
