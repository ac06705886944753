-- The whole schema of DESIGN.md §3, with row level security.
--
-- Conventions used throughout:
-- * Every tenant row carries `workspace_id`. Rows that point at other tenant rows do so with a
--   composite foreign key `(x_id, workspace_id) -> x (id, workspace_id)`, so a row can never
--   reference a row of another workspace (RLS does not apply to foreign key checks, so this is
--   what stops an editor of A from attaching B's account, match or photo to A's post).
--   Nullable references use `ON DELETE SET NULL (x_id)` (PG 15+) so `workspace_id` is kept.
-- * Enum-like columns are `text` with a CHECK, so adding a value is a one-line migration.
-- * Functions connect as the table owner (`postgres`), which bypasses RLS; they must still filter
--   by workspace in SQL. The frontend reads as `authenticated`, under the policies at the end.
-- * Nothing here needs an extension: `gen_random_uuid()` is built in since PG 13.


-- ---------------------------------------------------------------------------------------------
-- Helper functions (triggers)
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- A time zone must be an IANA name PostgreSQL knows (`Europe/Madrid`, `UTC`). `AT TIME ZONE` alone
-- is not a test: it also accepts POSIX strings such as 'foo+3', which Python's zoneinfo rejects.
-- pg_timezone_names cannot appear in a CHECK (not immutable), hence a trigger that raises a
-- check_violation named like a constraint, so callers see it as one.
CREATE FUNCTION public.check_workspace_timezone() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.timezone IS NOT DISTINCT FROM OLD.timezone THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.timezone) THEN
        RAISE EXCEPTION 'unknown time zone: %', NEW.timezone
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'workspaces_timezone_check',
                  HINT = 'Use an IANA time zone name such as Europe/Madrid.';
    END IF;
    RETURN NEW;
END
$$;


-- ---------------------------------------------------------------------------------------------
-- Workspaces and members
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.workspaces (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    timezone          text NOT NULL DEFAULT 'UTC',
    -- Brand kit.
    primary_color     text NOT NULL DEFAULT '#111827' CHECK (primary_color ~ '^#[0-9A-Fa-f]{6}$'),
    secondary_color   text NOT NULL DEFAULT '#FFFFFF' CHECK (secondary_color ~ '^#[0-9A-Fa-f]{6}$'),
    accent_color      text NOT NULL DEFAULT '#E11D48' CHECK (accent_color ~ '^#[0-9A-Fa-f]{6}$'),
    logo_asset_id     uuid,  -- FK to media_assets, added below once that table exists
    font              text NOT NULL DEFAULT 'Inter' CHECK (char_length(font) BETWEEN 1 AND 100),
    -- BCP 47-ish: en, es, pt-BR, zh-Hant
    caption_language  text NOT NULL DEFAULT 'en'
                      CHECK (caption_language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    -- Free text handed to the caption writer ("proud, upbeat"), not an enum.
    caption_tone      text NOT NULL DEFAULT 'friendly' CHECK (char_length(caption_tone) <= 200),
    default_hashtags  text[] NOT NULL DEFAULT '{}' CHECK (cardinality(default_hashtags) <= 30),
    require_approval  boolean NOT NULL DEFAULT false,
    default_post_time time NOT NULL DEFAULT '18:00',  -- in the workspace's timezone
    created_by        uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER workspaces_timezone_check
    BEFORE INSERT OR UPDATE OF timezone ON public.workspaces
    FOR EACH ROW EXECUTE FUNCTION public.check_workspace_timezone();

CREATE TABLE public.workspace_members (
    workspace_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user_idx ON public.workspace_members (user_id);

-- A workspace always keeps an owner: removing or demoting the last one is refused. Cascades are
-- let through (the workspace or the auth user is already gone by the time the member row goes).
-- SECURITY DEFINER: it must see every member and lock the workspace whoever runs the statement.
CREATE FUNCTION public.keep_an_owner() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = ''
AS $$
BEGIN
    IF OLD.role <> 'owner' OR (TG_OP = 'UPDATE' AND NEW.role = 'owner') THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = OLD.user_id) THEN
        RETURN NULL;
    END IF;
    -- Lock the workspace so two owners removing each other at once cannot both succeed.
    PERFORM 1 FROM public.workspaces w WHERE w.id = OLD.workspace_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM public.workspace_members m
        WHERE m.workspace_id = OLD.workspace_id AND m.role = 'owner'
    ) THEN
        RAISE EXCEPTION 'a workspace must keep at least one owner'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'workspace_members_last_owner';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER workspace_members_keep_an_owner
    AFTER UPDATE OF role OR DELETE ON public.workspace_members
    FOR EACH ROW EXECUTE FUNCTION public.keep_an_owner();


-- ---------------------------------------------------------------------------------------------
-- Connections: Instagram accounts and Drive folders
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.instagram_accounts (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id            uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    ig_user_id              text NOT NULL,
    username                text,
    name                    text,
    profile_picture_url     text,
    account_type            text,
    followers_count         integer CHECK (followers_count >= 0),
    -- Long-lived token, AES-GCM encrypted by sociallab.crypto; never selectable by `authenticated`.
    token_ciphertext        bytea,
    token_key_id            text,
    token_expires_at        timestamptz,
    token_refreshed_at      timestamptz,  -- when the current token was obtained or last refreshed
    scopes                  text[] NOT NULL DEFAULT '{}',
    status                  text NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'reauth_required', 'rate_limited', 'disconnected')),
    status_reason           text,
    rate_limited_until      timestamptz,
    usage_pct               numeric(6, 2) CHECK (usage_pct >= 0),  -- last BUC usage header, in %
    last_insights_synced_at timestamptz,
    connected_by            uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT instagram_accounts_workspace_ig_user_key UNIQUE (workspace_id, ig_user_id),
    CONSTRAINT instagram_accounts_id_workspace_key UNIQUE (id, workspace_id),
    CONSTRAINT instagram_accounts_token_key_check
        CHECK ((token_ciphertext IS NULL) = (token_key_id IS NULL)),
    CONSTRAINT instagram_accounts_rate_limited_check
        CHECK (status <> 'rate_limited' OR rate_limited_until IS NOT NULL)
);

