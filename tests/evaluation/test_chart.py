"""The /model test chart: bars as long as each model's mean score and correct answers, and a test nobody could grade
drawn as "no score" rather than failing."""

from __future__ import annotations

import io

from PIL import Image

from bot.evaluation.chart import AGAINST, MODEL, SIZE, render_scorecard
from bot.evaluation.scorecard import scorecard
from tests.evaluation.test_scorecard import item


def _bar_length(png: bytes, row: int, colour: tuple[int, int, int]) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    y = 60 + row * 28 + 9
    return sum(image.getpixel((x, y)) == colour for x in range(SIZE[0]))


def test_bars_are_as_long_as_the_scores() -> None:
    card = scorecard([item(0, 9, 3, "correct"), item(1, 7, 5, "correct")])  # means 8 vs 4, correct 2/2 vs 0/2
    png = render_scorecard(card, "ft:new", "gpt-4o-mini")
    width = SIZE[0] - 30 - 170
    assert abs(_bar_length(png, 0, MODEL) - width * 0.8) <= 2
    assert abs(_bar_length(png, 1, AGAINST) - width * 0.4) <= 2
    assert abs(_bar_length(png, 2, MODEL) - width) <= 2  # every answer correct
    assert _bar_length(png, 3, AGAINST) <= 1  # none correct: no bar (a one-pixel edge at most)


def test_a_test_without_questions_or_grades_is_still_drawn() -> None:
    for card in (scorecard([]), scorecard([item(0, None, None)])):
        png = render_scorecard(card, "ft:new", "gpt-4o-mini")
        assert Image.open(io.BytesIO(png)).size == SIZE and _bar_length(png, 0, MODEL) <= 1
