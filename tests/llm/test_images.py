"""Pictures for the model: decoded, capped in pixels before decoding, downscaled, re-encoded."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from bot.errors import InvalidInput
from bot.llm.images import prepare_image


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG's signature, IHDR and the start of its pixel data: what a decompression bomb shows before its pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024))


def test_transparent_pictures_stay_png_and_others_become_jpeg_within_the_size() -> None:
    clear = prepare_image(encoded(Image.new("RGBA", (300, 100)), "PNG"), max_side=150, max_pixels=10**6, name="a")
    assert clear.data_url.startswith("data:image/png;base64,") and (clear.width, clear.height) == (150, 50)
    photo = prepare_image(encoded(Image.new("RGB", (50, 80)), "WEBP"), max_side=150, max_pixels=10**6, name="b")
    assert photo.data_url.startswith("data:image/jpeg;base64,") and (photo.width, photo.height) == (50, 80)
    with Image.open(io.BytesIO(base64.b64decode(photo.data_url.split(",", 1)[1]))) as back:
        assert back.format == "JPEG"


def test_bombs_and_non_pictures_are_refused_with_a_clear_message() -> None:
    # Files that declare more pixels than allowed: refused from their header, before any pixel is decoded.
    with pytest.raises(InvalidInput, match="7000×7000 pixels"):
        prepare_image(png_header(7000, 7000), max_side=1024, max_pixels=40_000_000, name="bomb.png")
    with pytest.raises(InvalidInput, match="too many pixels"):  # past Pillow's own limit too
        prepare_image(png_header(60_000, 60_000), max_side=1024, max_pixels=40_000_000, name="bomb.png")
    with pytest.raises(InvalidInput, match="not a picture I can read"):
        prepare_image(b"GIF89a but not really", max_side=1024, max_pixels=10**6, name="x.gif")
    truncated = encoded(Image.new("RGB", (64, 64)), "JPEG")[:200]
    with pytest.raises(InvalidInput, match="not a picture I can read"):
        prepare_image(truncated, max_side=1024, max_pixels=10**6, name="cut.jpg")