CREATE TABLE public.drive_sources (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id       uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    folder_id          text NOT NULL,
    folder_name        text,
    drive_id           text,  -- set for folders on a shared drive
    changes_page_token text,
    last_synced_at     timestamptz,
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'error', 'paused')),
    last_error         text,
    -- Drive push notification channel (changes.watch); channel_token authenticates the calls.
    channel_id          text UNIQUE,
    channel_resource_id text,
    channel_token       text,
    channel_expires_at  timestamptz,
    created_by         uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT drive_sources_workspace_folder_key UNIQUE (workspace_id, folder_id),
    CONSTRAINT drive_sources_id_workspace_key UNIQUE (id, workspace_id)
);


-- ---------------------------------------------------------------------------------------------
-- Content: matches, photos, templates
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.matches (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    external_id  text,  -- id in a fixtures feed, for idempotent imports
    team         text,  -- which of the club's teams plays, when it has several
    opponent     text NOT NULL CHECK (char_length(btrim(opponent)) BETWEEN 1 AND 200),
    kickoff_at   timestamptz NOT NULL,
    venue        text,
    competition  text,
    is_home      boolean NOT NULL DEFAULT true,
    home_score   integer CHECK (home_score >= 0),
    away_score   integer CHECK (away_score >= 0),
    status       text NOT NULL DEFAULT 'scheduled'
                 CHECK (status IN ('scheduled', 'live', 'finished', 'postponed', 'cancelled')),
    player_stats jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(player_stats) = 'array'),
    data         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT matches_id_workspace_key UNIQUE (id, workspace_id),
    CONSTRAINT matches_workspace_external_key UNIQUE (workspace_id, external_id),
    CONSTRAINT matches_finished_score_check
        CHECK (status <> 'finished' OR (home_score IS NOT NULL AND away_score IS NOT NULL))
);
CREATE INDEX matches_workspace_kickoff_idx ON public.matches (workspace_id, kickoff_at);

