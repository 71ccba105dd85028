"""One-tap feedback (issue 26): members' 👍/👎 on answers, and endorsements (👍 answers) in the review queue."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_votes",
        sa.Column("answer_id", sa.Integer, sa.ForeignKey("answers.id"), primary_key=True),
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("guild_id", sa.BigInteger, nullable=True),
        sa.Column("vote", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_answer_votes_guild", "answer_votes", ["guild_id", "vote"])
    op.add_column("corrections", sa.Column("kind", sa.String(16), nullable=False, server_default="correction"))


def downgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_answer_votes_guild", table_name="answer_votes")
    op.drop_table("answer_votes")
