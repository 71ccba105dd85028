"""Alembic migrations of the database schema; `bot.store.database` runs them on start (see README, Migrations)."""
