"""Everything only `make run` and the tests use; never deployed, and nothing outside imports it.

- `server` (`python -m sociallab.dev.server`, what `make run` starts) with its parts: `environment`
  (local stand-ins for what is unset), `loader` (the functions as functions-framework apps), `cron`,
  `preview` (the page at `/`), `connect` (the Instagram connect flow for the demo user);
- the demo data: `seed` (workspace, user, matches), `demo` (photos, account, posts, Drive folder),
  `photos` (generated sample photos);
- `sandboxes`: local stand-ins for the Instagram Graph API and Google Drive.

tests/unit/test_boundaries.py checks that no module outside this package imports it and that the
functions' entry points load none of it.
"""
