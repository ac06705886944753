-- Queries of sociallab.content.templates.registry.

-- name: lock_builtin_sync
-- Serialises concurrent syncs (dev server and migrate step may start together).
SELECT pg_advisory_xact_lock(hashtext('sociallab.templates.sync_builtin')::bigint);

-- name: latest_builtin
SELECT id, key, format, version, spec, caption_template, name, description, content_type, is_active
FROM public.templates
WHERE workspace_id IS NULL AND key = %(key)s::text AND format = %(format)s::text
ORDER BY version DESC
LIMIT 1;

-- name: insert_template
INSERT INTO public.templates
    (workspace_id, key, name, description, content_type, format, spec, version, caption_template, is_active)
VALUES
    (%(workspace_id)s::uuid, %(key)s::text, %(name)s::text, %(description)s::text, %(content_type)s::text,
     %(format)s::text, %(spec)s::jsonb, %(version)s::integer, %(caption_template)s::text, true)
ON CONFLICT ON CONSTRAINT templates_workspace_key_format_version_key DO NOTHING
RETURNING id;

-- name: deactivate_older
-- Only the newest version of a (workspace, key, format) stays active.
UPDATE public.templates
SET is_active = false, updated_at = now()
WHERE workspace_id IS NOT DISTINCT FROM %(workspace_id)s::uuid
  AND key = %(key)s::text AND format = %(format)s::text
  AND version < %(version)s::integer AND is_active;

-- name: activate
UPDATE public.templates SET is_active = true, updated_at = now()
WHERE id = %(id)s::uuid AND NOT is_active;

-- name: deactivate_unshipped_builtins
-- Built-ins no longer shipped (key or format removed from the package) stop being offered.
UPDATE public.templates
SET is_active = false, updated_at = now()
WHERE workspace_id IS NULL AND is_active
  AND NOT ((key || '/' || format) = ANY (%(shipped)s::text[]));

-- name: next_version
SELECT coalesce(max(version), 0) + 1
FROM public.templates
WHERE workspace_id IS NOT DISTINCT FROM %(workspace_id)s::uuid
  AND key = %(key)s::text AND format = %(format)s::text;

-- name: list_available
-- The newest active version of each (key, format) a workspace may use: its own templates first,
-- then the built-ins of a key it has not overridden.
SELECT DISTINCT ON (key, format)
       id, workspace_id, key, name, description, content_type, format, spec, version, caption_template
FROM public.templates
WHERE is_active
  AND (workspace_id IS NULL OR workspace_id = %(workspace_id)s::uuid)
  AND (%(content_type)s::text IS NULL OR content_type = %(content_type)s::text)
  AND (%(format)s::text IS NULL OR format = %(format)s::text)
  AND (%(key)s::text IS NULL OR key = %(key)s::text)
ORDER BY key, format, (workspace_id IS NULL), version DESC;

-- name: get_by_id
SELECT id, workspace_id, key, name, description, content_type, format, spec, version, caption_template
FROM public.templates
WHERE id = %(id)s::uuid
  AND (workspace_id IS NULL OR workspace_id = %(workspace_id)s::uuid);
