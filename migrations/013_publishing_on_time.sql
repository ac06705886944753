-- Publishing on time and through outages (issue 10 part B).
--
-- `transient_failures`: how often Instagram (or a dependency) failed this post for a passing reason. Such a
-- failure gives its attempt back and is counted here instead: it bounds nothing by itself, the retry window
-- (PublisherConfig.retry_window_seconds after the post's time) does, so an outage never uses up a post's
-- attempts. A user's retry starts it again from zero.
ALTER TABLE public.posts
    ADD COLUMN transient_failures integer NOT NULL DEFAULT 0
        CONSTRAINT posts_transient_failures_check CHECK (transient_failures >= 0);

-- A failed post whose media container turns out to have gone out (its publish answer was lost, then its
-- attempts ran out or its account was parked) is published after all: found when an edit would otherwise
-- throw that container away (sociallab.publishing.evidence).
INSERT INTO public.post_status_edges (from_status, to_status) VALUES ('failed', 'published');
