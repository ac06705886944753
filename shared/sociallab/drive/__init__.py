"""Google Drive import: the v3 client, the folder sync, and a local sandbox of the API."""
