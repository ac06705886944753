-- Instagram accounts: token storage, status, parking, notifications; OAuth states; refresh runs.
-- Used by sociallab.instagram.accounts, .oauth and .tokens.

-- name: account_token
SELECT id, workspace_id, status, status_reason, token_ciphertext, token_key_id, token_expires_at
FROM public.instagram_accounts
WHERE id = %(account_id)s::uuid;

-- name: upsert_account_row
-- Creates the row (no token yet) or locks the existing one, so the token can be encrypted with the
-- row's own id as associated data. Runs in the same transaction as `save_token`: a failure rolls
-- both back and the old token stays.
INSERT INTO public.instagram_accounts (workspace_id, ig_user_id, connected_by)
VALUES (%(workspace_id)s::uuid, %(ig_user_id)s::text, %(connected_by)s::uuid)
ON CONFLICT (workspace_id, ig_user_id) DO UPDATE SET updated_at = now()
RETURNING id, (xmax = 0) AS created;

-- name: save_token
UPDATE public.instagram_accounts
SET token_ciphertext = %(ciphertext)s::bytea,
    token_key_id = %(key_id)s::text,
    token_expires_at = %(expires_at)s::timestamptz,
    token_refreshed_at = now(),
    scopes = coalesce(%(scopes)s::text[], scopes),
    username = coalesce(%(username)s::text, username),
    name = coalesce(%(name)s::text, name),
    account_type = coalesce(%(account_type)s::text, account_type),
    profile_picture_url = coalesce(%(profile_picture_url)s::text, profile_picture_url),
    followers_count = coalesce(%(followers_count)s::integer, followers_count),
    connected_by = coalesce(%(connected_by)s::uuid, connected_by),
    -- A (re)connect or a refresh proves the token works: the account is usable again, unless
    -- Instagram throttled it and the pause has not run out.
    status = CASE WHEN status = 'rate_limited' AND rate_limited_until > now() THEN 'rate_limited'
                  ELSE 'active' END,
    status_reason = CASE WHEN status = 'rate_limited' AND rate_limited_until > now() THEN status_reason
                         ELSE NULL END
WHERE id = %(account_id)s::uuid
  -- A refresh passes the token_refreshed_at it read: if a reconnect or another refresh wrote a newer
  -- token meanwhile, this older one is not written over it.
  AND (NOT %(guarded)s::boolean OR token_refreshed_at IS NOT DISTINCT FROM %(seen_refreshed_at)s::timestamptz)
RETURNING id, workspace_id, ig_user_id, username, status, token_expires_at, token_refreshed_at, scopes;

-- name: resolve_reauth_notifications
-- The account works again: its "reconnect Instagram" notice is settled.
UPDATE public.notifications
SET read_at = now()
WHERE workspace_id = %(workspace_id)s::uuid
  AND dedupe_key = %(dedupe_key)s::text
  AND read_at IS NULL;

-- name: set_reauth_required
-- Returns the row only when the status actually changed (a second call is a no-op).
UPDATE public.instagram_accounts
SET status = 'reauth_required', status_reason = %(reason)s::text
WHERE id = %(account_id)s::uuid AND status <> 'reauth_required'
RETURNING id, workspace_id, username;

-- name: account_brief
SELECT id, workspace_id, username, status FROM public.instagram_accounts WHERE id = %(account_id)s::uuid;

-- name: insert_notification
INSERT INTO public.notifications (workspace_id, kind, severity, message, detail, dedupe_key)
VALUES (%(workspace_id)s::uuid, %(kind)s::text, %(severity)s::text, %(message)s::text, %(detail)s::jsonb,
        %(dedupe_key)s::text)
ON CONFLICT (workspace_id, dedupe_key) WHERE read_at IS NULL DO NOTHING
RETURNING id;

