"""Attachments users send: checked by size and type before downloading, then streamed with the limit enforced."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from pathlib import PurePosixPath

import hikari

from bot.errors import InvalidInput
from bot.i18n import _


def human_size(n: int) -> str:
    if n < 1024:
        return _("{n} bytes", n=n)
    size = float(n)
    for unit in ("KB", "MB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GB"


def extension(filename: str) -> str:
    """The lower-case extension of a user-supplied name, used only for checks (never to build a path)."""
    return PurePosixPath(filename).suffix.lower().lstrip(".")


def check_attachment(
    attachment: hikari.Attachment,
    *,
    max_bytes: int,
    extensions: Collection[str],
    media_types: Collection[str] = (),
    what: str,
) -> None:
    """Refuse before downloading: too big, or neither the extension nor the declared type is one we read."""
    if attachment.size > max_bytes:
        raise InvalidInput(
            _(
                "`{name}` is {size}; {what} may be at most {limit}.",
                name=shown_name(attachment.filename),
                size=human_size(attachment.size),
                what=what,
                limit=human_size(max_bytes),
            )
        )
    declared = (attachment.media_type or "").split(";")[0].strip().lower()
    if extension(attachment.filename) not in extensions and declared not in media_types:
        kinds = ", ".join(f".{e}" for e in sorted(extensions))
        raise InvalidInput(
            _("`{name}` is not {what} ({kinds}).", name=shown_name(attachment.filename), what=what, kinds=kinds)
        )


async def chunks(attachment: hikari.Attachment, *, max_bytes: int, what: str) -> AsyncIterator[bytes]:
    """The attachment's bytes as they arrive; stops with a clear error if more than `max_bytes` come."""
    received = 0
    async with attachment.stream() as reader:
        async for chunk in reader:
            received += len(chunk)
            if received > max_bytes:
                raise InvalidInput(
                    _("{what} is larger than {limit}.", what=what[:1].upper() + what[1:], limit=human_size(max_bytes))
                )
            yield chunk


async def read(attachment: hikari.Attachment, *, max_bytes: int, what: str) -> bytes:
    parts = [c async for c in chunks(attachment, max_bytes=max_bytes, what=what)]
    return b"".join(parts)


def shown_name(filename: str) -> str:
    """A user-supplied file name made safe to echo inside inline code."""
    cleaned = filename.replace("`", "'").replace("\n", " ")
    return cleaned if len(cleaned) <= 60 else cleaned[:59] + "…"
