"""A benchmark's measured process, and the process beside it that runs the loopback fakes and drives it.

The fakes stand for Discord and the model provider, which are other machines: run in the measured bot's process, they
would share its interpreter lock and its CPU, and what is measured would be partly theirs. So a benchmark runs the
fakes in its own process and starts the bot in a process of its own (`MeasuredProcess`), as `python -m bot` runs.
The two exchange short lines: the measured process says on its standard output (`tell`) and hears on its standard
input (`Orders`); lines of its own output that do not start with `SAYS` (a library's banner) are passed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import cast

import attrs

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI

SAYS = "bench:"  # the start of the lines the two processes exchange
CORES = sorted(os.sched_getaffinity(0))  # this process's cores before any measured process was given one
_pinned: list[int] = []  # the measured processes running on a core of their own


def fresh_loop(*, fast: bool = True) -> asyncio.AbstractEventLoop:
    """A new event loop, made this thread's: uvloop as `python -m bot` runs (bot.launch), asyncio's own where `fast`
    is False or uvloop is not installed. The caller runs what it needs on it and closes it."""
    from bot.launch import use_fast_event_loop

    if not (fast and use_fast_event_loop()):
        asyncio.set_event_loop(asyncio.new_event_loop())
    return asyncio.get_event_loop()


def process_cpu() -> float:
    """Seconds of CPU this process has used, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@attrs.frozen
class Endpoints:
    """What the measured process knows of the fakes: what a bot's configuration would say."""

    token: str
    rest_url: str
    guild_id: int
    channel_id: int
    api_key: str
    base_url: str

    @classmethod
    def of(cls, discord: FakeDiscord, openai_fake: FakeOpenAI) -> Endpoints:
        return cls(
            discord.token,
            discord.rest_url,
            discord.guild_id,
            discord.channel_id,
            openai_fake.api_key,
            openai_fake.base_url,
        )

    @classmethod
    def parse(cls, option: str) -> Endpoints:
        """From the measured process's `--endpoints` option."""
        return cls(**json.loads(option))

    def as_fakes(self) -> tuple[FakeDiscord, FakeOpenAI]:
        """Stands for the fakes where the test harness takes them (make_config, running_bot): of them, it reads
        only what these fields carry."""
        return cast(FakeDiscord, self), cast(FakeOpenAI, self)


# In the measured process


def tell(what: str) -> None:
    print(f"{SAYS}{what}", flush=True)


class Orders:
    """What the fakes' process says on this process's standard input, a line at a time."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    @classmethod
    async def open(cls) -> Orders:
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        return cls(reader)

    async def next(self) -> str:
        return (await self._reader.readline()).decode().strip()

    async def expect(self, what: str) -> None:
        heard = await self.next()
        if heard != what:
            raise RuntimeError(f"expected {what!r} from the fakes' process, heard {heard!r}")


# In the fakes' process


class MeasuredProcess:
    """The measured process, seen from the fakes' process."""

    def __init__(self, child: asyncio.subprocess.Process) -> None:
        assert child.stdin is not None and child.stdout is not None
        self._child, self._stdin, self._stdout = child, child.stdin, child.stdout

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, command: Sequence[str], *, own_core: bool = False) -> AsyncIterator[MeasuredProcess]:
        """Runs `command` (its errors go to this process's standard error); killed if still running at the end.
        `own_core`: where there are two cores or more, it runs on one and this process on another, as the bot and
        Discord would (wall times then do not hang on where the scheduler put each)."""
        child = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        pinned = own_core and len(CORES) >= 2
        if pinned:
            # Measured processes alive at once share the last core (a benchmark drives one at a time).
            os.sched_setaffinity(child.pid, {CORES[-1]})
            os.sched_setaffinity(0, set(CORES[:-1]))
            _pinned.append(child.pid)
        try:
            yield cls(child)
        finally:
            if pinned:
                _pinned.remove(child.pid)
                if not _pinned:
                    os.sched_setaffinity(0, set(CORES))
            if child.returncode is None:
                child.kill()
                await child.wait()

    async def heard(self) -> str:
        while line := (await self._stdout.readline()).decode():
            if line.startswith(SAYS):
                return line.removeprefix(SAYS).strip()
        raise RuntimeError(f"the measured process ended (exit code {await self._child.wait()})")

    async def expect(self, what: str) -> None:
        heard = await self.heard()
        if heard != what:
            raise RuntimeError(f"expected {what!r} from the measured process, heard {heard!r}")

    async def say(self, what: str) -> None:
        self._stdin.write(f"{what}\n".encode())
        await self._stdin.drain()

    async def last_word(self) -> str:
        """Its last line, once it has ended well."""
        said = await self.heard()
        if await self._child.wait() != 0:
            raise RuntimeError(f"the measured process failed (exit code {self._child.returncode})")
        return said


@contextlib.asynccontextmanager
async def beside_the_fakes(
    command: Sequence[str],
    *,
    own_core: bool = False,
    model: Callable[[FakeOpenAI], None] = lambda _: None,
) -> AsyncIterator[tuple[FakeDiscord, MeasuredProcess]]:
    """The loopback fakes here (`model` sets up the fake model before anything asks it), and `command` measured in a
    process of its own, told where they are (`--endpoints`: `Endpoints.parse`)."""
    async with FakeDiscord() as discord, FakeOpenAI() as openai_fake:
        model(openai_fake)
        endpoints = json.dumps(attrs.asdict(Endpoints.of(discord, openai_fake)))
        async with MeasuredProcess.start([*command, "--endpoints", endpoints], own_core=own_core) as measured:
            yield discord, measured
