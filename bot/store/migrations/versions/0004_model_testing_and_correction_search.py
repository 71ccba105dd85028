"""Testing the model (issue 14): a server's uploaded test set, test runs and their graded items; a per-server switch
for giving approved corrections to the model; full-text search over approved corrections' questions (an FTS5 table
kept by triggers on SQLite, a generated tsvector column with a GIN index on PostgreSQL), filled for existing rows."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger
# The search as this revision made it (English stems of the question's text); 0008 replaces it.
SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS corrections_fts USING fts5(question, tokenize = 'porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS corrections_fts_insert AFTER INSERT ON corrections WHEN new.status = 'approved' "
    "BEGIN INSERT INTO corrections_fts (rowid, question) "
    "VALUES (new.id, coalesce(new.corrected_transcript, new.question)); END",
    "CREATE TRIGGER IF NOT EXISTS corrections_fts_update AFTER UPDATE ON corrections "
    "BEGIN DELETE FROM corrections_fts WHERE rowid = old.id; "
    "INSERT INTO corrections_fts (rowid, question) SELECT new.id, coalesce(new.corrected_transcript, new.question) "
    "WHERE new.status = 'approved'; END",
    "CREATE TRIGGER IF NOT EXISTS corrections_fts_delete AFTER DELETE ON corrections "
    "BEGIN DELETE FROM corrections_fts WHERE rowid = old.id; END",
)
POSTGRESQL_SEARCH_DDL = (
    "ALTER TABLE corrections ADD COLUMN IF NOT EXISTS search tsvector GENERATED ALWAYS AS "
    "(to_tsvector('english', coalesce(corrected_transcript, question))) STORED",
    "CREATE INDEX IF NOT EXISTS ix_corrections_search ON corrections USING gin (search) WHERE status = 'approved'",
)


def upgrade() -> None:
    op.add_column("guild_settings", sa.Column("use_corrections", sa.Boolean, nullable=True))
    op.create_table(
        "test_questions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("uploaded_by", Id, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_test_questions_guild", "test_questions", ["guild_id", "id"])
    op.create_table(
        "model_tests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("guild_id", Id, nullable=False),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("training_jobs.id"), nullable=True, unique=True),
        sa.Column("requested_by", Id, nullable=True),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("against", sa.String(300), nullable=False),
        sa.Column("with_corrections", sa.Boolean, nullable=False),
        sa.Column("judge_model", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_model_tests_guild", "model_tests", ["guild_id", "id"])
    sides = [
        column
        for side in ("model", "against")
        for column in (
            sa.Column(f"{side}_answer", sa.Text, nullable=True),
            sa.Column(f"{side}_score", sa.Integer, nullable=True),
            sa.Column(f"{side}_verdict", sa.String(16), nullable=True),
            sa.Column(f"{side}_reason", sa.Text, nullable=True),
            sa.Column(f"{side}_similarity", sa.Float, nullable=True),
        )
    ]
    op.create_table(
        "model_test_items",
        sa.Column("test_id", sa.Integer, sa.ForeignKey("model_tests.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("correction_id", sa.Integer, nullable=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("expected", sa.Text, nullable=False),
        *sides,
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_SEARCH_DDL:  # the generated column fills itself for existing rows
            op.execute(statement)
        return
    for statement in SQLITE_SEARCH_DDL:
        op.execute(statement)
    op.execute(
        "INSERT INTO corrections_fts (rowid, question) SELECT id, coalesce(corrected_transcript, question) "
        "FROM corrections WHERE status = 'approved'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_corrections_search")
        op.execute("ALTER TABLE corrections DROP COLUMN IF EXISTS search")
    else:
        for trigger in ("corrections_fts_insert", "corrections_fts_update", "corrections_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS corrections_fts")
    op.drop_table("model_test_items")
    op.drop_index("ix_model_tests_guild", table_name="model_tests")
    op.drop_table("model_tests")
    op.drop_index("ix_test_questions_guild", table_name="test_questions")
    op.drop_table("test_questions")
    with op.batch_alter_table("guild_settings") as batch:
        batch.drop_column("use_corrections")
