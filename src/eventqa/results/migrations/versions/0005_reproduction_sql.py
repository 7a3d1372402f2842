"""Each failed check's reproduction SQL, so the report shows the query that lists its rows."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add check_results.reproduction_sql (NULL for passed checks and older results)."""
    op.add_column("check_results", sa.Column("reproduction_sql", sa.Text))


def downgrade() -> None:
    """Drop check_results.reproduction_sql."""
    with op.batch_alter_table("check_results") as batch:
        batch.drop_column("reproduction_sql")
