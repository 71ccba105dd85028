"""Audio sent in Discord (voice messages, audio attachments, /ask audio) turned into a question's text."""

from __future__ import annotations

import hikari

from bot.discord import attachments
from bot.errors import InvalidInput
from bot.i18n import _
from bot.speech.audio import check_upload, is_audio
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber

MB = 1024 * 1024


def audio_attachment(message: hikari.Message) -> hikari.Attachment | None:
    """The message's voice message or first audio attachment."""
    for attachment in message.attachments:
        if message.flags & hikari.MessageFlag.IS_VOICE_MESSAGE or is_audio(attachment.filename, attachment.media_type):
            return attachment
    return None


async def transcribe_attachment(
    transcriber: Transcriber, attachment: hikari.Attachment, settings: SpeechSettings, guild_id: int | None
) -> str:
    """What was said; InvalidInput for silence. Size, type and length are checked before anything is downloaded."""
    check_upload(attachment.size, attachment.media_type, attachment.filename, attachment.duration, settings)
    with transcriber.queue_place():
        data = await attachments.read(attachment, max_bytes=int(settings.max_audio_mb * MB), what=_("the audio"))
        language = settings.guild_languages.get(str(guild_id)) if guild_id is not None else None
        heard = await transcriber.transcribe(data, language or settings.language)
    if heard.is_empty:
        raise nothing_heard()
    return heard.text


def quoted(transcript: str) -> str:
    """How the reply shows what was heard, above the answer."""
    return f"🎙️ *“{transcript}”*\n\n"


def nothing_heard() -> InvalidInput:
    return InvalidInput(_("I couldn't hear any speech in that audio, so there's nothing to answer."))


async def heard_question(
    transcriber: Transcriber,
    audio: hikari.Attachment | None,
    typed: str,
    settings: SpeechSettings,
    guild_id: int | None,
) -> tuple[str, str | None, str]:
    """(question text, transcript or None, reply prefix): a recording's transcript comes before any typed text."""
    if audio is None:
        return typed, None, ""
    transcript = await transcribe_attachment(transcriber, audio, settings, guild_id)
    return f"{transcript}\n\n{typed}".strip(), transcript, quoted(transcript)
