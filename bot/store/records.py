"""Rows into records: times in UTC (SQLite gives them back without a zone), one helper for every store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Every time is stored in UTC; SQLite drops the zone, so a naive value read back is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def as_time(value: dt.datetime | str) -> dt.datetime:
    """A stored time, in UTC: as SQLAlchemy gives it back, or as the SQLite file's own reader does (text)."""
    return as_utc(dt.datetime.fromisoformat(value) if isinstance(value, str) else value)


def from_row(cls: type[T], row: Any, **overrides: Any) -> T:
    """`cls(**row)` with every time made zone-aware; `overrides` replace columns that need converting."""
    mapping: Mapping[str, Any] = row._mapping
    values = {k: as_utc(v) if isinstance(v, dt.datetime) else v for k, v in mapping.items()}
    return cls(**(values | overrides))
