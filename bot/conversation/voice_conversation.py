"""A guild's voice conversation: speech heard → turns → transcript → answer spoken sentence by sentence; barge-in.

Discord-free: audio comes in as `(user_id, pcm, t)` from any async iterable, speech goes out through a `Speaker`
(the voice driver's Player fits), and each finished turn is reported to `on_turn` for the transcript channel.

The answer starts early: a speaker's pause is transcribed speculatively, and once that transcript exists the model is
asked and the first phrase synthesised while the pause goes on. When the end of speech is confirmed with the same
words, that answer is spoken; if the words differ or the speaker talks on, it is dropped unheard and unstored and its
model stream closed. Its call stays counted against the speaker's rate limit once the request has gone to the model
(that call was made and paid for); only an answer dropped before that gives its call back. So that a speaker's own
pauses cannot use up their allowance, at most `early_answers_per_utterance` answers are begun early per utterance.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Protocol

import attrs

from bot.conversation.addressing import addressed_question
from bot.conversation.early_answers import EarlyAnswer, EarlyAnswers, same_words
from bot.conversation.sentences import SentenceSplitter
from bot.conversation.settings import AddressingMode, ConversationSettings
from bot.conversation.turns import (
    SilenceBegan,
    SpeechResumed,
    SpeechStarted,
    TurnEvent,
    UtteranceDetector,
    UtteranceEnded,
    pcm48k_to_16k_mono,
)
from bot.conversation.vad import SileroModel, VoiceActivityDetector, level_dbfs
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
    """The answering service (bot.llm.answering.Answerer): `admit` takes a call from the user's rate limit ahead of
    `begin` (with `Question.admitted`); `give_back` returns it when that answer is dropped before it asks the model."""

    async def admit(self, user_id: int) -> None: ...
    async def give_back(self, user_id: int) -> None: ...
    async def begin(self, question: Question) -> AnswerStream: ...


__all__ = ["TurnRecord", "TurnTimings", "VoiceConversation", "same_words"]


@attrs.frozen
class TurnTimings:
    """Milliseconds after the speaker's last voiced audio; None for a stage the turn did not reach.

    With an early answer, the transcript, first token and first audio may come before the end of speech; the first
    packet never does.
    """

    end_of_speech_ms: float
    transcribed_ms: float | None = None
    first_token_ms: float | None = None
    first_audio_ms: float | None = None
    first_packet_ms: float | None = None
    # Whisper's own time for the final transcript, and whether it was started during the pause (speculatively).
    transcription_ms: float | None = None
    speculative: bool = False
    # The answer spoken was begun during the pause, on the speculative transcript, and kept.
    early_answer: bool = False


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
    heard_samples: int = 0  # how much audio it was given

    @property
    def compute_ms(self) -> float | None:
        return round((self.times[1] - self.times[0]) * 1000, 1) if len(self.times) == 2 else None


@attrs.frozen
class _Speculation:
    """A transcription started when a speaker's pause began, of the audio up to their last voiced frame then."""

    last_voiced_at: float
    transcription: _Transcription


@attrs.define
class AnswerMoments:
    """When an answer reached each stage, on the conversation's clock; None for a stage not reached (yet)."""

    first_token: float | None = None  # the model's first words
    first_audio: float | None = None  # the first synthesised audio
    first_packet: float | None = None  # the first audio handed to the speaker