CREATE TABLE public.media_assets (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id      uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    source            text NOT NULL CHECK (source IN ('upload', 'drive')),
    drive_source_id   uuid,
    drive_file_id     text,
    original_filename text,
    md5               text CHECK (md5 ~ '^[0-9a-f]{32}$'),
    mime_type         text,
    bytes             bigint CHECK (bytes >= 0),
    original_path     text,  -- storage path of the file as received
    normalized_path   text,  -- storage path of the normalised sRGB JPEG
    width             integer CHECK (width > 0),
    height            integer CHECK (height > 0),
    taken_at          timestamptz,
    tags              text[] NOT NULL DEFAULT '{}',
    match_id          uuid,
    status            text NOT NULL DEFAULT 'ready' CHECK (status IN ('processing', 'ready', 'failed')),
    error             text,
    uploaded_by       uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT media_assets_id_workspace_key UNIQUE (id, workspace_id),
    -- A Drive file is imported once per workspace (NULLs, i.e. uploads, never collide), and this is
    -- a plain constraint so `ON CONFLICT (workspace_id, drive_file_id)` works without a predicate.
    CONSTRAINT media_assets_workspace_drive_file_key UNIQUE (workspace_id, drive_file_id),
    CONSTRAINT media_assets_drive_source_fkey FOREIGN KEY (drive_source_id, workspace_id)
        REFERENCES public.drive_sources (id, workspace_id) ON DELETE SET NULL (drive_source_id),
    CONSTRAINT media_assets_match_fkey FOREIGN KEY (match_id, workspace_id)
        REFERENCES public.matches (id, workspace_id) ON DELETE SET NULL (match_id),
    CONSTRAINT media_assets_drive_file_check CHECK (source <> 'drive' OR drive_file_id IS NOT NULL),
    CONSTRAINT media_assets_ready_check
        CHECK (status <> 'ready' OR (normalized_path IS NOT NULL AND width IS NOT NULL AND height IS NOT NULL))
);
CREATE INDEX media_assets_workspace_md5_idx ON public.media_assets (workspace_id, md5);
CREATE INDEX media_assets_workspace_created_idx ON public.media_assets (workspace_id, created_at DESC);
CREATE INDEX media_assets_match_idx ON public.media_assets (match_id) WHERE match_id IS NOT NULL;
CREATE INDEX media_assets_drive_source_idx ON public.media_assets (drive_source_id)
    WHERE drive_source_id IS NOT NULL;

ALTER TABLE public.workspaces
    ADD CONSTRAINT workspaces_logo_asset_fkey FOREIGN KEY (logo_asset_id, id)
        REFERENCES public.media_assets (id, workspace_id) ON DELETE SET NULL (logo_asset_id);

CREATE TABLE public.templates (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id     uuid REFERENCES public.workspaces (id) ON DELETE CASCADE,  -- NULL = built-in
    key              text NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
    name             text,
    description      text,
    -- match_result, matchday, player_spotlight, announcement, quote, ... (extensible: format only)
    content_type     text NOT NULL CHECK (content_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    format           text NOT NULL CHECK (format IN ('feed_4x5', 'square', 'story_9x16')),
    spec             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(spec) = 'object'),
    version          integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    caption_template text,
    is_active        boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- NULLS NOT DISTINCT: built-ins (workspace_id NULL) are unique among themselves too.
    CONSTRAINT templates_workspace_key_format_version_key
        UNIQUE NULLS NOT DISTINCT (workspace_id, key, format, version)
);
CREATE INDEX templates_content_type_idx ON public.templates (content_type, format) WHERE is_active;


-- ---------------------------------------------------------------------------------------------
-- Posts
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.posts (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id         uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    instagram_account_id uuid,
    match_id             uuid,
    template_id          uuid REFERENCES public.templates (id) ON DELETE SET NULL,
    content_type         text CHECK (content_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    content_data         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(content_data) = 'object'),
    -- Makes "create this post once" real, e.g. 'match_result:<match id>' from the matches webhook.
    dedupe_key           text,
    media_type           text NOT NULL DEFAULT 'IMAGE' CHECK (media_type IN ('IMAGE', 'CAROUSEL', 'STORY')),
    status               text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'pending_approval', 'scheduled', 'publishing',
                                           'published', 'failed', 'cancelled')),
    caption              text CHECK (char_length(caption) <= 2200),
    caption_source       text CHECK (caption_source IN ('gemini', 'cache', 'template', 'manual')),
    alt_text             text CHECK (char_length(alt_text) <= 1000),
    first_comment        text CHECK (char_length(first_comment) <= 2200),
    hashtags             text[] NOT NULL DEFAULT '{}' CHECK (cardinality(hashtags) <= 30),
    scheduled_at         timestamptz,
    -- Publishing protocol (DESIGN.md §4). A retry sets next_attempt_at; a user (re)schedule sets
    -- scheduled_at and clears next_attempt_at. Due = coalesce(next_attempt_at, scheduled_at).
    attempts             integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts         integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    next_attempt_at      timestamptz,
    lease_owner          text,
    lease_expires_at     timestamptz,
    container_id         text,
    container_created_at timestamptz,
    -- Carousel: the children the parent container was created from, in order (each child's id is
    -- also on its post_media row, written as soon as that child exists).
    child_container_ids  text[] NOT NULL DEFAULT '{}',
    ig_media_id          text,
    permalink            text,
    published_at         timestamptz,
    first_comment_id     text,  -- set once the first comment is posted, so it is posted once
    last_error           text,
    last_error_code      text,
    failure_reason       text,
    approved_by          uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    approved_at          timestamptz,
    created_by           uuid DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT posts_id_workspace_key UNIQUE (id, workspace_id),
    CONSTRAINT posts_ig_media_id_key UNIQUE (ig_media_id),
    CONSTRAINT posts_workspace_dedupe_key UNIQUE (workspace_id, dedupe_key),
    CONSTRAINT posts_instagram_account_fkey FOREIGN KEY (instagram_account_id, workspace_id)
        REFERENCES public.instagram_accounts (id, workspace_id),
    CONSTRAINT posts_match_fkey FOREIGN KEY (match_id, workspace_id)
        REFERENCES public.matches (id, workspace_id) ON DELETE SET NULL (match_id),
    CONSTRAINT posts_account_required_check
        CHECK (instagram_account_id IS NOT NULL OR status IN ('draft', 'pending_approval', 'cancelled')),
    CONSTRAINT posts_scheduled_at_check CHECK (status <> 'scheduled' OR scheduled_at IS NOT NULL),
    CONSTRAINT posts_lease_check CHECK (status <> 'publishing' OR lease_expires_at IS NOT NULL),
    CONSTRAINT posts_published_check
        CHECK (status <> 'published' OR (ig_media_id IS NOT NULL AND published_at IS NOT NULL)),
    CONSTRAINT posts_failed_check CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
);

