-- publish-due: at most one in-flight post per Instagram account (DESIGN.md §4).
--
-- The publisher claims an *account* before it claims one of its posts: it locks the account row
-- (FOR NO KEY UPDATE SKIP LOCKED) and sets this lease on it in the same statement. A post lease
-- alone cannot keep two concurrent runs off one account: a run whose snapshot predates another
-- run's claim does not see that claim in a subquery, but it does re-check the locked account row's
-- own columns (READ COMMITTED re-evaluation), so the lease has to live on the account row.
-- The lease is released when the account has nothing more due in this run, and expires with the
-- run (a crashed run's accounts come back once `publish_lease_expires_at` has passed).

ALTER TABLE public.instagram_accounts
    ADD COLUMN publish_lease_owner      text,
    ADD COLUMN publish_lease_expires_at timestamptz,
    ADD CONSTRAINT instagram_accounts_publish_lease_check
        CHECK ((publish_lease_owner IS NULL) = (publish_lease_expires_at IS NULL));

-- Reclaiming a crashed run's post (status 'publishing', lease expired) per account, and the
-- one-in-flight lookup: WHERE instagram_account_id = $1 AND status IN ('scheduled', 'publishing').
CREATE INDEX posts_account_due_idx ON public.posts
    (instagram_account_id, (coalesce(next_attempt_at, scheduled_at)))
    WHERE status IN ('scheduled', 'publishing');

-- The frontend may see when an account is being published to (not who holds it).
GRANT SELECT (publish_lease_expires_at) ON public.instagram_accounts TO authenticated;

-- A publish whose answer was lost but whose container reads PUBLISHED went out: the post is
-- `published`, identified by its container until the media id is found (Instagram's container
-- object does not name the media it became). Every other published post has its media id.
ALTER TABLE public.posts
    DROP CONSTRAINT posts_published_check,
    ADD CONSTRAINT posts_published_check
        CHECK (status <> 'published'
               OR (published_at IS NOT NULL AND (ig_media_id IS NOT NULL OR container_id IS NOT NULL)));
