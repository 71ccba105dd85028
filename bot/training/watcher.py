"""Follows unfinished training jobs: stores status changes and events, and announces each job's end exactly once
(at least once across crashes: the notice is marked sent only after it was posted)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from bot.store.jobs import JobStore, TrainingJob
from bot.training.trainer import RemoteJob, Trainer, TrainerNotFound

_log = logging.getLogger(__name__)

Notify = Callable[[TrainingJob], Awaitable[None]]


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
        self, trainer: Trainer, jobs: JobStore, notify: Notify, *, interval_s: float, max_backoff_s: float
    ) -> None:
        self._trainer = trainer
        self._jobs = jobs
        self._notify = notify
        self._interval = interval_s
        self._max_backoff = max_backoff_s
        self._failures = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._round = asyncio.Lock()  # one round at a time, so a notice is never posted twice

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
        trouble = False
        for job in await self._jobs.unfinished():
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
        for job in await self._jobs.unnotified_finished():
            try:
                await self._notify(job)
            except Exception:
                trouble = True
                _log.warning("could not announce the end of training job #%d; will retry", job.id, exc_info=True)
                continue
            await self._jobs.mark_notified(job.id)
        self._failures = self._failures + 1 if trouble else 0

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
