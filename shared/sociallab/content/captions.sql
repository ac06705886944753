-- name: cache_get
-- A live cache row for this key, counting the hit.
UPDATE caption_cache
SET hits = hits + 1, last_hit_at = %(now)s::timestamptz
WHERE key = %(key)s::text
  AND model = %(model)s::text
  AND (expires_at IS NULL OR expires_at > %(now)s::timestamptz)
RETURNING response;

-- name: cache_put
INSERT INTO caption_cache (key, model, response, expires_at, created_at)
VALUES (%(key)s::text, %(model)s::text, %(response)s::jsonb, %(expires_at)s::timestamptz, %(now)s::timestamptz)
ON CONFLICT (key) DO UPDATE
SET model = EXCLUDED.model, response = EXCLUDED.response, expires_at = EXCLUDED.expires_at,
    created_at = EXCLUDED.created_at;

-- name: take_budget
-- Reserve one Gemini call in today's window of counter %(key)s ('calls' for the project, 'workspace:<id>' for
-- one workspace). Google resets daily quotas at midnight Pacific time. Returns no row when the budget is used
-- up: the count never goes past it.
WITH win AS (
    SELECT (date_trunc('day', %(now)s::timestamptz AT TIME ZONE 'America/Los_Angeles')
            AT TIME ZONE 'America/Los_Angeles') AS start
)
INSERT INTO usage_counters AS c (scope, key, window_start, count)
SELECT 'gemini', %(key)s::text, win.start, 1 FROM win
WHERE %(budget)s::int >= 1
ON CONFLICT (scope, key, window_start) DO UPDATE SET count = c.count + 1
WHERE c.count < %(budget)s::int
RETURNING c.count;

-- name: notify_workspace_budget_used
-- Once per workspace and Pacific day, while unread.
INSERT INTO notifications (workspace_id, kind, severity, message, detail, dedupe_key)
VALUES (%(workspace_id)s::uuid, 'captions.budget_used', 'warning',
        'Today''s AI caption allowance for this workspace is used up: new posts get the template''s caption '
        || 'until midnight Pacific time. You can still edit every caption.',
        jsonb_build_object('budget', %(budget)s::int, 'day', %(day)s::text),
        'captions.budget_used:' || %(day)s::text)
ON CONFLICT (workspace_id, dedupe_key) WHERE read_at IS NULL DO NOTHING;
