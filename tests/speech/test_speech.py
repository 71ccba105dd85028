"""Decoding, real Whisper transcription on the committed fixtures, and every speech engine offline."""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import openai
import pytest

from bot.errors import InvalidInput
from bot.speech.audio import NotAudio, check_upload, decode
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Segment, Transcriber, keep
from bot.speech.tts import EdgeSpeech, EspeakSpeech, OpenAISpeech
from tests.assets import DATA, whisper_base_dir
from tests.fakes.edge_tts import FakeEdgeTTS
from tests.fakes.openai import FakeOpenAI

SETTINGS = SpeechSettings()


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return whisper_base_dir()


@pytest.fixture
async def transcriber(model_dir: Path) -> AsyncIterator[Transcriber]:
    t = Transcriber(SETTINGS, str(model_dir))
    yield t
    t.close()


async def test_voice_message_ogg_and_wav_decode_to_16k_mono() -> None:
    ogg = await decode((DATA / "weather_question.ogg").read_bytes(), SETTINGS)
    wav = await decode((DATA / "weather_question.wav").read_bytes(), SETTINGS)
    assert ogg.samples.dtype == np.float32 and abs(ogg.duration_s - wav.duration_s) < 0.1
    assert 2.0 < ogg.duration_s < 5.0


async def test_non_audio_and_oversized_or_too_long_audio_are_refused() -> None:
    with pytest.raises(NotAudio, match="could not be read as audio"):
        await decode(b"this is plainly text, not audio" * 10, SETTINGS)
    with pytest.raises(NotAudio, match="not audio"):
        check_upload(100, "image/png", "cat.png", None, SETTINGS)
    with pytest.raises(InvalidInput, match="the limit is 25 MB"):
        check_upload(30 * 1024 * 1024, "audio/ogg", "voice-message.ogg", 10.0, SETTINGS)
    with pytest.raises(InvalidInput, match="limit is 300 s"):
        check_upload(1000, "audio/ogg", "voice-message.ogg", 301.0, SETTINGS)
    with pytest.raises(InvalidInput, match="longer than 1 s"):
        await decode((DATA / "weather_question.ogg").read_bytes(), SpeechSettings(max_duration_s=1.0))


async def test_whisper_transcribes_the_fixture_and_hears_nothing_in_silence(transcriber: Transcriber) -> None:
    heard = await transcriber.transcribe((DATA / "weather_question.ogg").read_bytes())
    assert heard.text == "Tell me about the weather on Mars."
    assert heard.language == "en"
    silence = await transcriber.transcribe(np.zeros(16_000 * 2, dtype=np.float32))
    assert silence.is_empty
    noise = (np.random.default_rng(3).standard_normal(16_000 * 3) * 0.05).astype(np.float32)
    assert (await transcriber.transcribe(noise)).is_empty


def test_stock_silence_phrases_with_doubt_are_dropped() -> None:
    assert not keep(Segment(0, 1, "Thank you.", no_speech_prob=0.5, avg_logprob=-0.4), 0.6)
    assert not keep(Segment(0, 1, "Subtitles by the Amara.org community", 0.1, -0.9), 0.6)
    assert keep(Segment(0, 1, "Thank you.", no_speech_prob=0.01, avg_logprob=-0.2), 0.6)
    assert keep(Segment(0, 1, "What is the capital of France?", 0.7, -0.2), 0.6)


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


async def test_speech_spoken_by_espeak_is_heard_back_by_whisper(transcriber: Transcriber) -> None:
    speech = await EspeakSpeech(SETTINGS).synthesize("The answer is forty two.", "en")
    heard = await transcriber.transcribe(speech.data)
    assert "forty" in heard.text.lower() or "42" in heard.text


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


async def test_short_window_transcription_for_voice_turns_hears_the_same_words(transcriber: Transcriber) -> None:
    samples = (await decode((DATA / "weather_question.ogg").read_bytes(), SETTINGS)).samples
    heard = await transcriber.transcribe(samples, "en", beam_size=1, short_window=True)
    assert heard.text.rstrip(".").lower() == "tell me about the weather on mars"


def _encode(pcm16k: np.ndarray, fmt: str, codec: str) -> bytes:
    """The fixture re-encoded in another container, as users upload it (mp3, m4a, webm)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=48_000, layout="mono")
        pcm = (np.repeat(pcm16k, 3) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48_000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "codec"), [("mp3", "libmp3lame"), ("mp4", "aac"), ("webm", "libopus")])
async def test_mp3_m4a_and_webm_uploads_decode_to_the_same_audio(fmt: str, codec: str) -> None:
    original = await decode((DATA / "weather_question.wav").read_bytes(), SETTINGS)
    encoded = _encode(original.samples, fmt, codec)
    decoded = await decode(encoded, SETTINGS)
    assert abs(decoded.duration_s - original.duration_s) < 0.15
    assert float(np.sqrt(np.mean(decoded.samples**2))) > 0.5 * float(np.sqrt(np.mean(original.samples**2)))
