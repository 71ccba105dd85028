"""What each package's `install` wires into: its services, registered in lightbulb's DI under their types, and what
the bot does with them as it starts and stops, in order.

Shutdown order matters (voice rooms before the answerer they use, the database last, the health endpoint after it),
and lightbulb's own teardowns run only for what was resolved, in the order it was resolved; so each package records
its steps here, by `Stage`."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, cast

_log = logging.getLogger(__name__)

T = TypeVar("T")
Step = Callable[[], Awaitable[None] | None]


class Registry(Protocol):
    """lightbulb's DI registry as wiring uses it: `client.di.registry_for(lightbulb.di.Contexts.DEFAULT)`."""

    def register_value(self, typ: type[T], value: T) -> object: ...


class Stage(enum.IntEnum):
    """Shutdown closes stage by stage in this order, start-up opens in the reverse one. Within a stage services open
    in the order they were made and close the other way round, since one may use those made before it."""

    INTAKE = 1  # what starts work by itself: voice rooms, channel readers, notices, the training job watcher
    WORK = 2  # work in flight that intake started: model tests of finished training jobs
    WORKERS = 3  # worker threads and model clients
    STORAGE = 4  # what writes to the database, then the database
    LAST = 5  # the health endpoint: alive from the very start to the very end


class Wiring:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._made: dict[object, object] = {}
        self._opens: list[tuple[Stage, Step]] = []
        self._warm_ups: list[tuple[Callable[[], object], str]] = []
        self._starts: list[Step] = []
        self._checks: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._stops: list[Step] = []
        self._closes: list[tuple[Stage, Step]] = []
        self._running_checks: set[asyncio.Task[None]] = set()

    def add(self, kind: type[T], value: T) -> T:
        """`value` in lightbulb's DI under `kind` (an interface's implementation under the interface)."""
        if kind in self._made:
            raise ValueError(f"{kind.__name__} is wired twice")
        self._registry.register_value(kind, value)
        self._made[kind] = value
        return value

    def get(self, kind: type[T]) -> T:
        """What was added under `kind`: for the packages wired after it, and for tests."""
        try:
            return cast(T, self._made[kind])
        except KeyError:
            raise LookupError(f"nothing is wired as {kind.__name__}: is its package installed before?") from None

    def on_open(self, stage: Stage, step: Step) -> None:
        """Run `step` as the bot starts, before commands load and shards connect."""
        self._opens.append((stage, step))

    def warm_up(self, work: Callable[[], object], failure: str) -> None:
        """Run `work` in a worker thread while the bot opens; if it fails the bot starts anyway, warning `failure`."""
        self._warm_ups.append((work, failure))

    def on_start(self, step: Step) -> None:
        """Run `step` once every shard of this process is connected and lightbulb has started."""
        self._starts.append(step)

    def check(self, check: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `check` in the background once started (it only warns); cancelled when the bot stops."""
        self._checks.append(check)

    def on_stop(self, step: Step) -> None:
        """Run `step` when the bot starts stopping, once lightbulb has stopped (shards are still connected)."""
        self._stops.append(step)

    def on_close(self, stage: Stage, step: Step) -> None:
        """Run `step` once the bot has stopped (see `Stage` for the order)."""
        self._closes.append((stage, step))

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        warming = [(loop.run_in_executor(None, work), failure) for work, failure in self._warm_ups]
        for stage in sorted(Stage, reverse=True):
            for step in [step for at, step in self._opens if at == stage]:
                await _run(step)
        for future, failure in warming:
            try:
                await future
            except Exception:
                _log.warning("%s", failure, exc_info=True)

    async def start(self) -> None:
        for step in self._starts:
            await _run(step)
        for check in self._checks:
            self._running_checks.add(asyncio.create_task(check()))

    async def stop(self) -> None:
        await cancelled(*self._running_checks)
        self._running_checks.clear()
        for step in self._stops:
            await _run(step)

    async def close(self) -> None:
        for stage in sorted(Stage):
            for step in reversed([step for at, step in self._closes if at == stage]):
                await _run(step)


async def _run(step: Step) -> None:
    done = step()
    if done is not None:
        await done


async def cancelled(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel the background tasks given (None: not running) and wait until each has ended."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
