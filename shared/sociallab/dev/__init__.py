"""Parts of the dev server (`python -m sociallab.devserver`): never imported by deployed functions."""
