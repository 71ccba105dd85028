"""The garbage collector waits while acknowledgements are in progress (bot/garbage.py), so a burst of questions is not
acknowledged around collection pauses; it always runs again."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator

import pytest

from bot.garbage import CollectorHolds
from bot.llm.answering import AcknowledgementsFirst


class Deadlines:
    """Stands for the event loop's call_later: the test says when a deadline has come."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None], asyncio.Handle]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> asyncio.Handle:
        handle = asyncio.get_running_loop().call_later(3600, lambda: None)  # cancellable, never due in a test
        self.pending.append((delay, callback, handle))
        return handle

    def come(self) -> None:
        (_, callback, handle), *self.pending = self.pending
        if not handle.cancelled():
            callback()


@pytest.fixture(autouse=True)
def collector_running() -> Iterator[None]:
    assert gc.isenabled()
    yield
    gc.enable()  # whatever a failed test left behind


@pytest.fixture
def deadlines() -> Deadlines:
    return Deadlines()


async def test_no_collection_while_any_bot_in_the_process_is_acknowledging(deadlines: Deadlines) -> None:
    collector = CollectorHolds(limit_s=1.0, schedule=deadlines)
    first_bot, second_bot = AcknowledgementsFirst(collector), AcknowledgementsFirst(collector)
    started: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        with first_bot.acknowledging():
            assert [delay for delay, *_ in deadlines.pending] == [1.0]
            with second_bot.acknowledging():
                # Garbage in cycles, as every command leaves: many times what starts a collection.
                for _ in range(20_000):
                    cycle: list[object] = []
                    cycle.append(cycle)
                assert not gc.isenabled()
            assert not gc.isenabled()  # the first bot's question is still being acknowledged
            assert started == []
        assert gc.isenabled()
        gc.collect()
        assert started  # and the collector runs again
    finally:
        gc.callbacks.remove(seen)


async def test_a_pause_ends_at_its_limit_even_while_acknowledgements_go_on(deadlines: Deadlines) -> None:
    acks = AcknowledgementsFirst(CollectorHolds(limit_s=1.0, schedule=deadlines))
    with acks.acknowledging():
        deadlines.come()
        assert gc.isenabled()
        with acks.acknowledging():  # a bot that never runs out of questions collects as usual
            assert gc.isenabled()
    with acks.acknowledging():  # once none was in progress, the next burst pauses it again, with a new limit
        assert not gc.isenabled()
        assert len(deadlines.pending) == 1
    assert gc.isenabled()
    deadlines.come()  # a limit that comes after the pause ended changes nothing
    assert gc.isenabled()


async def test_an_acknowledgement_that_failed_lets_the_collector_run(deadlines: Deadlines) -> None:
    acks = AcknowledgementsFirst(CollectorHolds(limit_s=1.0, schedule=deadlines))
    with pytest.raises(RuntimeError), acks.acknowledging():
        assert not gc.isenabled()
        raise RuntimeError("Discord refused the acknowledgement")
    assert gc.isenabled()


async def test_a_collector_paused_by_someone_else_stays_paused(deadlines: Deadlines) -> None:
    acks = AcknowledgementsFirst(CollectorHolds(limit_s=1.0, schedule=deadlines))
    gc.disable()
    with acks.acknowledging():
        pass
    assert not gc.isenabled()
    assert deadlines.pending == []


def test_holders_left_on_a_closed_loop_do_not_keep_the_collector_paused() -> None:
    collector = CollectorHolds(limit_s=3600)
    acks = AcknowledgementsFirst(collector)
    stuck = acks.acknowledging()

    async def acknowledging_forever() -> None:
        stuck.__enter__()  # a question whose acknowledgement never finished before its loop closed

    first = asyncio.new_event_loop()
    first.run_until_complete(acknowledging_forever())
    first.close()
    assert not gc.isenabled()

    async def next_burst() -> None:
        with acks.acknowledging():
            assert not gc.isenabled()
        assert gc.isenabled()

    second = asyncio.new_event_loop()
    try:
        second.run_until_complete(next_burst())
    finally:
        second.close()
