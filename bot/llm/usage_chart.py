"""The chart under /usage: a small PNG drawn with Pillow of the tokens used on each of the last 30 days."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

SIZE = (640, 220)
BAR, TEXT, GRID = (52, 120, 246), (30, 30, 30), (225, 225, 225)


def render_daily_tokens(days: list[str], tokens: list[int], title: str) -> bytes:
    """One bar a day (`days` as "2026-12-06", oldest first), scaled to the busiest day."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, top, bottom = 60, SIZE[0] - 20, 40, SIZE[1] - 40
    draw.text((20, 10), title[:90], fill=TEXT, font=font)
    most = max(tokens, default=0)
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - (bottom - top) * fraction
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((8, y - 6), f"{round(most * fraction):,}", fill=TEXT, font=font)
    if days:
        step = (right - left) / len(days)
        for index, (day, count) in enumerate(zip(days, tokens, strict=True)):
            x = left + index * step
            if count and most:
                draw.rectangle([(x + 1, bottom - (bottom - top) * count / most), (x + step - 2, bottom)], fill=BAR)
            if index % 7 == 0 or index == len(days) - 1:
                draw.text((x, bottom + 6), day[5:], fill=TEXT, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
