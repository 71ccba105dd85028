"""A finished training job's notice waits for its model's test (against the server's active model) so it can carry
the score; the test runs in the background, and a test that fails or cannot start never holds the notice for good."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.evaluation.job_tests import JobTests
from bot.evaluation.model_test import EvalRequest
from bot.evaluation.settings import EvaluationSettings
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore, TrainingJob
from bot.store.model_tests import EvalQuestion, ModelTest, ModelTestStore, NewModelTest
from tests.store.test_jobs import new, remote

MODEL = "ft:gpt-4o-mini:org:ours:1"


class ModelTesterStandIn:
    """The model tester: the server's questions, and a run that records its test once `go` is set (or fails)."""

    def __init__(self, store: ModelTestStore, questions: int = 2, fails: bool = False) -> None:
        self.settings = EvaluationSettings()
        self.store = store
        self.count = questions
        self.fails = fails
        self.go = asyncio.Event()
        self.asked: list[EvalRequest] = []

    async def questions(self, guild_id: int) -> tuple[str, list[EvalQuestion]]:
        return "corrections", [EvalQuestion(f"q{n}", f"a{n}") for n in range(self.count)]

    async def run(self, ask: EvalRequest, *, existing: ModelTest | None = None) -> None:
        self.asked.append(ask)
        if self.count:
            await self.go.wait()
        if self.fails:
            raise ConnectionError("judge unreachable")
        test = await self.store.start(
            NewModelTest(ask.guild_id, ask.model, ask.against, False, "judge", "corrections", self.count, ask.job_id)
        )
        await self.store.finish(test.id, "done")


async def succeeded(db: Database) -> TrainingJob:
    jobs = JobStore(db)
    job = await jobs.add(new(guild=5, status="running"))
    return await jobs.update_from_remote(job.id, remote("succeeded", MODEL))


def job_tests(db: Database, tester: ModelTesterStandIn) -> tuple[JobTests, asyncio.Event]:
    woken = asyncio.Event()
    tests = JobTests(tester, ModelTestStore(db), GuildSettingsStore(db), "gpt-4o-mini")  # type: ignore[arg-type]
    tests.when_ready(woken.set)
    return tests, woken


async def test_a_job_without_a_new_model_is_announced_at_once(db: Database) -> None:
    jobs = JobStore(db)
    failed = await jobs.update_from_remote((await jobs.add(new(status="running"))).id, remote("failed"))
    tester = ModelTesterStandIn(ModelTestStore(db))
    tests, _ = job_tests(db, tester)
    assert await tests.ready(failed)
    assert tester.asked == []


async def test_the_notice_waits_for_the_test_against_the_active_model_then_goes(db: Database) -> None:
    job = await succeeded(db)
    await GuildSettingsStore(db).set_active_model(5, "gpt-4.1-mini", 7)
    tester = ModelTesterStandIn(ModelTestStore(db))
    tests, woken = job_tests(db, tester)
    assert not await tests.ready(job)
    assert not await tests.ready(job)  # asked again while it runs: still waiting, not started twice
    tester.go.set()
    await woken.wait()
    assert await tests.ready(job)
    assert [(a.model, a.against, a.job_id) for a in tester.asked] == [(MODEL, "gpt-4.1-mini", job.id)]
    test = await ModelTestStore(db).for_job(job.id)
    assert test is not None and test.status == "done"


async def test_with_no_questions_the_job_is_announced_at_once_as_untested(db: Database) -> None:
    job = await succeeded(db)
    tester = ModelTesterStandIn(ModelTestStore(db), questions=0)
    tests, _ = job_tests(db, tester)
    assert await tests.ready(job)
    assert [(a.model, a.against) for a in tester.asked] == [(MODEL, "gpt-4o-mini")]  # the default model


async def test_a_failed_test_is_recorded_as_failed_and_the_notice_goes_anyway(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    job = await succeeded(db)
    tester = ModelTesterStandIn(ModelTestStore(db), fails=True)
    tests, woken = job_tests(db, tester)
    with caplog.at_level(logging.WARNING, logger="bot.evaluation.job_tests"):
        assert not await tests.ready(job)
        tester.go.set()
        await woken.wait()
    assert f"testing the model of training job #{job.id} failed: ConnectionError: judge unreachable" in caplog.text
    test = await ModelTestStore(db).for_job(job.id)
    assert test is not None and test.status == "failed"
    assert await tests.ready(job)
    assert len(tester.asked) == 1  # not tried again


async def test_closing_stops_a_running_test(db: Database) -> None:
    job = await succeeded(db)
    tester = ModelTesterStandIn(ModelTestStore(db))
    tests, _ = job_tests(db, tester)
    assert not await tests.ready(job)
    await tests.close()
    test = await ModelTestStore(db).for_job(job.id)
    assert test is None or test.status != "done"
