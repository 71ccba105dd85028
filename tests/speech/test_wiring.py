"""Speech's wiring: the configured speech engine talks, and the metrics read the transcription queue live."""

from __future__ import annotations

import openai
import pytest

from bot.metrics import Metrics
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber
from bot.speech.tts import EdgeSpeech, EspeakSpeech, OpenAISpeech, SpeechEngine
from bot.speech.wiring import install
from bot.wiring import Wiring
from tests.test_wiring import Registry


async def wired(engine: str) -> Wiring:
    wiring = Wiring(Registry())
    wiring.add(SpeechSettings, SpeechSettings(engine=engine, max_queued=2))  # type: ignore[arg-type]
    wiring.add(Metrics, Metrics())
    wiring.add(openai.AsyncOpenAI, openai.AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1"))
    install(wiring)
    return wiring


@pytest.mark.parametrize(("engine", "kind"), [("edge", EdgeSpeech), ("espeak", EspeakSpeech), ("openai", OpenAISpeech)])
async def test_the_configured_engine_speaks(engine: str, kind: type[SpeechEngine]) -> None:
    wiring = await wired(engine)
    try:
        assert isinstance(wiring.get(SpeechEngine), kind)
    finally:
        await wiring.close()
        await wiring.get(openai.AsyncOpenAI).close()


async def test_the_metrics_show_audio_messages_waiting_for_transcription() -> None:
    wiring = await wired("edge")
    metrics, transcriber = wiring.get(Metrics), wiring.get(Transcriber)
    try:
        assert metrics.registry.get_sample_value("teachbot_transcription_queue_depth") == 0
        with transcriber.queue_place(), transcriber.queue_place():
            assert metrics.registry.get_sample_value("teachbot_transcription_queue_depth") == 2
        assert metrics.registry.get_sample_value("teachbot_transcription_queue_depth") == 0
    finally:
        await wiring.close()
        await wiring.get(openai.AsyncOpenAI).close()
