-- What Supabase provides, created only where it does not exist, so the same migrations apply to a
-- Supabase project and to a plain PostgreSQL (the embedded one of `make run`, the test suite).

-- Roles are cluster-wide while the migrator's lock is per database: two databases of one server
-- migrating at once may both try to create a role, so losing that race is not an error.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        BEGIN
            CREATE ROLE anon NOLOGIN NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        BEGIN
            CREATE ROLE authenticated NOLOGIN NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        BEGIN
            CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

-- The connecting role must be able to switch to these roles (as Supabase's `authenticator` can).
-- On Supabase `postgres` already is a member and may lack the ADMIN option to grant it again.
DO $$
BEGIN
    IF NOT (pg_has_role(current_user, 'anon', 'MEMBER')
            AND pg_has_role(current_user, 'authenticated', 'MEMBER')
            AND pg_has_role(current_user, 'service_role', 'MEMBER')) THEN
        EXECUTE format('GRANT anon, authenticated, service_role TO %I', current_user);
    END IF;
EXCEPTION WHEN duplicate_object OR invalid_grant_operation OR insufficient_privilege THEN
    NULL;
END
$$;

-- Guarded by existence checks rather than IF NOT EXISTS: `CREATE ... IF NOT EXISTS` still needs
-- CREATE privilege on the schema, which Supabase no longer gives `postgres` on `auth`.
DO $$
BEGIN
    IF to_regnamespace('auth') IS NULL THEN
        CREATE SCHEMA auth;
    END IF;
    IF to_regclass('auth.users') IS NULL THEN
        CREATE TABLE auth.users (
            id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            email      text UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        );
    END IF;
END
$$;

-- Supabase's definition: the `sub` claim of the JWT of the current request.
DO $$
BEGIN
    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
            LANGUAGE sql STABLE
            AS $fn$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
                )::uuid
            $fn$;
    END IF;
END
$$;

-- Supabase grants these itself, and its `postgres` may not hold them with GRANT OPTION.
DO $$
BEGIN
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
    GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
