"""Turn taking per speaker: voice activity over incoming frames becomes speech-started and utterance-ended events."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import attrs
import numpy as np

from bot.conversation.settings import ConversationSettings
from bot.conversation.vad import VoiceActivityDetector
from bot.speech.audio import RATE, Samples


def pcm48k_to_16k_mono(pcm: bytes, channels: int = 2) -> Samples:
    """s16le 48 kHz PCM (interleaved) to float32 16 kHz mono; averaging each 3 samples is the anti-alias filter."""
    data = np.frombuffer(pcm, dtype="<i2")
    usable = len(data) - len(data) % (channels * 3)
    mono = data[:usable].reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return (mono.reshape(-1, 3).mean(axis=1) / 32768.0).astype(np.float32)


@attrs.frozen
class SpeechStarted:
    """Someone has spoken long enough to count (barge-in reacts to this)."""

    user_id: int
    at: float


@attrs.frozen
class SilenceBegan:
    """A speaker paused; `samples` is their utterance so far, worth transcribing before the pause is confirmed."""

    user_id: int
    samples: Samples = attrs.field(eq=False)
    last_voiced_at: float


@attrs.frozen
class SpeechResumed:
    """After a pause (`SilenceBegan`), the speaker talked on long enough to count: the utterance is not over."""

    user_id: int
    at: float


@attrs.frozen
class UtteranceEnded:
    """A finished utterance (silence long enough, or the maximum length reached)."""

    user_id: int
    samples: Samples = attrs.field(eq=False)
    started_at: float
    ended_at: float
    last_voiced_at: float
    cut: bool = False  # True when ended by the maximum length rather than by silence


TurnEvent = SpeechStarted | SilenceBegan | SpeechResumed | UtteranceEnded


@attrs.define
class _Speaker:
    vad: VoiceActivityDetector
    pre_roll: deque[Samples]
    frames: list[Samples] = attrs.field(factory=list[Samples])
    started_at: float | None = None
    last_voiced_at: float = 0.0
    voiced_s: float = 0.0
    announced: bool = False
    paused: bool = False
    # Voiced time since the last SilenceBegan; None when no pause is being watched.
    resumed_s: float | None = None
    last_frame_at: float = 0.0


class UtteranceDetector:
    """Feed `(user_id, 16 kHz frame, t)`; call `tick(now)` regularly, since clients stop sending when they stop talking.

    `t` is when the frame's audio started, on the same clock as `now`.
    """

    def __init__(self, settings: ConversationSettings, vad_factory: Callable[[], VoiceActivityDetector]) -> None:
        self._settings = settings
        self._vad_factory = vad_factory
        self._speakers: dict[int, _Speaker] = {}

    @property
    def speaking(self) -> list[int]:
        """Users whose utterance is in progress (a pause within it included)."""
        return [uid for uid, s in self._speakers.items() if s.started_at is not None]

    def feed(self, user_id: int, frame: Samples, t: float) -> list[TurnEvent]:
        s = self._speakers.get(user_id)
        if s is None:
            frames = max(1, self._settings.pre_roll_ms // 20)
            s = self._speakers[user_id] = _Speaker(self._vad_factory(), deque(maxlen=frames))
        duration = len(frame) / RATE
        end = t + duration
        voiced = s.vad.is_speech(frame)
        s.last_frame_at = end
        events: list[TurnEvent] = []
        if s.started_at is None:
            if not voiced:
                s.pre_roll.append(frame)
                return events
            s.started_at = t - sum(len(f) for f in s.pre_roll) / RATE
            s.frames = [*s.pre_roll, frame]
            s.pre_roll.clear()
            s.voiced_s = 0.0
            s.announced = False
        else:
            s.frames.append(frame)
        if voiced:
            s.voiced_s += duration
            s.last_voiced_at = end
            s.paused = False
            if not s.announced and s.voiced_s * 1000 >= self._settings.barge_in_min_speech_ms:
                s.announced = True
                events.append(SpeechStarted(user_id, t))
            if s.resumed_s is not None:
                s.resumed_s += duration
                if s.resumed_s * 1000 >= self._settings.barge_in_min_speech_ms:
                    s.resumed_s = None
                    events.append(SpeechResumed(user_id, t))
        if end - s.started_at >= self._settings.max_utterance_s:
            events += self._finish(user_id, s, end, cut=True)
        else:
            events += self._check_silence(user_id, s, end)
        return events

    def tick(self, now: float) -> list[TurnEvent]:
        """Ends utterances whose speakers went quiet by sending nothing."""
        events: list[TurnEvent] = []
        # Whoever stopped talking first has the first turn, even when both ends are noticed in the same tick.
        for user_id, s in sorted(self._speakers.items(), key=lambda item: item[1].last_voiced_at):
            if s.started_at is not None and now > s.last_frame_at:
                events += self._check_silence(user_id, s, now)
        return events

    def last_voiced_at(self, user_id: int) -> float | None:
        """When the user's last voiced frame ended (None for someone never heard)."""
        s = self._speakers.get(user_id)
        return None if s is None else s.last_voiced_at

    def forget(self, user_id: int) -> None:
        """The user left: drop their state (an utterance in progress is abandoned)."""
        self._speakers.pop(user_id, None)

    def _check_silence(self, user_id: int, s: _Speaker, now: float) -> list[TurnEvent]:
        assert s.started_at is not None
        silent_ms = (now - s.last_voiced_at) * 1000
        if s.voiced_s == 0.0:
            return []
        if silent_ms >= self._settings.end_of_speech_silence_ms:
            return self._finish(user_id, s, now, cut=False)
        if (
            not s.paused
            and silent_ms >= self._settings.speculative_transcription_ms
            and s.voiced_s * 1000 >= self._settings.min_utterance_ms
        ):
            s.paused = True
            s.resumed_s = 0.0
            return [SilenceBegan(user_id, self._voiced_samples(s), s.last_voiced_at)]
        return []

    def _voiced_samples(self, s: _Speaker) -> Samples:
        assert s.started_at is not None
        samples = np.concatenate(s.frames) if s.frames else np.zeros(0, np.float32)
        # Trailing silence adds nothing for Whisper but time; keep a short tail so the last phoneme is whole.
        keep = int((s.last_voiced_at - s.started_at + 0.1) * RATE)
        return samples[: max(0, keep)]

    def _finish(self, user_id: int, s: _Speaker, now: float, *, cut: bool) -> list[TurnEvent]:
        assert s.started_at is not None
        events: list[TurnEvent] = []
        if s.voiced_s * 1000 >= self._settings.min_utterance_ms:
            samples = np.concatenate(s.frames) if cut else self._voiced_samples(s)
            events.append(UtteranceEnded(user_id, samples, s.started_at, now, s.last_voiced_at, cut))
        s.frames = []
        s.started_at = None
        s.voiced_s = 0.0
        s.announced = False
        s.paused = False
        s.resumed_s = None
        return events
