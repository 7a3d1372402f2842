"""Each check result's stable id (`meta.id`), so history and alerts follow a check across runs."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add check_results.check_id (empty for results stored before ids existed)."""
    op.add_column("check_results", sa.Column("check_id", sa.String(255)))


def downgrade() -> None:
    """Drop check_results.check_id."""
    with op.batch_alter_table("check_results") as batch:
        batch.drop_column("check_id")
