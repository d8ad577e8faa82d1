"""Admin backfill command: fill, verify and repair the mirror (`python -m functions.backfill`)."""
