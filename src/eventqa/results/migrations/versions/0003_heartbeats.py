"""Heartbeats of long-running processes (the hand-rolled schema's version 3)."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create heartbeats."""
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(255)),
    )


def downgrade() -> None:
    """Drop heartbeats."""
    op.drop_table("heartbeats")
