"""The service's own SQLite database: uploaded files, jobs (the persistent queue) and their events.

Every call runs on one dedicated thread, so the event loop never waits on disk and the connection is never shared
between threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import attrs

from bot.job_status import TERMINAL, JobStatus
from bot.training_service.job_spec import Hyperparameters, Method

T = TypeVar("T")
Json = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    training_file TEXT NOT NULL,
    method TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    suffix TEXT,
    metadata TEXT,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    fine_tuned_model TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    trained_tokens INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events (job_id, seq);
"""


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


@attrs.frozen
class StoredFile:
    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int

    def payload(self) -> Json:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@attrs.frozen
class StoredJob:
    id: str
    model: str
    training_file: str
    method: Method
    hyperparameters: Hyperparameters
    suffix: str | None
    metadata: dict[str, str] | None
    seed: int
    status: JobStatus
    fine_tuned_model: str | None
    error: Json | None
    created_at: int
    finished_at: int | None
    trained_tokens: int | None
    attempts: int
    published: bool

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def payload(self) -> Json:
        """The job as OpenAI's API shows it."""
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "model": self.model,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "fine_tuned_model": self.fine_tuned_model,
            "organization_id": "org-local",
            "result_files": [],
            "status": self.status,
            "validation_file": None,
            "training_file": self.training_file,
            "hyperparameters": self.hyperparameters.to_json(),
            "method": {"type": self.method, self.method: {"hyperparameters": self.hyperparameters.to_json()}},
            "trained_tokens": self.trained_tokens,
            "error": self.error,
            "user_provided_suffix": self.suffix,
            "seed": self.seed,
            "estimated_finish": None,
            "integrations": [],
            "metadata": self.metadata,
        }


def _job(row: sqlite3.Row) -> StoredJob:
    return StoredJob(
        id=row["id"],
        model=row["model"],
        training_file=row["training_file"],
        method=row["method"],
        hyperparameters=Hyperparameters.from_json(json.loads(row["hyperparameters"])),
        suffix=row["suffix"],
        metadata=json.loads(row["metadata"]) if row["metadata"] else None,
        seed=row["seed"],
        status=row["status"],
        fine_tuned_model=row["fine_tuned_model"],
        error=json.loads(row["error"]) if row["error"] else None,
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        trained_tokens=row["trained_tokens"],
        attempts=row["attempts"],
        published=bool(row["published"]),
    )


def _event(row: sqlite3.Row) -> Json:
    return {
        "object": "fine_tuning.job.event",
        "id": row["id"],
        "created_at": row["created_at"],
        "level": row["level"],
        "message": row["message"],
        "type": row["type"],
        "data": json.loads(row["data"]) if row["data"] else {},
    }


