"""Speech recognition with faster-whisper: loaded once, lazily; run in a bounded worker pool, never on the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
from collections.abc import Generator
from typing import Any

import attrs
import numpy as np

from bot.errors import ServiceUnavailable
from bot.i18n import _
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
        self._queued = 0

    @property
    def queued(self) -> int:
        """Audio messages holding a place in the queue now (the metrics' transcription queue depth)."""
        return self._queued

    @contextlib.contextmanager
    def queue_place(self) -> Generator[None]:
        """Hold a place in the bounded queue of audio messages, from before the download to the transcript.

        A full queue raises at once ("busy"), so a burst costs neither downloads nor a growing backlog."""
        if self._queued >= self._settings.max_queued:
            raise ServiceUnavailable(_("Speech recognition is busy right now. Try again in a minute."))
        self._queued += 1
        try:
            yield
        finally:
            self._queued -= 1

    async def _loaded(self) -> Any:
        async with self._loading:
            if self._model is None:
                loop = asyncio.get_running_loop()
                try:
                    self._model = await loop.run_in_executor(self._pool, self._load)
                except Exception as exc:
                    _log.warning("could not load the speech model %s: %s", self._model_path, exc)
                    raise ServiceUnavailable(_("Speech recognition is not available right now.")) from exc
        return self._model

    def _load(self) -> Any:
        # A heavy import, paid once and off the loop.
        from faster_whisper import WhisperModel  # pyright: ignore[reportMissingTypeStubs]

        s = self._settings
        _log.info("loading Whisper model %s (%s, %s)", self._model_path, s.device, s.compute_type)
        return WhisperModel(self._model_path, device=s.device, compute_type=s.compute_type, cpu_threads=s.cpu_threads)

    async def transcribe(
        self,
        audio: Samples | bytes,
        /,
        language: str | None = None,
        *,
        beam_size: int = 5,
        short_window: bool = False,
    ) -> Transcript:
        """What was said. `short_window` (with a known language) encodes only the audio, not Whisper's 30 s window:
        several times faster for short utterances, for voice turns that voice activity detection already cut."""
        model = await self._loaded()
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._pool, self._run, model, audio, language or self._settings.language, beam_size, short_window
            )

    def _run(
        self, model: Any, audio: Samples | bytes, language: str | None, beam_size: int, short_window: bool
    ) -> Transcript:
        samples = decode_sync(audio, self._settings).samples if isinstance(audio, bytes) else audio
        duration = len(samples) / RATE
        if duration == 0 or float(np.abs(samples).max(initial=0.0)) < 1e-4:
            return Transcript("", language, duration)
        if short_window and language is not None and duration < 29:
            return self._run_short(model, samples, language, duration)
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

    def _run_short(self, model: Any, samples: Samples, language: str, duration: float) -> Transcript:
        import ctranslate2  # pyright: ignore[reportMissingTypeStubs]

        as_storage: Any = getattr(ctranslate2, "StorageView").from_array  # noqa: B009 - the module has no stubs

        features = model.feature_extractor(samples)
        frames = min(3000, features.shape[-1] + 100)  # the utterance and 1 s of padding, not 30 s
        window = np.zeros((1, features.shape[0], frames), np.float32)
        window[0, :, : min(frames, features.shape[-1])] = features[:, :frames]
        tokenizer = model.hf_tokenizer
        prompt = [
            tokenizer.token_to_id(t)
            for t in ("<|startoftranscript|>", f"<|{language}|>", "<|transcribe|>", "<|notimestamps|>")
        ]
        # Short windows can make Whisper repeat itself ("Tell Tell Tell…"): block repeated 3-grams, penalise
        # repetition and cap the length by the duration (speech stays under 8 tokens a second).
        result = model.model.generate(
            as_storage(window),
            [prompt],
            beam_size=1,
            no_repeat_ngram_size=3,
            repetition_penalty=1.1,
            max_length=int(duration * 8) + 10,
        )
        text = str(tokenizer.decode(result[0].sequences_ids[0])).strip()
        segment = Segment(0.0, duration, text, 0.0, 0.0)
        return Transcript(text, language, duration, [segment] if text else [])

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class VoiceTranscription:
    """The Transcriber as voice turns use it: greedy decoding, and the short window when the language is known."""

    def __init__(self, transcriber: Transcriber, *, short_window: bool) -> None:
        self._transcriber = transcriber
        self._short_window = short_window

    async def transcribe(self, samples: Samples, /, language: str | None = None) -> Transcript:
        return await self._transcriber.transcribe(samples, language, beam_size=1, short_window=self._short_window)
