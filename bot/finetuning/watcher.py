"""Follows unfinished training jobs: stores status changes and events, and announces each job's end exactly once
(at least once across crashes: the notice is marked sent only after it was posted). Settles training requests whose
start was not confirmed: follows the job they started, or deletes their upload. A notice that cannot be posted backs
off on its own and is given up after a bounded number of tries; it never slows the polling of other jobs.

Several bot processes may share the database, each with its watcher. A job or request is followed by one process at
a time: each round claims what it follows with a lease (bot.store.claims), renewed every round; a process that dies
lets its leases run out and another takes over, and a clean stop releases them at once. Just before a notice is posted
its claim is taken again (a compare-and-set with a fresh lease), so of processes that see a job end together exactly
one posts its notice. A process that dies while posting, before the notice is marked sent, leaves it owed: another
posts it once the lease has run out (at least once, never lost), the one case where a notice may appear twice."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.finetuning.backends import Trainers
from bot.finetuning.starting import delete_upload
from bot.finetuning.trainer import RemoteJob, Trainer, TrainerNotFound
from bot.store.claims import process_identity
from bot.store.jobs import JobStore, TrainingJob
from bot.store.records import utcnow
from bot.store.requests import JobRequest, JobRequestStore
from bot.wiring import cancelled

_log = logging.getLogger(__name__)

Notify = Callable[[TrainingJob], Awaitable[None]]
NotifyRequest = Callable[[JobRequest, TrainingJob | None], Awaitable[None]]


class Announcements(Protocol):
    """Where a job's end and a settled request are told (posted to Discord by bot/discord/training.py)."""

    async def job_ended(self, job: TrainingJob) -> None: ...

    async def request_settled(self, request: JobRequest, job: TrainingJob | None) -> None: ...


class NoticeGate(Protocol):
    """Holds a finished job's notice until it may be posted (bot/evaluation/job_tests.py: once its model is tested)."""

    async def ready(self, job: TrainingJob) -> bool:
        """Whether the notice may be posted now (False: asked again next round)."""
        ...

    def when_ready(self, wake: Callable[[], None]) -> None:
        """Call `wake` when a held notice may be posted, so it is not left to the next round."""
        ...


def _vanished(job: TrainingJob) -> RemoteJob:
    return RemoteJob(
        remote_id=job.remote_id,
        status="failed",
        base_model=job.base_model,
        fine_tuned_model=None,
        error="The training service no longer knows this job (deleted there, or the bot's API key changed).",
        created_at=job.created_at,
        finished_at=dt.datetime.now(dt.UTC),
        trained_tokens=None,
        method="dpo" if job.method == "dpo" else "sft",
    )


