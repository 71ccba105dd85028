"""Embeddings from an OpenAI-compatible endpoint: unit-length rows in the texts' order, sent in batches, their tokens
counted for whoever asked; a failing endpoint is a warning and no vectors, never a failed answer."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

import numpy as np
import openai
import pytest

from bot.llm.embeddings import BATCH, Embedder
from bot.llm.usage import Spender
from bot.store.database import Database
from tests.fakes.openai import FakeOpenAI
from tests.store.test_usage import NOW, ledger

MODEL = "text-embedding-3-small"
ASKED = Spender("embeddings", 5, 2)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[FakeOpenAI, openai.AsyncOpenAI]]:
    async with FakeOpenAI() as fake, contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url))
        yield fake, client


async def test_many_texts_go_in_batches_and_come_back_as_unit_rows_in_order(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    fake, client = endpoint
    texts = [f"question number {i}" for i in range(BATCH + 6)]
    vectors = await Embedder(client, MODEL).embed(texts, spender=ASKED)
    assert vectors is not None and vectors.shape[0] == len(texts)
    assert [len(r["input"]) for r in fake.embedding_requests] == [BATCH, 6]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    alone = await Embedder(client, MODEL).embed([texts[BATCH + 1]], spender=ASKED)
    assert alone is not None and np.allclose(alone[0], vectors[BATCH + 1], atol=1e-6)


async def test_the_tokens_are_counted_for_the_server_and_member_who_asked(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI], db: Database
) -> None:
    _, client = endpoint
    counted = ledger(db, [])
    await Embedder(client, MODEL, ledger=counted).embed(["where do we park bikes"], spender=ASKED)
    await counted.close()
    (total,) = await counted.store.totals(5, NOW - dt.timedelta(days=1))
    assert (total.model, total.purpose, total.calls) == (MODEL, "embeddings", 1) and total.prompt_tokens > 0


async def test_a_failing_endpoint_gives_no_vectors_and_a_warning(
    endpoint: tuple[FakeOpenAI, openai.AsyncOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    _, client = endpoint
    with caplog.at_level(logging.WARNING, logger="bot.llm.embeddings"):
        assert await Embedder(client, "no-such-embedding-model").embed(["hello"], spender=ASKED) is None
    assert "embeddings by no-such-embedding-model failed" in caplog.text
