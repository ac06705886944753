"""Posts and their schedule: the posts API (validation, the state machine, events, local times,
best times). Publishing them is `sociallab.publishing`.

Importing this package imports nothing heavy.
"""
