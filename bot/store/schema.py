"""The database tables (SQLAlchemy Core), shared by every store module."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Discord ids are 64-bit; BigInteger keeps them exact on PostgreSQL and SQLite alike.
Id = sa.BigInteger

answers = sa.Table(
    "answers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=True),  # None for DMs
    sa.Column("channel_id", Id, nullable=False),
    sa.Column("user_id", Id, nullable=False),
    sa.Column("conversation_id", sa.String(32), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # slash | message | audio | voice
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("transcript", sa.Text, nullable=True),  # what speech recognition heard, for audio and voice
    sa.Column("message_ids", sa.JSON, nullable=False, default=list),
    # Shown only to the asker (an ephemeral /ask private answer); DM answers are private by their guild_id.
    sa.Column("private", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    # False when Discord never got the final message (e.g. a 5xx on the last edit): kept out of memory.
    sa.Column("delivered", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
    sa.Column("prompt_tokens", sa.Integer, nullable=True),
    sa.Column("completion_tokens", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # The persona (system prompt) the model was given; "" for none, NULL for answers older than personas.
    sa.Column("system_prompt", sa.Text, nullable=True),
    # Pictures sent with the question: [{"url", "attachment_id", "sha256"}] (references, never the bytes).
    sa.Column("images", sa.JSON, nullable=True),
    sa.Index("ix_answers_memory", "channel_id", "user_id", "id"),
    sa.Index("ix_answers_guild_user", "guild_id", "user_id", "id"),
    sa.Index("ix_answers_conversation", "conversation_id", "id"),
)

guild_settings = sa.Table(
    "guild_settings",
    metadata,
    sa.Column("guild_id", Id, primary_key=True),
    sa.Column("active_model", sa.String(200), nullable=True),
    sa.Column("previous_model", sa.String(200), nullable=True),  # what /model rollback returns to
    sa.Column("updated_by", Id, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)

# A persona: the system prompt for a whole server (channel_id 0) or for one channel, which wins over the server's.
personas = sa.Table(
    "personas",
    metadata,
    sa.Column("guild_id", Id, primary_key=True),
    sa.Column("channel_id", Id, primary_key=True),  # 0: the server's
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("updated_by", Id, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Threads the bot opened for a conversation: every message in one continues it (only in these threads).
bot_threads = sa.Table(
    "bot_threads",
    metadata,
    sa.Column("thread_id", Id, primary_key=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("parent_channel_id", Id, nullable=False),
    sa.Column("conversation_id", sa.String(32), nullable=False),
    sa.Column("started_by", Id, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

corrections = sa.Table(
    "corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("answer_id", sa.Integer, sa.ForeignKey("answers.id"), nullable=False),
    sa.Column("guild_id", Id, nullable=True),
    sa.Column("channel_id", Id, nullable=False),
    sa.Column("author_id", Id, nullable=False),
    sa.Column("asker_id", Id, nullable=True),  # who asked the question the answer was for
    # The answer was private or in a DM: only its asker, the correction's author and reviewers see the question.
    sa.Column("private", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("original_answer", sa.Text, nullable=False),
    sa.Column("corrected_answer", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("transcript", sa.Text, nullable=True),  # what speech recognition heard, for audio answers
    sa.Column("corrected_transcript", sa.Text, nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    # Copied from the answer: what the model was given, so training data carries the same prompt and pictures.
    sa.Column("system_prompt", sa.Text, nullable=True),
    sa.Column("images", sa.JSON, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | approved | rejected
    sa.Column("reviewer_id", Id, nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_corrections_queue", "guild_id", "status", "id"),
    sa.Index("ix_corrections_author_answer", "answer_id", "author_id", "status"),
    # One pending correction per (answer, author): a second submission updates it (an upsert on this index).
    sa.Index(
        "uq_corrections_pending",
        "answer_id",
        "author_id",
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

training_jobs = sa.Table(
    "training_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("channel_id", Id, nullable=False),  # where the job was started: its notice goes there
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
    # Failed tries to post the end notice; after [training] notice_attempts it is given up (and logged).
    sa.Column("notice_attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("notice_given_up_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_training_jobs_guild", "guild_id", "id"),
)

# A job an admin confirmed, recorded before anything is uploaded or started, so that a job whose start timed out, or
# whose bot died mid-way, is found (by its tag) and followed instead of started again, and an unused upload deleted.
training_requests = sa.Table(
    "training_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tag", sa.String(64), nullable=False, unique=True),  # job metadata and upload name at the backend
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("channel_id", Id, nullable=False),
    sa.Column("requester_id", Id, nullable=False),
    sa.Column("backend", sa.String(32), nullable=False),
    sa.Column("base_model", sa.String(200), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("suffix", sa.String(64), nullable=True),
    sa.Column("dataset_sha256", sa.String(64), nullable=False),
    sa.Column("dataset_examples", sa.Integer, nullable=False),
    # uploading | creating | unconfirmed (the start's answer was lost; the user was told) | started | failed | abandoned
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("upload_id", sa.String(200), nullable=True),
    sa.Column("upload_deleted_at", sa.DateTime(timezone=True), nullable=True),  # set once an unused upload is gone
    sa.Column("remote_id", sa.String(200), nullable=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("training_jobs.id"), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    # What the watcher found out by itself and owes the channel a message about: started | abandoned.
    sa.Column("notice", sa.String(16), nullable=True),
    sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("notice_attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("notice_given_up_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_training_requests_state", "state", "updated_at"),
)

job_events = sa.Table(
    "job_events",
    metadata,
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
