-- name: posts
SELECT p.id, p.status, p.media_type, p.caption, p.scheduled_at, p.published_at, p.permalink, p.last_error,
       p.failure_reason, p.content_type, w.name AS workspace,
       (SELECT m.storage_path FROM post_media m WHERE m.post_id = p.id ORDER BY m.position LIMIT 1) AS image_path
FROM posts p
JOIN workspaces w ON w.id = p.workspace_id
ORDER BY coalesce(p.published_at, p.scheduled_at, p.created_at) DESC
LIMIT 200;

-- name: accounts
SELECT a.username, a.ig_user_id, a.status, a.status_reason, a.token_expires_at, w.name AS workspace
FROM instagram_accounts a
JOIN workspaces w ON w.id = a.workspace_id
ORDER BY w.name, a.username;

-- name: learning_accounts
-- Active accounts, for their best times and template figures.
SELECT a.id, a.workspace_id, a.username, a.ig_user_id, w.timezone
FROM instagram_accounts a
JOIN workspaces w ON w.id = a.workspace_id
WHERE a.status = 'active'
ORDER BY w.name, a.username
LIMIT 10;
