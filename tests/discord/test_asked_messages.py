"""Apps → Ask about this message: a message gone or unreadable is a short refusal, and its pictures go with the
question only where the model answering there takes pictures."""

from __future__ import annotations

import hikari
import pytest

from bot.discord.asked_messages import asked_message, pictures_read
from bot.errors import InvalidInput, NotAllowed, NotFound


class Rest:
    """Discord's REST side holding one message, in channel 10; channel 11 the bot may not read."""

    def __init__(self, message: object) -> None:
        self.message = message

    async def fetch_message(self, channel_id: int, message_id: int) -> object:
        if channel_id == 11:
            raise hikari.ForbiddenError(
                url="https://discord.com/api", headers={}, raw_body=b"", message="Missing Access"
            )
        if (channel_id, message_id) != (10, 100):
            raise hikari.NotFoundError(
                url="https://discord.com/api", headers={}, raw_body=b"", message="Unknown Message"
            )
        return self.message


class Attachment:
    def __init__(self, filename: str, media_type: str) -> None:
        self.filename = filename
        self.media_type = media_type


class Message:
    def __init__(self, *attachments: Attachment) -> None:
        self.attachments = list(attachments)


class Answerer:
    """Whether the model answering in a server takes pictures."""

    def __init__(self, takes_images: bool) -> None:
        self.takes_images = takes_images

    async def check_takes_images(self, guild_id: int | None) -> None:
        if not self.takes_images:
            raise InvalidInput("This model reads words only.")


async def test_the_message_asked_about_is_read_from_its_channel() -> None:
    message = Message()
    assert await asked_message(Rest(message), 10, 100) is message  # type: ignore[arg-type]


async def test_a_deleted_or_unreadable_message_is_a_short_refusal() -> None:
    with pytest.raises(NotFound, match=r"^That message is not in this channel any more\.$"):
        await asked_message(Rest(Message()), 10, 101)  # type: ignore[arg-type]
    with pytest.raises(NotAllowed, match=r"^The bot may not read this channel's messages"):
        await asked_message(Rest(Message()), 11, 100)  # type: ignore[arg-type]


async def test_pictures_go_with_the_question_only_to_a_model_that_takes_them_and_only_so_many() -> None:
    cat, dog, notes = (
        Attachment("cat.png", "image/png"),
        Attachment("dog.jpg", "image/jpeg"),
        Attachment("a.txt", "text/plain"),
    )
    message = Message(cat, notes, dog)
    assert await pictures_read(Answerer(True), message, 4, 5) == [cat, dog]  # type: ignore[arg-type]
    assert await pictures_read(Answerer(True), message, 1, 5) == [cat]  # type: ignore[arg-type]
    assert await pictures_read(Answerer(False), message, 4, 5) == []  # type: ignore[arg-type]
    assert await pictures_read(Answerer(False), Message(notes), 4, 5) == []  # type: ignore[arg-type]
