"""Every finished training job is tested before anyone can activate its model: the watcher holds a succeeded job's
notice until its test (the new model against the server's active one) is done or has failed, so the notice carries
the scorecard. The test runs in the background: the watcher never waits on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.evaluation.model_test import EvalRequest, ModelTester
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import TrainingJob
from bot.store.model_tests import ModelTest, ModelTestStore, NewModelTest

_log = logging.getLogger(__name__)


def _nobody() -> None:
    pass


class JobTests:
    def __init__(
        self,
        tester: ModelTester,
        store: ModelTestStore,
        guilds: GuildSettingsStore,
        default_model: str,
    ) -> None:
        self._tester = tester
        self._store = store
        self._guilds = guilds
        self._default_model = default_model
        self._wake: Callable[[], None] = _nobody  # the watcher's poke: post the notice now
        self._running: dict[int, asyncio.Task[None]] = {}

    def when_ready(self, wake: Callable[[], None]) -> None:
        """`wake` is called when a test ends, so that the job's notice is posted at once (JobWatcher.hold_notices)."""
        self._wake = wake

    async def ready(self, job: TrainingJob) -> bool:
        """Whether the job's notice may be posted: it has no model to test, or its test is done or failed. Starts
        the test (again, if a stopped bot left it running) the first time it is asked."""
        if job.status != "succeeded" or not job.fine_tuned_model:
            return True
        test = await self._store.for_job(job.id)
        if test is not None and test.status != "running":
            return True
        if job.id in self._running:
            return False
        against = await self._guilds.active_model(job.guild_id) or self._default_model
        ask = EvalRequest(job.guild_id, job.fine_tuned_model, against, job_id=job.id)
        _, questions = await self._tester.questions(job.guild_id)
        if not questions:  # nothing to ask: recorded at once as a test of no questions, and announced as such
            await self._tester.run(ask, existing=test)
            return True
        task = asyncio.get_running_loop().create_task(self._test(job, ask, test), name=f"test of job #{job.id}")
        self._running[job.id] = task
        return False

    async def _test(self, job: TrainingJob, ask: EvalRequest, existing: ModelTest | None) -> None:
        try:
            async with asyncio.timeout(self._tester.settings.job_test_timeout_s):
                await self._tester.run(ask, existing=existing)
        except Exception as exc:  # the notice then says the test failed; it is never held back for good
            _log.warning("testing the model of training job #%d failed: %s: %s", job.id, type(exc).__name__, exc)
            test = await self._store.for_job(job.id)
            if test is None or test.status == "running":
                await self._mark_failed(job, ask, test)
        finally:
            self._running.pop(job.id, None)
            self._wake()

    async def _mark_failed(self, job: TrainingJob, ask: EvalRequest, test: ModelTest | None) -> None:
        if test is not None:
            await self._store.finish(test.id, "failed", "the test did not finish")
            return
        started = await self._store.start(
            NewModelTest(
                job.guild_id, ask.model, ask.against, False, self._tester.settings.judge_model, "none", 0, job.id
            )
        )
        await self._store.finish(started.id, "failed", "the test could not start")

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._running.clear()
