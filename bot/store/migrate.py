"""Bringing a database to the newest schema with Alembic, one process at a time, adopting pre-Alembic databases."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

_log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revision that describes databases made before Alembic (they carry a schema_version table instead).
PRE_ALEMBIC_REVISION = "0001"
# Any fixed number: every teachbot process takes this PostgreSQL advisory lock before looking at the schema.
MIGRATION_LOCK_ID = 0x7465_6163_6862_6F74  # "teachbot" in ASCII


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without alembic.ini; env.py migrates `connection` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def lock(connection: Connection) -> None:
    """Hold the schema until this transaction ends: a second process waits here, then finds the work done.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: BEGIN IMMEDIATE takes the file's write lock now (the
    Python driver would otherwise begin only at the first INSERT, leaving the DDL before it outside the transaction).
    Must be the transaction's first statement.
    """
    backend = connection.dialect.name
    if backend == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    elif backend == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def current_revision(connection: Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def adopt_pre_alembic(connection: Connection) -> bool:
    """Stamp a database made before Alembic with PRE_ALEMBIC_REVISION, first bringing it to that revision's shape.

    Those builds created missing tables on every start and kept a version number in schema_version: 0 had no
    guild_settings.previous_model, 1 is revision 0001 exactly. Returns whether the database was adopted.
    """
    inspector = sa.inspect(connection)
    if inspector.has_table("alembic_version") or not inspector.has_table("schema_version"):
        return False
    revision: Any = ScriptDirectory.from_config(alembic_config()).get_revision(PRE_ALEMBIC_REVISION)
    snapshot: sa.MetaData = revision.module.SCHEMA
    snapshot.create_all(connection, checkfirst=True)  # tables that build never had
    version = connection.execute(sa.text("SELECT version FROM schema_version WHERE id = 1")).scalar()
    columns = {column["name"] for column in sa.inspect(connection).get_columns("guild_settings")}
    if "previous_model" not in columns:
        connection.execute(sa.text("ALTER TABLE guild_settings ADD COLUMN previous_model VARCHAR(200)"))
    if version is None:
        connection.execute(sa.text("INSERT INTO schema_version (id, version) VALUES (1, 1)"))
    elif version != 1:
        connection.execute(sa.text("UPDATE schema_version SET version = 1 WHERE id = 1"))
    # Stamped here, not with `command.stamp`: that would run env.py, which may be what called us.
    MigrationContext.configure(connection).stamp(ScriptDirectory.from_config(alembic_config()), PRE_ALEMBIC_REVISION)
    _log.info("database from before migrations (schema_version %s) adopted as revision %s", version, revision.revision)
    return True


def migrate(connection: Connection) -> None:
    """Lock, adopt a pre-Alembic database, upgrade to the newest revision: all in the caller's transaction."""
    lock(connection)
    adopt_pre_alembic(connection)
    before = current_revision(connection)
    command.upgrade(alembic_config(connection), "head")
    after = current_revision(connection)
    if after != before:
        _log.info("database schema migrated from revision %s to %s", before or "(empty)", after)
