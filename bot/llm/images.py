"""Pictures sent with a question: decoded, checked against decompression bombs, downscaled and re-encoded for the
model (a data URL). Blocking work: callers run `prepare_image` in a thread."""

from __future__ import annotations

import base64
import hashlib
import io
import warnings

import attrs
from PIL import Image, UnidentifiedImageError

from bot.errors import InvalidInput
from bot.i18n import _

# What the model providers accept as image inputs (OpenAI: PNG, JPEG, WEBP, non-animated GIF).
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp", "gif"})
IMAGE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
_FORMATS = ["PNG", "JPEG", "WEBP", "GIF"]


@attrs.frozen
class PreparedImage:
    """A picture as the model gets it, and what identifies the original (its SHA-256) without keeping its bytes."""

    data_url: str
    width: int
    height: int
    sha256: str


def prepare_image(data: bytes, *, max_side: int, max_pixels: int, name: str) -> PreparedImage:
    """Decode `data` (PNG, JPEG, WEBP or GIF), refuse more than `max_pixels` before decoding the pixels, fit it into
    `max_side`×`max_side`, and re-encode it: PNG when it has transparency, JPEG otherwise."""
    not_a_picture = InvalidInput(_("`{name}` is not a picture I can read (PNG, JPEG, WEBP or GIF).", name=name))
    try:
        with warnings.catch_warnings():
            # Pillow warns (then raises) on huge images; either way it is refused, never decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise InvalidInput(
                    _(
                        "`{name}` is {width}×{height} pixels; pictures may have at most {max_pixels}.",
                        name=name,
                        width=width,
                        height=height,
                        max_pixels=f"{max_pixels:,}",
                    )
                )
            image.seek(0)  # an animation's first frame
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput(_("`{name}` has too many pixels to be read safely.", name=name)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise not_a_picture from None
    image.thumbnail((max_side, max_side))
    keeps_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if keeps_alpha:
        image.convert("RGBA").save(out, "PNG", optimize=True)
        mime = "image/png"
    else:
        image.convert("RGB").save(out, "JPEG", quality=85)
        mime = "image/jpeg"
    encoded = base64.b64encode(out.getvalue()).decode("ascii")
    return PreparedImage(
        data_url=f"data:{mime};base64,{encoded}",
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )
