"""The database tables (SQLAlchemy Core), shared by every store module.

This is the newest shape; a change here needs a migration in bot/store/migrations/versions (see README, Migrations).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event

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
    # Whether approved corrections are given to the model with each question (None: the configured default).
    sa.Column("use_corrections", sa.Boolean, nullable=True),
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

# Written by builds before Alembic (which now tracks the schema in alembic_version); kept at 1 for them.
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
    # What the question (or its fixed transcript) is searched by: bot/store/search_terms.py's index_text of it.
    sa.Column("search_terms", sa.Text, nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    # Copied from the answer: what the model was given, so training data carries the same prompt and pictures.
    sa.Column("system_prompt", sa.Text, nullable=True),
    sa.Column("images", sa.JSON, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | approved | rejected
    # correction: a member's fix; endorsement: an answer members voted 👍, queued as is (its text is the answer's).
    sa.Column("kind", sa.String(16), nullable=False, default="correction", server_default="correction"),
    sa.Column("reviewer_id", Id, nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_corrections_queue", "guild_id", "status", "id"),
    sa.Index("ix_corrections_author_answer", "answer_id", "author_id", "status"),
    # One pending correction per (answer, author), even when two submissions race: an upsert on this index
    # (migration 0002).
    sa.Index(
        "uq_corrections_pending",
        "answer_id",
        "author_id",
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

# One member's 👍/👎 on one answer (changeable: a second vote replaces the first). guild_id is the answer's.
answer_votes = sa.Table(
    "answer_votes",
    metadata,
    sa.Column("answer_id", sa.Integer, sa.ForeignKey("answers.id"), primary_key=True),
    sa.Column("user_id", Id, primary_key=True),
    sa.Column("guild_id", Id, nullable=True),
    sa.Column("vote", sa.String(8), nullable=False),  # up | down
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_answer_votes_guild", "guild_id", "vote"),
)

training_jobs = sa.Table(
    "training_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("channel_id", Id, nullable=False),  # where the job was started: its notice goes there
    sa.Column("requester_id", Id, nullable=False),
    sa.Column("backend", sa.String(32), nullable=False),
    sa.Column("remote_id", sa.String(200), nullable=False),  # unique per backend (below)
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
    # Which bot process follows this row now (bot.store.claims): one at a time, until its lease runs out.
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_training_jobs_guild", "guild_id", "id"),
    # Backends side by side may number their jobs alike (two training services both start at 1).
    sa.UniqueConstraint("backend", "remote_id", name="uq_training_jobs_backend_remote_id"),
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
    # Which bot process follows this row now (bot.store.claims): one at a time, until its lease runs out.
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_training_requests_state", "state", "updated_at"),
)

# Per-user rate limits shared by every bot process on PostgreSQL (bot.limits.DatabaseRateLimiter): one row per user
# holding the times (seconds since the epoch) of the calls still inside the window, changed under the row's lock.
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("user_id", Id, primary_key=True),
    sa.Column("hits", sa.JSON, nullable=False),
    # When the newest call leaves the window: the row can then be deleted.
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_rate_limits_expires", "expires_at"),
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


# Full-text search over approved corrections' questions, which the database keeps in step by itself: on SQLite an FTS5
# table filled by triggers, on PostgreSQL a generated tsvector column with a GIN index. Neither is expressible as a
# Core column, so their DDL runs right after `corrections` is created (and the upgrade step adds them to old databases).
# The search below indexes `search_terms` (bot/store/search_terms.py: stems in each word's language, written with the
# row), as given: FTS5's unicode61 without its own folding, PostgreSQL's `simple` configuration; so both find the same.
SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS corrections_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')",
    # Only approved corrections are searchable: every change rewrites the row's entry (or drops it).
    "CREATE TRIGGER IF NOT EXISTS corrections_fts_insert AFTER INSERT ON corrections WHEN new.status = 'approved' "
    "BEGIN INSERT INTO corrections_fts (rowid, terms) VALUES (new.id, coalesce(new.search_terms, '')); END",
    "CREATE TRIGGER IF NOT EXISTS corrections_fts_update AFTER UPDATE ON corrections "
    "BEGIN DELETE FROM corrections_fts WHERE rowid = old.id; "
    "INSERT INTO corrections_fts (rowid, terms) SELECT new.id, coalesce(new.search_terms, '') "
    "WHERE new.status = 'approved'; END",
    "CREATE TRIGGER IF NOT EXISTS corrections_fts_delete AFTER DELETE ON corrections "
    "BEGIN DELETE FROM corrections_fts WHERE rowid = old.id; END",
)
POSTGRESQL_SEARCH_DDL = (
    "ALTER TABLE corrections ADD COLUMN IF NOT EXISTS search tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', coalesce(search_terms, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS ix_corrections_search ON corrections USING gin (search) WHERE status = 'approved'",
)
for _statement in SQLITE_SEARCH_DDL:
    event.listen(corrections, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRESQL_SEARCH_DDL:
    event.listen(corrections, "after_create", sa.DDL(_statement).execute_if(dialect="postgresql"))
event.listen(corrections, "before_drop", sa.DDL("DROP TABLE IF EXISTS corrections_fts").execute_if(dialect="sqlite"))


# Knowledge sources (issue 27): a channel or thread (all its messages or its pins) or a file an admin added, and the
# passages they were split into. A passage's `terms` are what bot.store.passage_search.passage_terms made of its text;
# the full-text index holds those terms only (FTS5 kept by triggers on SQLite, a generated tsvector on PostgreSQL).
knowledge_sources = sa.Table(
    "knowledge_sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # channel | file
    sa.Column("channel_id", Id, nullable=True),  # the channel or thread read (kind channel)
    sa.Column("pinned_only", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("filename", sa.String(200), nullable=True),  # as uploaded (kind file); shown, never used as a path
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("added_by", Id, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
    # The newest message read: a re-check reads on from here for what arrived while the bot was away.
    sa.Column("last_message_id", Id, nullable=True),
    sa.Index("ix_knowledge_sources_guild", "guild_id"),
    sa.Index("ix_knowledge_sources_channel", "channel_id"),
)

knowledge_passages = sa.Table(
    "knowledge_passages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("knowledge_sources.id", ondelete="CASCADE"), nullable=False),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("channel_id", Id, nullable=True),  # where the message is (a channel source's), for its jump link
    sa.Column("message_id", Id, nullable=True),  # the message it came from (channel sources)
    sa.Column("section", sa.Text, nullable=False, default=""),  # a file's heading it sits under
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("terms", sa.Text, nullable=False),
    sa.Index("ix_knowledge_passages_source", "source_id", "message_id"),
    sa.Index("ix_knowledge_passages_guild", "guild_id"),
)

# Optional (`[llm] embeddings_model`): a passage's embedding, for finding it by meaning. A passage never changes (an
# edit replaces it), so its embedding is made once and goes with it.
knowledge_embeddings = sa.Table(
    "knowledge_embeddings",
    metadata,
    sa.Column("passage_id", sa.Integer, sa.ForeignKey("knowledge_passages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_knowledge_embeddings_guild", "guild_id"),
)

KNOWLEDGE_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_fts USING fts5(terms, tokenize = 'unicode61')",
    "CREATE TRIGGER IF NOT EXISTS knowledge_fts_insert AFTER INSERT ON knowledge_passages "
    "BEGIN INSERT INTO knowledge_fts (rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER IF NOT EXISTS knowledge_fts_update AFTER UPDATE OF terms ON knowledge_passages "
    "BEGIN DELETE FROM knowledge_fts WHERE rowid = old.id; "
    "INSERT INTO knowledge_fts (rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER IF NOT EXISTS knowledge_fts_delete AFTER DELETE ON knowledge_passages "
    "BEGIN DELETE FROM knowledge_fts WHERE rowid = old.id; END",
)
KNOWLEDGE_POSTGRESQL_DDL = (
    "ALTER TABLE knowledge_passages ADD COLUMN IF NOT EXISTS search tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', terms)) STORED",
    "CREATE INDEX IF NOT EXISTS ix_knowledge_passages_search ON knowledge_passages USING gin (search)",
)
for _statement in KNOWLEDGE_SQLITE_DDL:
    event.listen(knowledge_passages, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
for _statement in KNOWLEDGE_POSTGRESQL_DDL:
    event.listen(knowledge_passages, "after_create", sa.DDL(_statement).execute_if(dialect="postgresql"))
event.listen(
    knowledge_passages, "before_drop", sa.DDL("DROP TABLE IF EXISTS knowledge_fts").execute_if(dialect="sqlite")
)


def described_here(thing: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    """For Alembic's comparisons (`alembic check`, autogenerate, the schema tests): the search DDL above is not in
    `metadata`, so its FTS5 tables, generated column and index are not differences to act on."""
    del thing, reflected, compare_to
    if kind == "table" and name is not None and name.startswith(("corrections_fts", "knowledge_fts")):
        return False
    return not (
        kind in ("column", "index") and name in ("search", "ix_corrections_search", "ix_knowledge_passages_search")
    )


# Embeddings of approved corrections' questions (optional, `[llm] embeddings_model`), filled on first need and
# recomputed when the question's text or the model changes.
correction_embeddings = sa.Table(
    "correction_embeddings",
    metadata,
    sa.Column("correction_id", sa.Integer, sa.ForeignKey("corrections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("guild_id", Id, nullable=False, index=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
)


# A server's own test set, uploaded by an admin (a training-format file); when present it replaces the held-out
# corrections as the questions /model test asks.
test_questions = sa.Table(
    "test_questions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("uploaded_by", Id, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_test_questions_guild", "guild_id", "id"),
)

# One run of /model test (or the test of a finished training job): `model` against `against` on the test questions.
model_tests = sa.Table(
    "model_tests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=False),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("training_jobs.id"), nullable=True, unique=True),
    sa.Column("requested_by", Id, nullable=True),  # None: the test of a finished job
    sa.Column("model", sa.String(300), nullable=False),
    sa.Column("against", sa.String(300), nullable=False),
    sa.Column("with_corrections", sa.Boolean, nullable=False),
    sa.Column("judge_model", sa.String(200), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # corrections | upload
    sa.Column("status", sa.String(16), nullable=False),  # running | done | failed
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    # Model calls (answers and grading) counted against the server's budget: the most the test may make while it
    # runs, then what it made. A test whose process died keeps its whole reservation (its calls are unknown).
    sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
    # The message showing an admin's test, linked from a second /model test while it runs.
    sa.Column("channel_id", Id, nullable=True),
    sa.Column("message_id", Id, nullable=True),
    sa.Index("ix_model_tests_guild", "guild_id", "id"),
)

model_test_items = sa.Table(
    "model_test_items",
    metadata,
    sa.Column("test_id", sa.Integer, sa.ForeignKey("model_tests.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("correction_id", sa.Integer, nullable=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("expected", sa.Text, nullable=False),
    # For each side ("model", "against"): its answer, the judge's score 0-10 (None: ungraded) and verdict, and the
    # lexical similarity (token F1) of its answer to the expected one.
    sa.Column("model_answer", sa.Text, nullable=True),
    sa.Column("model_score", sa.Integer, nullable=True),
    sa.Column("model_verdict", sa.String(16), nullable=True),
    sa.Column("model_reason", sa.Text, nullable=True),
    sa.Column("model_similarity", sa.Float, nullable=True),
    sa.Column("against_answer", sa.Text, nullable=True),
    sa.Column("against_score", sa.Integer, nullable=True),
    sa.Column("against_verdict", sa.String(16), nullable=True),
    sa.Column("against_reason", sa.Text, nullable=True),
    sa.Column("against_similarity", sa.Float, nullable=True),
)

# Notices about a server's model, each sent once (the primary key makes a second process's insert a no-op): "missing"
# when the provider answered "not found" for it, "shutdown" ahead of its announced shutdown date.
model_notices = sa.Table(
    "model_notices",
    metadata,
    sa.Column("guild_id", Id, primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
)

# Every call to a model, with the tokens its provider reported (usage and cost, issue 26). guild_id None: a DM;
# user_id None: nobody asked (a job's automatic test).
model_usage = sa.Table(
    "model_usage",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Id, nullable=True),
    sa.Column("user_id", Id, nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),  # answer | voice | embeddings | test | judge | training
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("cached_tokens", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=True),  # None: the model has no configured price
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_model_usage_guild_time", "guild_id", "created_at"),
    sa.Index("ix_model_usage_guild_user_time", "guild_id", "user_id", "created_at"),
)

# Running totals the budget check reads in one statement, kept by every process in the same transaction as the
# usage row: a server's month (user_id 0) and a member's day. guild_key 0 for DMs; period "2026-12" or "2026-12-06".
usage_counters = sa.Table(
    "usage_counters",
    metadata,
    sa.Column("guild_key", Id, primary_key=True),
    sa.Column("user_id", Id, primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("tokens", sa.BigInteger, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),  # of the calls whose model has a price
)

# A server's own budget, set by its admins with /usage budget (None: the configured default; 0: no limit), and the
# channel where they set it, where the 80 % and 100 % notices go.
usage_budgets = sa.Table(
    "usage_budgets",
    metadata,
    sa.Column("guild_id", Id, primary_key=True),
    sa.Column("monthly_tokens", sa.BigInteger, nullable=True),
    sa.Column("monthly_usd", sa.Float, nullable=True),
    sa.Column("member_daily_tokens", sa.BigInteger, nullable=True),
    sa.Column("notice_channel_id", Id, nullable=True),
    sa.Column("updated_by", Id, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)

# The budget notices already sent (one per server, month and level), so admins are told once whichever process
# records the call that crosses a level.
usage_notices = sa.Table(
    "usage_notices",
    metadata,
    sa.Column("guild_id", Id, primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("level", sa.Integer, primary_key=True),  # 80 or 100 (per cent)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
