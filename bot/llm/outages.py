"""Models the provider answered "not found" for, and when each is tried again (meanwhile a fallback answers)."""

from __future__ import annotations

import datetime as dt

import attrs

from bot.llm.retirements import Clock, utc_now


@attrs.frozen
class Outage:
    model: str
    since: dt.datetime
    retry_at: dt.datetime


class ModelOutages:
    """Per process: a missing model is not asked again until `retry_s` has passed, so a retired model costs one failed
    request per period, not one per question."""

    def __init__(self, retry_s: float, clock: Clock = utc_now) -> None:
        self._retry = dt.timedelta(seconds=retry_s)
        self._clock = clock
        self._outages: dict[str, Outage] = {}

    def now(self) -> dt.datetime:
        return self._clock()

    def outage(self, model: str) -> Outage | None:
        """The model's outage, if it was last found missing (whether or not it is due to be tried again)."""
        return self._outages.get(model)

    def skipped(self, model: str) -> bool:
        """Whether questions should not be sent to `model` now (found missing, and not yet due to be tried again)."""
        outage = self._outages.get(model)
        return outage is not None and self._clock() < outage.retry_at

    def missing(self, model: str) -> Outage:
        """Record that the provider answered "not found" for `model` (again): tried next after `retry_s`."""
        now = self._clock()
        before = self._outages.get(model)
        outage = Outage(model, before.since if before else now, now + self._retry)
        self._outages[model] = outage
        return outage

    def answered(self, model: str) -> bool:
        """Record that `model` answered; True when it had been missing (it is back)."""
        return self._outages.pop(model, None) is not None