-- The publisher's claim: WHERE status = 'scheduled' AND coalesce(next_attempt_at, scheduled_at) <= now()
-- ORDER BY coalesce(next_attempt_at, scheduled_at). Partial, so it only holds the waiting posts.
CREATE INDEX posts_due_idx ON public.posts ((coalesce(next_attempt_at, scheduled_at)))
    WHERE status = 'scheduled';
-- Reclaiming crashed runs: WHERE status = 'publishing' AND lease_expires_at < now().
CREATE INDEX posts_lease_idx ON public.posts (lease_expires_at) WHERE status = 'publishing';
CREATE INDEX posts_workspace_scheduled_idx ON public.posts (workspace_id, scheduled_at);
CREATE INDEX posts_workspace_created_idx ON public.posts (workspace_id, created_at DESC);
CREATE INDEX posts_account_status_idx ON public.posts (instagram_account_id, status);
CREATE INDEX posts_match_idx ON public.posts (match_id) WHERE match_id IS NOT NULL;
CREATE INDEX posts_template_idx ON public.posts (template_id) WHERE template_id IS NOT NULL;

-- Rules a CHECK cannot express, because they compare with the previous row or another table.
CREATE FUNCTION public.posts_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Once Instagram returned a media id, it is the post's forever: never two media ids.
        IF OLD.ig_media_id IS NOT NULL AND NEW.ig_media_id IS DISTINCT FROM OLD.ig_media_id THEN
            RAISE EXCEPTION 'post % already has Instagram media %', OLD.id, OLD.ig_media_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'posts_ig_media_id_immutable';
        END IF;
        IF OLD.status = 'published' AND NEW.status <> 'published' THEN
            RAISE EXCEPTION 'post % is published; that is final', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'posts_published_is_final';
        END IF;
    END IF;
    -- A post uses a built-in template or one of its own workspace.
    IF NEW.template_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.template_id IS DISTINCT FROM OLD.template_id)
       AND NOT EXISTS (
           SELECT 1 FROM public.templates t
           WHERE t.id = NEW.template_id
             AND (t.workspace_id IS NULL OR t.workspace_id = NEW.workspace_id)
       ) THEN
        RAISE EXCEPTION 'template % is not available to this workspace', NEW.template_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'posts_template_workspace_fkey';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER posts_guard
    BEFORE INSERT OR UPDATE ON public.posts
    FOR EACH ROW EXECUTE FUNCTION public.posts_guard();

-- The ordered images of a post (one for IMAGE/STORY, 2-10 for CAROUSEL).
CREATE TABLE public.post_media (
    post_id            uuid NOT NULL,
    workspace_id       uuid NOT NULL,
    position           smallint NOT NULL CHECK (position BETWEEN 0 AND 9),
    asset_id           uuid,  -- the source photo; NULL when it was deleted later
    storage_path       text,  -- the composed JPEG that is published
    width              integer CHECK (width > 0),
    height             integer CHECK (height > 0),
    child_container_id text,  -- carousel child container, saved the moment Instagram returns it
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, position),
    CONSTRAINT post_media_post_fkey FOREIGN KEY (post_id, workspace_id)
        REFERENCES public.posts (id, workspace_id) ON DELETE CASCADE,
    CONSTRAINT post_media_asset_fkey FOREIGN KEY (asset_id, workspace_id)
        REFERENCES public.media_assets (id, workspace_id) ON DELETE SET NULL (asset_id)
);
CREATE INDEX post_media_asset_idx ON public.post_media (asset_id) WHERE asset_id IS NOT NULL;

