"""Google Drive import: the v3 client, connecting folders (`sources`) and the folder sync.
A local sandbox of the API for `make run` and the tests is `sociallab.dev.sandboxes.drive`."""
