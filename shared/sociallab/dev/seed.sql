-- name: user
INSERT INTO auth.users (id, email) VALUES (%(user_id)s::uuid, %(email)s::text)
ON CONFLICT (id) DO NOTHING;

-- name: workspace
INSERT INTO workspaces (id, name, timezone, primary_color, secondary_color, caption_language, caption_tone,
                        default_hashtags)
VALUES (%(workspace_id)s::uuid, 'Demo FC', 'Europe/Amsterdam', '#0B3D91', '#FFD100', 'en', 'proud, upbeat',
        ARRAY['#DemoFC', '#matchday'])
ON CONFLICT (id) DO NOTHING;

-- name: member
INSERT INTO workspace_members (workspace_id, user_id, role)
VALUES (%(workspace_id)s::uuid, %(user_id)s::uuid, 'owner')
ON CONFLICT (workspace_id, user_id) DO NOTHING;

-- name: match
INSERT INTO matches (id, workspace_id, opponent, kickoff_at, venue, competition, is_home, status)
VALUES (%(match_id)s::uuid, %(workspace_id)s::uuid, 'Rivertown United',
        date_trunc('week', now() AT TIME ZONE 'Europe/Amsterdam') + interval '5 days 15 hours', 'Demo Park',
        'Demo League', true, 'scheduled')
ON CONFLICT (id) DO NOTHING;
