"""Personas, pictures and threads (issue 17): answers and corrections record the persona (system prompt) and the
pictures the model was given; servers and channels have personas; the threads the bot opened continue their
conversation, which is looked up by conversation id."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger


def upgrade() -> None:
    for table in ("answers", "corrections"):
        op.add_column(table, sa.Column("system_prompt", sa.Text, nullable=True))
        op.add_column(table, sa.Column("images", sa.JSON, nullable=True))
    op.create_index("ix_answers_conversation", "answers", ["conversation_id", "id"])
    op.create_table(
        "personas",
        sa.Column("guild_id", Id, primary_key=True),
        sa.Column("channel_id", Id, primary_key=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("updated_by", Id, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bot_threads",
        sa.Column("thread_id", Id, primary_key=True),
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("parent_channel_id", Id, nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("started_by", Id, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bot_threads")
    op.drop_table("personas")
    op.drop_index("ix_answers_conversation", table_name="answers")
    for table in ("corrections", "answers"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("images")
            batch.drop_column("system_prompt")
