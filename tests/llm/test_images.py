"""Pictures for the model: decoded, capped in pixels before decoding, downscaled, re-encoded."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.errors import InvalidInput
from bot.llm.images import prepare_image


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def test_transparent_pictures_stay_png_and_others_become_jpeg_within_the_size() -> None:
    clear = prepare_image(encoded(Image.new("RGBA", (300, 100)), "PNG"), max_side=150, max_pixels=10**6, name="a")
    assert clear.data_url.startswith("data:image/png;base64,") and (clear.width, clear.height) == (150, 50)
    photo = prepare_image(encoded(Image.new("RGB", (50, 80)), "WEBP"), max_side=150, max_pixels=10**6, name="b")
    assert photo.data_url.startswith("data:image/jpeg;base64,") and (photo.width, photo.height) == (50, 80)
    with Image.open(io.BytesIO(base64.b64decode(photo.data_url.split(",", 1)[1]))) as back:
        assert back.format == "JPEG"


def test_bombs_and_non_pictures_are_refused_with_a_clear_message() -> None:
    # A tiny file that declares 20000×20000 pixels: refused from its header, before its pixels are decoded.
    bomb = encoded(Image.new("1", (20_000, 20_000)), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInput, match="pixels"):
        prepare_image(bomb, max_side=1024, max_pixels=40_000_000, name="bomb.png")
    with pytest.raises(InvalidInput, match="not a picture I can read"):
        prepare_image(b"GIF89a but not really", max_side=1024, max_pixels=10**6, name="x.gif")
    truncated = encoded(Image.new("RGB", (64, 64)), "JPEG")[:200]
    with pytest.raises(InvalidInput, match="not a picture I can read"):
        prepare_image(truncated, max_side=1024, max_pixels=10**6, name="cut.jpg")
