"""Speech recognition with faster-whisper: loaded once, lazily; run in a bounded worker pool, never on the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from typing import Any

import attrs
import numpy as np

from bot.errors import ServiceUnavailable
from bot.speech.audio import RATE, Samples, decode_sync
from bot.speech.settings import SpeechSettings

_log = logging.getLogger(__name__)

# What Whisper tends to "hear" in silence or noise (it was trained on subtitled video).
SILENCE_PHRASES = {
    "thank you",
    "thank you.",
    "thanks for watching",
    "thanks for watching!",
    "thank you for watching",
    "you",
    "bye",
    "bye.",
    "subtitles by the amara.org community",
    "please subscribe",
    "so",
}
SILENCE_PREFIXES = ("subtitles by", "subtitled by", "captions by", "transcribed by")


@attrs.frozen
class Segment:
    start: float
    end: float
    text: str
    no_speech_prob: float
    avg_logprob: float


@attrs.frozen
class Transcript:
    text: str
    language: str | None
    duration_s: float
    segments: list[Segment] = attrs.field(factory=list[Segment])

    @property
    def is_empty(self) -> bool:
        return not self.text


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def keep(segment: Segment, threshold: float) -> bool:
    """Drop what Whisper itself doubts is speech, and its stock phrases when they come with doubt."""
    if segment.no_speech_prob > threshold and segment.avg_logprob < -0.5:
        return False
    phrase = _normal(segment.text).strip(" .!?,")
    stock = phrase in {p.strip(" .!?,") for p in SILENCE_PHRASES} or phrase.startswith(SILENCE_PREFIXES)
    return not (stock and (segment.no_speech_prob > threshold / 2 or segment.avg_logprob < -0.7))


class Transcriber:
    """`await transcribe(samples_or_bytes, language)`; `close()` when done. One model, shared by every caller."""

    def __init__(self, settings: SpeechSettings, model_path: str | None = None) -> None:
        self._settings = settings
        self._model_path = model_path or settings.whisper_model
        self._model: Any = None
        self._loading = asyncio.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(settings.max_concurrent, thread_name_prefix="whisper")
        self._slots = asyncio.Semaphore(settings.max_concurrent)

    async def _loaded(self) -> Any:
        async with self._loading:
            if self._model is None:
                loop = asyncio.get_running_loop()
                try:
                    self._model = await loop.run_in_executor(self._pool, self._load)
                except Exception as exc:
                    _log.warning("could not load the speech model %s: %s", self._model_path, exc)
                    raise ServiceUnavailable("Speech recognition is not available right now.") from exc
        return self._model

    def _load(self) -> Any:
        # A heavy import, paid once and off the loop.
        from faster_whisper import WhisperModel  # pyright: ignore[reportMissingTypeStubs]

        s = self._settings
        _log.info("loading Whisper model %s (%s, %s)", self._model_path, s.device, s.compute_type)
        return WhisperModel(self._model_path, device=s.device, compute_type=s.compute_type, cpu_threads=s.cpu_threads)

    async def transcribe(
        self, audio: Samples | bytes, /, language: str | None = None, *, beam_size: int = 5
    ) -> Transcript:
        model = await self._loaded()
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self._run, model, audio, language, beam_size)

    def _run(self, model: Any, audio: Samples | bytes, language: str | None, beam_size: int) -> Transcript:
        samples = decode_sync(audio, self._settings).samples if isinstance(audio, bytes) else audio
        duration = len(samples) / RATE
        if duration == 0 or float(np.abs(samples).max(initial=0.0)) < 1e-4:
            return Transcript("", language, duration)
        segments, info = model.transcribe(
            samples,
            language=language or self._settings.language,
            beam_size=beam_size,
            vad_filter=self._settings.vad_filter,
            condition_on_previous_text=False,
        )
        found = [
            Segment(s.start, s.end, s.text.strip(), float(s.no_speech_prob), float(s.avg_logprob)) for s in segments
        ]
        kept = [s for s in found if s.text and keep(s, self._settings.no_speech_threshold)]
        text = " ".join(s.text for s in kept).strip()
        return Transcript(text, info.language if text else language, duration, kept)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
