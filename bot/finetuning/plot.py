"""The loss plot shown by /jobs show: a small PNG drawn with Pillow from a job's metric events."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFont

Point = tuple[int, float, float | None]  # step, training loss, validation loss
SIZE = (640, 360)
MARGIN = (60, 30, 20, 40)  # left, top, right, bottom
TRAIN, VALID, AXIS, GRID, TEXT = (52, 120, 246), (234, 88, 12), (60, 60, 60), (225, 225, 225), (30, 30, 30)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def render_loss_plot(points: list[Point], title: str) -> bytes:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, top, right, bottom = MARGIN[0], MARGIN[1], SIZE[0] - MARGIN[2], SIZE[1] - MARGIN[3]
    draw.text((left, 8), title, fill=TEXT, font=font)
    if not points:
        draw.text((SIZE[0] // 2 - 60, SIZE[1] // 2), "no metrics yet", fill=TEXT, font=font)
        return _png(image)
    steps = [p[0] for p in points]
    losses = [p[1] for p in points] + [p[2] for p in points if p[2] is not None]
    x_low, x_high = min(steps), max(*steps, min(steps) + 1)
    y_low, y_high = 0.0, max(losses) * 1.1 or 1.0

    def xy(step: float, loss: float) -> tuple[float, float]:
        x = left + (step - x_low) / (x_high - x_low) * (right - left)
        y = bottom - (loss - y_low) / (y_high - y_low) * (bottom - top)
        return x, y

    for value in _ticks(y_low, y_high):
        _, y = xy(x_low, value)
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((4, y - 6), f"{value:g}", fill=TEXT, font=font)
    for value in _ticks(x_low, x_high):
        x, _ = xy(value, y_low)
        draw.line([(x, bottom), (x, bottom + 4)], fill=AXIS)
        draw.text((x - 8, bottom + 6), f"{value:g}", fill=TEXT, font=font)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=AXIS, width=2)
    draw.text((right - 30, bottom + 22), "step", fill=TEXT, font=font)
    for index, color, label in ((1, TRAIN, "training loss"), (2, VALID, "validation loss")):
        series = [(p[0], p[index]) for p in points if p[index] is not None]
        if not series:
            continue
        coords = [xy(s, v) for s, v in series if v is not None]
        if len(coords) > 1:
            draw.line(coords, fill=color, width=2)
        for x, y in coords:
            draw.ellipse([(x - 2, y - 2), (x + 2, y + 2)], fill=color)
        legend_y = top + 4 + (index - 1) * 14
        draw.line([(right - 130, legend_y + 6), (right - 110, legend_y + 6)], fill=color, width=3)
        draw.text((right - 105, legend_y), label, fill=TEXT, font=font)
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
