"""Alembic's entry point: migrate the connection `ResultStore` hands over, in its transaction."""

from alembic import context

from eventqa.results.store import VERSION_TABLE

context.configure(
    connection=context.config.attributes["connection"],
    version_table=VERSION_TABLE,
    # SQLite alters tables by copying them; batch mode does that for drop/alter column.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
