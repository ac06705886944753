-- name: posts
SELECT p.id, p.status, p.media_type, p.caption, p.scheduled_at, p.published_at, p.permalink, p.last_error,
       w.name AS workspace, w.timezone
FROM posts p
JOIN workspaces w ON w.id = p.workspace_id
ORDER BY coalesce(p.published_at, p.scheduled_at, p.created_at) DESC
LIMIT 200;
