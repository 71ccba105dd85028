"""/model test's cost ceiling (issue 21): the model calls each test made (its reservation while it runs), counted
against its server's budget, and the message showing it, which a second /model test links to."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_tests", sa.Column("calls", sa.Integer, nullable=False, server_default="0"))
    op.add_column("model_tests", sa.Column("channel_id", sa.BigInteger, nullable=True))
    op.add_column("model_tests", sa.Column("message_id", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_tests") as batch:
        batch.drop_column("message_id")
        batch.drop_column("channel_id")
        batch.drop_column("calls")