class _SpokenAnswer:
    """One question's answer on its way to speech: the model's text cut into phrases, each synthesised one phrase
    ahead of playback, so speech flows without a gap at phrase boundaries.

    The first phrase is synthesised as soon as it exists, before playback asks for it (an early answer waits for the
    end of speech to be confirmed); each later phrase once playback has begun the one before it, so an interrupted or
    dropped answer costs at most one phrase of speech that is never heard.
    """

    def __init__(
        self,
        answerer: Asking,
        question: Question,
        language: str | None,
        *,
        voice: SpeechSynthesis,
        first_phrase: tuple[int, int, float],
        clock: Callable[[], float],
        after: list[asyncio.Event] | None = None,
    ) -> None:
        self.question = question
        self.reply: AnswerStream | None = None
        self.failed = False  # the model's stream broke off: the answer is not stored
        # The request went (or is going) to the model: from here on, dropping the answer does not undo its cost.
        self.asked_model = False
        self.moments = AnswerMoments()
        self._language = language
        self._voice = voice
        self._clock = clock
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        # Each phrase's audio, in order: chunks, then None; an exception when its synthesis failed.
        self._phrases: asyncio.Queue[asyncio.Queue[bytes | BaseException | None] | None] = asyncio.Queue()
        self._playing_phrase = 0  # how many phrases playback has begun
        self._played_on = asyncio.Event()
        self._producer = asyncio.create_task(self._produce(answerer, first_phrase, after))
        self._synthesis = asyncio.create_task(self._synthesise())

    async def _produce(
        self, answerer: Asking, first_phrase: tuple[int, int, float], after: list[asyncio.Event] | None
    ) -> None:
        try:
            for turn_done in after or []:
                await turn_done.wait()  # the speaker's earlier turns are stored: memory is read after them
            try:
                self.reply = await answerer.begin(self.question)
            except UserError as exc:
                self._sentences.put_nowait(exc.message)
                return
            splitter = SentenceSplitter(*first_phrase, clock=self._clock)
            previous = ""
            # Set before the first iteration sends the request: a discard() before this line cancels the task at an
            # earlier await, so an answer with this still False never reached the model.
            self.asked_model = True
            try:
                async for text in self.reply:
                    if not text.startswith(previous):
                        # A `</think>` with no `<think>`: what came before was thinking the prompt opened. What was
                        # spoken cannot be taken back; what still waits for synthesis is dropped.
                        while not self._sentences.empty():
                            self._sentences.get_nowait()
                        splitter = SentenceSplitter(*first_phrase, clock=self._clock)
                    previous = text
                    if not text:
                        continue  # a reasoning model still thinking: nothing to say yet
                    if self.moments.first_token is None:
                        self.moments.first_token = self._clock()
                    for sentence in splitter.feed(text):
                        self._sentences.put_nowait(sentence)
                for sentence in splitter.flush():
                    self._sentences.put_nowait(sentence)
            except UserError as exc:
                self.failed = True
                self._sentences.put_nowait(exc.message)
        finally:
            self._sentences.put_nowait(None)

    async def _synthesise(self) -> None:
        made = 0
        try:
            while (sentence := await self._sentences.get()) is not None:
                while self._playing_phrase < made:  # one phrase ahead of playback, no more
                    self._played_on.clear()
                    await self._played_on.wait()
                audio: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
                self._phrases.put_nowait(audio)
                made += 1
                try:
                    async for chunk in self._voice.stream_pcm48k(sentence, self._language):
                        if chunk:
                            if self.moments.first_audio is None:
                                self.moments.first_audio = self._clock()
                            audio.put_nowait(chunk)
                except Exception as exc:
                    _log.debug("voice answer: speech synthesis failed: %s", exc)
                    audio.put_nowait(exc)  # raised where playback reaches it
                    return
                finally:
                    audio.put_nowait(None)
        finally:
            self._phrases.put_nowait(None)

    async def audio(self) -> AsyncGenerator[bytes]:
        """The answer's speech, phrase after phrase, the first one prepared in advance."""
        while (phrase := await self._phrases.get()) is not None:
            self._playing_phrase += 1
            self._played_on.set()
            while (chunk := await phrase.get()) is not None:
                if isinstance(chunk, BaseException):
                    raise chunk
                if self.moments.first_packet is None:
                    self.moments.first_packet = self._clock()
                yield chunk

    def discard(self) -> None:
        """Never to be spoken: the model's stream is closed (cancelling its reader) and synthesis stops, at once."""
        for task in (self._producer, self._synthesis):
            task.cancel()
            task.add_done_callback(_log_failure)

    async def finish(self, *, interrupted: bool) -> None:
        """After playback: waits for the model's answer to end (stopping it first if the speaker was interrupted)."""
        if interrupted:
            self._producer.cancel()
        self._synthesis.cancel()  # normally done; not when playback stopped before the last phrase
        await asyncio.wait([self._producer, self._synthesis])
        if not self._producer.cancelled() and (exc := self._producer.exception()) is not None:
            raise exc


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        _log.warning("voice answer: a task left behind had failed: %s", exc, exc_info=exc)


