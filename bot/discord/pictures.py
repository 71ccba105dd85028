"""Pictures sent with a question (/ask image, image attachments of messages): checked by size and type before
download, then decoded and downscaled off the event loop for the model."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import hikari

from bot.discord import attachments
from bot.errors import InvalidInput
from bot.i18n import N_, _
from bot.llm.answering import QuestionImage
from bot.llm.images import IMAGE_EXTENSIONS, IMAGE_MEDIA_TYPES, prepare_image
from bot.llm.settings import LLMSettings
from bot.store.answers import ImageRef

MB = 1024 * 1024
WHAT = N_("a picture")


def picture_attachments(message: hikari.Message) -> list[hikari.Attachment]:
    """The message's attachments that say they are pictures (by type or name); others are not for the model."""
    return [
        a
        for a in message.attachments
        if (a.media_type or "").startswith("image/") or attachments.extension(a.filename) in IMAGE_EXTENSIONS
    ]


def check_pictures(pictures: Sequence[hikari.Attachment], settings: LLMSettings) -> None:
    """Refuse too many, too big or non-picture attachments, before anything is downloaded."""
    if len(pictures) > settings.max_images:
        raise InvalidInput(_("Send at most {count} pictures with a question.", count=settings.max_images))
    for picture in pictures:
        attachments.check_attachment(
            picture,
            max_bytes=int(settings.max_image_mb * MB),
            extensions=IMAGE_EXTENSIONS,
            media_types=IMAGE_MEDIA_TYPES,
            what=_(WHAT),
        )


async def read_pictures(pictures: Sequence[hikari.Attachment], settings: LLMSettings) -> tuple[QuestionImage, ...]:
    """Each checked picture downloaded (with its size limit enforced), then decoded, checked against decompression
    bombs, downscaled and re-encoded in a thread."""
    images: list[QuestionImage] = []
    for picture in pictures:
        data = await attachments.read(picture, max_bytes=int(settings.max_image_mb * MB), what=_(WHAT))
        prepared = await asyncio.to_thread(
            prepare_image,
            data,
            max_side=settings.image_max_side,
            max_pixels=settings.max_image_pixels,
            name=attachments.shown_name(picture.filename),
        )
        ref = ImageRef(url=picture.url, attachment_id=int(picture.id), sha256=prepared.sha256)
        images.append(QuestionImage(prepared.data_url, ref))
    return tuple(images)
