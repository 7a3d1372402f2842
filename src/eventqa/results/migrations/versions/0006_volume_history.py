"""Volume history: counts per event and bucket, coverage, flagged buckets, one-time notices.

The coverage is the period of each table whose counts are stored (never rescanned); flagged
buckets stay out of later baselines; notices (an event never seen) are said once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create volume_counts, volume_coverage, volume_flags and volume_notices."""
    op.create_table(
        "volume_counts",
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("event_name", sa.String(255), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("newest", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "volume_coverage",
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("bucket_seconds", sa.Integer, nullable=False),
        sa.Column("covered_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("covered_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "volume_flags",
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("event_name", sa.String(255), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("anomaly", sa.String(16), nullable=False),
    )
    op.create_table(
        "volume_notices",
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("event_name", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the volume tables."""
    for table in ("volume_notices", "volume_flags", "volume_coverage", "volume_counts"):
        op.drop_table(table)
