"""Several bot processes on one database (issue 16): training jobs and requests are claimed by one process at a time
(a lease), and per-user rate limits are kept in the database on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CLAIMED = ("training_jobs", "training_requests")


def upgrade() -> None:
    for table in CLAIMED:
        op.add_column(table, sa.Column("claimed_by", sa.String(64), nullable=True))
        op.add_column(table, sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "rate_limits",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("hits", sa.JSON, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_rate_limits_expires", "rate_limits", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limits_expires", table_name="rate_limits")
    op.drop_table("rate_limits")
    for table in reversed(CLAIMED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_until")
            batch.drop_column("claimed_by")
