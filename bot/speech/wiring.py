"""Speech's services in lightbulb's DI: the transcriber (Whisper in worker threads) and the speech engine."""

from __future__ import annotations

import openai

from bot.metrics import Metrics
from bot.speech.settings import SpeechSettings
from bot.speech.transcribe import Transcriber
from bot.speech.tts import SpeechEngine, make_engine
from bot.wiring import Stage, Wiring


def install(wiring: Wiring) -> None:
    settings = wiring.get(SpeechSettings)
    transcriber = wiring.add(Transcriber, Transcriber(settings))
    wiring.get(Metrics).read_transcription_queue(lambda: transcriber.queued)
    wiring.on_close(Stage.WORKERS, transcriber.close)
    wiring.add(SpeechEngine, make_engine(settings, wiring.get(openai.AsyncOpenAI)))
