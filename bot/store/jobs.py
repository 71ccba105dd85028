"""Training jobs the bot started, their events and metrics, and whether their end was announced."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Protocol

import attrs
import sqlalchemy as sa

from bot.job_status import TERMINAL, JobStatus
from bot.store import claims
from bot.store.database import Database
from bot.store.records import as_utc, from_row, utcnow
from bot.store.schema import job_events, training_jobs


@attrs.frozen
class JobEvent:
    """One event of a job, as a training backend reports it and as it is stored."""

    remote_id: str
    event_id: str
    created_at: dt.datetime
    level: str
    message: str
    kind: Literal["message", "metrics"]
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None


class JobState(Protocol):
    """What the store records of a job's state at its backend (a training backend's job record fits)."""

    @property
    def remote_id(self) -> str: ...
    @property
    def status(self) -> JobStatus: ...
    @property
    def fine_tuned_model(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def finished_at(self) -> dt.datetime | None: ...


@attrs.frozen
class NewJob:
    guild_id: int
    channel_id: int
    requester_id: int
    backend: str
    remote_id: str
    base_model: str
    method: str
    suffix: str | None
    dataset_sha256: str
    dataset_examples: int
    status: JobStatus


@attrs.frozen(kw_only=True)
class TrainingJob(NewJob):
    """A job the bot started: what was asked, and what the backend and the watcher made of it since."""

    id: int
    fine_tuned_model: str | None
    error: str | None
    steps_done: int | None
    total_steps: int | None
    last_event_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    notified_at: dt.datetime | None
    notice_attempts: int = 0
    notice_given_up_at: dt.datetime | None = None
    claimed_by: str | None = None  # the bot process that follows the job now (bot.store.claims)
    lease_until: dt.datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


@attrs.frozen
class JobPage:
    items: list[TrainingJob]
    total: int


_notice_owed = sa.and_(
    training_jobs.c.status.in_(sorted(TERMINAL)),
    training_jobs.c.notified_at.is_(None),
    training_jobs.c.notice_given_up_at.is_(None),
)
_watched = sa.or_(training_jobs.c.status.not_in(sorted(TERMINAL)), _notice_owed)


def _job(row: Any) -> TrainingJob:
    return from_row(TrainingJob, row)


def _searchable(job: TrainingJob) -> tuple[str, ...]:
    return (str(job.id), job.remote_id, job.base_model, job.status, job.fine_tuned_model or "", job.suffix or "")


class JobStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, new: NewJob) -> TrainingJob:
        now = utcnow()
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                sa.insert(training_jobs)
                .values(**attrs.asdict(new), created_at=now, updated_at=now)
                .returning(*training_jobs.c)
            )
            return _job(result.one())

    async def get(self, job_id: int) -> TrainingJob | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(training_jobs).where(training_jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def list(self, guild_id: int, *, offset: int = 0, limit: int = 10) -> JobPage:
        where = training_jobs.c.guild_id == guild_id
        async with self._db.reading() as conn:
            total = (
                await conn.execute(sa.select(sa.func.count()).select_from(training_jobs).where(where))
            ).scalar_one()
            rows = (
                await conn.execute(
                    sa.select(training_jobs)
                    .where(where)
                    .order_by(training_jobs.c.id.desc())
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        return JobPage([_job(r) for r in rows], int(total))

    async def search(self, guild_id: int, typed: str, limit: int = 25) -> list[TrainingJob]:
        """Newest first, those whose number, remote id, model or status contains what was typed."""
        typed = typed.strip().lower().lstrip("#")
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(training_jobs)
                    .where(training_jobs.c.guild_id == guild_id)
                    .order_by(training_jobs.c.id.desc())
                    .limit(500)
                )
            ).all()
        jobs = [_job(r) for r in rows]
        if typed:
            jobs = [j for j in jobs if any(typed in text.lower() for text in _searchable(j))]
        return jobs[:limit]

    async def unfinished(self) -> list[TrainingJob]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(sa.select(training_jobs).where(training_jobs.c.status.not_in(sorted(TERMINAL))))
            ).all()
        return [_job(r) for r in rows]

    async def unnotified_finished(self) -> list[TrainingJob]:
        async with self._db.reading() as conn:
            rows = (await conn.execute(sa.select(training_jobs).where(_notice_owed))).all()
        return [_job(r) for r in rows]

    async def claim(self, me: str, *, now: dt.datetime, lease: dt.timedelta) -> list[TrainingJob]:
        """Claim (or renew) the jobs the watcher of process `me` follows: unfinished ones and finished ones whose
        notice is owed, unless another process's lease on them still runs."""
        rows = await claims.claim(self._db, training_jobs, me, now=now, lease=lease, where=_watched)
        return [_job(r) for r in rows]

    async def claim_notice(self, job_id: int, me: str, *, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Just before its end notice is posted: whether process `me` holds the job, with a fresh lease, and its
        notice is still owed. Of processes that race here, one gets True."""
        return await claims.claim_one(self._db, training_jobs, job_id, me, now=now, lease=lease, where=_notice_owed)

    async def release_claims(self, me: str) -> int:
        return await claims.release(self._db, training_jobs, me)

    async def update_from_remote(self, job_id: int, remote: JobState) -> TrainingJob:
        """Store what the backend says of a job. A job that has ended stays ended: a state read before a cancel (the
        watcher's round, which may finish after the cancel is stored) does not bring it back to life."""
        update = sa.update(training_jobs).where(training_jobs.c.id == job_id)
        if remote.status not in TERMINAL:
            update = update.where(training_jobs.c.status.not_in(TERMINAL))
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                update.values(
                    status=remote.status,
                    fine_tuned_model=remote.fine_tuned_model,
                    error=remote.error,
                    finished_at=remote.finished_at if remote.status in TERMINAL else None,
                    updated_at=utcnow(),
                ).returning(*training_jobs.c)
            )
            row = result.one_or_none()
            if row is None:  # it had ended meanwhile: kept as it is
                row = (await conn.execute(sa.select(training_jobs).where(training_jobs.c.id == job_id))).one()
            return _job(row)

    async def mark_notified(self, job_id: int) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.update(training_jobs).where(training_jobs.c.id == job_id).values(notified_at=utcnow())
            )

    async def notice_failed(self, job_id: int, *, give_up_after: int) -> int:
        """Count a failed try to post the end notice; at `give_up_after` tries it is given up. Returns the count."""
        return await count_notice_failure(self._db, training_jobs, job_id, give_up_after)

    async def add_events(self, job_id: int, events: list[JobEvent]) -> None:
        """Store events (each once) and keep the job's progress and last seen event current."""
        if not events:
            return
        async with self._db.engine.begin() as conn:
            known = {
                r.event_id
                for r in await conn.execute(
                    sa.select(job_events.c.event_id).where(
                        job_events.c.job_id == job_id, job_events.c.event_id.in_([e.event_id for e in events])
                    )
                )
            }
            fresh = [e for e in events if e.event_id not in known]
            if fresh:
                await conn.execute(
                    sa.insert(job_events),
                    [
                        {
                            "job_id": job_id,
                            "event_id": e.event_id,
                            "created_at": e.created_at,
                            "level": e.level,
                            "message": e.message,
                            "kind": e.kind,
                            "step": e.step,
                            "total_steps": e.total_steps,
                            "train_loss": e.train_loss,
                            "valid_loss": e.valid_loss,
                        }
                        for e in fresh
                    ],
                )
            values: dict[str, Any] = {"last_event_id": events[-1].event_id}
            steps = [e for e in events if e.step is not None]
            if steps:
                values["steps_done"] = steps[-1].step
                values["total_steps"] = steps[-1].total_steps
            await conn.execute(sa.update(training_jobs).where(training_jobs.c.id == job_id).values(**values))

    async def events(self, job_id: int, limit: int = 50) -> list[JobEvent]:
        """The newest `limit` events, oldest first."""
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(job_events, training_jobs.c.remote_id)
                    .join(training_jobs, training_jobs.c.id == job_events.c.job_id)
                    .where(job_events.c.job_id == job_id)
                    .order_by(job_events.c.created_at.desc(), job_events.c.event_id.desc())
                    .limit(limit)
                )
            ).all()
        return [
            JobEvent(
                remote_id=r.remote_id,
                event_id=r.event_id,
                created_at=as_utc(r.created_at),
                level=r.level,
                message=r.message,
                kind="metrics" if r.kind == "metrics" else "message",
                step=r.step,
                total_steps=r.total_steps,
                train_loss=r.train_loss,
                valid_loss=r.valid_loss,
            )
            for r in reversed(rows)
        ]

    async def metrics(self, job_id: int) -> list[tuple[int, float, float | None]]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(job_events.c.step, job_events.c.train_loss, job_events.c.valid_loss)
                    .where(
                        job_events.c.job_id == job_id,
                        job_events.c.kind == "metrics",
                        job_events.c.step.is_not(None),
                        job_events.c.train_loss.is_not(None),
                    )
                    .order_by(job_events.c.step)
                )
            ).all()
        return [(int(r.step), float(r.train_loss), r.valid_loss) for r in rows]

    async def succeeded_models(self, guild_id: int) -> list[str]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(training_jobs.c.fine_tuned_model)
                    .where(
                        training_jobs.c.guild_id == guild_id,
                        training_jobs.c.status == "succeeded",
                        training_jobs.c.fine_tuned_model.is_not(None),
                    )
                    .order_by(training_jobs.c.id.desc())
                )
            ).all()
        return [str(r.fine_tuned_model) for r in rows]

    async def channel_of_model(self, guild_id: int, model: str) -> int | None:
        """The channel of the server's training job that made `model` (where its admins followed it), if any."""
        async with self._db.reading() as conn:
            return (
                await conn.execute(
                    sa.select(training_jobs.c.channel_id)
                    .where(training_jobs.c.guild_id == guild_id, training_jobs.c.fine_tuned_model == model)
                    .order_by(training_jobs.c.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()


async def count_notice_failure(db: Database, table: sa.Table, row_id: int, give_up_after: int) -> int:
    """One more failed try to post a row's notice (a job's or a request's); at `give_up_after` it is given up."""
    async with db.engine.begin() as conn:
        attempts = (
            await conn.execute(
                sa.update(table)
                .where(table.c.id == row_id)
                .values(notice_attempts=table.c.notice_attempts + 1)
                .returning(table.c.notice_attempts)
            )
        ).scalar_one()
        if attempts >= give_up_after:
            await conn.execute(sa.update(table).where(table.c.id == row_id).values(notice_given_up_at=utcnow()))
    return int(attempts)
