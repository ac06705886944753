-- Photo intake and Drive import bookkeeping (issue 4).
--
-- A Drive file that fails to import is kept as a `failed` media_assets row. `error_transient`
-- says whether the failure may go away by itself (Drive 5xx/429, a network error) and
-- `import_attempts` counts the tries, so the sync retries transient failures a bounded number of
-- times and never retries a file that is simply not an image (until its content changes).

ALTER TABLE public.media_assets
    ADD COLUMN import_attempts integer NOT NULL DEFAULT 0 CHECK (import_attempts >= 0),
    ADD COLUMN error_transient boolean NOT NULL DEFAULT false;

-- The sync's retry pass: transient failures of one source.
CREATE INDEX media_assets_drive_retry_idx ON public.media_assets (drive_source_id, import_attempts)
    WHERE status = 'failed' AND error_transient;

-- Photos taken on a match day (generate-content picks them when none is linked to the match).
CREATE INDEX media_assets_workspace_taken_idx ON public.media_assets (workspace_id, taken_at)
    WHERE status = 'ready';

-- A sync holds its source for a while (scheduler tick, push notification and "sync now" may
-- overlap); another sync of the same source skips it until the lease is released or expires.
ALTER TABLE public.drive_sources
    ADD COLUMN sync_lease_until timestamptz;
