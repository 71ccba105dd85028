"""Training requests: a confirmed job, recorded before its dataset is uploaded or it is started; and what came of it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.store import claims
from bot.store.database import Database
from bot.store.jobs import JobState, JobStore, NewJob, TrainingJob, count_notice_failure
from bot.store.records import from_row, utcnow
from bot.store.schema import training_jobs, training_requests

RequestState = Literal["uploading", "creating", "unconfirmed", "started", "failed", "abandoned"]
# A request in one of these may have left an upload or a job at the backend that nobody follows yet.
PENDING: tuple[RequestState, ...] = ("uploading", "creating", "unconfirmed")
Notice = Literal["started", "abandoned"]


@attrs.frozen
class NewJobRequest:
    tag: str
    guild_id: int
    channel_id: int
    requester_id: int
    backend: str
    base_model: str
    method: str
    suffix: str | None
    dataset_sha256: str
    dataset_examples: int


@attrs.frozen(kw_only=True)
class JobRequest(NewJobRequest):
    """A recorded request to start a job, and how far it got."""

    id: int
    state: str
    upload_id: str | None
    upload_deleted_at: dt.datetime | None
    remote_id: str | None
    job_id: int | None
    error: str | None
    notice: str | None
    notified_at: dt.datetime | None
    notice_attempts: int
    notice_given_up_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    claimed_by: str | None = None  # the bot process that settles the request now (bot.store.claims)
    lease_until: dt.datetime | None = None

    @property
    def pending(self) -> bool:
        return self.state in PENDING


_notice_owed = sa.and_(
    training_requests.c.notice.is_not(None),
    training_requests.c.notified_at.is_(None),
    training_requests.c.notice_given_up_at.is_(None),
)
_upload_left = sa.and_(
    training_requests.c.state == "failed",
    training_requests.c.upload_id.is_not(None),
    training_requests.c.upload_deleted_at.is_(None),
)
_settled_by_watcher = sa.or_(training_requests.c.state.in_(PENDING), _upload_left, _notice_owed)


def _request(row: Any) -> JobRequest:
    return from_row(JobRequest, row)


class JobRequestStore:
    def __init__(self, db: Database, jobs: JobStore) -> None:
        self._db = db
        self._jobs = jobs

    async def add(self, new: NewJobRequest) -> JobRequest:
        now = utcnow()
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                sa.insert(training_requests)
                .values(**attrs.asdict(new), state="uploading", created_at=now, updated_at=now)
                .returning(*training_requests.c)
            )
            return _request(result.one())

    async def get(self, request_id: int) -> JobRequest | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(training_requests).where(training_requests.c.id == request_id))).first()
        return None if row is None else _request(row)

    async def _move(self, request_id: int, from_states: tuple[str, ...], **values: Any) -> bool:
        """Change a request only if it is still in one of `from_states` (the watcher may have settled it)."""
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                sa.update(training_requests)
                .where(training_requests.c.id == request_id, training_requests.c.state.in_(from_states))
                .values(**values, updated_at=utcnow())
            )
        return result.rowcount == 1

    async def uploaded(self, request_id: int, upload_id: str) -> bool:
        """The dataset is at the backend: the job is about to be created."""
        return await self._move(request_id, ("uploading",), state="creating", upload_id=upload_id)

    async def unconfirmed(self, request_id: int) -> bool:
        """The start's answer was lost and the job was not found (yet): the watcher settles it and tells the channel."""
        return await self._move(request_id, ("creating",), state="unconfirmed")

    async def failed(self, request_id: int, error: str) -> bool:
        """The backend refused the request: nothing was started."""
        return await self._move(request_id, PENDING, state="failed", error=error)

    async def abandoned(self, request_id: int, *, notice: bool) -> bool:
        """No job was started within the grace period, and the request's uploads were deleted."""
        return await self._move(
            request_id,
            PENDING,
            state="abandoned",
            upload_deleted_at=utcnow(),
            notice="abandoned" if notice else None,
        )

    async def upload_deleted(self, request_id: int) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.update(training_requests)
                .where(training_requests.c.id == request_id)
                .values(upload_deleted_at=utcnow(), updated_at=utcnow())
            )

    async def claim(self, me: str, *, now: dt.datetime, lease: dt.timedelta) -> list[JobRequest]:
        """Claim (or renew) the requests the watcher of process `me` settles: pending ones, failed ones whose upload
        is left, and those whose notice is owed, unless another process's lease on them still runs."""
        rows = await claims.claim(self._db, training_requests, me, now=now, lease=lease, where=_settled_by_watcher)
        return [_request(r) for r in rows]

    async def claim_notice(self, request_id: int, me: str, *, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Just before its notice is posted: whether process `me` holds the request and its notice is still owed."""
        return await claims.claim_one(
            self._db, training_requests, request_id, me, now=now, lease=lease, where=_notice_owed
        )

    async def release_claims(self, me: str) -> int:
        return await claims.release(self._db, training_requests, me)

    async def adopt(self, request: JobRequest, remote: JobState, *, notice: bool) -> TrainingJob:
        """Record the job started for `request` (once, whoever finds it first) and mark the request started.

        A job found at the backend is always followed, whatever the request's state: it costs money."""
        new = NewJob(
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            requester_id=request.requester_id,
            backend=request.backend,
            remote_id=remote.remote_id,
            base_model=request.base_model,
            method=request.method,
            suffix=request.suffix,
            dataset_sha256=request.dataset_sha256,
            dataset_examples=request.dataset_examples,
            status=remote.status,
        )
        try:
            job = await self._add_once(request.id, new, notice=notice)
        except IntegrityError:  # another process recorded the same job at the same moment
            job = await self._add_once(request.id, new, notice=notice)
        return await self._jobs.update_from_remote(job.id, remote)

    async def _add_once(self, request_id: int, new: NewJob, *, notice: bool) -> TrainingJob:
        now = utcnow()
        async with self._db.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(training_requests.c.state)
                    .where(training_requests.c.id == request_id)
                    .with_for_update()  # two adopters of one request take turns (PostgreSQL; SQLite has one writer)
                )
            ).one()
            found = (
                await conn.execute(
                    sa.select(training_jobs.c.id).where(
                        training_jobs.c.backend == new.backend, training_jobs.c.remote_id == new.remote_id
                    )
                )
            ).first()
            if found is None:
                job_id = (
                    await conn.execute(
                        sa.insert(training_jobs)
                        .values(**attrs.asdict(new), created_at=now, updated_at=now)
                        .returning(training_jobs.c.id)
                    )
                ).scalar_one()
            else:
                job_id = found.id
            values: dict[str, Any] = {"remote_id": new.remote_id, "job_id": job_id, "updated_at": now}
            if row.state != "started":
                values |= {"state": "started", "notice": "started" if notice else None}
            await conn.execute(
                sa.update(training_requests).where(training_requests.c.id == request_id).values(**values)
            )
        job = await self._jobs.get(int(job_id))
        assert job is not None
        return job

    async def pending(self) -> list[JobRequest]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(training_requests)
                    .where(training_requests.c.state.in_(PENDING))
                    .order_by(training_requests.c.id)
                )
            ).all()
        return [_request(r) for r in rows]

    async def unnotified(self) -> list[JobRequest]:
        """Requests the watcher settled by itself whose channel has not been told yet."""
        async with self._db.reading() as conn:
            rows = (await conn.execute(sa.select(training_requests).where(_notice_owed))).all()
        return [_request(r) for r in rows]

    async def mark_notified(self, request_id: int) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.update(training_requests).where(training_requests.c.id == request_id).values(notified_at=utcnow())
            )

    async def notice_failed(self, request_id: int, *, give_up_after: int) -> int:
        """Count a failed try to post the notice; at `give_up_after` tries it is given up. Returns the count."""
        return await count_notice_failure(self._db, training_requests, request_id, give_up_after)
