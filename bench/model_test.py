"""How long /model test takes and what it does to the event loop, and how fast corrections are retrieved.

1. A test of 100 held-out questions: both models and the judge behind the fake OpenAI, each call taking 300 ms, with
   the configured concurrency ([testing] concurrency). The fake runs in a process of its own, so the bot's loop (and
   the GIL) does only the bot's work; a ticker on the bot's loop measures how late it wakes (loop lag).
2. Retrieval (References.relevant: full-text search + keyword filter) over 100,000 approved corrections on SQLite.
Prints a summary and, last, one JSON line:
{"bench": "model_test", "items": 100, "seconds": …, "loop_lag_max_ms": …, "retrieval_p99_ms": …}

    .venv/bin/python bench/model_test.py [--items 100] [--corrections 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openai
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ack_latency import percentile
from bot.evaluation.model_test import EvalRequest, ModelTester
from bot.evaluation.settings import EvaluationSettings
from bot.finetuning.settings import TrainingSettings
from bot.llm.chat import ChatModel
from bot.llm.endpoint import load_client_parts
from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.store.correction_search import CorrectionSearch
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.model_tests import EvalQuestion, ModelTestStore
from bot.store.records import utcnow
from bot.store.schema import answers, corrections
from bot.store.search_terms import index_text
from tests.fakes.openai import FakeOpenAI

GUILD = 5
SYLLABLES = ["ka", "lo", "mi", "ren", "tus", "val", "dor", "pe", "shi", "qua", "zen", "bri", "mon", "tal", "vex"]


def judge(request: dict[str, Any]) -> str:
    prompt = request["messages"][-1]["content"]
    good = prompt.split("Reference answer:\n")[1].split("\n\n")[0] in prompt.split("Answer to grade:\n")[1]
    return json.dumps({"score": 9 if good else 2, "verdict": "correct" if good else "wrong", "reason": "bench"})


class LagProbe:
    """Wakes every 5 ms on the bot's loop and records how late it woke."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - start - 0.005)

    def __enter__(self) -> LagProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def serve_fake() -> None:
    """The fake OpenAI of the bench, in its own process: prints its port, serves until stdin closes."""
    async with FakeOpenAI() as fake:
        fake.chat_latency_s = 0.3
        fake.answer_as("new-model", lambda r: f"The answer to {r['messages'][-1]['content']}")
        fake.answer_as("old-model", "No idea.")
        fake.answer_as("judge", judge)
        print(fake.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def model_test(db: Database, items: int) -> tuple[float, float]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-fake", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert server.stdout is not None and server.stdin is not None
    port = int(await server.stdout.readline())
    client = openai.AsyncOpenAI(api_key="sk-fake", base_url=f"http://127.0.0.1:{port}/v1")
    # As the bot does at start-up: the client's lazy imports load in a thread, not on the loop of the first question.
    await asyncio.get_running_loop().run_in_executor(None, load_client_parts, client)
    try:
        store = ModelTestStore(db)
        questions = [EvalQuestion(f"question {i}?", f"The answer to question {i}?") for i in range(items)]
        await store.replace_questions(GUILD, questions, by_user=1)
        references = References(CorrectionSearch(db), GuildSettingsStore(db), LLMSettings())
        tester = ModelTester(
            ChatModel(client, max_tokens=256, temperature=None),
            store,
            CorrectionStore(db),
            references,
            llm=LLMSettings(),
            training=TrainingSettings(),
            settings=EvaluationSettings(judge_model="judge", max_questions=items),
        )
        with LagProbe() as probe:
            start = time.perf_counter()
            test = await tester.run(EvalRequest(GUILD, "new-model", "old-model"))
            seconds = time.perf_counter() - start
        graded = sum(1 for i in await store.items(test.id) if i.model.score is not None)
        print(f"model test: {test.total} questions, {graded} graded, {seconds:.2f} s, "
              f"concurrency {tester.settings.concurrency}, loop lag max {probe.worst * 1000:.1f} ms")  # fmt: skip
        return seconds, probe.worst * 1000
    finally:
        await client.close()
        server.stdin.close()
        await server.wait()


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4)))


async def store_approved(conn: AsyncConnection, guild_id: int, questions: dict[int, str], now: dt.datetime) -> None:
    """Approved public corrections of the server with these ids and questions, in two bulk inserts (answer, correction):
    how the retrieval benchmarks fill a server with many corrections quickly."""
    common = {"guild_id": guild_id, "channel_id": 10, "user_id": 1, "created_at": now}
    await conn.execute(
        sa.insert(answers),
        [
            common | {"id": i, "conversation_id": "c", "source": "slash", "model": "m", "question": q,
                      "answer": "?", "message_ids": []}
            for i, q in questions.items()
        ],
    )  # fmt: skip
    await conn.execute(
        sa.insert(corrections),
        [
            {"id": i, "answer_id": i, "guild_id": guild_id, "channel_id": 10, "author_id": 1, "asker_id": 1,
             "private": False, "question": q, "search_terms": index_text(q), "original_answer": "?",
             "corrected_answer": f"Fixed {i}.", "model": "m", "status": "approved", "created_at": now,
             "updated_at": now}
            for i, q in questions.items()
        ],
    )  # fmt: skip


async def retrieval(db: Database, count: int) -> float:
    rng = random.Random(14)
    # About 40,000 rare words and 300 common ones: each question has three rare words and a common one, so a common
    # word matches about 330 corrections (the OR query has to rank them all).
    vocabulary = list(dict.fromkeys(word(rng) for _ in range(60_000)))
    common_words = vocabulary[:300]
    vocabulary = vocabulary[300:]
    now = utcnow()
    asked: list[str] = []
    started = time.perf_counter()
    async with db.engine.begin() as conn:
        for chunk in range(0, count, 10_000):
            rows = range(chunk + 1, min(count, chunk + 10_000) + 1)
            questions = {
                i: f"How do I {' '.join(rng.sample(vocabulary, 3))} {rng.choice(common_words)} here?" for i in rows
            }
            asked += rng.sample(list(questions.values()), 50)
            await store_approved(conn, GUILD, questions, now)
    print(f"retrieval: {count:,} approved corrections stored in {time.perf_counter() - started:.1f} s")
    references = References(CorrectionSearch(db), GuildSettingsStore(db), LLMSettings())
    queries = [q.replace("How do I", "how can i").rstrip("?") for q in asked]
    queries += [f"what about {word(rng)} {word(rng)}?" for _ in range(len(queries) // 4)]  # mostly unknown words
    timings: list[float] = []
    hits = 0
    for query in queries[:20]:  # warm up the page cache
        await references.relevant(GUILD, query, user_id=2)
    for query in queries:
        start = time.perf_counter()
        found = await references.relevant(GUILD, query, user_id=2)
        timings.append((time.perf_counter() - start) * 1000)
        hits += bool(found)
    p50, p99 = percentile(timings, 50), percentile(timings, 99)
    print(f"retrieval: {len(queries)} questions, {hits} found a correction, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return p99


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--corrections", type=int, default=100_000)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.serve_fake:
        await serve_fake()
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3")
        await db.open()
        try:
            seconds, lag = await model_test(db, args.items)
            p99 = await retrieval(db, args.corrections)
        finally:
            await db.close()
    result = {
        "bench": "model_test",
        "items": args.items,
        "seconds": round(seconds, 2),
        "loop_lag_max_ms": round(lag, 1),
        "retrieval_p99_ms": round(p99, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
