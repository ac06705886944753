-- name: member_role
SELECT role FROM workspace_members
WHERE workspace_id = %(workspace_id)s::uuid AND user_id = %(user_id)s::uuid;
