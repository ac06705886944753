"""Posts and their schedule: the posts API (validation, the state machine, events, local times,
best times) and the publisher (`publisher*.py`).

Importing this package imports nothing heavy: `publish-due` imports only what it needs.
"""
