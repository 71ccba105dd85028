"""Model test runs through the fake OpenAI: a judge that answers garbage, times out or is rate-limited leaves its
question ungraded; thinking models are judged on their answers alone; a stopped test is marked failed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
import sqlalchemy as sa

from bot.evaluation.model_test import EvalRequest, ModelTester
from bot.evaluation.scorecard import scorecard
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.settings import TrainingSettings
from bot.llm.chat import ChatModel
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.store.correction_search import CorrectionSearch
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore, NewJob
from bot.store.model_tests import EvalQuestion, ModelTestStore
from bot.store.schema import model_tests
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")
    await db.open()
    yield db
    await db.close()


def judge(request: dict[str, Any]) -> str:
    """A fair judge: full marks when the graded answer holds the reference's words."""
    prompt = request["messages"][-1]["content"]
    if "GARBAGE" in prompt:
        return "I think it's fine!"
    reference = prompt.split("Reference answer:\n")[1].split("\n\n")[0]
    graded = prompt.split("Answer to grade:\n")[1].split("\n\n")[0]
    good = reference in graded
    return json.dumps({"score": 9 if good else 2, "verdict": "correct" if good else "wrong", "reason": "checked"})


def _tester(chat: ChatModel, store: ModelTestStore, database: Database, settings: EvaluationSettings) -> ModelTester:
    """A tester of the server's corrections through `chat`, with the default answering and training settings."""
    references = References(CorrectionSearch(database), GuildSettingsStore(database), LLMSettings())
    return ModelTester(
        chat,
        store,
        CorrectionStore(database),
        references,
        llm=LLMSettings(),
        training=TrainingSettings(),
        settings=settings,
    )


async def test_a_failing_judge_leaves_questions_ungraded_and_the_run_completes(database: Database) -> None:
    async with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=2)
        chat = ChatModel(client, max_tokens=100, temperature=None)
        store = ModelTestStore(database)
        questions = [
            EvalQuestion(f"Q{i} {tag}?", f"Fact {i}") for i, tag in enumerate(["GARBAGE", "429", "SLOW", "ok"])
        ]
        await store.replace_questions(5, questions, by_user=1)
        fake.answer_as("good", lambda r: f"It is Fact {r['messages'][-1]['content'][1]}")
        fake.answer_as("bad", "No idea.")
        fake.answer_as("judge", judge)
        fake.fail_next(429, model="judge", contains="Q1 429", times=2)
        fake.delay_next(1.5, model="judge", contains="Q2 SLOW", times=2)
        tester = _tester(
            chat, store, database, EvaluationSettings(judge_model="judge", judge_timeout_s=0.5, concurrency=3)
        )
        seen: list[tuple[int, int]] = []

        async def progress(done: int, total: int) -> None:
            seen.append((done, total))

        test = await tester.run(EvalRequest(5, "good", "bad", requested_by=1), progress)
        client_calls = [r for r in fake.chat_requests if r["model"] in ("good", "bad")]
        await client.close()
    assert test.status == "done" and test.total == 4
    items = await store.items(test.id)
    assert [i.question.question for i in items] == [q.question for q in questions]
    assert [i.model.score is None for i in items] == [True, True, True, False]  # garbage, 429, timeout: ungraded
    assert items[3].model.verdict == "correct" and items[3].against.verdict == "wrong"
    assert items[1].model.answer == "It is Fact 1"  # the answer is kept even when its grading failed
    card = scorecard(items)
    assert (card.graded, card.wins, card.model_correct, card.against_correct) == (1, 1, 1, 0)
    assert seen[-1] == (4, 4) and len(seen) == 4
    assert len(client_calls) == 8  # each model answered each question once: no retries behind the test's back


async def test_models_that_think_in_the_prompt_are_tested_and_judged_on_their_answers_alone(
    database: Database,
) -> None:
    async with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        store = ModelTestStore(database)
        await store.replace_questions(5, [EvalQuestion("Q0 ok?", "Fact 0")], by_user=1)
        # Both chat templates open `<think>` in the prompt: the completions start inside the thinking.
        fake.answer_as("r1", "Recall the facts. Fact 9 is tempting.</think>It is Fact 0")
        fake.answer_as("bad", "No idea.")
        fake.answer_as("judge", lambda r: "Compare the two.</think>" + judge(r))
        tester = _tester(
            ChatModel(client, max_tokens=100, temperature=None),
            store,
            database,
            EvaluationSettings(judge_model="judge"),
        )
        test = await tester.run(EvalRequest(5, "r1", "bad", requested_by=1))
        await client.close()
    (item,) = await store.items(test.id)
    assert item.model.answer == "It is Fact 0" and item.model.verdict == "correct"
    assert item.against.verdict == "wrong"


@pytest.mark.parametrize("of_a_job", [False, True])
async def test_a_stopped_test_of_an_admin_is_marked_failed_and_a_jobs_test_stays_to_be_run_again(
    database: Database, of_a_job: bool
) -> None:
    job_id = None
    if of_a_job:
        job = NewJob(
            guild_id=5, channel_id=10, requester_id=1, backend="openai", remote_id="ftjob-1", base_model="m",
            method="supervised", suffix=None, dataset_sha256="0" * 64, dataset_examples=10, status="succeeded",
        )  # fmt: skip
        job_id = (await JobStore(database).add(job)).id
    async with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        store = ModelTestStore(database)
        await store.replace_questions(5, [EvalQuestion("Q?", "Fact")], by_user=1)
        fake.answer_as("good", "Fact")
        fake.answer_as("bad", "No.")
        fake.chat_latency_s = 1.0  # the models are still answering when the bot stops
        tester = _tester(
            ChatModel(client, max_tokens=100, temperature=None),
            store,
            database,
            EvaluationSettings(judge_model="judge"),
        )
        run = asyncio.create_task(tester.run(EvalRequest(5, "good", "bad", job_id=job_id, requested_by=1)))
        await asyncio.wait_for(fake.chat_started.wait(), 10)
        run.cancel()  # the bot stops while the model is answering
        with pytest.raises(asyncio.CancelledError):
            await run
        await client.close()
    async with database.engine.connect() as conn:
        (status, error) = (await conn.execute(sa.select(model_tests.c.status, model_tests.c.error))).one()
    if not of_a_job:
        assert (status, error) == ("failed", "the bot stopped during the test")  # not "running" for ever
    else:
        assert status == "running"  # the job's watcher tests it again after a restart
