"""Backends' ends of fine-tuning (OpenAI's cut-off, Azure's own): from a backend's last day it starts no job, and says
so first."""

from __future__ import annotations

import datetime as dt

from bot.errors import InvalidInput
from bot.finetuning.backends import PROVIDERS, Backend, configured_backends
from bot.finetuning.settings import TrainingSettings
from bot.i18n import _
from bot.llm.retirements import Clock, utc_now


class TrainingClosed(InvalidInput):
    """The training backend takes no new jobs any more."""


class TrainingCutoff:
    """When each configured backend stops taking new jobs (None: no known end), against an injectable clock. Methods
    take a backend's name; None means the default backend."""

    def __init__(self, training: TrainingSettings, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._backends: dict[str, Backend] = configured_backends(training)
        self._default = training.backend

    def _backend(self, name: str | None) -> Backend | None:
        return self._backends.get(self._default if name is None else name)

    @property
    def closes(self) -> dt.date | None:
        """The default backend's last day."""
        return self.closes_on(None)

    def closes_on(self, backend: str | None) -> dt.date | None:
        found = self._backend(backend)
        return found.new_jobs_until if found is not None else None

    def days_left(self, backend: str | None = None) -> int | None:
        """Days until the backend stops taking jobs (0 or less: it has); None when it has no known end."""
        closes = self.closes_on(backend)
        if closes is None:
            return None
        return (closes - self._clock().date()).days

    def _elsewhere(self, closing: str | None, on: dt.date) -> str:
        """Where to train instead: the other configured backends that still take jobs on that day, else the training
        service."""
        closing = self._default if closing is None else closing
        others = [
            b.name for b in self._backends.values() if b.name != closing and (b.new_jobs_until or dt.date.max) > on
        ]
        if others:
            names = ", ".join(f"`{n}`" for n in others)
            return _("Train on a backend that still takes jobs (`backend:` {names})", names=names)
        return _(
            'Train on this project\'s training service instead ([training] backend = "local"; on a GPU or, for '
            'small models, on the CPU: see the README\'s "Training on your own GPU" and "No GPU")'
        )

    def check(self, backend: str | None = None) -> None:
        """TrainingClosed, naming what works instead, once the backend takes no new jobs (before any upload)."""
        left = self.days_left(backend)
        found = self._backend(backend)
        if left is None or left > 0 or found is None:
            return
        instead = self._elsewhere(backend, self._clock().date())
        raise TrainingClosed(
            _(
                "{provider} takes no new fine-tuning jobs since {new_jobs_until}, so nothing was uploaded. {instead}, "
                "or give the model your corrections without training (`/model corrections on`).",
                provider=PROVIDERS[found.kind],
                new_jobs_until=f"{found.new_jobs_until:%Y-%m-%d}",
                instead=instead,
            )
        )

    def note(self, backend: str | None = None) -> str | None:
        """ "N days left" while the backend still takes jobs, for /train and `python -m bot check`; else None."""
        left = self.days_left(backend)
        found = self._backend(backend)
        if left is None or left <= 0 or found is None:
            return None
        days = _("1 day") if left == 1 else _("{count} days", count=left)
        assert found.new_jobs_until is not None
        instead = self._elsewhere(backend, found.new_jobs_until)
        return _(
            "{provider} takes no new fine-tuning jobs from {date}: {days} left to train there. After that, {instead}.",
            provider=PROVIDERS[found.kind],
            date=f"{found.new_jobs_until:%Y-%m-%d}",
            days=days,
            instead=instead[0].lower() + instead[1:],
        )
