"""Speech synthesis behind one interface: edge-tts (default), an OpenAI-compatible /audio/speech, espeak-ng offline.

Every engine gives an encoded file (`synthesize`, for attaching to a message) and s16le 48 kHz stereo PCM
(`stream_pcm48k`, for the voice player), yielded in 100 ms chunks.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from typing import Protocol

import attrs
import edge_tts
import edge_tts.communicate
import openai

from bot.errors import InvalidInput, ServiceUnavailable
from bot.i18n import _
from bot.speech.audio import to_pcm48k_stereo
from bot.speech.language import voice_language
from bot.speech.settings import SpeechSettings

_log = logging.getLogger(__name__)
CHUNK = 48_000 * 2 * 2 // 10  # 100 ms of s16le 48 kHz stereo


@attrs.frozen
class SynthesizedSpeech:
    data: bytes
    mime: str
    extension: str


class SpeechEngine(Protocol):
    """`language` is a hint (e.g. the spoken question's language); the voice follows the language of `text`."""

    name: str

    async def synthesize(self, text: str, language: str | None = None) -> SynthesizedSpeech: ...

    def stream_pcm48k(self, text: str, language: str | None, /) -> AsyncIterator[bytes]: ...


def _checked(text: str, settings: SpeechSettings) -> str:
    text = " ".join(text.split())
    if not text:
        raise InvalidInput(_("There is nothing to say."))
    if len(text) > settings.max_speech_chars:
        text = text[: settings.max_speech_chars].rsplit(" ", 1)[0] + "…"
    return text


async def _pcm_chunks(engine: SpeechEngine, text: str, language: str | None) -> AsyncIterator[bytes]:
    speech = await engine.synthesize(text, language)
    pcm = await asyncio.to_thread(to_pcm48k_stereo, speech.data)
    for start in range(0, len(pcm), CHUNK):
        yield pcm[start : start + CHUNK]


class EdgeSpeech:
    name = "edge"

    def __init__(self, settings: SpeechSettings) -> None:
        self._settings = settings
        if settings.edge_endpoint:
            # edge-tts has no endpoint parameter; its module constant is the one place the URL lives.
            edge_tts.communicate.WSS_URL = settings.edge_endpoint  # pyright: ignore[reportPrivateImportUsage]

    def voice(self, language: str | None) -> str:
        return self._settings.edge_voices.get((language or "").split("-")[0], self._settings.edge_default_voice)

    async def synthesize(self, text: str, language: str | None = None) -> SynthesizedSpeech:
        text = _checked(text, self._settings)
        audio = bytearray()
        try:
            voice = self.voice(voice_language(text, language))
            async for chunk in edge_tts.Communicate(text, voice).stream():
                if chunk["type"] == "audio":
                    audio += chunk.get("data", b"")
        except Exception as exc:  # edge-tts raises its own and aiohttp's errors
            _log.warning("edge-tts failed: %s: %s", type(exc).__name__, exc)
            raise ServiceUnavailable(_("The speech service is not reachable right now.")) from exc
        return SynthesizedSpeech(bytes(audio), "audio/mpeg", "mp3")

    def stream_pcm48k(self, text: str, language: str | None, /) -> AsyncIterator[bytes]:
        return _pcm_chunks(self, text, language)


class OpenAISpeech:
    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI, settings: SpeechSettings) -> None:
        self._client = client
        self._settings = settings

    async def synthesize(self, text: str, language: str | None = None) -> SynthesizedSpeech:
        text = _checked(text, self._settings)
        try:
            response = await self._client.audio.speech.create(
                model=self._settings.openai_model,
                voice=self._settings.openai_voice,
                input=text,
                response_format="wav",
            )
        except openai.OpenAIError as exc:
            _log.warning("speech endpoint failed: %s: %s", type(exc).__name__, exc)
            raise ServiceUnavailable(_("The speech service had an error. Try again shortly.")) from exc
        return SynthesizedSpeech(response.read(), "audio/wav", "wav")

    def stream_pcm48k(self, text: str, language: str | None, /) -> AsyncIterator[bytes]:
        return _pcm_chunks(self, text, language)


class EspeakSpeech:
    """espeak-ng (Debian package `espeak-ng`): robotic, but fully offline."""

    name = "espeak"

    def __init__(self, settings: SpeechSettings) -> None:
        self._settings = settings

    def voice(self, language: str | None) -> str:
        voices = self._settings.espeak_voices
        return voices.get((language or "").split("-")[0], voices.get("en", "en-us"))

    async def synthesize(self, text: str, language: str | None = None) -> SynthesizedSpeech:
        text = _checked(text, self._settings)
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise ServiceUnavailable(_("The offline speech engine (espeak-ng) is not installed."))
        voice = self.voice(voice_language(text, language))
        process = await asyncio.create_subprocess_exec(
            binary,
            "-v",
            voice,
            "--stdout",
            "--",
            text,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        wav, err = await process.communicate()
        if process.returncode != 0 or not wav:
            _log.warning("espeak-ng failed (%s): %s", process.returncode, err.decode(errors="replace")[:200])
            raise ServiceUnavailable(_("The offline speech engine failed."))
        return SynthesizedSpeech(wav, "audio/wav", "wav")

    def stream_pcm48k(self, text: str, language: str | None, /) -> AsyncIterator[bytes]:
        return _pcm_chunks(self, text, language)


def make_engine(settings: SpeechSettings, client: openai.AsyncOpenAI) -> SpeechEngine:
    if settings.engine == "openai":
        return OpenAISpeech(client, settings)
    if settings.engine == "espeak":
        return EspeakSpeech(settings)
    return EdgeSpeech(settings)
