-- Issue 7.7: nothing is lost when the platform throttles. A matches-webhook delivery records what it
-- asks for and which attempt is doing it, so a scheduled run (generate-content `POST /webhook/pickup`)
-- can finish a delivery whose work died with its instance (or was frozen by CPU throttling after the
-- answer). An attempt holds the delivery until `lease_expires_at`; only the attempt named by `lease_id`
-- may record the result, so a late original and a pickup cannot both finish it.
ALTER TABLE public.webhook_receipts
    ADD COLUMN work             jsonb,                      -- {"action", "match_id"}: what to do
    ADD COLUMN attempts         integer NOT NULL DEFAULT 0, -- how often the work was started
    ADD COLUMN lease_id         uuid,
    ADD COLUMN lease_expires_at timestamptz;

CREATE INDEX webhook_receipts_unfinished_idx ON public.webhook_receipts (source, lease_expires_at)
    WHERE processed_at IS NULL AND work IS NOT NULL;