-- Append-only audit: every transition and every external call outcome.
CREATE TABLE public.post_events (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    post_id      uuid NOT NULL,
    workspace_id uuid NOT NULL,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),  -- e.g. status, container.created
    from_status  text CHECK (from_status IN ('draft', 'pending_approval', 'scheduled', 'publishing',
                                             'published', 'failed', 'cancelled')),
    to_status    text CHECK (to_status IN ('draft', 'pending_approval', 'scheduled', 'publishing',
                                           'published', 'failed', 'cancelled')),
    detail       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    actor        text,  -- 'user:<uuid>', 'publish-due', 'webhook', ...
    -- clock_timestamp, not now(): several events written in one transaction keep their order.
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Only through posts (no direct workspace FK), so the only cascade path runs after the post is gone.
    CONSTRAINT post_events_post_fkey FOREIGN KEY (post_id, workspace_id)
        REFERENCES public.posts (id, workspace_id) ON DELETE CASCADE
);
CREATE INDEX post_events_post_idx ON public.post_events (post_id, created_at);

-- Nobody rewrites history, not even the service: rows go only together with their post.
CREATE FUNCTION public.post_events_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM public.posts p WHERE p.id = OLD.post_id) THEN
            RETURN OLD;  -- cascade from deleting the post (or its workspace)
        END IF;
    END IF;
    RAISE EXCEPTION 'post_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER post_events_append_only
    BEFORE UPDATE OR DELETE ON public.post_events
    FOR EACH ROW EXECUTE FUNCTION public.post_events_append_only();
CREATE TRIGGER post_events_no_truncate
    BEFORE TRUNCATE ON public.post_events
    FOR EACH STATEMENT EXECUTE FUNCTION public.post_events_append_only();


-- ---------------------------------------------------------------------------------------------
-- Service bookkeeping (never visible to users)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.caption_cache (
    key         text PRIMARY KEY,  -- hash of model + prompt inputs
    model       text NOT NULL,
    response    jsonb NOT NULL,
    hits        integer NOT NULL DEFAULT 0 CHECK (hits >= 0),
    last_hit_at timestamptz,
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Fixed-window counters: per-user HTTP rate limit, Gemini daily budget, API call counts.
CREATE TABLE public.usage_counters (
    scope        text NOT NULL CHECK (scope ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL DEFAULT 0 CHECK (count >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key, window_start)
);
CREATE INDEX usage_counters_window_idx ON public.usage_counters (window_start);

-- Deduplication of webhook deliveries and scheduler ticks: INSERT ... ON CONFLICT DO NOTHING.
CREATE TABLE public.webhook_receipts (
    source       text NOT NULL,  -- 'supabase.matches', 'drive.channel', 'scheduler.publish-due', ...
    delivery_key text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    result       jsonb,
    PRIMARY KEY (source, delivery_key)
);
CREATE INDEX webhook_receipts_received_idx ON public.webhook_receipts (received_at);

-- Single-use OAuth `state` for the Instagram login.
CREATE TABLE public.oauth_states (
    nonce        text PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    redirect_to  text,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_expires_idx ON public.oauth_states (expires_at);


-- ---------------------------------------------------------------------------------------------
-- Insights
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.account_insights (
    workspace_id         uuid NOT NULL,
    instagram_account_id uuid NOT NULL,
    metric               text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,63}$'),
    period               text NOT NULL DEFAULT 'day' CHECK (period IN ('day', 'week', 'days_28', 'lifetime')),
    day                  date NOT NULL,  -- the (UTC) day the value is for
    value                numeric NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instagram_account_id, metric, period, day),
    CONSTRAINT account_insights_account_fkey FOREIGN KEY (instagram_account_id, workspace_id)
        REFERENCES public.instagram_accounts (id, workspace_id) ON DELETE CASCADE
);
CREATE INDEX account_insights_workspace_idx ON public.account_insights (workspace_id, day);

-- Latest snapshot per Instagram media (also media published outside SocialLab: post_id NULL).
CREATE TABLE public.media_insights (
    workspace_id         uuid NOT NULL,
    instagram_account_id uuid NOT NULL,
    ig_media_id          text NOT NULL,
    post_id              uuid,
    media_type           text,
    posted_at            timestamptz,  -- the media's timestamp on Instagram
    reach                bigint CHECK (reach >= 0),
    likes                bigint CHECK (likes >= 0),
    comments             bigint CHECK (comments >= 0),
    saved                bigint CHECK (saved >= 0),
    shares               bigint CHECK (shares >= 0),
    total_interactions   bigint CHECK (total_interactions >= 0),
    views                bigint CHECK (views >= 0),
    fetched_at           timestamptz NOT NULL DEFAULT now(),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instagram_account_id, ig_media_id),
    CONSTRAINT media_insights_account_fkey FOREIGN KEY (instagram_account_id, workspace_id)
        REFERENCES public.instagram_accounts (id, workspace_id) ON DELETE CASCADE,
    CONSTRAINT media_insights_post_fkey FOREIGN KEY (post_id, workspace_id)
        REFERENCES public.posts (id, workspace_id) ON DELETE SET NULL (post_id)
);
CREATE INDEX media_insights_post_idx ON public.media_insights (post_id) WHERE post_id IS NOT NULL;
CREATE INDEX media_insights_workspace_idx ON public.media_insights (workspace_id, posted_at);

