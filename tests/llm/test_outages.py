"""A model the provider says is missing is not asked again until it is due: one failed request per period."""

from __future__ import annotations

import datetime as dt

from bot.llm.outages import ModelOutages

T0 = dt.datetime(2027, 1, 14, 12, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_missing_model_is_skipped_until_its_retry_time_then_tried_again() -> None:
    clock = Clock()
    outages = ModelOutages(600, clock)
    assert not outages.skipped("gpt-4o") and outages.outage("gpt-4o") is None
    outage = outages.missing("gpt-4o")
    assert (outage.since, outage.retry_at) == (T0, T0 + dt.timedelta(minutes=10))
    assert outages.skipped("gpt-4o") and not outages.skipped("gpt-4.1")
    clock.now = T0 + dt.timedelta(minutes=10)
    assert not outages.skipped("gpt-4o")  # due: the next question tries it again
    assert outages.outage("gpt-4o") == outage  # still known missing until it answers


def test_missing_again_keeps_when_it_first_went_missing_and_pushes_the_retry_back() -> None:
    clock = Clock()
    outages = ModelOutages(600, clock)
    outages.missing("gpt-4o")
    clock.now = T0 + dt.timedelta(minutes=10)
    again = outages.missing("gpt-4o")
    assert (again.since, again.retry_at) == (T0, T0 + dt.timedelta(minutes=20))
    assert outages.skipped("gpt-4o")


def test_a_model_that_answers_again_is_back_once() -> None:
    outages = ModelOutages(600, Clock())
    assert not outages.answered("gpt-4o")  # never missing: nothing to announce
    outages.missing("gpt-4o")
    assert outages.answered("gpt-4o")
    assert not outages.answered("gpt-4o") and not outages.skipped("gpt-4o")
