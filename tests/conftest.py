"""Shared test setup: any ERROR logged during a test fails it, unless the test declares it with `allowed_errors`."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.fakes.vllm import FakeVLLM
from tests.training_service.tiny_model import build_tiny_model


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class AllowedErrors:
    """Patterns of ERROR log messages a test expects; each must be matched at least once."""

    def __init__(self) -> None:
        self.patterns: list[re.Pattern[str]] = []

    def expect(self, pattern: str) -> None:
        self.patterns.append(re.compile(pattern))


_collector = _ErrorCollector()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_collector)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get("TEST_DATABASE_URL"):
        # Tests running side by side (pytest-xdist) each get a PostgreSQL database of their own on the same server.
        os.environ["TEST_DATABASE_URL"] = asyncio.run(_database_for(os.environ["TEST_DATABASE_URL"], worker))


async def _database_for(url: str, worker: str) -> str:
    import asyncpg  # only where PostgreSQL is tested

    given = make_url(url)
    name = f"{given.database}_{worker}"
    conn = await asyncpg.connect(
        host=given.host, port=given.port, user=given.username, password=given.password, database=given.database
    )
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return given.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def allowed_errors() -> AllowedErrors:
    """Declare ERROR log lines this test expects (regex on the formatted message)."""
    return _allowed


_allowed = AllowedErrors()


@pytest.fixture(autouse=True)
def _fail_on_logged_errors() -> Iterator[None]:
    _collector.records.clear()
    _allowed.patterns.clear()
    yield
    unexpected: list[str] = []
    matched: set[int] = set()
    for record in _collector.records:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
        hits = [i for i, p in enumerate(_allowed.patterns) if p.search(text)]
        if hits:
            matched.update(hits)
        else:
            unexpected.append(f"{record.name}: {text}")
    missing = [p.pattern for i, p in enumerate(_allowed.patterns) if i not in matched]
    _collector.records.clear()
    _allowed.patterns.clear()
    if unexpected:
        pytest.fail("ERROR logged during the test:\n" + "\n".join(unexpected), pytrace=False)
    if missing:
        pytest.fail("expected ERROR log lines did not appear: " + ", ".join(missing), pytrace=False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal LM and its tokenizer, made on the spot (nothing is downloaded), for training tests."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
async def vllm() -> AsyncIterator[FakeVLLM]:
    async with FakeVLLM("tiny") as fake:
        yield fake
