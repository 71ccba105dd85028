"""Real Whisper transcription on the committed fixtures: what it hears, what it drops, and speech it hears back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.speech.audio import decode
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Segment, Transcriber, keep
from bot.speech.tts import EspeakSpeech
from tests.assets import DATA, whisper_base_dir

SETTINGS = SpeechSettings()


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return whisper_base_dir()


@pytest.fixture
async def transcriber(model_dir: Path) -> AsyncIterator[Transcriber]:
    t = Transcriber(SETTINGS, str(model_dir))
    yield t
    t.close()


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


async def test_speech_spoken_by_espeak_is_heard_back_by_whisper(transcriber: Transcriber) -> None:
    speech = await EspeakSpeech(SETTINGS).synthesize("The answer is forty two.", "en")
    heard = await transcriber.transcribe(speech.data)
    assert "forty" in heard.text.lower() or "42" in heard.text


async def test_short_window_transcription_for_voice_turns_hears_the_same_words(transcriber: Transcriber) -> None:
    samples = (await decode((DATA / "weather_question.ogg").read_bytes(), SETTINGS)).samples
    heard = await transcriber.transcribe(samples, "en", beam_size=1, short_window=True)
    assert heard.text.rstrip(".").lower() == "tell me about the weather on mars"
