"""Runs, their events' results and every check's result (the hand-rolled schema's version 1)."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create runs, event_results and check_results."""
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "event_results",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("event", sa.String(255), primary_key=True),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("row_count", sa.BigInteger),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_event_results_event", "event_results", ["event", "run_id"])
    op.create_table(
        "check_results",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("expectation_type", sa.String(255), nullable=False),
        sa.Column("column_name", sa.String(1024)),
        sa.Column("check_kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("origin", sa.String(1024), nullable=False),
        sa.Column("unexpected_count", sa.BigInteger),
        sa.Column("element_count", sa.BigInteger),
        sa.Column("unexpected_percent", sa.Float),
        sa.Column("observed_value", sa.Text),
        sa.Column("expected", sa.Text),
        sa.Column("samples", sa.Text),
        sa.Column("error", sa.Text),
    )


def downgrade() -> None:
    """Drop the run tables."""
    op.drop_table("check_results")
    op.drop_index("ix_event_results_event", "event_results")
    op.drop_table("event_results")
    op.drop_table("runs")
