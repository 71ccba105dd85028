"""Audio sent in Discord: which attachment is the recording, and how what was heard is shown above the answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import hikari

from bot.discord.hearing import audio_attachment, nothing_heard, quoted
from tests.discord.test_attachments import attachment


def message(*files: hikari.Attachment, voice: bool = False) -> Any:
    flags = hikari.MessageFlag.IS_VOICE_MESSAGE if voice else hikari.MessageFlag.NONE
    return SimpleNamespace(attachments=list(files), flags=flags)


def test_the_first_audio_attachment_is_the_recording_and_pictures_are_not() -> None:
    picture, clip, other = attachment("cat.png", 10, "image/png"), attachment("q.ogg", 10), attachment("r.mp3", 10)
    assert audio_attachment(message(picture, clip, other)) is clip
    assert audio_attachment(message(picture)) is None
    assert audio_attachment(message(attachment("memo", 10, "audio/ogg; codecs=opus"))) is not None


def test_a_voice_message_is_the_recording_whatever_its_name() -> None:
    recording = attachment("voice-message", 10)
    assert audio_attachment(message(recording, voice=True)) is recording


def test_what_was_heard_is_quoted_above_the_answer_and_silence_is_said_plainly() -> None:
    assert quoted("How many moons has Mars?") == "🎙️ *“How many moons has Mars?”*\n\n"
    assert str(nothing_heard()) == "I couldn't hear any speech in that audio, so there's nothing to answer."
