"""Validated datasets waiting for an admin's Confirm: kept on disk under generated names, dropped when stale."""

from __future__ import annotations

import logging
import re
import time
import uuid
from pathlib import Path

import attrs

from bot.errors import NotFound
from bot.finetuning.trainer import Method
from bot.finetuning.training_files import DatasetReport
from bot.i18n import _

_log = logging.getLogger(__name__)
# The names `new_path` makes: nothing else in the work directory is ever touched.
_GENERATED = re.compile(r"^[0-9a-f]{32}(\.[a-z]+)?$")


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
    backend: str = ""  # the configured backend it is trained on once confirmed ("": the default)


class PreparedDatasets:
    def __init__(self, work_dir: Path, ttl_s: float) -> None:
        self._dir = work_dir
        self._ttl = ttl_s
        self._items: dict[str, PreparedDataset] = {}

    def sweep_leftovers(self) -> int:
        """Delete files a previous run left behind (it crashed or was killed before Confirm); returns how many.

        Called once at start, before any dataset of this run exists, so nothing waiting for Confirm is lost."""
        if not self._dir.is_dir():
            return 0
        removed = 0
        for path in self._dir.iterdir():
            if path.is_file() and _GENERATED.match(path.name):
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            _log.info("removed %d prepared dataset file(s) left by an earlier run", removed)
        return removed

    def new_path(self, suffix: str = ".jsonl") -> Path:
        """A fresh file path; names are generated, never taken from what a user uploaded."""
        self._dir.mkdir(parents=True, exist_ok=True)
        return self._dir / f"{uuid.uuid4().hex}{suffix}"

    def add(self, prepared: PreparedDataset) -> None:
        self.sweep()
        self._items[prepared.id] = prepared

    def take(self, prepared_id: str, guild_id: int | None) -> PreparedDataset:
        """The dataset waiting for Confirm, once; only in the server it was prepared in (ids come from buttons)."""
        self.sweep()
        prepared = self._items.get(prepared_id)
        if prepared is None or prepared.guild_id != guild_id:
            raise NotFound(_("This training request has expired or was already handled. Run /train again."))
        del self._items[prepared_id]
        return prepared

    def discard(self, prepared_id: str, guild_id: int | None = None) -> None:
        """Drop a waiting dataset; with `guild_id`, only if it was prepared in that server."""
        prepared = self._items.get(prepared_id)
        if prepared is not None and (guild_id is None or prepared.guild_id == guild_id):
            del self._items[prepared_id]
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
