-- Post status transitions in one place the database enforces (issue 10).
--
-- `post_status_edges` is the state machine: a post's status changes only along one of its rows
-- (DESIGN.md §3; `sociallab.scheduling.states.EDGES` is Python's read-only copy, and a test keeps
-- the two equal). A post may be created in any status; its creation is recorded like a change.
--
-- Every status change writes its own `post_events` row: nobody inserts status events by hand.
-- Who made the change and why travels with the statement that makes it, in `posts.status_note`
-- (`{"actor": ..., "detail": {...}, "kind": ...}`, kind defaulting to 'status'). A column, not a
-- transaction-local setting, because:
--   - it is part of the very statement that changes the status, so it works the same in a
--     single-statement autocommit call, inside a transaction and through Supabase's transaction
--     pooler (no session state, no extra round trip, no second statement to run first);
--   - it is computed per row: one claim statement takes several posts, each with its own attempt;
--   - a setting written by a CTE of the same statement would rely on the planner running that CTE
--     before the UPDATE reaches its rows.
-- A note belongs to the statement that wrote it: an UPDATE that does not write one drops the note
-- it would otherwise carry over, so a later status change can never be recorded with an earlier
-- change's actor. (A stored note is stamped with the transaction that wrote it; that also keeps a
-- later, identical note from reading as "not written".) A status change without a note is still
-- recorded, with no actor and an empty detail.

CREATE TABLE public.post_status_edges (
    from_status text NOT NULL CHECK (from_status IN ('draft', 'pending_approval', 'scheduled', 'publishing',
                                                     'published', 'failed', 'cancelled')),
    to_status   text NOT NULL CHECK (to_status IN ('draft', 'pending_approval', 'scheduled', 'publishing',
                                                   'published', 'failed', 'cancelled')),
    PRIMARY KEY (from_status, to_status)
);

INSERT INTO public.post_status_edges (from_status, to_status) VALUES
    ('draft', 'pending_approval'),
    ('draft', 'scheduled'),
    ('draft', 'cancelled'),
    ('pending_approval', 'pending_approval'),  -- rescheduled while it waits for approval
    ('pending_approval', 'scheduled'),
    ('pending_approval', 'cancelled'),
    ('scheduled', 'scheduled'),                -- rescheduled
    ('scheduled', 'publishing'),               -- claimed by publish-due
    ('scheduled', 'cancelled'),
    ('scheduled', 'failed'),                   -- parked: its account must be reconnected
    ('publishing', 'publishing'),              -- a crashed run's post, reclaimed
    ('publishing', 'published'),
    ('publishing', 'scheduled'),               -- due again later: transient error, throttled, quota
    ('publishing', 'failed'),
    ('failed', 'scheduled'),                   -- retried by a user
    ('failed', 'pending_approval');            -- retried, its approval no longer holding (edited since)

ALTER TABLE public.posts
    ADD COLUMN status_note jsonb CONSTRAINT posts_status_note_check CHECK (jsonb_typeof(status_note) = 'object');

-- BEFORE: keep the note only on the statement that wrote it, stamped.
CREATE FUNCTION public.posts_take_status_note() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status_note IS NOT DISTINCT FROM OLD.status_note THEN
        NEW.status_note := NULL;
    ELSIF NEW.status_note IS NOT NULL THEN
        NEW.status_note := NEW.status_note || jsonb_build_object('xact', pg_catalog.pg_current_xact_id()::text);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER posts_take_status_note
    BEFORE INSERT OR UPDATE ON public.posts
    FOR EACH ROW EXECUTE FUNCTION public.posts_take_status_note();

-- AFTER (so a CHECK or unique violation of the same row is reported first, and the row exists for
-- post_events' foreign key): refuse a change that is not an edge, and record the change.
-- SECURITY DEFINER: a member inserting a draft through the API of Supabase may not write post_events.
CREATE FUNCTION public.posts_record_status() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = ''
AS $$
DECLARE
    previous text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
BEGIN
    IF TG_OP = 'UPDATE' AND NOT EXISTS (
        SELECT 1 FROM public.post_status_edges e WHERE e.from_status = previous AND e.to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'post % cannot go from % to %', NEW.id, previous, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'posts_status_transition_check';
    END IF;
    INSERT INTO public.post_events (post_id, workspace_id, kind, from_status, to_status, actor, detail)
    VALUES (NEW.id, NEW.workspace_id, coalesce(NEW.status_note ->> 'kind', 'status'), previous, NEW.status,
            NEW.status_note ->> 'actor', coalesce(NEW.status_note -> 'detail', '{}'::jsonb));
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_record_status
    AFTER INSERT OR UPDATE OF status ON public.posts
    FOR EACH ROW EXECUTE FUNCTION public.posts_record_status();

REVOKE ALL ON FUNCTION public.posts_take_status_note(), public.posts_record_status()
    FROM PUBLIC, anon, authenticated;

-- Only the service reads the edges (like every table: RLS on; no grant, no policy).
ALTER TABLE public.post_status_edges ENABLE ROW LEVEL SECURITY;
