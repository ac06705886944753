-- Read models of the `insights` API (issue 8.5). Both views run with the caller's rights
-- (security_invoker), so a Supabase user sees exactly what RLS lets them see of the tables below.

-- Account metrics by UTC day, one column per metric (NULL: Instagram gave nothing for that day).
-- `followers_count` is a day's follower total where insights-sync records one; `follower_count`
-- is Instagram's metric of that name (follows minus unfollows that day).
CREATE VIEW public.account_daily_insights WITH (security_invoker = true) AS
SELECT ai.workspace_id,
       ai.instagram_account_id,
       ai.day,
       max(ai.value) FILTER (WHERE ai.metric = 'followers_count')    AS followers,
       max(ai.value) FILTER (WHERE ai.metric = 'follower_count')     AS new_followers,
       max(ai.value) FILTER (WHERE ai.metric = 'reach')              AS reach,
       max(ai.value) FILTER (WHERE ai.metric = 'views')              AS views,
       max(ai.value) FILTER (WHERE ai.metric = 'accounts_engaged')   AS accounts_engaged,
       max(ai.value) FILTER (WHERE ai.metric = 'total_interactions') AS total_interactions
FROM public.account_insights ai
WHERE ai.period = 'day'
GROUP BY ai.workspace_id, ai.instagram_account_id, ai.day;

-- Every published post with its template and its latest insights. `interactions` is Instagram's
-- total_interactions, else the sum of the parts it gave (NULL when it gave none);
-- engagement_rate = interactions / reach (NULL without reach).
CREATE VIEW public.post_performance WITH (security_invoker = true) AS
SELECT p.id AS post_id,
       p.workspace_id,
       p.instagram_account_id,
       p.created_at,
       p.published_at,
       p.media_type,
       p.content_type,
       p.permalink,
       p.template_id,
       t.workspace_id AS template_workspace_id,
       t.key AS template_key,
       t.name AS template_name,
       t.format,
       mi.reach,
       mi.likes,
       mi.comments,
       mi.saved AS saves,
       mi.shares,
       mi.views,
       mi.fetched_at AS insights_fetched_at,
       i.interactions,
       (i.interactions::numeric / nullif(mi.reach, 0))::float8 AS engagement_rate
FROM public.posts p
LEFT JOIN public.templates t ON t.id = p.template_id
LEFT JOIN public.media_insights mi
  ON mi.post_id = p.id AND mi.instagram_account_id = p.instagram_account_id
CROSS JOIN LATERAL (
    SELECT coalesce(mi.total_interactions,
                    CASE WHEN num_nonnulls(mi.likes, mi.comments, mi.saved, mi.shares) > 0
                         THEN coalesce(mi.likes, 0) + coalesce(mi.comments, 0) + coalesce(mi.saved, 0)
                              + coalesce(mi.shares, 0)
                    END) AS interactions
) i
WHERE p.status = 'published';

GRANT SELECT ON public.account_daily_insights, public.post_performance TO authenticated, service_role;
