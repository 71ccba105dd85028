"""OpenAI's end of self-serve fine-tuning: from its cut-off day the OpenAI backend starts no job, and says so first."""

from __future__ import annotations

import datetime as dt

from bot.errors import InvalidInput
from bot.llm.retirements import Clock, utc_now
from bot.training.settings import TrainingSettings


class TrainingClosed(InvalidInput):
    """The training backend takes no new jobs any more."""


class TrainingCutoff:
    """When the configured backend stops taking new jobs (None: no known end), against an injectable clock."""

    def __init__(self, training: TrainingSettings, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        until = training.openai_new_jobs_until if training.backend == "openai" else None
        self.closes: dt.date | None = dt.date.fromisoformat(until) if until else None

    def days_left(self) -> int | None:
        """Days until the backend stops taking jobs (0 or less: it has); None when it has no known end."""
        if self.closes is None:
            return None
        return (self.closes - self._clock().date()).days

    def check(self) -> None:
        """TrainingClosed, naming what works instead, once OpenAI takes no new jobs (before anything is uploaded)."""
        left = self.days_left()
        if left is not None and left <= 0:
            raise TrainingClosed(
                f"OpenAI takes no new fine-tuning jobs since {self.closes:%Y-%m-%d}, so nothing was uploaded. Train "
                "on this project's training service instead ([training] backend = \"local\", see the README's "
                '"Training on your own GPU"), or give the model your corrections without training (`/model '
                "corrections on`)."
            )

    def note(self) -> str | None:
        """ "N days left" while the backend still takes jobs, for /train and `python -m bot check`; else None."""
        left = self.days_left()
        if left is None or left <= 0:
            return None
        days = "1 day" if left == 1 else f"{left} days"
        return (
            f"OpenAI takes no new fine-tuning jobs from {self.closes:%Y-%m-%d}: {days} left to train there. After "
            'that, train on this project\'s training service ([training] backend = "local").'
        )
