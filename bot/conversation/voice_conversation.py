"""A guild's voice conversation: speech heard → turns → transcript → answer spoken sentence by sentence; barge-in.

Discord-free: audio comes in as `(user_id, pcm, t)` from any async iterable, speech goes out through a `Speaker`
(the voice driver's Player fits), and each finished turn is reported to `on_turn` for the transcript channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Protocol

import attrs

from bot.conversation.addressing import addressed_question
from bot.conversation.sentences import SentenceSplitter
from bot.conversation.settings import AddressingMode, ConversationSettings
from bot.conversation.turns import (
    SilenceBegan,
    SpeechStarted,
    TurnEvent,
    UtteranceDetector,
    UtteranceEnded,
    pcm48k_to_16k_mono,
)
from bot.conversation.vad import SileroModel, VoiceActivityDetector
from bot.errors import UserError
from bot.llm.answering import Question
from bot.speech.audio import RATE, Samples
from bot.store.answers import Answer

_log = logging.getLogger(__name__)

# How often silence is checked for speakers whose client stopped sending (one Opus frame).
_TICK_S = 0.02

HeardAudio = AsyncIterable[tuple[int, bytes, float]]
"""Received voice: (user id, 20 ms of s16le 48 kHz PCM, arrival time on the conversation's clock)."""


class HeardText(Protocol):
    """What a transcription gives back (bot.speech's Transcript fits)."""

    @property
    def text(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def is_empty(self) -> bool: ...


class SpeechToText(Protocol):
    async def transcribe(self, samples: Samples, /, language: str | None = None) -> HeardText: ...


class SpeechSynthesis(Protocol):
    """A TTS engine: s16le 48 kHz PCM for `text`, yielded in chunks as soon as they exist."""

    def stream_pcm48k(self, text: str, language: str | None, /) -> AsyncIterator[bytes]: ...


class Speaker(Protocol):
    """Plays PCM into the voice channel. `play` returns when the audio ends or `stop()` was called."""

    async def play(self, pcm: AsyncIterator[bytes], /) -> None: ...
    def stop(self) -> None: ...


class AnswerStream(Protocol):
    """A reply being produced (bot.llm.answering.Reply): cumulative text while iterated, then `save()`."""

    text: str

    def __aiter__(self) -> AsyncIterator[str]: ...
    async def save(self, message_ids: list[int] | None = None) -> Answer: ...


class Asking(Protocol):
    async def begin(self, question: Question) -> AnswerStream: ...


@attrs.frozen
class TurnTimings:
    """Milliseconds after the speaker's last voiced audio; None for a stage the turn did not reach."""

    end_of_speech_ms: float
    transcribed_ms: float | None = None
    first_token_ms: float | None = None
    first_audio_ms: float | None = None
    first_packet_ms: float | None = None
    # Whisper's own time for the final transcript, and whether it was started during the pause (speculatively).
    transcription_ms: float | None = None
    speculative: bool = False


@attrs.frozen
class TurnRecord:
    """One finished voice turn, for the transcript channel (with the Correct button) and `/voice status`."""

    user_id: int
    transcript: str
    question: str
    answer_text: str
    answer_id: int | None
    timings: TurnTimings
    interrupted: bool = False


@attrs.frozen
class ConversationStatus:
    speaking: list[int]
    bot_speaking: bool
    recent_turns: list[TurnRecord]


@attrs.define
class _Transcription:
    task: asyncio.Task[HeardText]
    created_at: float
    # When Whisper started and finished (after waiting for a shared slot).
    times: list[float]

    @property
    def compute_ms(self) -> float | None:
        return round((self.times[1] - self.times[0]) * 1000, 1) if len(self.times) == 2 else None


@attrs.define
class _Pending:
    utterance: UtteranceEnded
    transcription: _Transcription


class VoiceConversation:
    """One guild's conversation. `run(heard)` until the audio ends, or `hear(...)` frame by frame; then `close()`.

    Turns are taken one at a time; transcriptions run under `transcription_slots`, shared by every guild.
    """

    def __init__(
        self,
        *,
        guild_id: int,
        channel_id: int,
        settings: ConversationSettings,
        vad_model: SileroModel,
        transcriber: SpeechToText,
        transcription_slots: asyncio.Semaphore,
        answerer: Asking,
        voice: SpeechSynthesis,
        speaker: Speaker,
        on_turn: Callable[[TurnRecord], Awaitable[None]] | None = None,
        addressing: AddressingMode | None = None,
        names: list[str] | None = None,
        channels: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.guild_id = guild_id
        self.channel_id = channel_id
        self._settings = settings
        self._transcriber = transcriber
        self._slots = transcription_slots
        self._answerer = answerer
        self._voice = voice
        self._speaker = speaker
        self._on_turn = on_turn
        self.addressing: AddressingMode = addressing or settings.addressing
        self.names = names if names is not None else list(settings.names)
        self._channels = channels
        self._clock = clock
        self._detector = UtteranceDetector(
            settings,
            lambda: VoiceActivityDetector(
                vad_model, threshold=settings.vad_threshold, min_level_dbfs=settings.vad_min_level_dbfs
            ),
        )
        self._speculative: dict[int, tuple[float, _Transcription]] = {}
        self._queue: deque[_Pending] = deque()
        self._queued = asyncio.Event()
        self._recent: deque[TurnRecord] = deque(maxlen=settings.status_turns)
        self._bot_speaking = False
        self._barged_in = False
        self._worker: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # -- audio in ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the turn worker and the silence ticker (idempotent; `run` and `hear` call it)."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._take_turns(), name=f"voice-turns-{self.guild_id}")
            self._ticker = asyncio.create_task(self._tick(), name=f"voice-silence-{self.guild_id}")

    async def run(self, heard: HeardAudio) -> None:
        """Listens to `heard` until it ends."""
        self.start()
        async for user_id, pcm, t in heard:
            self.hear(user_id, pcm, t)

    def hear(self, user_id: int, pcm: bytes, t: float) -> None:
        """One received frame of `user_id`'s audio (s16le 48 kHz), arrived at `t`."""
        self.start()
        frame = pcm48k_to_16k_mono(pcm, self._channels)
        self._handle(self._detector.feed(user_id, frame, t - len(frame) / RATE))

    def user_left(self, user_id: int) -> None:
        self._detector.forget(user_id)
        spec = self._speculative.pop(user_id, None)
        if spec is not None:
            spec[1].task.cancel()

    async def wait_idle(self) -> None:
        """Returns once every utterance heard so far has had its turn."""
        await self._idle.wait()

    async def close(self) -> None:
        self._speaker.stop()
        tasks = [t for t in (self._worker, self._ticker) if t is not None]
        tasks += [s.task for _, s in self._speculative.values()] + [p.transcription.task for p in self._queue]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._worker = self._ticker = None

    @property
    def status(self) -> ConversationStatus:
        return ConversationStatus(self._detector.speaking, self._bot_speaking, list(self._recent))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            self._handle(self._detector.tick(self._clock()))

    def _handle(self, events: list[TurnEvent]) -> None:
        for event in events:
            if isinstance(event, SpeechStarted):
                if self._bot_speaking and not self._barged_in:
                    # Barge-in: silence the bot at once; the new utterance gets its turn when it ends.
                    self._barged_in = True
                    self._speaker.stop()
                    _log.info("guild %s: user %s interrupted the bot", self.guild_id, event.user_id)
            elif isinstance(event, SilenceBegan):
                old = self._speculative.pop(event.user_id, None)
                if old is not None:
                    old[1].task.cancel()
                self._speculative[event.user_id] = (event.last_voiced_at, self._transcribe(event.samples))
            else:
                self._enqueue(event)

    def _transcribe(self, samples: Samples) -> _Transcription:
        times: list[float] = []

        async def work() -> HeardText:
            async with self._slots:
                times.append(self._clock())
                result = await self._transcriber.transcribe(samples, language=self._settings.language)
                times.append(self._clock())
                return result

        return _Transcription(asyncio.create_task(work()), self._clock(), times)

    def _enqueue(self, utterance: UtteranceEnded) -> None:
        spec = self._speculative.pop(utterance.user_id, None)
        if spec is not None and spec[0] == utterance.last_voiced_at and not utterance.cut:
            transcription = spec[1]
        else:
            if spec is not None:
                spec[1].task.cancel()
            transcription = self._transcribe(utterance.samples)
        self._queue.append(_Pending(utterance, transcription))
        while len(self._queue) > self._settings.max_queued_utterances:
            dropped = self._queue.popleft()
            dropped.transcription.task.cancel()
            _log.info("guild %s: dropped an utterance of user %s (too many waiting)", self.guild_id, dropped.utterance)
        self._idle.clear()
        self._queued.set()

    # -- turns ------------------------------------------------------------------------------------------------------

    async def _take_turns(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._queued.clear()
                await self._queued.wait()
                continue
            pending = self._queue.popleft()
            try:
                await self._take_turn(pending)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("guild %s: voice turn of user %s failed", self.guild_id, pending.utterance.user_id)

    async def _take_turn(self, pending: _Pending) -> None:
        utterance = pending.utterance
        origin = utterance.last_voiced_at
        job = pending.transcription

        def since(t: float | None) -> float | None:
            return None if t is None else round((t - origin) * 1000, 1)

        try:
            heard = await job.task
        except UserError as exc:
            _log.warning("guild %s: transcription failed: %s", self.guild_id, exc)
            return
        timings = TurnTimings(
            end_of_speech_ms=since(utterance.ended_at) or 0.0,
            transcribed_ms=since(self._clock()),
            transcription_ms=job.compute_ms,
            speculative=job.created_at < utterance.ended_at,
        )
        if heard.is_empty:
            return
        question_text = addressed_question(heard.text, self.addressing, self.names)
        if question_text is None:
            _log.debug("guild %s: not addressed to the bot: %r", self.guild_id, heard.text)
            return
        language = self._settings.language or heard.language
        question = Question(
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            user_id=utterance.user_id,
            text=question_text,
            source="voice",
            transcript=heard.text,
        )
        marks: dict[str, float] = {}
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        reply: AnswerStream | None = None
        try:
            reply = await self._answerer.begin(question)
        except UserError as exc:
            sentences.put_nowait(exc.message)
            sentences.put_nowait(None)

        async def produce(reply: AnswerStream) -> None:
            splitter = SentenceSplitter(self._settings.first_phrase_min_chars)
            try:
                async for text in reply:
                    if not text:
                        continue  # a reasoning model still thinking: nothing to say yet
                    marks.setdefault("first_token", self._clock())
                    for sentence in splitter.feed(text):
                        sentences.put_nowait(sentence)
                for sentence in splitter.flush():
                    sentences.put_nowait(sentence)
            except UserError as exc:
                sentences.put_nowait(exc.message)
                raise
            finally:
                sentences.put_nowait(None)

        producer = asyncio.create_task(produce(reply)) if reply is not None else None

        async def audio() -> AsyncGenerator[bytes]:
            while (sentence := await sentences.get()) is not None:
                async for chunk in self._voice.stream_pcm48k(sentence, language):
                    if not chunk:
                        continue
                    marks.setdefault("first_audio", self._clock())
                    marks.setdefault("first_packet", self._clock())
                    yield chunk

        pcm = audio()
        self._barged_in = False
        self._bot_speaking = True
        try:
            await self._speaker.play(pcm)
        except UserError as exc:
            _log.warning("guild %s: speaking the answer failed: %s", self.guild_id, exc)
        finally:
            self._bot_speaking = False
            await pcm.aclose()
        interrupted = self._barged_in
        failed = False
        if producer is not None:
            if interrupted:
                producer.cancel()
            try:
                await producer
            except asyncio.CancelledError:
                if not interrupted:
                    raise
            except UserError:
                failed = True
        answer: Answer | None = None
        if reply is not None and reply.text.strip() and not failed:
            answer = await reply.save()
        record = TurnRecord(
            user_id=utterance.user_id,
            transcript=heard.text,
            question=question_text,
            answer_text=reply.text if reply is not None else "",
            answer_id=answer.id if answer is not None else None,
            timings=attrs.evolve(
                timings,
                first_token_ms=since(marks.get("first_token")),
                first_audio_ms=since(marks.get("first_audio")),
                first_packet_ms=since(marks.get("first_packet")),
            ),
            interrupted=interrupted,
        )
        self._recent.append(record)
        if self._on_turn is not None:
            await self._on_turn(record)