-- When followers are online (from `online_followers`), by UTC weekday (0 = Sunday) and hour.
CREATE TABLE public.audience_online_hours (
    workspace_id         uuid NOT NULL,
    instagram_account_id uuid NOT NULL,
    weekday              smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    hour                 smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    followers_online     numeric NOT NULL CHECK (followers_online >= 0),
    samples              integer NOT NULL DEFAULT 1 CHECK (samples >= 1),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instagram_account_id, weekday, hour),
    CONSTRAINT audience_online_hours_account_fkey FOREIGN KEY (instagram_account_id, workspace_id)
        REFERENCES public.instagram_accounts (id, workspace_id) ON DELETE CASCADE
);
CREATE INDEX audience_online_hours_workspace_idx ON public.audience_online_hours (workspace_id);


-- ---------------------------------------------------------------------------------------------
-- Notifications for the frontend ("reconnect Instagram")
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.notifications (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),  -- e.g. instagram.reauth_required
    severity     text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'error')),
    message      text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    -- One unread notification per key: INSERT ... ON CONFLICT (workspace_id, dedupe_key)
    -- WHERE read_at IS NULL DO NOTHING keeps a failing job from repeating itself every minute.
    dedupe_key   text,
    read_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_workspace_created_idx ON public.notifications (workspace_id, created_at DESC);
CREATE UNIQUE INDEX notifications_unread_dedupe_key ON public.notifications (workspace_id, dedupe_key)
    WHERE read_at IS NULL;


-- ---------------------------------------------------------------------------------------------
-- updated_at
-- ---------------------------------------------------------------------------------------------

CREATE TRIGGER workspaces_updated_at BEFORE UPDATE ON public.workspaces
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER workspace_members_updated_at BEFORE UPDATE ON public.workspace_members
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER instagram_accounts_updated_at BEFORE UPDATE ON public.instagram_accounts
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER drive_sources_updated_at BEFORE UPDATE ON public.drive_sources
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER matches_updated_at BEFORE UPDATE ON public.matches
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER media_assets_updated_at BEFORE UPDATE ON public.media_assets
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER templates_updated_at BEFORE UPDATE ON public.templates
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER posts_updated_at BEFORE UPDATE ON public.posts
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER post_media_updated_at BEFORE UPDATE ON public.post_media
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER usage_counters_updated_at BEFORE UPDATE ON public.usage_counters
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER account_insights_updated_at BEFORE UPDATE ON public.account_insights
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER media_insights_updated_at BEFORE UPDATE ON public.media_insights
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER audience_online_hours_updated_at BEFORE UPDATE ON public.audience_online_hours
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER notifications_updated_at BEFORE UPDATE ON public.notifications
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


-- ---------------------------------------------------------------------------------------------
-- Membership helpers for policies and for the frontend
-- ---------------------------------------------------------------------------------------------

-- Is the current user (auth.uid()) a member of the workspace with at least `min_role`
-- (viewer < editor < owner)? SECURITY DEFINER so policies do not recurse into
-- workspace_members' own policy; an unknown role name answers false.
CREATE FUNCTION public.is_member(p_workspace_id uuid, p_min_role text DEFAULT 'viewer')
    RETURNS boolean
    LANGUAGE sql
    STABLE
    SECURITY DEFINER
    SET search_path = ''
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM public.workspace_members m
        WHERE m.workspace_id = p_workspace_id
          AND m.user_id = auth.uid()
          AND m.role = ANY (CASE p_min_role
                                WHEN 'viewer' THEN ARRAY['viewer', 'editor', 'owner']
                                WHEN 'editor' THEN ARRAY['editor', 'owner']
                                WHEN 'owner' THEN ARRAY['owner']
                            END)
    )
$$;

-- The frontend creates a workspace with `rpc('create_workspace', ...)`: the workspace and the
-- caller's owner membership in one step (a plain INSERT could not pass the members-only policies).
CREATE FUNCTION public.create_workspace(p_name text, p_timezone text DEFAULT 'UTC')
    RETURNS uuid
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = ''
AS $$
DECLARE
    caller uuid := auth.uid();
    new_id uuid;
