-- insights-sync (issue 8): what an hourly run needs to share accounts between runs and to stay
-- out of publishing's way. The insights tables of 001 keep their meaning.

ALTER TABLE public.instagram_accounts
    -- A run owns the accounts it syncs (claimed with SKIP LOCKED, like publish-due's account lease).
    ADD COLUMN insights_lease_owner      text,
    ADD COLUMN insights_lease_expires_at timestamptz,
    -- Meta's usage for the account got close to the limit: insights wait until then, publishing does
    -- not (it has the rest of the budget). Unlike rate_limited_until, this never stops publishing.
    ADD COLUMN insights_paused_until     timestamptz,
    -- When `online_followers` was last read (it changes daily; read at most once a day).
    ADD COLUMN audience_synced_at        timestamptz;

-- The claim: accounts whose last sync is oldest first.
CREATE INDEX instagram_accounts_insights_due_idx
    ON public.instagram_accounts (last_insights_synced_at NULLS FIRST)
    WHERE status IN ('active', 'rate_limited');
