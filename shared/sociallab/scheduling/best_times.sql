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
