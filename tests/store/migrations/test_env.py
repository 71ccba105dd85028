"""The `alembic` command developers run: it migrates the database DATABASE_URL names (else the one in the config
file TEACHBOT_CONFIG names) to the schema the bot expects, and refuses offline SQL scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from bot.store.migrate import head_revision

ROOT = Path(__file__).resolve().parents[3]


def alembic(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEACHBOT_CONFIG")}
    command = [sys.executable, "-m", "alembic", *args]
    return subprocess.run(command, check=False, cwd=ROOT, env=clean | env, capture_output=True, text=True, timeout=120)


def revision_of(path: Path) -> str:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def test_database_url_names_the_database_that_is_migrated(tmp_path: Path) -> None:
    done = alembic("upgrade", "head", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/dev.sqlite3")
    assert done.returncode == 0, done.stderr
    assert revision_of(tmp_path / "dev.sqlite3") == head_revision()


def test_without_database_url_the_config_files_storage_url_is_used(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "sqlite+aiosqlite:///{tmp_path}/from-config.sqlite3"\n')
    done = alembic("upgrade", "head", TEACHBOT_CONFIG=str(config))
    assert done.returncode == 0, done.stderr
    assert revision_of(tmp_path / "from-config.sqlite3") == head_revision()


def test_offline_sql_scripts_are_refused_with_a_reason(tmp_path: Path) -> None:
    done = alembic("upgrade", "head", "--sql", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/never.sqlite3")
    assert done.returncode != 0
    assert "offline (--sql) migrations are not supported: run them against a database" in done.stderr
    assert not (tmp_path / "never.sqlite3").exists()
