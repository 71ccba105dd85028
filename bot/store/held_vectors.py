"""A few servers' stored embedding vectors held in memory, read again only when what is stored for them changed."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

# Servers whose vectors are held at once (the least recently asked are read again when needed): 100,000 rows of a
# 256-dimension model take 100 MB.
HELD = 4

Version = tuple[int, object]
T = TypeVar("T")


async def stored_version(conn: AsyncConnection, table: sa.Table, where: sa.ColumnElement[bool]) -> Version | None:
    """What changes when an embedding is stored, replaced or removed: how many there are and the newest time (None:
    none is stored, so there is nothing to read)."""
    count, newest = (await conn.execute(sa.select(sa.func.count(), sa.func.max(table.c.stored_at)).where(where))).one()
    return (int(count), newest) if count else None


def newest_size(rows: Sequence[Any]) -> list[Any]:
    """The rows whose `vector` has the newest row's size: a model that changed size under its name leaves older
    vectors no question vector can be compared with."""
    size = len(rows[-1].vector)
    return [r for r in rows if len(r.vector) == size]


def as_matrix(vectors: Sequence[bytes]) -> np.ndarray:
    """Stored little-endian float32 vectors as one float32 matrix (numpy multiplies float16 ~10x slower, measured)."""
    return np.frombuffer(b"".join(vectors), dtype="<f4").reshape(len(vectors), -1)


class HeldVectors(Generic[T]):
    """At most `limit` servers' vectors (per model), the least recently used dropped first."""

    def __init__(self, limit: int = HELD) -> None:
        self._limit = limit
        self._held: OrderedDict[tuple[int, str], tuple[Version, T]] = OrderedDict()

    def get(self, key: tuple[int, str], version: Version) -> T | None:
        entry = self._held.get(key)
        if entry is None or entry[0] != version:
            return None
        self._held.move_to_end(key)
        return entry[1]

    def put(self, key: tuple[int, str], version: Version, value: T) -> T:
        self._held[key] = (version, value)
        self._held.move_to_end(key)
        while len(self._held) > self._limit:
            self._held.popitem(last=False)
        return value
