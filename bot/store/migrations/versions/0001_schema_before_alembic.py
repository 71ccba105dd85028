"""The schema as teachbot created it before Alembic (its own schema_version table at version 1).

A new database runs this revision. A database made by those builds is adopted instead (`bot.store.migrate`): tables
it lacks are created from SCHEMA below, guild_settings.previous_model is added where schema_version was still 0,
and it is stamped with this revision. SCHEMA is a snapshot: it never changes; later revisions change the database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger
SCHEMA = sa.MetaData()

sa.Table(
    "answers",
    SCHEMA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=True),
    sa.Column("channel_id", Id, nullable=False),
    sa.Column("user_id", Id, nullable=False),
    sa.Column("conversation_id", sa.String(32), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("transcript", sa.Text, nullable=True),
    sa.Column("message_ids", sa.JSON, nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=True),
    sa.Column("completion_tokens", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_answers_memory", "channel_id", "user_id", "id"),
    sa.Index("ix_answers_guild_user", "guild_id", "user_id", "id"),
)
sa.Table(
    "guild_settings",
    SCHEMA,
    sa.Column("guild_id", Id, primary_key=True),
    sa.Column("active_model", sa.String(200), nullable=True),
    sa.Column("previous_model", sa.String(200), nullable=True),
    sa.Column("updated_by", Id, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)
schema_version = sa.Table(
    "schema_version",
    SCHEMA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
sa.Table(
    "corrections",
    SCHEMA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("answer_id", sa.Integer, sa.ForeignKey("answers.id"), nullable=False),
    sa.Column("guild_id", Id, nullable=True),
    sa.Column("channel_id", Id, nullable=False),
    sa.Column("author_id", Id, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("original_answer", sa.Text, nullable=False),
    sa.Column("corrected_answer", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("transcript", sa.Text, nullable=True),
    sa.Column("corrected_transcript", sa.Text, nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reviewer_id", Id, nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_corrections_queue", "guild_id", "status", "id"),
    sa.Index("ix_corrections_author_answer", "answer_id", "author_id", "status"),
)
sa.Table(
    "training_jobs",
    SCHEMA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("channel_id", Id, nullable=False),
    sa.Column("requester_id", Id, nullable=False),
    sa.Column("backend", sa.String(32), nullable=False),
    sa.Column("remote_id", sa.String(200), nullable=False, unique=True),
    sa.Column("base_model", sa.String(200), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("suffix", sa.String(64), nullable=True),
    sa.Column("dataset_sha256", sa.String(64), nullable=False),
    sa.Column("dataset_examples", sa.Integer, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("fine_tuned_model", sa.String(300), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("steps_done", sa.Integer, nullable=True),
    sa.Column("total_steps", sa.Integer, nullable=True),
    sa.Column("last_event_id", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_training_jobs_guild", "guild_id", "id"),
)
sa.Table(
    "job_events",
    SCHEMA,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("training_jobs.id"), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("step", sa.Integer, nullable=True),
    sa.Column("total_steps", sa.Integer, nullable=True),
    sa.Column("train_loss", sa.Float, nullable=True),
    sa.Column("valid_loss", sa.Float, nullable=True),
)


def upgrade() -> None:
    bind = op.get_bind()
    SCHEMA.create_all(bind, checkfirst=False)
    # Kept at 1 so that an older build started on this database finds nothing to upgrade.
    bind.execute(sa.insert(schema_version).values(id=1, version=1))


def downgrade() -> None:
    SCHEMA.drop_all(op.get_bind())
