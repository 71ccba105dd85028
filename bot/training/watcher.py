"""Follows unfinished training jobs: stores status changes and events, and announces each job's end exactly once
(at least once across crashes: the notice is marked sent only after it was posted). Settles training requests whose
start was not confirmed: follows the job they started, or deletes their upload. A notice that cannot be posted backs
off on its own and is given up after a bounded number of tries; it never slows the polling of other jobs."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from bot.store.jobs import JobStore, TrainingJob
from bot.store.records import utcnow
from bot.store.requests import JobRequest, JobRequestStore
from bot.training.starting import delete_upload
from bot.training.trainer import RemoteJob, Trainer, TrainerNotFound

_log = logging.getLogger(__name__)

Notify = Callable[[TrainingJob], Awaitable[None]]
# Whether a finished job's notice may be posted yet (False: ask again next round), e.g. once its model is tested.
NoticeReady = Callable[[TrainingJob], Awaitable[bool]]
NotifyRequest = Callable[[JobRequest, TrainingJob | None], Awaitable[None]]


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
        trainer: Trainer,
        jobs: JobStore,
        notify: Notify,
        *,
        interval_s: float,
        max_backoff_s: float,
        requests: JobRequestStore | None = None,
        notify_request: NotifyRequest | None = None,
        notice_attempts: int = 5,
        start_grace_s: float = 600.0,
        notice_ready: NoticeReady | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trainer = trainer
        self._jobs = jobs
        self._notify = notify
        self._notice_ready = notice_ready
        self._requests = requests
        self._notify_request = notify_request
        self._interval = interval_s
        self._max_backoff = max_backoff_s
        self._notice_attempts = notice_attempts
        self._grace = dt.timedelta(seconds=start_grace_s)
        self._clock = clock
        # When each notice that failed may be tried again ("job", id) / ("request", id); its tries are in the database.
        self._notice_due: dict[tuple[str, int], float] = {}
        self._failures = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._round = asyncio.Lock()  # one round at a time, so a notice is never posted twice
        self.watching = 0  # jobs followed in the last round (the metrics' jobs being watched)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="training job watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self) -> None:
        """Check now rather than at the next interval (a job was just started or cancelled)."""
        self._wake.set()

    async def run_once(self) -> None:
        """One round: follow every unfinished job, then announce every finished one not yet announced."""
        async with self._round:
            await self._round_unlocked()

    async def _round_unlocked(self) -> None:
        trouble = await self._settle_requests()
        unfinished = await self._jobs.unfinished()
        self.watching = len(unfinished)
        for job in unfinished:
            try:
                remote = await self._trainer.get(job.remote_id)
                events = await self._trainer.events(job.remote_id, after=job.last_event_id)
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
            for request in await self._requests.unnotified():
                await self._deliver(
                    ("request", request.id),
                    f"the outcome of training request #{request.id}",
                    lambda request=request: self._announce_request(request),
                    lambda request=request: self._requests_store().mark_notified(request.id),
                    lambda request=request: self._requests_store().notice_failed(
                        request.id, give_up_after=self._notice_attempts
                    ),
                )
        self._failures = self._failures + 1 if trouble else 0

    async def _may_announce(self, job: TrainingJob) -> bool:
        if self._notice_ready is None:
            return True
        try:
            return await self._notice_ready(job)
        except Exception as exc:  # asked again next round; other jobs' notices go on
            _log.warning("could not get the notice of training job #%d ready: %s", job.id, _reason(exc))
            return False

    def _requests_store(self) -> JobRequestStore:
        assert self._requests is not None
        return self._requests

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
        due = self._notice_due.get(key)
        if due is not None and self._clock() < due:
            return
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
        for request in await self._requests.pending():
            try:
                await self._settle(self._requests, request)
            except Exception as exc:
                trouble = True
                _log.warning("could not settle training request #%d: %s", request.id, exc)
        for request in await self._requests.uploads_to_delete():
            assert request.upload_id is not None
            if not await delete_upload(self._trainer, self._requests, request.id, request.upload_id):
                trouble = True
        return trouble

    async def _settle(self, requests: JobRequestStore, request: JobRequest) -> None:
        # A job is only ever created after the request was marked `creating`, so an `uploading` one has none.
        if request.state != "uploading":
            remote = await self._trainer.find_tagged(request.tag)
            if remote is not None:
                job = await requests.adopt(request, remote, notice=True)
                _log.info(
                    "training request #%d: found its job %s; following it as job #%d", request.id, job.remote_id, job.id
                )
                return
        if utcnow() - request.updated_at < self._grace:
            return  # perhaps still being uploaded or started by this process, or the backend is slow to list it
        uploads = set(await self._trainer.find_uploads(request.tag))
        if request.upload_id is not None:
            uploads.add(request.upload_id)
        for file_id in sorted(uploads):
            await self._trainer.delete_upload(file_id)
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