@attrs.define
class _Pending:
    utterance: UtteranceEnded
    transcription: _Transcription
    early: EarlyAnswer[_SpokenAnswer] | None = None
    # Set once the turn is over (its answer stored) or dropped: a later answer to the same speaker reads memory after.
    done: asyncio.Event = attrs.field(factory=asyncio.Event)


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
        self._speculative: dict[int, _Speculation] = {}
        self._early: EarlyAnswers[_SpokenAnswer] = EarlyAnswers(
            answerer, per_utterance=settings.early_answers_per_utterance, guild_id=guild_id
        )
        self._queue: deque[_Pending] = deque()
        self._current: _Pending | None = None
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
            spec.transcription.task.cancel()
        self._early.forget(user_id)

    async def wait_idle(self) -> None:
        """Returns once every utterance heard so far has had its turn (and the calls of dropped answers are back)."""
        await self._idle.wait()
        await self._early.settle()

    async def close(self) -> None:
        self._early.close()  # an early answer whose call is being taken now gives it back instead of starting
        self._speaker.stop()
        for pending in self._queue:
            pending.done.set()
            if pending.early is not None:
                self._early.drop_answer(pending.utterance.user_id, pending.early)
        tasks = [t for t in (self._worker, self._ticker) if t is not None]
        tasks += [s.transcription.task for s in self._speculative.values()]
        tasks += [p.transcription.task for p in self._queue]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._worker = self._ticker = None
        await self._early.settle()  # not cancelled: a call being taken or given back must not be lost midway

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
                    old.transcription.task.cancel()
                job = self._transcribe(event.samples)
                self._speculative[event.user_id] = _Speculation(event.last_voiced_at, job)
                job.task.add_done_callback(functools.partial(self._heard_in_pause, event.user_id, job))
            elif isinstance(event, SpeechResumed):
                # The utterance goes on: that pause's transcript and answer are of no use (its end will differ).
                spec = self._speculative.pop(event.user_id, None)
                if spec is not None:
                    spec.transcription.task.cancel()
                self._early.drop(event.user_id)
            else:
                self._enqueue(event)

    def _heard_in_pause(self, user_id: int, job: _Transcription, task: asyncio.Task[HeardText]) -> None:
        """The speculative transcript exists while the speaker is still pausing: begin answering it."""
        if task.cancelled() or task.exception() is not None:
            return
        if not self._still_pausing(user_id, job):
            return  # the pause ended, or the speaker made a sound again, meanwhile: the turn takes it from here
        heard = task.result()
        if not self._early.heard_again(user_id, heard.text) or heard.is_empty:
            return
        question = self._question(user_id, heard)
        if question is None or not self._early.may_begin(user_id):
            return

        def start() -> _SpokenAnswer:
            # Also while another turn is taken or waiting (someone else's answer may be playing): only the speaker's
            # own earlier turns must be stored before the model is asked, so that their memory has them.
            queued = (self._current, *self._queue)
            earlier = [p.done for p in queued if p is not None and p.utterance.user_id == user_id]
            return self._spoken_answer(attrs.evolve(question, admitted=True), heard, after=earlier)

        self._early.begin(user_id, heard.text, still_pausing=lambda: self._is_speculating(user_id, job), start=start)

    def _is_speculating(self, user_id: int, job: _Transcription) -> bool:
        """Whether `job` is still the speaker's speculative transcription (their pause has not ended)."""
        spec = self._speculative.get(user_id)
        return spec is not None and spec.transcription is job

    def _still_pausing(self, user_id: int, job: _Transcription) -> bool:
        """As `_is_speculating`, and the speaker has made no sound since."""
        spec = self._speculative.get(user_id)
        return (
            spec is not None
            and spec.transcription is job
            and self._detector.last_voiced_at(user_id) == spec.last_voiced_at
        )

    def _question(self, user_id: int, heard: HeardText) -> Question | None:
        """What `heard` asks the bot, or None when it is not addressed to it."""
        question_text = addressed_question(heard.text, self.addressing, self.names)
        if question_text is None:
            return None
        return Question(
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            user_id=user_id,
            text=question_text,
            source="voice",
            transcript=heard.text,
        )

    def _spoken_answer(
        self, question: Question, heard: HeardText, *, after: list[asyncio.Event] | None = None
    ) -> _SpokenAnswer:
        return _SpokenAnswer(
            self._answerer,
            question,
            self._settings.language or heard.language,
            voice=self._voice,
            first_phrase=(
                self._settings.first_phrase_min_chars,
                self._settings.first_phrase_words,
                self._settings.first_phrase_wait_ms / 1000,
            ),
            clock=self._clock,
            after=after,
        )

    def _transcribe(self, samples: Samples) -> _Transcription:
        times: list[float] = []

        async def work() -> HeardText:
            async with self._slots:
                times.append(self._clock())
                result = await self._transcriber.transcribe(samples, language=self._settings.language)
                times.append(self._clock())
                return result

        return _Transcription(asyncio.create_task(work()), self._clock(), times, len(samples))

    def _enqueue(self, utterance: UtteranceEnded) -> None:
        spec = self._speculative.pop(utterance.user_id, None)
        # Taken early in the pause, the speculative transcript lacks the end of the short tail kept after the last
        # voiced frame: it stands only if that missing audio is silence.
        if (
            spec is not None
            and spec.last_voiced_at == utterance.last_voiced_at
            and not utterance.cut
            and level_dbfs(utterance.samples[spec.transcription.heard_samples :]) < self._settings.vad_min_level_dbfs
        ):
            transcription = spec.transcription
        else:
            if spec is not None:
                spec.transcription.task.cancel()
            transcription = self._transcribe(utterance.samples)
        self._queue.append(_Pending(utterance, transcription, self._early.utterance_ended(utterance.user_id)))
        while len(self._queue) > self._settings.max_queued_utterances:
            dropped = self._queue.popleft()
            dropped.done.set()
            dropped.transcription.task.cancel()
            if dropped.early is not None:
                self._early.drop_answer(dropped.utterance.user_id, dropped.early)
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
            pending = self._current = self._queue.popleft()
            try:
                await self._take_turn(pending)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("guild %s: voice turn of user %s failed", self.guild_id, pending.utterance.user_id)
            finally:
                self._current = None
                pending.done.set()

    async def _take_turn(self, pending: _Pending) -> None:
        try:
            await self._answer_turn(pending)
        finally:
            if pending.early is not None:  # not kept: the words changed, there was nothing to answer, or it failed
                self._early.drop_answer(pending.utterance.user_id, pending.early)

    async def _answer_turn(self, pending: _Pending) -> None:
        utterance = pending.utterance
        origin = utterance.last_voiced_at
        job = pending.transcription
        try:
            heard = await job.task
        except UserError as exc:
            _log.warning("guild %s: transcription failed: %s", self.guild_id, exc)
            return
        timings = TurnTimings(
            end_of_speech_ms=_since(origin, utterance.ended_at) or 0.0,
            # When the transcript existed: during the pause, for a speculative one that finished in time.
            transcribed_ms=_since(origin, job.times[1] if len(job.times) == 2 else self._clock()),
            transcription_ms=job.compute_ms,
            speculative=job.created_at < utterance.ended_at,
        )
        if heard.is_empty:
            return
        early, pending.early = pending.early, None
        answer = None if early is None else self._early.for_turn(utterance.user_id, early, heard.text)
        kept = answer is not None
        heard_text = early.transcript if early is not None and kept else heard.text
        if answer is None:
            question = self._question(utterance.user_id, heard)
            if question is None:
                _log.debug("guild %s: not addressed to the bot: %r", self.guild_id, heard.text)
                return
            answer = self._spoken_answer(question, heard)
        interrupted = await self._speak(answer)
        reply = answer.reply
        stored: Answer | None = None
        if reply is not None and reply.text.strip() and not answer.failed:
            stored = await reply.save()
        moments = answer.moments
        record = TurnRecord(
            user_id=utterance.user_id,
            transcript=heard_text,
            question=answer.question.text,
            answer_text=reply.text if reply is not None else "",
            answer_id=stored.id if stored is not None else None,
            timings=attrs.evolve(
                timings,
                first_token_ms=_since(origin, moments.first_token),
                first_audio_ms=_since(origin, moments.first_audio),
                first_packet_ms=_since(origin, moments.first_packet),
                early_answer=kept,
            ),
            interrupted=interrupted,
        )
        self._recent.append(record)
        if self._on_turn is not None:
            await self._on_turn(record)

    async def _speak(self, answer: _SpokenAnswer) -> bool:
        """Plays the answer until it ends or the speaker barges in, then lets the model's stream end; whether the
        answer was interrupted."""
        pcm = answer.audio()
        self._barged_in = False
        self._bot_speaking = True
        try:
            try:
                await self._speaker.play(pcm)
            except UserError as exc:
                _log.warning("guild %s: speaking the answer failed: %s", self.guild_id, exc)
            finally:
                self._bot_speaking = False
                await pcm.aclose()
            interrupted = self._barged_in
            await answer.finish(interrupted=interrupted)
        except BaseException:
            answer.discard()  # the conversation is closing, or something broke: the model stream must not run on
            raise
        return interrupted


def _since(origin: float, t: float | None) -> float | None:
    """Milliseconds from `origin` to `t` (None stays None)."""
    return None if t is None else round((t - origin) * 1000, 1)
