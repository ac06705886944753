-- Drive folders need proof of access; a photo a post uses never changes (issue 9, items 4 and 5).
--
-- 1. A connected folder starts `pending`. The workspace proves it controls the folder by creating a
--    file named `verification_name` (a random per-source secret) in it; drive-sync then checks the
--    file is there and sets `verified_at`. Only verified sources sync. Users can no longer insert
--    sources, nor update them in ways that skip that check: the only write left to editors is
--    pausing/resuming a verified source (and deleting one).
-- 2. A changed Drive file becomes a new `media_assets` row (a new version, with new storage
--    paths); the previous version is marked `superseded_at` and kept while a post or the logo
--    uses it. The content of a ready asset can no longer be updated at all.

-- --- drive_sources -----------------------------------------------------------------------------

ALTER TABLE public.drive_sources
    ADD COLUMN verification_name text NOT NULL
        DEFAULT 'sociallab-verify-' || replace(gen_random_uuid()::text, '-', ''),
    ADD COLUMN verified_at timestamptz;

ALTER TABLE public.drive_sources DROP CONSTRAINT drive_sources_status_check;
ALTER TABLE public.drive_sources ALTER COLUMN status SET DEFAULT 'pending';

-- Sources connected before this migration were never proven: they wait for the same proof.
UPDATE public.drive_sources SET status = 'pending';

ALTER TABLE public.drive_sources
    ADD CONSTRAINT drive_sources_status_check CHECK (status IN ('pending', 'active', 'error', 'paused')),
    ADD CONSTRAINT drive_sources_verified_check CHECK ((status = 'pending') = (verified_at IS NULL)),
    ADD CONSTRAINT drive_sources_verification_name_key UNIQUE (verification_name);

DROP POLICY editors_insert ON public.drive_sources;
DROP POLICY editors_update ON public.drive_sources;
REVOKE INSERT, UPDATE ON public.drive_sources FROM authenticated;
GRANT SELECT (verification_name, verified_at) ON public.drive_sources TO authenticated;
GRANT UPDATE (status) ON public.drive_sources TO authenticated;
CREATE POLICY editors_pause ON public.drive_sources FOR UPDATE TO authenticated
    USING (public.is_member(workspace_id, 'editor') AND verified_at IS NOT NULL)
    WITH CHECK (public.is_member(workspace_id, 'editor') AND verified_at IS NOT NULL
                AND status IN ('active', 'paused'));

-- --- media_assets ------------------------------------------------------------------------------

ALTER TABLE public.media_assets
    ADD COLUMN superseded_at timestamptz,
    ADD CONSTRAINT media_assets_superseded_check CHECK (superseded_at IS NULL OR status = 'ready');

-- Per Drive file: at most one current ready version and one current failure record.
ALTER TABLE public.media_assets DROP CONSTRAINT media_assets_workspace_drive_file_key;
CREATE UNIQUE INDEX media_assets_drive_file_current_key
    ON public.media_assets (workspace_id, drive_file_id, status) WHERE superseded_at IS NULL;
CREATE INDEX media_assets_superseded_idx ON public.media_assets (workspace_id) WHERE superseded_at IS NOT NULL;

-- What a post points at (its photo and the storage objects) never changes under it.
CREATE FUNCTION public.media_assets_content_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'ready' AND (NEW.status, NEW.md5, NEW.mime_type, NEW.bytes, NEW.original_path,
                                 NEW.normalized_path, NEW.width, NEW.height)
        IS DISTINCT FROM (OLD.status, OLD.md5, OLD.mime_type, OLD.bytes, OLD.original_path,
                          OLD.normalized_path, OLD.width, OLD.height) THEN
        RAISE EXCEPTION 'the content of ready asset % cannot change; import a new version', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'media_assets_content_immutable';
    END IF;
    IF OLD.superseded_at IS NOT NULL AND NEW.superseded_at IS DISTINCT FROM OLD.superseded_at THEN
        RAISE EXCEPTION 'asset % was superseded by a newer version', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'media_assets_content_immutable';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER media_assets_content_immutable BEFORE UPDATE ON public.media_assets
    FOR EACH ROW EXECUTE FUNCTION public.media_assets_content_immutable();
