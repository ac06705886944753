-- name: account_workspace
SELECT a.id, a.workspace_id, w.timezone, w.default_post_time
FROM instagram_accounts a
JOIN workspaces w ON w.id = a.workspace_id
WHERE a.id = %(account_id)s::uuid;

-- name: online_hours
-- weekday is the UTC weekday (0 = Sunday), hour the UTC hour.
SELECT weekday, hour, followers_online
FROM audience_online_hours
WHERE instagram_account_id = %(account_id)s::uuid AND workspace_id = %(workspace_id)s::uuid
  AND followers_online > 0;

-- name: account_for_member
-- The account's workspace time zone, if the user is a member of its workspace.
SELECT a.id, w.timezone
FROM instagram_accounts a
JOIN workspaces w ON w.id = a.workspace_id
JOIN workspace_members m ON m.workspace_id = a.workspace_id AND m.user_id = %(user_id)s::uuid
WHERE a.id = %(account_id)s::uuid;

-- name: past_posts
-- The account's published media with insights since `since`: when, and interactions / reach.
-- Instagram's total_interactions when given, else the sum of the parts it gave.
SELECT mi.posted_at,
       (coalesce(mi.total_interactions,
                 coalesce(mi.likes, 0) + coalesce(mi.comments, 0) + coalesce(mi.saved, 0)
                     + coalesce(mi.shares, 0))::numeric / mi.reach)::float8 AS engagement_rate
FROM media_insights mi
WHERE mi.instagram_account_id = %(account_id)s::uuid AND mi.workspace_id = %(workspace_id)s::uuid
  AND mi.reach > 0 AND mi.posted_at >= %(since)s::timestamptz
ORDER BY mi.posted_at;

-- name: taken_times
-- The account's posts already given a time in the window (a suggestion keeps its distance).
SELECT scheduled_at
FROM posts
WHERE instagram_account_id = %(account_id)s::uuid AND workspace_id = %(workspace_id)s::uuid
  AND status IN ('scheduled', 'pending_approval', 'publishing')
  AND scheduled_at >= %(from)s::timestamptz AND scheduled_at < %(to)s::timestamptz
ORDER BY scheduled_at;
