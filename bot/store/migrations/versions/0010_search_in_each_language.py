"""Corrections are searched by stems in each word's language (bot/store/search_terms.py), not English stems only: a
`search_terms` column, filled here for every existing correction, indexed as given on both databases."""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

from bot.store.search_terms import index_text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 1000
# The search as this revision makes it (bot/store/schema.py holds the same, for new databases).
SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE corrections_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TRIGGER corrections_fts_insert AFTER INSERT ON corrections WHEN new.status = 'approved' "
    "BEGIN INSERT INTO corrections_fts (rowid, terms) VALUES (new.id, coalesce(new.search_terms, '')); END",
    "CREATE TRIGGER corrections_fts_update AFTER UPDATE ON corrections "
    "BEGIN DELETE FROM corrections_fts WHERE rowid = old.id; "
    "INSERT INTO corrections_fts (rowid, terms) SELECT new.id, coalesce(new.search_terms, '') "
    "WHERE new.status = 'approved'; END",
    "CREATE TRIGGER corrections_fts_delete AFTER DELETE ON corrections "
    "BEGIN DELETE FROM corrections_fts WHERE rowid = old.id; END",
)
POSTGRESQL_SEARCH_DDL = (
    "ALTER TABLE corrections ADD COLUMN search tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', coalesce(search_terms, ''))) STORED",
    "CREATE INDEX ix_corrections_search ON corrections USING gin (search) WHERE status = 'approved'",
)
SQLITE_TRIGGERS = ("corrections_fts_insert", "corrections_fts_update", "corrections_fts_delete")


def _drop_search(postgresql: bool) -> None:
    if postgresql:
        op.execute("DROP INDEX IF EXISTS ix_corrections_search")
        op.execute("ALTER TABLE corrections DROP COLUMN IF EXISTS search")
        return
    for trigger in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS corrections_fts")


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    _drop_search(postgresql)
    op.add_column("corrections", sa.Column("search_terms", sa.Text, nullable=True))
    # Every correction, not only approved ones: one approved later is searchable as it stands.
    table = sa.table("corrections", sa.column("id", sa.Integer), sa.column("search_terms", sa.Text))
    rows = bind.execute(sa.text("SELECT id, coalesce(corrected_transcript, question) AS text FROM corrections")).all()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        bind.execute(
            sa.update(table).where(table.c.id == sa.bindparam("row_id")).values(search_terms=sa.bindparam("terms")),
            [{"row_id": r.id, "terms": index_text(r.text)} for r in batch],
        )
    for statement in POSTGRESQL_SEARCH_DDL if postgresql else SQLITE_SEARCH_DDL:
        op.execute(statement)
    if not postgresql:  # the generated column fills itself on PostgreSQL
        op.execute(
            "INSERT INTO corrections_fts (rowid, terms) SELECT id, coalesce(search_terms, '') FROM corrections "
            "WHERE status = 'approved'"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_search(postgresql)
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("search_terms")
    before = importlib.import_module("bot.store.migrations.versions.0004_model_testing_and_correction_search")
    for statement in before.POSTGRESQL_SEARCH_DDL if postgresql else before.SQLITE_SEARCH_DDL:
        op.execute(statement)
    if not postgresql:
        op.execute(
            "INSERT INTO corrections_fts (rowid, question) SELECT id, coalesce(corrected_transcript, question) "
            "FROM corrections WHERE status = 'approved'"
        )
