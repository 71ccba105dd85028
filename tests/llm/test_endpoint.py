"""The start-up check of the model endpoint: one line saying what is wrong, or nothing when it answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import openai
import pytest

from bot.llm.endpoint import endpoint_problem, load_client_parts, warn_if_endpoint_unusable
from tests.fakes.openai import FakeOpenAI


@contextlib.asynccontextmanager
async def client(base_url: str, key: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=2) as c:
        yield c


async def test_a_working_endpoint_raises_no_warning() -> None:
    async with FakeOpenAI() as fake:
        async with client(fake.base_url, fake.api_key) as c:
            assert await endpoint_problem(c) is None
        assert ("GET", "/models") in [(m, p) for m, p, _ in fake.requests]


async def test_a_wrong_key_and_a_failing_server_are_named_after_one_request() -> None:
    async with FakeOpenAI() as fake:
        async with client(fake.base_url, "sk-wrong") as wrong:
            problem = await endpoint_problem(wrong)
        assert problem is not None and "401" in problem and "OPENAI_API_KEY" in problem
        async with client(fake.base_url, fake.api_key) as right:
            fake.fail_next(500, path_prefix="/models")
            problem = await endpoint_problem(right)
            assert problem is not None and "500" in problem
            assert len(fake.requests) == 2  # no retries: a start-up check stays cheap
            fake.delay_next(0.5, path_prefix="/models")
            problem = await endpoint_problem(right, timeout_s=0.1)
        assert problem is not None and "did not answer within 0.1 s" in problem


async def test_an_unreachable_endpoint_is_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    async with client(url, "sk-any") as c:
        await warn_if_endpoint_unusable(c)
    (record,) = [r for r in caplog.records if r.name == "bot.llm.endpoint"]
    assert record.levelname == "WARNING" and url in record.getMessage() and "OPENAI_BASE_URL" in record.getMessage()


async def test_loading_the_clients_parts_at_start_up_costs_no_request_to_the_provider() -> None:
    async with FakeOpenAI() as fake:
        fake.answer_as("m", "Paris.")
        async with client(fake.base_url, fake.api_key) as c:
            await asyncio.to_thread(load_client_parts, c)  # a rehearsal answered in memory
            assert fake.requests == []  # nothing billed, nothing sent
            answer = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "Capital?"}])
            assert answer.choices[0].message.content == "Paris."  # the client itself is untouched
