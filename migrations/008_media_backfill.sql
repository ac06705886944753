-- publish-due's media backfill (DESIGN.md §4): every run looks for published posts whose media id is
-- still unknown (a publish whose answer was lost; the container read PUBLISHED) or whose permalink is.
-- Almost always there are none, so this partial index is near-empty and the per-run lookup costs one
-- index probe instead of a scan of every post.
CREATE INDEX posts_media_backfill_idx ON public.posts (published_at)
    WHERE status = 'published' AND (ig_media_id IS NULL OR permalink IS NULL) AND media_type <> 'STORY';
