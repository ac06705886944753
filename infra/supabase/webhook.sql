-- The database webhook on public.matches: applied by `python infra/supabase.py webhook` once the
-- function URLs are known (see infra/README.md). It is what Dashboard -> Database -> Webhooks
-- creates: pg_net POSTs each inserted or updated row to generate-content's /webhook. {url},
-- {headers} (with the X-Webhook-Secret) and {timeout_ms} are filled in by the script (quoted);
-- it holds the secret, so it never goes into a migration.

-- name: webhook
DROP TRIGGER IF EXISTS matches_generate_content ON public.matches;
CREATE TRIGGER matches_generate_content
    AFTER INSERT OR UPDATE ON public.matches
    FOR EACH ROW EXECUTE FUNCTION supabase_functions.http_request({url}, 'POST', {headers}, '{{}}', {timeout_ms});
