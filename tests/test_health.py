"""The health endpoint's parts: settings and their environment overrides, readiness of the database (through a
connection an operator can cut), and a port that is already taken. Readiness of shards: tests/discord/test_health.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.config import HealthSettings, load_config
from bot.errors import ConfigError
from bot.health import HealthServer
from bot.metrics import Metrics
from bot.store.database import Database
from tests.conftest import AllowedErrors
from tests.test_config import ROOT, TOKEN

ENV = {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": "k"}


def test_health_endpoint_is_on_loopback_port_8081_unless_the_environment_says_otherwise() -> None:
    health = load_config(ROOT / "config.toml", ENV).settings.health
    assert (health.enabled, health.host, health.port) == (True, "127.0.0.1", 8081)
    moved = load_config(ROOT / "config.toml", ENV | {"HEALTH_HOST": "0.0.0.0", "HEALTH_PORT": "9102"}).settings.health
    assert (moved.host, moved.port) == ("0.0.0.0", 9102)


def test_a_wrong_health_port_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(ROOT / "config.toml", ENV | {"HEALTH_PORT": "eighty"})
    assert any(p.startswith("HEALTH_PORT:") for p in info.value.problems)
    config = tmp_path / "config.toml"
    config.write_text("[health]\nport = 70000\n")
    with pytest.raises(ConfigError) as info:
        load_config(config, ENV)
    assert any(p.startswith("health.port:") for p in info.value.problems)


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


@contextlib.asynccontextmanager
async def serving(database: Database, timeout_s: float = 2.0) -> AsyncIterator[HealthServer]:
    async def readiness() -> str | None:  # the shards are ready: only the database is in question here
        return await database.problem(timeout_s)

    server = HealthServer(HealthSettings(port=0), Metrics(), readiness)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_not_ready_before_the_database_is_open(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3")
    async with serving(database) as server:
        assert await get(f"{server.url}/healthz") == (200, {"status": "alive"})
        status, body = await get(f"{server.url}/readyz")
        assert status == 503 and "not open" in body["reason"]
        await database.open()
        try:
            assert await get(f"{server.url}/readyz") == (200, {"status": "ready"})
        finally:
            await database.close()


class Cable:
    """A TCP connection to PostgreSQL that the test can cut and plug back in (as a network outage would)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def plug(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links -= {writer, up_writer}


POSTGRES = ["postgresql"] if os.environ.get("TEST_DATABASE_URL") else []


@pytest.mark.parametrize("backend", POSTGRES)
async def test_not_ready_while_the_database_is_unreachable(backend: str) -> None:
    url = make_url(os.environ["TEST_DATABASE_URL"])
    cable = Cable(url.host or "127.0.0.1", url.port or 5432)
    await cable.plug()
    database = Database(url.set(host="127.0.0.1", port=cable.port).render_as_string(hide_password=False))
    await database.open()
    try:
        async with serving(database) as server:
            assert await get(f"{server.url}/readyz") == (200, {"status": "ready"})
            await cable.cut()
            status, body = await get(f"{server.url}/readyz")
            assert status == 503 and "database" in body["reason"]
            await cable.plug()  # the same port again: the database comes back
            assert await get(f"{server.url}/readyz") == (200, {"status": "ready"})
    finally:
        await database.close()
        await cable.cut()


async def test_a_port_already_taken_is_logged_and_the_bot_goes_on(allowed_errors: AllowedErrors) -> None:
    allowed_errors.expect(r"cannot serve /healthz and /metrics on 127\.0\.0\.1:\d+ .*HEALTH_PORT")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer(HealthSettings(port=port), Metrics(), lambda: asyncio.sleep(0))
        await server.start()
        assert not server.serving.is_set() and server.url is None
        await server.stop()
