"""The TIXnGO sandbox (secure mobile wallet): see `app.py` and docs/sandboxes.md."""