BEGIN
    IF caller IS NULL THEN
        RAISE EXCEPTION 'create_workspace needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.workspaces (name, timezone, created_by)
    VALUES (p_name, p_timezone, caller)
    RETURNING id INTO new_id;
    INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES (new_id, caller, 'owner');
    RETURN new_id;
END
$$;


-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------
-- Start from nothing (Supabase's default privileges grant everything to anon and authenticated),
-- then grant `authenticated` exactly what the policies below allow, column by column where the
-- frontend may write only some columns. Statuses, leases, Instagram ids, tokens and storage paths
-- are written by the functions only. `anon` gets nothing. `service_role` (BYPASSRLS) gets all.

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, anon, authenticated;
GRANT ALL ON ALL TABLES IN SCHEMA public TO service_role;

-- Tables created later by this role are private until a migration grants them.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM PUBLIC, anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO service_role;

REVOKE ALL ON FUNCTION
    public.set_updated_at(), public.check_workspace_timezone(), public.keep_an_owner(),
    public.posts_guard(), public.post_events_append_only(),
    public.is_member(uuid, text), public.create_workspace(text, text)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.is_member(uuid, text) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION public.create_workspace(text, text) TO authenticated;

GRANT SELECT ON public.workspaces TO authenticated;
GRANT UPDATE (name, timezone, primary_color, secondary_color, accent_color, logo_asset_id, font,
              caption_language, caption_tone, default_hashtags, require_approval, default_post_time)
    ON public.workspaces TO authenticated;

GRANT SELECT, DELETE ON public.workspace_members TO authenticated;
GRANT INSERT (workspace_id, user_id, role), UPDATE (role) ON public.workspace_members TO authenticated;

-- Every column but the token.
GRANT SELECT (id, workspace_id, ig_user_id, username, name, profile_picture_url, account_type,
              followers_count, token_expires_at, token_refreshed_at, scopes, status, status_reason,
              rate_limited_until, usage_pct, last_insights_synced_at, connected_by, created_at, updated_at)
    ON public.instagram_accounts TO authenticated;

-- Every column but the push channel's token.
GRANT SELECT (id, workspace_id, folder_id, folder_name, drive_id, changes_page_token, last_synced_at,
              status, last_error, channel_id, channel_resource_id, channel_expires_at, created_by,
              created_at, updated_at)
    ON public.drive_sources TO authenticated;
GRANT INSERT (id, workspace_id, folder_id, folder_name, drive_id), UPDATE (folder_name, status), DELETE
    ON public.drive_sources TO authenticated;

-- Photos arrive through the `assets` and `drive-sync` functions (normalisation, storage); the
-- frontend may tag them and link them to a match. Deleting goes through `assets` too (storage
-- cleanup, and the 409 while a scheduled post uses the photo).
GRANT SELECT ON public.media_assets TO authenticated;
GRANT UPDATE (tags, match_id, taken_at) ON public.media_assets TO authenticated;

GRANT SELECT, DELETE ON public.matches TO authenticated;
GRANT INSERT (id, workspace_id, external_id, team, opponent, kickoff_at, venue, competition, is_home,
              home_score, away_score, status, player_stats, data),
      UPDATE (external_id, team, opponent, kickoff_at, venue, competition, is_home, home_score,
              away_score, status, player_stats, data)
    ON public.matches TO authenticated;

GRANT SELECT, DELETE ON public.templates TO authenticated;
GRANT INSERT (id, workspace_id, key, name, description, content_type, format, spec, version,
              caption_template, is_active),
      UPDATE (name, description, spec, caption_template, is_active)
    ON public.templates TO authenticated;

-- Drafts only: approving, scheduling and everything after go through the `posts` function.
GRANT SELECT, DELETE ON public.posts TO authenticated;
GRANT INSERT (id, workspace_id, instagram_account_id, match_id, template_id, content_type, media_type,
              caption, alt_text, first_comment, hashtags, scheduled_at),
      UPDATE (instagram_account_id, match_id, template_id, caption, alt_text, first_comment, hashtags,
              scheduled_at)
    ON public.posts TO authenticated;

GRANT SELECT ON public.post_media, public.post_events TO authenticated;
GRANT SELECT ON public.account_insights, public.media_insights, public.audience_online_hours TO authenticated;

GRANT SELECT ON public.notifications TO authenticated;
GRANT UPDATE (read_at) ON public.notifications TO authenticated;

-- caption_cache, usage_counters, webhook_receipts, oauth_states: no grant to anon/authenticated.


-- ---------------------------------------------------------------------------------------------
-- Row level security: on for every table (schema_migrations excepted: nobody but the
-- migrating role has any privilege on it). A table with RLS and no policy shows nothing.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE public.workspaces            ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_members     ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.instagram_accounts    ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.drive_sources         ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.matches               ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.media_assets          ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.templates             ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.posts                 ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.post_media            ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.post_events           ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.caption_cache         ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.usage_counters        ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.webhook_receipts      ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.oauth_states          ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.account_insights      ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.media_insights        ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.audience_online_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.notifications         ENABLE ROW LEVEL SECURITY;

-- workspaces: members read; owners edit the brand kit. Created by create_workspace().
CREATE POLICY members_read ON public.workspaces FOR SELECT TO authenticated
    USING (public.is_member(id));
CREATE POLICY owners_update ON public.workspaces FOR UPDATE TO authenticated
    USING (public.is_member(id, 'owner'));

-- workspace_members: members see who else is in; owners manage; anyone may leave.
CREATE POLICY members_read ON public.workspace_members FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY owners_insert ON public.workspace_members FOR INSERT TO authenticated
    WITH CHECK (public.is_member(workspace_id, 'owner'));
CREATE POLICY owners_update ON public.workspace_members FOR UPDATE TO authenticated
    USING (public.is_member(workspace_id, 'owner'));
CREATE POLICY owners_delete_or_leave ON public.workspace_members FOR DELETE TO authenticated
    USING (public.is_member(workspace_id, 'owner') OR user_id = auth.uid());

-- Read-only to members (written by the functions).
CREATE POLICY members_read ON public.instagram_accounts FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY members_read ON public.media_assets FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY members_read ON public.post_media FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY members_read ON public.post_events FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY members_read ON public.account_insights FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY members_read ON public.media_insights FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY members_read ON public.audience_online_hours FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));

