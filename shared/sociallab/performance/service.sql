-- name: account_for_member
-- The account, if the user is a member (any role) of its workspace.
SELECT a.id, a.workspace_id, a.username, a.followers_count
FROM instagram_accounts a
JOIN workspace_members m ON m.workspace_id = a.workspace_id AND m.user_id = %(user_id)s::uuid
WHERE a.id = %(account_id)s::uuid;

-- name: account_in_workspace
SELECT a.id FROM instagram_accounts a
WHERE a.id = %(account_id)s::uuid AND a.workspace_id = %(workspace_id)s::uuid;

-- name: daily
-- One row per UTC day from `first` to `last`, the metrics of the days Instagram reported.
SELECT d.day::date AS day, v.followers, v.new_followers, v.reach, v.views, v.accounts_engaged,
       v.total_interactions
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d(day)
LEFT JOIN account_daily_insights v
  ON v.day = d.day::date AND v.instagram_account_id = %(account_id)s::uuid
 AND v.workspace_id = %(workspace_id)s::uuid
ORDER BY d.day;

-- name: posts
-- Newest first; keyset pagination on (created_at, id) like the posts API; from/to bound published_at.
SELECT *
FROM post_performance
WHERE workspace_id = %(workspace_id)s::uuid
  AND (%(account_id)s::uuid IS NULL OR instagram_account_id = %(account_id)s::uuid)
  AND (%(from)s::timestamptz IS NULL OR published_at >= %(from)s::timestamptz)
  AND (%(to)s::timestamptz IS NULL OR published_at < %(to)s::timestamptz)
  AND (%(after_created_at)s::timestamptz IS NULL
       OR (created_at, post_id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY created_at DESC, post_id DESC
LIMIT %(limit)s::int;

-- name: template_posts
-- Published posts per template (workspace_id, key, format: every version), and their insights.
SELECT template_workspace_id, template_key, format, count(*) AS posts,
       count(engagement_rate) AS posts_with_insights, avg(engagement_rate) AS mean_engagement_rate
FROM post_performance
WHERE workspace_id = %(workspace_id)s::uuid AND template_key IS NOT NULL
  AND (%(account_id)s::uuid IS NULL OR instagram_account_id = %(account_id)s::uuid)
GROUP BY template_workspace_id, template_key, format;

-- name: workspace_timezone
SELECT timezone FROM workspaces WHERE id = %(workspace_id)s::uuid;
