"""The store's fresh database per test (SQLite, and PostgreSQL when TEST_DATABASE_URL names one) for tests here."""

from __future__ import annotations

from tests.store.conftest import db

__all__ = ["db"]
