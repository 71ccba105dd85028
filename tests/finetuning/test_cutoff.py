"""A backend's last day for new fine-tuning jobs: days left said beforehand, then a refusal before any upload that names
where to train instead."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.finetuning.cutoff import TrainingClosed, TrainingCutoff
from bot.finetuning.settings import BackendSettings, TrainingSettings

OPENAI_CLOSES = dt.datetime(2027, 1, 6, 12, tzinfo=dt.UTC)  # TrainingSettings' openai_new_jobs_until


def _on(day: dt.datetime, training: TrainingSettings | None = None) -> TrainingCutoff:
    return TrainingCutoff(training or TrainingSettings(), clock=lambda: day)


def test_each_backend_has_its_own_last_day_and_a_closed_one_names_the_others() -> None:
    training = TrainingSettings(
        backends={
            "azure": BackendSettings(
                kind="azure",
                base_url="https://x.openai.azure.com/openai/v1/",
                base_models=["m"],
                new_jobs_until="2027-04-01",
            )
        }
    )
    day = dt.datetime(2027, 2, 1, 12, tzinfo=dt.UTC)
    cutoff = TrainingCutoff(training, clock=lambda: day)
    with pytest.raises(TrainingClosed) as closed:
        cutoff.check()  # the default, OpenAI: closed since 2027-01-06
    assert "OpenAI takes no new fine-tuning jobs since 2027-01-06" in str(closed.value)
    assert "`backend:` `azure`" in str(closed.value)
    cutoff.check("azure")  # Azure still takes jobs
    assert (note := cutoff.note("azure")) is not None and "Azure OpenAI" in note and "59 days left" in note


def test_days_left_are_counted_down_in_the_note_until_the_last_day() -> None:
    assert _on(OPENAI_CLOSES - dt.timedelta(days=5)).days_left() == 5
    note = _on(OPENAI_CLOSES - dt.timedelta(days=1)).note()
    assert note is not None and "from 2027-01-06: 1 day left to train there" in note
    assert _on(OPENAI_CLOSES - dt.timedelta(days=1)).closes == dt.date(2027, 1, 6)
    assert _on(OPENAI_CLOSES).note() is None  # the last day: check refuses instead


def test_with_no_other_backend_a_closed_one_points_to_the_training_service() -> None:
    cutoff = _on(OPENAI_CLOSES)
    with pytest.raises(TrainingClosed) as closed:
        cutoff.check()
    message = str(closed.value)
    assert message.startswith("OpenAI takes no new fine-tuning jobs since 2027-01-06, so nothing was uploaded.")
    assert '[training] backend = "local"' in message and "`/model corrections on`" in message
    note = _on(OPENAI_CLOSES - dt.timedelta(days=3)).note()
    assert note is not None and "After that, train on this project's training service instead" in note


def test_a_backend_without_a_known_end_never_closes() -> None:
    cutoff = _on(OPENAI_CLOSES + dt.timedelta(days=400), TrainingSettings(openai_new_jobs_until=None))
    assert cutoff.days_left() is None and cutoff.note() is None and cutoff.closes is None
    cutoff.check()  # no refusal
