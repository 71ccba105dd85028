"""Knowledge sources (issue 27): channels, threads and files an admin added, split into passages with a full-text
index over their terms (an FTS5 table kept by triggers on SQLite, a generated tsvector with a GIN index on
PostgreSQL), and their embeddings (optional)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import KNOWLEDGE_POSTGRESQL_DDL, KNOWLEDGE_SQLITE_DDL

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel_id", sa.BigInteger, nullable=True),
        sa.Column("pinned_only", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("filename", sa.String(200), nullable=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("added_by", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_id", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_knowledge_sources_guild", "knowledge_sources", ["guild_id"])
    op.create_index("ix_knowledge_sources_channel", "knowledge_sources", ["channel_id"])
    op.create_table(
        "knowledge_passages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("knowledge_sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("channel_id", sa.BigInteger, nullable=True),
        sa.Column("message_id", sa.BigInteger, nullable=True),
        sa.Column("section", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
    )
    op.create_index("ix_knowledge_passages_source", "knowledge_passages", ["source_id", "message_id"])
    op.create_index("ix_knowledge_passages_guild", "knowledge_passages", ["guild_id"])
    op.create_table(
        "knowledge_embeddings",
        sa.Column(
            "passage_id",
            sa.Integer,
            sa.ForeignKey("knowledge_passages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_knowledge_embeddings_guild", "knowledge_embeddings", ["guild_id"])
    ddl = KNOWLEDGE_POSTGRESQL_DDL if op.get_bind().dialect.name == "postgresql" else KNOWLEDGE_SQLITE_DDL
    for statement in ddl:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("knowledge_fts_insert", "knowledge_fts_update", "knowledge_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    op.drop_table("knowledge_embeddings")
    op.drop_table("knowledge_passages")
    op.drop_table("knowledge_sources")