class TrainerStore:
    """Open with `await TrainerStore.open(path)`; `await store.close()` when done."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainer-db")
        self._db: sqlite3.Connection | None = None
        self._changed = asyncio.Event()

    @classmethod
    async def open(cls, path: Path) -> TrainerStore:
        store = cls(path)
        await store._call(store._open)
        return store

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._call(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        result = await self._call(fn, *args)
        self._changed.set()
        self._changed = asyncio.Event()
        return result

    async def wait_for_change(self) -> None:
        """Returns after the next write (a job's status or a new event): lets callers wait without polling."""
        await self._changed.wait()

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "store is closed"
        return self._db

    # ----- files ------------------------------------------------------------------------------------------

    async def add_file(self, file: StoredFile) -> None:
        await self._write(
            self.db.execute,
            "INSERT INTO files (id, filename, purpose, bytes, created_at) VALUES (?, ?, ?, ?, ?)",
            (file.id, file.filename, file.purpose, file.bytes, file.created_at),
        )

    async def get_file(self, file_id: str) -> StoredFile | None:
        def get() -> StoredFile | None:
            row = self.db.execute(
                "SELECT id, filename, purpose, bytes, created_at FROM files WHERE id = ?", (file_id,)
            ).fetchone()
            return None if row is None else StoredFile(*row)

        return await self._call(get)

    async def file_ids(self) -> set[str]:
        def select() -> set[str]:
            return {row[0] for row in self.db.execute("SELECT id FROM files")}

        return await self._call(select)

    async def delete_file(self, file_id: str) -> bool:
        def delete() -> bool:
            return self.db.execute("DELETE FROM files WHERE id = ?", (file_id,)).rowcount > 0

        return await self._write(delete)

    # ----- jobs -------------------------------------------------------------------------------------------

    async def add_job(self, job: StoredJob) -> None:
        await self._write(
            self.db.execute,
            "INSERT INTO jobs (id, model, training_file, method, hyperparameters, suffix, metadata, seed, status,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.model,
                job.training_file,
                job.method,
                json.dumps(job.hyperparameters.to_json()),
                job.suffix,
                json.dumps(job.metadata) if job.metadata is not None else None,
                job.seed,
                job.status,
                job.created_at,
            ),
        )

    async def get_job(self, job_id: str) -> StoredJob | None:
        def get() -> StoredJob | None:
            row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return None if row is None else _job(row)

        return await self._call(get)

    async def list_jobs(
        self, limit: int, after: str | None = None, metadata: dict[str, str] | None = None
    ) -> tuple[list[StoredJob], bool]:
        """Newest first, older than `after`; only jobs whose metadata holds every given pair. (jobs, has_more)"""

        def page() -> tuple[list[StoredJob], bool]:
            where, args = ["1 = 1"], list[Any]()
            if after is not None:
                where.append("seq < COALESCE((SELECT seq FROM jobs WHERE id = ?), -1)")
                args.append(after)
            for key, value in (metadata or {}).items():
                where.append("json_extract(metadata, ?) = ?")
                args.extend([f"$.{json.dumps(key)}", value])
            rows = self.db.execute(
                f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
            return [_job(r) for r in rows[:limit]], len(rows) > limit

        return await self._call(page)

    async def jobs_with_status(self, *statuses: JobStatus) -> list[StoredJob]:
        """Oldest first: the queue's order."""

        def select() -> list[StoredJob]:
            marks = ", ".join("?" for _ in statuses)
            rows = self.db.execute(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY seq", statuses)
            return [_job(r) for r in rows.fetchall()]

        return await self._call(select)

    async def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        only_from: Collection[JobStatus] | None = None,
        **fields: Any,
    ) -> bool:
        """Set columns; with `only_from`, only while the job is in one of those states. True when it changed."""
        if status is not None:
            fields = {"status": status, **fields}
        states = sorted(only_from or ())

        def update() -> bool:
            values = {k: json.dumps(v) if k == "error" and v is not None else v for k, v in fields.items()}
            sets = ", ".join(f"{k} = ?" for k in values)
            sql = f"UPDATE jobs SET {sets} WHERE id = ?"
            args: list[Any] = [*values.values(), job_id]
            if states:
                sql += f" AND status IN ({', '.join('?' for _ in states)})"
                args.extend(states)
            return self.db.execute(sql, args).rowcount > 0

        return await self._write(update)

    # ----- events -----------------------------------------------------------------------------------------

    async def add_event(
        self, job_id: str, message: str, *, level: str = "info", kind: str = "message", data: Json | None = None
    ) -> None:
        await self._write(
            self.db.execute,
            "INSERT INTO events (id, job_id, created_at, level, message, type, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (new_id("ftevent"), job_id, int(time.time()), level, message, kind, json.dumps(data) if data else None),
        )

    async def list_events(self, job_id: str, limit: int, after: str | None = None) -> tuple[list[Json], bool]:
        """Newest first, older than `after` (OpenAI's paging). (events, has_more)"""

        def page() -> tuple[list[Json], bool]:
            sql, args = "SELECT * FROM events WHERE job_id = ?", [job_id]
            if after is not None:
                sql += " AND seq < COALESCE((SELECT seq FROM events WHERE id = ? AND job_id = ?), -1)"
                args.extend([after, job_id])
            rows = self.db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit + 1)).fetchall()
            return [_event(r) for r in rows[:limit]], len(rows) > limit

        return await self._call(page)
