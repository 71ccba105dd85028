"""Wiring: services are found under the type they were wired as, and start-up and shutdown run in stage order."""

from __future__ import annotations

import asyncio
import logging
from typing import TypeVar

import pytest

from bot.wiring import Stage, Wiring

T = TypeVar("T")


class Registry:
    """lightbulb's registry as wiring sees it, recording what it was given."""

    def __init__(self) -> None:
        self.values: dict[object, object] = {}

    def register_value(self, typ: type[T], value: T) -> object:
        self.values[typ] = value
        return self


class Store:
    pass


def test_a_service_is_found_under_the_type_it_was_wired_as_and_in_lightbulbs_registry() -> None:
    registry = Registry()
    wiring = Wiring(registry)
    store = wiring.add(Store, Store())
    assert wiring.get(Store) is store and registry.values == {Store: store}
    with pytest.raises(ValueError, match="Store is wired twice"):
        wiring.add(Store, Store())
    with pytest.raises(LookupError, match="nothing is wired as int"):
        wiring.get(int)


async def test_shutdown_closes_stage_by_stage_the_last_made_first_and_start_up_opens_the_other_way() -> None:
    wiring = Wiring(Registry())
    done: list[str] = []

    def step(name: str) -> None:
        done.append(name)

    async def later(name: str) -> None:
        await asyncio.sleep(0)
        done.append(name)

    wiring.on_open(Stage.STORAGE, lambda: step("database open"))
    wiring.on_close(Stage.STORAGE, lambda: later("database closed"))
    wiring.on_close(Stage.STORAGE, lambda: step("usage flushed"))
    wiring.on_close(Stage.WORK, lambda: step("model tests cancelled"))
    wiring.on_open(Stage.LAST, lambda: later("health serving"))
    wiring.on_close(Stage.LAST, lambda: step("health stopped"))
    wiring.on_close(Stage.INTAKE, lambda: step("watcher stopped"))
    wiring.on_close(Stage.INTAKE, lambda: step("voice rooms closed"))
    wiring.on_start(lambda: step("watcher started"))
    wiring.on_stop(lambda: step("reader stopped"))
    await wiring.open()
    await wiring.start()
    await wiring.stop()
    await wiring.close()
    assert done == [
        "health serving",
        "database open",
        "watcher started",
        "reader stopped",
        "voice rooms closed",
        "watcher stopped",
        "model tests cancelled",
        "usage flushed",
        "database closed",
        "health stopped",
    ]


async def test_a_warm_up_runs_off_the_event_loop_and_one_that_fails_only_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wiring = Wiring(Registry())
    loop = asyncio.get_running_loop()
    threads: list[bool] = []

    def warm() -> None:
        threads.append(_on_loop(loop))

    def broken() -> None:
        raise OSError("no such module")

    wiring.warm_up(warm, "could not warm up")
    wiring.warm_up(broken, "could not load the parts")
    with caplog.at_level(logging.WARNING, logger="bot.wiring"):
        await wiring.open()
    assert threads == [False]
    assert [r.getMessage() for r in caplog.records] == ["could not load the parts"]


async def test_a_start_up_check_still_running_when_the_bot_stops_is_cancelled() -> None:
    wiring = Wiring(Registry())
    checking = asyncio.Event()
    cancelled: list[bool] = []

    async def check() -> None:
        checking.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    wiring.check(check)
    await wiring.start()
    await checking.wait()
    await wiring.stop()
    assert cancelled == [True]


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
