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
        (date_trunc('day', now() AT TIME ZONE 'Europe/Amsterdam') + interval '3 days 15 hours')
            AT TIME ZONE 'Europe/Amsterdam', 'Demo Park',
        'Demo League', true, 'scheduled')
ON CONFLICT (id) DO NOTHING;

-- name: finished_match
INSERT INTO matches (id, workspace_id, opponent, kickoff_at, venue, competition, is_home, home_score, away_score,
                     status, player_stats)
VALUES (%(finished_match_id)s::uuid, %(workspace_id)s::uuid, 'Harbour City',
        (date_trunc('day', now() AT TIME ZONE 'Europe/Amsterdam') - interval '2 days' + interval '15 hours')
            AT TIME ZONE 'Europe/Amsterdam', 'Demo Park',
        'Demo League', true, 3, 1, 'finished',
        '[{"name": "Jonas Müller", "goals": 2, "assists": 0}, {"name": "Martin Ødegaard", "goals": 1, "assists": 1},
          {"name": "Darío Nuñez", "goals": 0, "assists": 2}]'::jsonb)
ON CONFLICT (id) DO NOTHING;