class JobWatcher:
    def __init__(
        self,
        trainer: Trainer | Trainers,
        jobs: JobStore,
        notify: Notify,
        *,
        interval_s: float,
        max_backoff_s: float,
        requests: JobRequestStore | None = None,
        notify_request: NotifyRequest | None = None,
        notice_attempts: int = 5,
        start_grace_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        lease_s: float | None = None,
        identity: str | None = None,
        wall_clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        # Each job and request is followed on the backend it recorded (several may be configured side by side).
        self._trainers = trainer if isinstance(trainer, Trainers) else Trainers.single(trainer)
        self._unconfigured: set[str] = set()  # backends already warned about
        self._jobs = jobs
        self._notify = notify
        self._gate: NoticeGate | None = None
        self._requests = requests
        self._notify_request = notify_request
        self._interval = interval_s
        self._max_backoff = max_backoff_s
        self._notice_attempts = notice_attempts
        self._grace = dt.timedelta(seconds=start_grace_s)
        self._clock = clock
        # This process's name on the jobs and requests it claims, for how long, by the wall clock shared by processes.
        self.identity = identity or process_identity()
        self._lease = dt.timedelta(seconds=lease_s if lease_s is not None else 4 * interval_s)
        self._now = wall_clock
        # When each notice that failed may be tried again ("job", id) / ("request", id); its tries are in the database.
        self._notice_due: dict[tuple[str, int], float] = {}
        self._failures = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._round = asyncio.Lock()  # one round at a time, so a notice is never posted twice
        self._claimed = False  # whether a round ran (and may have claimed jobs and requests)
        self.watching = 0  # jobs followed in the last round (the metrics' jobs being watched)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="training job watcher")

    async def stop(self) -> None:
        """Stop following, and release this process's claims so that another process takes over at once."""
        task, self._task = self._task, None
        await cancelled(task)
        async with self._round:
            if not self._claimed:
                return
            try:
                released = await self._jobs.release_claims(self.identity)
                if self._requests is not None:
                    released += await self._requests.release_claims(self.identity)
            except Exception as exc:  # e.g. the database is gone already: the leases run out by themselves
                _log.warning("could not release the training jobs this process followed: %s", _reason(exc))
                return
        if released:
            _log.info("released %d training job and request claim(s) for another process to take", released)

    def hold_notices(self, gate: NoticeGate) -> None:
        """Post each finished job's notice only once `gate` lets it; the gate wakes the watcher when it does."""
        self._gate = gate
        gate.when_ready(self.poke)

    def poke(self) -> None:
        """Check now rather than at the next interval (a job was just started or cancelled)."""
        self._wake.set()

    async def run_once(self) -> None:
        """One round: follow every unfinished job, then announce every finished one not yet announced."""
        async with self._round:
            await self._round_unlocked()

    async def _round_unlocked(self) -> None:
        self._claimed = True
        trouble = await self._settle_requests()
        # Only the jobs this process holds (or takes over from a process whose lease ran out) are polled here.
        claimed = await self._jobs.claim(self.identity, now=self._now(), lease=self._lease)
        self.watching = sum(1 for job in claimed if not job.finished)
        for job in claimed:
            if job.finished:
                continue  # its notice is owed: below
            trainer = self._trainer_of(job.backend, f"training job #{job.id}")
            if trainer is None:
                continue  # kept as it is: the backend may be configured again
            try:
                remote = await trainer.get(job.remote_id)
                events = await trainer.events(job.remote_id, after=job.last_event_id)
            except TrainerNotFound:
                # Deleted at the provider (or another account's key): close it, so it is announced, not polled forever.
                _log.warning(
                    "training job #%d (%s) is unknown to the training service; closing it", job.id, job.remote_id
                )
                await self._jobs.update_from_remote(job.id, _vanished(job))
                continue
            except Exception as exc:  # a backend outage must not stop the watcher
                trouble = True
                _log.warning("could not check training job #%d (%s): %s", job.id, job.remote_id, exc)
                continue
            await self._jobs.add_events(job.id, events)
            if remote.status != job.status:
                _log.info("training job #%d: %s -> %s", job.id, job.status, remote.status)
            await self._jobs.update_from_remote(job.id, remote)
        # Notices back off one by one: a channel that is gone must not slow the following of every other job.
        for job in await self._jobs.unnotified_finished():
            if not self._due(("job", job.id)):
                continue
            if not await self._jobs.claim_notice(job.id, self.identity, now=self._now(), lease=self._lease):
                continue  # another process holds it (and posts its notice), or it was posted meanwhile
            if not await self._may_announce(job):
                continue  # e.g. its model is being tested: the notice carries the result
            await self._deliver(
                ("job", job.id),
                f"the end of training job #{job.id}",
                lambda job=job: self._notify(job),
                lambda job=job: self._jobs.mark_notified(job.id),
                lambda job=job: self._jobs.notice_failed(job.id, give_up_after=self._notice_attempts),
            )
        if self._requests is not None and self._notify_request is not None:
            requests = self._requests
            for request in await requests.unnotified():
                if not self._due(("request", request.id)):
                    continue
                if not await requests.claim_notice(request.id, self.identity, now=self._now(), lease=self._lease):
                    continue
                await self._deliver(
                    ("request", request.id),
                    f"the outcome of training request #{request.id}",
                    lambda request=request: self._announce_request(request),
                    lambda request=request: requests.mark_notified(request.id),
                    lambda request=request: requests.notice_failed(request.id, give_up_after=self._notice_attempts),
                )
        self._failures = self._failures + 1 if trouble else 0

    def _trainer_of(self, backend: str, what: str) -> Trainer | None:
        trainer = self._trainers.for_job(backend)
        if trainer is None and backend not in self._unconfigured:
            self._unconfigured.add(backend)  # once per backend, not every round
            _log.warning(
                "%s ran on backend %r, which is no longer configured; it is not followed until it is", what, backend
            )
        return trainer

    def _due(self, key: tuple[str, int]) -> bool:
        """Whether a notice that failed before may be tried again (its backoff has passed)."""
        due = self._notice_due.get(key)
        return due is None or self._clock() >= due

    async def _may_announce(self, job: TrainingJob) -> bool:
        if self._gate is None:
            return True
        try:
            return await self._gate.ready(job)
        except Exception as exc:  # asked again next round; other jobs' notices go on
            _log.warning("could not get the notice of training job #%d ready: %s", job.id, _reason(exc))
            return False

    async def _announce_request(self, request: JobRequest) -> None:
        assert self._notify_request is not None
        job = await self._jobs.get(request.job_id) if request.job_id is not None else None
        await self._notify_request(request, job)

    async def _deliver(
        self,
        key: tuple[str, int],
        what: str,
        send: Callable[[], Awaitable[None]],
        sent: Callable[[], Awaitable[None]],
        failed: Callable[[], Awaitable[int]],
    ) -> None:
        try:
            await send()
        except Exception as exc:  # a deleted channel, a lost permission, Discord down: this notice only
            attempts = await failed()
            if attempts >= self._notice_attempts:
                self._notice_due.pop(key, None)
                _log.warning("gave up posting %s after %d attempts: %s", what, attempts, _reason(exc))
                return
            wait = min(self._max_backoff, self._interval * 2 ** (attempts - 1))
            self._notice_due[key] = self._clock() + wait
            _log.warning("could not post %s (attempt %d): %s; retrying in %.0f s", what, attempts, _reason(exc), wait)
            return
        self._notice_due.pop(key, None)
        await sent()

    async def _settle_requests(self) -> bool:
        """Follow the job of each request whose start was not confirmed, or, after the grace period, give the request
        up and delete its upload. Returns whether the backend was in trouble."""
        if self._requests is None:
            return False
        trouble = False
        # Only the requests this process holds: two processes never settle one request, nor delete its upload twice.
        claimed = await self._requests.claim(self.identity, now=self._now(), lease=self._lease)
        for request in [r for r in claimed if r.pending]:
            trainer = self._trainer_of(request.backend, f"training request #{request.id}")
            if trainer is None:
                continue
            try:
                await self._settle(self._requests, request, trainer)
            except Exception as exc:
                trouble = True
                _log.warning("could not settle training request #%d: %s", request.id, exc)
        for request in claimed:
            if request.state != "failed" or request.upload_id is None or request.upload_deleted_at is not None:
                continue
            trainer = self._trainer_of(request.backend, f"training request #{request.id}")
            if trainer is not None and not await delete_upload(trainer, self._requests, request.id, request.upload_id):
                trouble = True
        return trouble

    async def _settle(self, requests: JobRequestStore, request: JobRequest, trainer: Trainer) -> None:
        # A job is only ever created after the request was marked `creating`, so an `uploading` one has none.
        if request.state != "uploading":
            remote = await trainer.find_tagged(request.tag)
            if remote is not None:
                job = await requests.adopt(request, remote, notice=True)
                _log.info(
                    "training request #%d: found its job %s; following it as job #%d", request.id, job.remote_id, job.id
                )
                return
        if utcnow() - request.updated_at < self._grace:
            return  # perhaps still being uploaded or started by this process, or the backend is slow to list it
        uploads = set(await trainer.find_uploads(request.tag))
        if request.upload_id is not None:
            uploads.add(request.upload_id)
        for file_id in sorted(uploads):
            await trainer.delete_upload(file_id)
        if await requests.abandoned(request.id, notice=request.state == "unconfirmed"):
            _log.info(
                "training request #%d: no job was started; gave it up and deleted %d upload(s)",
                request.id,
                len(uploads),
            )

    def _delay(self) -> float:
        if not self._failures:
            return self._interval
        return min(self._max_backoff, self._interval * 2 ** min(self._failures, 16))

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # e.g. the database briefly unavailable: log, back off, keep going
                self._failures += 1
                _log.warning("training job watcher round failed", exc_info=True)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._delay())


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
