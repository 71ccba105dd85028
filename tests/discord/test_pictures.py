"""Pictures sent with a question: which attachments are pictures, and too many, too big or not-a-picture refused
before anything is downloaded."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.discord.pictures import check_pictures, picture_attachments
from bot.errors import InvalidInput
from bot.llm.settings import LLMSettings
from tests.discord.test_attachments import MB, attachment

SETTINGS = LLMSettings(max_images=2, max_image_mb=1.0)


def test_pictures_are_told_by_their_type_or_their_name() -> None:
    by_type, by_name = attachment("upload", 10, "image/webp"), attachment("Photo.JPG", 10)
    message: Any = SimpleNamespace(attachments=[by_type, attachment("notes.txt", 10, "text/plain"), by_name])
    assert picture_attachments(message) == [by_type, by_name]


def test_too_many_too_big_or_not_a_picture_is_refused_before_download() -> None:
    check_pictures([attachment("a.png", MB), attachment("b.gif", 10)], SETTINGS)
    with pytest.raises(InvalidInput, match=r"^Send at most 2 pictures with a question\.$"):
        check_pictures([attachment(f"{i}.png", 10) for i in range(3)], SETTINGS)
    with pytest.raises(InvalidInput, match=r"^`big\.png` is 1\.5 MB; a picture may be at most 1\.0 MB\.$"):
        check_pictures([attachment("big.png", MB + MB // 2)], SETTINGS)
    with pytest.raises(InvalidInput, match=r"^`cat\.svg` is not a picture \(\.gif, \.jpeg, \.jpg, \.png, \.webp\)\.$"):
        check_pictures([attachment("cat.svg", 10, "image/svg+xml")], SETTINGS)
