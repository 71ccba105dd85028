"""First run: when Discord or the model endpoint will not have the bot, `python -m bot` says so in one line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import hikari
import pytest

from bot.launch import startup_problem
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


async def start_failure(bot: hikari.GatewayBot) -> BaseException:
    """What a real GatewayBot raises when it cannot start (then closed, as GatewayBot.run does)."""
    try:
        with pytest.raises(Exception) as info:
            await bot.start(check_for_updates=False)
    finally:
        with contextlib.suppress(hikari.ComponentStateConflictError):
            await bot.close()
    return info.value


async def test_a_rejected_token_names_the_portal_and_the_variable(discord: FakeDiscord) -> None:
    discord.revoke_token()
    exc = await start_failure(hikari.GatewayBot(discord.token, rest_url=discord.rest_url, banner=None, logs=None))
    assert isinstance(exc, hikari.UnauthorizedError)
    line = startup_problem(exc)
    assert line is not None and "\n" not in line
    assert "rejected the bot token" in line and "Reset Token" in line and "DISCORD_TOKEN" in line


async def test_a_privileged_intent_switched_off_names_it_and_where_to_switch_it_on(discord: FakeDiscord) -> None:
    discord.privileged_intents = 0
    intents = hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT
    bot = hikari.GatewayBot(discord.token, rest_url=discord.rest_url, intents=intents, banner=None, logs=None)
    exc = await start_failure(bot)
    assert isinstance(exc, hikari.GatewayServerClosedConnectionError) and exc.code == 4014
    line = startup_problem(exc, intents)
    assert line is not None and "\n" not in line
    assert "Message Content" in line and "Privileged Gateway Intents" in line and "chat_channels" in line


async def test_unreachable_discord_and_discord_outages_are_told_apart(discord: FakeDiscord) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/v10"
    exc = await start_failure(hikari.GatewayBot(discord.token, rest_url=url, max_retries=0, banner=None, logs=None))
    line = startup_problem(exc)
    assert line is not None and line.startswith("Cannot reach Discord") and "rest_url" in line
    discord.fail_next("/gateway/bot", 503)
    bot = hikari.GatewayBot(discord.token, rest_url=discord.rest_url, max_retries=0, banner=None, logs=None)
    line = startup_problem(await start_failure(bot))
    assert line is not None and "503" in line and "try again" in line


def test_a_gateway_token_rejection_reads_like_the_rest_one_and_bugs_keep_their_traceback() -> None:
    closed = hikari.GatewayServerClosedConnectionError("Authentication failed.", 4004, False)
    assert "DISCORD_TOKEN" in (startup_problem(closed) or "")
    assert startup_problem(ValueError("a bug")) is None
    assert startup_problem(KeyError("payload")) is None


# ----- the real `python -m bot`, in a subprocess, against the fakes ---------------------------------------------


async def run_bot(
    discord: FakeDiscord,
    tmp_path: Path,
    *,
    openai_url: str,
    chat_channels: list[int] | None = None,
    until: Callable[[list[str]], bool] | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[int, list[str]]:
    """`python -m bot` until it exits (or, once `until(lines)` holds, until SIGTERM stops it): exit code and output."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\nrest_url = "{discord.rest_url}"\nchat_channels = {chat_channels or []}\n'
        f'[storage]\nurl = "sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"\n'
        f'[training]\nwork_dir = "{tmp_path}/training"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {
        "DISCORD_TOKEN": discord.token,
        "OPENAI_API_KEY": FakeOpenAI().api_key,
        "OPENAI_BASE_URL": openai_url,
        "TEACHBOT_CONFIG": str(config),
    }
    env |= extra_env or {}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while line := await process.stdout.readline():
                lines.append(line.decode().rstrip("\n"))
                if until is not None and until(lines):
                    process.send_signal(signal.SIGTERM)
                    until = None
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return code, lines


def problems(lines: list[str]) -> list[str]:
    """Lines that would alarm someone starting the bot: our error line, tracebacks, ERROR/CRITICAL log lines."""
    return [
        line for line in lines if line.startswith(("error:", "Traceback")) or " ERROR " in line or " CRITICAL " in line
    ]


@pytest.mark.parametrize("case", ["token", "intent"])
async def test_python_m_bot_says_what_is_wrong_in_one_line_and_exits_1(
    discord: FakeDiscord, tmp_path: Path, case: str
) -> None:
    async with FakeOpenAI() as openai_fake:
        if case == "token":
            discord.revoke_token()
            code, lines = await run_bot(discord, tmp_path, openai_url=openai_fake.base_url)
        else:
            discord.privileged_intents = 0
            chat = [discord.chat_channel_id]
            code, lines = await run_bot(discord, tmp_path, openai_url=openai_fake.base_url, chat_channels=chat)
    assert code == 1
    (line,) = problems(lines)
    expected = "Reset Token" if case == "token" else "Message Content intent (gateway close 4014)"
    assert line.startswith("error: Discord") and expected in line
    assert lines[-1] == line  # the last thing on the screen
    assert not any(line.startswith("  File ") for line in lines)


async def test_python_m_bot_runs_the_shards_the_environment_names_and_says_when_discord_wants_more(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    discord.max_guilds_per_shard = 0  # even one server is too many for a shard: Discord closes with 4011
    async with FakeOpenAI() as openai_fake:
        shards = {"SHARD_COUNT": "2", "SHARD_IDS": "1"}
        code, lines = await run_bot(discord, tmp_path, openai_url=openai_fake.base_url, extra_env=shards)
    assert [op["d"].get("shard") for op in discord.gateway_ops if op["op"] == 2] == [[1, 2]]
    assert code == 1 and discord.closes == [4011]
    (line,) = problems(lines)
    assert line == lines[-1] and "gateway close 4011" in line and "shard_count" in line


async def test_python_m_bot_with_the_model_endpoint_down_warns_once_and_still_answers_discord(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    openai_url = f"http://127.0.0.1:{closed_port()}/v1"

    def warned(lines: list[str]) -> bool:
        return any("bot ready" in line for line in lines) and any("model endpoint" in line for line in lines)

    code, lines = await run_bot(discord, tmp_path, openai_url=openai_url, until=warned)
    assert code == 0  # stopped by SIGTERM, cleanly
    assert discord.identifies == 1 and discord.commands_synced.is_set()
    (warning,) = [line for line in lines if "model endpoint" in line]
    assert " WARNING " in warning and openai_url in warning and "OPENAI_BASE_URL" in warning
    assert problems(lines) == []
    if sys.platform != "win32":
        assert any("running on uvloop" in line for line in lines)
