"""Every text-to-speech engine offline: espeak, edge-tts against a loopback fake, an OpenAI-compatible endpoint."""

from __future__ import annotations

import io
import wave

import openai

from bot.speech.settings import SpeechSettings
from bot.speech.tts import EdgeSpeech, EspeakSpeech, OpenAISpeech
from tests.fakes.edge_tts import FakeEdgeTTS
from tests.fakes.openai import FakeOpenAI

SETTINGS = SpeechSettings()


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


async def test_espeak_speaks_offline_and_streams_48k_stereo() -> None:
    engine = EspeakSpeech(SETTINGS)
    speech = await engine.synthesize("Hello from the offline voice.", "en")
    assert speech.mime == "audio/wav" and _wav_seconds(speech.data) > 1.0
    chunks = [c async for c in engine.stream_pcm48k("Hello there.", "en")]
    pcm = b"".join(chunks)
    assert len(chunks) > 3 and len(chunks[0]) == 19_200  # 100 ms of s16le 48 kHz stereo
    assert 0.5 < len(pcm) / (48_000 * 4) < 3


async def test_edge_tts_against_a_loopback_fake_of_its_service() -> None:
    async with FakeEdgeTTS() as service:
        engine = EdgeSpeech(SpeechSettings(edge_endpoint=service.endpoint))
        speech = await engine.synthesize("Bonjour tout le monde", "fr")
        assert speech.mime == "audio/mpeg" and len(speech.data) > 1000
        assert service.requests[0]["voice"] == "Microsoft Server Speech Text to Speech Voice (fr-FR, DeniseNeural)"
        assert "Bonjour tout le monde" in service.requests[0]["text"]
        pcm = b"".join([c async for c in engine.stream_pcm48k("one two three four", "en")])
        assert 0.8 < len(pcm) / (48_000 * 4) < 1.6  # four words → about a second of audio


async def test_openai_compatible_speech_endpoint() -> None:
    async with FakeOpenAI() as fake, openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url) as client:
        engine = OpenAISpeech(client, SETTINGS)
        speech = await engine.synthesize("Hello there general", "en")
        assert speech.mime == "audio/wav" and _wav_seconds(speech.data) > 0.5
        assert fake.speech_requests[0]["voice"] == "alloy"
