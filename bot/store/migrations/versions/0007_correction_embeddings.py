"""Embeddings of approved corrections' questions, for finding corrections asked in other words (optional)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "correction_embeddings",
        sa.Column("correction_id", sa.Integer, sa.ForeignKey("corrections.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_correction_embeddings_guild_id", "correction_embeddings", ["guild_id"])


def downgrade() -> None:
    op.drop_index("ix_correction_embeddings_guild_id", "correction_embeddings")
    op.drop_table("correction_embeddings")