CREATE POLICY editors_update ON public.media_assets FOR UPDATE TO authenticated
    USING (public.is_member(workspace_id, 'editor'));

-- drive_sources and matches: members read, editors write.
CREATE POLICY members_read ON public.drive_sources FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY editors_insert ON public.drive_sources FOR INSERT TO authenticated
    WITH CHECK (public.is_member(workspace_id, 'editor'));
CREATE POLICY editors_update ON public.drive_sources FOR UPDATE TO authenticated
    USING (public.is_member(workspace_id, 'editor'));
CREATE POLICY editors_delete ON public.drive_sources FOR DELETE TO authenticated
    USING (public.is_member(workspace_id, 'editor'));

CREATE POLICY members_read ON public.matches FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY editors_insert ON public.matches FOR INSERT TO authenticated
    WITH CHECK (public.is_member(workspace_id, 'editor'));
CREATE POLICY editors_update ON public.matches FOR UPDATE TO authenticated
    USING (public.is_member(workspace_id, 'editor'));
CREATE POLICY editors_delete ON public.matches FOR DELETE TO authenticated
    USING (public.is_member(workspace_id, 'editor'));

-- templates: built-ins readable by every signed-in user, never writable by one.
CREATE POLICY builtin_or_members_read ON public.templates FOR SELECT TO authenticated
    USING (workspace_id IS NULL OR public.is_member(workspace_id));
CREATE POLICY editors_insert ON public.templates FOR INSERT TO authenticated
    WITH CHECK (workspace_id IS NOT NULL AND public.is_member(workspace_id, 'editor'));
CREATE POLICY editors_update ON public.templates FOR UPDATE TO authenticated
    USING (workspace_id IS NOT NULL AND public.is_member(workspace_id, 'editor'));
CREATE POLICY editors_delete ON public.templates FOR DELETE TO authenticated
    USING (workspace_id IS NOT NULL AND public.is_member(workspace_id, 'editor'));

-- posts: editors create and edit drafts; they delete posts that never went (and never will go) out.
CREATE POLICY members_read ON public.posts FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY editors_insert_drafts ON public.posts FOR INSERT TO authenticated
    WITH CHECK (public.is_member(workspace_id, 'editor') AND status = 'draft');
CREATE POLICY editors_update_drafts ON public.posts FOR UPDATE TO authenticated
    USING (public.is_member(workspace_id, 'editor') AND status IN ('draft', 'pending_approval'));
CREATE POLICY editors_delete_unpublished ON public.posts FOR DELETE TO authenticated
    USING (public.is_member(workspace_id, 'editor')
           AND status IN ('draft', 'pending_approval', 'cancelled', 'failed'));

-- notifications: members read; editors mark them read.
CREATE POLICY members_read ON public.notifications FOR SELECT TO authenticated
    USING (public.is_member(workspace_id));
CREATE POLICY editors_update ON public.notifications FOR UPDATE TO authenticated
    USING (public.is_member(workspace_id, 'editor'));
