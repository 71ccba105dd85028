"""The scorecard chart shown by /model test: a small PNG drawn with Pillow (mean score and correct answers per model,
and the wins, ties and losses)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from bot.evaluation.scorecard import Scorecard

SIZE = (640, 300)
MODEL, AGAINST, WIN, TIE, LOSS = (52, 120, 246), (160, 160, 160), (34, 160, 90), (200, 200, 200), (220, 70, 60)
TEXT, GRID = (30, 30, 30), (225, 225, 225)


def render_scorecard(card: Scorecard, model: str, against: str) -> bytes:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right = 170, SIZE[0] - 30
    width = right - left
    draw.text((20, 10), f"test of {model[:60]}", fill=TEXT, font=font)
    draw.text((20, 26), f"against {against[:60]} · {card.total} questions, {card.graded} graded", fill=TEXT, font=font)
    for tick in range(0, 11, 2):
        x = left + width * tick / 10
        draw.line([(x, 55), (x, 175)], fill=GRID)
        draw.text((x - 4, 178), str(tick), fill=TEXT, font=font)
    rows = [
        ("mean score (new)", card.model_mean, MODEL),
        ("mean score (current)", card.against_mean, AGAINST),
        ("correct (new)", 10 * card.model_correct / card.total if card.total else None, MODEL),
        ("correct (current)", 10 * card.against_correct / card.total if card.total else None, AGAINST),
    ]
    for index, (label, value, color) in enumerate(rows):
        y = 60 + index * 28
        draw.text((20, y + 4), label, fill=TEXT, font=font)
        if value is None:
            draw.text((left + 4, y + 4), "no score", fill=TEXT, font=font)
            continue
        draw.rectangle([(left, y), (left + width * value / 10, y + 18)], fill=color)
        shown = f"{value:.1f}" if index < 2 else f"{round(value * card.total / 10)}/{card.total}"
        draw.text((left + width * value / 10 + 4, y + 4), shown, fill=TEXT, font=font)
    y = 215
    draw.text((20, y + 4), "per question", fill=TEXT, font=font)
    x = float(left)
    for count, color in ((card.wins, WIN), (card.ties, TIE), (card.losses, LOSS)):
        if card.graded and count:
            span = width * count / card.graded
            draw.rectangle([(x, y), (x + span, y + 18)], fill=color)
            x += span
    legend = f"{card.wins} wins · {card.ties} ties · {card.losses} losses"
    draw.text((left, y + 26), legend, fill=TEXT, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
