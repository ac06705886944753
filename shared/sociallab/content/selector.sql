-- name: template_evidence
-- Per candidate template: the workspace's posts made with it that have insights (reach > 0) and
-- their mean engagement rate (interactions / reach), for one account or, with account_id NULL,
-- every account of the workspace. A template is (workspace_id, key, format) across its versions,
-- so a new version of a built-in keeps the history of the old one.
WITH candidates AS (
    SELECT t.id, t.workspace_id, t.key, t.format
    FROM public.templates t
    WHERE t.id = ANY (%(template_ids)s::uuid[])
)
SELECT c.id AS template_id,
       count(*) AS posts,
       avg(coalesce(mi.total_interactions,
                    coalesce(mi.likes, 0) + coalesce(mi.comments, 0) + coalesce(mi.saved, 0)
                        + coalesce(mi.shares, 0))::numeric / mi.reach)::float8 AS mean_rate
FROM candidates c
JOIN public.templates t
  ON t.key = c.key AND t.format = c.format AND t.workspace_id IS NOT DISTINCT FROM c.workspace_id
JOIN public.posts p
  ON p.template_id = t.id AND p.workspace_id = %(workspace_id)s::uuid
 AND (%(account_id)s::uuid IS NULL OR p.instagram_account_id = %(account_id)s::uuid)
JOIN public.media_insights mi
  ON mi.post_id = p.id AND mi.instagram_account_id = p.instagram_account_id
WHERE mi.reach > 0
GROUP BY c.id;

-- name: workspace_rates
-- The workspace-level prior: engagement rates of all its media with insights (made with
-- SocialLab or not), their count, mean and standard deviation.
WITH rates AS (
    SELECT (coalesce(mi.total_interactions,
                     coalesce(mi.likes, 0) + coalesce(mi.comments, 0) + coalesce(mi.saved, 0)
                         + coalesce(mi.shares, 0))::numeric / mi.reach)::float8 AS rate
    FROM public.media_insights mi
    WHERE mi.workspace_id = %(workspace_id)s::uuid AND mi.reach > 0
)
SELECT count(*) AS posts, avg(rate) AS mean_rate, stddev_samp(rate) AS sd_rate
FROM rates;
