-- name: engagement_scores
-- Mean engagement rate (interactions / reach) of this account's posts made with each candidate
-- template. A template is (workspace_id, key, format) across its versions, so a new version of a
-- built-in keeps the history of the old one. Only posts with insights (reach > 0) count, and a
-- template needs `min_posts` of them to get a score at all.
WITH candidates AS (
    SELECT t.id, t.workspace_id, t.key, t.format
    FROM public.templates t
    WHERE t.id = ANY (%(template_ids)s::uuid[])
)
SELECT c.id AS template_id,
       avg(coalesce(mi.total_interactions,
                    coalesce(mi.likes, 0) + coalesce(mi.comments, 0) + coalesce(mi.saved, 0)
                        + coalesce(mi.shares, 0))::numeric / mi.reach)::float8 AS score,
       count(*) AS posts
FROM candidates c
JOIN public.templates t
  ON t.key = c.key AND t.format = c.format AND t.workspace_id IS NOT DISTINCT FROM c.workspace_id
JOIN public.posts p
  ON p.template_id = t.id AND p.instagram_account_id = %(account_id)s::uuid
JOIN public.media_insights mi
  ON mi.post_id = p.id AND mi.instagram_account_id = p.instagram_account_id
WHERE mi.reach > 0
GROUP BY c.id
HAVING count(*) >= %(min_posts)s::int;
