-- name: hit
-- Count one call in the current fixed window; returns the count so far and the seconds left.
WITH win AS (
    SELECT to_timestamp(floor(extract(epoch FROM now()) / %(window_seconds)s::int) * %(window_seconds)s::int) AS start
)
INSERT INTO usage_counters AS c (scope, key, window_start, count)
SELECT %(scope)s::text, %(key)s::text, win.start, 1 FROM win
ON CONFLICT (scope, key, window_start) DO UPDATE SET count = c.count + 1
RETURNING c.count,
          ceil(extract(epoch FROM (c.window_start + make_interval(secs => %(window_seconds)s::int) - now())))::int
              AS seconds_left;
