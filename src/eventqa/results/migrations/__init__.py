"""Alembic migrations of the results store, run by `ResultStore` on open (no alembic.ini needed).

Each file in `versions/` is frozen once released: it spells out its own DDL and never reads the
live table definitions in `store.py`, so a fresh database and an upgraded one end up the same.
A new version: copy the latest file, bump `revision` and `down_revision`, write its `op.*` calls
by hand, change the live tables in `store.py` to match (tests/results/test_migrations.py compares).
"""
