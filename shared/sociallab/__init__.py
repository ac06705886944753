"""SocialLab: match photos and match data in, branded Instagram posts out, published exactly once.

One convention for services: they take the transaction or database, the clients and the storage
they work with as parameters. Only the entry points (`functions/*/main.py`, and `sociallab.dev` for
`make run`) get them with `get_db()`, `get_storage()` and clients built from `get_settings()`; the
HTTP router (`sociallab.http`) is the one library part that uses `get_db()` itself (rate limits,
health). `sociallab.dev` is never imported by anything else (tests/unit/test_boundaries.py).
"""