-- name: park_posts
-- The account's waiting posts cannot go out until it is reconnected: they become `failed` with
-- failure_reason 'reauth_required' (recoverable with POST /posts/{id}/retry); the database records
-- each transition from status_note. A post in `publishing` belongs to the run holding its lease,
-- unless that lease ran out (a crashed run): no run will claim it for a reauth_required account, so
-- it is parked too. Its container is kept, so the retry checks it before publishing anything again.
WITH target AS (
    SELECT id
    FROM public.posts
    WHERE instagram_account_id = %(account_id)s::uuid
      AND (status = 'scheduled' OR (status = 'publishing' AND lease_expires_at <= now()))
    FOR NO KEY UPDATE
), parked AS (
    UPDATE public.posts p
    SET status = 'failed',
        failure_reason = %(failure_reason)s::text,
        last_error = %(message)s::text,
        last_error_code = %(error_code)s::text,
        next_attempt_at = NULL,
        lease_owner = NULL,
        lease_expires_at = NULL,
        status_note = jsonb_build_object(
            'actor', %(actor)s::text,
            'detail', jsonb_build_object('reason', %(failure_reason)s::text,
                                         'instagram_account_id', %(account_id)s::text))
    FROM target
    WHERE p.id = target.id
    RETURNING p.id
)
SELECT id FROM parked;

-- name: insert_oauth_state
INSERT INTO public.oauth_states (nonce, workspace_id, user_id, redirect_to, expires_at)
VALUES (%(nonce)s::text, %(workspace_id)s::uuid, %(user_id)s::uuid, %(redirect_to)s::text,
        %(expires_at)s::timestamptz);

-- name: consume_oauth_state
-- Single use: only the first callback with a live nonce gets the row back.
UPDATE public.oauth_states
SET used_at = now()
WHERE nonce = %(nonce)s::text AND used_at IS NULL AND expires_at > now()
RETURNING nonce, workspace_id, user_id, redirect_to;

-- name: refresh_candidates
-- Tokens that Instagram will refresh (>= 24 h old, unexpired) and that need it (expire within the
-- window). Accounts waiting for a reconnect are left alone.
SELECT id, workspace_id, ig_user_id, token_ciphertext, token_key_id, token_expires_at, token_refreshed_at
FROM public.instagram_accounts
WHERE token_ciphertext IS NOT NULL
  AND status IN ('active', 'rate_limited')
  AND token_expires_at > %(now)s::timestamptz
  AND token_expires_at <= %(now)s::timestamptz + make_interval(secs => %(expiry_window)s::double precision)
  AND coalesce(token_refreshed_at, '-infinity'::timestamptz)
      <= %(now)s::timestamptz - make_interval(secs => %(min_age)s::double precision)
ORDER BY token_expires_at
LIMIT %(limit)s::integer;

-- name: old_key_tokens
-- Tokens still encrypted under a key that is no longer the current one (rotation).
SELECT id, token_ciphertext, token_key_id
FROM public.instagram_accounts
WHERE token_ciphertext IS NOT NULL AND token_key_id <> %(current_key_id)s::text
LIMIT %(limit)s::integer;

-- name: tokens_by_key_id
-- How many stored tokens each key id encrypts (rotation: an old key may go once it has none).
SELECT token_key_id, count(*)::integer AS tokens
FROM public.instagram_accounts
WHERE token_ciphertext IS NOT NULL
GROUP BY token_key_id
ORDER BY token_key_id;

-- name: reencrypt_token
-- Only if the row still holds the ciphertext that was read (a concurrent write wins).
UPDATE public.instagram_accounts
SET token_ciphertext = %(ciphertext)s::bytea, token_key_id = %(key_id)s::text
WHERE id = %(account_id)s::uuid
  AND token_key_id = %(old_key_id)s::text
  AND token_ciphertext = %(old_ciphertext)s::bytea;

-- name: claim_refresh_run
-- One run per UTC day (a repeated scheduler tick is acknowledged, not redone). A run that started
-- but never finished (crashed) may be taken over once it is `stale_after` seconds old.
INSERT INTO public.webhook_receipts AS r (source, delivery_key)
VALUES ('scheduler.refresh-tokens', %(day)s::text)
ON CONFLICT (source, delivery_key) DO UPDATE SET received_at = now()
    WHERE r.processed_at IS NULL
      AND r.received_at < now() - make_interval(secs => %(stale_after)s::double precision)
RETURNING delivery_key;

-- name: finish_refresh_run
UPDATE public.webhook_receipts
SET processed_at = now(), result = %(result)s::jsonb
WHERE source = 'scheduler.refresh-tokens' AND delivery_key = %(day)s::text;
