"""Local stand-ins for the external APIs, served over real HTTP: `instagram` (the Graph API and
Instagram Login), `drive` (Drive v3 and the service account token endpoint); `start` creates the
ones `make run` finds unconfigured and points the environment at them."""
