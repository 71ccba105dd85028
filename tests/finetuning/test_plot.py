"""The loss plot of /jobs show: round axis ticks, the training curve, and the validation curve when reported."""

from __future__ import annotations

import io

from PIL import Image

from bot.finetuning.plot import SIZE, TRAIN, VALID, _ticks, render_loss_plot  # pyright: ignore[reportPrivateUsage]


def _colours(png: bytes) -> set[object]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == SIZE
    return set(image.get_flattened_data())


def test_axis_ticks_are_round_numbers_covering_the_range() -> None:
    assert _ticks(0.0, 2.2) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert _ticks(1, 100) == [20, 40, 60, 80, 100]
    assert _ticks(3.0, 3.0) == [3.0]


def test_training_loss_is_drawn_and_validation_loss_only_when_reported() -> None:
    training_only = render_loss_plot([(1, 2.0, None), (2, 1.2, None), (3, 0.8, None)], "job #1")
    assert TRAIN in _colours(training_only) and VALID not in _colours(training_only)
    both = render_loss_plot([(1, 2.0, 2.1), (2, 1.2, None), (3, 0.8, 1.0)], "job #1")
    assert {TRAIN, VALID} <= _colours(both)


def test_a_job_without_metrics_or_with_one_step_still_has_a_plot() -> None:
    assert TRAIN not in _colours(render_loss_plot([], "job #2"))
    assert TRAIN in _colours(render_loss_plot([(5, 0.0, None)], "job #3"))  # a zero loss at one step
