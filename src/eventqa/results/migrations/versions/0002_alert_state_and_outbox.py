"""Alert state per event and the outbox of Slack messages (the hand-rolled schema's version 2)."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create alert_state and outbox."""
    op.create_table(
        "alert_state",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("channel", sa.String(255)),
        sa.Column("first_failed_at", sa.DateTime(timezone=True)),
        sa.Column("last_alerted_at", sa.DateTime(timezone=True)),
        sa.Column("thread_alert_id", sa.String(128)),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("thread_of", sa.String(128)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("ts", sa.String(64)),
    )
    op.create_index("ix_outbox_pending", "outbox", ["delivered_at", "created_at"])


def downgrade() -> None:
    """Drop the alerting tables."""
    op.drop_index("ix_outbox_pending", "outbox")
    op.drop_table("outbox")
    op.drop_table("alert_state")
