"""The /usage chart: one bar a day scaled to the busiest day, nothing drawn for a day without use."""

from __future__ import annotations

import io

from PIL import Image

from bot.llm.usage_chart import BAR, SIZE, render_daily_tokens


def _bar_heights(png: bytes, days: int) -> list[int]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    left, right = 60, SIZE[0] - 20
    step = (right - left) / days
    middles = [int(left + (i + 0.5) * step) for i in range(days)]
    return [sum(image.getpixel((x, y)) == BAR for y in range(SIZE[1])) for x in middles]


def test_each_day_s_bar_is_scaled_to_the_busiest_day() -> None:
    days = [f"2026-12-{d:02d}" for d in range(1, 5)]
    png = render_daily_tokens(days, [1000, 0, 500, 250], "Tokens a day")
    assert Image.open(io.BytesIO(png)).size == SIZE
    full, none, half, quarter = _bar_heights(png, 4)
    assert none == 0 and full > 0
    assert abs(half - full / 2) <= 1 and abs(quarter - full / 4) <= 1


def test_a_month_without_use_is_drawn_without_bars() -> None:
    days = [f"2026-11-{d:02d}" for d in range(1, 31)]
    assert _bar_heights(render_daily_tokens(days, [0] * 30, "Tokens a day"), 30) == [0] * 30
    assert Image.open(io.BytesIO(render_daily_tokens([], [], "Nothing yet"))).size == SIZE
