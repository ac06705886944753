-- Supabase Storage for SocialLab: applied by `python infra/supabase.py storage` (see infra/README.md).
-- {bucket} and {policy} are filled in by the script (quoted); everything else runs as written.

-- name: bucket
-- The private bucket of originals, renditions and composed images (STORAGE_BUCKET). Never public:
-- Meta and the studio get signed URLs. 50 MiB: above the 40 MB upload limit of `assets`.
INSERT INTO storage.buckets (id, name, public, file_size_limit)
VALUES ({bucket}, {bucket}, false, 52428800)
ON CONFLICT (id) DO UPDATE SET public = false, file_size_limit = excluded.file_size_limit;

-- name: policies
-- Only the functions touch the bucket, with the service role key (which bypasses RLS). Browser
-- clients (anon, authenticated) get nothing, and a restrictive policy keeps it so even if a
-- permissive policy on storage.objects is added later for another bucket.
DROP POLICY IF EXISTS {policy} ON storage.objects;
CREATE POLICY {policy} ON storage.objects AS RESTRICTIVE FOR ALL TO anon, authenticated
    USING (bucket_id <> {bucket}) WITH CHECK (bucket_id <> {bucket});
