"""Partner connectors. Each is an installed Django app (it may own tables) that
registers its interface type and functions with `passgate.jobs.registry` in its
AppConfig.ready(). Connectors depend on the core rooms; no core room imports a
connector (scripts/check_imports.py enforces it)."""
