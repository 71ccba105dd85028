"""Validated datasets waiting for an admin's Confirm: kept on disk under generated names, dropped when stale."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import attrs

from bot.errors import NotFound
from bot.training.datasets import DatasetReport
from bot.training.trainer import Method


@attrs.frozen
class PreparedDataset:
    id: str
    path: Path
    report: DatasetReport
    method: Method
    base_model: str
    suffix: str | None
    guild_id: int
    channel_id: int
    requester_id: int
    source: str  # "upload" or "corrections", for the summary
    created: float


class PreparedDatasets:
    def __init__(self, work_dir: Path, ttl_s: float) -> None:
        self._dir = work_dir
        self._ttl = ttl_s
        self._items: dict[str, PreparedDataset] = {}

    def new_path(self, suffix: str = ".jsonl") -> Path:
        """A fresh file path; names are generated, never taken from what a user uploaded."""
        self._dir.mkdir(parents=True, exist_ok=True)
        return self._dir / f"{uuid.uuid4().hex}{suffix}"

    def add(self, prepared: PreparedDataset) -> None:
        self.sweep()
        self._items[prepared.id] = prepared

    def take(self, prepared_id: str) -> PreparedDataset:
        self.sweep()
        prepared = self._items.pop(prepared_id, None)
        if prepared is None:
            raise NotFound("This training request has expired or was already handled. Run /train again.")
        return prepared

    def discard(self, prepared_id: str) -> None:
        prepared = self._items.pop(prepared_id, None)
        if prepared is not None:
            prepared.path.unlink(missing_ok=True)

    def sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, p in self._items.items() if now - p.created > self._ttl]:
            self.discard(key)

    def close(self) -> None:
        for key in list(self._items):
            self.discard(key)


def new_id() -> str:
    return uuid.uuid4().hex[:16]
